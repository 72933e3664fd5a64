//! Mailgun: the body carries `signature: {timestamp, token, signature}`,
//! the last the hex HMAC-SHA256 of `<timestamp><token>` keyed with the
//! HTTP webhook signing key.
//!
//! Configure: `{"kind": "mailgun"}`, optionally `tolerance_seconds`
//! (default 300). The secret is the HTTP webhook signing key (Mailgun →
//! Sending → Webhooks → HTTP webhook signing key). The id is
//! `event-data.id`, the type `event-data.event` (`delivered`), the time
//! `event-data.timestamp`; the object is the message's `message-id`.

use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::composed::check_timestamp;
use super::{Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError, Signed};
use crate::config::DEFAULT_TOLERANCE;
use crate::ingest::PayloadError;
use crate::ingest::payload::{JsonObject, parse_raw};
use crate::secret::SecretSet;
use crate::verify::VerifyError;
use crate::verify::mac::{Algorithm, MacEncoding, any_matches};

/// A Mailgun source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailgun {
    tolerance: Duration,
}

#[derive(Deserialize)]
struct BodySignature {
    timestamp: String,
    token: String,
    signature: String,
}

impl Provider for Mailgun {
    fn from_options(options: &mut Options) -> Result<Self, String> {
        Ok(Self {
            tolerance: options.tolerance(DEFAULT_TOLERANCE)?,
        })
    }

    fn secret_in_body(&self) -> bool {
        true
    }

    fn verify(
        &self,
        _: &Request<'_>,
        document: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        let raw = document
            .and_then(|document| document.member("signature").ok().flatten())
            .ok_or(VerifyError::MissingSignedField("signature"))?;
        let signed: BodySignature = parse_raw("signature", raw)
            .map_err(|_| VerifyError::MalformedSignedField("signature"))?;
        let candidate = MacEncoding::Hex
            .decode(&signed.signature, 32)
            .ok_or(VerifyError::MalformedSignedField("signature.signature"))?;
        let message = [signed.timestamp.as_bytes(), signed.token.as_bytes()];
        any_matches(Algorithm::Sha256, secrets, &message, [candidate.as_slice()])?;
        check_timestamp("signature.timestamp", &signed.timestamp, now, self.tolerance)
    }

    fn describe(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        described.id("event-data.id", document.at("/event-data/id"));
        described.event_type("event-data.event", document.at("/event-data/event"));
        described.occurred_at("event-data.timestamp", document.at("/event-data/timestamp"));
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        event.id_at("/event-data/message/headers/message-id")
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let text = std::str::from_utf8(outgoing.body).map_err(|e| SignError::NotJson(e.to_string()))?;
        let mut payload: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| SignError::NotJson(e.to_string()))?;
        if payload.contains_key("signature") {
            return Err(SignError::FieldAlreadyInPayload("signature"));
        }
        let timestamp = outgoing.timestamp.to_string();
        let mac = Algorithm::Sha256.mac(secret.as_bytes(), &[timestamp.as_bytes(), outgoing.id.as_bytes()]);
        payload.insert(
            "signature".into(),
            serde_json::json!({"timestamp": timestamp, "token": outgoing.id, "signature": hex::encode(mac)}),
        );
        Ok(Signed {
            headers: Vec::new(),
            rewritten_body: Some(serde_json::Value::Object(payload).to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{envelope, event, refused, run, source};
    use super::*;

    const KEY: &str = "key-mailgun-signing";
    const NOW: u64 = 1_700_000_000;

    fn body(key: &str, timestamp: &str) -> String {
        let token = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0";
        let mac = hex::encode(Algorithm::Sha256.mac(key.as_bytes(), &[timestamp.as_bytes(), token.as_bytes()]));
        format!(
            r#"{{"signature":{{"timestamp":"{timestamp}","token":"{token}","signature":"{mac}"}},"event-data":{{"id":"CPgfbmQMTCKtHW6uIWtuVe","event":"delivered","timestamp":1699999999.92,"message":{{"headers":{{"message-id":"m1@example.com"}}}}}}}}"#
        )
    }

    #[test]
    fn a_signed_event_is_read() {
        let mailgun = source(r#"{"kind":"mailgun"}"#);
        let prepared = event(run(&mailgun, &[], body(KEY, "1700000000").as_bytes(), KEY, NOW));
        assert_eq!((prepared.event_id.as_str(), prepared.event_type.as_str()), ("CPgfbmQMTCKtHW6uIWtuVe", "delivered"));
        assert_eq!(envelope(&prepared).occurred_at.as_deref(), Some("2023-11-14T22:13:19.920Z"));
    }

    #[test]
    fn forged_stale_and_unsigned_are_refused() {
        let mailgun = source(r#"{"kind":"mailgun"}"#);
        assert_eq!(refused(run(&mailgun, &[], body("other", "1700000000").as_bytes(), KEY, NOW)), "signature_mismatch");
        assert_eq!(refused(run(&mailgun, &[], body(KEY, "1700000000").as_bytes(), KEY, NOW + 301)), "timestamp_out_of_tolerance");
        assert_eq!(refused(run(&mailgun, &[], br#"{"event-data":{}}"#, KEY, NOW)), "signature_missing");
        assert_eq!(refused(run(&mailgun, &[], br#"{"signature":"abc"}"#, KEY, NOW)), "signature_malformed");
    }

    #[test]
    fn sign_puts_a_verifiable_signature_in_the_body() {
        let mailgun = source(r#"{"kind":"mailgun"}"#);
        let outgoing = Outgoing { id: "token-1", event_type: None, timestamp: NOW as i64, url: "", body: br#"{"event-data":{"event":"opened"}}"# };
        let signed = mailgun.provider().sign(KEY, &outgoing).unwrap();
        let body = signed.rewritten_body.unwrap();
        assert_eq!(event(run(&mailgun, &[], body.as_bytes(), KEY, NOW)).event_type, "opened");
    }
}
