//! The tables, created in a new database or migrated from an older schema;
//! a database written by a newer build is refused rather than misread.

use rusqlite::Connection;

use super::StoreError;

/// The schema this build writes; stored as SQLite's `user_version`.
/// 1: one delivery per event; 2: one per (event, destination); 3: each
/// delivery knows how far into its two-tier schedule its next attempt is;
/// 4: the console's tables (an event's masked request headers, the refusal
/// ring); 5: leaner on disk (deliveries keyed without a rowid, the
/// unconsumed index holding only the unconsumed events).
pub const SCHEMA_VERSION: i64 = 5;

/// The deliver routes' tables: one delivery per (event, destination) the
/// event matched, due exactly while it is pending or retrying.
/// `schedule_elapsed_ms` is the time into the schedule, unscaled, at which
/// the next attempt is due (NULL: where the listed schedule puts it).
const DELIVERIES: &str = "
CREATE TABLE deliveries (
    seq                 INTEGER NOT NULL REFERENCES bus_events (seq),
    destination         TEXT NOT NULL,
    status              TEXT NOT NULL,
    due_at_ms           INTEGER,
    next_attempt        INTEGER NOT NULL DEFAULT 1,
    schedule_started_ms INTEGER,
    schedule_elapsed_ms INTEGER,
    PRIMARY KEY (seq, destination),
    CHECK ((due_at_ms IS NOT NULL) = (status IN ('pending', 'retrying')))
) WITHOUT ROWID;
CREATE INDEX deliveries_due ON deliveries (destination, due_at_ms, seq)
    WHERE due_at_ms IS NOT NULL;
";

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
-- Only the events still to hand over; the persist route's queries name
-- the literal 'pending', so they use it.
CREATE INDEX bus_events_unconsumed ON bus_events (seq) WHERE consume_state = 'pending';
CREATE TABLE attempts (
    seq              INTEGER NOT NULL REFERENCES bus_events (seq),
    destination      TEXT NOT NULL,
    number           INTEGER NOT NULL,
    at_ms            INTEGER NOT NULL,
    outcome          TEXT NOT NULL,
    status           INTEGER,
    error            TEXT,
    -- NULL for attempts recorded by schema 1, which did not measure it.
    latency_ms       INTEGER,
    response_excerpt TEXT
);
CREATE INDEX attempts_of_delivery ON attempts (seq, destination);
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

/// What the console adds: the masked request headers of an accepted event
/// (JSON `[[name, value], …]`; NULL for events received before schema 4)
/// and the refusal ring (`super::refusals`).
const CONSOLE: &str = "
ALTER TABLE bus_events ADD COLUMN request_headers TEXT;
CREATE TABLE refusals (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms          INTEGER NOT NULL,
    source         TEXT NOT NULL,
    status         INTEGER NOT NULL,
    code           TEXT NOT NULL,
    reason         TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    headers        TEXT NOT NULL,
    body_excerpt   TEXT
);
";

/// Schema 1 delivered every event to the one `--target`: its deliveries and
/// attempts become those of the `default` destination, which `--target`
/// still names, and a pending delivery that already failed is retrying.
const FROM_VERSION_1: &str = "
ALTER TABLE deliveries RENAME TO deliveries_v1;
DROP INDEX deliveries_due;
{DELIVERIES}
INSERT INTO deliveries (seq, destination, status, due_at_ms, next_attempt, schedule_started_ms)
    SELECT seq, 'default',
           CASE WHEN status = 'pending' AND next_attempt > 1 THEN 'retrying' ELSE status END,
           due_at_ms, next_attempt, schedule_started_ms
    FROM deliveries_v1;
DROP TABLE deliveries_v1;
ALTER TABLE attempts ADD COLUMN destination TEXT NOT NULL DEFAULT 'default';
ALTER TABLE attempts ADD COLUMN latency_ms INTEGER;
ALTER TABLE attempts ADD COLUMN response_excerpt TEXT;
DROP INDEX attempts_of_event;
CREATE INDEX attempts_of_delivery ON attempts (seq, destination);
";

