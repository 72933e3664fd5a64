use std::collections::HashMap;
use std::time::{Duration, UNIX_EPOCH};

use hookbridge_core::envelope::Body as EnvelopeBody;
use hookbridge_core::envelope::Envelope;
use hookbridge_core::payload_ref::MAX_BODY_SIZE;
use hookbridge_core::providers::{Outgoing, stripe};
use hookbridge_core::response::CORRELATION_HEADER;
use hookbridge_core::secret::SecretSet;
use hookbridge_testkit::{
    CapturedMetrics, ManualClock, MemoryBus, MemoryPayloads, MemorySecrets, TEST_METRICS_TIME_MS,
    TEST_STACK,
};
use lambda_http::http::{self, header};

use super::*;

const NOW: u64 = 1_764_000_000;

fn at_now() -> ManualClock {
    ManualClock::new(UNIX_EPOCH + Duration::from_secs(NOW))
}

const SECRET: &str = "whsec_unit";
const BODY: &str = r#"{"id":"evt_1","type":"charge.succeeded","created":1764000000}"#;

type TestIngest = Ingest<MemorySecrets, MemoryBus, ManualClock, MemoryPayloads>;

fn service(secrets: MemorySecrets, bus: MemoryBus) -> TestIngest {
    service_with(secrets, bus, MemoryPayloads::new("payloads"))
}

fn service_with(secrets: MemorySecrets, bus: MemoryBus, payloads: MemoryPayloads) -> TestIngest {
    hookbridge_testlog::capture();
    let sources = Sources::from_json(
        r#"{"stripe":{"kind":"stripe"},"other":{"kind":"github"},"slack":{"kind":"slack"},
            "meta":{"kind":"hmac","header":"X-Hub-Signature-256","prefix":"sha256="},
            "twilio":{"kind":"twilio"}}"#,
    )
    .unwrap();
    Ingest::new(sources, secrets, bus, at_now(), payloads)
}

/// A signed Stripe webhook whose body is `size` bytes.
fn signed_stripe_of_size(size: usize) -> (Request, String) {
    let head = r#"{"id":"evt_big","type":"charge.succeeded","created":1764000000,"pad":""#;
    let body = format!("{head}{}\"}}", "x".repeat(size - head.len() - 2));
    assert_eq!(body.len(), size);
    let request = request("POST", "/webhooks/stripe", Some(&signed(&body)), &body);
    (request, body)
}

#[tokio::test]
async fn a_large_payload_is_stored_before_its_reference_goes_on_the_bus() {
    let payloads = MemoryPayloads::new("payloads");
    let ingest = service_with(with_stripe_secret(), MemoryBus::new(), payloads.clone());
    let (request, body) = signed_stripe_of_size(MAX_BODY_SIZE);
    let response = ingest.handle(request).await;
    assert_eq!(response.status(), 202);
    let events = ingest.publisher.events();
    let envelope: Envelope = serde_json::from_str(&events[0].detail).unwrap();
    let EnvelopeBody::Stored(reference) = envelope.body().unwrap() else {
        panic!("a 5 MiB payload travels by reference");
    };
    assert_eq!(reference.bucket, "payloads");
    assert_eq!(payloads.object(&reference.key).unwrap(), body.as_bytes());
    assert!(events[0].detail.len() < 1024);
}

#[tokio::test]
async fn a_small_payload_stays_inline_and_stores_nothing() {
    let payloads = MemoryPayloads::new("payloads");
    let ingest = service_with(with_stripe_secret(), MemoryBus::new(), payloads.clone());
    assert_eq!(ingest.handle(signed_stripe_post()).await.status(), 202);
    assert!(payloads.is_empty());
}

#[tokio::test]
async fn a_body_over_5_mib_is_413_naming_the_limit_with_the_correlation_id() {
    let ingest = service(with_stripe_secret(), MemoryBus::new());
    let (request, _) = signed_stripe_of_size(MAX_BODY_SIZE + 1);
    let response = ingest.handle(request).await;
    assert!(response.headers().contains_key(CORRELATION_HEADER));
    let (status, body) = json_of(response).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "payload_too_large");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("5242880 bytes"), "{message}");
    assert!(ingest.publisher.events().is_empty());
}

