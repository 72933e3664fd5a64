//! Stripe: an accepted `Stripe-Signature` re-serialises to an equivalent
//! header; a signature verifies its own body, timestamp and secret only;
//! an arbitrary header never verifies.
//!
//! Input: timestamp \0 header \0 secret \0 other secret \0 other body \0 body
#![no_main]

use std::time::Duration;

use hookbridge_core::providers::stripe;
use hookbridge_core::verify::VerifyError;
use hookbridge_fuzz::{
    at, fields, header_map, hmac_equivalent_keys, one_secret, text, unix_seconds,
};
use libfuzzer_sys::fuzz_target;

const TOLERANCE: Duration = Duration::from_secs(300);

fuzz_target!(|data: &[u8]| {
    let [timestamp, header, secret, other_secret, other_body, body] = fields(data);
    let (secret, other_secret) = (text(secret), text(other_secret));
    let secrets = one_secret(&secret);

    if let Ok(raw) = std::str::from_utf8(header) {
        header_re_serialises(raw);
    }
    if let Some(headers) = header_map(&[(stripe::SIGNATURE_HEADER, header)]) {
        // Even at the header's own time, a header verifies only if one of its
        // `v1` values is the body's MAC at its `t` under the secret.
        let parsed = std::str::from_utf8(header)
            .ok()
            .and_then(|raw| stripe::SignatureHeader::parse(raw.trim()).ok());
        let now = parsed
            .as_ref()
            .map_or(at(unix_seconds(timestamp)), |parsed| at(parsed.timestamp));
        if stripe::verify(&headers, body, &secrets, now, TOLERANCE).is_ok() {
            let parsed = parsed.expect("a verified header parses");
            let expected = stripe::sign(&secret, parsed.timestamp, body);
            let expected = expected.rsplit_once("v1=").expect("signed").1;
            assert!(
                parsed
                    .signatures()
                    .any(|candidate| candidate.eq_ignore_ascii_case(expected)),
                "verified a header without the body's signature"
            );
        }
    }

    let timestamp = unix_seconds(timestamp);
    let signed = stripe::sign(&secret, timestamp, body);
    let headers = header_map(&[(stripe::SIGNATURE_HEADER, signed.as_bytes())])
        .expect("a signed header is always a valid header value");
    let now = at(timestamp);
    assert_eq!(
        stripe::verify(&headers, body, &secrets, now, TOLERANCE),
        Ok(())
    );
    assert_eq!(
        stripe::verify(&headers, body, &secrets, at(timestamp + 300), TOLERANCE),
        Ok(())
    );
    assert_eq!(
        stripe::verify(&headers, body, &secrets, at(timestamp + 301), TOLERANCE),
        Err(VerifyError::OutsideTolerance {
            tolerance_seconds: 300,
            age_seconds: 301
        })
    );
    if other_body != body {
        assert_eq!(
            stripe::verify(&headers, other_body, &secrets, now, TOLERANCE),
            Err(VerifyError::NoMatch)
        );
    }
    if !hmac_equivalent_keys(secret.as_bytes(), other_secret.as_bytes()) {
        assert_eq!(
            stripe::verify(&headers, body, &one_secret(&other_secret), now, TOLERANCE),
            Err(VerifyError::NoMatch)
        );
    }
    // The signature covers the timestamp: moving `t` breaks it.
    let moved = signed.replacen(
        &format!("t={timestamp}"),
        &format!("t={}", timestamp + 1),
        1,
    );
    let headers = header_map(&[(stripe::SIGNATURE_HEADER, moved.as_bytes())]).expect("valid");
    assert_eq!(
        stripe::verify(&headers, body, &secrets, now, TOLERANCE),
        Err(VerifyError::NoMatch)
    );
});

/// `t=<timestamp>` and the `v1` signatures, written back in Stripe's form,
/// parse to the same header.
fn header_re_serialises(raw: &str) {
    let Ok(parsed) = stripe::SignatureHeader::parse(raw) else {
        return;
    };
    let signatures: Vec<&str> = parsed.signatures().collect();
    let mut written = format!("t={}", parsed.timestamp);
    for signature in &signatures {
        written.push_str(",v1=");
        written.push_str(signature);
    }
    let reparsed = stripe::SignatureHeader::parse(&written)
        .unwrap_or_else(|error| panic!("re-serialised header {written:?} rejected: {error}"));
    assert_eq!(reparsed.timestamp, parsed.timestamp);
    assert_eq!(reparsed.signatures().collect::<Vec<_>>(), signatures);
}
