//! The local bus: ingest's publish commits an event with the work its routes
//! owe, in one transaction.

use std::time::SystemTime;

use hookbridge_core::ports::BusEvent;
use rusqlite::{Connection, TransactionBehavior, params};
use serde::Deserialize;

use super::states::{ConsumeState, DeliveryState};
use super::{StoreError, to_millis};

/// The fields of an envelope the bus indexes; the payload is not parsed.
#[derive(Deserialize)]
struct EnvelopeHead {
    id: String,
    source: String,
    received_at: String,
    occurred_at: Option<String>,
    correlation_id: String,
}

/// What publishing an event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Published {
    /// A new event: committed with its route work.
    New {
        event_id: String,
        correlation_id: String,
    },
    /// The id was already on the bus: counted, nothing scheduled.
    Duplicate {
        event_id: String,
        correlation_id: String,
    },
}

/// Commits `event` and the work its routes owe (a delivery due at `now` when
/// `deliver`; the consumer's pending mark always, the column's default) in
/// one transaction.
pub fn publish(
    connection: &mut Connection,
    event: &BusEvent,
    deliver: bool,
    now: SystemTime,
) -> Result<Published, StoreError> {
    let head: EnvelopeHead =
        serde_json::from_str(&event.detail).map_err(StoreError::InvalidDetail)?;
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let inserted = transaction.execute(
        "INSERT INTO bus_events (source, event_id, detail_type, detail, correlation_id,
             received_at, occurred_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (source, event_id) DO NOTHING",
        params![
            head.source,
            head.id,
            event.detail_type,
            event.detail,
            head.correlation_id,
            head.received_at,
            head.occurred_at
        ],
    )?;
    let published = if inserted == 1 {
        if deliver {
            transaction.execute(
                "INSERT INTO deliveries (seq, status, due_at_ms) VALUES (?1, ?2, ?3)",
                params![
                    transaction.last_insert_rowid(),
                    DeliveryState::Pending,
                    to_millis(now)
                ],
            )?;
        }
        Published::New {
            event_id: head.id,
            correlation_id: head.correlation_id,
        }
    } else {
        transaction.execute(
            "UPDATE bus_events SET duplicates = duplicates + 1 WHERE source = ?1 AND event_id = ?2",
            params![head.source, head.id],
        )?;
        Published::Duplicate {
            event_id: head.id,
            correlation_id: head.correlation_id,
        }
    };
    transaction.commit()?;
    Ok(published)
}

/// Work left over from an earlier run: (pending deliveries, events the
/// consumer has not recorded).
pub fn pending_work(connection: &Connection) -> Result<(u64, u64), StoreError> {
    Ok(connection.query_row(
        "SELECT (SELECT count(*) FROM deliveries WHERE status = ?1),
                (SELECT count(*) FROM bus_events WHERE consume_state = ?2)",
        params![DeliveryState::Pending, ConsumeState::Pending],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::event_list::DeliveryStatus;
    use crate::dev::store::LocalStore;
    use crate::dev::store::deliveries::{due_deliveries, next_due};
    use crate::dev::store::listing::recent_events;
    use crate::dev::store::persist::unconsumed;
    use crate::dev::store::test_support::{at, bus_event};

    #[test]
    fn a_published_event_owes_a_delivery_and_a_record() {
        let store = LocalStore::in_memory();
        let published = store
            .with(|c| publish(c, &bus_event("evt_1", "c1"), true, at(0)))
            .unwrap();
        assert_eq!(
            published,
            Published::New {
                event_id: "evt_1".into(),
                correlation_id: "c1".into()
            }
        );
        let due = store.with(|c| due_deliveries(c, at(0), &[], 10)).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].attempt, due[0].schedule_started), (1, None));
        let unconsumed = store.with(|c| unconsumed(c, 10)).unwrap();
        assert_eq!(unconsumed.len(), 1);
        let bus: serde_json::Value = serde_json::from_str(&unconsumed[0].bus_event).unwrap();
        assert_eq!(bus["source"], "hookbridge.stripe");
        assert_eq!(bus["detail-type"], "payment_intent.succeeded");
        assert_eq!(bus["detail"]["id"], "evt_1");
    }

    #[test]
    fn a_known_id_is_counted_and_schedules_nothing() {
        let store = LocalStore::in_memory();
        store
            .with(|c| publish(c, &bus_event("evt_1", "c1"), true, at(0)))
            .unwrap();
        for _ in 0..2 {
            let again = store
                .with(|c| publish(c, &bus_event("evt_1", "c2"), true, at(1)))
                .unwrap();
            assert!(matches!(again, Published::Duplicate { .. }));
        }
        assert_eq!(
            store
                .with(|c| due_deliveries(c, at(5), &[], 10))
                .unwrap()
                .len(),
            1
        );
        assert_eq!(store.with(|c| unconsumed(c, 10)).unwrap().len(), 1);
        let list = store.with(|c| recent_events(c, 10)).unwrap();
        assert_eq!(list.events.len(), 1);
        assert_eq!(list.events[0].duplicates, 2);
        assert_eq!(list.events[0].correlation_id, "c1", "the first delivery's");
    }

    #[test]
    fn without_a_target_nothing_is_due_and_the_status_says_so() {
        let store = LocalStore::in_memory();
        store
            .with(|c| publish(c, &bus_event("evt_1", "c1"), false, at(0)))
            .unwrap();
        assert!(
            store
                .with(|c| due_deliveries(c, at(9), &[], 10))
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.with(|c| next_due(c, &[])).unwrap(), None);
        let list = store.with(|c| recent_events(c, 10)).unwrap();
        assert_eq!(list.events[0].delivery.status, DeliveryStatus::NoTarget);
        assert!(!list.events[0].stored);
    }
}
