//! The console's reads and actions: a filtered page of events, one event in
//! full, the delivery counts, an event's request headers and redelivery.

use std::time::SystemTime;

use hookbridge_core::delivery_status;
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use serde_json::value::RawValue;

use super::states::{ConsumeState, DeliveryState};
use super::{StoreError, from_millis, sql_limit, to_millis};
use crate::dev::event_list::AttemptView;

/// Which events a page holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub source: Option<String>,
    /// Exact, or a prefix ending in `*`.
    pub event_type: Option<String>,
    /// Events with at least one delivery in this state.
    pub status: Option<DeliveryState>,
    pub event_id: Option<String>,
}

/// A page of events, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventPage {
    pub events: Vec<EventSummary>,
    /// Pass it as `cursor` for the next (older) page; `None` on the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventSummary {
    /// The event's key in this store: `GET /api/events/{seq}`.
    pub seq: i64,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub received_at: String,
    pub duplicates: u64,
    pub stored: bool,
    pub deliveries: Vec<DeliverySummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliverySummary {
    pub destination: String,
    pub status: delivery_status::DeliveryState,
    pub attempts: u32,
    /// RFC 3339 UTC, while pending or retrying.
    pub next_attempt_at: Option<String>,
}

/// Up to `limit` events older than `before` (a `seq`; none: the newest)
/// that `filter` selects.
pub fn event_page(
    connection: &Connection,
    filter: &EventFilter,
    before: Option<i64>,
    limit: usize,
) -> Result<EventPage, StoreError> {
    let (exact_type, type_prefix) = match filter.event_type.as_deref() {
        Some(pattern) => match pattern.strip_suffix('*') {
            Some(prefix) => (None, Some(prefix)),
            None => (Some(pattern), None),
        },
        None => (None, None),
    };
    let mut statement = connection.prepare_cached(
        "SELECT seq, event_id, source, detail_type, received_at, duplicates, consume_state
         FROM bus_events e
         WHERE (?1 IS NULL OR seq < ?1) AND (?2 IS NULL OR source = ?2)
             AND (?3 IS NULL OR event_id = ?3) AND (?4 IS NULL OR detail_type = ?4)
             AND (?5 IS NULL OR substr(detail_type, 1, length(?5)) = ?5)
             AND (?6 IS NULL OR EXISTS
                 (SELECT 1 FROM deliveries d WHERE d.seq = e.seq AND d.status = ?6))
         ORDER BY seq DESC LIMIT ?7",
    )?;
    let rows = statement.query_map(
        params![
            before,
            filter.source,
            filter.event_id,
            exact_type,
            type_prefix,
            filter.status,
            sql_limit(limit.saturating_add(1))
        ],
        |row| {
            Ok(EventSummary {
                seq: row.get(0)?,
                id: row.get(1)?,
                source: row.get(2)?,
                event_type: row.get(3)?,
                received_at: row.get(4)?,
                duplicates: row.get(5)?,
                stored: row.get::<_, ConsumeState>(6)? == ConsumeState::Stored,
                deliveries: Vec::new(),
            })
        },
    )?;
    let mut events = rows.collect::<Result<Vec<_>, _>>()?;
    let more = events.len() > limit;
    events.truncate(limit);
    let mut deliveries = connection.prepare_cached(
        "SELECT d.destination, d.status, d.due_at_ms,
                (SELECT COUNT(*) FROM attempts a WHERE a.seq = d.seq AND a.destination = d.destination)
         FROM deliveries d WHERE d.seq = ?1 ORDER BY d.destination",
    )?;
    for event in &mut events {
        event.deliveries = deliveries
            .query_map([event.seq], |row| {
                Ok(DeliverySummary {
                    destination: row.get(0)?,
                    status: row.get::<_, DeliveryState>(1)?.into(),
                    next_attempt_at: row.get::<_, Option<i64>>(2)?.map(rfc3339),
                    attempts: row.get(3)?,
                })
            })?
            .collect::<Result<_, _>>()?;
    }
    let next_cursor = more
        .then(|| events.last().map(|event| event.seq.to_string()))
        .flatten();
    Ok(EventPage {
        events,
        next_cursor,
    })
}

