//! The envelope: what ingest puts on the bus as an event's `Detail`, and what
//! deliver and consume read back.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

pub use crate::payload_ref::{PayloadMismatch, PayloadRef};

/// A verified webhook, normalised. `payload` is the provider's JSON kept as
/// raw text, so numbers, unicode and key order survive every hop unchanged.
/// A payload too large for SNS travels apart: then `payload_ref` names the
/// stored bytes instead (see [`Envelope::body`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    /// The provider's event id (or the body's SHA-256): the deduplication key.
    pub id: String,
    /// The configured source name, e.g. `stripe`.
    pub source: String,
    /// The provider's event type; also the bus event's `DetailType`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// RFC 3339 UTC with milliseconds, when ingest received the webhook.
    pub received_at: String,
    /// RFC 3339 UTC, when the provider says the event happened, if it says.
    pub occurred_at: Option<String>,
    /// Ties every log line and hop of one webhook together.
    pub correlation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<Box<RawValue>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_ref: Option<PayloadRef>,
    /// The request's content type, for bodies that are not JSON (forms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The exact body as received, for bodies that are not JSON: what
    /// deliver sends, with `content_type`. `payload` is then its fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_body: Option<String>,
}

/// Where an envelope's payload is: inline, or stored apart.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    Inline(&'a RawValue),
    Stored(&'a PayloadRef),
}

/// An envelope that carries neither or both of `payload` and `payload_ref`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the envelope must carry exactly one of `payload` and `payload_ref`")]
pub struct AmbiguousBody;

impl Envelope {
    /// The payload, inline or by reference; exactly one must be present.
    pub fn body(&self) -> Result<Body<'_>, AmbiguousBody> {
        match (&self.payload, &self.payload_ref) {
            (Some(payload), None) => Ok(Body::Inline(payload)),
            (None, Some(reference)) => Ok(Body::Stored(reference)),
            _ => Err(AmbiguousBody),
        }
    }

    /// The inline payload's JSON text, if the payload travels inline.
    pub fn inline_payload(&self) -> Option<&str> {
        self.payload.as_deref().map(RawValue::get)
    }

    /// The EventBridge `Source` of this envelope's bus event.
    pub fn bus_source(&self) -> String {
        bus_source(&self.source)
    }
}

/// Prefix of every bus event's `Source`; rules match on it.
pub const BUS_SOURCE_PREFIX: &str = "hookbridge.";

/// The EventBridge `Source` for a configured source name.
pub fn bus_source(source: &str) -> String {
    format!("{BUS_SOURCE_PREFIX}{source}")
}

/// The borrowed form of [`Envelope`], written without copying the payload
/// through a serialiser: `payload` is JSON text the caller has validated.
/// [`EnvelopeRef::to_json`] writes exactly [`Envelope`]'s shape (a test
/// holds the two together).
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeRef<'a> {
    pub id: &'a str,
    pub source: &'a str,
    pub event_type: &'a str,
    pub received_at: &'a str,
    pub occurred_at: Option<&'a str>,
    pub correlation_id: &'a str,
    pub payload: BodyRef<'a>,
    /// The request's content type, for bodies that are not JSON (forms).
    pub content_type: Option<&'a str>,
    /// The exact body as received, for bodies that are not JSON.
    pub raw_body: Option<&'a str>,
}

/// The borrowed form of [`Body`].
#[derive(Debug, Clone, Copy)]
pub enum BodyRef<'a> {
    /// Valid JSON text, written as is.
    Inline(&'a str),
    Stored(&'a PayloadRef),
}

impl EnvelopeRef<'_> {
    pub fn to_json(&self) -> String {
        let inline_len = match self.payload {
            BodyRef::Inline(payload) => payload.len(),
            BodyRef::Stored(_) => 0,
        };
        let mut out = String::with_capacity(inline_len + 256);
        let fields = [
            ("id", Some(self.id)),
            ("source", Some(self.source)),
            ("type", Some(self.event_type)),
            ("received_at", Some(self.received_at)),
            ("occurred_at", self.occurred_at),
            ("correlation_id", Some(self.correlation_id)),
        ];
        for (i, (name, value)) in fields.into_iter().enumerate() {
            out.push(if i == 0 { '{' } else { ',' });
            out.push('"');
            out.push_str(name);
            out.push_str("\":");
            match value {
                Some(text) => push_json_string(&mut out, text),
                None => out.push_str("null"),
            }
        }
        match self.payload {
            BodyRef::Inline(payload) => {
                out.push_str(",\"payload\":");
                out.push_str(payload);
            }
            BodyRef::Stored(reference) => {
                out.push_str(",\"payload_ref\":");
                out.push_str(
                    &serde_json::to_string(reference).expect("a reference always serialises"),
                );
            }
        }
        let optional = [
            ("content_type", self.content_type),
            ("raw_body", self.raw_body),
        ];
        for (name, value) in optional {
            if let Some(text) = value {
                out.push_str(",\"");
                out.push_str(name);
                out.push_str("\":");
                push_json_string(&mut out, text);
            }
        }
        out.push('}');
        out
    }
}

