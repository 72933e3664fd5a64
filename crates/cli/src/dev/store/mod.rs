//! The embedded store: one SQLite database holding the local bus (events and
//! the route work they owe), the delivery attempts, the dead letters and the
//! consumer's records and projections.
//!
//! Every write of a running `hookbridge dev` goes through the one
//! [`writer`], which commits concurrent writes together (group commit); the
//! batch's commit is the durability point of a 202: WAL with
//! `synchronous=FULL` makes every committed transaction survive a crash or
//! SIGKILL. Reads use their own connection, so they never wait behind the
//! writer's fsync; async callers read through [`LocalStore::call`], which
//! runs them on the blocking pool.
//!
//! The statements are grouped by whom they serve: [`bus`] (ingest's
//! publish), [`persist`] (the consumer's route), [`deliveries`] (the deliver
//! routes, one per destination, and `hookbridge replay`), [`listing`]
//! (`GET /events`), [`records`] (`hookbridge status`), and [`console`] and
//! [`refusals`] (the console at `GET /` and its `/api/`), and [`retention`]
//! (the sweep of expired events).

pub mod bus;
pub mod console;
pub mod deliveries;
pub mod listing;
pub mod persist;
pub mod records;
pub mod refusals;
pub mod retention;
mod schema;
pub mod states;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rusqlite::{Connection, OpenFlags};

use self::schema::SCHEMA_VERSION;
use self::writer::Writer;

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "hookbridge.db";
/// How long a statement waits for another connection (a running `hookbridge
/// replay`, say) to release the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The size the WAL is truncated back to after a checkpoint: a burst grows
/// it, and it does not stay grown.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;
/// Prepared statements kept per connection (rusqlite's default is 16; the
/// store's paths use about 30 distinct ones).
const STATEMENT_CACHE_CAPACITY: usize = 64;

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
    #[error(
        "the database has the older schema {found}: run this build's `hookbridge dev` once to upgrade it"
    )]
    OlderSchema { found: i64 },
    #[error("the stored destination name `{name}` is invalid: {reason}")]
    InvalidDestination { name: String, reason: String },
    #[error("bus event detail is not an envelope: {0}")]
    InvalidDetail(serde_json::Error),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the database task stopped: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("cannot start the database writer: {0}")]
    Thread(std::io::Error),
    #[error("the database is open for reading only")]
    ReadOnly,
    #[error("the database writer has stopped")]
    WriterStopped,
    #[error("the database writer's queue stayed full for {0:?}")]
    QueueFull(Duration),
    #[error("the batch this write was in failed: {0}")]
    Batch(String),
}

/// Handle on the database; cheap to clone. Reads share one connection;
/// writes go through the one writer thread, on its own connection.
#[derive(Debug, Clone)]
pub struct LocalStore {
    reads: Arc<Mutex<Connection>>,
    writer: Option<Writer>,
}

