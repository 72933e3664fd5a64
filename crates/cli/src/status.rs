//! `hookbridge status <event-id>`: where one event's delivery stands at
//! every destination, with its attempts. With `--aws` it reads the stack's
//! events table; without, the store of `hookbridge dev` (`--data-dir`),
//! read-only and without its lock, so it works beside a running `hookbridge
//! dev`. The rendering below is the one shape every source of records
//! prints.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[cfg(feature = "aws")]
use hookbridge_aws::clock::SystemClock;
#[cfg(feature = "aws")]
use hookbridge_aws::delivery_status::DynamoDbDeliveryStatus;
#[cfg(feature = "aws")]
use hookbridge_aws::settings::DEFAULT_RETENTION;
use hookbridge_core::delivery_status::{Attempt, AttemptOutcome, DeliveryRecord};
use hookbridge_core::ports::DeliveryStatusError;
#[cfg(feature = "aws")]
use hookbridge_core::ports::DeliveryStatusStore;
use serde_json::json;

use crate::dev::DEFAULT_DATA_DIR;
use crate::dev::store::records::delivery_records;
use crate::dev::store::{self, LocalStore, StoreError};
use crate::output;

/// Characters of a response excerpt the table shows (`--json` has it all).
const EXCERPT_COLUMNS: usize = 60;

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The event id (the `webhook-id` every destination received).
    pub event_id: String,
    /// Read the delivery status from the stack's DynamoDB table. Needs a
    /// build with `--features aws`.
    #[arg(long, requires = "table")]
    pub aws: bool,
    /// The events table (the stack output `EventsTableName`), with --aws.
    #[arg(long, requires = "aws")]
    pub table: Option<String>,
    /// Directory of the dev store [default: .hookbridge].
    #[arg(long, conflicts_with = "aws")]
    pub data_dir: Option<PathBuf>,
    /// Print the records as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("no delivery of event `{0}` is recorded")]
    UnknownEvent(String),
    #[error("no dev store in {0}: run `hookbridge dev` first or pass --data-dir")]
    NoStore(PathBuf),
    #[error("no event `{event_id}` in {data_dir}")]
    UnknownLocalEvent { event_id: String, data_dir: PathBuf },
    #[error(transparent)]
    Local(#[from] StoreError),
    #[cfg(feature = "aws")]
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Store(#[from] DeliveryStatusError),
    #[cfg(not(feature = "aws"))]
    #[error(transparent)]
    AwsModeNotBuilt(#[from] crate::AwsModeNotBuilt),
}

pub fn run(args: StatusArgs) -> Result<(), StatusError> {
    let records = match args.table {
        Some(table) => aws_records(table, &args.event_id)?,
        None => {
            let data_dir = args
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
            local_records(&data_dir, &args.event_id)?
        }
    };
    if args.json {
        output::line(render_json(&args.event_id, &records));
    } else if records.is_empty() {
        output::line(no_destination(&args.event_id));
    } else {
        output::write(&render_table(&args.event_id, &records));
    }
    Ok(())
}

/// The records of the stack's events table; none is an unknown event.
#[cfg(feature = "aws")]
fn aws_records(table: String, event_id: &str) -> Result<Vec<DeliveryRecord>, StatusError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(StatusError::Runtime)?;
    let records = runtime.block_on(async {
        let aws = hookbridge_aws::sdk_config::load().await;
        // Reading only: the retention applies to writes.
        DynamoDbDeliveryStatus::new(
            aws_sdk_dynamodb::Client::new(&aws),
            table,
            DEFAULT_RETENTION,
            SystemClock,
        )
        .records(event_id)
        .await
    })?;
    if records.is_empty() {
        return Err(StatusError::UnknownEvent(event_id.to_owned()));
    }
    Ok(records)
}

#[cfg(not(feature = "aws"))]
fn aws_records(_table: String, _event_id: &str) -> Result<Vec<DeliveryRecord>, StatusError> {
    Err(crate::AwsModeNotBuilt("status --aws").into())
}

/// The records of the dev store in `data_dir`: empty for a stored event
/// that matched no destination, an error for an unknown one.
fn local_records(data_dir: &Path, event_id: &str) -> Result<Vec<DeliveryRecord>, StatusError> {
    if !data_dir.join(store::DATABASE_FILE).is_file() {
        return Err(StatusError::NoStore(data_dir.to_path_buf()));
    }
    LocalStore::open_read_only(data_dir)?
        .with(|connection| delivery_records(connection, event_id))?
        .ok_or_else(|| StatusError::UnknownLocalEvent {
            event_id: event_id.to_owned(),
            data_dir: data_dir.to_path_buf(),
        })
}

/// What the table says of a stored event no destination takes.
fn no_destination(event_id: &str) -> String {
    format!("event {event_id}: matched no destination (stored, not delivered)")
}

/// `{"event_id": …, "deliveries": [record, …]}`, records as
/// [`DeliveryRecord`] serialises them.
pub fn render_json(event_id: &str, records: &[DeliveryRecord]) -> String {
    serde_json::to_string_pretty(&json!({"event_id": event_id, "deliveries": records}))
        .expect("records serialise")
}

/// One line per destination, then its recorded attempts, oldest first.
pub fn render_table(event_id: &str, records: &[DeliveryRecord]) -> String {
    let width = records
        .iter()
        .map(|record| record.destination.as_str().len())
        .chain(["destination".len()])
        .max()
        .unwrap_or_default();
    let mut out = format!("event {event_id}\n\n");
    let _ = writeln!(
        out,
        "{:width$}  {:13}  {:>8}  last attempt",
        "destination", "state", "attempts"
    );
    for record in records {
        let last = record
            .attempts
            .last()
            .map_or_else(|| "-".to_owned(), |attempt| attempt.at.clone());
        let _ = writeln!(
            out,
            "{:width$}  {:13}  {:>8}  {last}",
            record.destination.as_str(),
            record.state.as_str(),
            record.attempt_count,
        );
    }
    for record in records {
        let _ = writeln!(out, "\n{}:", record.destination);
        let shown = u32::try_from(record.attempts.len()).unwrap_or(u32::MAX);
        for (index, attempt) in record.attempts.iter().enumerate() {
            if index == 1 && record.attempt_count > shown {
                let _ = writeln!(
                    out,
                    "  … {} attempt(s) not kept",
                    record.attempt_count - shown
                );
            }
            let _ = writeln!(out, "  {}", attempt_line(attempt));
        }
    }
    out
}

fn attempt_line(attempt: &Attempt) -> String {
    let outcome = match &attempt.outcome {
        AttemptOutcome::Status(status) => format!("HTTP {status}"),
        AttemptOutcome::Error(error) => error.clone(),
    };
    let mut line = format!("{}  {outcome}  {} ms", attempt.at, attempt.latency_ms);
    if let Some(excerpt) = &attempt.response_excerpt {
        let flat: String = excerpt
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .take(EXCERPT_COLUMNS)
            .collect();
        let ellipsis = if excerpt.chars().count() > EXCERPT_COLUMNS {
            "…"
        } else {
            ""
        };
        let _ = write!(line, "  {flat}{ellipsis}");
    }
    line
}

#[cfg(test)]
mod tests {
    use hookbridge_core::delivery_status::DeliveryState;
    use hookbridge_core::destinations::DestinationName;

    use super::*;

    fn attempt(at: &str, outcome: AttemptOutcome, excerpt: Option<&str>) -> Attempt {
        Attempt {
            at: at.to_owned(),
            outcome,
            latency_ms: 42,
            response_excerpt: excerpt.map(str::to_owned),
        }
    }

    fn records() -> Vec<DeliveryRecord> {
        let mut billing =
            DeliveryRecord::pending("evt_1", DestinationName::parse("billing").unwrap());
        billing.record(
            attempt(
                "2026-12-01T00:00:00.000Z",
                AttemptOutcome::Status(503),
                Some("down\nfor maintenance"),
            ),
            DeliveryState::Retrying,
        );
        billing.record(
            attempt(
                "2026-12-01T00:00:01.000Z",
                AttemptOutcome::Status(200),
                None,
            ),
            DeliveryState::Delivered,
        );
        let mut crm = DeliveryRecord::pending("evt_1", DestinationName::parse("crm").unwrap());
        crm.record(
            attempt(
                "2026-12-01T00:00:02.000Z",
                AttemptOutcome::Error("the target did not answer in time".to_owned()),
                None,
            ),
            DeliveryState::Retrying,
        );
        vec![billing, crm]
    }

    #[test]
    fn the_table_has_a_line_per_destination_and_per_attempt() {
        assert_eq!(
            render_table("evt_1", &records()),
            "event evt_1\n\n\
             destination  state          attempts  last attempt\n\
             billing      delivered             2  2026-12-01T00:00:01.000Z\n\
             crm          retrying              1  2026-12-01T00:00:02.000Z\n\
             \nbilling:\n\
             \x20 2026-12-01T00:00:00.000Z  HTTP 503  42 ms  down for maintenance\n\
             \x20 2026-12-01T00:00:01.000Z  HTTP 200  42 ms\n\
             \ncrm:\n\
             \x20 2026-12-01T00:00:02.000Z  the target did not answer in time  42 ms\n"
        );
    }

    #[test]
    fn attempts_no_longer_kept_are_counted_and_long_excerpts_cut() {
        let mut record =
            DeliveryRecord::pending("evt_1", DestinationName::parse("billing").unwrap());
        let long = "x".repeat(500);
        for second in 0..30 {
            record.record(
                attempt(
                    &format!("2026-12-01T00:00:{second:02}.000Z"),
                    AttemptOutcome::Status(500),
                    Some(&long),
                ),
                DeliveryState::Retrying,
            );
        }
        let table = render_table("evt_1", &[record]);
        assert!(table.contains("  … 10 attempt(s) not kept\n"), "{table}");
        assert!(table.contains(&format!("{}…\n", "x".repeat(EXCERPT_COLUMNS))));
    }

    #[test]
    fn the_json_holds_every_record_as_the_core_serialises_it() {
        let json: serde_json::Value =
            serde_json::from_str(&render_json("evt_1", &records())).unwrap();
        assert_eq!(json["event_id"], "evt_1");
        assert_eq!(json["deliveries"][0]["destination"], "billing");
        assert_eq!(json["deliveries"][0]["state"], "delivered");
        assert_eq!(
            json["deliveries"][0]["attempts"][0]["outcome"],
            json!({"status": 503})
        );
        assert_eq!(json["deliveries"][1]["state"], "retrying");
        let parsed: Vec<DeliveryRecord> =
            serde_json::from_value(json["deliveries"].clone()).unwrap();
        assert_eq!(parsed, records());
    }

    #[test]
    fn locally_an_unknown_event_or_store_is_an_error() {
        let dir = crate::dev::store::test_support::data_dir("status");
        assert!(matches!(
            local_records(&dir, "evt_1"),
            Err(StatusError::NoStore(_))
        ));
        assert!(!dir.exists(), "reading creates no store");
        drop(LocalStore::open(&dir).unwrap());
        let error = local_records(&dir, "evt_1").unwrap_err();
        assert!(
            matches!(error, StatusError::UnknownLocalEvent { .. }),
            "{error}"
        );
        assert!(error.to_string().contains("evt_1"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_event_without_destinations_says_so() {
        assert_eq!(
            no_destination("evt_1"),
            "event evt_1: matched no destination (stored, not delivered)"
        );
    }
}
