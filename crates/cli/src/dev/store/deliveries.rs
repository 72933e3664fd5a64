//! The deliver route's queue: due deliveries, their attempts and next
//! states, and the dead letters `hookbridge replay` re-queues.

use std::time::SystemTime;

use rusqlite::{Connection, TransactionBehavior, params};

use super::states::{AttemptOutcome, DeliveryState};
use super::{StoreError, from_millis, sql_limit, to_millis};

/// A pending delivery whose attempt is due.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub seq: i64,
    /// 1-based number of the attempt to make, within its schedule.
    pub attempt: u32,
    /// When the schedule's first attempt happened; `None` before it.
    pub schedule_started: Option<SystemTime>,
    /// The envelope.
    pub detail: String,
}

/// Pending deliveries due at `now`, earliest first, skipping `busy` ones.
pub fn due_deliveries(
    connection: &Connection,
    now: SystemTime,
    busy: &[i64],
    limit: usize,
) -> Result<Vec<DueDelivery>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT d.seq, d.next_attempt, d.schedule_started_ms, e.detail
         FROM deliveries d JOIN bus_events e ON e.seq = d.seq
         WHERE d.status = ?1 AND d.due_at_ms <= ?2
         ORDER BY d.due_at_ms, d.seq LIMIT ?3",
    )?;
    let rows = statement.query_map(
        params![
            DeliveryState::Pending,
            to_millis(now),
            sql_limit(limit.saturating_add(busy.len()))
        ],
        |row| {
            Ok(DueDelivery {
                seq: row.get(0)?,
                attempt: row.get(1)?,
                schedule_started: row.get::<_, Option<i64>>(2)?.map(from_millis),
                detail: row.get(3)?,
            })
        },
    )?;
    let mut due = Vec::new();
    for row in rows {
        let delivery = row?;
        if !busy.contains(&delivery.seq) && due.len() < limit {
            due.push(delivery);
        }
    }
    Ok(due)
}

/// When the earliest pending delivery not in `busy` is due.
pub fn next_due(connection: &Connection, busy: &[i64]) -> Result<Option<SystemTime>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT seq, due_at_ms FROM deliveries WHERE status = ?1
         ORDER BY due_at_ms, seq LIMIT ?2",
    )?;
    let rows = statement.query_map(
        params![DeliveryState::Pending, sql_limit(busy.len() + 1)],
        |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
    )?;
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
}

/// Where a delivery stands after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterAttempt {
    Delivered,
    Retry { number: u32, at: SystemTime },
    DeadLettered,
}

/// Records an attempt and the delivery's next state in one transaction.
pub fn record_attempt(
    connection: &mut Connection,
    seq: i64,
    schedule_started: SystemTime,
    attempt: &AttemptRecord,
    next: AfterAttempt,
) -> Result<(), StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    transaction.execute(
        "INSERT INTO attempts (seq, number, at_ms, outcome, status, error)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            seq,
            attempt.number,
            to_millis(attempt.at),
            attempt.outcome,
            attempt.status,
            attempt.error
        ],
    )?;
    let (state, due_at, next_attempt) = match next {
        AfterAttempt::Delivered => (DeliveryState::Delivered, None, attempt.number + 1),
        AfterAttempt::Retry { number, at } => (DeliveryState::Pending, Some(to_millis(at)), number),
        AfterAttempt::DeadLettered => (DeliveryState::DeadLettered, None, attempt.number + 1),
    };
    transaction.execute(
        "UPDATE deliveries SET status = ?2, due_at_ms = ?3, next_attempt = ?4,
             schedule_started_ms = ?5
         WHERE seq = ?1",
        params![
            seq,
            state,
            due_at,
            next_attempt,
            to_millis(schedule_started)
        ],
    )?;
    transaction.commit()?;
    Ok(())
}

/// A dead-lettered delivery put back on a fresh schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requeued {
    pub event_id: String,
    pub source: String,
    pub correlation_id: String,
}

