//! Ingest's pure path, scheme by scheme: verified webhooks become bus
//! events, everything else the contract's error.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookbridge_core::config::Sources;
use hookbridge_core::entry::entry_size;
use hookbridge_core::envelope::{Body, Envelope};
use hookbridge_core::ingest::{IngestError, Ingested, MAX_NESTING, Prepared, Webhook, prepare};
use hookbridge_core::payload_ref::{MAX_BODY_SIZE, MAX_INLINE_EVENT_SIZE};
use hookbridge_core::providers::{Outgoing, github, standard, stripe};
use hookbridge_core::secret::{Secret, SecretSet};
use hookbridge_testkit::header_map;
use sha2::{Digest, Sha256};

const NOW: u64 = 1_764_000_000;
const CORRELATION: &str = "00000000-0000-4000-8000-000000000001";
const BUCKET: &str = "payload-bucket";

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(NOW * 1000 + 123)
}

fn sources() -> Sources {
    Sources::from_json(
        r#"{"stripe":{"kind":"stripe"},"github":{"kind":"github"},"standard":{"kind":"standard"},
            "moneybutton":{"kind":"moneybutton"},
            "shopify":{"kind":"hmac","header":"X-Shopify-Hmac-Sha256","encoding":"base64",
                       "id_header":"X-Shopify-Webhook-Id","type_header":"X-Shopify-Topic"},
            "generic":{"kind":"hmac","header":"X-Signature","prefix":"sha256="},
            "forms":{"kind":"hmac","header":"X-Signature","message":"{url}{form}{body}"}}"#,
    )
    .unwrap()
}

fn run(
    source: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    secret: &str,
) -> Result<Prepared, IngestError> {
    let sources = sources();
    let webhook = Webhook {
        source,
        config: sources.get(source).unwrap(),
        method: &http::Method::POST,
        url: "https://hooks.example.com/webhooks/s",
        headers,
        body,
    };
    match prepare(
        &webhook,
        &SecretSet::parse(secret),
        now(),
        CORRELATION,
        BUCKET,
    )? {
        Ingested::Event(prepared) => Ok(prepared),
        Ingested::Handshake(handshake) => panic!("a handshake: {handshake:?}"),
    }
}

fn envelope(prepared: &Prepared) -> Envelope {
    serde_json::from_str(&prepared.bus_event.detail).unwrap()
}

const STRIPE_SECRET: &str = "whsec_test";

fn stripe_run(body: &[u8]) -> Result<Prepared, IngestError> {
    let signature = stripe::sign(STRIPE_SECRET, NOW as i64, body);
    run(
        "stripe",
        &header_map(&[("stripe-signature", &signature)]),
        body,
        STRIPE_SECRET,
    )
}

/// Money Button sends its secret in the body, and no header.
fn moneybutton_run(body: &[u8], secret: &str) -> Result<Prepared, IngestError> {
    run("moneybutton", &header_map(&[]), body, secret)
}

const STRIPE_BODY: &str = r#"{"id":"evt_1","object":"event","type":"payment_intent.succeeded","created":1763999999,"data":{"object":{"id":"pi_1","amount":12345678901234567890}}}"#;

#[test]
fn stripe_event_becomes_a_bus_event() {
    let prepared = stripe_run(STRIPE_BODY.as_bytes()).unwrap();
    assert_eq!(prepared.event_id, "evt_1");
    assert_eq!(prepared.bus_event.source, "hookbridge.stripe");
    assert_eq!(prepared.bus_event.detail_type, "payment_intent.succeeded");
    let envelope = envelope(&prepared);
    assert_eq!(envelope.id, "evt_1");
    assert_eq!(envelope.source, "stripe");
    assert_eq!(envelope.event_type, "payment_intent.succeeded");
    assert_eq!(envelope.received_at, "2025-11-24T16:00:00.123Z");
    assert_eq!(
        envelope.occurred_at.as_deref(),
        Some("2025-11-24T15:59:59Z")
    );
    assert_eq!(envelope.correlation_id, CORRELATION);
    assert_eq!(
        envelope.inline_payload().unwrap(),
        STRIPE_BODY,
        "payload kept byte for byte"
    );
}

