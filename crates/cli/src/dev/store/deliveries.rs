//! The deliver routes' queues, one per destination: due deliveries, their
//! attempts and next states, and the dead letters `hookbridge replay`
//! re-queues.

use std::time::{Duration, SystemTime};

use rusqlite::{Connection, params};

use super::states::{AttemptOutcome, DeliveryState};
use super::{StoreError, from_millis, sql_limit, to_millis};

/// A delivery to the queue's destination whose attempt is due.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub seq: i64,
    /// 1-based number of the attempt to make, within its schedule.
    pub attempt: u32,
    /// When the schedule's first attempt happened; `None` before it.
    pub schedule_started: Option<SystemTime>,
    /// How far into the schedule (unscaled) this attempt is due; `None`:
    /// where the listed schedule puts it (a first attempt, or a delivery
    /// an older schema left retrying).
    pub schedule_elapsed: Option<Duration>,
    /// The envelope.
    pub detail: String,
}

/// Deliveries to `destination` due at `now`, earliest first, skipping
/// `busy` ones. The busy ones are left out in the query itself, so their
/// envelopes are not read again each time an attempt finishes.
pub fn due_deliveries(
    connection: &Connection,
    destination: &str,
    now: SystemTime,
    busy: &[i64],
    limit: usize,
) -> Result<Vec<DueDelivery>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT d.seq, d.next_attempt, d.schedule_started_ms, d.schedule_elapsed_ms, e.detail
         FROM deliveries d JOIN bus_events e ON e.seq = d.seq
         WHERE d.destination = ?1 AND d.due_at_ms IS NOT NULL AND d.due_at_ms <= ?2
             AND d.seq NOT IN (SELECT value FROM json_each(?4))
         ORDER BY d.due_at_ms, d.seq LIMIT ?3",
    )?;
    let busy = format!(
        "[{}]",
        busy.iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let rows = statement.query_map(
        params![destination, to_millis(now), sql_limit(limit), busy],
        |row| {
            Ok(DueDelivery {
                seq: row.get(0)?,
                attempt: row.get(1)?,
                schedule_started: row.get::<_, Option<i64>>(2)?.map(from_millis),
                schedule_elapsed: row
                    .get::<_, Option<i64>>(3)?
                    .map(|ms| Duration::from_millis(ms.max(0).unsigned_abs())),
                detail: row.get(4)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub fn next_due(
    connection: &Connection,
    destination: &str,
    busy: &[i64],
) -> Result<Option<SystemTime>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT seq, due_at_ms FROM deliveries
         WHERE destination = ?1 AND due_at_ms IS NOT NULL
         ORDER BY due_at_ms, seq LIMIT ?2",
    )?;
    let rows = statement.query_map(params![destination, sql_limit(busy.len() + 1)], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
    })?;
    for row in rows {
        let (seq, due_at) = row?;
        if !busy.contains(&seq) {
            return Ok(Some(from_millis(due_at)));
        }
    }
    Ok(None)
}

/// One finished attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    pub number: u32,
    pub at: SystemTime,
    pub outcome: AttemptOutcome,
    pub status: Option<u16>,
    pub error: Option<String>,
    /// From the start of the request to its answer (or failure).
    pub latency: Duration,
    /// The start of the answer's body, at most 1 KiB.
    pub response_excerpt: Option<String>,
}

/// Where a delivery stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    Delivered,
    /// Attempt `number` is due at `at`, `schedule_elapsed` (unscaled) into
    /// the schedule.
    Retry {
        number: u32,
        at: SystemTime,
        schedule_elapsed: Duration,
    },
    DeadLettered,
}

/// Records an attempt of the delivery of event `seq` to `destination` and
/// the delivery's next state, atomically.
pub fn record_attempt(
    connection: &Connection,
    seq: i64,
    destination: &str,
    schedule_started: SystemTime,
    attempt: &AttemptRecord,
    next: AfterAttempt,
) -> Result<(), StoreError> {
    connection
        .prepare_cached(
            "INSERT INTO attempts (seq, destination, number, at_ms, outcome, status, error,
             latency_ms, response_excerpt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?
        .execute(params![
            seq,
            destination,
            attempt.number,
            to_millis(attempt.at),
            attempt.outcome,
            attempt.status,
            attempt.error,
            i64::try_from(attempt.latency.as_millis()).unwrap_or(i64::MAX),
            attempt.response_excerpt
        ])?;
    let (state, due_at, next_attempt, schedule_elapsed) = match next {
        AfterAttempt::Delivered => (DeliveryState::Delivered, None, attempt.number + 1, None),
        AfterAttempt::Retry {
            number,
            at,
            schedule_elapsed,
        } => (
            DeliveryState::Retrying,
            Some(to_millis(at)),
            number,
            Some(i64::try_from(schedule_elapsed.as_millis()).unwrap_or(i64::MAX)),
        ),
        AfterAttempt::DeadLettered => (DeliveryState::DeadLettered, None, attempt.number + 1, None),
    };
    connection
        .prepare_cached(
            "UPDATE deliveries SET status = ?3, due_at_ms = ?4, next_attempt = ?5,
             schedule_started_ms = ?6, schedule_elapsed_ms = ?7
         WHERE seq = ?1 AND destination = ?2",
        )?
        .execute(params![
            seq,
            destination,
            state,
            due_at,
            next_attempt,
            to_millis(schedule_started),
            schedule_elapsed
        ])?;
    Ok(())
}

/// Which dead letters a replay re-queues: all, or only an event's, or only
/// a destination's, or both.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadLetterFilter<'a> {
    pub event_id: Option<&'a str>,
    pub destination: Option<&'a str>,
}