/// Schema 2 knew only SNS's hour: its retrying deliveries continue where
/// the listed two-tier schedule puts their next attempt.
const FROM_VERSION_2: &str = "
ALTER TABLE deliveries ADD COLUMN schedule_elapsed_ms INTEGER;
";

/// Schema 5 spends less disk per event: a delivery's key is the table
/// itself (it was a rowid table plus an index of the same key), and the
/// persist route's index holds only the events still to hand over (it held
/// every event).
const LEAN_UNCONSUMED_INDEX: &str = "
DROP INDEX bus_events_unconsumed;
CREATE INDEX bus_events_unconsumed ON bus_events (seq) WHERE consume_state = 'pending';
";
const LEAN_DELIVERIES: &str = "
ALTER TABLE deliveries RENAME TO deliveries_v4;
DROP INDEX deliveries_due;
{DELIVERIES}
INSERT INTO deliveries SELECT seq, destination, status, due_at_ms, next_attempt,
        schedule_started_ms, schedule_elapsed_ms
    FROM deliveries_v4;
DROP TABLE deliveries_v4;
";

/// Creates the tables in a new database, migrates one of an older schema in
/// one transaction, accepts one of this schema, and refuses a newer one.
pub fn create_or_migrate(connection: &Connection) -> Result<(), StoreError> {
    let lean_deliveries = LEAN_DELIVERIES.replace("{DELIVERIES}", DELIVERIES);
    let steps = match schema_version(connection)? {
        0 => format!("{SCHEMA}{DELIVERIES}{CONSOLE}"),
        1 => FROM_VERSION_1.replace("{DELIVERIES}", DELIVERIES) + CONSOLE + LEAN_UNCONSUMED_INDEX,
        2 => format!("{FROM_VERSION_2}{CONSOLE}{lean_deliveries}{LEAN_UNCONSUMED_INDEX}"),
        3 => format!("{CONSOLE}{lean_deliveries}{LEAN_UNCONSUMED_INDEX}"),
        4 => format!("{lean_deliveries}{LEAN_UNCONSUMED_INDEX}"),
        SCHEMA_VERSION => return Ok(()),
        found => return Err(StoreError::NewerSchema { found }),
    };
    connection.execute_batch(&format!(
        "BEGIN IMMEDIATE; {steps} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
    ))?;
    Ok(())
}

/// Accepts only a database of this schema, for readers that must not write.
pub fn check(connection: &Connection) -> Result<(), StoreError> {
    match schema_version(connection)? {
        SCHEMA_VERSION => Ok(()),
        found if found > SCHEMA_VERSION => Err(StoreError::NewerSchema { found }),
        found => Err(StoreError::OlderSchema { found }),
    }
}

