//! Mailgun: the body carries `signature: {timestamp, token, signature}`,
//! the last the hex HMAC-SHA256 of `<timestamp><token>` keyed with the
//! HTTP webhook signing key. Legacy webhooks post a form instead, whose
//! `timestamp`, `token` and `signature` fields are the same three values.
//!
//! Configure: `{"kind": "mailgun"}`, optionally `tolerance_seconds`
//! (default 300). The secret is the HTTP webhook signing key (Mailgun →
//! Sending → Webhooks → HTTP webhook signing key). The id is
//! `event-data.id`, the type `event-data.event` (`delivered`), the time
//! `event-data.timestamp`; the object is the message's `message-id`. A
//! legacy form post has the type of its `event` field, the body digest as
//! id, and the object of its `Message-Id` (or `message-id`) field.

use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::composed::check_timestamp;
use super::{
    Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError, Signed,
};
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
        request: &Request<'_>,
        document: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        let signed = match request.form {
            Some(fields) => BodySignature {
                timestamp: single_field(fields, "timestamp")?.to_owned(),
                token: single_field(fields, "token")?.to_owned(),
                signature: single_field(fields, "signature")?.to_owned(),
            },
            None => {
                let raw = document
                    .and_then(|document| document.member("signature").ok().flatten())
                    .ok_or(VerifyError::MissingSignedField("signature"))?;
                parse_raw("signature", raw)
                    .map_err(|_| VerifyError::MalformedSignedField("signature"))?
            }
        };
        let candidate = MacEncoding::Hex
            .decode(&signed.signature, 32)
            .ok_or(VerifyError::MalformedSignedField("signature.signature"))?;
        let message = [signed.timestamp.as_bytes(), signed.token.as_bytes()];
        any_matches(Algorithm::Sha256, secrets, &message, [candidate.as_slice()])?;
        check_timestamp(
            "signature.timestamp",
            &signed.timestamp,
            now,
            self.tolerance,
        )
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
        described.event_type("event", document.at("/event"));
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        event
            .id_at("/event-data/message/headers/message-id")
            .or_else(|| event.id_at("/Message-Id"))
            .or_else(|| event.id_at("/message-id"))
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let text =
            std::str::from_utf8(outgoing.body).map_err(|e| SignError::NotJson(e.to_string()))?;
        let mut payload: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).map_err(|e| SignError::NotJson(e.to_string()))?;
        if payload.contains_key("signature") {
            return Err(SignError::FieldAlreadyInPayload("signature"));
        }
        let timestamp = outgoing.timestamp.to_string();
        let mac = Algorithm::Sha256.mac(
            secret.as_bytes(),
            &[timestamp.as_bytes(), outgoing.id.as_bytes()],
        );
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

/// The value of a form field the signature needs, given exactly once.
fn single_field<'f>(
    fields: &'f [(String, String)],
    name: &'static str,
) -> Result<&'f str, VerifyError> {
    let mut values = fields.iter().filter(|(key, _)| key == name);
    match (values.next(), values.next()) {
        (Some((_, value)), None) => Ok(value),
        (None, _) => Err(VerifyError::MissingSignedField(name)),
        (Some(_), Some(_)) => Err(VerifyError::MalformedSignedField(name)),
    }
}

#[cfg(test)]
mod tests {
    use sha2::Digest;

    use super::super::testing::{envelope, event, refused, run, source};
    use super::*;

    const KEY: &str = "key-mailgun-signing";
    const NOW: u64 = 1_700_000_000;

    fn body(key: &str, timestamp: &str) -> String {
        let token = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0";
        let mac = hex::encode(
            Algorithm::Sha256.mac(key.as_bytes(), &[timestamp.as_bytes(), token.as_bytes()]),
        );
        format!(
            r#"{{"signature":{{"timestamp":"{timestamp}","token":"{token}","signature":"{mac}"}},"event-data":{{"id":"CPgfbmQMTCKtHW6uIWtuVe","event":"delivered","timestamp":1699999999.92,"message":{{"headers":{{"message-id":"m1@example.com"}}}}}}}}"#
        )
    }

