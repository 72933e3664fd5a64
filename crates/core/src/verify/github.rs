//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the body.

use super::VerifyError;
use super::hmac_header::{MacCandidate, verify_mac};
use crate::secret::SecretSet;

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
const PREFIX: &str = "sha256=";

pub fn verify(
    headers: &http::HeaderMap,
    body: &[u8],
    secrets: &SecretSet,
) -> Result<(), VerifyError> {
    let value = super::single_header(headers, SIGNATURE_HEADER)?;
    verify_mac(&parse_signature(value)?, body, secrets)
}

/// Parses a (trimmed) `X-Hub-Signature-256` value: `sha256=<hex>`.
pub fn parse_signature(value: &str) -> Result<MacCandidate, VerifyError> {
    value
        .strip_prefix(PREFIX)
        .and_then(MacCandidate::from_hex)
        .ok_or_else(|| VerifyError::MalformedHeader(SIGNATURE_HEADER.into()))
}

/// The `X-Hub-Signature-256` value carrying `mac`.
pub fn format_signature(mac: &MacCandidate) -> String {
    format!("{PREFIX}{}", hex::encode(mac.as_bytes()))
}

/// The header value GitHub would send for `body`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mac = super::hmac_sha256(secret.as_bytes(), &[body]);
    format!("{PREFIX}{}", hex::encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: Option<&str>, body: &str, secrets: &str) -> Result<(), VerifyError> {
        let mut headers = http::HeaderMap::new();
        if let Some(value) = header {
            headers.insert(SIGNATURE_HEADER, value.parse().unwrap());
        }
        verify(&headers, body.as_bytes(), &SecretSet::parse(secrets))
    }

    #[test]
    fn official_vectors() {
        let vectors = crate::test_vectors::load();
        for vector in vectors["github"].as_array().unwrap() {
            let result = check(
                vector["header"].as_str(),
                vector["payload"].as_str().unwrap(),
                vector["secret"].as_str().unwrap(),
            );
            assert_eq!(
                result.is_ok(),
                vector["valid"].as_bool().unwrap(),
                "{}: {result:?}",
                vector["origin"]
            );
        }
    }

    #[test]
    fn sign_produces_the_documented_header() {
        assert_eq!(
            sign("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn missing_header_is_reported_as_missing() {
        assert_eq!(
            check(None, "{}", "s"),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER.into()))
        );
    }

    #[test]
    fn malformed_values_are_rejected() {
        let mac = &sign("s", b"{}")[PREFIX.len()..];
        for value in [
            "foo".to_string(),
            format!("sha1={mac}"),
            format!("sha256={}", &mac[..63]),
            format!("sha256={mac}00"),
            format!("sha256={}zz", &mac[..62]),
            "sha256=".to_string(),
        ] {
            assert_eq!(
                check(Some(&value), "{}", "s"),
                Err(VerifyError::MalformedHeader(SIGNATURE_HEADER.into())),
                "{value}"
            );
        }
    }

    #[test]
    fn a_parsed_signature_formats_back_to_an_equivalent_header() {
        let sent = sign("s", b"{}");
        let mac = parse_signature(&sent).unwrap();
        assert_eq!(format_signature(&mac), sent);
        let upper = format!("sha256={}", sent[PREFIX.len()..].to_uppercase());
        assert_eq!(parse_signature(&upper), Ok(mac));
    }

    #[test]
    fn uppercase_hex_verifies() {
        let header = sign("s", b"{}").replace("sha256=", "").to_uppercase();
        assert_eq!(check(Some(&format!("sha256={header}")), "{}", "s"), Ok(()));
    }

    #[test]
    fn either_rotated_secret_verifies() {
        let header = sign("new", b"{}");
        assert_eq!(check(Some(&header), "{}", "old,new"), Ok(()));
        assert_eq!(check(Some(&header), "{}", "old"), Err(VerifyError::NoMatch));
    }
}
