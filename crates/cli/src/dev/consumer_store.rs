//! The consumer's [`EventStore`] in SQLite: the local twin of the DynamoDB
//! table, with the same rules (see the port's contract): the event record and
//! the projection change commit together, a duplicate id changes nothing,
//! and a projection is replaced only by a greater [`OrderKey`].
//!
//! [`OrderKey`]: hookbridge_core::projection::OrderKey

use hookbridge_core::ports::{EventStore, EventStoreError};
use hookbridge_core::projection::{EventRecord, ProjectionChange, RecordOutcome};
use rusqlite::{ErrorCode, params};

use super::store::{LocalStore, StoreError};

#[derive(Debug, Clone)]
pub struct SqliteEventStore {
    store: LocalStore,
}

impl SqliteEventStore {
    pub fn new(store: LocalStore) -> Self {
        Self { store }
    }
}

/// What one record writes, owned so it can move to the blocking pool.
struct Write {
    source: String,
    event_id: String,
    expires_at: i64,
    projection: Option<(String, String)>,
    envelope: String,
}

impl EventStore for SqliteEventStore {
    async fn record(&self, record: &EventRecord<'_>) -> Result<RecordOutcome, EventStoreError> {
        let envelope = record.envelope;
        let write = Write {
            source: envelope.source.clone(),
            event_id: envelope.id.clone(),
            expires_at: i64::try_from(record.expires_at).unwrap_or(i64::MAX),
            projection: record.projection.as_ref().map(|projection| {
                (
                    projection.object_id.clone(),
                    projection.order_key.as_str().to_owned(),
                )
            }),
            envelope: serde_json::to_string(envelope)
                .map_err(|error| EventStoreError::Rejected(error.to_string()))?,
        };
        self.store
            .write(move |connection| write_record(connection, &write))
            .await
            .map_err(|error| match &error {
                StoreError::Sqlite(rusqlite::Error::SqliteFailure(failure, _))
                    if matches!(
                        failure.code,
                        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked
                    ) =>
                {
                    EventStoreError::Unavailable(error.to_string())
                }
                _ => EventStoreError::Rejected(error.to_string()),
            })
    }
}

