use std::sync::{Arc, Mutex, PoisonError};

/// What a double was handed, oldest first. Clones share one list, so a
/// test keeps a clone while the code under test owns the double.
#[derive(Debug)]
pub(crate) struct Recorded<T>(Arc<Mutex<Vec<T>>>);

impl<T> Default for Recorded<T> {
    fn default() -> Self {
        Self(Arc::default())
    }
}

impl<T> Clone for Recorded<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T: Clone> Recorded<T> {
    pub(crate) fn push(&self, item: T) {
        // A panic elsewhere cannot leave a pushed item half-written.
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(item);
    }

    pub(crate) fn all(&self) -> Vec<T> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
