//! The JSON of `GET /events`: recent events with their deliveries, one per
//! destination the event matched, and their attempts.

use hookbridge_core::delivery_status::DeliveryState;
use serde::Serialize;

use super::store::states::AttemptOutcome;

/// The `limit` of `GET /events` when the query names none.
pub const DEFAULT_LIMIT: usize = 50;
/// The largest `limit` honoured; a larger one is lowered to it.
pub const MAX_LIMIT: usize = 500;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventList {
    /// Newest first.
    pub events: Vec<EventView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventView {
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub received_at: String,
    pub occurred_at: Option<String>,
    pub correlation_id: String,
    /// How many times the same id was ingested again.
    pub duplicates: u64,
    /// Whether the consumer has recorded it.
    pub stored: bool,
    /// By destination name; empty when the event matched no destination.
    pub deliveries: Vec<DeliveryView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryView {
    pub destination: String,
    pub status: DeliveryState,
    /// Oldest first; numbered within their schedule (a replay starts at 1).
    pub attempts: Vec<AttemptView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptView {
    pub number: u32,
    /// RFC 3339 UTC, when the attempt started.
    pub at: String,
    pub outcome: AttemptOutcome,
    /// The target's HTTP status, if it answered.
    pub status: Option<u16>,
    /// Why the attempt failed, if it did.
    pub error: Option<String>,
    /// `None` for attempts recorded before latencies were.
    pub latency_ms: Option<u64>,
    /// The start of the target's answer, at most 1 KiB.
    pub response_excerpt: Option<String>,
}

/// The `limit` of a `GET /events` query string: absent means
/// [`DEFAULT_LIMIT`], zero or not a whole number is an error, and a larger
/// one is capped at [`MAX_LIMIT`].
pub fn limit_of(query: Option<&str>) -> Result<usize, InvalidLimit> {
    let Some(value) = query
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("limit="))
    else {
        return Ok(DEFAULT_LIMIT);
    };
    match value.parse::<usize>() {
        Ok(0) | Err(_) => Err(InvalidLimit(value.to_owned())),
        Ok(limit) => Ok(limit.min(MAX_LIMIT)),
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "limit must be a whole number of at least 1 (at most {MAX_LIMIT} events are returned), got `{0}`"
)]
pub struct InvalidLimit(String);

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_json_has_the_documented_shape() {
        let list = EventList {
            events: vec![EventView {
                id: "evt_1".into(),
                source: "stripe".into(),
                event_type: "payment_intent.succeeded".into(),
                received_at: "2026-11-24T00:00:00.123Z".into(),
                occurred_at: None,
                correlation_id: "c1".into(),
                duplicates: 2,
                stored: true,
                deliveries: vec![DeliveryView {
                    destination: "billing".into(),
                    status: DeliveryState::DeadLettered,
                    attempts: vec![AttemptView {
                        number: 1,
                        at: "2026-11-24T00:00:00.200Z".into(),
                        outcome: AttemptOutcome::Failed,
                        status: Some(500),
                        error: Some("the target answered HTTP 500".into()),
                        latency_ms: Some(12),
                        response_excerpt: Some("busy".into()),
                    }],
                }],
            }],
        };
        assert_eq!(
            serde_json::to_value(&list).unwrap(),
            json!({"events": [{
                "id": "evt_1", "source": "stripe", "type": "payment_intent.succeeded",
                "received_at": "2026-11-24T00:00:00.123Z", "occurred_at": null,
                "correlation_id": "c1", "duplicates": 2, "stored": true,
                "deliveries": [{"destination": "billing", "status": "dead_lettered", "attempts": [{
                    "number": 1, "at": "2026-11-24T00:00:00.200Z", "outcome": "failed",
                    "status": 500, "error": "the target answered HTTP 500",
                    "latency_ms": 12, "response_excerpt": "busy"
                }]}]
            }]})
        );
    }

    #[test]
    fn the_limit_defaults_caps_and_rejects_nonsense() {
        assert_eq!(limit_of(None), Ok(DEFAULT_LIMIT));
        assert_eq!(limit_of(Some("other=1")), Ok(DEFAULT_LIMIT));
        assert_eq!(limit_of(Some("limit=7")), Ok(7));
        assert_eq!(limit_of(Some("a=b&limit=9000")), Ok(MAX_LIMIT));
        for bad in ["limit=0", "limit=-1", "limit=ten", "limit="] {
            assert!(limit_of(Some(bad)).is_err(), "{bad}");
        }
    }
}