/// One event in full.
#[derive(Debug, Clone, Serialize)]
pub struct EventDetail {
    pub seq: i64,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub received_at: String,
    pub occurred_at: Option<String>,
    pub correlation_id: String,
    pub duplicates: u64,
    pub stored: bool,
    /// Why the consumer refused it, if it did.
    pub consume_error: Option<String>,
    /// As received, signatures and secrets masked; `None` for events
    /// received before this build recorded headers.
    pub headers: Option<Vec<(String, String)>>,
    /// The envelope on the bus: its `payload`, or its `payload_ref` when
    /// the payload was stored apart.
    pub envelope: Box<RawValue>,
    pub deliveries: Vec<DeliveryDetail>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryDetail {
    pub destination: String,
    pub status: delivery_status::DeliveryState,
    /// Oldest first.
    pub attempts: Vec<AttemptView>,
    /// While pending or retrying.
    pub next_attempt: Option<NextAttempt>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NextAttempt {
    pub number: u32,
    /// RFC 3339 UTC.
    pub at: String,
}

/// The event stored as `seq`, or `None`.
pub fn event_detail(connection: &Connection, seq: i64) -> Result<Option<EventDetail>, StoreError> {
    let event = connection
        .query_row(
            "SELECT event_id, source, detail_type, received_at, occurred_at, correlation_id,
                    duplicates, consume_state, consume_error, request_headers, detail
             FROM bus_events WHERE seq = ?1",
            [seq],
            |row| {
                Ok((
                    EventSummary {
                        seq,
                        id: row.get(0)?,
                        source: row.get(1)?,
                        event_type: row.get(2)?,
                        received_at: row.get(3)?,
                        duplicates: row.get(6)?,
                        stored: row.get::<_, ConsumeState>(7)? == ConsumeState::Stored,
                        deliveries: Vec::new(),
                    },
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, Option<String>>(8)?,
                    row.get::<_, Option<String>>(9)?,
                    row.get::<_, String>(10)?,
                ))
            },
        )
        .optional()?;
    let Some((summary, occurred_at, correlation_id, consume_error, headers, detail)) = event else {
        return Ok(None);
    };
    let headers = headers
        .map(|headers| serde_json::from_str(&headers))
        .transpose()
        .map_err(StoreError::InvalidDetail)?;
    let envelope = RawValue::from_string(detail).map_err(StoreError::InvalidDetail)?;
    let mut statement = connection.prepare_cached(
        "SELECT destination, status, due_at_ms, next_attempt FROM deliveries
         WHERE seq = ?1 ORDER BY destination",
    )?;
    let mut deliveries: Vec<DeliveryDetail> = statement
        .query_map([seq], |row| {
            let due: Option<i64> = row.get(2)?;
            let number: u32 = row.get(3)?;
            Ok(DeliveryDetail {
                destination: row.get(0)?,
                status: row.get::<_, DeliveryState>(1)?.into(),
                attempts: Vec::new(),
                next_attempt: due.map(|due| NextAttempt {
                    number,
                    at: rfc3339(due),
                }),
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut attempts = connection.prepare_cached(
        "SELECT destination, number, at_ms, outcome, status, error, latency_ms, response_excerpt
         FROM attempts WHERE seq = ?1 ORDER BY rowid",
    )?;
    let rows = attempts.query_map([seq], |row| {
        Ok((
            row.get::<_, String>(0)?,
            AttemptView {
                number: row.get(1)?,
                at: rfc3339(row.get(2)?),
                outcome: row.get(3)?,
                status: row.get(4)?,
                error: row.get(5)?,
                latency_ms: row.get(6)?,
                response_excerpt: row.get(7)?,
            },
        ))
    })?;
    for row in rows {
        let (destination, attempt) = row?;
        if let Some(delivery) = deliveries
            .iter_mut()
            .find(|delivery| delivery.destination == destination)
        {
            delivery.attempts.push(attempt);
        }
    }
    Ok(Some(EventDetail {
        seq,
        id: summary.id,
        source: summary.source,
        event_type: summary.event_type,
        received_at: summary.received_at,
        occurred_at,
        correlation_id,
        duplicates: summary.duplicates,
        stored: summary.stored,
        consume_error,
        headers,
        envelope,
        deliveries,
    }))
}

/// How many deliveries stand in each state, and how many events and
/// refusals are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub events: u64,
    pub refusals: u64,
    pub pending: u64,
    pub retrying: u64,
    pub delivered: u64,
    pub dead_lettered: u64,
}

pub fn counts(connection: &Connection) -> Result<Counts, StoreError> {
    let mut counts = Counts {
        events: connection.query_row("SELECT COUNT(*) FROM bus_events", [], |row| row.get(0))?,
        refusals: connection.query_row("SELECT COUNT(*) FROM refusals", [], |row| row.get(0))?,
        ..Counts::default()
    };
    let mut statement =
        connection.prepare_cached("SELECT status, COUNT(*) FROM deliveries GROUP BY status")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, DeliveryState>(0)?, row.get::<_, u64>(1)?))
    })?;
    for row in rows {
        let (state, count) = row?;
        match state {
            DeliveryState::Pending => counts.pending = count,
            DeliveryState::Retrying => counts.retrying = count,
            DeliveryState::Delivered => counts.delivered = count,
            DeliveryState::DeadLettered => counts.dead_lettered = count,
        }
    }
    Ok(counts)
}

/// Puts the finished (delivered or dead-lettered) deliveries of event `seq`
/// (only the one to `destination`, if named) back on a fresh schedule, due
/// at `now`; deliveries still pending or retrying are left alone. Returns
/// the destinations re-queued.
pub fn redeliver(
    connection: &Connection,
    seq: i64,
    destination: Option<&str>,
    now: SystemTime,
) -> Result<Vec<String>, StoreError> {
    let requeued = {
        let mut update = connection.prepare(
            "UPDATE deliveries SET status = ?3, due_at_ms = ?4, next_attempt = 1,
                 schedule_started_ms = NULL, schedule_elapsed_ms = NULL
             WHERE seq = ?1 AND (?2 IS NULL OR destination = ?2) AND status IN (?5, ?6)
             RETURNING destination",
        )?;
        let rows = update.query_map(
            params![
                seq,
                destination,
                DeliveryState::Pending,
                to_millis(now),
                DeliveryState::Delivered,
                DeliveryState::DeadLettered
            ],
            |row| row.get::<_, String>(0),
        )?;
        let mut requeued = rows.collect::<Result<Vec<_>, _>>()?;
        requeued.sort();
        requeued
    };
    Ok(requeued)
}

fn rfc3339(millis: i64) -> String {
    humantime::format_rfc3339_millis(from_millis(millis)).to_string()
}

#[cfg(test)]
mod tests {
    use hookbridge_core::delivery_status::DeliveryState as Status;

