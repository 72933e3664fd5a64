//! The embedded store: one SQLite database holding the local bus (events and
//! the route work they owe), the delivery attempts, the dead letters and the
//! consumer's records and projections.
//!
//! The bus commit is the durability point of a 202: WAL with
//! `synchronous=FULL` makes every committed transaction survive a crash or
//! SIGKILL. Every statement is short; async callers go through
//! [`LocalStore::call`], which runs them on the blocking pool.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookbridge_core::ports::BusEvent;
use rusqlite::{Connection, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::event_list::{
    AttemptOutcome, AttemptView, DeliveryStatus, DeliveryView, EventList, EventView,
};

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "hookbridge.db";
/// The schema this build writes; stored as SQLite's `user_version`.
const SCHEMA_VERSION: i64 = 1;
/// How long a statement waits for another connection (a running `hookbridge
/// replay`, say) to release the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
CREATE TABLE bus_events (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    source         TEXT NOT NULL,
    event_id       TEXT NOT NULL,
    detail_type    TEXT NOT NULL,
    detail         TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    received_at    TEXT NOT NULL,
    occurred_at    TEXT,
    duplicates     INTEGER NOT NULL DEFAULT 0,
    -- The persist route: pending until the consumer recorded it.
    consume_state  TEXT NOT NULL DEFAULT 'pending',
    consume_error  TEXT,
    UNIQUE (source, event_id)
);
CREATE INDEX bus_events_unconsumed ON bus_events (consume_state, seq);
-- The deliver route; no row means no target was configured.
CREATE TABLE deliveries (
    seq                 INTEGER PRIMARY KEY REFERENCES bus_events (seq),
    status              TEXT NOT NULL,
    due_at_ms           INTEGER,
    next_attempt        INTEGER NOT NULL DEFAULT 1,
    schedule_started_ms INTEGER
);
CREATE INDEX deliveries_due ON deliveries (status, due_at_ms);
CREATE TABLE attempts (
    seq     INTEGER NOT NULL REFERENCES bus_events (seq),
    number  INTEGER NOT NULL,
    at_ms   INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    status  INTEGER,
    error   TEXT
);
CREATE INDEX attempts_of_event ON attempts (seq);
-- The consumer's event store (the DynamoDB table's local twin).
CREATE TABLE recorded_events (
    source     TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (source, event_id)
) WITHOUT ROWID;
CREATE TABLE projections (
    source    TEXT NOT NULL,
    object_id TEXT NOT NULL,
    order_key TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    envelope  TEXT NOT NULL,
    PRIMARY KEY (source, object_id)
) WITHOUT ROWID;
";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot create the data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open the database {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error(
        "the database was written by a newer hookbridge (schema {found}, this build knows {SCHEMA_VERSION})"
    )]
    NewerSchema { found: i64 },
    #[error("bus event detail is not an envelope: {0}")]
    InvalidDetail(serde_json::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database task stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Handle on the database; cheap to clone, one connection shared.
#[derive(Debug, Clone)]
pub struct LocalStore {
    connection: Arc<Mutex<Connection>>,
}

impl LocalStore {
    /// Opens (creating if needed) the database in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let connection = Connection::open(&path).map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        Self::prepare(connection).map_err(|error| match error {
            StoreError::Sqlite(source) => StoreError::Open { path, source },
            other => other,
        })
    }

    /// An in-memory database, for tests.
    #[cfg(test)]
    pub fn in_memory() -> Self {
        Self::prepare(Connection::open_in_memory().unwrap()).unwrap()
    }

    fn prepare(connection: Connection) -> Result<Self, StoreError> {
        connection.busy_timeout(BUSY_TIMEOUT)?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a committed bus event survives power loss, not only a crash.
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        match version {
            0 => {
                connection.execute_batch(&format!(
                    "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
                ))?;
            }
            SCHEMA_VERSION => {}
            found => return Err(StoreError::NewerSchema { found }),
        }
        Ok(Self {
            connection: Arc::new(Mutex::new(connection)),
        })
    }

    /// Runs `work` on the connection on the blocking pool.
    pub async fn call<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.with(work)).await?
    }

    /// Runs `work` on the connection on this thread.
    pub fn with<R>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        // SQLite rolls back a transaction left open by a panic, so a
        // poisoned lock still guards a consistent database.
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        work(&mut connection)
    }
}

/// Milliseconds since the Unix epoch: how times are stored.
pub fn to_millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |since| {
        i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
    })
}

pub fn from_millis(millis: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(millis).unwrap_or(0))
}