    #[test]
    fn a_signed_event_is_read() {
        let mailgun = source(r#"{"kind":"mailgun"}"#);
        let prepared = event(run(
            &mailgun,
            &[],
            body(KEY, "1700000000").as_bytes(),
            KEY,
            NOW,
        ));
        assert_eq!(
            (prepared.event_id.as_str(), prepared.event_type.as_str()),
            ("CPgfbmQMTCKtHW6uIWtuVe", "delivered")
        );
        assert_eq!(
            envelope(&prepared).occurred_at.as_deref(),
            Some("2023-11-14T22:13:19.920Z")
        );
    }

    #[test]
    fn forged_stale_and_unsigned_are_refused() {
        let mailgun = source(r#"{"kind":"mailgun"}"#);
        assert_eq!(
            refused(run(
                &mailgun,
                &[],
                body("other", "1700000000").as_bytes(),
                KEY,
                NOW
            )),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run(
                &mailgun,
                &[],
                body(KEY, "1700000000").as_bytes(),
                KEY,
                NOW + 301
            )),
            "timestamp_out_of_tolerance"
        );
        assert_eq!(
            refused(run(&mailgun, &[], br#"{"event-data":{}}"#, KEY, NOW)),
            "signature_missing"
        );
        assert_eq!(
            refused(run(&mailgun, &[], br#"{"signature":"abc"}"#, KEY, NOW)),
            "signature_malformed"
        );
    }

    #[test]
    fn sign_puts_a_verifiable_signature_in_the_body() {
        let mailgun = source(r#"{"kind":"mailgun"}"#);
        let outgoing = Outgoing {
            id: "token-1",
            event_type: None,
            timestamp: NOW as i64,
            url: "",
            body: br#"{"event-data":{"event":"opened"}}"#,
        };
        let signed = mailgun.provider().sign(KEY, &outgoing).unwrap();
        let body = signed.rewritten_body.unwrap();
        assert_eq!(
            event(run(&mailgun, &[], body.as_bytes(), KEY, NOW)).event_type,
            "opened"
        );
    }

    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");
    const TOKEN: &str = "a8ce0edb2dd8301dee6c2405235584e45aa91d1e9f979f3de0";

    /// A legacy form post as Mailgun sends it: the event's fields, then the
    /// signature's three.
    fn legacy_form(key: &str, timestamp: &str, extra: &str) -> String {
        let mac = hex::encode(
            Algorithm::Sha256.mac(key.as_bytes(), &[timestamp.as_bytes(), TOKEN.as_bytes()]),
        );
        format!(
            "event=delivered&recipient=alice%40example.com&domain=example.com&Message-Id=%3Cm1%40example.com%3E\
             &timestamp={timestamp}&token={TOKEN}&signature={mac}{extra}"
        )
    }

    #[test]
    fn a_legacy_form_post_is_verified_and_read() {
        let mailgun = source(r#"{"kind":"mailgun"}"#);
        let body = legacy_form(KEY, "1700000000", "");
        let prepared = event(run(&mailgun, &[FORM], body.as_bytes(), KEY, NOW));
        assert_eq!(prepared.event_type, "delivered");
        assert_eq!(
            prepared.event_id,
            hex::encode(sha2::Sha256::digest(body.as_bytes()))
        );
        let envelope = envelope(&prepared);
        let view = EventView {
            event_type: "delivered",
            payload: envelope.inline_payload().unwrap(),
        };
        assert_eq!(
            Mailgun::object(&view).map(|o| o.id),
            Some("<m1@example.com>".into())
        );
    }

    #[test]
    fn a_legacy_form_post_signed_with_another_key_or_stale_is_refused() {
        let mailgun = source(r#"{"kind":"mailgun"}"#);
        let forged = legacy_form("other", "1700000000", "");
        assert_eq!(
            refused(run(&mailgun, &[FORM], forged.as_bytes(), KEY, NOW)),
            "signature_mismatch"
        );
        let body = legacy_form(KEY, "1700000000", "");
        assert_eq!(
            refused(run(&mailgun, &[FORM], body.as_bytes(), KEY, NOW + 301)),
            "timestamp_out_of_tolerance"
        );
        let tampered = body.replace("1700000000", "1700000001");
        assert_eq!(
            refused(run(&mailgun, &[FORM], tampered.as_bytes(), KEY, NOW)),
            "signature_mismatch"
        );
    }

    #[test]
    fn a_legacy_form_post_without_or_with_repeated_signature_fields_is_refused() {
        let mailgun = source(r#"{"kind":"mailgun"}"#);
        let body = legacy_form(KEY, "1700000000", "");
        for field in ["timestamp", "token", "signature"] {
            let without: Vec<&str> = body
                .split('&')
                .filter(|pair| !pair.starts_with(&format!("{field}=")))
                .collect();
            let without = without.join("&");
            assert_eq!(
                refused(run(&mailgun, &[FORM], without.as_bytes(), KEY, NOW)),
                "signature_missing",
                "{field}"
            );
        }
        let repeated = legacy_form(KEY, "1700000000", "&signature=00");
        assert_eq!(
            refused(run(&mailgun, &[FORM], repeated.as_bytes(), KEY, NOW)),
            "signature_malformed"
        );
        let not_hex = body.replace("&signature=", "&signature=zz");
        assert_eq!(
            refused(run(&mailgun, &[FORM], not_hex.as_bytes(), KEY, NOW)),
            "signature_malformed"
        );
        let bad_time = legacy_form(KEY, "soon", "");
        assert_eq!(
            refused(run(&mailgun, &[FORM], bad_time.as_bytes(), KEY, NOW)),
            "signature_malformed"
        );
    }

    #[test]
    fn a_json_signature_object_sent_as_a_form_field_is_not_the_legacy_shape() {
        let mailgun = source(r#"{"kind":"mailgun"}"#);
        // The JSON shape's body, posted as a form: its fields carry no signature.
        let body = format!(
            "payload={}",
            body(KEY, "1700000000")
                .replace('"', "%22")
                .replace('{', "%7B")
                .replace('}', "%7D")
        );
        assert_eq!(
            refused(run(&mailgun, &[FORM], body.as_bytes(), KEY, NOW)),
            "signature_missing"
        );
    }
}