impl LocalStore {
    /// Opens (creating if needed) the database in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::CreateDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join(DATABASE_FILE);
        let open = || {
            Connection::open(&path).map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })
        };
        let writes = open()?;
        let reads = open()?;
        (|| {
            prepare(&writes)?;
            reads.busy_timeout(BUSY_TIMEOUT)?;
            reads.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
            let writer = Writer::start(Arc::new(Mutex::new(writes)))?;
            Ok(Self {
                reads: Arc::new(Mutex::new(reads)),
                writer: Some(writer),
            })
        })()
        .map_err(|error| match error {
            StoreError::Sqlite(source) => StoreError::Open { path, source },
            other => other,
        })
    }

    /// Opens the existing database in `data_dir` for reading only: it takes
    /// no lock on the data directory and changes nothing, so it reads beside
    /// a running `hookbridge dev`.
    pub fn open_read_only(data_dir: &Path) -> Result<Self, StoreError> {
        let path = data_dir.join(DATABASE_FILE);
        let opened = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|connection| {
            connection.busy_timeout(BUSY_TIMEOUT)?;
            Ok(connection)
        });
        let connection = opened.map_err(|source| StoreError::Open {
            path: path.clone(),
            source,
        })?;
        schema::check(&connection).map_err(|error| match error {
            StoreError::Sqlite(source) => StoreError::Open { path, source },
            other => other,
        })?;
        Ok(Self {
            reads: Arc::new(Mutex::new(connection)),
            writer: None,
        })
    }

    /// An in-memory database, for tests: reads and the writer share its one
    /// connection.
    #[cfg(test)]
    pub fn in_memory() -> Self {
        let connection = Connection::open_in_memory().unwrap();
        prepare(&connection).unwrap();
        let connection = Arc::new(Mutex::new(connection));
        Self {
            writer: Some(Writer::start(Arc::clone(&connection)).unwrap()),
            reads: connection,
        }
    }

    /// Runs `work` in the writer's next batch; see [`Writer::write`].
    pub async fn write<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R, StoreError> + Send + 'static,
    {
        match &self.writer {
            Some(writer) => writer.write(work).await,
            None => Err(StoreError::ReadOnly),
        }
    }

    /// Stops the writer once every write queued is committed and answered;
    /// later writes are refused.
    pub async fn close(&self) {
        if let Some(writer) = &self.writer {
            writer.close().await;
        }
    }

    /// Runs `work` on the reading connection on the blocking pool.
    pub async fn call<R, F>(&self, work: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<R, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.with(work)).await?
    }

    /// Runs `work` on the reading connection on this thread: for reads, and
    /// for the writes of a process that runs no writer loop of its own
    /// (`hookbridge replay`, tests), each in its own transaction.
    pub fn with<R>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        // SQLite rolls back a transaction left open by a panic, so a
        // poisoned lock still guards a consistent database.
        let mut connection = self.reads.lock().unwrap_or_else(PoisonError::into_inner);
        work(&mut connection)
    }
}

/// Sets up the writing connection: WAL with full fsync, bounded, and the
/// schema of this build.
fn prepare(connection: &Connection) -> Result<(), StoreError> {
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.pragma_update(None, "journal_mode", "WAL")?;
    // FULL: a committed bus event survives power loss, not only a crash.
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // Every statement of the write paths stays prepared: parsing one again
    // costs more than running it.
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    schema::create_or_migrate(connection)?;
    Ok(())
}

