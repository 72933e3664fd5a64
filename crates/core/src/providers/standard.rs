//! Standard Webhooks (standardwebhooks.com, also Svix): headers `webhook-id`,
//! `webhook-timestamp` and `webhook-signature: v1,<base64> [v1,<base64> …]`;
//! each signature is HMAC-SHA256 of `<id>.<timestamp>.<body>` keyed with the
//! base64-decoded part of the `whsec_…` secret. The `svix-id`,
//! `svix-timestamp` and `svix-signature` names (Svix, Clerk, Resend, …) are
//! accepted as well.
//!
//! Configure: `{"kind": "standard"}`, optionally `tolerance_seconds` (default
//! 300) and `object_pointer`. The secret is the endpoint's `whsec_…` signing
//! secret. The id is `webhook-id`, the type the payload's `type`, the time
//! its `timestamp` (RFC 3339 with any offset, or a unix time), else
//! `webhook-timestamp`.

use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use subtle::ConstantTimeEq;

use super::{Described, Options, Outgoing, Provider, Request, SignError, Signed};
use crate::config::DEFAULT_TOLERANCE;
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::{Secret, SecretSet};
use crate::verify::{VerifyError, check_tolerance, hmac_sha256, single_header};

pub const ID_HEADER: &str = "webhook-id";
pub const TIMESTAMP_HEADER: &str = "webhook-timestamp";
pub const SIGNATURE_HEADER: &str = "webhook-signature";

const SECRET_PREFIX: &str = "whsec_";

/// The three header names of one branding of the scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderNames {
    pub id: &'static str,
    pub timestamp: &'static str,
    pub signature: &'static str,
}

/// The names the specification uses.
pub const STANDARD_NAMES: HeaderNames = HeaderNames {
    id: ID_HEADER,
    timestamp: TIMESTAMP_HEADER,
    signature: SIGNATURE_HEADER,
};

/// The names Svix-branded senders use.
pub const SVIX_NAMES: HeaderNames = HeaderNames {
    id: "svix-id",
    timestamp: "svix-timestamp",
    signature: "svix-signature",
};

impl HeaderNames {
    /// The names a request uses: `preferred` unless only the other names'
    /// signature header is present.
    fn of(headers: &http::HeaderMap, preferred: Self) -> Self {
        let other = if preferred == STANDARD_NAMES {
            SVIX_NAMES
        } else {
            STANDARD_NAMES
        };
        if !headers.contains_key(preferred.signature) && headers.contains_key(other.signature) {
            other
        } else {
            preferred
        }
    }
}

/// A Standard Webhooks source (and, with other names preferred, Svix).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standard {
    pub tolerance: Duration,
    /// The names errors speak of and `hookbridge sign` sends.
    pub names: HeaderNames,
}

impl Provider for Standard {
    fn from_options(options: &mut Options) -> Result<Self, String> {
        Ok(Self {
            tolerance: options.tolerance(DEFAULT_TOLERANCE)?,
            names: STANDARD_NAMES,
        })
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), String> {
        signing_key(secret)
            .map(drop)
            .map_err(|_| "not a `whsec_` secret: `whsec_` followed by base64".into())
    }

    fn verify(
        &self,
        request: &Request<'_>,
        _: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        verify_named(
            HeaderNames::of(request.headers, self.names),
            request.headers,
            request.body,
            secrets,
            now,
            self.tolerance,
        )
    }

    fn describe(
        &self,
        request: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        let names = HeaderNames::of(request.headers, self.names);
        described.promised_id(names.id, super::describe::header(request.headers, names.id))?;
        described.event_type("type", document.at("/type"));
        described.occurred_at("timestamp", document.at("/timestamp"));
        described.occurred_at(
            names.timestamp,
            super::describe::header(request.headers, names.timestamp),
        );
        Ok(())
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let signature = sign(
            &Secret::new(secret),
            outgoing.id,
            outgoing.timestamp,
            outgoing.body,
        )
        .map_err(|_| {
            SignError::InvalidSecret(
                "a Standard Webhooks secret is `whsec_` followed by base64".into(),
            )
        })?;
        Ok(Signed::default()
            .header(self.names.id, outgoing.id)
            .header(self.names.timestamp, outgoing.timestamp.to_string())
            .header(self.names.signature, signature))
    }
}

/// The signing key inside a `whsec_…` secret (the prefix is optional).
pub fn signing_key(secret: &Secret) -> Result<Vec<u8>, VerifyError> {
    let encoded = secret.expose();
    let encoded = encoded.strip_prefix(SECRET_PREFIX).unwrap_or(encoded);
    BASE64
        .decode(encoded)
        .ok()
        .filter(|key| !key.is_empty())
        .ok_or(VerifyError::InvalidSecret)
}

/// The headers that identify and time a Standard Webhooks message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageHeaders<'a> {
    pub id: &'a str,
    pub timestamp: i64,
    pub signatures: &'a str,
}

