//! The SQS client behind [`FinalDeadLetters`].

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use hookbridge_core::destinations::DestinationName;
use hookbridge_core::ports::{DeadLetterError, FinalDeadLetters};

use super::final_queue_name;
use crate::iam::IamActions;

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
