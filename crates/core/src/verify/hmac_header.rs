//! Generic HMAC-SHA256 of the body in a configured header, hex or base64,
//! after an optional prefix (Shopify's `X-Shopify-Hmac-Sha256`, and GitHub's
//! scheme is this one with fixed settings).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use subtle::ConstantTimeEq;

use super::{VerifyError, hmac_sha256, single_header};
use crate::config::{HmacScheme, MacEncoding};
use crate::secret::SecretSet;

/// A decoded HMAC-SHA256 as sent by the provider. Its `Debug` leaves the
/// bytes out: a full signature never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct MacCandidate([u8; 32]);

impl std::fmt::Debug for MacCandidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacCandidate(..)")
    }
}

impl MacCandidate {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn from_hex(text: &str) -> Option<Self> {
        let mut mac = [0u8; 32];
        hex::decode_to_slice(text, &mut mac).ok()?;
        Some(Self(mac))
    }

    pub(crate) fn from_base64(text: &str) -> Option<Self> {
        let mut mac = [0u8; 32];
        // A 32-byte MAC is 44 base64 characters; anything longer cannot fit.
        if text.len() > 44 {
            return None;
        }
        match BASE64.decode_slice(text, &mut mac) {
            Ok(32) => Some(Self(mac)),
            _ => None,
        }
    }
}

/// Whether the body's MAC under any of `secrets` equals `candidate`.
pub(crate) fn verify_mac(
    candidate: &MacCandidate,
    body: &[u8],
    secrets: &SecretSet,
) -> Result<(), VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecrets);
    }
    let matched = secrets.iter().any(|secret| {
        let mac = hmac_sha256(secret.expose().as_bytes(), &[body]);
        bool::from(mac.ct_eq(&candidate.0))
    });
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

pub fn verify(
    scheme: &HmacScheme,
    headers: &http::HeaderMap,
    body: &[u8],
    secrets: &SecretSet,
) -> Result<(), VerifyError> {
    let value = single_header(headers, &scheme.header)?;
    verify_mac(&parse_signature(scheme, value)?, body, secrets)
}

/// Parses a (trimmed) signature header value of `scheme`: the prefix, then
/// the MAC in the scheme's encoding.
pub fn parse_signature(scheme: &HmacScheme, value: &str) -> Result<MacCandidate, VerifyError> {
    let malformed = || VerifyError::MalformedHeader(scheme.header.clone());
    let encoded = value
        .strip_prefix(scheme.prefix.as_str())
        .ok_or_else(malformed)?;
    match scheme.encoding {
        MacEncoding::Hex => MacCandidate::from_hex(encoded),
        MacEncoding::Base64 => MacCandidate::from_base64(encoded),
    }
    .ok_or_else(malformed)
}

/// The header value carrying `mac` in `scheme`'s form.
pub fn format_signature(scheme: &HmacScheme, mac: &MacCandidate) -> String {
    let encoded = match scheme.encoding {
        MacEncoding::Hex => hex::encode(mac.0),
        MacEncoding::Base64 => BASE64.encode(mac.0),
    };
    format!("{}{encoded}", scheme.prefix)
}

/// The header value such a sender would send for `body`.
pub fn sign(scheme: &HmacScheme, secret: &str, body: &[u8]) -> String {
    let mac = MacCandidate(hmac_sha256(secret.as_bytes(), &[body]));
    format_signature(scheme, &mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scheme(encoding: MacEncoding, prefix: &str) -> HmacScheme {
        HmacScheme {
            header: "x-shopify-hmac-sha256".into(),
            prefix: prefix.into(),
            encoding,
            id_header: None,
            type_header: None,
            type_pointer: "/type".into(),
        }
    }

    fn check(
        scheme: &HmacScheme,
        value: &str,
        body: &str,
        secrets: &str,
    ) -> Result<(), VerifyError> {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-shopify-hmac-sha256", value.parse().unwrap());
        verify(
            scheme,
            &headers,
            body.as_bytes(),
            &SecretSet::parse(secrets),
        )
    }

    #[test]
    fn official_shopify_vector() {
        let vectors = crate::test_vectors::load();
        for vector in vectors["shopify_style_hmac_base64"].as_array().unwrap() {
            let scheme = scheme(MacEncoding::Base64, "");
            let value = vector["value"].as_str().unwrap();
            let body = vector["payload"].as_str().unwrap();
            let secret = vector["secret"].as_str().unwrap();
            assert_eq!(check(&scheme, value, body, secret), Ok(()));
            assert_eq!(sign(&scheme, secret, body.as_bytes()), value);
            assert_eq!(
                check(&scheme, value, &format!("{body} "), secret),
                Err(VerifyError::NoMatch)
            );
        }
    }

    #[test]
    fn a_parsed_signature_formats_back_to_the_sent_value() {
        for scheme in [
            scheme(MacEncoding::Hex, "sha256="),
            scheme(MacEncoding::Base64, ""),
        ] {
            let sent = sign(&scheme, "k", b"{}");
            let mac = parse_signature(&scheme, &sent).unwrap();
            assert_eq!(format_signature(&scheme, &mac), sent);
        }
    }

    #[test]
    fn a_parsed_signature_never_shows_its_bytes() {
        let scheme = scheme(MacEncoding::Hex, "");
        let mac = parse_signature(&scheme, &sign(&scheme, "k", b"{}")).unwrap();
        assert_eq!(format!("{mac:?}"), "MacCandidate(..)");
    }

    #[test]
    fn hex_with_prefix_round_trips() {
        let scheme = scheme(MacEncoding::Hex, "sha256=");
        let value = sign(&scheme, "k", b"{}");
        assert!(value.starts_with("sha256="));
        assert_eq!(check(&scheme, &value, "{}", "k"), Ok(()));
        assert_eq!(
            check(&scheme, &value, "{}", "other"),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn missing_prefix_or_bad_encoding_is_malformed() {
        let hex = scheme(MacEncoding::Hex, "sha256=");
        let b64 = scheme(MacEncoding::Base64, "");
        let good_hex = sign(&hex, "k", b"{}");
        let good_b64 = sign(&b64, "k", b"{}");
        let cases = [
            (&hex, good_hex.replace("sha256=", "")),
            (&hex, good_hex.replace("sha256=", "sha1=")),
            (&hex, format!("{}0", good_hex)),
            (&b64, good_b64[..40].to_string()),
            (&b64, format!("{good_b64}AAAA")),
            (&b64, "!!!!".to_string()),
            (&b64, "YQ==".to_string()),
        ];
        for (scheme, value) in cases {
            assert_eq!(
                check(scheme, &value, "{}", "k"),
                Err(VerifyError::MalformedHeader(scheme.header.clone())),
                "{value}"
            );
        }
    }
}
