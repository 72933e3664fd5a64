//! The refusal ring: the last [`CAPACITY`] webhooks ingest refused, each
//! with the reason a person can act on. What is kept here is already
//! masked (headers) and trimmed (body excerpt) by the console.

use std::time::SystemTime;

use rusqlite::{Connection, params};
use serde::Serialize;

use super::{StoreError, from_millis, sql_limit, to_millis};

/// How many refusals the ring keeps; older ones are dropped.
pub const CAPACITY: i64 = 200;

/// One refused request, as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// RFC 3339 UTC.
    pub at: String,
    pub source: String,
    /// The HTTP status the sender got.
    pub status: u16,
    /// The error code the sender got.
    pub code: String,
    pub reason: String,
    pub correlation_id: String,
    /// `[name, value]` pairs, signatures and secrets masked.
    pub headers: Vec<(String, String)>,
    /// The start of the body, secrets masked; none for unknown sources.
    pub body_excerpt: Option<String>,
}

/// A refusal to record.
#[derive(Debug, Clone)]
pub struct NewRefusal {
    pub at: SystemTime,
    pub source: String,
    pub status: u16,
    pub code: &'static str,
    pub reason: String,
    pub correlation_id: String,
    pub headers: Vec<(String, String)>,
    pub body_excerpt: Option<String>,
}

/// Records a refusal and drops those beyond the ring's capacity. Written
/// through the writer's batches, so a flood of forged requests shares the
/// fsyncs of everything else rather than spending one each.
pub fn record_refusal(connection: &Connection, refusal: &NewRefusal) -> Result<(), StoreError> {
    let headers = serde_json::to_string(&refusal.headers).map_err(StoreError::InvalidDetail)?;
    connection
        .prepare_cached(
            "INSERT INTO refusals (at_ms, source, status, code, reason, correlation_id, headers,
             body_excerpt)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?
        .execute(params![
            to_millis(refusal.at),
            refusal.source,
            refusal.status,
            refusal.code,
            refusal.reason,
            refusal.correlation_id,
            headers,
            refusal.body_excerpt
        ])?;
    connection
        .prepare_cached("DELETE FROM refusals WHERE id <= last_insert_rowid() - ?1")?
        .execute([CAPACITY])?;
    Ok(())
}

/// The newest `limit` refusals, newest first.
pub fn recent_refusals(connection: &Connection, limit: usize) -> Result<Vec<Refusal>, StoreError> {
    let mut statement = connection.prepare_cached(
        "SELECT at_ms, source, status, code, reason, correlation_id, headers, body_excerpt
         FROM refusals ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = statement.query_map([sql_limit(limit)], |row| {
        Ok((
            Refusal {
                at: humantime::format_rfc3339_millis(from_millis(row.get(0)?)).to_string(),
                source: row.get(1)?,
                status: row.get(2)?,
                code: row.get(3)?,
                reason: row.get(4)?,
                correlation_id: row.get(5)?,
                headers: Vec::new(),
                body_excerpt: row.get(7)?,
            },
            row.get::<_, String>(6)?,
        ))
    })?;
    let mut refusals = Vec::new();
    for row in rows {
        let (mut refusal, headers) = row?;
        refusal.headers = serde_json::from_str(&headers).map_err(StoreError::InvalidDetail)?;
        refusals.push(refusal);
    }
    Ok(refusals)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dev::store::LocalStore;
    use crate::dev::store::test_support::at;

    fn refusal(number: u64) -> NewRefusal {
        NewRefusal {
            at: at(number),
            source: "stripe".to_owned(),
            status: 401,
            code: "signature_mismatch",
            reason: format!("no configured secret matches ({number})"),
            correlation_id: format!("c{number}"),
            headers: vec![("stripe-signature".to_owned(), "[masked]".to_owned())],
            body_excerpt: Some("{}".to_owned()),
        }
    }

    #[test]
    fn the_ring_keeps_only_the_newest_refusals() {
        let store = LocalStore::in_memory();
        let total = u64::try_from(CAPACITY).unwrap() + 5;
        for number in 1..=total {
            store.with(|c| record_refusal(c, &refusal(number))).unwrap();
        }
        let kept = store.with(|c| recent_refusals(c, usize::MAX)).unwrap();
        assert_eq!(kept.len(), usize::try_from(CAPACITY).unwrap());
        assert_eq!(kept[0].correlation_id, format!("c{total}"), "newest first");
        assert_eq!(kept.last().unwrap().correlation_id, "c6");
        assert_eq!(
            kept[0].headers,
            [("stripe-signature".to_owned(), "[masked]".to_owned())]
        );
        assert_eq!(
            kept[0].at,
            humantime::format_rfc3339_millis(at(total)).to_string()
        );
    }
}