impl<'a> MessageHeaders<'a> {
    pub fn from_headers(headers: &'a http::HeaderMap) -> Result<Self, VerifyError> {
        Self::named(HeaderNames::of(headers, STANDARD_NAMES), headers)
    }

    fn named(names: HeaderNames, headers: &'a http::HeaderMap) -> Result<Self, VerifyError> {
        let id = single_header(headers, names.id)?;
        let timestamp = single_header(headers, names.timestamp)?
            .parse::<i64>()
            .map_err(|_| VerifyError::MalformedHeader(names.timestamp.into()))?;
        let signatures = single_header(headers, names.signature)?;
        Ok(Self {
            id,
            timestamp,
            signatures,
        })
    }
}

/// Verifies a Standard Webhooks message: timestamp within `tolerance` of
/// `now` either way (checked first, as the reference libraries do), then any
/// `v1` signature by any of `secrets`. Other versions are skipped.
pub fn verify(
    headers: &http::HeaderMap,
    body: &[u8],
    secrets: &SecretSet,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    verify_named(
        HeaderNames::of(headers, STANDARD_NAMES),
        headers,
        body,
        secrets,
        now,
        tolerance,
    )
}

fn verify_named(
    names: HeaderNames,
    headers: &http::HeaderMap,
    body: &[u8],
    secrets: &SecretSet,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let message = MessageHeaders::named(names, headers)?;
    check_tolerance(message.timestamp, now, tolerance)?;
    if secrets.is_empty() {
        return Err(VerifyError::NoSecrets);
    }
    let timestamp = message.timestamp.to_string();
    let mut expected = Vec::with_capacity(secrets.len());
    for secret in secrets.iter() {
        let key = signing_key(secret)?;
        let mac = hmac_sha256(
            &key,
            &[
                message.id.as_bytes(),
                b".",
                timestamp.as_bytes(),
                b".",
                body,
            ],
        );
        expected.push(mac);
    }
    let mut saw_v1 = false;
    for entry in message.signatures.split(' ').filter(|e| !e.is_empty()) {
        let Some(("v1", encoded)) = entry.split_once(',') else {
            continue;
        };
        saw_v1 = true;
        let mut signature = [0u8; 32];
        let decoded = encoded.len() <= 44 && BASE64.decode_slice(encoded, &mut signature) == Ok(32);
        if decoded && expected.iter().any(|mac| bool::from(mac.ct_eq(&signature))) {
            return Ok(());
        }
    }
    Err(if saw_v1 {
        VerifyError::NoMatch
    } else {
        VerifyError::NoExpectedScheme
    })
}

