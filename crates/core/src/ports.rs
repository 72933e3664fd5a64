//! Ports: what the domain needs from the outside world, as traits. The AWS
//! adapters (hookbridge-aws) and local adapters implement them; tests use
//! in-memory ones.

use std::future::Future;
use std::sync::Arc;
use std::time::SystemTime;

use crate::secret::SecretSet;

/// Where "now" comes from, so rules that depend on time stay testable.
pub trait Clock: Send + Sync {
    fn now(&self) -> SystemTime;
}

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