fn schema_version(connection: &Connection) -> Result<i64, StoreError> {
    Ok(connection.pragma_query_value(None, "user_version", |row| row.get(0))?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Schema 1 as its build created it, with a delivery in each state.
    const VERSION_1: &str = "
    CREATE TABLE bus_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT NOT NULL, event_id TEXT NOT NULL,
        detail_type TEXT NOT NULL, detail TEXT NOT NULL, correlation_id TEXT NOT NULL,
        received_at TEXT NOT NULL, occurred_at TEXT, duplicates INTEGER NOT NULL DEFAULT 0,
        consume_state TEXT NOT NULL DEFAULT 'pending', consume_error TEXT,
        UNIQUE (source, event_id));
    CREATE INDEX bus_events_unconsumed ON bus_events (consume_state, seq);
    CREATE TABLE deliveries (
        seq INTEGER PRIMARY KEY REFERENCES bus_events (seq), status TEXT NOT NULL,
        due_at_ms INTEGER, next_attempt INTEGER NOT NULL DEFAULT 1, schedule_started_ms INTEGER);
    CREATE INDEX deliveries_due ON deliveries (status, due_at_ms);
    CREATE TABLE attempts (
        seq INTEGER NOT NULL REFERENCES bus_events (seq), number INTEGER NOT NULL,
        at_ms INTEGER NOT NULL, outcome TEXT NOT NULL, status INTEGER, error TEXT);
    CREATE INDEX attempts_of_event ON attempts (seq);
    CREATE TABLE recorded_events (source TEXT NOT NULL, event_id TEXT NOT NULL,
        expires_at INTEGER NOT NULL, PRIMARY KEY (source, event_id)) WITHOUT ROWID;
    CREATE TABLE projections (source TEXT NOT NULL, object_id TEXT NOT NULL,
        order_key TEXT NOT NULL, event_id TEXT NOT NULL, envelope TEXT NOT NULL,
        PRIMARY KEY (source, object_id)) WITHOUT ROWID;
    INSERT INTO bus_events (source, event_id, detail_type, detail, correlation_id, received_at)
        VALUES ('s', 'fresh', 't', '{}', 'c', 'r'), ('s', 'failing', 't', '{}', 'c', 'r'),
               ('s', 'done', 't', '{}', 'c', 'r');
    INSERT INTO deliveries VALUES (1, 'pending', 10, 1, NULL), (2, 'pending', 20, 3, 5),
                                  (3, 'delivered', NULL, 2, 5);
    INSERT INTO attempts VALUES (2, 1, 5, 'failed', 500, 'the target answered HTTP 500'),
                                (3, 1, 5, 'delivered', 200, NULL);
    PRAGMA user_version = 1;
    ";

    #[test]
    fn a_version_1_database_becomes_the_default_destinations() {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(VERSION_1).unwrap();
        create_or_migrate(&connection).unwrap();
        check(&connection).unwrap();
        let deliveries: Vec<(i64, String, String, Option<i64>, i64)> = connection
            .prepare("SELECT seq, destination, status, due_at_ms, next_attempt FROM deliveries ORDER BY seq")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            deliveries,
            [
                (1, "default".into(), "pending".into(), Some(10), 1),
                (2, "default".into(), "retrying".into(), Some(20), 3),
                (3, "default".into(), "delivered".into(), None, 2),
            ]
        );
        let attempts: Vec<(i64, String, Option<i64>)> = connection
            .prepare("SELECT seq, destination, latency_ms FROM attempts ORDER BY rowid")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            attempts,
            [(2, "default".into(), None), (3, "default".into(), None)]
        );
        create_or_migrate(&connection).unwrap();
    }

    #[test]
    fn a_version_2_database_keeps_its_deliveries_and_gains_the_schedule_position() {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(VERSION_1).unwrap();
        create_or_migrate(&connection).unwrap();
        // Back to what schema 2 was, as its build left it.
        connection
            .execute_batch(
                "ALTER TABLE deliveries DROP COLUMN schedule_elapsed_ms;
                 ALTER TABLE bus_events DROP COLUMN request_headers; DROP TABLE refusals;
                 PRAGMA user_version = 2;",
            )
            .unwrap();
        create_or_migrate(&connection).unwrap();
        check(&connection).unwrap();
        let deliveries: Vec<(i64, String, i64, Option<i64>)> = connection
            .prepare("SELECT seq, status, next_attempt, schedule_elapsed_ms FROM deliveries ORDER BY seq")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            deliveries,
            [
                (1, "pending".into(), 1, None),
                (2, "retrying".into(), 3, None),
                (3, "delivered".into(), 2, None),
            ]
        );
    }

    #[test]
    fn a_version_3_database_keeps_its_events_and_gains_the_console_tables() {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(VERSION_1).unwrap();
        create_or_migrate(&connection).unwrap();
        // Back to what schema 3 was, as its build left it.
        connection
            .execute_batch(
                "ALTER TABLE bus_events DROP COLUMN request_headers; DROP TABLE refusals;
                 PRAGMA user_version = 3;",
            )
            .unwrap();
        create_or_migrate(&connection).unwrap();
        check(&connection).unwrap();
        let events: Vec<(String, Option<String>)> = connection
            .prepare("SELECT event_id, request_headers FROM bus_events ORDER BY seq")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            events,
            [
                ("fresh".into(), None),
                ("failing".into(), None),
                ("done".into(), None)
            ],
            "older events have no recorded headers"
        );
        let refusals: i64 = connection
            .query_row("SELECT COUNT(*) FROM refusals", [], |row| row.get(0))
            .unwrap();
        assert_eq!(refusals, 0);
    }

    #[test]
    fn a_version_4_database_becomes_leaner_and_keeps_its_deliveries() {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(VERSION_1).unwrap();
        create_or_migrate(&connection).unwrap();
        let deliveries = |connection: &Connection| -> Vec<(i64, String, String)> {
            connection
                .prepare("SELECT seq, destination, status FROM deliveries ORDER BY seq")
                .unwrap()
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap()
        };
        let before = deliveries(&connection);
        // Back to what schema 4 was, as its build left it.
        connection
            .execute_batch(&format!(
                "ALTER TABLE deliveries RENAME TO lean; DROP INDEX deliveries_due;
                 {}
                 INSERT INTO deliveries SELECT * FROM lean; DROP TABLE lean;
                 DROP INDEX bus_events_unconsumed;
                 CREATE INDEX bus_events_unconsumed ON bus_events (consume_state, seq);
                 PRAGMA user_version = 4;",
                DELIVERIES.replace(") WITHOUT ROWID;", ");")
            ))
            .unwrap();
        create_or_migrate(&connection).unwrap();
        check(&connection).unwrap();
        let after = deliveries(&connection);
        assert_eq!(after, before);
        let definition = |name: &str| -> String {
            connection
                .query_row(
                    "SELECT sql FROM sqlite_master WHERE name = ?1",
                    [name],
                    |row| row.get(0),
                )
                .unwrap()
        };
        assert!(definition("deliveries").ends_with("WITHOUT ROWID"));
        assert!(definition("bus_events_unconsumed").contains("WHERE consume_state = 'pending'"));
        let plan: String = connection
            .query_row(
                "EXPLAIN QUERY PLAN SELECT seq FROM bus_events WHERE consume_state = 'pending' ORDER BY seq",
                [],
                |row| row.get(3),
            )
            .unwrap();
        assert!(plan.contains("bus_events_unconsumed"), "{plan}");
    }

    #[test]
    fn a_reader_refuses_any_other_schema() {
        let connection = Connection::open_in_memory().unwrap();
        connection.execute_batch(VERSION_1).unwrap();
        assert!(matches!(
            check(&connection),
            Err(StoreError::OlderSchema { found: 1 })
        ));
        connection.pragma_update(None, "user_version", 6).unwrap();
        assert!(matches!(
            check(&connection),
            Err(StoreError::NewerSchema { found: 6 })
        ));
    }

    #[test]
    fn a_delivery_is_due_exactly_while_pending_or_retrying() {
        let connection = Connection::open_in_memory().unwrap();
        create_or_migrate(&connection).unwrap();
        connection
            .execute_batch(
                "INSERT INTO bus_events (source, event_id, detail_type, detail, correlation_id, received_at)
                 VALUES ('s', 'e', 't', '{}', 'c', 'r');",
            )
            .unwrap();
        let insert = |status: &str, due: Option<i64>| {
            connection.execute(
                "INSERT OR REPLACE INTO deliveries (seq, destination, status, due_at_ms) VALUES (1, 'd', ?1, ?2)",
                rusqlite::params![status, due],
            )
        };
        insert("pending", Some(1)).unwrap();
        insert("retrying", Some(1)).unwrap();
        insert("delivered", None).unwrap();
        insert("pending", None).unwrap_err();
        insert("dead_lettered", Some(1)).unwrap_err();
    }
}
