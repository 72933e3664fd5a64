use std::future::Future;

/// One event ready for the bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusEvent {
    pub source: String,
    pub detail_type: String,
    /// The serialised envelope.
    pub detail: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    /// The bus refused the event for good (e.g. it does not exist).
    #[error("event bus rejected the event: {0}")]
    Rejected(String),
    /// Throttled or failing even after bounded retries.
    #[error("event bus unavailable after {attempts} attempts: {reason}")]
    Unavailable { attempts: u32, reason: String },
}

/// Puts events on the bus. Returns only once the bus has accepted the event.
pub trait EventPublisher: Send + Sync {
    fn publish(&self, event: &BusEvent) -> impl Future<Output = Result<(), PublishError>> + Send;
}
