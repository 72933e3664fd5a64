//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>…]`, each `v1` an
//! HMAC-SHA256 of `<t>.<raw body>` keyed with the whole `whsec_…` secret.
//!
//! Configure: `{"kind": "stripe"}`, optionally `tolerance_seconds` (default
//! 300). The secret is the endpoint's signing secret (`whsec_…`, Developers →
//! Webhooks → the endpoint → Signing secret). The id is the event's `id`,
//! the type its `type`, the time its `created` (a unix time in API v1, RFC
//! 3339 text in v2 "thin" events); the object is `data.object.id`, or a
//! thin event's `related_object.id`.

use std::time::{Duration, SystemTime};

use subtle::ConstantTimeEq;

use super::{
    Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError, Signed,
};
use crate::config::DEFAULT_TOLERANCE;
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::SecretSet;
use crate::verify::{VerifyError, check_tolerance, hmac_sha256, single_header};

/// A Stripe source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stripe {
    pub tolerance: Duration,
}

impl Provider for Stripe {
    fn from_options(options: &mut Options) -> Result<Self, String> {
        Ok(Self {
            tolerance: options.tolerance(DEFAULT_TOLERANCE)?,
        })
    }

    fn verify(
        &self,
        request: &Request<'_>,
        _: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        verify(request.headers, request.body, secrets, now, self.tolerance)
    }

    fn describe(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        described.promised_id("id", document.at("/id"))?;
        described.event_type("type", document.at("/type"));
        described.occurred_at("created", document.at("/created"));
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        let payload = event.json()?;
        ObjectRef::at(&payload, "/data/object/id")
            .or_else(|| ObjectRef::at(&payload, "/related_object/id"))
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        Ok(Signed::default().header(
            "Stripe-Signature",
            sign(secret, outgoing.timestamp, outgoing.body),
        ))
    }
}

pub const SIGNATURE_HEADER: &str = "stripe-signature";

/// The scheme Stripe signs with today; `v0` and others are ignored.
const SCHEME: &str = "v1";

/// A parsed `Stripe-Signature` header, borrowing from the header text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeader<'a> {
    pub timestamp: i64,
    raw: &'a str,
}

impl<'a> SignatureHeader<'a> {
    /// Parses the header. Every non-empty item must be `key=value`, and `t`
    /// must appear exactly once as an integer; unknown keys are ignored, as
    /// Stripe's libraries do, so new schemes can be added by Stripe.
    pub fn parse(raw: &'a str) -> Result<Self, VerifyError> {
        let malformed = || VerifyError::MalformedHeader(SIGNATURE_HEADER.into());
        let mut timestamp = None;
        for item in items(raw) {
            let (key, value) = item.split_once('=').ok_or_else(malformed)?;
            if key.is_empty() {
                return Err(malformed());
            }
            if key == "t" {
                if timestamp.is_some() {
                    return Err(malformed());
                }
                timestamp = Some(value.parse::<i64>().map_err(|_| malformed())?);
            }
        }
        Ok(Self {
            timestamp: timestamp.ok_or_else(malformed)?,
            raw,
        })
    }

    /// The `v1` signatures, in header order, as sent (not yet decoded).
    pub fn signatures(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        items(self.raw).filter_map(|item| match item.split_once('=') {
            Some((SCHEME, value)) => Some(value),
            _ => None,
        })
    }
}

fn items(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
}

/// Verifies a Stripe webhook: any `v1` signature made with any of `secrets`,
/// then the timestamp within `tolerance` of `now` (Stripe's order, so a
/// tampered body reports a mismatch rather than an age).
pub fn verify(
    headers: &http::HeaderMap,
    body: &[u8],
    secrets: &SecretSet,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let header = SignatureHeader::parse(single_header(headers, SIGNATURE_HEADER)?)?;
    verify_header(&header, body, secrets)?;
    check_tolerance(header.timestamp, now, tolerance)
}

