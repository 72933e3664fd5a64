//! Discord (interactions and webhook events): `X-Signature-Ed25519`, the
//! hex Ed25519 signature of `<X-Signature-Timestamp><body>` by the
//! application's key.
//!
//! Configure: `{"kind": "discord"}`, optionally `tolerance_seconds` (default
//! 300). The secret is the application's Public Key, in hex as the Developer
//! Portal shows it (Applications → the app → General Information); it is
//! checked when the configuration is read. An interactions PING (`type` 1)
//! is answered with a PONG, a webhook-events PING (`type` 0) with 204. The
//! id is the payload's `id` (else the body digest), the type the webhook
//! event's `event.type`, else `interaction.<type>`; the time
//! `event.timestamp`.

use std::time::SystemTime;

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, ParsedPublicKey};

use super::composed::check_timestamp;
use super::{Described, Handshake, Options, Outgoing, Provider, Request, SignError, Signed};
use crate::config::DEFAULT_TOLERANCE;
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::{Secret, SecretSet};
use crate::verify::{VerifyError, single_header};

pub const SIGNATURE_HEADER: &str = "x-signature-ed25519";
pub const TIMESTAMP_HEADER: &str = "x-signature-timestamp";

/// A Discord source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discord {
    tolerance: std::time::Duration,
}

fn public_key(secret: &Secret) -> Result<ParsedPublicKey, String> {
    let bytes =
        hex::decode(secret.expose()).map_err(|_| "not a hex Ed25519 public key".to_owned())?;
    if bytes.len() != 32 {
        return Err(format!(
            "an Ed25519 public key is 32 bytes (64 hex digits), not {}",
            bytes.len()
        ));
    }
    ParsedPublicKey::new(&ED25519, bytes).map_err(|_| "not a valid Ed25519 public key".into())
}

impl Provider for Discord {
    fn from_options(options: &mut Options) -> Result<Self, String> {
        Ok(Self {
            tolerance: options.tolerance(DEFAULT_TOLERANCE)?,
        })
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
        let signature = hex::decode(signature)
            .ok()
            .filter(|bytes| bytes.len() == 64)
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

    fn handshake(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        _: &SecretSet,
    ) -> Option<Handshake> {
        let is_webhook_event = document.at("/event").ok()?.is_some();
        match document.at("/type").ok()??.as_u64()? {
            1 if !is_webhook_event => Some(Handshake::json(
                "discord interactions ping",
                serde_json::json!({"type": 1}),
            )),
            0 => Some(Handshake::no_content("discord webhook events ping")),
            _ => None,
        }
    }

    fn describe(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        described.id("id", document.at("/id"));
        described.event_type("event.type", document.at("/event/type"));
        if let Ok(Some(serde_json::Value::Number(kind))) = document.at("/type") {
            described.event_type("type", Ok(Some(format!("interaction.{kind}").into())));
        }
        described.occurred_at("event.timestamp", document.at("/event/timestamp"));
        Ok(())
    }

    /// `secret` is the application's private key: its 32-byte seed in hex.
    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let seed = hex::decode(secret)
            .map_err(|_| SignError::InvalidSecret("a hex Ed25519 seed".into()))?;
        let key = Ed25519KeyPair::from_seed_unchecked(&seed)
            .map_err(|_| SignError::InvalidSecret("a 32-byte Ed25519 seed".into()))?;
        let timestamp = outgoing.timestamp.to_string();
        let signature = key.sign(&[timestamp.as_bytes(), outgoing.body].concat());
        Ok(Signed::default()
            .header("X-Signature-Ed25519", hex::encode(signature.as_ref()))
            .header("X-Signature-Timestamp", timestamp))
    }
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::signature::KeyPair;

    use super::super::testing::{event, refused, run, source};
    use super::*;
    use crate::ingest::Ingested;

    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
    /// RFC 8032 test 1's public key for the seed above.
    const PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
    const NOW: u64 = 1_700_000_000;

