//! The local adapters behind the ingest handler's ports: secrets from the
//! configuration, and the SQLite-backed bus.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::SystemTime;

use hookbridge_core::destinations::Destinations;
use hookbridge_core::ports::{
    BusEvent, EventPublisher, PublishError, SecretStore, SecretStoreError,
};
use hookbridge_core::secret::SecretSet;
use tokio::sync::Notify;

use super::store::LocalStore;
use super::store::bus::{Published, publish};

/// Secrets held in memory, by name (source names, or destination names for
/// the outbound secrets).
#[derive(Debug, Clone, Default)]
pub struct ConfiguredSecrets(Arc<HashMap<String, Arc<SecretSet>>>);

impl ConfiguredSecrets {
    pub fn new(secrets: HashMap<String, Arc<SecretSet>>) -> Self {
        Self(Arc::new(secrets))
    }
}

impl SecretStore for ConfiguredSecrets {
    async fn secrets(&self, name: &str) -> Result<Arc<SecretSet>, SecretStoreError> {
        self.0
            .get(name)
            .filter(|set| !set.is_empty())
            .cloned()
            .ok_or_else(|| SecretStoreError::NotFound(name.to_owned()))
    }
}

/// Wakes the route workers when the bus has new work: each destination's
/// deliver route, and the persist route.
#[derive(Debug, Clone, Default)]
pub struct Routes {
    pub deliver: HashMap<String, Arc<Notify>>,
    pub persist: Arc<Notify>,
}

impl Routes {
    /// One deliver route per destination.
    pub fn for_destinations(destinations: &Destinations) -> Self {
        Self {
            deliver: destinations
                .iter()
                .map(|destination| (destination.name.to_string(), Arc::default()))
                .collect(),
            persist: Arc::default(),
        }
    }
}

tokio::task_local! {
    /// The masked headers (JSON `[[name, value], …]`) of the webhook being
    /// ingested, set by the edge around `Ingest::decide`. The ingest port
    /// carries only the event; through this the console's copy of the
    /// headers is committed with the event itself, in the same write, so a
    /// `202` waits for one commit, not two.
    pub static REQUEST_HEADERS: String;
}

/// The local event bus. `publish` returns only once the event and the work
/// of its routes (a delivery to each destination that wants it; persist,
/// always) are committed in one transaction, so a 202 survives a crash.
#[derive(Debug, Clone)]
pub struct LocalBus {
    store: LocalStore,
    destinations: Arc<Destinations>,
    routes: Routes,
}

impl LocalBus {
    pub fn new(store: LocalStore, destinations: Arc<Destinations>, routes: Routes) -> Self {
        Self {
            store,
            destinations,
            routes,
        }
    }
}

impl EventPublisher for LocalBus {
    async fn publish(&self, event: &BusEvent) -> Result<(), PublishError> {
        let event = event.clone();
        let headers = REQUEST_HEADERS.try_with(Clone::clone).ok();
        let destinations = Arc::clone(&self.destinations);
        let published = self
            .store
            .write(move |connection| {
                publish(
                    connection,
                    &event,
                    headers.as_deref(),
                    &destinations,
                    SystemTime::now(),
                )
            })
            .await
            .map_err(|error| PublishError::Unavailable {
                attempts: 1,
                reason: error.to_string(),
            })?;
        match published {
            Published::New {
                event_id,
                correlation_id,
                destinations,
            } => {
                let names: Vec<&str> = destinations.iter().map(|name| name.as_str()).collect();
                if names.is_empty() {
                    tracing::info!(
                        event_id,
                        correlation_id,
                        "stored on the local bus; no destination takes it: not delivered"
                    );
                } else {
                    tracing::info!(
                        event_id,
                        correlation_id,
                        destinations = names.join(","),
                        "stored on the local bus"
                    );
                }
                self.routes.persist.notify_one();
                for name in names {
                    if let Some(wake) = self.routes.deliver.get(name) {
                        wake.notify_one();
                    }
                }
            }
            Published::Duplicate {
                event_id,
                correlation_id,
            } => tracing::info!(
                event_id,
                correlation_id,
                "duplicate: already on the local bus, nothing scheduled"
            ),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn configured_secrets_are_found_by_name() {
        let secrets = ConfiguredSecrets::new(HashMap::from([
            ("stripe".to_owned(), Arc::new(SecretSet::parse("a,b"))),
            ("empty".to_owned(), Arc::new(SecretSet::default())),
        ]));
        assert_eq!(secrets.secrets("stripe").await.unwrap().len(), 2);
        for missing in ["github", "empty"] {
            assert!(matches!(
                secrets.secrets(missing).await,
                Err(SecretStoreError::NotFound(_))
            ));
        }
    }
}
