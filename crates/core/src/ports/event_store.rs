use std::future::Future;

use crate::projection::{EventRecord, RecordOutcome};

#[derive(Debug, thiserror::Error)]
pub enum EventStoreError {
    /// The store refused the write for good (e.g. the table does not exist,
    /// the item is invalid): retries will not help, the event belongs in the
    /// dead-letter queue.
    #[error("event store rejected the write: {0}")]
    Rejected(String),
    /// Throttled, conflicting or failing: a retry may succeed.
    #[error("event store unavailable: {0}")]
    Unavailable(String),
}

/// Stores events exactly once and keeps each object's projection at its
/// newest event.
///
/// Contract: the event record and the projection change happen together or
/// not at all; a duplicate event id changes nothing; a projection is replaced
/// only by an event whose [`OrderKey`](crate::projection::OrderKey) is
/// greater than the one it holds.
pub trait EventStore: Send + Sync {
    fn record(
        &self,
        record: &EventRecord<'_>,
    ) -> impl Future<Output = Result<RecordOutcome, EventStoreError>> + Send;
}