#[test]
fn stripe_without_its_promised_id_is_a_bad_request() {
    for (body, code) in [
        (r#"{"type":"x","created":1}"#, "missing_field"),
        (r#"{"id":"evt_1","id":"evt_2","type":"x"}"#, "invalid_field"),
        (r#"{"id":"","type":"x"}"#, "invalid_field"),
        (r#"{"id":"evt\n1","type":"x"}"#, "invalid_field"),
        (r#"{"id":{"nested":1},"type":"x"}"#, "invalid_field"),
    ] {
        let error = stripe_run(body.as_bytes()).unwrap_err();
        assert_eq!(
            (error.status(), error.code()),
            (400, code),
            "{body}: {error}"
        );
        assert!(error.to_string().contains("id"), "{error}");
    }
}

/// Verified means accepted: metadata that is absent or has an unexpected
/// shape falls back, and the fallback is reported for the log.
#[test]
fn stripe_metadata_of_unexpected_shape_falls_back() {
    let long_type = format!(r#"{{"id":"evt_1","type":"{}"}}"#, "t".repeat(129));
    for (body, occurred_at, event_type) in [
        (
            r#"{"id":"evt_1","created":1}"#,
            Some("1970-01-01T00:00:01Z"),
            "webhook",
        ),
        (
            r#"{"id":"evt_1","type":"x","created":"yesterday"}"#,
            None,
            "x",
        ),
        (r#"{"id":"evt_1","type":"x","created":-1}"#, None, "x"),
        (r#"{"id":"evt_1","type":["x"]}"#, None, "webhook"),
        (&long_type, None, "webhook"),
    ] {
        let prepared = stripe_run(body.as_bytes()).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(prepared.event_type, event_type, "{body}");
        assert_eq!(
            envelope(&prepared).occurred_at.as_deref(),
            occurred_at,
            "{body}"
        );
        assert!(!prepared.fallbacks.is_empty(), "{body}");
    }
    let body = format!(r#"{{"id":"evt_1","type":"{}"}}"#, "t".repeat(128));
    assert!(stripe_run(body.as_bytes()).unwrap().fallbacks.is_empty());
}

/// Regression (issue 15): a Stripe API v2 "thin" event carries `created` as
/// RFC 3339 text.
#[test]
fn stripe_v2_thin_event_with_string_created_is_accepted() {
    let body = br#"{"id":"evt_test_65R9Ijk8SZkZ0gOAHTE16Sp7QyZp","object":"v2.core.event","type":"v1.billing.meter.error_report_triggered","livemode":false,"created":"2024-09-17T06:20:52.246Z","related_object":{"id":"mtr_test_61R9IjnH","type":"billing.meter","url":"/v1/billing/meters/mtr_test_61R9IjnH"}}"#;
    let prepared = stripe_run(body).unwrap();
    assert_eq!(
        prepared.event_type,
        "v1.billing.meter.error_report_triggered"
    );
    assert_eq!(
        envelope(&prepared).occurred_at.as_deref(),
        Some("2024-09-17T06:20:52.246Z")
    );
    assert!(prepared.fallbacks.is_empty());
}

#[test]
fn bodies_that_are_not_json_objects_are_bad_requests() {
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    let deep_object = format!(
        r#"{{"id":"e","type":"t","x":{}1{}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let cases: [&[u8]; 8] = [
        b"",
        b"not json",
        b"{\"id\":\"evt_1\",",
        b"\xff\xfe{}",
        b"[1,2]",
        b"\"text\"",
        deep.as_bytes(),
        deep_object.as_bytes(),
    ];
    for body in cases {
        let error = stripe_run(body).unwrap_err();
        assert_eq!(
            (error.status(), error.code()),
            (400, "invalid_json"),
            "{:?}",
            String::from_utf8_lossy(body)
        );
    }
}

#[test]
fn nesting_up_to_the_limit_is_accepted_and_brackets_in_strings_do_not_count() {
    let nested = |depth: usize| {
        format!(
            r#"{{"id":"e","type":"t","s":"[[[{{\"","x":{}1{}}}"#,
            "[".repeat(depth - 1),
            "]".repeat(depth - 1)
        )
    };
    assert!(stripe_run(nested(MAX_NESTING).as_bytes()).is_ok());
    assert_eq!(
        stripe_run(nested(MAX_NESTING + 1).as_bytes())
            .unwrap_err()
            .code(),
        "invalid_json"
    );
}

#[test]
fn signature_is_checked_before_the_body_is_parsed() {
    let headers = header_map(&[("stripe-signature", "t=1,v1=00")]);
    let error = run("stripe", &headers, b"not json", STRIPE_SECRET).unwrap_err();
    assert_eq!(error.status(), 401);
}

#[test]
fn verification_failures_are_unauthorized_with_their_code() {
    let body = STRIPE_BODY.as_bytes();
    let cases = [
        (header_map(&[]), "signature_missing"),
        (
            header_map(&[("stripe-signature", "garbage")]),
            "signature_malformed",
        ),
        (
            header_map(&[(
                "stripe-signature",
                &stripe::sign("whsec_other", NOW as i64, body),
            )]),
            "signature_mismatch",
        ),
        (
            header_map(&[(
                "stripe-signature",
                &stripe::sign(STRIPE_SECRET, NOW as i64 - 301, body),
            )]),
            "timestamp_out_of_tolerance",
        ),
    ];
    for (headers, code) in cases {
        let error = run("stripe", &headers, body, STRIPE_SECRET).unwrap_err();
        assert_eq!((error.status(), error.code()), (401, code));
    }
}

#[test]
fn a_body_over_5_mib_is_refused_before_verification_naming_the_limit() {
    let body = vec![b' '; MAX_BODY_SIZE + 1];
    let error = run("stripe", &header_map(&[]), &body, STRIPE_SECRET).unwrap_err();
    assert_eq!((error.status(), error.code()), (413, "payload_too_large"));
    assert!(error.to_string().contains("5242880 bytes"), "{error}");
}

fn padded_stripe(pad: usize) -> String {
    format!(
        r#"{{"id":"evt_1","type":"t","created":1,"pad":"{}"}}"#,
        "x".repeat(pad)
    )
}

#[test]
fn an_event_that_fits_sns_carries_its_payload_inline() {
    let body = padded_stripe(MAX_INLINE_EVENT_SIZE - 400);
    let prepared = stripe_run(body.as_bytes()).unwrap();
    assert!(entry_size(&prepared.bus_event) <= MAX_INLINE_EVENT_SIZE);
    assert_eq!(prepared.stored_payload, None);
    assert_eq!(envelope(&prepared).inline_payload(), Some(body.as_str()));
}

#[test]
fn a_payload_too_large_for_sns_travels_by_reference() {
    for pad in [MAX_INLINE_EVENT_SIZE - 100, MAX_BODY_SIZE - 100] {
        let body = padded_stripe(pad);
        let prepared = stripe_run(body.as_bytes()).unwrap();
        assert!(
            entry_size(&prepared.bus_event) < 1024,
            "only the reference travels"
        );
        let stored = prepared.stored_payload.clone().unwrap();
        assert_eq!(stored.bytes, body.as_bytes(), "stored byte for byte");
        let digest = hex::encode(Sha256::digest(body.as_bytes()));
        assert_eq!(stored.reference.key, format!("payloads/stripe/{digest}"));
        assert_eq!(stored.reference.bucket, BUCKET);
        assert_eq!(stored.reference.size, body.len() as u64);
        assert_eq!(stored.reference.check(body.as_bytes()), Ok(()));
        let envelope = envelope(&prepared);
        assert!(matches!(envelope.body(), Ok(Body::Stored(r)) if *r == stored.reference));
        assert_eq!(envelope.id, "evt_1");
    }
}

#[test]
fn a_large_money_button_payload_is_stored_without_its_secret() {
    let body = MB_BODY.replace(
        r#""extra":[1,2]"#,
        &format!(r#""extra":"{}""#, "y".repeat(300_000)),
    );
    let prepared = moneybutton_run(body.as_bytes(), "mb-secret").unwrap();
    let stored = prepared.stored_payload.unwrap();
    let text = String::from_utf8(stored.bytes).unwrap();
    assert!(!text.contains("mb-secret") && text.starts_with(r#"{"payment":"#));
    assert!(!prepared.bus_event.detail.contains("mb-secret"));
    assert_eq!(stored.reference.check(text.as_bytes()), Ok(()));
}

#[test]
fn github_type_combines_event_header_and_action() {
    let body = br#"{"action":"opened","number":1}"#;
    let headers = header_map(&[
        ("x-hub-signature-256", &github::sign("gh", body)),
        ("x-github-event", "pull_request"),
        ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
    ]);
    let prepared = run("github", &headers, body, "gh").unwrap();
    assert_eq!(prepared.event_type, "pull_request.opened");
    assert_eq!(prepared.event_id, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
    assert_eq!(envelope(&prepared).occurred_at, None);
}

#[test]
fn github_without_action_or_delivery_uses_event_and_body_digest() {
    let body = br#"{"zen":"Keep it logically awesome."}"#;
    let headers = header_map(&[
        ("x-hub-signature-256", &github::sign("gh", body)),
        ("x-github-event", "ping"),
    ]);
    let prepared = run("github", &headers, body, "gh").unwrap();
    assert_eq!(prepared.event_type, "ping");
    assert_eq!(prepared.event_id, hex::encode(Sha256::digest(body)));
}

#[test]
fn github_without_event_header_takes_the_default_type() {
    let body = br#"{"action":"opened"}"#;
    let headers = header_map(&[("x-hub-signature-256", &github::sign("gh", body))]);
    let prepared = run("github", &headers, body, "gh").unwrap();
    assert_eq!(prepared.event_type, "webhook");
}

const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn standard_headers(body: &[u8]) -> http::HeaderMap {
    let signature =
        standard::sign(&Secret::new(STANDARD_SECRET), "msg_1", NOW as i64, body).unwrap();
    header_map(&[
        ("webhook-id", "msg_1"),
        ("webhook-timestamp", &NOW.to_string()),
        ("webhook-signature", &signature),
    ])
}

#[test]
fn standard_webhook_takes_id_from_header_and_type_from_payload() {
    let body = br#"{"type":"invoice.paid","timestamp":"2025-11-24T15:59:58.500+00:00","data":{"id":"inv_1"}}"#;
    let prepared = run("standard", &standard_headers(body), body, STANDARD_SECRET).unwrap();
    assert_eq!(prepared.event_id, "msg_1");
    assert_eq!(prepared.event_type, "invoice.paid");
    assert_eq!(
        envelope(&prepared).occurred_at.as_deref(),
        Some("2025-11-24T15:59:58.500Z")
    );
}

#[test]
fn standard_webhook_without_payload_time_uses_the_signed_timestamp() {
    let body = br#"{"type":"invoice.paid"}"#;
    let prepared = run("standard", &standard_headers(body), body, STANDARD_SECRET).unwrap();
    assert_eq!(
        envelope(&prepared).occurred_at.as_deref(),
        Some("2025-11-24T16:00:00Z")
    );
}

#[test]
fn standard_webhook_without_type_or_with_bad_time_falls_back() {
    for (body, event_type) in [
        (&br#"{"data":{}}"#[..], "webhook"),
        (&br#"{"type":"t","timestamp":"soon"}"#[..], "t"),
    ] {
        let prepared = run("standard", &standard_headers(body), body, STANDARD_SECRET).unwrap();
        assert_eq!(prepared.event_type, event_type);
        assert_eq!(
            envelope(&prepared).occurred_at.as_deref(),
            Some("2025-11-24T16:00:00Z")
        );
    }
}

/// Regression (issue 15): a Standard Webhooks `timestamp` with an offset, or
/// as a number, is the provider's word, not a 400.
#[test]
fn standard_webhook_timestamp_with_offset_or_as_number_is_accepted() {
    for (body, occurred_at) in [
        (
            &br#"{"type":"t","timestamp":"2025-11-24T17:59:58+02:00"}"#[..],
            "2025-11-24T15:59:58Z",
        ),
        (
            &br#"{"type":"t","timestamp":1764000000}"#[..],
            "2025-11-24T16:00:00Z",
        ),
    ] {
        let prepared = run("standard", &standard_headers(body), body, STANDARD_SECRET).unwrap();
        assert_eq!(
            envelope(&prepared).occurred_at.as_deref(),
            Some(occurred_at)
        );
        assert!(prepared.fallbacks.is_empty());
    }
}

#[test]
fn unusable_configured_secret_is_unavailable_not_unauthorized() {
    let body = br#"{"type":"t"}"#;
    let error = run("standard", &standard_headers(body), body, "whsec_!!!").unwrap_err();
    assert_eq!((error.status(), error.code()), (503, "secret_invalid"));
}

/// The signature header value `source`'s provider sends for `body`.
fn hmac_signature(source: &str, secret: &str, body: &[u8]) -> String {
    let sources = sources();
    let outgoing = Outgoing {
        id: "",
        event_type: None,
        timestamp: 0,
        url: "",
        body,
    };
    let signed = sources
        .get(source)
        .unwrap()
        .provider()
        .sign(secret, &outgoing)
        .unwrap();
    signed.headers[0].1.clone()
}

#[test]
fn hmac_source_reads_id_and_type_from_configured_headers() {
    let body = br#"{"id":820982911946154508,"email":"jon@example.com"}"#;
    let headers = header_map(&[
        (
            "x-shopify-hmac-sha256",
            &hmac_signature("shopify", "shp", body),
        ),
        ("x-shopify-topic", "orders/create"),
        (
            "x-shopify-webhook-id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        ),
    ]);
    let prepared = run("shopify", &headers, body, "shp").unwrap();
    assert_eq!(prepared.event_type, "orders/create");
    assert_eq!(prepared.event_id, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
    assert_eq!(
        envelope(&prepared).inline_payload().unwrap(),
        std::str::from_utf8(body).unwrap()
    );
}

#[test]
fn hmac_source_falls_back_to_type_pointer_and_body_digest() {
    let body = br#"{"type":"thing.happened"}"#;
    let headers = header_map(&[("x-signature", &hmac_signature("generic", "k", body))]);
    let prepared = run("generic", &headers, body, "k").unwrap();
    assert_eq!(prepared.event_type, "thing.happened");
    assert_eq!(prepared.event_id, hex::encode(Sha256::digest(body)));
    let untyped = br#"{"kind":"thing"}"#;
    let headers = header_map(&[("x-signature", &hmac_signature("generic", "k", untyped))]);
    assert_eq!(
        run("generic", &headers, untyped, "k").unwrap().event_type,
        "webhook"
    );
}

const MB_BODY: &str = r#"{"secret":"mb-secret","payment":{"id":"5432","status":"COMPLETED","amount":"1.5","satoshis":12345678901234567890,"buttonData":"{\"é\":1}","updatedAt":"2019-02-04T17:13:02.113Z"},"extra":[1,2]}"#;

#[test]
fn money_button_secret_verifies_and_is_removed_from_the_payload() {
    let prepared = moneybutton_run(MB_BODY.as_bytes(), "mb-secret").unwrap();
    assert_eq!(prepared.event_type, "payment.completed");
    assert_eq!(prepared.event_id, "5432:completed");
    assert!(!prepared.bus_event.detail.contains("mb-secret"));
    let envelope = envelope(&prepared);
    assert_eq!(
        envelope.inline_payload().unwrap(),
        r#"{"payment":{"id":"5432","status":"COMPLETED","amount":"1.5","satoshis":12345678901234567890,"buttonData":"{\"é\":1}","updatedAt":"2019-02-04T17:13:02.113Z"},"extra":[1,2]}"#
    );
    assert_eq!(
        envelope.occurred_at.as_deref(),
        Some("2019-02-04T17:13:02.113Z")
    );
}

#[test]
fn money_button_wrong_secret_is_unauthorized() {
    let error = moneybutton_run(MB_BODY.as_bytes(), "other").unwrap_err();
    assert_eq!((error.status(), error.code()), (401, "signature_mismatch"));
}

#[test]
fn money_button_missing_secret_is_a_missing_signature() {
    for body in [
        r#"{"payment":{"id":"1","status":"PENDING"}}"#,
        r#"{"secret":"","payment":{"id":"1","status":"PENDING"}}"#,
        r#"{"secret":""}"#,
        r#"{}"#,
    ] {
        let error = moneybutton_run(body.as_bytes(), "mb-secret").unwrap_err();
        assert_eq!(
            (error.status(), error.code()),
            (401, "signature_missing"),
            "{body}: {error}"
        );
    }
}

#[test]
fn money_button_secret_of_the_wrong_shape_is_a_malformed_signature() {
    for body in [
        r#"{"secret":7,"payment":{"id":"1","status":"PENDING"}}"#,
        r#"{"secret":"mb-secret","secret":"x","payment":{"id":"1","status":"PENDING"}}"#,
    ] {
        let error = moneybutton_run(body.as_bytes(), "mb-secret").unwrap_err();
        assert_eq!(
            (error.status(), error.code()),
            (401, "signature_malformed"),
            "{body}"
        );
    }
}

#[test]
fn money_button_unauthenticated_body_is_refused_before_its_payment_is_read() {
    let error = moneybutton_run(br#"{"secret":"other","payment":[]}"#, "mb-secret").unwrap_err();
    assert_eq!((error.status(), error.code()), (401, "signature_mismatch"));
}

#[test]
fn money_button_invalid_secret_or_payment_is_a_bad_request() {
    for (body, code) in [
        (r#"{"secret":"mb-secret"}"#, "missing_field"),
        (
            r#"{"secret":"mb-secret","payment":{"status":"PENDING"}}"#,
            "missing_field",
        ),
        (
            r#"{"secret":"mb-secret","payment":{"id":"1"}}"#,
            "missing_field",
        ),
        (
            r#"{"secret":"mb-secret","payment":{"id":"1","status":"done!"}}"#,
            "invalid_field",
        ),
        (r#"{"secret":"mb-secret","payment":[]}"#, "invalid_field"),
    ] {
        let error = moneybutton_run(body.as_bytes(), "mb-secret").unwrap_err();
        assert_eq!(
            (error.status(), error.code()),
            (400, code),
            "{body}: {error}"
        );
    }
}

#[test]
fn money_button_numeric_payment_id_is_accepted() {
    let body = br#"{"secret":"mb-secret","payment":{"id":77,"status":"RECEIVED"}}"#;
    let prepared = moneybutton_run(body, "mb-secret").unwrap();
    assert_eq!(prepared.event_id, "77:received");
    assert_eq!(
        envelope(&prepared).inline_payload().unwrap(),
        r#"{"payment":{"id":77,"status":"RECEIVED"}}"#
    );
}

#[test]
fn error_messages_never_echo_secrets_or_signatures() {
    let body = STRIPE_BODY.as_bytes();
    let signature = stripe::sign("whsec_other", NOW as i64, body);
    let error = run(
        "stripe",
        &header_map(&[("stripe-signature", &signature)]),
        body,
        STRIPE_SECRET,
    )
    .unwrap_err();
    let text = format!("{error} {error:?}");
    assert!(
        !text.contains(STRIPE_SECRET) && !text.contains(&signature[13..]),
        "{text}"
    );
    let error = moneybutton_run(MB_BODY.as_bytes(), "other").unwrap_err();
    assert!(!format!("{error} {error:?}").contains("mb-secret"));
}

#[test]
fn statuses_follow_the_contract() {
    assert_eq!(IngestError::UnknownSource("x".into()).status(), 404);
    assert_eq!(IngestError::MethodNotAllowed.status(), 405);
    assert_eq!(IngestError::SecretsUnavailable.status(), 503);
    assert_eq!(IngestError::BusUnavailable.status(), 503);
}

/// Found by fuzzing (fuzz/regressions/verify_hmac/body-and-form-template):
/// a `{form}` template was signed over the body's fields but sent as JSON,
/// so ingest read no fields and refused its own signature.
#[test]
fn a_form_template_signs_a_form_post_that_ingest_verifies() {
    let sources = sources();
    let body = b"b=2&a=1";
    let outgoing = Outgoing {
        id: "evt_1",
        event_type: None,
        timestamp: NOW as i64,
        url: "https://hooks.example.com/webhooks/s",
        body,
    };
    let signed = sources
        .get("forms")
        .unwrap()
        .provider()
        .sign("form-secret", &outgoing)
        .unwrap();
    assert!(
        signed.headers.contains(&(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into()
        )),
        "{signed:?}"
    );
    let pairs: Vec<(&str, &str)> = signed
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let prepared = run("forms", &header_map(&pairs), body, "form-secret").unwrap();
    assert_eq!(
        envelope(&prepared).inline_payload(),
        Some(r#"{"a":"1","b":"2"}"#)
    );
}
