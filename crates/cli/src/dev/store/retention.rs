//! Retention: events whose last activity (received, or their newest
//! attempt) is older than the cutoff are removed with their deliveries and
//! attempts, in batches. Never removed: an event with a delivery still
//! pending or retrying (whatever its age: its destination may come back, or
//! a person may have just replayed it), and one the consumer has not handled
//! yet. Large payloads stored apart are named for removal only once no kept
//! event or projection refers to them.

use std::collections::BTreeSet;
use std::time::SystemTime;

use rusqlite::{Connection, params};

use super::states::{ConsumeState, DeliveryState};
use super::{StoreError, sql_limit, to_millis};

/// Events removed per transaction, so the writers never wait long.
pub const BATCH: usize = 500;

/// What one sweep removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    pub events: usize,
    pub attempts: usize,
    /// Keys of payloads stored apart that nothing kept refers to any more.
    pub unreferenced_payloads: Vec<String>,
}

/// Removes up to [`BATCH`] events whose last activity is before `cutoff`.
pub fn remove_expired(connection: &Connection, cutoff: SystemTime) -> Result<Removed, StoreError> {
    let cutoff_ms = to_millis(cutoff);
    let expired: Vec<(i64, Option<String>)> = {
        let mut select = connection.prepare_cached(
            "SELECT seq, json_extract(detail, '$.payload_ref.key') FROM bus_events e
             WHERE consume_state != ?2
                 AND unixepoch(received_at) * 1000 < ?1
                 AND NOT EXISTS (SELECT 1 FROM deliveries d
                     WHERE d.seq = e.seq AND d.status IN (?3, ?4))
                 AND NOT EXISTS (SELECT 1 FROM attempts a WHERE a.seq = e.seq AND a.at_ms >= ?1)
             ORDER BY seq LIMIT ?5",
        )?;
        select
            .query_map(
                params![
                    cutoff_ms,
                    ConsumeState::Pending,
                    DeliveryState::Pending,
                    DeliveryState::Retrying,
                    sql_limit(BATCH)
                ],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )?
            .collect::<Result<_, _>>()?
    };
    let mut removed = Removed::default();
    let mut payloads = BTreeSet::new();
    for (seq, payload_key) in &expired {
        removed.attempts += connection
            .prepare_cached("DELETE FROM attempts WHERE seq = ?1")?
            .execute([seq])?;
        connection
            .prepare_cached("DELETE FROM deliveries WHERE seq = ?1")?
            .execute([seq])?;
        removed.events += connection
            .prepare_cached("DELETE FROM bus_events WHERE seq = ?1")?
            .execute([seq])?;
        if let Some(key) = payload_key {
            payloads.insert(key.clone());
        }
    }
    {
        let mut still_referenced = connection.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM bus_events
                            WHERE json_extract(detail, '$.payload_ref.key') = ?1)
                 OR EXISTS (SELECT 1 FROM projections
                            WHERE json_extract(envelope, '$.payload_ref.key') = ?1)",
        )?;
        for key in payloads {
            let referenced: bool = still_referenced.query_row([&key], |row| row.get(0))?;
            if !referenced {
                removed.unreferenced_payloads.push(key);
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hookbridge_core::ports::BusEvent;

    use super::*;
    use crate::dev::store::LocalStore;
    use crate::dev::store::bus::publish;
    use crate::dev::store::deliveries::{AfterAttempt, AttemptRecord, record_attempt};
    use crate::dev::store::persist::mark_consumed;
    use crate::dev::store::states::AttemptOutcome;
    use crate::dev::store::test_support::{DEFAULT, at, default_only, fail};

    /// An event received at 2026-11-24T00:00:00Z (`DAY_ONE`), its payload
    /// stored apart under `payload_key` if given.
    fn event(id: &str, payload_key: Option<&str>) -> BusEvent {
        let body = match payload_key {
            Some(key) => format!(
                r#""payload_ref":{{"bucket":"local","key":"{key}","size":1,"sha256":"00"}}"#
            ),
            None => r#""payload":{}"#.to_owned(),
        };
        BusEvent {
            source: "hookbridge.stripe".to_owned(),
            detail_type: "t".to_owned(),
            detail: format!(
                r#"{{"id":"{id}","source":"stripe","type":"t","received_at":"2026-11-24T00:00:00.000Z",
                "occurred_at":null,"correlation_id":"c",{body}}}"#
            ),
        }
    }

    fn day_one() -> SystemTime {
        humantime::parse_rfc3339("2026-11-24T00:00:00Z").unwrap()
    }

    fn delivered_at(when: SystemTime) -> AttemptRecord {
        AttemptRecord {
            outcome: AttemptOutcome::Delivered,
            status: Some(200),
            error: None,
            ..fail(1, when)
        }
    }

    fn ids(store: &LocalStore) -> Vec<String> {
        store
            .with(|c| {
                let mut statement = c.prepare("SELECT event_id FROM bus_events ORDER BY seq")?;
                let rows = statement.query_map([], |row| row.get(0))?;
                Ok(rows.collect::<Result<Vec<String>, _>>()?)
            })
            .unwrap()
    }

    #[test]
    fn only_finished_handled_and_quiet_events_expire() {
        let store = LocalStore::in_memory();
        let names = [
            "delivered_long_ago",
            "still_retrying",
            "unconsumed",
            "replayed_lately",
            "dead_lettered",
            "shared_payload_a",
            "shared_payload_b",
        ];
        for (seq, name) in (1..).zip(names) {
            let key = name.starts_with("shared").then_some("payloads/stripe/abc");
            store
                .with(|c| publish(c, &event(name, key), None, &default_only(), at(0)))
                .unwrap();
            if name != "unconsumed" {
                store.with(|c| mark_consumed(c, seq, None)).unwrap();
            }
        }
        let long_ago = day_one();
        let attempt = |seq: i64, record: AttemptRecord, next: AfterAttempt| {
            store
                .with(|c| record_attempt(c, seq, DEFAULT, long_ago, &record, next))
                .unwrap();
        };
        attempt(1, delivered_at(long_ago), AfterAttempt::Delivered);
        let retry = AfterAttempt::Retry {
            number: 2,
            at: long_ago,
            schedule_elapsed: Duration::ZERO,
        };
        attempt(2, fail(1, long_ago), retry);
        attempt(3, delivered_at(long_ago), AfterAttempt::Delivered);
        let lately = day_one() + Duration::from_secs(10 * 86_400);
        attempt(4, delivered_at(lately), AfterAttempt::Delivered);
        attempt(5, fail(12, long_ago), AfterAttempt::DeadLettered);
        attempt(6, delivered_at(long_ago), AfterAttempt::Delivered);
        // shared_payload_b's delivery is still pending: it keeps the payload.

        let cutoff = day_one() + Duration::from_secs(7 * 86_400);
        let removed = store.with(|c| remove_expired(c, cutoff)).unwrap();
        assert_eq!(
            ids(&store),
            [
                "still_retrying",
                "unconsumed",
                "replayed_lately",
                "shared_payload_b"
            ]
        );
        assert_eq!((removed.events, removed.attempts), (3, 3));
        assert!(
            removed.unreferenced_payloads.is_empty(),
            "b still refers to it"
        );

        attempt(7, delivered_at(long_ago), AfterAttempt::Delivered);
        let removed = store.with(|c| remove_expired(c, cutoff)).unwrap();
        assert_eq!(removed.unreferenced_payloads, ["payloads/stripe/abc"]);
        assert_eq!(removed.events, 1);
        let nothing = store.with(|c| remove_expired(c, day_one())).unwrap();
        assert_eq!(nothing, Removed::default(), "nothing is older than day one");
    }
}
