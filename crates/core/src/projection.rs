//! Consume's rules: which provider object an event is about, in which order
//! events of one object supersede each other, and how long an event is kept.
//!
//! Webhooks arrive duplicated and out of order. The consumer stores one record
//! per event id (a duplicate changes nothing) and one projection per provider
//! object holding the latest state. "Latest" is decided by an [`OrderKey`]
//! computed from the event alone, so every delivery order ends in the same
//! projection and a store can enforce it with a single comparison.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::config::SourceConfig;
use crate::envelope::Envelope;
use crate::providers::{EventView, Kind, ObjectRef};

/// How the events of one source map to provider objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectionRule {
    /// The provider's own rule (e.g. Stripe's `data.object.id`, Money
    /// Button's payment with its status ranks); kinds without one record
    /// their events only.
    Provider(Kind),
    /// The source's `object_pointer` (RFC 6901 JSON pointer) names the
    /// object id in the payload.
    Pointer(String),
}

impl ProjectionRule {
    /// The rule for a configured source: its `object_pointer`, else its
    /// provider's.
    pub fn for_source(config: &SourceConfig) -> Self {
        match &config.object_pointer {
            Some(pointer) => Self::Pointer(pointer.clone()),
            None => Self::Provider(config.kind()),
        }
    }
}

/// The projection an event belongs to and its place in that object's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Projection {
    /// The provider object's id within its source, e.g. `pi_3MtwBw`.
    pub object_id: String,
    pub order_key: OrderKey,
}

/// The position of an event in its object's history, as one string whose
/// byte order is the supersede order: `<seconds>.<nanos>#<rank>#<event id>`
/// with fixed-width numbers. A store compares it with a single `<`, so an
/// older (or the same) event never overwrites a newer one.
///
/// Components, most significant first: when the provider says the event
/// happened (`occurred_at`, Stripe `created`; `received_at` when the provider
/// gives no time), the status rank (Money Button: PENDING < RECEIVED <
/// COMPLETED < FAILED = DOUBLE_SPENT, the terminal states; 0 elsewhere), then
/// the event id, a deterministic last resort for events that tie on both.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderKey(String);

impl OrderKey {
    fn new(at: SystemTime, rank: u8, event_id: &str) -> Result<Self, ProjectionError> {
        let since_epoch = at
            .duration_since(UNIX_EPOCH)
            .map_err(|_| ProjectionError::BeforeEpoch)?;
        // 12 digits of seconds cover every RFC 3339 year (up to 9999).
        Ok(Self(format!(
            "{:012}.{:09}#{rank}#{event_id}",
            since_epoch.as_secs(),
            since_epoch.subsec_nanos()
        )))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why an envelope cannot be recorded: its times are not what ingest writes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProjectionError {
    #[error("`{field}` is not an RFC 3339 UTC time: {value:?}")]
    InvalidTime { field: &'static str, value: String },
    #[error("event time lies before 1970")]
    BeforeEpoch,
}

/// The object id (if the payload names one) and the status rank. A payload
/// whose shape differs from the provider's documented one names no object:
/// the event is still recorded, just not projected.
fn locate(rule: &ProjectionRule, envelope: &Envelope, payload: &str) -> Option<ObjectRef> {
    let event = EventView {
        event_type: &envelope.event_type,
        payload,
    };
    match rule {
        ProjectionRule::Provider(kind) => kind.object(&event),
        ProjectionRule::Pointer(pointer) => event.id_at(pointer),
    }
}

fn parse_time(field: &'static str, value: &str) -> Result<SystemTime, ProjectionError> {
    humantime::parse_rfc3339(value).map_err(|_| ProjectionError::InvalidTime {
        field,
        value: value.to_owned(),
    })
}

/// The projection of `envelope` under `rule`, or `None` when its payload
/// (inline, or fetched by its reference) names no object. Errors only when
/// the envelope's times are malformed.
pub fn project(
    rule: &ProjectionRule,
    envelope: &Envelope,
    payload: &str,
) -> Result<Option<Projection>, ProjectionError> {
    let Some(ObjectRef {
        id: object_id,
        rank,
    }) = locate(rule, envelope, payload)
    else {
        return Ok(None);
    };
    let at = match &envelope.occurred_at {
        Some(occurred_at) => parse_time("occurred_at", occurred_at)?,
        None => parse_time("received_at", &envelope.received_at)?,
    };
    Ok(Some(Projection {
        order_key: OrderKey::new(at, rank, &envelope.id)?,
        object_id,
    }))
}

/// Everything a store writes for one event.
#[derive(Debug, Clone)]
pub struct EventRecord<'a> {
    pub envelope: &'a Envelope,
    /// When the event record may be deleted, in seconds since the Unix epoch
    /// (the store's TTL attribute). Projections do not expire.
    pub expires_at: u64,
    pub projection: Option<Projection>,
}

impl<'a> EventRecord<'a> {
    /// Builds the record of `envelope`: its projection under `rule` (none
    /// when the source has no rule), read from `payload` (inline, or fetched
    /// by its reference), and an expiry `retention` after it was received.
    /// The expiry comes from the event, not a clock, so a replay of the same
    /// event computes the same record.
    pub fn new(
        envelope: &'a Envelope,
        payload: &str,
        rule: Option<&ProjectionRule>,
        retention: Duration,
    ) -> Result<Self, ProjectionError> {
        let received_at = parse_time("received_at", &envelope.received_at)?;
        let expires_at = (received_at + retention)
            .duration_since(UNIX_EPOCH)
            .map_err(|_| ProjectionError::BeforeEpoch)?
            .as_secs();
        let projection = match rule {
            Some(rule) => project(rule, envelope, payload)?,
            None => None,
        };
        Ok(Self {
            envelope,
            expires_at,
            projection,
        })
    }
}

/// What recording one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// First time this event id was seen: its record is stored.
    Recorded(ProjectionChange),
    /// The event id was already recorded: nothing changed.
    Duplicate,
}

/// What a newly recorded event did to its object's projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProjectionChange {
    /// The projection now holds this event.
    Updated,
    /// The projection already holds a newer event: left as it was.
    Superseded,
    /// The event names no object.
    NotProjected,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::value::RawValue;