/// A row count as SQLite takes it; `usize::MAX` means no limit.
fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

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
/// `deliver`; the consumer's pending mark always) in one transaction.
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
                "INSERT INTO deliveries (seq, status, due_at_ms) VALUES (?1, 'pending', ?2)",
                params![transaction.last_insert_rowid(), to_millis(now)],
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
        "SELECT (SELECT count(*) FROM deliveries WHERE status = 'pending'),
                (SELECT count(*) FROM bus_events WHERE consume_state = 'pending')",
        [],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?)
}

/// An event the consumer has not recorded yet, as EventBridge hands it to
/// the consume Lambda.
#[derive(Debug, Clone)]
pub struct Unconsumed {
    pub seq: i64,
    pub event_id: String,
    pub bus_event: String,
}

/// The EventBridge event shape the consume Lambda receives.
#[derive(Serialize)]
struct EventBridgeEvent<'a> {
    version: &'static str,
    id: String,
    #[serde(rename = "detail-type")]
    detail_type: &'a str,
    source: String,
    account: &'static str,
    time: &'a str,
    region: &'static str,
    resources: [&'static str; 0],
    detail: &'a RawValue,
}

/// Up to `limit` unconsumed events, oldest first.
pub fn unconsumed(connection: &Connection, limit: usize) -> Result<Vec<Unconsumed>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT seq, source, event_id, detail_type, detail, received_at FROM bus_events
         WHERE consume_state = 'pending' ORDER BY seq LIMIT ?1",
    )?;
    let rows = statement.query_map([sql_limit(limit)], |row| {
        Ok((
            row.get::<_, i64>(0)?,
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
            row.get::<_, String>(3)?,
            row.get::<_, String>(4)?,
            row.get::<_, String>(5)?,
        ))
    })?;
    let mut events = Vec::new();
    for row in rows {
        let (seq, source, event_id, detail_type, detail, received_at) = row?;
        let detail: Box<RawValue> =
            serde_json::from_str(&detail).map_err(StoreError::InvalidDetail)?;
        let bus_event = serde_json::to_string(&EventBridgeEvent {
            version: "0",
            id: format!("local-{seq}"),
            detail_type: &detail_type,
            source: hookbridge_core::envelope::bus_source(&source),
            account: "000000000000",
            time: &received_at,
            region: "local",
            resources: [],
            detail: &detail,
        })
        .map_err(StoreError::InvalidDetail)?;
        events.push(Unconsumed {
            seq,
            event_id,
            bus_event,
        });
    }
    Ok(events)
}

/// Marks an event as recorded by the consumer, or as refused for good
/// (`error`), so it is not handed over again.
pub fn mark_consumed(
    connection: &Connection,
    seq: i64,
    error: Option<&str>,
) -> Result<(), StoreError> {
    let state = if error.is_some() { "failed" } else { "stored" };
    connection.execute(
        "UPDATE bus_events SET consume_state = ?2, consume_error = ?3 WHERE seq = ?1",
        params![seq, state, error],
    )?;
    Ok(())
}

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
         WHERE d.status = 'pending' AND d.due_at_ms <= ?1
         ORDER BY d.due_at_ms, d.seq LIMIT ?2",
    )?;
    let rows = statement.query_map(
        params![to_millis(now), sql_limit(limit.saturating_add(busy.len()))],
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
        "SELECT seq, due_at_ms FROM deliveries WHERE status = 'pending'
         ORDER BY due_at_ms, seq LIMIT ?1",
    )?;
    let rows = statement.query_map([sql_limit(busy.len() + 1)], |row| {
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
            attempt.outcome.as_str(),
            attempt.status,
            attempt.error
        ],
    )?;
    let (status, due_at, next_attempt) = match next {
        AfterAttempt::Delivered => (DeliveryStatus::Delivered, None, attempt.number + 1),
        AfterAttempt::Retry { number, at } => {
            (DeliveryStatus::Pending, Some(to_millis(at)), number)
        }
        AfterAttempt::DeadLettered => (DeliveryStatus::DeadLettered, None, attempt.number + 1),
    };
    transaction.execute(
        "UPDATE deliveries SET status = ?2, due_at_ms = ?3, next_attempt = ?4,
             schedule_started_ms = ?5
         WHERE seq = ?1",
        params![
            seq,
            status.as_str(),
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
             WHERE d.status = 'dead_lettered' AND (?1 IS NULL OR e.event_id = ?1)
             ORDER BY d.seq LIMIT ?2",
        )?;
        let mut update = transaction.prepare(
            "UPDATE deliveries SET status = 'pending', due_at_ms = ?2, next_attempt = 1,
                 schedule_started_ms = NULL
             WHERE seq = ?1",
        )?;
        let rows = select
            .query_map(params![event_id, sql_limit(limit)], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    Requeued {
                        event_id: row.get(1)?,
                        source: row.get(2)?,
                        correlation_id: row.get(3)?,
                    },
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        for (seq, entry) in rows {
            update.execute(params![seq, to_millis(now)])?;
            requeued.push(entry);
        }
    }
    transaction.commit()?;
    Ok(requeued)
}

