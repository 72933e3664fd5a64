use std::sync::{Arc, Mutex, PoisonError};

use hookbridge_core::destinations::DestinationName;
use hookbridge_core::ports::{DeadLetterError, FinalDeadLetters};

/// [`FinalDeadLetters`] in memory, shared by its clones; or, built with
/// [`MemoryDeadLetters::unavailable`], one that takes nothing.
#[derive(Debug, Clone, Default)]
pub struct MemoryDeadLetters {
    letters: Arc<Mutex<Vec<(DestinationName, String)>>>,
    unavailable: bool,
}

impl MemoryDeadLetters {
    pub fn new() -> Self {
        Self::default()
    }

    /// A queue whose every send fails.
    pub fn unavailable() -> Self {
        Self {
            unavailable: true,
            ..Self::default()
        }
    }

    /// Every dead letter taken, in order: destination and body.
    pub fn all(&self) -> Vec<(DestinationName, String)> {
        self.letters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl FinalDeadLetters for MemoryDeadLetters {
    async fn dead_letter(
        &self,
        destination: &DestinationName,
        body: &str,
    ) -> Result<(), DeadLetterError> {
        if self.unavailable {
            return Err(DeadLetterError {
                destination: destination.to_string(),
                reason: "the test made it so".to_owned(),
            });
        }
        self.letters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((destination.clone(), body.to_owned()));
        Ok(())
    }
}
