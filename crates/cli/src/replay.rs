//! `hookbridge replay`: sends dead-lettered deliveries again. Locally, it
//! re-queues them in the dev store with a fresh schedule (a running
//! `hookbridge dev` picks them up within a second), to every destination
//! that dead-lettered them or to one (`--destination`); with `--aws`, it
//! moves the SQS dead-letter queue's messages back to the SNS topic.

use std::path::PathBuf;
use std::time::SystemTime;

#[cfg(feature = "aws")]
use hookbridge_aws::replay::{DeadLetterReplayer, ReplayError as AwsReplayError};
use hookbridge_core::destinations::{DestinationName, DestinationsError};

use crate::dev::DEFAULT_DATA_DIR;
use crate::dev::store::deliveries::{DeadLetterFilter, requeue_dead_letters};
use crate::dev::store::{self, LocalStore, StoreError, in_transaction};
use crate::output;

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Directory of the dev store [default: .hookbridge].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Replay at most this many deliveries [default: all].
    #[arg(long)]
    pub limit: Option<usize>,
    /// Replay only the deliveries of this event id.
    #[arg(long, conflicts_with = "aws")]
    pub id: Option<String>,
    /// Replay only the deliveries to this destination; its other
    /// destinations get nothing again.
    #[arg(long, conflicts_with = "aws")]
    pub destination: Option<String>,
    /// Replay from the SQS dead-letter queue to the SNS topic in AWS. Needs
    /// a build with `--features aws`.
    #[arg(long, requires_all = ["queue_url", "topic_arn"])]
    pub aws: bool,
    /// The subscription's dead-letter queue (with --aws).
    #[arg(long, requires = "aws")]
    pub queue_url: Option<String>,
    /// The delivery topic (with --aws).
    #[arg(long, requires = "aws")]
    pub topic_arn: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("no dev store in {0}: run `hookbridge dev` first or pass --data-dir")]
    NoStore(PathBuf),
    #[error("--destination: {0}")]
    Destination(DestinationsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[cfg(feature = "aws")]
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[cfg(feature = "aws")]
    #[error(transparent)]
    Aws(#[from] AwsReplayError),
    #[cfg(not(feature = "aws"))]
    #[error(transparent)]
    AwsModeNotBuilt(#[from] crate::AwsModeNotBuilt),
}

pub fn run(args: ReplayArgs) -> Result<(), ReplayError> {
    let limit = args.limit.unwrap_or(usize::MAX);
    match (args.aws, args.queue_url, args.topic_arn) {
        (true, Some(queue_url), Some(topic_arn)) => replay_aws(&queue_url, &topic_arn, limit),
        _ => {
            let data_dir = args
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
            let destination = args
                .destination
                .as_deref()
                .map(DestinationName::parse)
                .transpose()
                .map_err(ReplayError::Destination)?;
            let filter = DeadLetterFilter {
                event_id: args.id.as_deref(),
                destination: destination.as_ref().map(DestinationName::as_str),
            };
            replay_local(&data_dir, filter, limit)
        }
    }
}

fn replay_local(
    data_dir: &std::path::Path,
    filter: DeadLetterFilter<'_>,
    limit: usize,
) -> Result<(), ReplayError> {
    if !data_dir.join(store::DATABASE_FILE).is_file() {
        return Err(ReplayError::NoStore(data_dir.to_path_buf()));
    }
    let store = LocalStore::open(data_dir)?;
    let requeued = store.with(|connection| {
        in_transaction(connection, |connection| {
            requeue_dead_letters(connection, filter, limit, SystemTime::now())
        })
    })?;
    for entry in &requeued {
        output::line(format_args!(
            "replayed {} to {} (source {}, correlation id {})",
            entry.event_id, entry.destination, entry.source, entry.correlation_id
        ));
    }
    if requeued.is_empty() {
        let of_event = filter
            .event_id
            .map(|id| format!(" of event {id}"))
            .unwrap_or_default();
        let to_destination = filter
            .destination
            .map(|name| format!(" to {name}"))
            .unwrap_or_default();
        output::line(format_args!(
            "no dead-lettered deliveries{of_event}{to_destination}"
        ));
    } else {
        output::line(format_args!(
            "{} delivery(ies) re-queued with a fresh schedule",
            requeued.len()
        ));
    }
    Ok(())
}

#[cfg(not(feature = "aws"))]
fn replay_aws(_queue_url: &str, _topic_arn: &str, _limit: usize) -> Result<(), ReplayError> {
    Err(crate::AwsModeNotBuilt("replay --aws").into())
}

#[cfg(feature = "aws")]
fn replay_aws(queue_url: &str, topic_arn: &str, limit: usize) -> Result<(), ReplayError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ReplayError::Runtime)?;
    let report = runtime.block_on(async {
        let aws = hookbridge_aws::sdk_config::load().await;
        DeadLetterReplayer::new(
            aws_sdk_sqs::Client::new(&aws),
            aws_sdk_sns::Client::new(&aws),
        )
        .replay(queue_url, topic_arn, limit)
        .await
    })?;
    output::line(format_args!(
        "{} message(s) moved from {queue_url} back to {topic_arn}",
        report.replayed
    ));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use hookbridge_core::destinations::Destinations;
    use hookbridge_core::ports::BusEvent;

    use super::*;
    use crate::dev::data_dir_lock::DataDirLock;
    use crate::dev::store::bus::publish;
    use crate::dev::store::deliveries::{AfterAttempt, due_deliveries, record_attempt};
    use crate::dev::store::test_support::{data_dir, fail};

    const DESTINATIONS: [&str; 2] = ["billing", "crm"];

    fn everything() -> DeadLetterFilter<'static> {
        DeadLetterFilter::default()
    }

    /// Publishes event `id` (number `seq`) to both destinations, and
    /// dead-letters both deliveries.
    fn dead_letter(store: &LocalStore, seq: i64, id: &str) {
        let event = BusEvent {
            source: "hookbridge.github".to_owned(),
            detail_type: "push".to_owned(),
            detail: format!(
                r#"{{"id":"{id}","source":"github","type":"push","received_at":"2026-11-24T00:00:00.000Z",
                "occurred_at":null,"correlation_id":"c","payload":{{}}}}"#
            ),
        };
        let destinations = Destinations::from_json(
            r#"{"billing": {"url": "http://127.0.0.1:9/b"}, "crm": {"url": "http://127.0.0.1:9/c"}}"#,
        )
        .unwrap();
        let last = fail(12, UNIX_EPOCH + Duration::from_secs(1));
        store
            .with(|c| {
                publish(c, &event, None, &destinations, UNIX_EPOCH)?;
                for name in DESTINATIONS {
                    record_attempt(c, seq, name, UNIX_EPOCH, &last, AfterAttempt::DeadLettered)?;
                }
                Ok(())
            })
            .unwrap();
    }

    /// The due deliveries to `destination`, by event number.
    fn due(store: &LocalStore, destination: &str) -> Vec<i64> {
        let mut seqs: Vec<i64> = store
            .with(|c| due_deliveries(c, destination, SystemTime::now(), &[], 10))
            .unwrap()
            .into_iter()
            .map(|d| d.seq)
            .collect();
        seqs.sort_unstable();
        seqs
    }

    #[test]
    fn local_replay_requeues_every_dead_letter_or_one_by_id() {
        let dir = data_dir("replay");
        let store = LocalStore::open(&dir).unwrap();
        dead_letter(&store, 1, "evt_1");
        dead_letter(&store, 2, "evt_2");
        dead_letter(&store, 3, "evt_3");
        let evt_2 = DeadLetterFilter {
            event_id: Some("evt_2"),
            destination: None,
        };
        replay_local(&dir, evt_2, usize::MAX).unwrap();
        for name in DESTINATIONS {
            assert_eq!(due(&store, name), [2], "{name}");
        }
        replay_local(&dir, everything(), 1).unwrap();
        assert_eq!(
            due(&store, "billing"),
            [1, 2],
            "the limit holds, oldest first"
        );
        assert_eq!(due(&store, "crm"), [2]);
        replay_local(&dir, everything(), usize::MAX).unwrap();
        for name in DESTINATIONS {
            assert_eq!(due(&store, name), [1, 2, 3], "{name}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn local_replay_to_one_destination_sends_nothing_to_the_others() {
        let dir = data_dir("replay");
        let store = LocalStore::open(&dir).unwrap();
        dead_letter(&store, 1, "evt_1");
        dead_letter(&store, 2, "evt_2");
        let crm = DeadLetterFilter {
            event_id: None,
            destination: Some("crm"),
        };
        replay_local(&dir, crm, usize::MAX).unwrap();
        assert_eq!(due(&store, "crm"), [1, 2]);
        assert!(due(&store, "billing").is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_invalid_destination_name_is_refused_before_the_store_is_read() {
        let args = ReplayArgs {
            data_dir: Some(data_dir("replay")),
            limit: None,
            id: None,
            destination: Some("Not Valid".to_owned()),
            aws: false,
            queue_url: None,
            topic_arn: None,
        };
        let error = run(args).unwrap_err().to_string();
        assert!(error.contains("--destination"), "{error}");
        assert!(error.contains("Not Valid"), "{error}");
    }

    #[test]
    fn local_replay_works_while_dev_holds_the_data_directory() {
        let dir = data_dir("replay");
        let _dev = DataDirLock::acquire(&dir).unwrap();
        let store = LocalStore::open(&dir).unwrap();
        dead_letter(&store, 1, "evt_1");
        replay_local(&dir, everything(), usize::MAX).unwrap();
        assert_eq!(due(&store, "billing"), [1]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn local_replay_needs_an_existing_store() {
        let dir = data_dir("replay");
        assert!(matches!(
            replay_local(&dir, everything(), usize::MAX),
            Err(ReplayError::NoStore(_))
        ));
        assert!(!dir.exists(), "no store is created by a replay");
    }
}
