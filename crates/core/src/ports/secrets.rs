use std::future::Future;
use std::sync::Arc;

use crate::secret::SecretSet;

/// Why secrets could not be had. Never "the secret is wrong": that is a
/// verification failure, not an unavailable store.
#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    /// No secret is stored under this name: a configuration error.
    #[error("no secret is stored for `{0}`")]
    NotFound(String),
    /// The store could not be reached or refused; retrying later may work.
    #[error("secret store unavailable: {0}")]
    Unavailable(String),
}

/// Reads the secrets of one name (a source, or the outbound signing key).
pub trait SecretStore: Send + Sync {
    fn secrets(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Arc<SecretSet>, SecretStoreError>> + Send;
}
