use std::future::Future;

use crate::delivery_status::{Attempt, DeliveryRecord, DeliveryState};
use crate::destinations::DestinationName;

#[derive(Debug, thiserror::Error)]
pub enum DeliveryStatusError {
    /// The store refused for good (no such table, an item it will never
    /// accept): retrying will not help.
    #[error("delivery status store rejected the request: {0}")]
    Rejected(String),
    /// Throttled, conflicting or failing: a retry may succeed.
    #[error("delivery status store unavailable: {0}")]
    Unavailable(String),
}

/// Keeps one [`DeliveryRecord`] per (event, destination).
///
/// Contract: recording an attempt the record already holds changes nothing
/// (SNS may deliver a message twice); concurrent attempts for one event and
/// different destinations never overwrite each other's records.
pub trait DeliveryStatusStore: Send + Sync {
    /// Adds `attempt` to the record of `event_id` at `destination` (creating
    /// it) and leaves the delivery in `state`.
    fn record_attempt(
        &self,
        event_id: &str,
        destination: &DestinationName,
        attempt: Attempt,
        state: DeliveryState,
    ) -> impl Future<Output = Result<(), DeliveryStatusError>> + Send;

    /// Every destination's record of `event_id`, by destination name; empty
    /// when no attempt was recorded.
    fn records(
        &self,
        event_id: &str,
    ) -> impl Future<Output = Result<Vec<DeliveryRecord>, DeliveryStatusError>> + Send;
}
