//! The persist route's queue: the events the consumer has not recorded, in
//! the shape EventBridge hands them to the consume Lambda.

use hookbridge_core::envelope::bus_source;
use rusqlite::{Connection, params};
use serde::Serialize;
use serde_json::value::RawValue;

use super::states::ConsumeState;
use super::{StoreError, sql_limit};

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
    let rows = statement.query_map(params![sql_limit(limit)], |row| {
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
            source: bus_source(&source),
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
    let state = if error.is_some() {
        ConsumeState::Failed
    } else {
        ConsumeState::Stored
    };
    connection
        .prepare_cached(
            "UPDATE bus_events SET consume_state = ?2, consume_error = ?3 WHERE seq = ?1",
        )?
        .execute(params![seq, state, error])?;
    Ok(())
}