/// Appends `text` as a JSON string literal.
fn push_json_string(out: &mut String, text: &str) {
    out.push_str(&serde_json::to_string(text).expect("a string always serialises"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(occurred_at: Option<&str>) -> String {
        written_with(occurred_at, BodyRef::Inline(PAYLOAD), None)
    }

    const PAYLOAD: &str = r#"{"n":12345678901234567890,"s":"é"}"#;

    fn reference() -> PayloadRef {
        PayloadRef {
            bucket: "b".into(),
            key: "payloads/stripe/00".into(),
            size: 7,
            sha256: "00".into(),
        }
    }

    fn written_with(
        occurred_at: Option<&str>,
        payload: BodyRef<'_>,
        form: Option<(&str, &str)>,
    ) -> String {
        EnvelopeRef {
            id: "evt_\"1\"",
            source: "stripe",
            event_type: "payment_intent.succeeded",
            received_at: "2026-11-24T00:00:00.123Z",
            occurred_at,
            correlation_id: "c\u{1}",
            payload,
            content_type: form.map(|(content_type, _)| content_type),
            raw_body: form.map(|(_, raw_body)| raw_body),
        }
        .to_json()
    }

    #[test]
    fn borrowed_and_owned_forms_share_one_shape() {
        for occurred_at in [None, Some("2026-11-23T23:59:59Z")] {
            let written = written(occurred_at);
            let read: Envelope = serde_json::from_str(&written).unwrap();
            assert_eq!(read.id, "evt_\"1\"");
            assert_eq!(read.event_type, "payment_intent.succeeded");
            assert_eq!(read.occurred_at.as_deref(), occurred_at);
            assert_eq!(read.correlation_id, "c\u{1}");
            assert!(matches!(read.body(), Ok(Body::Inline(payload)) if payload.get() == PAYLOAD));
            assert_eq!(serde_json::to_string(&read).unwrap(), written);
            assert_eq!(read.bus_source(), "hookbridge.stripe");
        }
    }

    #[test]
    fn a_stored_payload_is_written_as_its_reference_in_both_forms() {
        let reference = reference();
        let written = written_with(None, BodyRef::Stored(&reference), None);
        let read: Envelope = serde_json::from_str(&written).unwrap();
        assert!(matches!(read.body(), Ok(Body::Stored(stored)) if *stored == reference));
        assert!(!written.contains("\"payload\":"), "{written}");
        assert_eq!(serde_json::to_string(&read).unwrap(), written);
    }

    #[test]
    fn an_envelope_with_neither_or_both_bodies_is_refused() {
        let both = written(None).replace(
            "\"payload\":",
            &format!(
                "\"payload_ref\":{},\"payload\":",
                serde_json::to_string(&reference()).unwrap()
            ),
        );
        let neither = written_with(None, BodyRef::Stored(&reference()), None)
            .replace("payload_ref", "something_else");
        for text in [both, neither] {
            let read: Envelope = serde_json::from_str(&text).unwrap();
            assert!(matches!(read.body(), Err(AmbiguousBody)), "{text}");
        }
    }

    #[test]
    fn a_form_body_keeps_its_content_type_and_raw_bytes() {
        let form = ("application/x-www-form-urlencoded", "a=1&b=%22x%22");
        let written = written_with(None, BodyRef::Inline(PAYLOAD), Some(form));
        let read: Envelope = serde_json::from_str(&written).unwrap();
        assert_eq!(read.content_type.as_deref(), Some(form.0));
        assert_eq!(read.raw_body.as_deref(), Some(form.1));
        assert_eq!(serde_json::to_string(&read).unwrap(), written);
        assert!(!written_with(None, BodyRef::Inline(PAYLOAD), None).contains("raw_body"));
    }
}
