//! The webhook deliver sends onward: the provider's payload (or, for a form,
//! the exact body with its content type), signed with the outbound secret by
//! the Standard Webhooks scheme, so any Standard Webhooks library verifies it
//! and `webhook-id` (the event id) deduplicates it.

use crate::envelope::Envelope;
use crate::providers::standard::{ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use crate::secret::SecretSet;

const JSON: &str = "application/json";

/// The configured source name of the event (e.g. `stripe`).
pub const SOURCE_HEADER: &str = "x-hookbridge-source";
/// The provider's event type (the bus event's `DetailType`).
pub const EVENT_TYPE_HEADER: &str = "x-hookbridge-event-type";
/// Ties the delivery to the ingest request and every hop between.
pub const CORRELATION_ID_HEADER: &str = "x-hookbridge-correlation-id";

/// A signed webhook, ready to POST.
#[derive(Clone, PartialEq, Eq)]
pub struct OutboundWebhook {
    id: String,
    timestamp: String,
    signature: String,
    source: String,
    event_type: String,
    correlation_id: String,
    content_type: String,
    body: Box<str>,
}

/// Why a webhook could not be signed: the outbound secret is unusable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("no outbound secret is configured")]
    NoSecret,
    #[error("the outbound secret is not a Standard Webhooks `whsec_` key")]
    InvalidSecret,
}

impl OutboundWebhook {
    /// Signs `body`, the bytes sent (the raw form body, else the payload's
    /// JSON; inline or fetched by its reference), at `timestamp` (unix
    /// seconds) with every outbound secret: during a rotation the target may
    /// know either key, and Standard Webhooks accepts any one of several
    /// space-separated signatures. `body` goes with the envelope's content
    /// type, JSON unless it says otherwise.
    pub fn sign(
        envelope: Envelope,
        body: Box<str>,
        secrets: &SecretSet,
        timestamp: i64,
    ) -> Result<Self, SignError> {
        if secrets.is_empty() {
            return Err(SignError::NoSecret);
        }
        let content_type = envelope.content_type.unwrap_or_else(|| JSON.to_owned());
        let mut signature = String::with_capacity(secrets.len() * 48);
        for secret in secrets.iter() {
            let signed = sign(secret, &envelope.id, timestamp, body.as_bytes())
                .map_err(|_| SignError::InvalidSecret)?;
            if !signature.is_empty() {
                signature.push(' ');
            }
            signature.push_str(&signed);
        }
        Ok(Self {
            id: envelope.id,
            timestamp: timestamp.to_string(),
            signature,
            source: envelope.source,
            event_type: envelope.event_type,
            correlation_id: envelope.correlation_id,
            content_type,
            body,
        })
    }

    /// The event id, sent as `webhook-id`.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn correlation_id(&self) -> &str {
        &self.correlation_id
    }

    /// What is POSTed: the provider's payload byte for byte as ingest
    /// received its JSON, or the form body exactly as received.
    pub fn body(&self) -> &str {
        &self.body
    }

    /// Every header of the request, `content-type` included.
    pub fn headers(&self) -> [(&'static str, &str); 7] {
        [
            ("content-type", &self.content_type),
            (ID_HEADER, &self.id),
            (TIMESTAMP_HEADER, &self.timestamp),
            (SIGNATURE_HEADER, &self.signature),
            (SOURCE_HEADER, &self.source),
            (EVENT_TYPE_HEADER, &self.event_type),
            (CORRELATION_ID_HEADER, &self.correlation_id),
        ]
    }
}

impl std::fmt::Debug for OutboundWebhook {
    /// Leaves out the signature and the body.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundWebhook")
            .field("id", &self.id)
            .field("timestamp", &self.timestamp)
            .field("source", &self.source)
            .field("event_type", &self.event_type)
            .field("correlation_id", &self.correlation_id)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::providers::standard::verify;
    use crate::secret::Secret;

