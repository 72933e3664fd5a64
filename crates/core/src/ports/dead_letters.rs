//! Where a delivery goes when it is over: the destination's final
//! dead-letter queue (in AWS an SQS queue with an alarm), from which
//! `hookbridge replay` sends it again.

use std::future::Future;

use crate::destinations::DestinationName;

/// The message did not reach the final dead-letter queue; it must stay
/// where it is (SNS retries, or the tier-2 queue shows it again).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the final dead-letter queue of `{destination}` did not take the message: {reason}")]
pub struct DeadLetterError {
    pub destination: String,
    pub reason: String,
}

/// Puts a delivery into its destination's final dead-letter queue.
///
/// Contract: `Ok` only once the queue holds the message durably; the body
/// is kept byte for byte (the SNS notification, as SNS itself dead-letters
/// it), so a replay reads it like any other dead letter.
pub trait FinalDeadLetters: Send + Sync {
    fn dead_letter(
        &self,
        destination: &DestinationName,
        body: &str,
    ) -> impl Future<Output = Result<(), DeadLetterError>> + Send;
}
