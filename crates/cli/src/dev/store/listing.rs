//! `GET /events`: the newest events with their deliveries and attempts.

use std::collections::HashMap;

use rusqlite::Connection;

use super::states::{ConsumeState, DeliveryState};
use super::{StoreError, from_millis, sql_limit};
use crate::dev::event_list::{AttemptView, DeliveryStatus, DeliveryView, EventList, EventView};

/// The newest `limit` events with their deliveries and attempts.
pub fn recent_events(connection: &Connection, limit: usize) -> Result<EventList, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT e.seq, e.event_id, e.source, e.detail_type, e.received_at, e.occurred_at,
                e.correlation_id, e.duplicates, e.consume_state, d.status
         FROM bus_events e LEFT JOIN deliveries d ON d.seq = e.seq
         ORDER BY e.seq DESC LIMIT ?1",
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
                delivery: DeliveryView {
                    status: DeliveryStatus::from(row.get::<_, Option<DeliveryState>>(9)?),
                    attempts: Vec::new(),
                },
            },
        ))
    })?;
    let mut events = rows.collect::<Result<Vec<_>, _>>()?;
    if let Some(oldest) = events.last().map(|(seq, _)| *seq) {
        let mut attempts = connection.prepare_cached(
            "SELECT seq, number, at_ms, outcome, status, error FROM attempts
             WHERE seq >= ?1 ORDER BY rowid",
        )?;
        let rows = attempts.query_map([oldest], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                AttemptView {
                    number: row.get(1)?,
                    at: humantime::format_rfc3339_millis(from_millis(row.get(2)?)).to_string(),
                    outcome: row.get(3)?,
                    status: row.get(4)?,
                    error: row.get(5)?,
                },
            ))
        })?;
        let position: HashMap<i64, usize> = events
            .iter()
            .enumerate()
            .map(|(index, (seq, _))| (*seq, index))
            .collect();
        for row in rows {
            let (seq, attempt) = row?;
            if let Some(&index) = position.get(&seq) {
                events[index].1.delivery.attempts.push(attempt);
            }
        }
    }
    Ok(EventList {
        events: events.into_iter().map(|(_, event)| event).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::store::deliveries::{AfterAttempt, AttemptRecord, record_attempt};
    use crate::dev::store::persist::mark_consumed;
    use crate::dev::store::states::AttemptOutcome;
    use crate::dev::store::test_support::{at, fail_first_attempt, store_with_events};

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
        };
        store
            .with(|c| record_attempt(c, 1, at(0), &delivered, AfterAttempt::Delivered))
            .unwrap();
        store.with(|c| mark_consumed(c, 1, None)).unwrap();
        store
            .with(|c| mark_consumed(c, 2, Some("rejected")))
            .unwrap();
        let list = store.with(|c| recent_events(c, 1)).unwrap();
        assert_eq!(list.events.len(), 1, "the limit holds");
        assert_eq!(list.events[0].id, "evt_2");
        assert!(!list.events[0].stored, "refused by the consumer");
        assert!(list.events[0].delivery.attempts.is_empty());
        let list = store.with(|c| recent_events(c, 10)).unwrap();
        let first = &list.events[1];
        assert!(first.stored);
        assert_eq!(first.delivery.status, DeliveryStatus::Delivered);
        let attempts: Vec<(u32, AttemptOutcome, Option<u16>)> = first
            .delivery
            .attempts
            .iter()
            .map(|a| (a.number, a.outcome, a.status))
            .collect();
        assert_eq!(
            attempts,
            [
                (1, AttemptOutcome::Failed, Some(500)),
                (2, AttemptOutcome::Delivered, Some(204))
            ]
        );
        assert_eq!(first.delivery.attempts[1].at, "2027-01-15T08:00:01.000Z");
    }
}