/// The `webhook-signature` value for a message: `v1,<base64>`.
pub fn sign(
    secret: &Secret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, VerifyError> {
    let key = signing_key(secret)?;
    let mac = hmac_sha256(
        &key,
        &[
            msg_id.as_bytes(),
            b".",
            timestamp.to_string().as_bytes(),
            b".",
            body,
        ],
    );
    Ok(format!("v1,{}", BASE64.encode(mac)))
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;

    struct Vector {
        secret: String,
        id: String,
        timestamp: i64,
        payload: String,
        signature: String,
    }

    fn official() -> Vector {
        let vectors = crate::test_vectors::load();
        let v = &vectors["standard_webhooks"][0];
        Vector {
            secret: v["secret"].as_str().unwrap().into(),
            id: v["id"].as_str().unwrap().into(),
            timestamp: v["timestamp"].as_i64().unwrap(),
            payload: v["payload"].as_str().unwrap().into(),
            signature: v["signature"].as_str().unwrap().into(),
        }
    }

    fn at(timestamp: i64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(timestamp as u64)
    }

    fn headers(id: &str, timestamp: &str, signature: &str) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(ID_HEADER, id.parse().unwrap());
        headers.insert(TIMESTAMP_HEADER, timestamp.parse().unwrap());
        headers.insert(SIGNATURE_HEADER, signature.parse().unwrap());
        headers
    }

    fn check_signature(v: &Vector, signature: &str, secrets: &str) -> Result<(), VerifyError> {
        verify(
            &headers(&v.id, &v.timestamp.to_string(), signature),
            v.payload.as_bytes(),
            &SecretSet::parse(secrets),
            at(v.timestamp),
            Duration::from_secs(300),
        )
    }

    #[test]
    fn official_vector_signs_and_verifies() {
        let v = official();
        let secret = Secret::new(v.secret.as_str());
        assert_eq!(
            sign(&secret, &v.id, v.timestamp, v.payload.as_bytes()).unwrap(),
            v.signature
        );
        assert_eq!(check_signature(&v, &v.signature, &v.secret), Ok(()));
    }

    #[test]
    fn signature_of_another_secret_fails() {
        let v = official();
        assert_eq!(
            check_signature(
                &v,
                "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
                &v.secret
            ),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn bare_v1_fails() {
        let v = official();
        assert_eq!(
            check_signature(&v, "v1,", &v.secret),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn one_matching_v1_among_junk_passes() {
        let v = official();
        let header = format!(
            "v2,junk v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc= {} v1,!!",
            v.signature
        );
        assert_eq!(check_signature(&v, &header, &v.secret), Ok(()));
    }

    #[test]
    fn only_other_versions_is_no_expected_scheme() {
        let v = official();
        let other = v.signature.replace("v1,", "v2,");
        assert_eq!(
            check_signature(&v, &other, &v.secret),
            Err(VerifyError::NoExpectedScheme)
        );
    }

    #[test]
    fn timestamp_beyond_five_minutes_either_way_fails() {
        let v = official();
        let h = headers(&v.id, &v.timestamp.to_string(), &v.signature);
        let secrets = SecretSet::parse(&v.secret);
        let tolerance = Duration::from_secs(300);
        for now in [at(v.timestamp + 301), at(v.timestamp - 301)] {
            assert!(matches!(
                verify(&h, v.payload.as_bytes(), &secrets, now, tolerance),
                Err(VerifyError::OutsideTolerance { .. })
            ));
        }
        for now in [at(v.timestamp + 300), at(v.timestamp - 300)] {
            assert_eq!(
                verify(&h, v.payload.as_bytes(), &secrets, now, tolerance),
                Ok(())
            );
        }
    }

    #[test]
    fn id_and_timestamp_are_covered_by_the_signature() {
        let v = official();
        let secrets = SecretSet::parse(&v.secret);
        let tolerance = Duration::from_secs(300);
        let other_id = headers("msg_other", &v.timestamp.to_string(), &v.signature);
        assert_eq!(
            verify(
                &other_id,
                v.payload.as_bytes(),
                &secrets,
                at(v.timestamp),
                tolerance
            ),
            Err(VerifyError::NoMatch)
        );
        let other_ts = headers(&v.id, &(v.timestamp + 1).to_string(), &v.signature);
        assert_eq!(
            verify(
                &other_ts,
                v.payload.as_bytes(),
                &secrets,
                at(v.timestamp),
                tolerance
            ),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn missing_and_malformed_headers_are_rejected() {
        let v = official();
        let secrets = SecretSet::parse(&v.secret);
        let full = headers(&v.id, &v.timestamp.to_string(), &v.signature);
        for name in [ID_HEADER, TIMESTAMP_HEADER, SIGNATURE_HEADER] {
            let mut h = full.clone();
            h.remove(name);
            assert_eq!(
                verify(
                    &h,
                    v.payload.as_bytes(),
                    &secrets,
                    at(v.timestamp),
                    Duration::from_secs(300)
                ),
                Err(VerifyError::MissingHeader(name.into()))
            );
        }
        let bad_ts = headers(&v.id, "yesterday", &v.signature);
        assert_eq!(
            verify(
                &bad_ts,
                v.payload.as_bytes(),
                &secrets,
                at(v.timestamp),
                Duration::from_secs(300)
            ),
            Err(VerifyError::MalformedHeader(TIMESTAMP_HEADER.into()))
        );
    }

    #[test]
    fn secret_without_prefix_works_and_garbage_secret_is_invalid() {
        let v = official();
        let bare = v.secret.trim_start_matches("whsec_");
        assert_eq!(check_signature(&v, &v.signature, bare), Ok(()));
        assert_eq!(
            check_signature(&v, &v.signature, "whsec_not base64!"),
            Err(VerifyError::InvalidSecret)
        );
    }

    #[test]
    fn rotated_secrets_either_verifies() {
        let v = official();
        let secrets = format!("whsec_c2Vjb25kLXNlY3JldA==,{}", v.secret);
        assert_eq!(check_signature(&v, &v.signature, &secrets), Ok(()));
    }

    #[test]
    fn svix_header_names_verify_too() {
        let v = official();
        let mut h = http::HeaderMap::new();
        h.insert("svix-id", v.id.parse().unwrap());
        h.insert("svix-timestamp", v.timestamp.to_string().parse().unwrap());
        h.insert("svix-signature", v.signature.parse().unwrap());
        let secrets = SecretSet::parse(&v.secret);
        let tolerance = Duration::from_secs(300);
        assert_eq!(
            verify(
                &h,
                v.payload.as_bytes(),
                &secrets,
                at(v.timestamp),
                tolerance
            ),
            Ok(())
        );
        h.remove("svix-timestamp");
        assert_eq!(
            verify(
                &h,
                v.payload.as_bytes(),
                &secrets,
                at(v.timestamp),
                tolerance
            ),
            Err(VerifyError::MissingHeader("svix-timestamp".into()))
        );
    }

    #[test]
    fn only_whsec_base64_secrets_pass_the_check() {
        let standard = Standard {
            tolerance: Duration::from_secs(300),
            names: STANDARD_NAMES,
        };
        assert!(
            standard
                .check_secret(&Secret::new(official().secret))
                .is_ok()
        );
        for bad in ["whsec_not base64!", "whsec_", "plain text"] {
            assert!(standard.check_secret(&Secret::new(bad)).is_err(), "{bad}");
        }
    }
}
