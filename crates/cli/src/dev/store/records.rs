//! `hookbridge status <event-id>`: an event's deliveries as the core's
//! [`DeliveryRecord`]s, the shape deliver writes in AWS, so both print alike.

use hookbridge_core::delivery_status::{
    Attempt, AttemptOutcome, DeliveryRecord, MAX_RECORDED_ATTEMPTS,
};
use hookbridge_core::destinations::DestinationName;
use rusqlite::{Connection, params};

use super::states::DeliveryState;
use super::{StoreError, from_millis};

/// The delivery records of `event_id` by destination name, `None` when no
/// event has that id; an event that matched no destination has none. (Two
/// sources may use the same id: then the records of both.)
pub fn delivery_records(
    connection: &Connection,
    event_id: &str,
) -> Result<Option<Vec<DeliveryRecord>>, StoreError> {
    let known: bool = connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM bus_events WHERE event_id = ?1)",
        [event_id],
        |row| row.get(0),
    )?;
    if !known {
        return Ok(None);
    }
    let mut deliveries = connection.prepare_cached(
        "SELECT d.seq, d.destination, d.status FROM deliveries d
         JOIN bus_events e ON e.seq = d.seq
         WHERE e.event_id = ?1 ORDER BY d.seq, d.destination",
    )?;
    let rows = deliveries
        .query_map([event_id], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, DeliveryState>(2)?,
            ))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut attempts = connection.prepare_cached(
        "SELECT at_ms, status, error, latency_ms, response_excerpt FROM attempts
         WHERE seq = ?1 AND destination = ?2 ORDER BY rowid",
    )?;
    let mut records = Vec::with_capacity(rows.len());
    for (seq, destination, state) in rows {
        // Names were checked when the delivery was scheduled; one renamed
        // since still reads, as written.
        let name = DestinationName::parse(&destination).map_err(|error| {
            StoreError::InvalidDestination {
                name: destination.clone(),
                reason: error.to_string(),
            }
        })?;
        let made = attempts
            .query_map(params![seq, destination], |row| {
                let status: Option<u16> = row.get(1)?;
                let error: Option<String> = row.get(2)?;
                Ok(Attempt {
                    at: humantime::format_rfc3339_millis(from_millis(row.get(0)?)).to_string(),
                    outcome: match (status, error) {
                        (Some(status), _) => AttemptOutcome::Status(status),
                        (None, error) => AttemptOutcome::Error(error.unwrap_or_default()),
                    },
                    latency_ms: row.get::<_, Option<u64>>(3)?.unwrap_or_default(),
                    response_excerpt: row.get(4)?,
                })
            })?
            .collect::<Result<Vec<_>, _>>()?;
        let record = DeliveryRecord {
            event_id: event_id.to_owned(),
            destination: name,
            state: state.into(),
            attempt_count: u32::try_from(made.len()).unwrap_or(u32::MAX),
            attempts: kept(made),
        };
        records.push(record);
    }
    Ok(Some(records))
}

