//! The envelope: what ingest puts on the bus as an event's `Detail`, and what
//! deliver and consume read back.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// A verified webhook, normalised. `payload` is the provider's JSON kept as
/// raw text, so numbers, unicode and key order survive every hop unchanged.
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
    pub payload: Box<RawValue>,
}

impl Envelope {
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

/// The borrowed form of [`Envelope`], for writing one without copying the
/// payload. Serialises to exactly the same JSON shape.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct EnvelopeRef<'a> {
    pub id: &'a str,
    pub source: &'a str,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub received_at: &'a str,
    pub occurred_at: Option<&'a str>,
    pub correlation_id: &'a str,
    pub payload: &'a RawValue,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_and_owned_forms_share_one_shape() {
        let payload =
            RawValue::from_string(r#"{"n":12345678901234567890,"s":"é"}"#.into()).unwrap();
        let written = serde_json::to_string(&EnvelopeRef {
            id: "evt_1",
            source: "stripe",
            event_type: "payment_intent.succeeded",
            received_at: "2026-11-24T00:00:00.123Z",
            occurred_at: None,
            correlation_id: "c",
            payload: &payload,
        })
        .unwrap();
        let read: Envelope = serde_json::from_str(&written).unwrap();
        assert_eq!(read.event_type, "payment_intent.succeeded");
        assert_eq!(read.occurred_at, None);
        assert_eq!(read.payload.get(), payload.get());
        assert_eq!(serde_json::to_string(&read).unwrap(), written);
        assert_eq!(read.bus_source(), "hookbridge.stripe");
    }
}
