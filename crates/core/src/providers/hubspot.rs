//! HubSpot (signature v3): `X-HubSpot-Signature-v3`, base64 HMAC-SHA256 of
//! `<method><url><body><X-HubSpot-Request-Timestamp>` (milliseconds),
//! within 5 minutes. Webhook bodies are JSON arrays of events.
//!
//! Configure: `{"kind": "hubspot"}`, optionally `tolerance_seconds` (default
//! 300) and `public_url`. The secret is the app's Client secret (developer
//! account → Apps → the app → Auth). A batch of one event takes its
//! `eventId`, `subscriptionType` and `occurredAt`, and its object is
//! `objectId`; a larger batch takes the type its events share, and the body
//! digest as id.

use std::time::SystemTime;

use serde_json::Value;

use super::composed::ComposedMac;
use super::{BodyShape, Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError, Signed};
use crate::config::DEFAULT_TOLERANCE;
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::SecretSet;
use crate::verify::VerifyError;
use crate::verify::mac::{Algorithm, MacEncoding};

/// A HubSpot source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hubspot {
    scheme: ComposedMac,
}

/// The events of a body: an array, or one object.
pub(super) fn batch(document: &JsonObject<'_>) -> Vec<Value> {
    match serde_json::from_str::<Value>(document.text()) {
        Ok(Value::Array(events)) => events,
        Ok(event) => vec![event],
        Err(_) => Vec::new(),
    }
}

/// The value every event of a batch has at `pointer`, when they agree.
pub(super) fn shared(events: &[Value], pointer: &str) -> Option<Value> {
    let first = events.first()?.pointer(pointer)?;
    events
        .iter()
        .all(|event| event.pointer(pointer) == Some(first))
        .then(|| first.clone())
}

impl Provider for Hubspot {
    fn from_options(options: &mut Options) -> Result<Self, String> {
        Ok(Self {
            scheme: ComposedMac::timed(
                Algorithm::Sha256,
                "{method}{url}{body}{timestamp}",
                "x-hubspot-signature-v3",
                "",
                MacEncoding::Base64,
                "x-hubspot-request-timestamp",
                options.tolerance(DEFAULT_TOLERANCE)?,
            ),
        })
    }

    fn body_shape(&self) -> BodyShape {
        BodyShape::ObjectOrArray
    }

    fn signs_url(&self) -> bool {
        true
    }

    fn verify(
        &self,
        request: &Request<'_>,
        _: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        self.scheme.verify(request, secrets, now)
    }

    fn describe(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        let events = batch(document);
        if let [event] = events.as_slice() {
            described.id("eventId", Ok(event.get("eventId").cloned()));
            described.occurred_at("occurredAt", Ok(event.get("occurredAt").cloned()));
        }
        described.event_type("subscriptionType", Ok(shared(&events, "/subscriptionType")));
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        match event.json()? {
            Value::Array(events) if events.len() == 1 => ObjectRef::at(&events[0], "/objectId"),
            _ => None,
        }
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let millis = Outgoing {
            timestamp: outgoing.timestamp * 1000,
            ..*outgoing
        };
        Ok(Signed {
            headers: self.scheme.headers(secret, &millis)?,
            rewritten_body: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{envelope, event, refused, run, source, URL};
    use super::*;

    const SECRET: &str = "hubspot-client-secret";
    const NOW_MS: u64 = 1_700_000_000_000;
    const BODY: &str = r#"[{"eventId":1,"subscriptionId":2,"portalId":3,"occurredAt":1699999999000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM"}]"#;

    fn signature(body: &str, timestamp: &str, secret: &str) -> String {
        let message = format!("POST{URL}{body}{timestamp}");
        MacEncoding::Base64.encode(&Algorithm::Sha256.mac(secret.as_bytes(), &[message.as_bytes()]))
    }

    #[test]
    fn the_documented_v3_message_verifies() {
        let hubspot = source(r#"{"kind":"hubspot"}"#);
        let sent = signature(BODY, "1700000000000", SECRET);
        let headers = [("x-hubspot-signature-v3", sent.as_str()), ("x-hubspot-request-timestamp", "1700000000000")];
        let prepared = event(run(&hubspot, &headers, BODY.as_bytes(), SECRET, NOW_MS / 1000));
        assert_eq!((prepared.event_id.as_str(), prepared.event_type.as_str()), ("1", "contact.creation"));
        let envelope = envelope(&prepared);
        assert_eq!(envelope.occurred_at.as_deref(), Some("2023-11-14T22:13:19Z"));
        let view = EventView { event_type: "contact.creation", payload: envelope.inline_payload().unwrap() };
        assert_eq!(Hubspot::object(&view).map(|o| o.id), Some("123".into()));
        assert_eq!(refused(run(&hubspot, &headers, BODY.as_bytes(), SECRET, NOW_MS / 1000 + 301)), "timestamp_out_of_tolerance");
        assert_eq!(refused(run(&hubspot, &headers, BODY.as_bytes(), "other", NOW_MS / 1000)), "signature_mismatch");
        assert_eq!(refused(run(&hubspot, &headers[..1], BODY.as_bytes(), SECRET, NOW_MS / 1000)), "signature_missing");
    }

    #[test]
    fn a_mixed_batch_falls_back_to_the_digest_and_default_type() {
        let hubspot = source(r#"{"kind":"hubspot","default_type":"hubspot.batch"}"#);
        let body = r#"[{"eventId":1,"subscriptionType":"contact.creation"},{"eventId":2,"subscriptionType":"deal.deletion"}]"#;
        let sent = signature(body, "1700000000000", SECRET);
        let headers = [("x-hubspot-signature-v3", sent.as_str()), ("x-hubspot-request-timestamp", "1700000000000")];
        let prepared = event(run(&hubspot, &headers, body.as_bytes(), SECRET, NOW_MS / 1000));
        assert_eq!(prepared.event_type, "hubspot.batch");
        assert_eq!(prepared.event_id.len(), 64);
    }
}
