//! Generic `hmac` kind, for every prefix, encoding, algorithm and message
//! template the configuration accepts: a signature verifies its own body and
//! secret only; an arbitrary signature header never panics.
//!
//! Input: prefix \0 encoding \0 algorithm \0 message template \0 header \0
//!        secret \0 other secret \0 other body \0 body
#![no_main]

use hookbridge_core::config::Sources;
use hookbridge_core::ingest::form;
use hookbridge_core::providers::{Outgoing, Request};
use hookbridge_core::verify::VerifyError;
use hookbridge_fuzz::{NOW, at, fields, header_map, hmac_equivalent_keys, one_secret, text};
use libfuzzer_sys::fuzz_target;

const URL: &str = "https://hooks.example.com/webhooks/fuzz";

fuzz_target!(|data: &[u8]| {
    let [
        prefix,
        encoding,
        algorithm,
        message,
        header,
        secret,
        other_secret,
        other_body,
        body,
    ] = fields(data);
    let (secret, other_secret) = (text(secret), text(other_secret));
    let config = serde_json::json!({
        "fuzz": {
            "kind": "hmac",
            "header": "X-Signature",
            "prefix": text(prefix),
            "encoding": text(encoding),
            "algorithm": text(algorithm),
            "message": text(message),
            "timestamp_header": "X-Timestamp",
            "id_header": "X-Id",
        }
    });
    let Ok(sources) = Sources::from_json(&config.to_string()) else {
        return;
    };
    // A `{form}`-only template signs a form's fields, not its bytes, so two
    // bodies can carry the same signature (form_decode covers those).
    if !text(message).contains("{body}") {
        return;
    }
    let provider = sources.get("fuzz").expect("configured").provider();
    let outgoing = Outgoing {
        id: "evt_1",
        event_type: None,
        timestamp: NOW,
        url: URL,
        body,
    };
    let Ok(signed) = provider.sign(&secret, &outgoing) else {
        return;
    };
    let pairs: Vec<(&str, &[u8])> = signed
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()))
        .collect();
    let headers = header_map(&pairs)
        .unwrap_or_else(|| panic!("a configured scheme signs no header value: {pairs:?}"));
    // As ingest reads a request: its form fields when it says it is a form
    // (a `{form}` template's signing says so); a form that is not UTF-8 is
    // refused before any signature is checked.
    let is_form = form::form_content_type(&headers).is_some();
    let fields_of = |body: &[u8]| is_form.then(|| form::decode(body).ok()).flatten();
    if is_form && fields_of(body).is_none() {
        return;
    }
    let verify = |headers: &http::HeaderMap, body: &[u8], secret: &str| {
        let fields = fields_of(body);
        let request = Request {
            method: &http::Method::POST,
            url: URL,
            headers,
            body,
            form: fields.as_deref(),
        };
        provider.verify(&request, None, &one_secret(secret), at(NOW))
    };
    assert_eq!(verify(&headers, body, &secret), Ok(()));
    if other_body != body && (!is_form || fields_of(other_body).is_some()) {
        assert_eq!(
            verify(&headers, other_body, &secret),
            Err(VerifyError::NoMatch)
        );
    }
    if !hmac_equivalent_keys(secret.as_bytes(), other_secret.as_bytes()) {
        assert_eq!(
            verify(&headers, body, &other_secret),
            Err(VerifyError::NoMatch)
        );
    }
    let mut arbitrary = pairs.clone();
    arbitrary[0].1 = header;
    if let Some(headers) = header_map(&arbitrary) {
        let _verdict = verify(&headers, body, &secret);
    }
});