/// A dead-lettered delivery put back on a fresh schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requeued {
    pub event_id: String,
    pub source: String,
    pub destination: String,
    pub correlation_id: String,
}

/// Re-queues up to `limit` dead-lettered deliveries that `filter` selects,
/// oldest first, each due at `now` with a fresh schedule (and so a fresh
/// horizon: the replay is a person's decision to try again); every other
/// delivery of the same events is left alone.
pub fn requeue_dead_letters(
    connection: &Connection,
    filter: DeadLetterFilter<'_>,
    limit: usize,
    now: SystemTime,
) -> Result<Vec<Requeued>, StoreError> {
    let mut requeued = Vec::new();
    {
        let mut select = connection.prepare(
            "SELECT d.seq, e.event_id, e.source, d.destination, e.correlation_id
             FROM deliveries d JOIN bus_events e ON e.seq = d.seq
             WHERE d.status = ?1 AND (?2 IS NULL OR e.event_id = ?2)
                 AND (?3 IS NULL OR d.destination = ?3)
             ORDER BY d.seq, d.destination LIMIT ?4",
        )?;
        let mut update = connection.prepare(
            "UPDATE deliveries SET status = ?3, due_at_ms = ?4, next_attempt = 1,
                 schedule_started_ms = NULL, schedule_elapsed_ms = NULL
             WHERE seq = ?1 AND destination = ?2",
        )?;
        let rows = select
            .query_map(
                params![
                    DeliveryState::DeadLettered,
                    filter.event_id,
                    filter.destination,
                    sql_limit(limit)
                ],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        Requeued {
                            event_id: row.get(1)?,
                            source: row.get(2)?,
                            destination: row.get(3)?,
                            correlation_id: row.get(4)?,
                        },
                    ))
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        for (seq, entry) in rows {
            update.execute(params![
                seq,
                entry.destination,
                DeliveryState::Pending,
                to_millis(now)
            ])?;
            requeued.push(entry);
        }
    }
    Ok(requeued)
}

#[cfg(test)]
mod tests {
    use hookbridge_core::delivery_status::DeliveryState as Status;

    use super::*;
    use crate::dev::store::bus::publish;
    use crate::dev::store::listing::recent_events;
    use crate::dev::store::test_support::{
        DEFAULT, at, bus_event, fail, fail_first_attempt, store_with_events,
    };

    fn dead_letter(store: &crate::dev::store::LocalStore, seq: i64, destination: &str) {
        store
            .with(|c| {
                record_attempt(
                    c,
                    seq,
                    destination,
                    at(0),
                    &fail(12, at(3000)),
                    AfterAttempt::DeadLettered,
                )
            })
            .unwrap();
    }