#[tokio::test]
async fn an_unavailable_payload_store_answers_503_and_publishes_nothing() {
    let payloads = MemoryPayloads::new("payloads").unavailable("connection refused");
    let ingest = service_with(with_stripe_secret(), MemoryBus::new(), payloads);
    let (request, _) = signed_stripe_of_size(300 * 1024);
    let (status, body) = json_of(ingest.handle(request).await).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (503, Some("payload_store_unavailable"))
    );
    assert!(ingest.publisher.events().is_empty());
}

fn with_stripe_secret() -> MemorySecrets {
    MemorySecrets::new().with("stripe", SecretSet::parse(SECRET))
}

fn request(method: &str, path: &str, signature: Option<&str>, body: &str) -> Request {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(format!("https://example.com{path}"));
    if let Some(signature) = signature {
        builder = builder.header("stripe-signature", signature);
    }
    builder.body(Body::from(body)).unwrap()
}

/// The Stripe webhook `BODY`, correctly signed.
fn signed_stripe_post() -> Request {
    request("POST", "/webhooks/stripe", Some(&signed(BODY)), BODY)
}

fn signed(body: &str) -> String {
    stripe::sign(SECRET, NOW as i64, body.as_bytes())
}

async fn json_of(response: Response<Body>) -> (u16, serde_json::Value) {
    let status = response.status().as_u16();
    let body = serde_json::from_slice(response.body().as_ref()).unwrap();
    (status, body)
}

#[tokio::test]
async fn verified_webhook_is_published_then_answered_202() {
    let ingest = service(with_stripe_secret(), MemoryBus::new());
    let response = ingest.handle(signed_stripe_post()).await;
    let correlation = response.headers()[CORRELATION_HEADER]
        .to_str()
        .unwrap()
        .to_owned();
    let (status, body) = json_of(response).await;
    assert_eq!(status, 202);
    assert_eq!(body["id"], "evt_1");
    assert_eq!(body["correlation_id"], correlation.as_str());
    let events = ingest.publisher.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].source, "hookbridge.stripe");
    let envelope: Envelope = serde_json::from_str(&events[0].detail).unwrap();
    assert_eq!(envelope.correlation_id, correlation);
}

#[tokio::test]
async fn a_decision_comes_with_the_same_answer_handle_gives() {
    let ingest = service(with_stripe_secret(), MemoryBus::new());
    let stale = stripe::sign(SECRET, NOW as i64 - 412, BODY.as_bytes());
    let decided = ingest
        .decide(&request("POST", "/webhooks/stripe", Some(&stale), BODY))
        .await;
    assert_eq!(decided.source, "stripe");
    assert!(matches!(
        decided.decision,
        Err(IngestError::Unverified(VerifyError::OutsideTolerance {
            tolerance_seconds: 300,
            age_seconds: 412
        }))
    ));
    assert_eq!(
        decided.response.headers()[CORRELATION_HEADER],
        decided.correlation_id.as_str()
    );
    let (status, body) = json_of(decided.response).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["code"], "timestamp_out_of_tolerance");
    assert_eq!(
        body["error"]["message"],
        "signature verification failed: timestamp is outside the 300 s tolerance",
        "the answer's contract is unchanged"
    );
    let accepted = ingest.decide(&signed_stripe_post()).await;
    assert!(matches!(&accepted.decision, Ok(Answer::Accepted(a)) if a.id == "evt_1"));
    assert_eq!(accepted.response.status(), 202);
}

#[tokio::test]
async fn duplicate_event_is_accepted_again() {
    let ingest = service(with_stripe_secret(), MemoryBus::new());
    for _ in 0..2 {
        let response = ingest.handle(signed_stripe_post()).await;
        assert_eq!(json_of(response).await.1["id"], "evt_1");
    }
    assert_eq!(ingest.publisher.events().len(), 2);
}