    const DAY: Duration = Duration::from_secs(86_400);

    fn envelope(id: &str, event_type: &str, occurred_at: Option<&str>, payload: &str) -> Envelope {
        Envelope {
            id: id.to_owned(),
            source: "src".to_owned(),
            event_type: event_type.to_owned(),
            received_at: "2026-11-24T00:00:00.123Z".to_owned(),
            occurred_at: occurred_at.map(str::to_owned),
            correlation_id: "corr".to_owned(),
            payload: Some(RawValue::from_string(payload.to_owned()).unwrap()),
            payload_ref: None,
            content_type: None,
            raw_body: None,
        }
    }

    fn inline(envelope: &Envelope) -> &str {
        envelope.inline_payload().unwrap()
    }

    fn moneybutton(id: &str, status: &str, at: &str) -> Envelope {
        envelope(
            id,
            &format!("payment.{}", status.to_ascii_lowercase()),
            Some(at),
            &format!(r#"{{"payment":{{"id":"pay_1","status":"{status}"}}}}"#),
        )
    }

    fn key(rule: &ProjectionRule, envelope: &Envelope) -> OrderKey {
        project(rule, envelope, inline(envelope))
            .unwrap()
            .unwrap()
            .order_key
    }

    #[test]
    fn rules_follow_the_source_configuration() {
        let sources = crate::config::Sources::from_json(
            r#"{"s":{"kind":"stripe"},"g":{"kind":"github"},"m":{"kind":"moneybutton"},
                "w":{"kind":"standard","object_pointer":"/data/id"},"plain":{"kind":"standard"},
                "h":{"kind":"hmac","header":"X-Sig","object_pointer":"/id"},
                "hplain":{"kind":"hmac","header":"X-Sig"}}"#,
        )
        .unwrap();
        let rule = |name| ProjectionRule::for_source(sources.get(name).unwrap());
        assert_eq!(rule("s"), ProjectionRule::Provider(Kind::Stripe));
        assert_eq!(rule("g"), ProjectionRule::Provider(Kind::Github));
        assert_eq!(rule("m"), ProjectionRule::Provider(Kind::MoneyButton));
        assert_eq!(rule("w"), ProjectionRule::Pointer("/data/id".to_owned()));
        assert_eq!(rule("h"), ProjectionRule::Pointer("/id".to_owned()));
        assert_eq!(rule("plain"), ProjectionRule::Provider(Kind::Standard));
        let plain = envelope("e", "t", None, r#"{"data":{"id":"x"}}"#);
        assert_eq!(project(&rule("plain"), &plain, inline(&plain)), Ok(None));
    }

    #[test]
    fn stripe_object_is_data_object_id() {
        let event = envelope(
            "evt_1",
            "payment_intent.succeeded",
            Some("2026-11-23T23:59:59Z"),
            r#"{"id":"evt_1","data":{"object":{"id":"pi_1","amount":100}}}"#,
        );
        let projection = project(
            &ProjectionRule::Provider(Kind::Stripe),
            &event,
            inline(&event),
        )
        .unwrap()
        .unwrap();
        assert_eq!(projection.object_id, "pi_1");
        assert_eq!(
            projection.order_key.as_str(),
            "001795478399.000000000#0#evt_1"
        );
    }

    #[test]
    fn github_object_is_repository_and_event_kind() {
        let event = envelope(
            "d1",
            "pull_request.opened",
            None,
            r#"{"action":"opened","repository":{"full_name":"octo/hello","id":1}}"#,
        );
        let projection = project(
            &ProjectionRule::Provider(Kind::Github),
            &event,
            inline(&event),
        )
        .unwrap()
        .unwrap();
        assert_eq!(projection.object_id, "octo/hello#pull_request");
        let push = envelope(
            "d2",
            "push",
            None,
            r#"{"repository":{"full_name":"octo/hello"}}"#,
        );
        let projection = project(
            &ProjectionRule::Provider(Kind::Github),
            &push,
            inline(&push),
        )
        .unwrap()
        .unwrap();
        assert_eq!(projection.object_id, "octo/hello#push");
    }

    #[test]
    fn github_without_occurred_at_orders_by_received_at() {
        let event = envelope("d1", "push", None, r#"{"repository":{"full_name":"o/r"}}"#);
        assert_eq!(
            key(&ProjectionRule::Provider(Kind::Github), &event).as_str(),
            "001795478400.123000000#0#d1"
        );
    }

    #[test]
    fn moneybutton_object_is_payment_id() {
        let event = moneybutton("pay_1-COMPLETED", "COMPLETED", "2026-11-24T00:00:00Z");
        let projection = project(
            &ProjectionRule::Provider(Kind::MoneyButton),
            &event,
            inline(&event),
        )
        .unwrap()
        .unwrap();
        assert_eq!(projection.object_id, "pay_1");
        assert!(projection.order_key.as_str().contains("#3#"));
    }

    #[test]
    fn moneybutton_status_breaks_ties_and_terminal_states_rank_highest() {
        let at = "2026-11-24T00:00:00Z";
        let rule = ProjectionRule::Provider(Kind::MoneyButton);
        // Ids chosen in the opposite order of the statuses, so only the rank
        // can explain the result.
        let pending = key(&rule, &moneybutton("z", "PENDING", at));
        let received = key(&rule, &moneybutton("y", "RECEIVED", at));
        let completed = key(&rule, &moneybutton("x", "COMPLETED", at));
        let failed = key(&rule, &moneybutton("w", "FAILED", at));
        let double_spent = key(&rule, &moneybutton("v", "DOUBLE_SPENT", at));
        assert!(pending < received);
        assert!(received < completed);
        assert!(completed < failed);
        assert!(completed < double_spent);
    }

    #[test]
    fn later_time_wins_over_higher_rank() {
        let rule = ProjectionRule::Provider(Kind::MoneyButton);
        let completed = key(
            &rule,
            &moneybutton("a", "COMPLETED", "2026-11-24T00:00:00Z"),
        );
        let pending = key(&rule, &moneybutton("b", "PENDING", "2026-11-24T00:00:01Z"));
        assert!(completed < pending);
    }

    #[test]
    fn sub_second_precision_orders_correctly() {
        let rule = ProjectionRule::Provider(Kind::Stripe);
        let payload = r#"{"data":{"object":{"id":"pi"}}}"#;
        let early = envelope("b", "t", Some("2026-11-24T00:00:00.9Z"), payload);
        let late = envelope("a", "t", Some("2026-11-24T00:00:01.05Z"), payload);
        assert!(key(&rule, &early) < key(&rule, &late));
    }

    #[test]
    fn event_id_is_the_last_tiebreak() {
        let rule = ProjectionRule::Provider(Kind::Stripe);
        let payload = r#"{"data":{"object":{"id":"pi"}}}"#;
        let at = Some("2026-11-24T00:00:00Z");
        assert!(
            key(&rule, &envelope("evt_a", "t", at, payload))
                < key(&rule, &envelope("evt_b", "t", at, payload))
        );
    }

    #[test]
    fn pointer_accepts_string_and_number_ids() {
        let rule = ProjectionRule::Pointer("/order/id".to_owned());
        let text = envelope("1", "t", None, r#"{"order":{"id":"ord_9"}}"#);
        let number = envelope("2", "t", None, r#"{"order":{"id":12345678901234}}"#);
        assert_eq!(
            project(&rule, &text, inline(&text))
                .unwrap()
                .unwrap()
                .object_id,
            "ord_9"
        );
        assert_eq!(
            project(&rule, &number, inline(&number))
                .unwrap()
                .unwrap()
                .object_id,
            "12345678901234"
        );
    }

    #[test]
    fn payload_without_an_object_id_is_not_projected() {
        let cases = [
            (ProjectionRule::Provider(Kind::Stripe), r#"{"data":{}}"#),
            (
                ProjectionRule::Provider(Kind::Stripe),
                r#"{"data":{"object":{"id":[7]}}}"#,
            ),
            (ProjectionRule::Provider(Kind::Stripe), r#"[1,2]"#),
            (
                ProjectionRule::Provider(Kind::Github),
                r#"{"organization":{}}"#,
            ),
            (
                ProjectionRule::Provider(Kind::MoneyButton),
                r#"{"payment":{"status":"PENDING"}}"#,
            ),
            (
                ProjectionRule::Pointer("/id".to_owned()),
                r#"{"id":{"nested":1}}"#,
            ),
            (ProjectionRule::Pointer("/id".to_owned()), r#"{"other":1}"#),
        ];
        for (rule, payload) in cases {
            let event = envelope("e", "t", None, payload);
            assert_eq!(
                project(&rule, &event, inline(&event)),
                Ok(None),
                "{rule:?} {payload}"
            );
        }
    }

    #[test]
    fn malformed_times_are_errors() {
        let payload = r#"{"data":{"object":{"id":"pi"}}}"#;
        let event = envelope("e", "t", Some("yesterday"), payload);
        assert_eq!(
            project(
                &ProjectionRule::Provider(Kind::Stripe),
                &event,
                inline(&event)
            ),
            Err(ProjectionError::InvalidTime {
                field: "occurred_at",
                value: "yesterday".to_owned()
            })
        );
        let mut event = envelope("e", "t", None, payload);
        event.received_at = "2026-11-24 00:00".to_owned();
        assert!(matches!(
            EventRecord::new(&event, inline(&event), None, DAY),
            Err(ProjectionError::InvalidTime {
                field: "received_at",
                ..
            })
        ));
    }

    #[test]
    fn record_expires_retention_after_received_at() {
        let event = envelope("e", "t", None, "{}");
        let record = EventRecord::new(&event, inline(&event), None, 30 * DAY).unwrap();
        // 2026-11-24T00:00:00.123Z is 1795478400 s; fractions are dropped.
        assert_eq!(record.expires_at, 1_795_478_400 + 30 * 86_400);
        assert_eq!(record.projection, None);
    }

    proptest! {
        /// The string order of keys is the order of their components.
        #[test]
        fn order_key_compares_like_its_components(
            a in (0u64..253_402_300_799, 0u32..1_000_000_000, 0u8..5, "[a-z0-9_#-]{1,12}"),
            b in (0u64..253_402_300_799, 0u32..1_000_000_000, 0u8..5, "[a-z0-9_#-]{1,12}"),
        ) {
            let to_key = |(secs, nanos, rank, id): &(u64, u32, u8, String)| {
                OrderKey::new(UNIX_EPOCH + Duration::new(*secs, *nanos), *rank, id).unwrap()
            };
            let components = |(secs, nanos, rank, id): &(u64, u32, u8, String)| {
                (*secs, *nanos, *rank, id.clone())
            };
            prop_assert_eq!(to_key(&a).cmp(&to_key(&b)), components(&a).cmp(&components(&b)));
        }
    }
}