    const OUTBOUND: &str = "whsec_aG9va2JyaWRnZS1kZXYtb3V0Ym91bmQta2V5";
    const OTHER: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn envelope() -> Envelope {
        serde_json::from_str(
            r#"{"id":"evt_1","source":"stripe","type":"payment_intent.succeeded",
                "received_at":"2026-11-24T00:00:00.123Z","occurred_at":null,
                "correlation_id":"c0ffee","payload":{"id":"evt_1", "amount": 1.50}}"#,
        )
        .unwrap()
    }

    fn signed(secrets: &SecretSet, timestamp: i64) -> Result<OutboundWebhook, SignError> {
        let mut envelope = envelope();
        let body = envelope.payload.take().unwrap().into();
        OutboundWebhook::sign(envelope, body, secrets, timestamp)
    }

    fn header_map(webhook: &OutboundWebhook) -> http::HeaderMap {
        webhook
            .headers()
            .iter()
            .map(|(name, value)| {
                (
                    http::HeaderName::from_static(name),
                    http::HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect()
    }

    fn check(webhook: &OutboundWebhook, secret: &str) -> Result<(), crate::verify::VerifyError> {
        verify(
            &header_map(webhook),
            webhook.body().as_bytes(),
            &SecretSet::parse(secret),
            UNIX_EPOCH + Duration::from_secs(1_700_000_000),
            Duration::from_secs(300),
        )
    }

    #[test]
    fn signed_webhook_verifies_with_standard_webhooks() {
        let webhook = signed(&SecretSet::parse(OUTBOUND), 1_700_000_000).unwrap();
        assert_eq!(check(&webhook, OUTBOUND), Ok(()));
        assert!(check(&webhook, OTHER).is_err());
    }

    #[test]
    fn body_is_the_payload_byte_for_byte() {
        let webhook = signed(&SecretSet::parse(OUTBOUND), 1_700_000_000).unwrap();
        assert_eq!(webhook.body(), r#"{"id":"evt_1", "amount": 1.50}"#);
    }

    #[test]
    fn headers_carry_id_timestamp_source_and_type() {
        let webhook = signed(&SecretSet::parse(OUTBOUND), 1_700_000_000).unwrap();
        let headers = header_map(&webhook);
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(headers[ID_HEADER], "evt_1");
        assert_eq!(headers[TIMESTAMP_HEADER], "1700000000");
        assert_eq!(headers[SOURCE_HEADER], "stripe");
        assert_eq!(headers[EVENT_TYPE_HEADER], "payment_intent.succeeded");
        assert_eq!(headers[CORRELATION_ID_HEADER], "c0ffee");
    }

    #[test]
    fn every_secret_of_a_rotation_signs() {
        let secrets = SecretSet::parse(&format!("{OUTBOUND},{OTHER}"));
        let webhook = signed(&secrets, 1_700_000_000).unwrap();
        assert_eq!(webhook.headers()[3].1.split(' ').count(), 2);
        assert_eq!(check(&webhook, OUTBOUND), Ok(()));
        assert_eq!(check(&webhook, OTHER), Ok(()));
    }

    #[test]
    fn unusable_secrets_are_refused() {
        assert_eq!(signed(&SecretSet::default(), 0), Err(SignError::NoSecret));
        let invalid: SecretSet = [Secret::new("whsec_not base64!")].into_iter().collect();
        assert_eq!(signed(&invalid, 0), Err(SignError::InvalidSecret));
    }

    #[test]
    fn debug_leaves_out_signature_and_body() {
        let webhook = signed(&SecretSet::parse(OUTBOUND), 1_700_000_000).unwrap();
        let debug = format!("{webhook:?}");
        assert!(
            !debug.contains("v1,") && !debug.contains("amount"),
            "{debug}"
        );
    }

    #[test]
    fn a_form_is_delivered_as_received_with_its_content_type() {
        let mut form = envelope();
        form.content_type = Some("application/x-www-form-urlencoded".into());
        form.raw_body = Some("To=%2B1&Body=hi".into());
        let body = form.raw_body.clone().unwrap().into();
        let webhook =
            OutboundWebhook::sign(form, body, &SecretSet::parse(OUTBOUND), 1_700_000_000).unwrap();
        assert_eq!(webhook.body(), "To=%2B1&Body=hi");
        assert_eq!(
            header_map(&webhook)["content-type"],
            "application/x-www-form-urlencoded"
        );
        assert_eq!(check(&webhook, OUTBOUND), Ok(()));
    }
}
