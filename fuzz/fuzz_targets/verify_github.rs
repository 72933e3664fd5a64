//! GitHub: an accepted `X-Hub-Signature-256` re-serialises to an equivalent
//! one; a signature verifies its own body and secret only; an arbitrary
//! header never verifies.
//!
//! Input: header \0 secret \0 other secret \0 other body \0 body
#![no_main]

use hookbridge_core::providers::github;
use hookbridge_core::verify::VerifyError;
use hookbridge_fuzz::{fields, header_map, hmac_equivalent_keys, one_secret, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [header, secret, other_secret, other_body, body] = fields(data);
    let (secret, other_secret) = (text(secret), text(other_secret));
    let secrets = one_secret(&secret);

    if let Ok(raw) = std::str::from_utf8(header)
        && let Ok(mac) = github::parse_signature(raw)
    {
        let written = github::format_signature(&mac);
        assert_eq!(github::parse_signature(&written), Ok(mac));
    }
    if let Some(headers) = header_map(&[(github::SIGNATURE_HEADER, header)]) {
        let result = github::verify(&headers, body, &secrets);
        if result.is_ok() {
            let sent = std::str::from_utf8(header).expect("verified text").trim();
            assert_eq!(
                github::parse_signature(sent),
                github::parse_signature(&github::sign(&secret, body)),
                "verified a header without the body's signature"
            );
        }
        // The parser is the verifier's: what it rejects is reported malformed.
        let trimmed = std::str::from_utf8(header)
            .map(str::trim)
            .unwrap_or_default();
        if !trimmed.is_empty() && github::parse_signature(trimmed).is_err() {
            assert_eq!(
                result,
                Err(VerifyError::MalformedHeader(
                    github::SIGNATURE_HEADER.into()
                ))
            );
        }
    }

    let signed = github::sign(&secret, body);
    let headers = header_map(&[(github::SIGNATURE_HEADER, signed.as_bytes())])
        .expect("a signed header is always a valid header value");
    assert_eq!(github::verify(&headers, body, &secrets), Ok(()));
    if other_body != body {
        assert_eq!(
            github::verify(&headers, other_body, &secrets),
            Err(VerifyError::NoMatch)
        );
    }
    if !hmac_equivalent_keys(secret.as_bytes(), other_secret.as_bytes()) {
        assert_eq!(
            github::verify(&headers, body, &one_secret(&other_secret)),
            Err(VerifyError::NoMatch)
        );
    }
});