fn write_record(
    connection: &rusqlite::Connection,
    write: &Write,
) -> Result<RecordOutcome, StoreError> {
    let inserted = connection
        .prepare_cached(
            "INSERT INTO recorded_events (source, event_id, expires_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (source, event_id) DO NOTHING",
        )?
        .execute(params![write.source, write.event_id, write.expires_at])?;
    if inserted == 0 {
        return Ok(RecordOutcome::Duplicate);
    }
    let change = match &write.projection {
        None => ProjectionChange::NotProjected,
        Some((object_id, order_key)) => {
            // The one comparison of the contract: SQLite compares TEXT
            // bytewise, exactly as OrderKey's Ord does.
            let replaced = connection
                .prepare_cached(
                    "INSERT INTO projections (source, object_id, order_key, event_id, envelope)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (source, object_id) DO UPDATE SET
                     order_key = excluded.order_key,
                     event_id = excluded.event_id,
                     envelope = excluded.envelope
                 WHERE excluded.order_key > projections.order_key",
                )?
                .execute(params![
                    write.source,
                    object_id,
                    order_key,
                    write.event_id,
                    write.envelope
                ])?;
            if replaced == 1 {
                ProjectionChange::Updated
            } else {
                ProjectionChange::Superseded
            }
        }
    };
    Ok(RecordOutcome::Recorded(change))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hookbridge_core::envelope::Envelope;
    use hookbridge_core::projection::ProjectionRule;
    use hookbridge_core::providers::Kind;
    use hookbridge_testkit::MemoryEventStore;
    use proptest::prelude::*;
    use rusqlite::OptionalExtension;
    use serde_json::value::RawValue;

    use super::*;

    const RETENTION: Duration = Duration::from_secs(86_400);

    fn moneybutton(id: &str, status: &str, at: &str) -> Envelope {
        Envelope {
            id: id.to_owned(),
            source: "moneybutton".to_owned(),
            event_type: format!("payment.{}", status.to_ascii_lowercase()),
            received_at: "2026-11-24T00:00:00.000Z".to_owned(),
            occurred_at: Some(at.to_owned()),
            correlation_id: "c".to_owned(),
            payload: RawValue::from_string(format!(
                r#"{{"payment":{{"id":"pay_1","status":"{status}"}}}}"#
            ))
            .ok(),
            payload_ref: None,
            content_type: None,
            raw_body: None,
        }
    }

    fn record<'a>(envelope: &'a Envelope) -> EventRecord<'a> {
        EventRecord::new(
            envelope,
            envelope.inline_payload().unwrap(),
            Some(&ProjectionRule::Provider(Kind::MoneyButton)),
            RETENTION,
        )
        .unwrap()
    }

    /// The event id the projection of `pay_1` holds.
    fn held(store: &LocalStore) -> Option<String> {
        store
            .with(|connection| {
                Ok(connection
                    .query_row(
                        "SELECT event_id FROM projections WHERE source = 'moneybutton'
                         AND object_id = 'pay_1'",
                        [],
                        |row| row.get(0),
                    )
                    .optional()?)
            })
            .unwrap()
    }

    fn recorded(store: &LocalStore) -> i64 {
        store
            .with(|connection| {
                Ok(connection
                    .query_row("SELECT count(*) FROM recorded_events", [], |row| row.get(0))?)
            })
            .unwrap()
    }

    #[tokio::test]
    async fn records_once_and_keeps_the_newest_projection() {
        let local = LocalStore::in_memory();
        let store = SqliteEventStore::new(local.clone());
        let received = moneybutton("e2", "RECEIVED", "2026-11-24T00:00:02Z");
        let pending = moneybutton("e1", "PENDING", "2026-11-24T00:00:01Z");
        let completed = moneybutton("e3", "COMPLETED", "2026-11-24T00:00:03Z");
        assert_eq!(
            store.record(&record(&received)).await.unwrap(),
            RecordOutcome::Recorded(ProjectionChange::Updated)
        );
        assert_eq!(
            store.record(&record(&pending)).await.unwrap(),
            RecordOutcome::Recorded(ProjectionChange::Superseded),
            "an older event never overwrites a newer one"
        );
        assert_eq!(held(&local).as_deref(), Some("e2"));
        assert_eq!(
            store.record(&record(&received)).await.unwrap(),
            RecordOutcome::Duplicate
        );
        assert_eq!(
            store.record(&record(&completed)).await.unwrap(),
            RecordOutcome::Recorded(ProjectionChange::Updated)
        );
        assert_eq!(held(&local).as_deref(), Some("e3"));
        assert_eq!(recorded(&local), 3);
    }

    #[tokio::test]
    async fn a_duplicate_changes_nothing_even_with_another_projection() {
        let local = LocalStore::in_memory();
        let store = SqliteEventStore::new(local.clone());
        let first = moneybutton("same", "PENDING", "2026-11-24T00:00:01Z");
        store.record(&record(&first)).await.unwrap();
        // Same id, a state that would win: still a duplicate.
        let again = moneybutton("same", "COMPLETED", "2026-11-24T00:00:09Z");
        assert_eq!(
            store.record(&record(&again)).await.unwrap(),
            RecordOutcome::Duplicate
        );
        let order_key: String = local
            .with(|connection| {
                Ok(connection
                    .query_row("SELECT order_key FROM projections", [], |row| row.get(0))?)
            })
            .unwrap();
        assert!(order_key.contains("#1#"), "{order_key}");
    }

    #[tokio::test]
    async fn events_that_name_no_object_are_recorded_only() {
        let local = LocalStore::in_memory();
        let store = SqliteEventStore::new(local.clone());
        let envelope = moneybutton("e1", "PENDING", "2026-11-24T00:00:01Z");
        let unprojected = EventRecord::new(
            &envelope,
            envelope.inline_payload().unwrap(),
            None,
            RETENTION,
        )
        .unwrap();
        assert_eq!(
            store.record(&unprojected).await.unwrap(),
            RecordOutcome::Recorded(ProjectionChange::NotProjected)
        );
        assert_eq!(held(&local), None);
        assert_eq!(recorded(&local), 1);
    }

    /// Fifteen events of one payment: five statuses at three times.
    fn payment_events() -> Vec<Envelope> {
        let mut events = Vec::new();
        for second in 1..=3 {
            for status in ["PENDING", "RECEIVED", "COMPLETED", "FAILED", "DOUBLE_SPENT"] {
                events.push(moneybutton(
                    &format!("e{second}-{status}"),
                    status,
                    &format!("2026-11-24T00:00:0{second}Z"),
                ));
            }
        }
        events
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Every arrival order, duplicates included, ends in the projection
        /// the memory store (the reference) ends in.
        #[test]
        fn projection_is_the_same_for_every_arrival_order(
            deliveries in proptest::collection::vec(0usize..15, 1..40)
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
            let events = payment_events();
            let local = LocalStore::in_memory();
            let sqlite = SqliteEventStore::new(local.clone());
            let memory = MemoryEventStore::new();
            runtime.block_on(async {
                for index in &deliveries {
                    let record = record(&events[*index]);
                    let expected = memory.record(&record).await.unwrap();
                    prop_assert_eq!(sqlite.record(&record).await.unwrap(), expected);
                }
                Ok(())
            })?;
            let expected = memory.projection("moneybutton", "pay_1").map(|held| held.envelope.id);
            prop_assert_eq!(held(&local), expected);
            prop_assert_eq!(recorded(&local), memory.event_count() as i64);
        }
    }
}
