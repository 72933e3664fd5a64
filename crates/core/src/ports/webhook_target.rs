use std::future::Future;
use std::time::Duration;

use crate::outbound::OutboundWebhook;

/// Why the target gave no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("the target did not answer in time")]
    Timeout,
    #[error("the target could not be reached: {0}")]
    Connection(String),
    #[error("the request to the target failed: {0}")]
    Request(String),
}

/// What the target answered: its status and the start of its body
/// ([`crate::delivery_status::response_excerpt`]), kept for the delivery
/// status, and its `Retry-After` header as sent (read by
/// [`crate::retry_after::parse`] when the schedule needs it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetAnswer {
    pub status: u16,
    pub excerpt: Option<String>,
    pub retry_after: Option<String>,
}

impl TargetAnswer {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

/// POSTs a webhook to the target and reports what it answered.
pub trait WebhookTarget: Send + Sync {
    /// `timeout` bounds this request (the destination's `timeout_seconds`);
    /// `None` leaves the adapter's own bound.
    fn post(
        &self,
        url: &str,
        webhook: &OutboundWebhook,
        timeout: Option<Duration>,
    ) -> impl Future<Output = Result<TargetAnswer, TargetError>> + Send;
}
