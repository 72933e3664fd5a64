//! [`SecretStore`](hookbridge_core::ports::SecretStore) on SSM Parameter Store, cached per container.
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

use std::time::Duration;

use crate::settings::{SettingsError, SettingsReader};

#[cfg(feature = "sdk")]
mod store;
#[cfg(feature = "sdk")]
pub use store::SsmSecretStore;

/// How long a fetched value is trusted without asking SSM again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
pub const PREFIX_VARIABLE: &str = "HOOKBRIDGE_SECRETS_PREFIX";
pub const TTL_VARIABLE: &str = "HOOKBRIDGE_SECRETS_TTL_SECONDS";

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::VariableError;

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
