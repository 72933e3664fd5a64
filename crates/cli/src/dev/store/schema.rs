//! The tables, created in a new database; a database written by a newer
//! build is refused rather than misread.

use rusqlite::Connection;

use super::StoreError;

/// The schema this build writes; stored as SQLite's `user_version`.
pub const SCHEMA_VERSION: i64 = 1;

/// The state columns hold the stored forms of [`super::states`].
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

/// Creates the tables in a new database, accepts one of this schema, and
/// refuses one of a newer schema.
pub fn create_or_check(connection: &Connection) -> Result<(), StoreError> {
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    match version {
        0 => {
            connection.execute_batch(&format!(
                "BEGIN IMMEDIATE; {SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            ))?;
            Ok(())
        }
        SCHEMA_VERSION => Ok(()),
        found => Err(StoreError::NewerSchema { found }),
    }
}
