//! [`RetryQueue`] on SQS: each destination's tier-2 queue,
//! `<prefix><destination>-retry` ([`tier2_queue_name`]), made by the
//! reconcile function. A postponement is one `ChangeMessageVisibility`; the
//! queue's URL is looked up once per container and destination.

use std::time::Duration;

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use hookbridge_core::destinations::DestinationName;
use hookbridge_core::horizon::MAX_QUEUE_WAIT;
use hookbridge_core::ports::{RetryQueue, RetryQueueError};

use crate::dead_letters::tier2_queue_name;
use crate::iam::IamActions;
use crate::queue_urls::QueueUrls;

#[derive(Debug)]
pub struct SqsRetryQueue {
    sqs: Client,
    prefix: String,
    urls: QueueUrls,
}

impl SqsRetryQueue {
    pub fn new(sqs: Client, prefix: impl Into<String>) -> Self {
        Self {
            sqs,
            prefix: prefix.into(),
            urls: QueueUrls::default(),
        }
    }

    async fn url(&self, destination: &DestinationName) -> Result<String, String> {
        self.urls
            .get(&self.sqs, &tier2_queue_name(&self.prefix, destination))
            .await
    }
}

impl RetryQueue for SqsRetryQueue {
    async fn postpone(
        &self,
        destination: &DestinationName,
        receipt: &str,
        wait: Duration,
    ) -> Result<(), RetryQueueError> {
        let failed = |reason: String| RetryQueueError {
            destination: destination.to_string(),
            reason,
        };
        let url = self.url(destination).await.map_err(failed)?;
        let seconds = visibility_seconds(wait);
        self.sqs
            .change_message_visibility()
            .queue_url(&url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|error| {
                // SQS's message for a bad receipt handle quotes it: only the
                // code of a service error is kept, the handle is a credential.
                let reason = match error.as_service_error() {
                    Some(service) => service.meta().code().unwrap_or("unknown").to_owned(),
                    None => DisplayErrorContext(&error).to_string(),
                };
                failed(format!(
                    "sqs:ChangeMessageVisibility on {}: {reason}",
                    tier2_queue_name(&self.prefix, destination),
                ))
            })?;
        Ok(())
    }
}

/// SQS counts visibility in whole seconds: rounded up, so an attempt never
/// comes before it is due (nor before a `Retry-After`), and at most
/// [`MAX_QUEUE_WAIT`].
fn visibility_seconds(wait: Duration) -> i32 {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    seconds.min(MAX_QUEUE_WAIT.as_secs()) as i32
}

impl IamActions for SqsRetryQueue {
    fn iam_actions() -> Vec<&'static str> {
        vec!["sqs:GetQueueUrl", "sqs:ChangeMessageVisibility"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_is_rounded_up_to_whole_seconds_and_capped_below_twelve_hours() {
        assert_eq!(visibility_seconds(Duration::ZERO), 0);
        assert_eq!(visibility_seconds(Duration::from_millis(900)), 1);
        assert_eq!(visibility_seconds(Duration::from_millis(60_001)), 61);
        assert_eq!(visibility_seconds(Duration::from_secs(900)), 900);
        assert_eq!(
            visibility_seconds(Duration::from_secs(13 * 3_600)),
            MAX_QUEUE_WAIT.as_secs() as i32
        );
    }
}