    use super::*;
    use crate::dev::store::LocalStore;
    use crate::dev::store::bus::publish;
    use crate::dev::store::deliveries::{AfterAttempt, record_attempt};
    use crate::dev::store::test_support::{
        DEFAULT, at, billing_and_prs, bus_event, default_only, fail, fail_first_attempt,
        store_with_events,
    };

    fn ids(page: &EventPage) -> Vec<&str> {
        page.events.iter().map(|event| event.id.as_str()).collect()
    }

    #[test]
    fn pages_follow_the_cursor_to_the_oldest_event() {
        let store = store_with_events(&["evt_1", "evt_2", "evt_3"]);
        let all = EventFilter::default();
        let first = store.with(|c| event_page(c, &all, None, 2)).unwrap();
        assert_eq!(ids(&first), ["evt_3", "evt_2"]);
        let cursor: i64 = first.next_cursor.as_deref().unwrap().parse().unwrap();
        let second = store
            .with(|c| event_page(c, &all, Some(cursor), 2))
            .unwrap();
        assert_eq!(ids(&second), ["evt_1"]);
        assert_eq!(second.next_cursor, None, "the last page");
    }

    #[test]
    fn filters_select_by_source_type_status_and_id() {
        let store = LocalStore::in_memory();
        store
            .with(|c| publish(c, &bus_event("evt_1", "c"), None, &billing_and_prs(), at(0)))
            .unwrap();
        let retry = AfterAttempt::Retry {
            number: 2,
            at: at(60),
            schedule_elapsed: std::time::Duration::ZERO,
        };
        store
            .with(|c| record_attempt(c, 1, "billing", at(0), &fail(1, at(0)), retry))
            .unwrap();
        store
            .with(|c| {
                publish(
                    c,
                    &hookbridge_core::ports::BusEvent {
                        source: "hookbridge.github".into(),
                        detail_type: "pull_request.opened".into(),
                        detail: r#"{"id":"gh_1","source":"github","type":"pull_request.opened",
                            "received_at":"2026-11-24T00:00:00.000Z","occurred_at":null,
                            "correlation_id":"c","payload":{}}"#
                            .into(),
                    },
                    None,
                    &billing_and_prs(),
                    at(0),
                )
            })
            .unwrap();
        let page = |filter: EventFilter| {
            let page = store.with(|c| event_page(c, &filter, None, 10)).unwrap();
            ids(&page)
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        };
        let source = |name: &str| EventFilter {
            source: Some(name.into()),
            ..EventFilter::default()
        };
        assert_eq!(page(source("github")), ["gh_1"]);
        let of_type = |pattern: &str| EventFilter {
            event_type: Some(pattern.into()),
            ..EventFilter::default()
        };
        assert_eq!(page(of_type("pull_request.*")), ["gh_1"]);
        assert_eq!(page(of_type("pull_request")), Vec::<String>::new());
        assert_eq!(page(of_type("payment_intent.succeeded")), ["evt_1"]);
        let status = |state| EventFilter {
            status: Some(state),
            ..EventFilter::default()
        };
        assert_eq!(page(status(DeliveryState::Pending)), ["gh_1"]);
        let id = EventFilter {
            event_id: Some("evt_1".into()),
            ..EventFilter::default()
        };
        assert_eq!(page(id), ["evt_1"]);
        let listed = store
            .with(|c| event_page(c, &EventFilter::default(), None, 10))
            .unwrap();
        let delivery = &listed.events[1].deliveries[0];
        assert_eq!(
            (
                delivery.destination.as_str(),
                delivery.status,
                delivery.attempts
            ),
            ("billing", Status::Retrying, 1)
        );
        assert_eq!(delivery.next_attempt_at, Some(rfc3339(to_millis(at(60)))));
    }

