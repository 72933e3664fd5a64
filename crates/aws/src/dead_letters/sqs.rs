//! The SQS client behind [`FinalDeadLetters`]; each queue's URL is looked
//! up once per container.

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use hookbridge_core::destinations::DestinationName;
use hookbridge_core::ports::{DeadLetterError, FinalDeadLetters};

use super::final_queue_name;
use crate::iam::IamActions;
use crate::queue_urls::QueueUrls;

#[derive(Debug)]
pub struct SqsFinalDeadLetters {
    sqs: Client,
    prefix: String,
    urls: QueueUrls,
}

impl SqsFinalDeadLetters {
    pub fn new(sqs: Client, prefix: impl Into<String>) -> Self {
        Self {
            sqs,
            prefix: prefix.into(),
            urls: QueueUrls::default(),
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
        let url = self.urls.get(&self.sqs, &queue).await.map_err(failed)?;
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
