use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use hookbridge_core::destinations::DestinationName;
use hookbridge_core::ports::{RetryQueue, RetryQueueError};

/// [`RetryQueue`] in memory, shared by its clones; or, built with
/// [`MemoryRetryQueue::unavailable`], one that postpones nothing.
#[derive(Debug, Clone, Default)]
pub struct MemoryRetryQueue {
    postponed: Arc<Mutex<Vec<(DestinationName, String, Duration)>>>,
    unavailable: bool,
}

impl MemoryRetryQueue {
    pub fn new() -> Self {
        Self::default()
    }

    /// A queue whose every postponement fails.
    pub fn unavailable() -> Self {
        Self {
            unavailable: true,
            ..Self::default()
        }
    }

    /// Every postponement, in order: destination, receipt and wait.
    pub fn all(&self) -> Vec<(DestinationName, String, Duration)> {
        self.postponed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl RetryQueue for MemoryRetryQueue {
    async fn postpone(
        &self,
        destination: &DestinationName,
        receipt: &str,
        wait: Duration,
    ) -> Result<(), RetryQueueError> {
        if self.unavailable {
            return Err(RetryQueueError {
                destination: destination.to_string(),
                reason: "the test made it so".to_owned(),
            });
        }
        self.postponed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((destination.clone(), receipt.to_owned(), wait));
        Ok(())
    }
}