/// Runs `work` in an immediate transaction of its own on `connection`: for
/// writes made outside the writer (`hookbridge replay`, tests).
pub fn in_transaction<R>(
    connection: &mut Connection,
    work: impl FnOnce(&Connection) -> Result<R, StoreError>,
) -> Result<R, StoreError> {
    let transaction =
        connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let result = work(&transaction)?;
    transaction.commit()?;
    Ok(result)
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

/// What the tests of the store and its users share.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::PathBuf;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use hookbridge_core::destinations::Destinations;
    use hookbridge_core::ports::BusEvent;

    use super::LocalStore;
    use super::bus::publish;
    use super::deliveries::{AfterAttempt, AttemptRecord, record_attempt};
    use super::states::AttemptOutcome;

    /// The destination of [`store_with_events`]: `default`, taking everything.
    pub const DEFAULT: &str = "default";

    pub fn default_only() -> Destinations {
        Destinations::single_default("http://127.0.0.1:9/hook").unwrap()
    }

    /// `billing` takes the Stripe events, `prs` the GitHub pull requests.
    pub fn billing_and_prs() -> Destinations {
        Destinations::from_json(
            r#"{"billing": {"url": "http://127.0.0.1:9/billing", "sources": ["stripe"]},
                "prs": {"url": "http://127.0.0.1:9/prs", "types": ["pull_request.*"]}}"#,
        )
        .unwrap()
    }

    pub fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    pub fn bus_event(id: &str, correlation_id: &str) -> BusEvent {
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

    /// A store with one published event per id, each owing a delivery to
    /// [`DEFAULT`].
    pub fn store_with_events(ids: &[&str]) -> LocalStore {
        let store = LocalStore::in_memory();
        let destinations = default_only();
        for id in ids {
            store
                .with(|c| publish(c, &bus_event(id, "c"), None, &destinations, at(0)))
                .unwrap();
        }
        store
    }

    pub fn data_dir(name: &str) -> PathBuf {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        std::env::temp_dir().join(format!(
            "hookbridge-store-{name}-{}-{nanos}",
            std::process::id()
        ))
    }

    pub fn fail(number: u32, when: SystemTime) -> AttemptRecord {
        AttemptRecord {
            number,
            at: when,
            outcome: AttemptOutcome::Failed,
            status: Some(500),
            error: Some("the target answered HTTP 500".to_owned()),
            latency: Duration::from_millis(7),
            response_excerpt: Some("busy".to_owned()),
        }
    }

    /// Records a failed first attempt of delivery `seq` to [`DEFAULT`], with
    /// the second due at `retry_at`.
    pub fn fail_first_attempt(store: &LocalStore, seq: i64, retry_at: SystemTime) {
        store
            .with(|c| {
                record_attempt(
                    c,
                    seq,
                    DEFAULT,
                    at(0),
                    &fail(1, at(0)),
                    AfterAttempt::Retry {
                        number: 2,
                        at: retry_at,
                        schedule_elapsed: Duration::ZERO,
                    },
                )
            })
            .unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{DEFAULT, at, bus_event, data_dir, default_only, fail_first_attempt};
    use super::*;

    #[test]
    fn pending_work_survives_reopening_the_database() {
        let dir = data_dir("reopen");
        {
            let store = LocalStore::open(&dir).unwrap();
            for id in ["evt_1", "evt_2"] {
                store
                    .with(|c| bus::publish(c, &bus_event(id, "c"), None, &default_only(), at(0)))
                    .unwrap();
            }
            fail_first_attempt(&store, 2, at(0));
            store.with(|c| persist::mark_consumed(c, 1, None)).unwrap();
        }
        let store = LocalStore::open(&dir).unwrap();
        let due = store
            .with(|c| deliveries::due_deliveries(c, DEFAULT, at(0), &[], 10))
            .unwrap();
        let due: Vec<(i64, u32, Option<SystemTime>)> = due
            .iter()
            .map(|d| (d.seq, d.attempt, d.schedule_started))
            .collect();
        assert_eq!(due, [(1, 1, None), (2, 2, Some(at(0)))]);
        let unconsumed = store.with(|c| persist::unconsumed(c, 10)).unwrap();
        assert_eq!(unconsumed.len(), 1);
        assert_eq!(unconsumed[0].event_id, "evt_2");
        let pending = store.with(|c| bus::pending_work(c)).unwrap();
        assert_eq!(pending.deliveries, [(DEFAULT.to_owned(), 2)].into());
        assert_eq!(pending.unconsumed, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_reader_reads_beside_the_writer_and_changes_nothing() {
        let dir = data_dir("read-only");
        assert!(
            matches!(
                LocalStore::open_read_only(&dir),
                Err(StoreError::Open { .. })
            ),
            "no database, nothing created"
        );
        assert!(!dir.exists());
        let writer = LocalStore::open(&dir).unwrap();
        writer
            .with(|c| bus::publish(c, &bus_event("evt_1", "c"), None, &default_only(), at(0)))
            .unwrap();
        let reader = LocalStore::open_read_only(&dir).unwrap();
        let listed = reader.with(|c| listing::recent_events(c, 10)).unwrap();
        assert_eq!(listed.events.len(), 1);
        let refused = reader
            .with(|c| bus::publish(c, &bus_event("evt_2", "c"), None, &default_only(), at(0)));
        assert!(refused.is_err(), "a reader cannot write");
        writer
            .with(|c| bus::publish(c, &bus_event("evt_3", "c"), None, &default_only(), at(0)))
            .unwrap();
        let listed = reader.with(|c| listing::recent_events(c, 10)).unwrap();
        assert_eq!(listed.events.len(), 2, "it sees the writer's new commits");
        drop((reader, writer));
        let after_the_writer = LocalStore::open_read_only(&dir).unwrap();
        let listed = after_the_writer
            .with(|c| listing::recent_events(c, 10))
            .unwrap();
        assert_eq!(listed.events.len(), 2, "and reads once the writer is gone");
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
}
