//! The SSM client and cache behind [`SsmSecretStore`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use aws_sdk_ssm::Client;
use aws_sdk_ssm::config::retry::RetryConfig;
use aws_sdk_ssm::config::timeout::TimeoutConfig;
use aws_sdk_ssm::error::DisplayErrorContext;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use hookbridge_core::ports::{Clock, SecretStore, SecretStoreError};
use hookbridge_core::secret::SecretSet;

use super::{DEFAULT_TTL, SecretsSettings};

/// Bounds of one read, retries included: a request waiting on SSM must still
/// be answered well within API Gateway's 30 s.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_ATTEMPTS: u32 = 3;
const INITIAL_BACKOFF: Duration = Duration::from_millis(50);

/// Secrets from SSM Parameter Store, cached with a TTL.
#[derive(Debug)]
pub struct SsmSecretStore<C> {
    client: Client,
    prefix: String,
    ttl: Duration,
    clock: C,
    cache: Mutex<HashMap<String, CachedSecrets>>,
}

#[derive(Debug, Clone)]
struct CachedSecrets {
    secrets: Arc<SecretSet>,
    fetched_at: SystemTime,
}

/// What the cache holds for a name at a given moment.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CacheLookup {
    Fresh(Arc<SecretSet>),
    /// Past its TTL: refetch, but keep it in case SSM is unreachable.
    Stale(Arc<SecretSet>),
    Missing,
}

/// Pure cache decision. A clock that went backwards (`now` before
/// `fetched_at`) makes the entry stale: one extra fetch is cheaper than
/// trusting a value for an unknown time.
fn lookup(entry: Option<&CachedSecrets>, now: SystemTime, ttl: Duration) -> CacheLookup {
    let Some(entry) = entry else {
        return CacheLookup::Missing;
    };
    match now.duration_since(entry.fetched_at) {
        Ok(age) if age < ttl => CacheLookup::Fresh(Arc::clone(&entry.secrets)),
        _ => CacheLookup::Stale(Arc::clone(&entry.secrets)),
    }
}

enum FetchError {
    /// No parameter, or an empty one: no secrets are configured.
    NotFound,
    Unavailable(String),
}

/// `client` with this store's retry and timeout bounds, set once here
/// rather than overridden on every call (which would rebuild the SDK's
/// runtime plugins per request).
fn bounded(client: &Client) -> Client {
    let config = client
        .config()
        .to_builder()
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(INITIAL_BACKOFF),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .build();
    Client::from_conf(config)
}

impl<C: Clock> SsmSecretStore<C> {
    /// A store reading `<prefix><name>`, with [`DEFAULT_TTL`].
    pub fn new(client: Client, prefix: impl Into<String>, clock: C) -> Self {
        Self {
            client: bounded(&client),
            prefix: prefix.into(),
            ttl: DEFAULT_TTL,
            clock,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    pub fn from_settings(client: Client, settings: SecretsSettings, clock: C) -> Self {
        Self::new(client, settings.prefix, clock).with_ttl(settings.ttl)
    }

    fn cache(&self) -> MutexGuard<'_, HashMap<String, CachedSecrets>> {
        // Every critical section is a single map operation: a panic cannot
        // leave the map half-updated, so a poisoned lock is still sound.
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn fetch(&self, parameter: &str) -> Result<SecretSet, FetchError> {
        let result = self
            .client
            .get_parameter()
            .name(parameter)
            .with_decryption(true)
            .send()
            .await;
        match result {
            Ok(output) => {
                let stored = output.parameter().and_then(|p| p.value()).unwrap_or("");
                let secrets = SecretSet::parse(stored);
                if secrets.is_empty() {
                    Err(FetchError::NotFound)
                } else {
                    Ok(secrets)
                }
            }
            Err(error) => match error.as_service_error() {
                Some(GetParameterError::ParameterNotFound(_)) => Err(FetchError::NotFound),
                _ => Err(FetchError::Unavailable(
                    DisplayErrorContext(&error).to_string(),
                )),
            },
        }
    }
}

impl<C: Clock> SecretStore for SsmSecretStore<C> {
    async fn secrets(&self, name: &str) -> Result<Arc<SecretSet>, SecretStoreError> {
        let now = self.clock.now();
        let cached = lookup(self.cache().get(name), now, self.ttl);
        let stale = match cached {
            CacheLookup::Fresh(secrets) => return Ok(secrets),
            CacheLookup::Stale(secrets) => Some(secrets),
            CacheLookup::Missing => None,
        };
        let parameter = format!("{}{}", self.prefix, name);
        match self.fetch(&parameter).await {
            Ok(secrets) => {
                let secrets = Arc::new(secrets);
                tracing::debug!(%parameter, count = secrets.len(), "secrets fetched from SSM");
                self.cache().insert(
                    name.to_owned(),
                    CachedSecrets {
                        secrets: Arc::clone(&secrets),
                        fetched_at: now,
                    },
                );
                Ok(secrets)
            }
            Err(FetchError::NotFound) => {
                if self.cache().remove(name).is_some() {
                    tracing::warn!(%parameter, "secret parameter removed or emptied, cached secrets dropped");
                } else {
                    tracing::warn!(%parameter, "no secrets configured");
                }
                Err(SecretStoreError::NotFound(parameter))
            }
            Err(FetchError::Unavailable(reason)) => match stale {
                Some(secrets) => {
                    tracing::warn!(%parameter, %reason, "SSM unavailable, serving cached secrets past their TTL");
                    Ok(secrets)
                }
                None => {
                    tracing::error!(%parameter, %reason, "SSM unavailable and no cached secrets");
                    Err(SecretStoreError::Unavailable(reason))
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(300);

    fn entry_fetched_at(fetched_at: SystemTime) -> CachedSecrets {
        CachedSecrets {
            secrets: Arc::new(SecretSet::parse("a,b")),
            fetched_at,
        }
    }

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn nothing_cached_is_missing() {
        assert_eq!(lookup(None, at(0), TTL), CacheLookup::Missing);
    }

    #[test]
    fn entry_younger_than_the_ttl_is_fresh() {
        let entry = entry_fetched_at(at(1_000));
        assert!(matches!(
            lookup(Some(&entry), at(1_000), TTL),
            CacheLookup::Fresh(_)
        ));
        assert!(matches!(
            lookup(Some(&entry), at(1_299), TTL),
            CacheLookup::Fresh(_)
        ));
    }

    #[test]
    fn entry_as_old_as_the_ttl_is_stale_but_kept() {
        let entry = entry_fetched_at(at(1_000));
        let CacheLookup::Stale(secrets) = lookup(Some(&entry), at(1_300), TTL) else {
            panic!("an entry at its TTL must be stale");
        };
        assert_eq!(secrets.len(), 2);
    }

    #[test]
    fn clock_gone_backwards_makes_the_entry_stale() {
        let entry = entry_fetched_at(at(1_000));
        assert!(matches!(
            lookup(Some(&entry), at(999), TTL),
            CacheLookup::Stale(_)
        ));
    }

    #[test]
    fn zero_ttl_never_serves_fresh() {
        let entry = entry_fetched_at(at(1_000));
        assert!(matches!(
            lookup(Some(&entry), at(1_000), Duration::ZERO),
            CacheLookup::Stale(_)
        ));
    }
}
