//! Ingest's envelope builder over arbitrary bodies, each signed correctly
//! for its source so the payload rules are what gets fuzzed: never panics;
//! a correctly signed body is never refused as unverified; an accepted
//! body's payload is its exact JSON text (Money Button: less the secret);
//! id and type follow the source's rules, falling back to the body digest
//! and the default type; the detail is the serialised
//! envelope and the entry size counts exactly what is sent; a body whose
//! signature was made for other bytes is always refused with 401.
//!
//! Input: source \0 header A \0 header B \0 timestamp \0 body
//! (A: GitHub event, webhook-id, Shopify topic; B: GitHub delivery, Shopify id)
#![no_main]

use std::sync::LazyLock;
use std::time::Duration;

use hookbridge_core::config::Sources;
use hookbridge_core::entry::{MAX_ENTRY_SIZE, entry_size};
use hookbridge_core::envelope::Envelope;
use hookbridge_core::ingest::{IngestError, Ingested, Webhook, prepare};
use hookbridge_core::providers::{Kind, Outgoing, github, standard, stripe};
use hookbridge_core::secret::Secret;
use hookbridge_fuzz::{
    at, fields, header_map, object_members, object_text, one_secret, unix_seconds,
};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};

const SOURCES: &str = r#"{
    "stripe": {"kind": "stripe"},
    "github": {"kind": "github"},
    "standard": {"kind": "standard"},
    "moneybutton": {"kind": "moneybutton"},
    "shopify": {"kind": "hmac", "header": "X-Shopify-Hmac-Sha256", "encoding": "base64",
                "id_header": "X-Shopify-Webhook-Id", "type_header": "X-Shopify-Topic"},
    "hmac": {"kind": "hmac", "header": "X-Signature", "prefix": "sha256=",
             "type_pointer": "/event/name"}
}"#;
const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const CORRELATION_ID: &str = "6f1c2a9e-fuzz";

static CONFIG: LazyLock<Sources> =
    LazyLock::new(|| Sources::from_json(SOURCES).expect("the fuzz sources are valid"));