    fn signed(body: &[u8]) -> Vec<(String, String)> {
        let outgoing = Outgoing {
            id: "",
            event_type: None,
            timestamp: NOW as i64,
            url: "",
            body,
        };
        source(r#"{"kind":"discord"}"#)
            .provider()
            .sign(SEED, &outgoing)
            .unwrap()
            .headers
    }

    fn pairs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
        headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn the_rfc_8032_seed_gives_its_public_key() {
        let key = Ed25519KeyPair::from_seed_unchecked(&hex::decode(SEED).unwrap()).unwrap();
        assert_eq!(hex::encode(key.public_key().as_ref()), PUBLIC);
    }

    #[test]
    fn a_signed_interaction_is_read_and_a_ping_answered() {
        let discord = source(r#"{"kind":"discord"}"#);
        let body = br#"{"id":"1180","type":2,"data":{"name":"hello"}}"#;
        let prepared = event(run(&discord, &pairs(&signed(body)), body, PUBLIC, NOW));
        assert_eq!(
            (prepared.event_id.as_str(), prepared.event_type.as_str()),
            ("1180", "interaction.2")
        );
        let ping = br#"{"id":"1","type":1}"#;
        match run(&discord, &pairs(&signed(ping)), ping, PUBLIC, NOW) {
            Ok(Ingested::Handshake(handshake)) => assert_eq!(handshake.body, r#"{"type":1}"#),
            other => panic!("{other:?}"),
        }
        let events_ping = br#"{"version":1,"application_id":"1","type":0}"#;
        match run(
            &discord,
            &pairs(&signed(events_ping)),
            events_ping,
            PUBLIC,
            NOW,
        ) {
            Ok(Ingested::Handshake(handshake)) => assert_eq!(handshake.status, 204),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_webhook_event_reads_its_type_and_time() {
        let discord = source(r#"{"kind":"discord"}"#);
        let body = br#"{"version":1,"application_id":"1","type":1,"event":{"type":"APPLICATION_AUTHORIZED","timestamp":"2023-11-14T22:13:20.000000+00:00","data":{}}}"#;
        let prepared = event(run(&discord, &pairs(&signed(body)), body, PUBLIC, NOW));
        assert_eq!(prepared.event_type, "APPLICATION_AUTHORIZED");
    }

    #[test]
    fn tampered_stale_other_key_and_malformed_are_refused() {
        let discord = source(r#"{"kind":"discord"}"#);
        let body = br#"{"id":"1","type":2}"#;
        let headers = signed(body);
        assert_eq!(
            refused(run(
                &discord,
                &pairs(&headers),
                br#"{"id":"2","type":2}"#,
                PUBLIC,
                NOW
            )),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run(&discord, &pairs(&headers), body, PUBLIC, NOW + 301)),
            "timestamp_out_of_tolerance"
        );
        let other = Ed25519KeyPair::generate().unwrap();
        let other_public = hex::encode(other.public_key().as_ref());
        assert_eq!(
            refused(run(&discord, &pairs(&headers), body, &other_public, NOW)),
            "signature_mismatch"
        );
        let short = [(SIGNATURE_HEADER, "abcd"), (TIMESTAMP_HEADER, "1700000000")];
        assert_eq!(
            refused(run(&discord, &short, body, PUBLIC, NOW)),
            "signature_malformed"
        );
    }

    #[test]
    fn keys_are_checked_when_configured() {
        let discord = Discord {
            tolerance: DEFAULT_TOLERANCE,
        };
        assert_eq!(discord.check_secret(&Secret::new(PUBLIC)), Ok(()));
        for bad in ["zz", &PUBLIC[..62], "00"] {
            assert!(discord.check_secret(&Secret::new(bad)).is_err(), "{bad}");
        }
        let error = crate::ingest::IngestError::from(VerifyError::InvalidSecret);
        assert_eq!(error.status(), 503);
    }
}
