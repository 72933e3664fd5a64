//! The local bus: ingest's publish commits an event with the work its routes
//! owe, atomically (the writer runs each request in its own savepoint).

use std::collections::BTreeMap;
use std::time::SystemTime;

use hookbridge_core::destinations::{DestinationName, Destinations};
use hookbridge_core::ports::BusEvent;
use rusqlite::{Connection, params};
use serde::Deserialize;

use super::states::DeliveryState;
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
    /// A new event: committed with its route work, a delivery to each of
    /// `destinations` (none when it matched none).
    New {
        event_id: String,
        correlation_id: String,
        destinations: Vec<DestinationName>,
    },
    /// The id was already on the bus: counted, nothing scheduled.
    Duplicate {
        event_id: String,
        correlation_id: String,
    },
}

/// Commits `event` and the work its routes owe (a delivery due at `now` to
/// every destination whose filter matches its source and type; the
/// consumer's pending mark always, the column's default), atomically, with
/// the masked headers of its request (JSON `[[name, value], …]`) for the
/// console. A duplicate keeps the headers of the event already on the bus.
pub fn publish(
    connection: &Connection,
    event: &BusEvent,
    request_headers: Option<&str>,
    destinations: &Destinations,
    now: SystemTime,
) -> Result<Published, StoreError> {
    let head: EnvelopeHead =
        serde_json::from_str(&event.detail).map_err(StoreError::InvalidDetail)?;
    let inserted = connection
        .prepare_cached(
            "INSERT INTO bus_events (source, event_id, detail_type, detail, correlation_id,
             received_at, occurred_at, request_headers)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
         ON CONFLICT (source, event_id) DO NOTHING",
        )?
        .execute(params![
            head.source,
            head.id,
            event.detail_type,
            event.detail,
            head.correlation_id,
            head.received_at,
            head.occurred_at,
            request_headers
        ])?;
    let published = if inserted == 1 {
        let seq = connection.last_insert_rowid();
        let matching: Vec<DestinationName> = destinations
            .matching(&head.source, &event.detail_type)
            .map(|destination| destination.name.clone())
            .collect();
        {
            let mut insert = connection.prepare_cached(
                "INSERT INTO deliveries (seq, destination, status, due_at_ms) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for name in &matching {
                insert.execute(params![
                    seq,
                    name.as_str(),
                    DeliveryState::Pending,
                    to_millis(now)
                ])?;
            }
        }
        Published::New {
            event_id: head.id,
            correlation_id: head.correlation_id,
            destinations: matching,
        }
    } else {
        connection
            .prepare_cached(
                "UPDATE bus_events SET duplicates = duplicates + 1
                 WHERE source = ?1 AND event_id = ?2",
            )?
            .execute(params![head.source, head.id])?;
        Published::Duplicate {
            event_id: head.id,
            correlation_id: head.correlation_id,
        }
    };
    Ok(published)
}

/// Work left over from an earlier run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingWork {
    /// Deliveries still due (pending or retrying), by destination name.
    pub deliveries: BTreeMap<String, u64>,
    /// Events the consumer has not recorded.
    pub unconsumed: u64,
}

