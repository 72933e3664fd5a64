//! What every provider's verification shares: the error, MACs, the
//! tolerance check and header reading. The schemes themselves live with
//! their providers (`crate::providers`).
//!
//! Every verifier takes the exact raw body bytes, all currently valid secrets
//! (any one may match, for rotation) and, where the scheme is timed, `now`.
//! MACs are compared in constant time; errors never carry a secret or a
//! signature.

pub mod mac;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub(crate) type HmacSha256 = Hmac<Sha256>;

/// Why a webhook failed verification. Every variant but
/// [`VerifyError::InvalidSecret`] is the sender's fault and maps to 401; an
/// unusable configured secret is ours, and must not make providers give up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("the `{0}` header is missing")]
    MissingHeader(String),
    #[error("the `{0}` header is malformed")]
    MalformedHeader(String),
    #[error("no signature with the expected scheme")]
    NoExpectedScheme,
    #[error("no signature matches")]
    NoMatch,
    /// `age_seconds` is how far the signed time lies before `now`
    /// (negative: after it), for a reason a person can act on.
    #[error("timestamp is outside the {tolerance_seconds} s tolerance")]
    OutsideTolerance {
        tolerance_seconds: u64,
        age_seconds: i64,
    },
    #[error("the shared secret in the body is missing")]
    MissingBodySecret,
    #[error("no secret is configured for this source")]
    NoSecrets,
    #[error("a configured secret is not in the scheme's format")]
    InvalidSecret,
    #[error("the handshake's token matches no configured secret")]
    HandshakeRefused,
    #[error("the `{0}` field the signature needs is missing")]
    MissingSignedField(&'static str),
    #[error("the `{0}` field the signature needs is malformed")]
    MalformedSignedField(&'static str),
}

impl VerifyError {
    /// The stable, snake_case code of the public error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingHeader(_) | Self::MissingBodySecret | Self::MissingSignedField(_) => {
                "signature_missing"
            }
            Self::MalformedHeader(_) | Self::MalformedSignedField(_) => "signature_malformed",
            Self::NoExpectedScheme | Self::NoMatch | Self::NoSecrets | Self::HandshakeRefused => {
                "signature_mismatch"
            }
            Self::OutsideTolerance { .. } => "timestamp_out_of_tolerance",
            Self::InvalidSecret => "secret_invalid",
        }
    }
}

/// HMAC-SHA256 keyed with `key` over the concatenation of `parts`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Accepts a signed unix timestamp (seconds) within `tolerance` of `now`,
/// either way. Compared at full precision, so `now - tolerance - 1 ms` is too
/// old.
pub(crate) fn check_tolerance(
    signed_at: i64,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    match u64::try_from(signed_at) {
        Ok(seconds) => check_signed_time(UNIX_EPOCH + Duration::from_secs(seconds), now, tolerance),
        // Before 1970: never within any tolerance.
        Err(_) => Err(outside(
            tolerance,
            age_since_epoch(now).saturating_sub(signed_at),
        )),
    }
}

/// Accepts a signed time within `tolerance` of `now`, either way.
pub(crate) fn check_signed_time(
    signed_at: SystemTime,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    match now.duration_since(signed_at) {
        Ok(age) if age <= tolerance => Ok(()),
        Ok(age) => Err(outside(tolerance, whole_seconds(age))),
        Err(ahead) if ahead.duration() <= tolerance => Ok(()),
        Err(ahead) => Err(outside(tolerance, -whole_seconds(ahead.duration()))),
    }
}

fn outside(tolerance: Duration, age_seconds: i64) -> VerifyError {
    VerifyError::OutsideTolerance {
        tolerance_seconds: tolerance.as_secs(),
        age_seconds,
    }
}

fn whole_seconds(duration: Duration) -> i64 {
    i64::try_from(duration.as_secs()).unwrap_or(i64::MAX)
}

fn age_since_epoch(now: SystemTime) -> i64 {
    now.duration_since(UNIX_EPOCH).map_or(0, whole_seconds)
}

/// The single value of a header, treating an absent or blank header as
/// missing and a repeated or non-text one as malformed: a repeated signature
/// header has no unambiguous meaning.
pub(crate) fn single_header<'a>(
    headers: &'a http::HeaderMap,
    name: &str,
) -> Result<&'a str, VerifyError> {
    let mut values = headers.get_all(name).iter();
    let value = values
        .next()
        .ok_or_else(|| VerifyError::MissingHeader(name.into()))?;
    if values.next().is_some() {
        return Err(VerifyError::MalformedHeader(name.into()));
    }
    let value = value
        .to_str()
        .map_err(|_| VerifyError::MalformedHeader(name.into()))?
        .trim();
    if value.is_empty() {
        return Err(VerifyError::MissingHeader(name.into()));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_applies_in_both_directions() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let tolerance = Duration::from_secs(300);
        assert_eq!(check_tolerance(1_000_000 - 300, now, tolerance), Ok(()));
        assert_eq!(check_tolerance(1_000_000 + 300, now, tolerance), Ok(()));
        assert_eq!(
            check_tolerance(1_000_000 - 301, now, tolerance),
            Err(outside(tolerance, 301))
        );
        assert_eq!(
            check_tolerance(1_000_000 + 412, now, tolerance),
            Err(outside(tolerance, -412)),
            "a timestamp from the future has a negative age"
        );
    }

    #[test]
    fn tolerance_is_checked_below_the_second() {
        let now = UNIX_EPOCH + Duration::from_millis(1_000_300_001);
        assert_eq!(
            check_tolerance(1_000_000, now, Duration::from_secs(300)),
            Err(outside(Duration::from_secs(300), 300))
        );
    }

    #[test]
    fn negative_timestamps_are_never_within_tolerance() {
        assert_eq!(
            check_tolerance(-1, UNIX_EPOCH, Duration::from_secs(300)),
            Err(outside(Duration::from_secs(300), 1))
        );
    }

    #[test]
    fn repeated_header_is_malformed() {
        let mut headers = http::HeaderMap::new();
        headers.append("x-sig", "a".parse().unwrap());
        headers.append("x-sig", "b".parse().unwrap());
        assert_eq!(
            single_header(&headers, "x-sig"),
            Err(VerifyError::MalformedHeader("x-sig".into()))
        );
    }

    #[test]
    fn blank_header_is_missing() {
        let mut headers = http::HeaderMap::new();
        headers.insert("x-sig", " ".parse().unwrap());
        assert_eq!(
            single_header(&headers, "x-sig"),
            Err(VerifyError::MissingHeader("x-sig".into()))
        );
    }

    #[test]
    fn non_text_header_is_malformed() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "x-sig",
            http::HeaderValue::from_bytes(&[0xff, 0xfe]).unwrap(),
        );
        assert_eq!(
            single_header(&headers, "x-sig"),
            Err(VerifyError::MalformedHeader("x-sig".into()))
        );
    }
}