#[tokio::test]
async fn failing_bus_answers_503_so_the_provider_retries() {
    let ingest = service(with_stripe_secret(), MemoryBus::failing());
    let response = ingest.handle(signed_stripe_post()).await;
    let (status, body) = json_of(response).await;
    assert_eq!(status, 503);
    assert_eq!(body["error"]["code"], "bus_unavailable");
}

#[tokio::test]
async fn unavailable_or_missing_secrets_answer_503_not_401() {
    let unavailable = MemorySecrets::new().unavailable("stripe", "connection refused");
    for secrets in [unavailable, MemorySecrets::new()] {
        let ingest = service(secrets, MemoryBus::new());
        let response = ingest.handle(signed_stripe_post()).await;
        let (status, body) = json_of(response).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (503, Some("secrets_unavailable"))
        );
        assert!(ingest.publisher.events().is_empty());
    }
}

#[tokio::test]
async fn routing_errors_follow_the_contract() {
    let ingest = service(with_stripe_secret(), MemoryBus::new());
    let cases = [
        ("POST", "/webhooks/nope", 404, "unknown_source"),
        ("POST", "/webhooks/", 404, "unknown_source"),
        ("POST", "/elsewhere", 404, "unknown_source"),
        ("GET", "/webhooks/stripe", 405, "method_not_allowed"),
        ("PUT", "/webhooks/stripe", 405, "method_not_allowed"),
    ];
    for (method, path, status, code) in cases {
        let response = ingest
            .handle(request(method, path, Some(&signed(BODY)), BODY))
            .await;
        if status == 405 {
            assert_eq!(response.headers()[header::ALLOW], "POST");
        }
        let (got, body) = json_of(response).await;
        assert_eq!(
            (got, body["error"]["code"].as_str()),
            (status, Some(code)),
            "{method} {path}"
        );
        assert!(body["error"]["message"].is_string());
    }
    assert!(ingest.publisher.events().is_empty());
}

#[tokio::test]
async fn rejected_webhooks_never_reach_the_bus_and_never_echo_the_signature() {
    let ingest = service(with_stripe_secret(), MemoryBus::new());
    let forged = stripe::sign("whsec_forged", NOW as i64, BODY.as_bytes());
    let response = ingest
        .handle(request("POST", "/webhooks/stripe", Some(&forged), BODY))
        .await;
    let text = String::from_utf8(response.body().to_vec()).unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        !text.contains(&forged[13..]) && !text.contains(SECRET),
        "{text}"
    );
    assert!(ingest.publisher.events().is_empty());
}

#[tokio::test]
async fn path_parameter_names_the_source_when_present() {
    let ingest = service(with_stripe_secret(), MemoryBus::new());
    let mut params = HashMap::new();
    params.insert("source".to_string(), vec!["stripe".to_string()]);
    let request = request("POST", "/prod/hooks/anything", Some(&signed(BODY)), BODY)
        .with_path_parameters(params);
    assert_eq!(ingest.handle(request).await.status(), 202);
}

#[tokio::test]
async fn body_is_verified_over_raw_bytes_whether_text_or_binary() {
    let ingest = service(with_stripe_secret(), MemoryBus::new());
    let request = http::Request::builder()
        .method("POST")
        .uri("https://example.com/webhooks/stripe")
        .header("stripe-signature", signed(BODY))
        .body(Body::Binary(BODY.as_bytes().to_vec()))
        .unwrap();
    assert_eq!(ingest.handle(request).await.status(), 202);
}