pub fn pending_work(connection: &Connection) -> Result<PendingWork, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT destination, count(*) FROM deliveries WHERE due_at_ms IS NOT NULL
         GROUP BY destination",
    )?;
    let deliveries = statement
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<Result<_, _>>()?;
    let unconsumed = connection.query_row(
        "SELECT count(*) FROM bus_events WHERE consume_state = 'pending'",
        [],
        |row| row.get(0),
    )?;
    Ok(PendingWork {
        deliveries,
        unconsumed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::store::LocalStore;
    use crate::dev::store::deliveries::{due_deliveries, next_due};
    use crate::dev::store::listing::recent_events;
    use crate::dev::store::persist::unconsumed;
    use crate::dev::store::test_support::{DEFAULT, at, billing_and_prs, bus_event, default_only};

    fn github_event(id: &str, detail_type: &str) -> BusEvent {
        BusEvent {
            source: "hookbridge.github".to_owned(),
            detail_type: detail_type.to_owned(),
            detail: format!(
                r#"{{"id":"{id}","source":"github","type":"{detail_type}",
                "received_at":"2026-11-24T00:00:00.000Z","occurred_at":null,
                "correlation_id":"c","payload":{{}}}}"#
            ),
        }
    }

    fn destinations_of(published: &Published) -> Vec<&str> {
        match published {
            Published::New { destinations, .. } => {
                destinations.iter().map(|d| d.as_str()).collect()
            }
            Published::Duplicate { .. } => panic!("a new event expected"),
        }
    }

    #[test]
    fn a_published_event_owes_a_delivery_and_a_record() {
        let store = LocalStore::in_memory();
        let published = store
            .with(|c| publish(c, &bus_event("evt_1", "c1"), None, &default_only(), at(0)))
            .unwrap();
        assert_eq!(
            published,
            Published::New {
                event_id: "evt_1".into(),
                correlation_id: "c1".into(),
                destinations: vec![DestinationName::parse(DEFAULT).unwrap()],
            }
        );
        let due = store
            .with(|c| due_deliveries(c, DEFAULT, at(0), &[], 10))
            .unwrap();
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
            .with(|c| publish(c, &bus_event("evt_1", "c1"), None, &default_only(), at(0)))
            .unwrap();
        for _ in 0..2 {
            let again = store
                .with(|c| publish(c, &bus_event("evt_1", "c2"), None, &default_only(), at(1)))
                .unwrap();
            assert!(matches!(again, Published::Duplicate { .. }));
        }
        assert_eq!(
            store
                .with(|c| due_deliveries(c, DEFAULT, at(5), &[], 10))
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
    fn an_event_owes_a_delivery_to_each_matching_destination_only() {
        let store = LocalStore::in_memory();
        let destinations = billing_and_prs();
        let publish_one = |event: BusEvent| {
            store
                .with(|c| publish(c, &event, None, &destinations, at(0)))
                .unwrap()
        };
        assert_eq!(
            destinations_of(&publish_one(bus_event("evt_1", "c"))),
            ["billing"]
        );
        assert_eq!(
            destinations_of(&publish_one(github_event("gh_1", "pull_request.opened"))),
            ["prs"]
        );
        assert!(destinations_of(&publish_one(github_event("gh_2", "push"))).is_empty());
        let due = |name: &str| {
            store
                .with(|c| due_deliveries(c, name, at(0), &[], 10))
                .unwrap()
                .into_iter()
                .map(|d| d.seq)
                .collect::<Vec<_>>()
        };
        assert_eq!(due("billing"), [1]);
        assert_eq!(due("prs"), [2]);
        let list = store.with(|c| recent_events(c, 10)).unwrap();
        assert!(
            list.events[0].deliveries.is_empty(),
            "matched none: stored, not delivered"
        );
        let pending = store.with(|c| pending_work(c)).unwrap();
        assert_eq!(
            pending.deliveries,
            [("billing".to_owned(), 1), ("prs".to_owned(), 1)].into()
        );
        assert_eq!(pending.unconsumed, 3, "every event is recorded");
    }

    #[test]
    fn without_destinations_nothing_is_due() {
        let store = LocalStore::in_memory();
        let none = Destinations::from_json("{}").unwrap();
        store
            .with(|c| publish(c, &bus_event("evt_1", "c1"), None, &none, at(0)))
            .unwrap();
        assert!(
            store
                .with(|c| due_deliveries(c, DEFAULT, at(9), &[], 10))
                .unwrap()
                .is_empty()
        );
        assert_eq!(store.with(|c| next_due(c, DEFAULT, &[])).unwrap(), None);
        let list = store.with(|c| recent_events(c, 10)).unwrap();
        assert!(list.events[0].deliveries.is_empty());
        assert!(!list.events[0].stored);
    }
}
