use hookbridge_core::ports::{BusEvent, EventPublisher, PublishError};

use crate::recorded::Recorded;

/// An [`EventPublisher`] that keeps what it accepts, or fails every publish
/// as a bus still throttled after its retries. Clones share the events.
#[derive(Debug, Default, Clone)]
pub struct MemoryBus {
    events: Recorded<BusEvent>,
    failing: bool,
}

impl MemoryBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// A bus that refuses every event as unavailable.
    pub fn failing() -> Self {
        Self {
            failing: true,
            ..Self::default()
        }
    }

    /// The events published so far, oldest first.
    pub fn events(&self) -> Vec<BusEvent> {
        self.events.all()
    }
}

impl EventPublisher for MemoryBus {
    async fn publish(&self, event: &BusEvent) -> Result<(), PublishError> {
        if self.failing {
            return Err(PublishError::Unavailable {
                attempts: 3,
                reason: "throttled".into(),
            });
        }
        self.events.push(event.clone());
        Ok(())
    }
}
