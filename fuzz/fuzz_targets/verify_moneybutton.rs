//! Money Button: a body is accepted only with the configured secret in its
//! `secret` field, and the accepted payload is the body less that field,
//! every other member kept byte for byte; the body's own secret always
//! verifies; a body without one is refused as unsigned.
//!
//! Input: configured secret \0 body
#![no_main]

use std::sync::LazyLock;

use hookbridge_core::config::Sources;
use hookbridge_core::envelope::Envelope;
use hookbridge_core::ingest::{IngestError, Ingested, Webhook, prepare};
use hookbridge_core::verify::VerifyError;
use hookbridge_fuzz::{NOW, at, fields, object_members, object_text, one_secret, text};
use libfuzzer_sys::fuzz_target;

static CONFIG: LazyLock<Sources> = LazyLock::new(|| {
    Sources::from_json(r#"{"moneybutton":{"kind":"moneybutton"}}"#).expect("valid")
});

fuzz_target!(|data: &[u8]| {
    let [configured, body] = fields(data);
    let configured = text(configured);
    let members = std::str::from_utf8(body).ok().and_then(object_members);
    let body_secret = members.as_deref().and_then(|members| {
        let mut found = members.iter().filter(|(key, _)| key == "secret");
        let (_, raw) = found.next()?;
        found
            .next()
            .is_none()
            .then(|| serde_json::from_str::<String>(raw.get()).ok())?
    });

    // A `secret` member that is not one string (twice, or another type) is a
    // malformed signature, not a missing one.
    let malformed_secret = body_secret.is_none()
        && members
            .as_deref()
            .is_some_and(|members| members.iter().any(|(key, _)| key == "secret"));

    let headers = http::HeaderMap::new();
    let config = CONFIG.get("moneybutton").expect("configured");
    let webhook = Webhook {
        source: "moneybutton",
        config,
        method: &http::Method::POST,
        url: "https://hooks.example.com/webhooks/moneybutton",
        headers: &headers,
        body,
    };
    let result = prepare(
        &webhook,
        &one_secret(&configured),
        at(NOW),
        "corr",
        "payloads",
    );
    match &result {
        Ok(Ingested::Handshake(_)) => panic!("Money Button has no handshake"),
        Ok(Ingested::Event(prepared)) => {
            assert_eq!(
                body_secret.as_deref(),
                Some(configured.as_ref()),
                "accepted with another secret"
            );
            let envelope: Envelope =
                serde_json::from_str(&prepared.bus_event.detail).expect("an envelope");
            let members = members.expect("an accepted body is an object");
            let kept = members.iter().filter(|(key, _)| key != "secret");
            assert_eq!(
                envelope
                    .inline_payload()
                    .expect("a fuzzed body fits inline"),
                object_text(kept.map(|(k, v)| (k.as_str(), *v)))
            );
            let payload_members = object_members(
                envelope
                    .inline_payload()
                    .expect("a fuzzed body fits inline"),
            )
            .expect("an object");
            assert!(payload_members.iter().all(|(key, _)| key != "secret"));
        }
        Err(IngestError::Unverified(error)) => {
            // A body without a secret is unsigned: 401, like a missing header.
            let unsigned = body_secret.as_deref().is_none_or(str::is_empty);
            if malformed_secret {
                assert_eq!(error, &VerifyError::MalformedSignedField("secret"));
            } else if unsigned {
                assert_eq!(error, &VerifyError::MissingBodySecret);
            } else {
                assert_ne!(
                    body_secret.as_deref(),
                    Some(configured.as_ref()),
                    "its own secret refused"
                );
                assert_eq!(error, &VerifyError::NoMatch);
            }
        }
        Err(error) => assert!(matches!(error.status(), 400 | 413), "{error}"),
    }

    // The body's own secret, configured, is never refused as unverified.
    if let Some(secret) = &body_secret
        && !secret.is_empty()
    {
        let result = prepare(&webhook, &one_secret(secret), at(NOW), "corr", "payloads");
        assert!(
            !matches!(result, Err(IngestError::Unverified(_))),
            "{result:?}"
        );
    }
});
