//! SendGrid (signed Event Webhook): `X-Twilio-Email-Event-Webhook-Signature`,
//! the base64 DER ECDSA P-256 SHA-256 signature of
//! `<X-Twilio-Email-Event-Webhook-Timestamp><body>`. Bodies are JSON arrays
//! of events.
//!
//! Configure: `{"kind": "sendgrid"}`, optionally `tolerance_seconds`
//! (default 300). The secret is the verification key, base64 DER as the
//! dashboard shows it (Settings → Mail Settings → Event Webhook → Signature
//! Verification); it is checked when the configuration is read. A batch of
//! one event takes its `sg_event_id`, `event` and `timestamp`; a larger one
//! the type its events share, and the body digest as id. `hookbridge sign`
//! cannot sign as SendGrid: ECDSA signing draws randomness, which the core
//! does not.

use std::time::SystemTime;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1, ParsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::composed::check_timestamp;
use super::hubspot::{batch, shared};
use super::{BodyShape, Described, Options, Outgoing, Provider, Request, SignError, Signed};
use crate::config::DEFAULT_TOLERANCE;
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::{Secret, SecretSet};
use crate::verify::{VerifyError, single_header};

pub const SIGNATURE_HEADER: &str = "x-twilio-email-event-webhook-signature";
pub const TIMESTAMP_HEADER: &str = "x-twilio-email-event-webhook-timestamp";

/// A SendGrid source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sendgrid {
    tolerance: std::time::Duration,
}

fn public_key(secret: &Secret) -> Result<ParsedPublicKey, String> {
    let der = BASE64
        .decode(secret.expose())
        .map_err(|_| "not a base64 public key".to_owned())?;
    ParsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, der)
        .map_err(|_| "not an ECDSA P-256 public key (base64 DER)".into())
}

impl Provider for Sendgrid {
    fn from_options(options: &mut Options) -> Result<Self, String> {
        Ok(Self {
            tolerance: options.tolerance(DEFAULT_TOLERANCE)?,
        })
    }

    fn body_shape(&self) -> BodyShape {
        BodyShape::ObjectOrArray
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), String> {
        public_key(secret).map(drop)
    }

    fn verify(
        &self,
        request: &Request<'_>,
        _: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        let signature = single_header(request.headers, SIGNATURE_HEADER)?;
        let timestamp = single_header(request.headers, TIMESTAMP_HEADER)?;
        let signature = BASE64
            .decode(signature)
            .ok()
            .filter(|der| der.len() <= 80)
            .ok_or_else(|| VerifyError::MalformedHeader(SIGNATURE_HEADER.into()))?;
        if secrets.is_empty() {
            return Err(VerifyError::NoSecrets);
        }
        let keys = secrets
            .iter()
            .map(|secret| public_key(secret).map_err(|_| VerifyError::InvalidSecret))
            .collect::<Result<Vec<_>, _>>()?;
        let message = [timestamp.as_bytes(), request.body].concat();
        if !keys
            .iter()
            .any(|key| key.verify_sig(&message, &signature).is_ok())
        {
            return Err(VerifyError::NoMatch);
        }
        check_timestamp(TIMESTAMP_HEADER, timestamp, now, self.tolerance)
    }

    fn describe(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        let events = batch(document);
        if let [event] = events.as_slice() {
            described.id("sg_event_id", Ok(event.get("sg_event_id").cloned()));
            described.occurred_at("timestamp", Ok(event.get("timestamp").cloned()));
        }
        described.event_type("event", Ok(shared(&events, "/event")));
        Ok(())
    }

    fn sign(&self, _: &str, _: &Outgoing<'_>) -> Result<Signed, SignError> {
        Err(SignError::Unsupported(
            "hookbridge sign cannot sign as SendGrid: ECDSA signing needs randomness; sign with SendGrid's own tools",
        ))
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::encoding::AsDer;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

    use super::super::testing::{envelope, event, refused, run, source};
    use super::*;

    const NOW: u64 = 1_700_000_000;
    const BODY: &str = r#"[{"email":"a@example.com","event":"delivered","sg_event_id":"sg-1","timestamp":1699999999}]"#;

    struct Keys {
        pair: EcdsaKeyPair,
        public: String,
    }

    fn keys() -> Keys {
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_ASN1_SIGNING).unwrap();
        let public = BASE64.encode(pair.public_key().as_der().unwrap().as_ref());
        Keys { pair, public }
    }

    fn headers(keys: &Keys, body: &str, timestamp: &str) -> Vec<(&'static str, String)> {
        let message = [timestamp.as_bytes(), body.as_bytes()].concat();
        let signature = keys.pair.sign(&SystemRandom::new(), &message).unwrap();
        vec![
            (SIGNATURE_HEADER, BASE64.encode(signature.as_ref())),
            (TIMESTAMP_HEADER, timestamp.to_owned()),
        ]
    }

    fn pairs<'a>(headers: &'a [(&'static str, String)]) -> Vec<(&'a str, &'a str)> {
        headers.iter().map(|(n, v)| (*n, v.as_str())).collect()
    }

    #[test]
    fn a_signed_batch_of_one_is_read() {
        let sendgrid = source(r#"{"kind":"sendgrid"}"#);
        let keys = keys();
        let sent = headers(&keys, BODY, "1700000000");
        let prepared = event(run(
            &sendgrid,
            &pairs(&sent),
            BODY.as_bytes(),
            &keys.public,
            NOW,
        ));
        assert_eq!(
            (prepared.event_id.as_str(), prepared.event_type.as_str()),
            ("sg-1", "delivered")
        );
        assert_eq!(
            envelope(&prepared).occurred_at.as_deref(),
            Some("2023-11-14T22:13:19Z")
        );
    }

    #[test]
    fn tampered_stale_other_key_and_malformed_are_refused() {
        let sendgrid = source(r#"{"kind":"sendgrid"}"#);
        let keys = keys();
        let sent = headers(&keys, BODY, "1700000000");
        assert_eq!(
            refused(run(&sendgrid, &pairs(&sent), b"[]", &keys.public, NOW)),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run(
                &sendgrid,
                &pairs(&sent),
                BODY.as_bytes(),
                &keys.public,
                NOW + 301
            )),
            "timestamp_out_of_tolerance"
        );
        assert_eq!(
            refused(run(
                &sendgrid,
                &pairs(&sent),
                BODY.as_bytes(),
                &self::keys().public,
                NOW
            )),
            "signature_mismatch"
        );
        let garbage = [(SIGNATURE_HEADER, "!!"), (TIMESTAMP_HEADER, "1700000000")];
        assert_eq!(
            refused(run(&sendgrid, &garbage, BODY.as_bytes(), &keys.public, NOW)),
            "signature_malformed"
        );
    }

    #[test]
    fn keys_are_checked_when_configured() {
        let sendgrid = Sendgrid {
            tolerance: DEFAULT_TOLERANCE,
        };
        assert_eq!(sendgrid.check_secret(&Secret::new(keys().public)), Ok(()));
        let ed25519_hex = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        for bad in ["not base64!", "AAAA", ed25519_hex] {
            assert!(sendgrid.check_secret(&Secret::new(bad)).is_err(), "{bad}");
        }
    }
}
