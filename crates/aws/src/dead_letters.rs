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

const TIER2_QUEUE_SUFFIX: &str = "-retry";

/// The destination's tier-2 queue: SNS's redrive target, where a delivery
/// SNS gave up on waits for its next attempt.
pub fn tier2_queue_name(prefix: &str, destination: &DestinationName) -> String {
    format!("{prefix}{destination}{TIER2_QUEUE_SUFFIX}")
}

/// The destination whose tier-2 queue the ARN (or name) is; `None` for any
/// other queue.
pub fn destination_of_tier2_queue<'a>(prefix: &str, queue_arn: &'a str) -> Option<&'a str> {
    let name = queue_arn.rsplit(':').next()?;
    name.strip_prefix(prefix)?
        .strip_suffix(TIER2_QUEUE_SUFFIX)
        .filter(|destination| !destination.is_empty())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tier2_queue_names_its_destination_and_no_other_queue_does() {
        let billing = DestinationName::try_from("billing".to_owned()).unwrap();
        let arn = format!(
            "arn:aws:sqs:eu-west-1:123456789012:{}",
            tier2_queue_name("shop_", &billing)
        );
        assert_eq!(destination_of_tier2_queue("shop_", &arn), Some("billing"));
        for other in [
            "arn:aws:sqs:eu-west-1:123456789012:shop_billing-dlq",
            "arn:aws:sqs:eu-west-1:123456789012:other_billing-retry",
            "arn:aws:sqs:eu-west-1:123456789012:shop_-retry",
        ] {
            assert_eq!(destination_of_tier2_queue("shop_", other), None, "{other}");
        }
    }
}
