use std::future::Future;

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

/// POSTs a webhook to the target and reports the HTTP status it answered.
pub trait WebhookTarget: Send + Sync {
    fn post(
        &self,
        url: &str,
        webhook: &OutboundWebhook,
    ) -> impl Future<Output = Result<u16, TargetError>> + Send;
}
