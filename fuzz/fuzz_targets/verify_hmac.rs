//! Generic HMAC header, for every scheme the configuration accepts: an
//! accepted header re-serialises to an equivalent one; a signature verifies
//! its own body and secret only; an arbitrary header never verifies.
//!
//! Input: prefix \0 encoding \0 header \0 secret \0 other secret \0
//!        other body \0 body
#![no_main]

use hookbridge_core::config::{SourceKind, Sources};
use hookbridge_core::verify::{VerifyError, hmac_header};
use hookbridge_fuzz::{fields, header_map, hmac_equivalent_keys, one_secret, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [
        prefix,
        encoding,
        header,
        secret,
        other_secret,
        other_body,
        body,
    ] = fields(data);
    let (secret, other_secret) = (text(secret), text(other_secret));
    let secrets = one_secret(&secret);

    let config = serde_json::json!({
        "fuzz": {
            "kind": "hmac",
            "header": "X-Signature",
            "prefix": text(prefix),
            "encoding": text(encoding),
        }
    });
    let Ok(sources) = Sources::from_json(&config.to_string()) else {
        return;
    };
    let SourceKind::Hmac(scheme) = &sources.get("fuzz").expect("configured").kind else {
        panic!("an hmac source has an hmac scheme");
    };

    if let Ok(raw) = std::str::from_utf8(header)
        && let Ok(mac) = hmac_header::parse_signature(scheme, raw)
    {
        let written = hmac_header::format_signature(scheme, &mac);
        assert_eq!(hmac_header::parse_signature(scheme, &written), Ok(mac));
    }
    if let Some(headers) = header_map(&[(scheme.header.as_str(), header)]) {
        let result = hmac_header::verify(scheme, &headers, body, &secrets);
        if result.is_ok() {
            let sent = std::str::from_utf8(header).expect("verified text").trim();
            assert_eq!(
                hmac_header::parse_signature(scheme, sent),
                hmac_header::parse_signature(scheme, &hmac_header::sign(scheme, &secret, body)),
                "verified a header without the body's signature"
            );
        }
        let trimmed = std::str::from_utf8(header)
            .map(str::trim)
            .unwrap_or_default();
        if !trimmed.is_empty() && hmac_header::parse_signature(scheme, trimmed).is_err() {
            assert_eq!(
                result,
                Err(VerifyError::MalformedHeader(scheme.header.clone()))
            );
        }
    }

    let signed = hmac_header::sign(scheme, &secret, body);
    let headers = header_map(&[(scheme.header.as_str(), signed.as_bytes())]).unwrap_or_else(|| {
        panic!("a configured scheme signs a value that is no header value: {signed:?}")
    });
    assert_eq!(
        hmac_header::verify(scheme, &headers, body, &secrets),
        Ok(())
    );
    if other_body != body {
        assert_eq!(
            hmac_header::verify(scheme, &headers, other_body, &secrets),
            Err(VerifyError::NoMatch)
        );
    }
    if !hmac_equivalent_keys(secret.as_bytes(), other_secret.as_bytes()) {
        assert_eq!(
            hmac_header::verify(scheme, &headers, body, &one_secret(&other_secret)),
            Err(VerifyError::NoMatch)
        );
    }
});