fuzz_target!(|data: &[u8]| {
    let [source, header_a, header_b, timestamp, body] = fields(data);
    let names: Vec<&str> = CONFIG.iter().map(|(name, _)| name).collect();
    let source = names
        .iter()
        .copied()
        .find(|name| name.as_bytes() == source)
        .unwrap_or(names[source.iter().map(|&b| usize::from(b)).sum::<usize>() % names.len()]);
    let config = CONFIG.get(source).expect("configured");
    let timestamp = unix_seconds(timestamp);
    let now = at(timestamp) + Duration::from_millis(123);
    let members = std::str::from_utf8(body).ok().and_then(object_members);
    let value: Option<serde_json::Value> = serde_json::from_slice(body).ok();

    // Money Button carries its secret in the body: configure that one.
    let body_secret = string_member(members.as_deref(), "secret");
    let secret = match config.kind() {
        Kind::MoneyButton => body_secret.clone().unwrap_or_else(|| SECRET.into()),
        _ => SECRET.into(),
    };
    let secrets = one_secret(&secret);

    let signed_for = |signed_body: &[u8]| -> Option<http::HeaderMap> {
        let mut pairs: Vec<(&str, Vec<u8>)> = Vec::new();
        match config.kind() {
            Kind::Stripe => {
                pairs.push((
                    "stripe-signature",
                    stripe::sign(SECRET, timestamp, signed_body).into(),
                ));
            }
            Kind::Github => {
                pairs.push((
                    "x-hub-signature-256",
                    github::sign(SECRET, signed_body).into(),
                ));
                pairs.push(("x-github-event", header_a.to_vec()));
                pairs.push(("x-github-delivery", header_b.to_vec()));
            }
            Kind::Standard => {
                let id = standard_id(header_a);
                let signature = standard::sign(&Secret::new(SECRET), id, timestamp, signed_body)
                    .expect("the secret has a key");
                pairs.push((standard::ID_HEADER, id.into()));
                pairs.push((standard::TIMESTAMP_HEADER, timestamp.to_string().into()));
                pairs.push((standard::SIGNATURE_HEADER, signature.into()));
            }
            Kind::Hmac => {
                let outgoing = Outgoing {
                    id: "",
                    event_type: None,
                    timestamp,
                    url: "",
                    body: signed_body,
                };
                let signed = config
                    .provider()
                    .sign(SECRET, &outgoing)
                    .expect("hmac signs");
                // The configured signature header of each hmac source above.
                let name = if source == "shopify" {
                    "x-shopify-hmac-sha256"
                } else {
                    "x-signature"
                };
                pairs.push((name, signed.headers[0].1.clone().into()));
                if source == "shopify" {
                    pairs.push(("x-shopify-topic", header_a.to_vec()));
                    pairs.push(("x-shopify-webhook-id", header_b.to_vec()));
                }
            }
            _ => {}
        }
        // An empty header is "not sent"; a value no header can hold is dropped.
        let pairs: Vec<(&str, &[u8])> = pairs
            .iter()
            .filter(|(_, value)| !value.is_empty() && http::HeaderValue::from_bytes(value).is_ok())
            .map(|(name, value)| (*name, value.as_slice()))
            .collect();
        header_map(&pairs)
    };

    let headers = signed_for(body).expect("only valid header values are kept");
    let webhook = Webhook {
        source,
        config,
        method: &http::Method::POST,
        url: "https://hooks.example.com/webhooks/fuzz",
        headers: &headers,
        body,
    };
    match prepare(&webhook, &secrets, now, CORRELATION_ID, "payloads") {
        Ok(Ingested::Handshake(handshake)) => {
            panic!("no source here has a handshake: {handshake:?}")
        }
        Ok(Ingested::Event(prepared)) => {
            let detail = &prepared.bus_event.detail;
            let envelope: Envelope = serde_json::from_str(detail)
                .unwrap_or_else(|error| panic!("the detail is no envelope ({error}): {detail}"));
            assert_eq!(
                &serde_json::to_string(&envelope).expect("serialises"),
                detail
            );
            assert_eq!(envelope.id, prepared.event_id);
            assert_eq!(envelope.event_type, prepared.event_type);
            assert_eq!(prepared.bus_event.detail_type, prepared.event_type);
            assert_eq!(envelope.source, source);
            assert_eq!(prepared.bus_event.source, format!("hookbridge.{source}"));
            assert_eq!(envelope.correlation_id, CORRELATION_ID);
            assert_eq!(
                envelope.received_at,
                humantime::format_rfc3339_millis(now).to_string()
            );
            let size = entry_size(&prepared.bus_event);
            assert_eq!(
                size,
                prepared.bus_event.source.len() + envelope.event_type.len() + detail.len()
            );
            assert!(size <= MAX_ENTRY_SIZE);

            let body_text = std::str::from_utf8(body).expect("an accepted body is UTF-8");
            let members = members.as_deref().expect("an accepted body is an object");
            let payload = envelope
                .inline_payload()
                .expect("a fuzzed body fits inline");
            match config.kind() {
                Kind::MoneyButton => {
                    let kept = members.iter().filter(|(key, _)| key != "secret");
                    assert_eq!(payload, object_text(kept.map(|(k, v)| (k.as_str(), *v))));
                    assert!(body_secret.is_some());
                }
                _ => assert_eq!(payload, body_text.trim_matches([' ', '\t', '\n', '\r'])),
            }
            if let Some(value) = &value {
                check_id_and_type(
                    source,
                    value,
                    body,
                    header_a,
                    header_b,
                    &prepared.event_id,
                    &prepared.event_type,
                );
            }
        }
        Err(error) => {
            // Money Button's signature is the body's secret: none, no signature.
            let unsigned = config.kind() == Kind::MoneyButton
                && body_secret.as_deref().is_none_or(str::is_empty);
            assert!(
                matches!(error.status(), 400 | 413) || (unsigned && error.status() == 401),
                "a correctly signed {source} body was refused with {}: {error}",
                error.status()
            );
            assert!(!error.to_string().contains(SECRET));
        }
    }

    // A signature made for other bytes never lets this body through.
    if config.kind() != Kind::MoneyButton {
        let mut other = body.to_vec();
        other.push(b' ');
        let headers = signed_for(&other).expect("valid header values");
        let webhook = Webhook {
            source,
            config,
            method: &http::Method::POST,
            url: "https://hooks.example.com/webhooks/fuzz",
            headers: &headers,
            body,
        };
        let error = prepare(&webhook, &secrets, now, CORRELATION_ID, "payloads")
            .expect_err("a body signed as other bytes was accepted");
        assert!(
            matches!(error, IngestError::TooLarge { .. }) || error.status() == 401,
            "{error}"
        );
    }
});

/// The `webhook-id` sent: the fuzzed one when it can be a header value.
fn standard_id(field: &[u8]) -> &str {
    std::str::from_utf8(field)
        .ok()
        .filter(|id| !id.is_empty() && id.trim() == *id && hookbridge_fuzz::is_header_text(id))
        .unwrap_or("msg_fuzz")
}

