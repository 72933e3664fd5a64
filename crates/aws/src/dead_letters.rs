//! [`FinalDeadLetters`] on SQS: each destination's final dead-letter queue,
//! `<prefix><destination>-dlq`, made by the reconcile function (which names
//! its queues with [`final_queue_name`] and [`tier2_queue_name`] too).

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use hookbridge_core::destinations::DestinationName;
use hookbridge_core::ports::{DeadLetterError, FinalDeadLetters};

use crate::iam::IamActions;
use crate::settings::SettingsReader;

/// Starts every destination queue's name: the stack's name and `_`.
pub const QUEUE_PREFIX_VARIABLE: &str = "HOOKBRIDGE_QUEUE_PREFIX";

/// Reads [`QUEUE_PREFIX_VARIABLE`] (required) through a function's reader.
pub fn read_queue_prefix<L: Fn(&str) -> Option<String>>(
    reader: &mut SettingsReader<L>,
) -> Option<String> {
    reader.required(QUEUE_PREFIX_VARIABLE)
}

/// The destination's final dead-letter queue: where a delivery waits for a
/// replay once it is over (410, or the horizon reached). It has the alarm.
pub fn final_queue_name(prefix: &str, destination: &DestinationName) -> String {
    format!("{prefix}{destination}-dlq")
}

/// The destination's tier-2 queue: SNS's redrive target, where a delivery
/// SNS gave up on waits for its next attempt.
pub fn tier2_queue_name(prefix: &str, destination: &DestinationName) -> String {
    format!("{prefix}{destination}-retry")
}

#[derive(Debug, Clone)]
pub struct SqsFinalDeadLetters {
    sqs: Client,
    prefix: String,
}

impl SqsFinalDeadLetters {
    pub fn new(sqs: Client, prefix: impl Into<String>) -> Self {
        Self {
            sqs,
            prefix: prefix.into(),
        }
    }
}

impl FinalDeadLetters for SqsFinalDeadLetters {
    async fn dead_letter(
        &self,
        destination: &DestinationName,
        body: &str,
    ) -> Result<(), DeadLetterError> {
        let failed = |reason: String| DeadLetterError {
            destination: destination.to_string(),
            reason,
        };
        let queue = final_queue_name(&self.prefix, destination);
        let url = self
            .sqs
            .get_queue_url()
            .queue_name(&queue)
            .send()
            .await
            .map_err(|error| {
                failed(format!(
                    "sqs:GetQueueUrl on {queue}: {}",
                    DisplayErrorContext(&error)
                ))
            })?
            .queue_url
            .ok_or_else(|| failed(format!("sqs:GetQueueUrl on {queue} returned no URL")))?;
        self.sqs
            .send_message()
            .queue_url(&url)
            .message_body(body)
            .send()
            .await
            .map_err(|error| {
                failed(format!(
                    "sqs:SendMessage to {queue}: {}",
                    DisplayErrorContext(&error)
                ))
            })?;
        Ok(())
    }
}

impl IamActions for SqsFinalDeadLetters {
    fn iam_actions() -> Vec<&'static str> {
        vec!["sqs:GetQueueUrl", "sqs:SendMessage"]
    }
}
