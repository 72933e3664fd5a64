//! Where a delivery SNS gave up on waits for its next tier-2 attempt: the
//! destination's tier-2 queue (in AWS an SQS queue whose messages are hidden
//! until their next attempt is due).

use std::future::Future;
use std::time::Duration;

use crate::destinations::DestinationName;

/// The message could not be postponed; the queue shows it again after its
/// own visibility timeout, so the attempt comes early rather than never.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the tier-2 queue of `{destination}` did not postpone the message: {reason}")]
pub struct RetryQueueError {
    pub destination: String,
    pub reason: String,
}

/// Postpones a received message of a destination's tier-2 queue.
pub trait RetryQueue: Send + Sync {
    /// Hides the message received with `receipt` for `wait` (at most
    /// [`crate::horizon::MAX_QUEUE_WAIT`]): the queue hands it over again
    /// once the wait is over.
    fn postpone(
        &self,
        destination: &DestinationName,
        receipt: &str,
        wait: Duration,
    ) -> impl Future<Output = Result<(), RetryQueueError>> + Send;
}