/// The string value of the only top-level member `name`.
fn string_member(
    members: Option<&[(String, &serde_json::value::RawValue)]>,
    name: &str,
) -> Option<String> {
    let mut found = members?.iter().filter(|(key, _)| key == name);
    let (_, raw) = found.next()?;
    if found.next().is_some() {
        return None;
    }
    serde_json::from_str::<String>(raw.get()).ok()
}

/// Whether every member along `pointer` (plain keys) appears once in its
/// object, so a reader taking the first and one taking the last agree.
fn unrepeated(body: &[u8], pointer: &str) -> bool {
    let Ok(mut json) = std::str::from_utf8(body) else {
        return true;
    };
    for key in pointer.split('/').skip(1) {
        let Some(members) = object_members(json) else {
            return true;
        };
        let mut found = members.iter().filter(|(name, _)| name == key);
        let Some((_, raw)) = found.next() else {
            return true;
        };
        if found.next().is_some() {
            return false;
        }
        json = raw.get();
    }
    true
}

fn header_text(field: &[u8]) -> Option<&str> {
    std::str::from_utf8(field)
        .ok()
        .filter(|text| !text.is_empty() && hookbridge_fuzz::is_header_text(text))
}

/// Text fit for an id (256 bytes) or a type (128): a string or a number,
/// non-empty, without control characters; else the field falls back.
fn usable(value: Option<&serde_json::Value>, max_len: usize) -> Option<String> {
    let text = match value? {
        serde_json::Value::String(text) => text.clone(),
        serde_json::Value::Number(number) => number.to_string(),
        _ => return None,
    };
    (!text.is_empty() && text.len() <= max_len && !text.chars().any(char::is_control))
        .then_some(text)
}

/// The event id and type each source's rule gives, read the way a consumer
/// of the payload reads it (a JSON parser, the last duplicate winning), with
/// the fallbacks: the body digest as id, `webhook` as type.
fn check_id_and_type(
    source: &str,
    value: &serde_json::Value,
    body: &[u8],
    header_a: &[u8],
    header_b: &[u8],
    id: &str,
    event_type: &str,
) {
    let digest = hex::encode(Sha256::digest(body));
    // A member that appears twice on the way is unreadable: it falls back.
    let text = |pointer: &str, max_len| {
        unrepeated(body, pointer)
            .then(|| usable(value.pointer(pointer), max_len))
            .flatten()
    };
    let header = |field: &[u8], max_len| {
        header_text(field).and_then(|h| {
            usable(
                Some(&serde_json::Value::String(h.trim().to_owned())),
                max_len,
            )
        })
    };
    let or_default = |found: Option<String>| found.unwrap_or_else(|| "webhook".to_owned());
    match source {
        "stripe" => {
            assert_eq!(Some(id.to_owned()), text("/id", 256));
            assert_eq!(event_type, or_default(text("/type", 128)));
        }
        "github" => {
            let event = header(header_a, 128);
            let refined = match (
                &event,
                value.pointer("/action").and_then(serde_json::Value::as_str),
            ) {
                (Some(event), Some(action)) => {
                    usable(Some(&format!("{event}.{action}").into()), 128)
                }
                _ => None,
            };
            assert_eq!(event_type, or_default(refined.or(event)));
            assert_eq!(id, header(header_b, 256).unwrap_or(digest));
        }
        "standard" => {
            assert_eq!(id, standard_id(header_a));
            assert_eq!(event_type, or_default(text("/type", 128)));
        }
        "moneybutton" => {
            let status = value
                .pointer("/payment/status")
                .and_then(serde_json::Value::as_str)
                .expect("a status")
                .to_ascii_lowercase();
            let payment_id = match value.pointer("/payment/id") {
                Some(serde_json::Value::String(id)) => id.clone(),
                Some(number) => number.to_string(),
                None => panic!("an accepted payment has an id"),
            };
            assert_eq!(id, format!("{payment_id}:{status}"));
            // The status is letters and underscores; a long one makes a
            // type over 128 bytes, which falls back like any other.
            assert_eq!(
                event_type,
                or_default(usable(Some(&format!("payment.{status}").into()), 128))
            );
        }
        "shopify" => {
            assert_eq!(id, header(header_b, 256).unwrap_or(digest));
            assert_eq!(
                event_type,
                or_default(header(header_a, 128).or_else(|| text("/type", 128)))
            );
        }
        "hmac" => {
            assert_eq!(id, digest);
            assert_eq!(event_type, or_default(text("/event/name", 128)));
        }
        other => panic!("unexpected source {other}"),
    }
}
