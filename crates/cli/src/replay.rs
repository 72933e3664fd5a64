//! `hookbridge replay`: sends dead-lettered deliveries again. Locally, it
//! re-queues them in the dev store with a fresh schedule (a running
//! `hookbridge dev` picks them up within a second); with `--aws`, it moves
//! the SQS dead-letter queue's messages back to the SNS topic.

use std::path::PathBuf;
use std::time::SystemTime;

use hookbridge_aws::replay::{DeadLetterReplayer, ReplayError as AwsReplayError};

use crate::dev::DEFAULT_DATA_DIR;
use crate::dev::store::deliveries::requeue_dead_letters;
use crate::dev::store::{self, LocalStore, StoreError};

#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Directory of the dev store [default: .hookbridge].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Replay at most this many deliveries [default: all].
    #[arg(long)]
    pub limit: Option<usize>,
    /// Replay only the delivery of this event id.
    #[arg(long, conflicts_with = "aws")]
    pub id: Option<String>,
    /// Replay from the SQS dead-letter queue to the SNS topic in AWS.
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
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot start the runtime: {0}")]
    Runtime(std::io::Error),
    #[error(transparent)]
    Aws(#[from] AwsReplayError),
}

pub fn run(args: ReplayArgs) -> Result<(), ReplayError> {
    let limit = args.limit.unwrap_or(usize::MAX);
    match (args.aws, args.queue_url, args.topic_arn) {
        (true, Some(queue_url), Some(topic_arn)) => replay_aws(&queue_url, &topic_arn, limit),
        _ => {
            let data_dir = args
                .data_dir
                .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
            replay_local(&data_dir, args.id.as_deref(), limit)
        }
    }
}

fn replay_local(
    data_dir: &std::path::Path,
    event_id: Option<&str>,
    limit: usize,
) -> Result<(), ReplayError> {
    if !data_dir.join(store::DATABASE_FILE).is_file() {
        return Err(ReplayError::NoStore(data_dir.to_path_buf()));
    }
    let store = LocalStore::open(data_dir)?;
    let requeued = store
        .with(|connection| requeue_dead_letters(connection, event_id, limit, SystemTime::now()))?;
    for entry in &requeued {
        println!(
            "replayed {} (source {}, correlation id {})",
            entry.event_id, entry.source, entry.correlation_id
        );
    }
    match (requeued.len(), event_id) {
        (0, Some(id)) => println!("no dead-lettered delivery of event {id}"),
        (0, None) => println!("no dead-lettered deliveries"),
        (count, _) => println!("{count} delivery(ies) re-queued with a fresh schedule"),
    }
    Ok(())
}

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
    println!(
        "{} message(s) moved from {queue_url} back to {topic_arn}",
        report.replayed
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use hookbridge_core::ports::BusEvent;

    use super::*;
    use crate::dev::data_dir_lock::DataDirLock;
    use crate::dev::store::bus::publish;
    use crate::dev::store::deliveries::{AfterAttempt, due_deliveries, record_attempt};
    use crate::dev::store::test_support::{data_dir, fail};

    fn dead_letter(store: &LocalStore, seq: i64, id: &str) {
        let event = BusEvent {
            source: "hookbridge.github".to_owned(),
            detail_type: "push".to_owned(),
            detail: format!(
                r#"{{"id":"{id}","source":"github","type":"push","received_at":"2026-11-24T00:00:00.000Z",
                "occurred_at":null,"correlation_id":"c","payload":{{}}}}"#
            ),
        };
        let last = fail(12, UNIX_EPOCH + Duration::from_secs(1));
        store
            .with(|c| {
                publish(c, &event, true, UNIX_EPOCH)?;
                record_attempt(c, seq, UNIX_EPOCH, &last, AfterAttempt::DeadLettered)
            })
            .unwrap();
    }

    #[test]
    fn local_replay_requeues_every_dead_letter_or_one_by_id() {
        let dir = data_dir("replay");
        let store = LocalStore::open(&dir).unwrap();
        dead_letter(&store, 1, "evt_1");
        dead_letter(&store, 2, "evt_2");
        dead_letter(&store, 3, "evt_3");
        replay_local(&dir, Some("evt_2"), usize::MAX).unwrap();
        let due = |store: &LocalStore| {
            let mut seqs: Vec<i64> = store
                .with(|c| due_deliveries(c, SystemTime::now(), &[], 10))
                .unwrap()
                .into_iter()
                .map(|d| d.seq)
                .collect();
            seqs.sort_unstable();
            seqs
        };
        assert_eq!(due(&store), [2]);
        replay_local(&dir, None, 1).unwrap();
        assert_eq!(due(&store), [1, 2], "the limit holds, oldest first");
        replay_local(&dir, None, usize::MAX).unwrap();
        assert_eq!(due(&store), [1, 2, 3]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn local_replay_works_while_dev_holds_the_data_directory() {
        let dir = data_dir("replay");
        let _dev = DataDirLock::acquire(&dir).unwrap();
        let store = LocalStore::open(&dir).unwrap();
        dead_letter(&store, 1, "evt_1");
        replay_local(&dir, None, usize::MAX).unwrap();
        let due = store
            .with(|c| due_deliveries(c, SystemTime::now(), &[], 10))
            .unwrap();
        assert_eq!(due.iter().map(|d| d.seq).collect::<Vec<_>>(), [1]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn local_replay_needs_an_existing_store() {
        let dir = data_dir("replay");
        assert!(matches!(
            replay_local(&dir, None, usize::MAX),
            Err(ReplayError::NoStore(_))
        ));
        assert!(!dir.exists(), "no store is created by a replay");
    }
}
