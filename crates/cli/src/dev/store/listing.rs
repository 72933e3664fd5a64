//! `GET /events`: the newest events with their deliveries and attempts.

use std::collections::HashMap;

use hookbridge_core::delivery_status;
use rusqlite::Connection;

use super::states::{ConsumeState, DeliveryState};
use super::{StoreError, from_millis, sql_limit};
use crate::dev::event_list::{AttemptView, DeliveryView, EventList, EventView};

/// The newest `limit` events with their deliveries and attempts.
pub fn recent_events(connection: &Connection, limit: usize) -> Result<EventList, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT seq, event_id, source, detail_type, received_at, occurred_at,
                correlation_id, duplicates, consume_state
         FROM bus_events ORDER BY seq DESC LIMIT ?1",
    )?;
    let rows = statement.query_map([sql_limit(limit)], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            EventView {
                id: row.get(1)?,
                source: row.get(2)?,
                event_type: row.get(3)?,
                received_at: row.get(4)?,
                occurred_at: row.get(5)?,
                correlation_id: row.get(6)?,
                duplicates: row.get(7)?,
                stored: row.get::<_, ConsumeState>(8)? == ConsumeState::Stored,
                deliveries: Vec::new(),
            },
        ))
    })?;
    let mut events = rows.collect::<Result<Vec<_>, _>>()?;
    let Some(oldest) = events.last().map(|(seq, _)| *seq) else {
        return Ok(EventList { events: Vec::new() });
    };
    let position: HashMap<i64, usize> = events
        .iter()
        .enumerate()
        .map(|(index, (seq, _))| (*seq, index))
        .collect();
    let mut deliveries = connection.prepare_cached(
        "SELECT seq, destination, status FROM deliveries WHERE seq >= ?1
         ORDER BY seq, destination",
    )?;
    let rows = deliveries.query_map([oldest], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            DeliveryView {
                destination: row.get(1)?,
                status: delivery_status::DeliveryState::from(row.get::<_, DeliveryState>(2)?),
                attempts: Vec::new(),
            },
        ))
    })?;
    for row in rows {
        let (seq, delivery) = row?;
        if let Some(&index) = position.get(&seq) {
            events[index].1.deliveries.push(delivery);
        }
    }
    for (seq, destination, attempt) in attempts_since(connection, oldest)? {
        let delivery = position.get(&seq).and_then(|&index| {
            events[index]
                .1
                .deliveries
                .iter_mut()
                .find(|delivery| delivery.destination == destination)
        });
        if let Some(delivery) = delivery {
            delivery.attempts.push(attempt);
        }
    }
    Ok(EventList {
        events: events.into_iter().map(|(_, event)| event).collect(),
    })
}

/// Every attempt of the events from `seq` on, oldest first, with its event
/// and destination.
fn attempts_since(
    connection: &Connection,
    seq: i64,
) -> Result<Vec<(i64, String, AttemptView)>, StoreError> {
    let mut attempts = connection.prepare_cached(
        "SELECT seq, destination, number, at_ms, outcome, status, error, latency_ms,
                response_excerpt
         FROM attempts WHERE seq >= ?1 ORDER BY rowid",
    )?;
    let rows = attempts.query_map([seq], |row| {
        Ok((
            row.get(0)?,
            row.get(1)?,
            AttemptView {
                number: row.get(2)?,
                at: humantime::format_rfc3339_millis(from_millis(row.get(3)?)).to_string(),
                outcome: row.get(4)?,
                status: row.get(5)?,
                error: row.get(6)?,
                latency_ms: row.get(7)?,
                response_excerpt: row.get(8)?,
            },
        ))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::dev::store::deliveries::{AfterAttempt, AttemptRecord, record_attempt};
    use crate::dev::store::persist::mark_consumed;
    use crate::dev::store::states::AttemptOutcome;
    use crate::dev::store::test_support::{DEFAULT, at, fail_first_attempt, store_with_events};

    #[test]
    fn events_carry_their_attempts_in_order() {
        let store = store_with_events(&["evt_1", "evt_2"]);
        fail_first_attempt(&store, 1, at(0));
        let delivered = AttemptRecord {
            number: 2,
            at: at(1),
            outcome: AttemptOutcome::Delivered,
            status: Some(204),
            error: None,
            latency: Duration::from_millis(3),
            response_excerpt: None,
        };
        store
            .with(|c| record_attempt(c, 1, DEFAULT, at(0), &delivered, AfterAttempt::Delivered))
            .unwrap();
        store.with(|c| mark_consumed(c, 1, None)).unwrap();
        store
            .with(|c| mark_consumed(c, 2, Some("rejected")))
            .unwrap();
        let list = store.with(|c| recent_events(c, 1)).unwrap();
        assert_eq!(list.events.len(), 1, "the limit holds");
        assert_eq!(list.events[0].id, "evt_2");
        assert!(!list.events[0].stored, "refused by the consumer");
        assert_eq!(list.events[0].deliveries.len(), 1);
        assert!(list.events[0].deliveries[0].attempts.is_empty());
        let list = store.with(|c| recent_events(c, 10)).unwrap();
        let first = &list.events[1];
        assert!(first.stored);
        let delivery = &first.deliveries[0];
        assert_eq!(delivery.destination, DEFAULT);
        assert_eq!(delivery.status, delivery_status::DeliveryState::Delivered);
        let attempts: Vec<(u32, AttemptOutcome, Option<u16>, Option<u64>)> = delivery
            .attempts
            .iter()
            .map(|a| (a.number, a.outcome, a.status, a.latency_ms))
            .collect();
        assert_eq!(
            attempts,
            [
                (1, AttemptOutcome::Failed, Some(500), Some(7)),
                (2, AttemptOutcome::Delivered, Some(204), Some(3))
            ]
        );
        assert_eq!(
            delivery.attempts[0].response_excerpt.as_deref(),
            Some("busy")
        );
        assert_eq!(delivery.attempts[1].at, "2027-01-15T08:00:01.000Z");
    }
}
