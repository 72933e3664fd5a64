//! The MAC schemes providers sign with: an HMAC algorithm, a message composed
//! from the request, and the text encoding of the result.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD as BASE64_URL};
use serde::Deserialize;
use subtle::ConstantTimeEq;

use super::VerifyError;
use crate::secret::SecretSet;

/// The HMAC hash functions providers use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    Sha1,
    #[default]
    Sha256,
    Sha512,
}

impl Algorithm {
    fn aws(self) -> aws_lc_rs::hmac::Algorithm {
        match self {
            Self::Sha1 => aws_lc_rs::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Self::Sha256 => aws_lc_rs::hmac::HMAC_SHA256,
            Self::Sha512 => aws_lc_rs::hmac::HMAC_SHA512,
        }
    }

    /// The MAC's length in bytes.
    pub fn mac_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha512 => 64,
        }
    }

    /// The HMAC keyed with `key` over the concatenation of `parts`.
    pub fn mac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let key = aws_lc_rs::hmac::Key::new(self.aws(), key);
        let mut context = aws_lc_rs::hmac::Context::with_key(&key);
        for part in parts {
            context.update(part);
        }
        context.sign().as_ref().to_vec()
    }
}

/// How a MAC is written as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MacEncoding {
    #[default]
    Hex,
    Base64,
    /// URL-safe base64 without padding.
    Base64url,
}

impl MacEncoding {
    pub fn encode(self, mac: &[u8]) -> String {
        match self {
            Self::Hex => hex::encode(mac),
            Self::Base64 => BASE64.encode(mac),
            Self::Base64url => BASE64_URL.encode(mac),
        }
    }

    /// The bytes of `text` when it is a MAC of `len` bytes in this encoding.
    pub fn decode(self, text: &str, len: usize) -> Option<Vec<u8>> {
        // Bounded before decoding: a huge header costs nothing.
        if text.len() > len * 2 + 4 {
            return None;
        }
        let bytes = match self {
            Self::Hex => hex::decode(text).ok()?,
            Self::Base64 => BASE64.decode(text).ok()?,
            Self::Base64url => BASE64_URL.decode(text.trim_end_matches('=')).ok()?,
        };
        (bytes.len() == len).then_some(bytes)
    }
}

/// Whether any of `candidates` equals the MAC of `parts` under any of
/// `secrets` (raw secret bytes as the key), compared in constant time.
pub fn any_matches<'c>(
    algorithm: Algorithm,
    secrets: &SecretSet,
    parts: &[&[u8]],
    candidates: impl IntoIterator<Item = &'c [u8]>,
) -> Result<(), VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecrets);
    }
    let expected: Vec<Vec<u8>> = secrets
        .iter()
        .map(|secret| algorithm.mac(secret.expose().as_bytes(), parts))
        .collect();
    let mut seen = false;
    let mut matched = subtle::Choice::from(0);
    for candidate in candidates {
        seen = true;
        for mac in &expected {
            matched |= mac.as_slice().ct_eq(candidate);
        }
    }
    if !seen {
        Err(VerifyError::NoExpectedScheme)
    } else if bool::from(matched) {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_4231_and_2202_vectors() {
        // RFC 4231 test case 2 (SHA-256, SHA-512) and RFC 2202 case 2 (SHA-1).
        let (key, data) = (
            b"Jefe".as_slice(),
            b"what do ya want for nothing?".as_slice(),
        );
        assert_eq!(
            hex::encode(Algorithm::Sha256.mac(key, &[data])),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hex::encode(Algorithm::Sha512.mac(key, &[&data[..10], &data[10..]])),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
        assert_eq!(
            hex::encode(Algorithm::Sha1.mac(key, &[data])),
            "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
        );
    }

    #[test]
    fn encodings_round_trip_and_refuse_wrong_lengths() {
        let mac = Algorithm::Sha1.mac(b"k", &[b"m"]);
        for encoding in [
            MacEncoding::Hex,
            MacEncoding::Base64,
            MacEncoding::Base64url,
        ] {
            let text = encoding.encode(&mac);
            assert_eq!(
                encoding.decode(&text, 20),
                Some(mac.clone()),
                "{encoding:?}"
            );
            assert_eq!(encoding.decode(&text, 32), None, "{encoding:?}");
            assert_eq!(encoding.decode(&format!("{text}{text}"), 20), None);
        }
        assert_eq!(MacEncoding::Hex.decode("zz", 1), None);
    }

    #[test]
    fn any_secret_and_any_candidate_may_match() {
        let secrets = SecretSet::parse("old,new");
        let mac = Algorithm::Sha256.mac(b"new", &[b"body"]);
        let junk = [0u8; 32];
        let candidates = [junk.as_slice(), mac.as_slice()];
        assert_eq!(
            any_matches(Algorithm::Sha256, &secrets, &[b"body"], candidates),
            Ok(())
        );
        assert_eq!(
            any_matches(Algorithm::Sha256, &secrets, &[b"other"], candidates),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            any_matches(Algorithm::Sha256, &secrets, &[b"body"], []),
            Err(VerifyError::NoExpectedScheme)
        );
        assert_eq!(
            any_matches(
                Algorithm::Sha256,
                &SecretSet::default(),
                &[b"body"],
                candidates
            ),
            Err(VerifyError::NoSecrets)
        );
    }
}
