//! Standard Webhooks: accepted message headers re-serialise to equivalent
//! ones; a signature verifies its own id, timestamp, body and key only; an
//! arbitrary `webhook-signature` never verifies.
//!
//! Input: webhook-id \0 webhook-timestamp \0 webhook-signature \0 secret \0
//!        other secret \0 other body \0 body
#![no_main]

use std::time::Duration;

use hookbridge_core::providers::standard;
use hookbridge_core::secret::Secret;
use hookbridge_core::verify::VerifyError;
use hookbridge_fuzz::{
    at, fields, header_map, hmac_equivalent_keys, one_secret, text, unix_seconds,
};
use libfuzzer_sys::fuzz_target;

const TOLERANCE: Duration = Duration::from_secs(300);

fuzz_target!(|data: &[u8]| {
    let [
        id,
        timestamp,
        signature,
        secret,
        other_secret,
        other_body,
        body,
    ] = fields(data);
    let (secret, other_secret) = (text(secret), text(other_secret));
    let secrets = one_secret(&secret);

    if let Some(headers) = header_map(&[
        (standard::ID_HEADER, id),
        (standard::TIMESTAMP_HEADER, timestamp),
        (standard::SIGNATURE_HEADER, signature),
    ]) && let Ok(message) = standard::MessageHeaders::from_headers(&headers)
    {
        let timestamp = message.timestamp.to_string();
        let written = header_map(&[
            (standard::ID_HEADER, message.id.as_bytes()),
            (standard::TIMESTAMP_HEADER, timestamp.as_bytes()),
            (standard::SIGNATURE_HEADER, message.signatures.as_bytes()),
        ])
        .expect("parsed header values are valid header values");
        assert_eq!(
            standard::MessageHeaders::from_headers(&written),
            Ok(message)
        );
        // Even at the message's own time, the headers verify only if one
        // of the `v1` signatures is the body's under the secret.
        let now = at(message.timestamp);
        if standard::verify(&headers, body, &secrets, now, TOLERANCE).is_ok() {
            let expected = standard::sign(
                &hookbridge_core::secret::Secret::new(secret.as_ref()),
                message.id,
                message.timestamp,
                body,
            )
            .expect("a verifying secret has a key");
            assert!(
                message.signatures.split(' ').any(|entry| entry == expected),
                "verified headers without the body's signature"
            );
        }
    }

    let Ok(key) = standard::signing_key(&Secret::new(secret.as_ref())) else {
        return;
    };
    let id = std::str::from_utf8(id)
        .ok()
        .filter(|id| !id.is_empty() && id.trim() == *id && hookbridge_fuzz::is_header_text(id))
        .unwrap_or("msg_fuzz");
    let timestamp = unix_seconds(timestamp);
    let signed = standard::sign(&Secret::new(secret.as_ref()), id, timestamp, body)
        .expect("a secret with a signing key signs");
    let signed_headers = |id: &str, timestamp: i64| {
        header_map(&[
            (standard::ID_HEADER, id.as_bytes()),
            (standard::TIMESTAMP_HEADER, timestamp.to_string().as_bytes()),
            (standard::SIGNATURE_HEADER, signed.as_bytes()),
        ])
        .expect("valid header values")
    };
    let headers = signed_headers(id, timestamp);
    let now = at(timestamp);
    assert_eq!(
        standard::verify(&headers, body, &secrets, now, TOLERANCE),
        Ok(())
    );
    assert_eq!(
        standard::verify(&headers, body, &secrets, at(timestamp + 301), TOLERANCE),
        Err(VerifyError::OutsideTolerance {
            tolerance_seconds: 300,
            age_seconds: 301
        })
    );
    if other_body != body {
        assert_eq!(
            standard::verify(&headers, other_body, &secrets, now, TOLERANCE),
            Err(VerifyError::NoMatch)
        );
    }
    // The signature covers the id and the timestamp.
    let other_id = format!("{id}x");
    assert_eq!(
        standard::verify(
            &signed_headers(&other_id, timestamp),
            body,
            &secrets,
            now,
            TOLERANCE
        ),
        Err(VerifyError::NoMatch)
    );
    assert_eq!(
        standard::verify(
            &signed_headers(id, timestamp + 1),
            body,
            &secrets,
            now,
            TOLERANCE
        ),
        Err(VerifyError::NoMatch)
    );
    if let Ok(other_key) = standard::signing_key(&Secret::new(other_secret.as_ref()))
        && !hmac_equivalent_keys(&key, &other_key)
    {
        assert_eq!(
            standard::verify(&headers, body, &one_secret(&other_secret), now, TOLERANCE),
            Err(VerifyError::NoMatch)
        );
    }
});
