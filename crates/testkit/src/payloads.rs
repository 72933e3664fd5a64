use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use hookbridge_core::ports::{PayloadStore, PayloadStoreError};

/// A [`PayloadStore`] in memory, shared by its clones, that can be made
/// unavailable and whose objects a test can overwrite (tampering).
#[derive(Debug, Clone)]
pub struct MemoryPayloads {
    bucket: String,
    objects: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    unavailable: Option<String>,
}

impl MemoryPayloads {
    pub fn new(bucket: &str) -> Self {
        Self {
            bucket: bucket.to_owned(),
            objects: Arc::default(),
            unavailable: None,
        }
    }

    /// Every call answers `Unavailable(reason)`, as an unreachable store.
    pub fn unavailable(mut self, reason: &str) -> Self {
        self.unavailable = Some(reason.to_owned());
        self
    }

    /// The bytes stored at `key`.
    pub fn object(&self, key: &str) -> Option<Vec<u8>> {
        self.objects().get(key).cloned()
    }

    /// Replaces (or creates) the object at `key`.
    pub fn overwrite(&self, key: &str, bytes: &[u8]) {
        self.objects().insert(key.to_owned(), bytes.to_vec());
    }

    pub fn len(&self) -> usize {
        self.objects().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn objects(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<u8>>> {
        self.objects.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_available(&self) -> Result<(), PayloadStoreError> {
        match &self.unavailable {
            Some(reason) => Err(PayloadStoreError::Unavailable(reason.clone())),
            None => Ok(()),
        }
    }
}

impl PayloadStore for MemoryPayloads {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), PayloadStoreError> {
        self.check_available()?;
        self.objects().insert(key.to_owned(), bytes);
        Ok(())
    }

    async fn get(&self, key: &str, max_size: u64) -> Result<Vec<u8>, PayloadStoreError> {
        self.check_available()?;
        let bytes = self
            .object(key)
            .ok_or_else(|| PayloadStoreError::NotFound(key.to_owned()))?;
        if bytes.len() as u64 > max_size {
            return Err(PayloadStoreError::TooLarge {
                key: key.to_owned(),
                limit: max_size,
            });
        }
        Ok(bytes)
    }
}
