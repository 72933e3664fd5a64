use std::collections::HashMap;
use std::sync::Arc;

use hookbridge_core::ports::{SecretStore, SecretStoreError};
use hookbridge_core::secret::SecretSet;

/// A [`SecretStore`] in memory: each name holds a secret set or fails as
/// unavailable; a name never stored is `NotFound`.
#[derive(Debug, Clone, Default)]
pub struct MemorySecrets(HashMap<String, Result<Arc<SecretSet>, String>>);

impl MemorySecrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `secrets` under `name`.
    pub fn with(mut self, name: &str, secrets: SecretSet) -> Self {
        self.0.insert(name.to_owned(), Ok(Arc::new(secrets)));
        self
    }

    /// Makes `name` answer `Unavailable(reason)`, as an unreachable store.
    pub fn unavailable(mut self, name: &str, reason: &str) -> Self {
        self.0.insert(name.to_owned(), Err(reason.to_owned()));
        self
    }
}

impl SecretStore for MemorySecrets {
    async fn secrets(&self, name: &str) -> Result<Arc<SecretSet>, SecretStoreError> {
        match self.0.get(name) {
            Some(Ok(secrets)) => Ok(Arc::clone(secrets)),
            Some(Err(reason)) => Err(SecretStoreError::Unavailable(reason.clone())),
            None => Err(SecretStoreError::NotFound(name.to_owned())),
        }
    }
}