/// The newest `limit` events with their deliveries and attempts.
pub fn recent_events(connection: &Connection, limit: usize) -> Result<EventList, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT e.seq, e.event_id, e.source, e.detail_type, e.received_at, e.occurred_at,
                e.correlation_id, e.duplicates, e.consume_state, d.status
         FROM bus_events e LEFT JOIN deliveries d ON d.seq = e.seq
         ORDER BY e.seq DESC LIMIT ?1",
    )?;
    let rows = statement.query_map([sql_limit(limit)], |row| {
        let status: Option<String> = row.get(9)?;
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
                stored: row.get::<_, String>(8)? == "stored",
                delivery: DeliveryView {
                    status: status
                        .as_deref()
                        .and_then(DeliveryStatus::parse)
                        .unwrap_or(DeliveryStatus::NoTarget),
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
            let outcome = if row.get::<_, String>(3)? == "delivered" {
                AttemptOutcome::Delivered
            } else {
                AttemptOutcome::Failed
            };
            Ok((
                row.get::<_, i64>(0)?,
                AttemptView {
                    number: row.get(1)?,
                    at: humantime::format_rfc3339_millis(from_millis(row.get(2)?)).to_string(),
                    outcome,
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

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    fn bus_event(id: &str, correlation_id: &str) -> BusEvent {
        BusEvent {
            source: "hookbridge.stripe".to_owned(),
            detail_type: "payment_intent.succeeded".to_owned(),
            detail: format!(
                r#"{{"id":"{id}","source":"stripe","type":"payment_intent.succeeded",
                "received_at":"2026-11-24T00:00:00.000Z","occurred_at":null,
                "correlation_id":"{correlation_id}","payload":{{"id":"{id}"}}}}"#
            ),
        }
    }

    /// A store with one published event per id, each owing a delivery.
    fn store_with_events(ids: &[&str]) -> LocalStore {
        let store = LocalStore::in_memory();
        for id in ids {
            store
                .with(|c| publish(c, &bus_event(id, "c"), true, at(0)))
                .unwrap();
        }
        store
    }

    fn data_dir(name: &str) -> PathBuf {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        std::env::temp_dir().join(format!(
            "hookbridge-store-{name}-{}-{nanos}",
            std::process::id()
        ))
    }

    fn fail(number: u32, when: SystemTime) -> AttemptRecord {
        AttemptRecord {
            number,
            at: when,
            outcome: AttemptOutcome::Failed,
            status: Some(500),
            error: Some("the target answered HTTP 500".to_owned()),
        }
    }

    /// Records a failed first attempt of delivery `seq`, with the second due at `retry_at`.
    fn fail_first_attempt(store: &LocalStore, seq: i64, retry_at: SystemTime) {
        store
            .with(|c| {
                record_attempt(
                    c,
                    seq,
                    at(0),
                    &fail(1, at(0)),
                    AfterAttempt::Retry {
                        number: 2,
                        at: retry_at,
                    },
                )
            })
            .unwrap();
    }

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

    #[test]
    fn pending_work_survives_reopening_the_database() {
        let dir = data_dir("reopen");
        {
            let store = LocalStore::open(&dir).unwrap();
            store
                .with(|c| publish(c, &bus_event("evt_1", "c1"), true, at(0)))
                .unwrap();
            store
                .with(|c| publish(c, &bus_event("evt_2", "c2"), true, at(0)))
                .unwrap();
            fail_first_attempt(&store, 2, at(0));
            store.with(|c| mark_consumed(c, 1, None)).unwrap();
        }
        let store = LocalStore::open(&dir).unwrap();
        let due = store.with(|c| due_deliveries(c, at(0), &[], 10)).unwrap();
        let due: Vec<(i64, u32, Option<SystemTime>)> = due
            .iter()
            .map(|d| (d.seq, d.attempt, d.schedule_started))
            .collect();
        assert_eq!(due, [(1, 1, None), (2, 2, Some(at(0)))]);
        let unconsumed = store.with(|c| unconsumed(c, 10)).unwrap();
        assert_eq!(unconsumed.len(), 1);
        assert_eq!(unconsumed[0].event_id, "evt_2");
        assert_eq!(store.with(|c| pending_work(c)).unwrap(), (2, 1));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_database_of_a_newer_schema_is_refused() {
        let dir = data_dir("newer");
        std::fs::create_dir_all(&dir).unwrap();
        let connection = Connection::open(dir.join(DATABASE_FILE)).unwrap();
        connection.pragma_update(None, "user_version", 99).unwrap();
        drop(connection);
        assert!(matches!(
            LocalStore::open(&dir),
            Err(StoreError::NewerSchema { found: 99 })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

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
