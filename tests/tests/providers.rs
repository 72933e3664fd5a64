//! Every provider kind, proven with the providers' own libraries: the
//! requests that scripts/provider-vectors signs with them (and checks with
//! their verifiers) go through the real ingest handler, which must answer
//! as the contract says: 202 with the provider's event id, type and time on
//! the bus, the handshake's answer with nothing on the bus, 401 for a
//! tampered, stale, wrongly signed or unsigned request, 400 for a signed
//! body it cannot read.
//!
//! scripts/test writes the vectors into target/provider-vectors/ before the
//! tests run (HOOKBRIDGE_PROVIDER_VECTORS names another file).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use hookbridge_core::config::Sources;
use hookbridge_core::envelope::Envelope;
use hookbridge_core::providers::Kind;
use hookbridge_core::secret::SecretSet;
use hookbridge_testkit::{ManualClock, MemoryBus, MemoryPayloads, MemorySecrets};
use ingest::Ingest;
use lambda_http::{Body, Request, http};
use serde::Deserialize;
use serde_json::Value;

const VECTORS_VARIABLE: &str = "HOOKBRIDGE_PROVIDER_VECTORS";

/// One request of scripts/provider-vectors and what ingest must answer.
#[derive(Debug, Deserialize)]
struct Vector {
    name: String,
    source: String,
    config: Value,
    secrets: Vec<String>,
    now: u64,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body_base64: String,
    status: u16,
    signed_by: String,
    /// Text the answer must contain (a handshake's echo).
    answer_contains: Option<String>,
    /// Expected event fields; absent means not checked, `null` means absent.
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
    #[serde(default, rename = "type", deserialize_with = "present")]
    event_type: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    occurred_at: Option<Value>,
}

/// Keeps an explicit JSON `null` as `Some(Value::Null)`, apart from a missing key.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

fn vectors() -> Vec<Vector> {
    let path = std::env::var_os(VECTORS_VARIABLE).map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../target/provider-vectors/vectors.json")
        },
        PathBuf::from,
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}; scripts/test writes it (or run `scripts/provider-vectors` \
             with the libraries scripts/test installs)",
            path.display()
        )
    });
    serde_json::from_str(&text).expect("the vectors are scripts/provider-vectors' JSON")
}

fn request_of(vector: &Vector) -> Request {
    use base64::Engine as _;
    let body = base64::engine::general_purpose::STANDARD
        .decode(&vector.body_base64)
        .expect("body_base64 is base64");
    let mut builder = http::Request::builder()
        .method(vector.method.as_str())
        .uri(&vector.url);
    let host = vector
        .url
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .expect("the url has a host");
    builder = builder.header("host", host);
    for (name, value) in &vector.headers {
        builder = builder.header(name, value);
    }
    builder.body(Body::Binary(body)).expect("a valid request")
}

struct Outcome {
    status: u16,
    answer: String,
    published: Vec<Envelope>,
}

/// The vector through a fresh ingest handler, or why its configuration was refused.
async fn ingest(vector: &Vector) -> Result<Outcome, String> {
    let sources = serde_json::json!({ vector.source.as_str(): vector.config });
    let sources = Sources::from_json(&sources.to_string())
        .map_err(|error| format!("configuration refused: {error}"))?;
    let secrets =
        MemorySecrets::new().with(&vector.source, SecretSet::parse(&vector.secrets.join(",")));
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(vector.now));
    hookbridge_testlog::capture();
    let bus = MemoryBus::new();
    let payloads = MemoryPayloads::new("hookbridge-provider-vectors");
    let ingest = Ingest::new(sources, secrets, bus.clone(), clock, payloads);
    let response = ingest.handle(request_of(vector)).await;
    let published = bus
        .events()
        .iter()
        .map(|event| {
            serde_json::from_str(&event.detail).expect("the bus event's detail is an envelope")
        })
        .collect();
    Ok(Outcome {
        status: response.status().as_u16(),
        answer: String::from_utf8_lossy(response.body().as_ref()).into_owned(),
        published,
    })
}

/// What differs from the vector's expectation, if anything.
fn mismatches(vector: &Vector, outcome: &Outcome) -> Vec<String> {
    let mut wrong = Vec::new();
    if outcome.status != vector.status {
        wrong.push(format!(
            "status {} (answer {}), want {}",
            outcome.status, outcome.answer, vector.status
        ));
        return wrong;
    }
    if let Some(text) = &vector.answer_contains
        && !outcome.answer.contains(text.as_str())
    {
        wrong.push(format!("answer {} lacks {text}", outcome.answer));
    }
    let want_on_bus = usize::from(vector.status == 202);
    if outcome.published.len() != want_on_bus {
        wrong.push(format!(
            "{} events on the bus, want {want_on_bus}",
            outcome.published.len()
        ));
        return wrong;
    }
    let Some(envelope) = outcome.published.first() else {
        return wrong;
    };
    let answered: Value = serde_json::from_str(&outcome.answer).unwrap_or_default();
    if answered["id"] != envelope.id.as_str() {
        wrong.push(format!(
            "answered id {} but published {}",
            answered["id"], envelope.id
        ));
    }
    let found = [
        ("id", vector.id.as_ref(), Some(envelope.id.clone())),
        (
            "type",
            vector.event_type.as_ref(),
            Some(envelope.event_type.clone()),
        ),
        (
            "occurred_at",
            vector.occurred_at.as_ref(),
            envelope.occurred_at.clone(),
        ),
    ];
    for (field, want, got) in found {
        let Some(want) = want else { continue };
        let got = got.map_or(Value::Null, Value::String);
        if &got != want {
            wrong.push(format!("{field} {got}, want {want}"));
        }
    }
    wrong
}

#[tokio::test]
async fn every_provider_request_signed_by_its_own_library_gets_the_contract_answer() {
    let vectors = vectors();
    let mut failures = Vec::new();
    for vector in &vectors {
        let problems = match ingest(vector).await {
            Ok(outcome) => mismatches(vector, &outcome),
            Err(refused) => vec![refused],
        };
        for problem in problems {
            failures.push(format!(
                "{} (signed by {}): {problem}",
                vector.name, vector.signed_by
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} provider requests answered wrongly:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

#[test]
fn every_kind_of_the_core_has_accepted_and_refused_requests() {
    let vectors = vectors();
    for kind in Kind::ALL {
        let statuses: BTreeSet<u16> = vectors
            .iter()
            .filter(|vector| vector.config["kind"] == kind.name())
            .map(|vector| vector.status)
            .collect();
        assert!(
            statuses.contains(&202) && statuses.contains(&401),
            "kind {kind} has requests answered {statuses:?}: scripts/provider-vectors needs accepted and refused ones"
        );
    }
}