/// Re-queues up to `limit` dead-lettered deliveries (only those of
/// `event_id` if given), oldest first, each due at `now` with a fresh
/// schedule.
pub fn requeue_dead_letters(
    connection: &mut Connection,
    event_id: Option<&str>,
    limit: usize,
    now: SystemTime,
) -> Result<Vec<Requeued>, StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut requeued = Vec::new();
    {
        let mut select = transaction.prepare(
            "SELECT d.seq, e.event_id, e.source, e.correlation_id
             FROM deliveries d JOIN bus_events e ON e.seq = d.seq
             WHERE d.status = ?1 AND (?2 IS NULL OR e.event_id = ?2)
             ORDER BY d.seq LIMIT ?3",
        )?;
        let mut update = transaction.prepare(
            "UPDATE deliveries SET status = ?2, due_at_ms = ?3, next_attempt = 1,
                 schedule_started_ms = NULL
             WHERE seq = ?1",
        )?;
        let rows = select
            .query_map(
                params![DeliveryState::DeadLettered, event_id, sql_limit(limit)],
                |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        Requeued {
                            event_id: row.get(1)?,
                            source: row.get(2)?,
                            correlation_id: row.get(3)?,
                        },
                    ))
                },
            )?
            .collect::<Result<Vec<_>, _>>()?;
        for (seq, entry) in rows {
            update.execute(params![seq, DeliveryState::Pending, to_millis(now)])?;
            requeued.push(entry);
        }
    }
    transaction.commit()?;
    Ok(requeued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::event_list::DeliveryStatus;
    use crate::dev::store::listing::recent_events;
    use crate::dev::store::test_support::{at, fail, fail_first_attempt, store_with_events};

    #[test]
    fn retries_wait_for_their_due_time_and_busy_rows_are_skipped() {
        let store = store_with_events(&["evt_1", "evt_2"]);
        fail_first_attempt(&store, 1, at(120));
        assert_eq!(store.with(|c| next_due(c, &[])).unwrap(), Some(at(0)));
        assert_eq!(store.with(|c| next_due(c, &[2])).unwrap(), Some(at(120)));
        let due = store.with(|c| due_deliveries(c, at(60), &[], 10)).unwrap();
        assert_eq!(due.iter().map(|d| d.seq).collect::<Vec<_>>(), [2]);
        assert!(
            store
                .with(|c| due_deliveries(c, at(60), &[2], 10))
                .unwrap()
                .is_empty()
        );
        let due = store.with(|c| due_deliveries(c, at(120), &[], 10)).unwrap();
        assert_eq!(due.len(), 2);
    }

    #[test]
    fn dead_letters_are_requeued_with_a_fresh_schedule() {
        let store = store_with_events(&["evt_1", "evt_2", "evt_3"]);
        for seq in [1, 2] {
            store
                .with(|c| {
                    record_attempt(
                        c,
                        seq,
                        at(0),
                        &fail(12, at(3000)),
                        AfterAttempt::DeadLettered,
                    )
                })
                .unwrap();
        }
        let list = store.with(|c| recent_events(c, 10)).unwrap();
        let statuses: Vec<DeliveryStatus> = list.events.iter().map(|e| e.delivery.status).collect();
        assert_eq!(
            statuses,
            [
                DeliveryStatus::Pending,
                DeliveryStatus::DeadLettered,
                DeliveryStatus::DeadLettered
            ],
            "newest first"
        );
        let only = store
            .with(|c| requeue_dead_letters(c, Some("evt_2"), 10, at(4000)))
            .unwrap();
        assert_eq!(
            only.iter().map(|r| r.event_id.as_str()).collect::<Vec<_>>(),
            ["evt_2"]
        );
        let none = store
            .with(|c| requeue_dead_letters(c, Some("evt_3"), 10, at(4000)))
            .unwrap();
        assert!(none.is_empty(), "evt_3 is pending, not dead-lettered");
        let rest = store
            .with(|c| requeue_dead_letters(c, None, 10, at(4000)))
            .unwrap();
        assert_eq!(
            rest.iter().map(|r| r.event_id.as_str()).collect::<Vec<_>>(),
            ["evt_1"]
        );
        let due = store
            .with(|c| due_deliveries(c, at(4000), &[3], 10))
            .unwrap();
        let due: Vec<(i64, u32, Option<SystemTime>)> = due
            .iter()
            .map(|d| (d.seq, d.attempt, d.schedule_started))
            .collect();
        assert_eq!(due, [(1, 1, None), (2, 1, None)]);
    }
}
