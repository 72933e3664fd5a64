//! `hookbridge status <event-id>`: where each delivery of an event stands,
//! per destination, with its attempts. Read from the store of `hookbridge
//! dev` (`--data-dir`), read-only and without its lock, so it works beside a
//! running `hookbridge dev`. The rendering is over the core's
//! [`DeliveryRecord`], the shape deliver records in AWS too.

use std::fmt::Write as _;
use std::path::PathBuf;

use hookbridge_core::delivery_status::{AttemptOutcome, DeliveryRecord};
use serde::Serialize;

use crate::dev::DEFAULT_DATA_DIR;
use crate::dev::store::records::delivery_records;
use crate::dev::store::{self, LocalStore, StoreError};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The event id (the provider's, as in `GET /events`).
    pub event_id: String,
    /// Directory of the dev store [default: .hookbridge].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("no dev store in {0}: run `hookbridge dev` first or pass --data-dir")]
    NoStore(PathBuf),
    #[error("no event `{event_id}` in {data_dir}")]
    UnknownEvent { event_id: String, data_dir: PathBuf },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `--json` prints.
#[derive(Debug, Serialize)]
struct StatusJson<'a> {
    event_id: &'a str,
    /// By destination name; empty when the event matched no destination.
    deliveries: &'a [DeliveryRecord],
}

pub fn run(args: StatusArgs) -> Result<(), StatusError> {
    let data_dir = args
        .data_dir
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    if !data_dir.join(store::DATABASE_FILE).is_file() {
        return Err(StatusError::NoStore(data_dir));
    }
    let store = LocalStore::open_read_only(&data_dir)?;
    let event_id = args.event_id;
    let records = store
        .with(|connection| delivery_records(connection, &event_id))?
        .ok_or_else(|| StatusError::UnknownEvent {
            event_id: event_id.clone(),
            data_dir,
        })?;
    let output = if args.json {
        json(&event_id, &records)
    } else {
        table(&event_id, &records)
    };
    print!("{output}");
    Ok(())
}

fn json(event_id: &str, records: &[DeliveryRecord]) -> String {
    let value = StatusJson {
        event_id,
        deliveries: records,
    };
    // Plain strings and numbers: serialising cannot fail.
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

/// One line per destination, then one per kept attempt.
fn table(event_id: &str, records: &[DeliveryRecord]) -> String {
    let mut out = String::new();
    if records.is_empty() {
        let _ = writeln!(
            out,
            "event {event_id}: matched no destination (stored, not delivered)"
        );
        return out;
    }
    let _ = writeln!(out, "event {event_id}");
    let _ = writeln!(
        out,
        "{:<20} {:<14} {:>8}",
        "DESTINATION", "STATE", "ATTEMPTS"
    );
    for record in records {
        let _ = writeln!(
            out,
            "{:<20} {:<14} {:>8}",
            record.destination.as_str(),
            record.state.as_str(),
            record.attempt_count
        );
        for attempt in &record.attempts {
            let outcome = match &attempt.outcome {
                AttemptOutcome::Status(status) => format!("HTTP {status}"),
                AttemptOutcome::Error(error) => error.clone(),
            };
            let excerpt = attempt
                .response_excerpt
                .as_deref()
                .map(|text| format!("  {}", one_line(text)))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {}  {outcome}  {} ms{excerpt}",
                attempt.at, attempt.latency_ms
            );
        }
    }
    out
}

/// An excerpt on one line, at most 80 characters.
fn one_line(text: &str) -> String {
    const SHOWN: usize = 80;
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    match flat.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use hookbridge_core::delivery_status::{Attempt, DeliveryState};
    use hookbridge_core::destinations::DestinationName;

    use super::*;

    fn record() -> DeliveryRecord {
        let mut record =
            DeliveryRecord::pending("evt_1", DestinationName::parse("billing").unwrap());
        record.record(
            Attempt {
                at: "2027-01-15T08:00:00.000Z".into(),
                outcome: AttemptOutcome::Error("the target did not answer in time".into()),
                latency_ms: 3000,
                response_excerpt: None,
            },
            DeliveryState::Retrying,
        );
        record.record(
            Attempt {
                at: "2027-01-15T08:00:03.000Z".into(),
                outcome: AttemptOutcome::Status(200),
                latency_ms: 12,
                response_excerpt: Some("ok\nthanks".into()),
            },
            DeliveryState::Delivered,
        );
        record
    }

    #[test]
    fn the_table_shows_each_destination_and_its_attempts() {
        let table = table("evt_1", &[record()]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "event evt_1");
        assert!(lines[2].starts_with("billing"), "{table}");
        assert!(lines[2].contains("delivered"), "{table}");
        assert!(lines[2].trim_end().ends_with('2'), "{table}");
        assert!(
            lines[3].contains("the target did not answer in time  3000 ms"),
            "{table}"
        );
        assert!(lines[4].contains("HTTP 200  12 ms  ok thanks"), "{table}");
    }

    #[test]
    fn an_event_without_destinations_says_so() {
        assert_eq!(
            table("evt_1", &[]),
            "event evt_1: matched no destination (stored, not delivered)\n"
        );
    }

    #[test]
    fn the_json_holds_the_records() {
        let value: serde_json::Value = serde_json::from_str(&json("evt_1", &[record()])).unwrap();
        assert_eq!(value["event_id"], "evt_1");
        assert_eq!(value["deliveries"][0]["destination"], "billing");
        assert_eq!(value["deliveries"][0]["state"], "delivered");
        assert_eq!(
            value["deliveries"][0]["attempts"][1]["outcome"],
            serde_json::json!({"status": 200})
        );
    }

    #[test]
    fn long_excerpts_are_cut_on_a_character() {
        let long = "é".repeat(100);
        let shown = one_line(&long);
        assert_eq!(shown.chars().count(), 81);
        assert!(shown.ends_with('…'));
    }

    #[test]
    fn an_unknown_event_or_store_is_an_error() {
        let dir = crate::dev::store::test_support::data_dir("status");
        let args = |id: &str| StatusArgs {
            event_id: id.to_owned(),
            data_dir: Some(dir.clone()),
            json: false,
        };
        assert!(matches!(run(args("evt_1")), Err(StatusError::NoStore(_))));
        drop(LocalStore::open(&dir).unwrap());
        let error = run(args("evt_1")).unwrap_err();
        assert!(matches!(error, StatusError::UnknownEvent { .. }), "{error}");
        assert!(error.to_string().contains("evt_1"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