/// The development sources and their secrets, which `events/ingest` is
/// signed for (see events/README.md), from their one copy.
fn development_sources() -> (Sources, MemorySecrets) {
    let file: toml::Table = include_str!("../../../dev-sources.toml").parse().unwrap();
    let mut sources = serde_json::Map::new();
    let mut secrets = MemorySecrets::new();
    for (name, source) in file["sources"].as_table().unwrap() {
        let mut options = source.as_table().unwrap().clone();
        let stored: Vec<&str> = options["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|secret| secret.as_str().unwrap())
            .collect();
        secrets = secrets.with(name, SecretSet::parse(&stored.join(",")));
        options.remove("secrets");
        sources.insert(name.clone(), serde_json::to_value(options).unwrap());
    }
    let sources = Sources::from_json(&serde_json::Value::Object(sources).to_string()).unwrap();
    (sources, secrets)
}

#[tokio::test]
async fn every_sample_event_gets_its_expected_status() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/ingest");
    let expected: HashMap<String, u16> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
    let (sources, secrets) = development_sources();
    let sources = Arc::new(sources);
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if name == "expected.json" {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let raw: serde_json::Value = serde_json::from_str(&text).unwrap();
        let signed_at = raw["requestContext"]["timeEpoch"]
            .as_u64()
            .expect("timeEpoch");
        hookbridge_testlog::capture();
        let ingest = Ingest::new(
            sources.clone(),
            secrets.clone(),
            MemoryBus::new(),
            ManualClock::new(UNIX_EPOCH + Duration::from_millis(signed_at)),
            MemoryPayloads::new("payloads"),
        );
        let request = lambda_http::request::from_str(&text)
            .unwrap_or_else(|e| panic!("{name} is not an API Gateway event: {e}"));
        let status = ingest.handle(request).await.status().as_u16();
        let want = *expected
            .get(&name)
            .unwrap_or_else(|| panic!("{name} is not in expected.json"));
        assert_eq!(status, want, "{name}");
        let published = ingest.publisher.events().len();
        assert_eq!(
            published,
            usize::from(want == 202),
            "{name}: events on the bus"
        );
        seen += 1;
    }
    assert_eq!(seen, expected.len(), "every file in expected.json exists");
}

async fn answer(ingest: &TestIngest, request: Request) -> (u16, String, String) {
    let response = ingest.handle(request).await;
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .map_or(String::new(), |v| v.to_str().unwrap().to_owned());
    assert!(response.headers().contains_key(CORRELATION_HEADER));
    let body = String::from_utf8(response.body().to_vec()).unwrap();
    (response.status().as_u16(), content_type, body)
}

#[tokio::test]
async fn meta_subscription_is_answered_when_the_token_is_a_secret() {
    let secrets = MemorySecrets::new().with("meta", SecretSet::parse("app-secret,verify-me"));
    let ingest = service(secrets, MemoryBus::new());
    let get = |token: &str| {
        http::Request::builder()
            .method("GET")
            .uri(format!("https://example.com/webhooks/meta?hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token={token}"))
            .body(Body::Empty)
            .unwrap()
    };
    let (status, content_type, body) = answer(&ingest, get("verify-me")).await;
    assert_eq!((status, body.as_str()), (200, "1158201444"));
    assert!(content_type.starts_with("text/plain"));
    let (status, _, body) = answer(&ingest, get("guess")).await;
    assert_eq!(status, 401);
    assert!(
        !body.contains("verify-me") && !body.contains("guess"),
        "{body}"
    );
    assert!(ingest.publisher.events().is_empty());
}

#[tokio::test]
async fn graph_validation_token_is_echoed_as_text() {
    let ingest = service(MemorySecrets::new(), MemoryBus::new());
    let request = http::Request::builder()
        .method("POST")
        .uri("https://example.com/webhooks/meta?validationToken=Validation%3A+Testing")
        .header("content-type", "text/plain")
        .body(Body::Empty)
        .unwrap();
    let (status, content_type, body) = answer(&ingest, request).await;
    assert_eq!((status, body.as_str()), (200, "Validation: Testing"));
    assert!(content_type.starts_with("text/plain"));
    assert!(ingest.publisher.events().is_empty());
}

