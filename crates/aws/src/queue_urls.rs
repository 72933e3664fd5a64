//! SQS queue URLs by queue name, looked up once per container: the queues
//! are made by the reconcile function and keep their URL for their life.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;

#[derive(Debug, Default)]
pub(crate) struct QueueUrls {
    by_name: Mutex<HashMap<String, String>>,
}

impl QueueUrls {
    /// The URL of the queue named `queue` (`sqs:GetQueueUrl` the first
    /// time); `Err` says which call failed and why.
    pub(crate) async fn get(&self, sqs: &Client, queue: &str) -> Result<String, String> {
        if let Some(url) = self
            .by_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(queue)
        {
            return Ok(url.clone());
        }
        let url = sqs
            .get_queue_url()
            .queue_name(queue)
            .send()
            .await
            .map_err(|error| {
                format!(
                    "sqs:GetQueueUrl on {queue}: {}",
                    DisplayErrorContext(&error)
                )
            })?
            .queue_url
            .ok_or_else(|| format!("sqs:GetQueueUrl on {queue} returned no URL"))?;
        self.by_name
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(queue.to_owned(), url.clone());
        Ok(url)
    }
}
