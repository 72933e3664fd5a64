//! [`SecretStore`] on SSM Parameter Store, cached per container.
//!
//! A name's secrets live in the SecureString parameter `<prefix><name>`,
//! comma-separated when several are valid at once (rotation). Each value is
//! cached for a TTL measured with the injected clock. When SSM cannot be
//! reached, a cached value is served even past its TTL: a webhook verified
//! with a secret a few minutes old beats a 503. A parameter that is gone or
//! empty is different: it was removed on purpose, so its cached value is
//! dropped and never served again.
//!
//! The cache lock is never held across the SSM call. Two concurrent misses
//! for one name may both fetch it; a Lambda container serves one request at
//! a time, so single-flight would only add a second lock for nothing.

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

use crate::settings::{SettingsError, SettingsReader};

/// How long a fetched value is trusted without asking SSM again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
pub const PREFIX_VARIABLE: &str = "HOOKBRIDGE_SECRETS_PREFIX";
pub const TTL_VARIABLE: &str = "HOOKBRIDGE_SECRETS_TTL_SECONDS";

/// Bounds of one read, retries included: a request waiting on SSM must still
/// be answered well within API Gateway's 30 s.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_ATTEMPTS: u32 = 3;
const INITIAL_BACKOFF: Duration = Duration::from_millis(50);

/// Where the secrets live and how long they are cached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsSettings {
    pub prefix: String,
    pub ttl: Duration,
}

impl SecretsSettings {
    /// Reads [`PREFIX_VARIABLE`] (required) and [`TTL_VARIABLE`] (default
    /// [`DEFAULT_TTL`]) through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut reader = SettingsReader::new(lookup);
        let settings = Self::read(&mut reader);
        reader.finish(|| settings)
    }

    /// Reads the variables through a function's own `reader`, so their
    /// problems are reported with the function's.
    pub fn read<L: Fn(&str) -> Option<String>>(reader: &mut SettingsReader<L>) -> Option<Self> {
        let prefix = reader.required(PREFIX_VARIABLE);
        let ttl = read_ttl(reader);
        Some(Self {
            prefix: prefix?,
            ttl: ttl?,
        })
    }
}

/// Reads [`TTL_VARIABLE`] (default [`DEFAULT_TTL`]): whole seconds.
pub fn read_ttl<L: Fn(&str) -> Option<String>>(reader: &mut SettingsReader<L>) -> Option<Duration> {
    reader.optional_parsed(TTL_VARIABLE, DEFAULT_TTL, |raw| {
        raw.parse()
            .map(Duration::from_secs)
            .map_err(|_| "must be a whole number of seconds")
    })
}

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
    use crate::settings::VariableError;

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

    fn settings(vars: &[(&str, &str)]) -> Result<SecretsSettings, SettingsError> {
        SecretsSettings::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn settings_default_the_ttl_to_five_minutes() {
        let parsed = settings(&[(PREFIX_VARIABLE, "/hookbridge/prod/")]).unwrap();
        assert_eq!(
            parsed,
            SecretsSettings {
                prefix: "/hookbridge/prod/".into(),
                ttl: DEFAULT_TTL
            }
        );
    }

    #[test]
    fn settings_read_the_ttl_in_seconds() {
        let parsed = settings(&[(PREFIX_VARIABLE, "/p/"), (TTL_VARIABLE, "60")]).unwrap();
        assert_eq!(parsed.ttl, Duration::from_secs(60));
    }

    #[test]
    fn settings_require_a_prefix() {
        let missing_prefix = SettingsError(vec![VariableError::Missing(PREFIX_VARIABLE)]);
        assert_eq!(settings(&[]), Err(missing_prefix.clone()));
        assert_eq!(settings(&[(PREFIX_VARIABLE, " ")]), Err(missing_prefix));
    }

    #[test]
    fn settings_reject_a_ttl_that_is_not_whole_seconds() {
        for bad in ["5m", "-1", "1.5", ""] {
            assert_eq!(
                settings(&[(PREFIX_VARIABLE, "/p/"), (TTL_VARIABLE, bad)]),
                Err(SettingsError(vec![VariableError::Invalid {
                    variable: TTL_VARIABLE,
                    reason: "must be a whole number of seconds".to_owned()
                }])),
                "{bad:?} must be rejected"
            );
        }
    }
}