    fn only_event(event_id: &str) -> DeadLetterFilter<'_> {
        DeadLetterFilter {
            event_id: Some(event_id),
            destination: None,
        }
    }

    #[test]
    fn retries_wait_for_their_due_time_and_busy_rows_are_skipped() {
        let store = store_with_events(&["evt_1", "evt_2"]);
        fail_first_attempt(&store, 1, at(120));
        assert_eq!(
            store.with(|c| next_due(c, DEFAULT, &[])).unwrap(),
            Some(at(0))
        );
        assert_eq!(
            store.with(|c| next_due(c, DEFAULT, &[2])).unwrap(),
            Some(at(120))
        );
        let due = store
            .with(|c| due_deliveries(c, DEFAULT, at(60), &[], 10))
            .unwrap();
        assert_eq!(due.iter().map(|d| d.seq).collect::<Vec<_>>(), [2]);
        assert!(
            store
                .with(|c| due_deliveries(c, DEFAULT, at(60), &[2], 10))
                .unwrap()
                .is_empty()
        );
        let due = store
            .with(|c| due_deliveries(c, DEFAULT, at(120), &[], 10))
            .unwrap();
        assert_eq!(due.len(), 2);
        assert!(
            store
                .with(|c| due_deliveries(c, "other", at(120), &[], 10))
                .unwrap()
                .is_empty(),
            "each destination has its own queue"
        );
    }

    #[test]
    fn the_limit_counts_only_deliveries_not_in_flight() {
        let store = store_with_events(&["evt_1", "evt_2", "evt_3", "evt_4"]);
        let due = store
            .with(|c| due_deliveries(c, DEFAULT, at(0), &[1, 3], 2))
            .unwrap();
        assert_eq!(due.iter().map(|d| d.seq).collect::<Vec<_>>(), [2, 4]);
        let due = store
            .with(|c| due_deliveries(c, DEFAULT, at(0), &[1, 2, 3, 4], 2))
            .unwrap();
        assert!(due.is_empty());
    }

    #[test]
    fn dead_letters_are_requeued_with_a_fresh_schedule() {
        let store = store_with_events(&["evt_1", "evt_2", "evt_3"]);
        for seq in [1, 2] {
            dead_letter(&store, seq, DEFAULT);
        }
        let list = store.with(|c| recent_events(c, 10)).unwrap();
        let statuses: Vec<Status> = list.events.iter().map(|e| e.deliveries[0].status).collect();
        assert_eq!(
            statuses,
            [Status::Pending, Status::DeadLettered, Status::DeadLettered],
            "newest first"
        );
        let only = store
            .with(|c| requeue_dead_letters(c, only_event("evt_2"), 10, at(4000)))
            .unwrap();
        assert_eq!(
            only.iter().map(|r| r.event_id.as_str()).collect::<Vec<_>>(),
            ["evt_2"]
        );
        let none = store
            .with(|c| requeue_dead_letters(c, only_event("evt_3"), 10, at(4000)))
            .unwrap();
        assert!(none.is_empty(), "evt_3 is pending, not dead-lettered");
        let rest = store
            .with(|c| requeue_dead_letters(c, DeadLetterFilter::default(), 10, at(4000)))
            .unwrap();
        assert_eq!(
            rest.iter().map(|r| r.event_id.as_str()).collect::<Vec<_>>(),
            ["evt_1"]
        );
        let due = store
            .with(|c| due_deliveries(c, DEFAULT, at(4000), &[3], 10))
            .unwrap();
        let due: Vec<(i64, u32, Option<SystemTime>)> = due
            .iter()
            .map(|d| (d.seq, d.attempt, d.schedule_started))
            .collect();
        assert_eq!(due, [(1, 1, None), (2, 1, None)]);
    }

    #[test]
    fn a_replay_for_one_destination_leaves_the_others_alone() {
        let store = crate::dev::store::LocalStore::in_memory();
        let both = hookbridge_core::destinations::Destinations::from_json(
            r#"{"billing": {"url": "http://127.0.0.1:9/b"}, "crm": {"url": "http://127.0.0.1:9/c"}}"#,
        )
        .unwrap();
        store
            .with(|c| publish(c, &bus_event("evt_1", "c"), None, &both, at(0)))
            .unwrap();
        dead_letter(&store, 1, "billing");
        dead_letter(&store, 1, "crm");
        let crm_only = DeadLetterFilter {
            event_id: Some("evt_1"),
            destination: Some("crm"),
        };
        let requeued = store
            .with(|c| requeue_dead_letters(c, crm_only, 10, at(4000)))
            .unwrap();
        assert_eq!(
            requeued
                .iter()
                .map(|r| (r.event_id.as_str(), r.destination.as_str()))
                .collect::<Vec<_>>(),
            [("evt_1", "crm")]
        );
        let due = |name: &str| {
            store
                .with(|c| due_deliveries(c, name, at(4000), &[], 10))
                .unwrap()
                .len()
        };
        assert_eq!((due("billing"), due("crm")), (0, 1));
        let listed = store.with(|c| recent_events(c, 10)).unwrap();
        let states: Vec<(&str, Status)> = listed.events[0]
            .deliveries
            .iter()
            .map(|d| (d.destination.as_str(), d.status))
            .collect();
        assert_eq!(
            states,
            [("billing", Status::DeadLettered), ("crm", Status::Pending)]
        );
        let unknown = DeadLetterFilter {
            event_id: None,
            destination: Some("nobody"),
        };
        assert!(
            store
                .with(|c| requeue_dead_letters(c, unknown, 10, at(4000)))
                .unwrap()
                .is_empty()
        );
    }
}