/// The attempts a record keeps, as [`DeliveryRecord::record`] does: the
/// first and the newest, at most [`MAX_RECORDED_ATTEMPTS`]. (Every attempt is
/// a row here, so two that look alike, say two refused connections in one
/// millisecond, are both counted.)
fn kept(mut attempts: Vec<Attempt>) -> Vec<Attempt> {
    if attempts.len() > MAX_RECORDED_ATTEMPTS {
        attempts.drain(1..=attempts.len() - MAX_RECORDED_ATTEMPTS);
    }
    attempts
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hookbridge_core::delivery_status::DeliveryState as State;

    use super::*;
    use crate::dev::store::LocalStore;
    use crate::dev::store::bus::publish;
    use crate::dev::store::deliveries::{AfterAttempt, AttemptRecord, record_attempt};
    use crate::dev::store::states::AttemptOutcome as Stored;
    use crate::dev::store::test_support::{at, billing_and_prs, bus_event, fail};

    #[test]
    fn an_event_reads_as_one_record_per_destination() {
        let store = LocalStore::in_memory();
        store
            .with(|c| publish(c, &bus_event("evt_1", "c"), None, &billing_and_prs(), at(0)))
            .unwrap();
        let refused = AttemptRecord {
            status: None,
            error: Some("the target did not answer in time".into()),
            response_excerpt: None,
            ..fail(2, at(1))
        };
        let delivered = AttemptRecord {
            outcome: Stored::Delivered,
            status: Some(204),
            error: None,
            ..fail(3, at(2))
        };
        for (attempt, next) in [
            (
                fail(1, at(0)),
                AfterAttempt::Retry {
                    number: 2,
                    at: at(0),
                    schedule_elapsed: Duration::ZERO,
                },
            ),
            (
                refused,
                AfterAttempt::Retry {
                    number: 3,
                    at: at(2),
                    schedule_elapsed: Duration::ZERO,
                },
            ),
            (delivered, AfterAttempt::Delivered),
        ] {
            store
                .with(|c| record_attempt(c, 1, "billing", at(0), &attempt, next))
                .unwrap();
        }
        let records = store
            .with(|c| delivery_records(c, "evt_1"))
            .unwrap()
            .expect("a known event");
        assert_eq!(records.len(), 1, "only billing takes Stripe events");
        let billing = &records[0];
        assert_eq!(
            (billing.event_id.as_str(), billing.destination.as_str()),
            ("evt_1", "billing")
        );
        assert_eq!(billing.state, State::Delivered);
        assert_eq!(billing.attempt_count, 3);
        let outcomes: Vec<&AttemptOutcome> = billing.attempts.iter().map(|a| &a.outcome).collect();
        assert_eq!(
            outcomes,
            [
                &AttemptOutcome::Status(500),
                &AttemptOutcome::Error("the target did not answer in time".into()),
                &AttemptOutcome::Status(204)
            ]
        );
        assert_eq!(billing.attempts[0].latency_ms, 7);
        assert_eq!(billing.attempts[0].at, "2027-01-15T08:00:00.000Z");
        assert_eq!(
            billing.attempts[0].response_excerpt.as_deref(),
            Some("busy")
        );
    }

    #[test]
    fn alike_attempts_all_count_and_a_long_history_keeps_the_first_and_the_newest() {
        let store = LocalStore::in_memory();
        store
            .with(|c| publish(c, &bus_event("evt_1", "c"), None, &billing_and_prs(), at(0)))
            .unwrap();
        for number in 1..=25 {
            // The first two alike: refused in the same millisecond.
            let when = at(u64::from(number.max(2)) - 2);
            let next = AfterAttempt::Retry {
                number: number + 1,
                at: when,
                schedule_elapsed: Duration::ZERO,
            };
            store
                .with(|c| record_attempt(c, 1, "billing", at(0), &fail(number, when), next))
                .unwrap();
        }
        let records = store
            .with(|c| delivery_records(c, "evt_1"))
            .unwrap()
            .unwrap();
        let billing = &records[0];
        assert_eq!(billing.state, State::Retrying);
        assert_eq!(billing.attempt_count, 25, "alike attempts all count");
        assert_eq!(billing.attempts.len(), MAX_RECORDED_ATTEMPTS);
        let time = |seconds| humantime::format_rfc3339_millis(at(seconds)).to_string();
        assert_eq!(billing.attempts[0].at, time(0), "the first is kept");
        assert_eq!(
            billing.attempts[1].at,
            time(5),
            "then the newest: attempt 7 on"
        );
        assert_eq!(billing.attempts[19].at, time(23));
    }

    #[test]
    fn an_unknown_event_is_none_and_an_unmatched_one_has_no_records() {
        let store = LocalStore::in_memory();
        let none = hookbridge_core::destinations::Destinations::default();
        store
            .with(|c| publish(c, &bus_event("evt_1", "c"), None, &none, at(0)))
            .unwrap();
        assert_eq!(store.with(|c| delivery_records(c, "evt_2")).unwrap(), None);
        assert_eq!(
            store.with(|c| delivery_records(c, "evt_1")).unwrap(),
            Some(Vec::new())
        );
    }
}