#[tokio::test]
async fn slack_url_verification_is_answered_and_not_published() {
    let ingest = service(
        MemorySecrets::new().with("slack", SecretSet::parse("signing")),
        MemoryBus::new(),
    );
    let body = br#"{"token":"t","challenge":"abc123","type":"url_verification"}"#;
    let outgoing = Outgoing {
        id: "",
        event_type: None,
        timestamp: NOW as i64,
        url: "",
        body,
    };
    let config = ingest.sources.get("slack").unwrap();
    let signed = config.provider().sign("signing", &outgoing).unwrap();
    let mut builder = http::Request::builder()
        .method("POST")
        .uri("https://example.com/webhooks/slack");
    for (name, value) in &signed.headers {
        builder = builder.header(name, value);
    }
    let (status, _, answered) =
        answer(&ingest, builder.body(Body::from(body.to_vec())).unwrap()).await;
    assert_eq!(
        (status, answered.as_str()),
        (200, r#"{"challenge":"abc123"}"#)
    );
    assert!(ingest.publisher.events().is_empty());
}

/// A local server's request carries only a path: the signed URL is `http`
/// on its `Host`, as `hookbridge dev` serves it.
#[tokio::test]
async fn a_url_signing_scheme_verifies_against_the_host_the_request_names() {
    let ingest = service(
        MemorySecrets::new().with("twilio", SecretSet::parse("token")),
        MemoryBus::new(),
    );
    let body = b"MessageSid=SM1&MessageStatus=sent";
    let url = "http://127.0.0.1:3000/webhooks/twilio";
    let outgoing = Outgoing {
        id: "idem-1",
        event_type: None,
        timestamp: 0,
        url,
        body,
    };
    let signed = ingest
        .sources
        .get("twilio")
        .unwrap()
        .provider()
        .sign("token", &outgoing)
        .unwrap();
    let mut builder = http::Request::builder()
        .method("POST")
        .uri("/webhooks/twilio")
        .header("host", "127.0.0.1:3000");
    for (name, value) in &signed.headers {
        builder = builder.header(name, value);
    }
    let response = ingest
        .handle(builder.body(Body::from(body.to_vec())).unwrap())
        .await;
    assert_eq!(response.status(), 202);
    let events = ingest.publisher.events();
    let envelope: Envelope = serde_json::from_str(&events[0].detail).unwrap();
    assert_eq!(
        envelope.raw_body.as_deref(),
        Some("MessageSid=SM1&MessageStatus=sent")
    );
    assert_eq!(
        envelope.inline_payload().unwrap(),
        r#"{"MessageSid":"SM1","MessageStatus":"sent"}"#
    );
}

/// The service with its metrics captured as the Lambda writes them.
fn measured(secrets: MemorySecrets, bus: MemoryBus) -> (TestIngest, CapturedMetrics) {
    let metrics = CapturedMetrics::new();
    let ingest = service(secrets, bus).with_metrics(Arc::new(metrics.clone()));
    (ingest, metrics)
}

/// `(metric, value, source, reason)` of every datum CloudWatch extracts
/// from the lines, refusals by reason alone (no source) left out.
fn per_source(metrics: &CapturedMetrics) -> Vec<(String, f64, String, String)> {
    let datums = metrics.datums();
    for datum in &datums {
        assert_eq!(datum.namespace, "hookbridge");
        assert_eq!(datum.dimension("Stack"), TEST_STACK);
        assert_eq!(datum.timestamp_ms, TEST_METRICS_TIME_MS);
    }
    datums
        .into_iter()
        .filter(|datum| !datum.dimension("Source").is_empty())
        .map(|datum| {
            (
                datum.name.clone(),
                datum.value,
                datum.dimension("Source").to_owned(),
                datum.dimension("Reason").to_owned(),
            )
        })
        .collect()
}

fn datum(name: &str, value: f64, source: &str, reason: &str) -> (String, f64, String, String) {
    (name.into(), value, source.into(), reason.into())
}

#[tokio::test]
async fn an_accepted_webhook_writes_one_emf_line_counting_it_per_source() {
    let (ingest, metrics) = measured(with_stripe_secret(), MemoryBus::new());
    assert_eq!(ingest.handle(signed_stripe_post()).await.status(), 202);
    assert_eq!(metrics.lines().len(), 1);
    assert_eq!(
        per_source(&metrics),
        [
            datum("Accepted", 1.0, "stripe", ""),
            datum("IngestLatency", 0.0, "stripe", ""),
        ]
    );
    assert_eq!(metrics.datums().len(), 2, "no datum without its source");
    let unit = |name: &str| {
        metrics
            .datums()
            .into_iter()
            .find(|datum| datum.name == name)
            .unwrap()
            .unit
    };
    assert_eq!(
        (unit("Accepted"), unit("IngestLatency")),
        ("Count".into(), "Milliseconds".into())
    );
}

#[tokio::test]
async fn every_refusal_is_counted_with_its_reason_and_never_the_sender_s_source_name() {
    let stale = stripe::sign(SECRET, NOW as i64 - 301, BODY.as_bytes());
    let forged = stripe::sign("whsec_forged", NOW as i64, BODY.as_bytes());
    let signed_not_json = signed("not json");
    let (big, _) = signed_stripe_of_size(MAX_BODY_SIZE + 1);
    let cases = [
        (
            request("POST", "/webhooks/stripe", Some(&forged), BODY),
            "stripe",
            "signature",
        ),
        (
            request("POST", "/webhooks/stripe", None, BODY),
            "stripe",
            "signature",
        ),
        (
            request("POST", "/webhooks/stripe", Some(&stale), BODY),
            "stripe",
            "stale",
        ),
        (
            request("POST", "/webhooks/evt_secret_name", None, BODY),
            "(unknown)",
            "unknown_source",
        ),
        (
            request(
                "POST",
                "/webhooks/stripe",
                Some(&signed_not_json),
                "not json",
            ),
            "stripe",
            "payload",
        ),
        (big, "stripe", "too_large"),
        (
            request("PUT", "/webhooks/stripe", None, BODY),
            "stripe",
            "method",
        ),
    ];
    for (request, source, reason) in cases {
        let (ingest, metrics) = measured(with_stripe_secret(), MemoryBus::new());
        let status = ingest.handle(request).await.status();
        assert!(status.is_client_error(), "{reason}: {status}");
        assert_eq!(
            per_source(&metrics),
            [
                datum("Refused", 1.0, source, reason),
                datum("IngestLatency", 0.0, source, ""),
            ],
            "{reason}"
        );
        let line = &metrics.lines()[0];
        assert!(
            !line.contains("evt_secret_name") && !line.contains(SECRET),
            "{line}"
        );
    }
}

#[tokio::test]
async fn every_503_is_counted_as_unavailable() {
    let cases = [
        (with_stripe_secret(), MemoryBus::failing()),
        (
            MemorySecrets::new().unavailable("stripe", "down"),
            MemoryBus::new(),
        ),
        (MemorySecrets::new(), MemoryBus::new()),
    ];
    for (secrets, bus) in cases {
        let (ingest, metrics) = measured(secrets, bus);
        assert_eq!(ingest.handle(signed_stripe_post()).await.status(), 503);
        assert_eq!(
            per_source(&metrics),
            [
                datum("Unavailable", 1.0, "stripe", ""),
                datum("IngestLatency", 0.0, "stripe", ""),
            ]
        );
    }
}

#[tokio::test]
async fn a_handshake_is_not_counted_as_a_webhook() {
    let secrets = MemorySecrets::new().with("meta", SecretSet::parse("verify-me"));
    let (ingest, metrics) = measured(secrets, MemoryBus::new());
    let request = request(
        "GET",
        "/webhooks/meta?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=42",
        None,
        "",
    );
    assert_eq!(ingest.handle(request).await.status(), 200);
    assert!(metrics.lines().is_empty());
}
