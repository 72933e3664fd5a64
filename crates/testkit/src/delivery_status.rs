use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use hookbridge_core::delivery_status::{Attempt, DeliveryRecord, DeliveryState};
use hookbridge_core::destinations::DestinationName;
use hookbridge_core::ports::{DeliveryStatusError, DeliveryStatusStore};

/// A [`DeliveryStatusStore`] in memory, shared by its clones; or, built with
/// [`MemoryDeliveryStatus::unavailable`], one whose every call fails.
#[derive(Debug, Clone, Default)]
pub struct MemoryDeliveryStatus {
    records: Arc<Mutex<BTreeMap<(String, DestinationName), DeliveryRecord>>>,
    unavailable: bool,
}

impl MemoryDeliveryStatus {
    pub fn new() -> Self {
        Self::default()
    }

    /// A store that answers `Unavailable` to everything.
    pub fn unavailable() -> Self {
        Self {
            unavailable: true,
            ..Self::default()
        }
    }

    /// Every record, by event id and destination.
    pub fn all(&self) -> Vec<DeliveryRecord> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .values()
            .cloned()
            .collect()
    }

    fn check(&self) -> Result<(), DeliveryStatusError> {
        if self.unavailable {
            Err(DeliveryStatusError::Unavailable(
                "the test made it so".to_owned(),
            ))
        } else {
            Ok(())
        }
    }
}

impl DeliveryStatusStore for MemoryDeliveryStatus {
    async fn record_attempt(
        &self,
        event_id: &str,
        destination: &DestinationName,
        attempt: Attempt,
        state: DeliveryState,
    ) -> Result<(), DeliveryStatusError> {
        self.check()?;
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((event_id.to_owned(), destination.clone()))
            .or_insert_with(|| DeliveryRecord::pending(event_id, destination.clone()))
            .record(attempt, state);
        Ok(())
    }

    async fn records(&self, event_id: &str) -> Result<Vec<DeliveryRecord>, DeliveryStatusError> {
        self.check()?;
        Ok(self
            .all()
            .into_iter()
            .filter(|record| record.event_id == event_id)
            .collect())
    }
}
