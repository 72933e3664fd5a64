//! The SQS and SNS clients behind a replay.

use std::time::Duration;

use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sqs::types::Message;

use super::{Republication, republication};

/// SQS hands out at most this many messages per receive.
const RECEIVE_BATCH: i32 = 10;
/// How long received messages stay hidden while one is re-published.
const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(60);

/// What a replay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayReport {
    /// Published to the topic and deleted from the queue.
    pub replayed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("reading the dead-letter queue failed after {replayed} replayed: {reason}")]
    Receive { replayed: usize, reason: String },
    /// The message stays in the queue and is visible again at once.
    #[error("publishing message {message_id} failed after {replayed} replayed: {reason}")]
    Publish {
        replayed: usize,
        message_id: String,
        reason: String,
    },
    /// Published, but still in the queue: a later replay sends it again.
    #[error("deleting replayed message {message_id} failed after {replayed} replayed: {reason}")]
    Delete {
        replayed: usize,
        message_id: String,
        reason: String,
    },
}

/// Moves dead-lettered deliveries back onto the topic.
#[derive(Debug, Clone)]
pub struct DeadLetterReplayer {
    sqs: aws_sdk_sqs::Client,
    sns: aws_sdk_sns::Client,
}

impl DeadLetterReplayer {
    pub fn new(sqs: aws_sdk_sqs::Client, sns: aws_sdk_sns::Client) -> Self {
        Self { sqs, sns }
    }

    /// Re-publishes up to `limit` messages from `queue_url` to `topic_arn`,
    /// oldest available first, and stops at the first failure.
    pub async fn replay(
        &self,
        queue_url: &str,
        topic_arn: &str,
        limit: usize,
    ) -> Result<ReplayReport, ReplayError> {
        let mut report = ReplayReport::default();
        while report.replayed < limit {
            let wanted = (limit - report.replayed).min(RECEIVE_BATCH as usize) as i32;
            let messages = self
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(wanted)
                .visibility_timeout(VISIBILITY_TIMEOUT.as_secs() as i32)
                .wait_time_seconds(1)
                .send()
                .await
                .map_err(|error| ReplayError::Receive {
                    replayed: report.replayed,
                    reason: DisplayErrorContext(&error).to_string(),
                })?
                .messages
                .unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for (index, message) in messages.iter().enumerate() {
                if let Err(error) = self.replay_one(queue_url, topic_arn, message, report).await {
                    self.release(queue_url, &messages[index..]).await;
                    return Err(error);
                }
                report.replayed += 1;
            }
        }
        tracing::info!(
            replayed = report.replayed,
            queue_url,
            topic_arn,
            "replay finished"
        );
        Ok(report)
    }

    async fn replay_one(
        &self,
        queue_url: &str,
        topic_arn: &str,
        message: &Message,
        report: ReplayReport,
    ) -> Result<(), ReplayError> {
        let message_id = message.message_id.clone().unwrap_or_default();
        let Republication {
            message: text,
            subject,
        } = republication(message.body.as_deref().unwrap_or_default());
        let published = self
            .sns
            .publish()
            .topic_arn(topic_arn)
            .message(text)
            .set_subject(subject)
            .send()
            .await
            .map_err(|error| ReplayError::Publish {
                replayed: report.replayed,
                message_id: message_id.clone(),
                reason: DisplayErrorContext(&error).to_string(),
            })?;
        tracing::info!(
            dead_letter_id = %message_id,
            sns_message_id = published.message_id.as_deref().unwrap_or_default(),
            "re-published dead-lettered delivery"
        );
        self.sqs
            .delete_message()
            .queue_url(queue_url)
            .set_receipt_handle(message.receipt_handle.clone())
            .send()
            .await
            .map_err(|error| ReplayError::Delete {
                replayed: report.replayed + 1,
                message_id,
                reason: DisplayErrorContext(&error).to_string(),
            })?;
        Ok(())
    }

    /// Makes messages that were received but not replayed visible again at
    /// once. Best effort: if it fails they reappear after the visibility
    /// timeout anyway.
    async fn release(&self, queue_url: &str, messages: &[Message]) {
        for message in messages {
            let released = self
                .sqs
                .change_message_visibility()
                .queue_url(queue_url)
                .set_receipt_handle(message.receipt_handle.clone())
                .visibility_timeout(0)
                .send()
                .await;
            if let Err(error) = released {
                tracing::warn!(
                    message_id = message.message_id.as_deref().unwrap_or_default(),
                    error = %DisplayErrorContext(&error),
                    "could not release a message; it reappears after its visibility timeout"
                );
            }
        }
    }
}