    #[test]
    fn an_event_in_full_has_its_headers_envelope_attempts_and_next_attempt() {
        let store = LocalStore::in_memory();
        let headers = vec![("stripe-signature".to_owned(), "[masked]".to_owned())];
        let later = vec![("x".to_owned(), "y".to_owned())];
        for sent in [&headers, &later] {
            let json = serde_json::to_string(sent).unwrap();
            store
                .with(|c| {
                    publish(
                        c,
                        &bus_event("evt_1", "c"),
                        Some(&json),
                        &default_only(),
                        at(0),
                    )
                })
                .unwrap();
        }
        fail_first_attempt(&store, 1, at(120));
        let detail = store.with(|c| event_detail(c, 1)).unwrap().unwrap();
        assert_eq!(
            detail.headers,
            Some(headers),
            "a duplicate keeps the first headers"
        );
        let envelope: serde_json::Value = serde_json::from_str(detail.envelope.get()).unwrap();
        assert_eq!(envelope["payload"]["id"], "evt_1");
        let delivery = &detail.deliveries[0];
        assert_eq!(delivery.status, Status::Retrying);
        assert_eq!(delivery.attempts.len(), 1);
        assert_eq!(delivery.attempts[0].status, Some(500));
        assert_eq!(
            delivery.next_attempt,
            Some(NextAttempt {
                number: 2,
                at: rfc3339(to_millis(at(120)))
            })
        );
        assert!(store.with(|c| event_detail(c, 2)).unwrap().is_none());
    }

    #[test]
    fn redeliver_requeues_finished_deliveries_only() {
        let store = store_with_events(&["evt_1", "evt_2"]);
        store
            .with(|c| {
                record_attempt(
                    c,
                    1,
                    DEFAULT,
                    at(0),
                    &fail(12, at(10)),
                    AfterAttempt::DeadLettered,
                )
            })
            .unwrap();
        assert_eq!(
            store.with(|c| redeliver(c, 2, None, at(20))).unwrap(),
            Vec::<String>::new(),
            "evt_2 is still pending"
        );
        assert_eq!(
            store.with(|c| redeliver(c, 1, None, at(20))).unwrap(),
            [DEFAULT]
        );
        let counted = store.with(|c| counts(c)).unwrap();
        assert_eq!(
            counted,
            Counts {
                events: 2,
                pending: 2,
                ..Counts::default()
            }
        );
        let detail = store.with(|c| event_detail(c, 1)).unwrap().unwrap();
        assert_eq!(
            detail.deliveries[0].next_attempt,
            Some(NextAttempt {
                number: 1,
                at: rfc3339(to_millis(at(20)))
            }),
            "a fresh schedule"
        );
        assert_eq!(detail.deliveries[0].attempts.len(), 1, "history is kept");
    }
}