fn verify_header(
    header: &SignatureHeader<'_>,
    body: &[u8],
    secrets: &SecretSet,
) -> Result<(), VerifyError> {
    let mut candidates = header.signatures().peekable();
    if candidates.peek().is_none() {
        return Err(VerifyError::NoExpectedScheme);
    }
    if secrets.is_empty() {
        return Err(VerifyError::NoSecrets);
    }
    let timestamp = header.timestamp.to_string();
    let expected: Vec<[u8; 32]> = secrets
        .iter()
        .map(|secret| {
            hmac_sha256(
                secret.expose().as_bytes(),
                &[timestamp.as_bytes(), b".", body],
            )
        })
        .collect();
    let matched = candidates.any(|candidate| {
        let mut signature = [0u8; 32];
        hex::decode_to_slice(candidate, &mut signature).is_ok()
            && expected.iter().any(|mac| bool::from(mac.ct_eq(&signature)))
    });
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

/// The header value Stripe would send for `body` at `timestamp`: for tests,
/// samples and the CLI's `sign`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mac = hmac_sha256(
        secret.as_bytes(),
        &[timestamp.to_string().as_bytes(), b".", body],
    );
    format!("t={timestamp},v1={}", hex::encode(mac))
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::config::DEFAULT_TOLERANCE;

    const SECRET: &str = "whsec_test_secret";
    const BODY: &[u8] = br#"{"id":"evt_test_webhook","object":"event"}"#;
    const NOW: u64 = 1_700_000_000;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    fn headers(value: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(SIGNATURE_HEADER, value.parse().unwrap());
        headers
    }

    fn check(value: &str, secrets: &str) -> Result<(), VerifyError> {
        check_at(value, secrets, now(), DEFAULT_TOLERANCE)
    }

    fn check_at(
        value: &str,
        secrets: &str,
        now: SystemTime,
        tolerance: Duration,
    ) -> Result<(), VerifyError> {
        verify(
            &headers(value),
            BODY,
            &SecretSet::parse(secrets),
            now,
            tolerance,
        )
    }

    fn valid_header() -> String {
        sign(SECRET, NOW as i64, BODY)
    }

    #[test]
    fn valid_header_for_now_verifies() {
        assert_eq!(check(&valid_header(), SECRET), Ok(()));
    }

    #[test]
    fn absent_or_empty_header_is_missing() {
        let result = verify(
            &http::HeaderMap::new(),
            BODY,
            &SecretSet::parse(SECRET),
            now(),
            Duration::from_secs(300),
        );
        assert_eq!(
            result,
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER.into()))
        );
        assert_eq!(
            check("", SECRET),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER.into()))
        );
    }

    #[test]
    fn malformed_headers_are_rejected() {
        for value in [
            "v1,t=1",
            "t=",
            "I'm not even a real signature header",
            "t=abc,v1=00",
            "=1,t=1,v1=00",
            "t=1,t=1,v1=00",
            "v1=00",
        ] {
            assert_eq!(
                check(value, SECRET),
                Err(VerifyError::MalformedHeader(SIGNATURE_HEADER.into())),
                "{value}"
            );
        }
    }

    #[test]
    fn a_bad_extra_signature_is_ignored() {
        assert_eq!(
            check(&format!("{},v1=bad_signature", valid_header()), SECRET),
            Ok(())
        );
        assert_eq!(
            check(
                &format!("t={NOW},v1=bad_signature,v1={}", valid_mac()),
                SECRET
            ),
            Ok(())
        );
    }

    #[test]
    fn only_a_v0_signature_has_no_expected_scheme() {
        let v0 = valid_header().replace("v1=", "v0=");
        assert_eq!(check(&v0, SECRET), Err(VerifyError::NoExpectedScheme));
    }

    #[test]
    fn signature_of_another_secret_does_not_match() {
        assert_eq!(
            check(&sign("whsec_other", NOW as i64, BODY), SECRET),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn rolled_secrets_each_verify_a_header_carrying_both() {
        let rolled = "whsec_rolled";
        let both = format!(
            "{},v1={}",
            valid_header(),
            sign(rolled, NOW as i64, BODY).split_once("v1=").unwrap().1
        );
        assert_eq!(check(&both, SECRET), Ok(()));
        assert_eq!(check(&both, rolled), Ok(()));
        assert_eq!(check(&both, "whsec_third"), Err(VerifyError::NoMatch));
    }

    #[test]
    fn any_configured_secret_verifies() {
        assert_eq!(
            check(&valid_header(), &format!("whsec_new,{SECRET}")),
            Ok(())
        );
    }

    #[test]
    fn no_configured_secret_never_verifies() {
        assert_eq!(check(&valid_header(), ""), Err(VerifyError::NoSecrets));
    }

    #[test]
    fn custom_tolerance_applies() {
        let header = valid_header();
        let later = now() + Duration::from_secs(15);
        assert_eq!(
            check_at(&header, SECRET, later, Duration::from_secs(10)),
            Err(VerifyError::OutsideTolerance {
                tolerance_seconds: 10,
                age_seconds: 15
            })
        );
        assert_eq!(
            check_at(&header, SECRET, later, Duration::from_secs(20)),
            Ok(())
        );
    }

    #[test]
    fn default_tolerance_boundary() {
        let tolerance = Duration::from_secs(300);
        let header = valid_header();
        let almost = now() + tolerance - Duration::from_secs(1);
        let past = now() + tolerance + Duration::from_millis(1);
        assert_eq!(check_at(&header, SECRET, almost, tolerance), Ok(()));
        assert!(matches!(
            check_at(&header, SECRET, past, tolerance),
            Err(VerifyError::OutsideTolerance { .. })
        ));
    }

    #[test]
    fn timestamp_in_the_future_beyond_tolerance_fails() {
        let early = now() - Duration::from_secs(301);
        assert!(matches!(
            check_at(&valid_header(), SECRET, early, Duration::from_secs(300)),
            Err(VerifyError::OutsideTolerance { .. })
        ));
    }

    #[test]
    fn body_changed_after_signing_fails() {
        let header = valid_header();
        let mut body = BODY.to_vec();
        body.push(b' ');
        let result = verify(
            &headers(&header),
            &body,
            &SecretSet::parse(SECRET),
            now(),
            Duration::from_secs(300),
        );
        assert_eq!(result, Err(VerifyError::NoMatch));
    }

    #[test]
    fn wrong_length_and_non_hex_signatures_never_match() {
        let mac = valid_mac();
        for sig in [&mac[..63], &mac[..62], "zz", "", &format!("{mac}00")] {
            assert_eq!(
                check(&format!("t={NOW},v1={sig}"), SECRET),
                Err(VerifyError::NoMatch),
                "{sig}"
            );
        }
    }

    #[test]
    fn huge_header_is_rejected_cleanly() {
        let huge = format!("t={NOW},{}", "v1=00,".repeat(20_000));
        assert_eq!(check(&huge, SECRET), Err(VerifyError::NoMatch));
    }

    #[test]
    fn official_hmac_vectors_match() {
        let vectors = crate::test_vectors::load();
        for vector in vectors["hmac_sha256_hex"].as_array().unwrap() {
            let key = vector["key"].as_str().unwrap();
            let message = vector["message"].as_str().unwrap();
            let mac = hmac_sha256(key.as_bytes(), &[message.as_bytes()]);
            assert_eq!(
                hex::encode(mac),
                vector["expected"].as_str().unwrap(),
                "{}",
                vector["origin"]
            );
        }
    }

    #[test]
    fn secrets_are_used_whole_including_the_prefix() {
        let header = sign("test_secret", NOW as i64, BODY);
        assert_eq!(check(&header, SECRET), Err(VerifyError::NoMatch));
    }

    fn valid_mac() -> String {
        valid_header().split_once("v1=").unwrap().1.to_string()
    }
}
