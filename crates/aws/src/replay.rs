//! Replaying dead-lettered deliveries: once the target is fixed, an operator
//! re-publishes what SNS gave up on from the subscription's dead-letter queue
//! to the topic, and the subscription delivers it afresh.
//!
//! A message leaves the queue only after the topic has accepted its copy, so
//! a failure at any point loses nothing; at worst a message is published
//! twice, which the target deduplicates by `webhook-id`.

use std::time::Duration;

use aws_sdk_sns::error::DisplayErrorContext;
use aws_sdk_sqs::types::Message;
use serde_json::Value;

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

/// The message to publish again, taken from a dead-lettered SQS body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Republication {
    pub message: String,
    pub subject: Option<String>,
}

/// SNS dead-letters either the JSON notification it would have posted or,
/// with raw message delivery, the bare message; both are understood.
pub fn republication(body: &str) -> Republication {
    if let Ok(Value::Object(notification)) = serde_json::from_str::<Value>(body)
        && notification.get("Type").and_then(Value::as_str) == Some("Notification")
        && let Some(message) = notification.get("Message").and_then(Value::as_str)
    {
        return Republication {
            message: message.to_owned(),
            subject: notification
                .get("Subject")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
    }
    Republication {
        message: body.to_owned(),
        subject: None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sns_notification_body_yields_its_message_and_subject() {
        let body = r#"{"Type":"Notification","MessageId":"m","Message":"{\"id\":\"evt_1\"}","Subject":"s"}"#;
        assert_eq!(
            republication(body),
            Republication {
                message: r#"{"id":"evt_1"}"#.to_owned(),
                subject: Some("s".to_owned()),
            }
        );
    }

    #[test]
    fn a_raw_body_is_published_as_is() {
        for body in [
            r#"{"id":"evt_1","type":"x"}"#,
            "plain text",
            r#"{"Type":"Other","Message":"m"}"#,
        ] {
            assert_eq!(
                republication(body),
                Republication {
                    message: body.to_owned(),
                    subject: None,
                }
            );
        }
    }
}
