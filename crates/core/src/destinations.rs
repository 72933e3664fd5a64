//! Destinations: the HTTP endpoints a stack delivers to, each with the events
//! it asked for.
//!
//! Read once at start from `HOOKBRIDGE_DESTINATIONS` (or a `hookbridge.toml`'s
//! `[destinations.<name>]` tables); an invalid declaration fails the start
//! with an error naming the destination and the field, rather than
//! misdelivering later.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::horizon::Horizon;

/// The destination `TargetUrl` (AWS) and `--target` (dev) stand for.
pub const DEFAULT_DESTINATION: &str = "default";
/// How long a destination keeps getting attempts when it does not say.
pub const DEFAULT_HORIZON_HOURS: u32 = 72;
/// A week: beyond it an event is stale for every provider hookbridge knows.
pub const MAX_HORIZON_HOURS: u32 = 168;
/// SNS waits 15 s for an HTTPS endpoint; deliver must answer before that.
pub const MAX_TIMEOUT_SECONDS: u64 = 14;
/// SNS accepts at most 150 value combinations in one filter policy.
const MAX_FILTER_COMBINATIONS: usize = 150;

/// A destination's name: part of an SSM path, a URL query and a queue name,
/// so kept to `[a-z0-9][a-z0-9_-]{0,63}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct DestinationName(String);

impl DestinationName {
    pub fn parse(name: &str) -> Result<Self, DestinationsError> {
        let bytes = name.as_bytes();
        let valid = (1..=64).contains(&bytes.len())
            && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
            && bytes
                .iter()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_".contains(b));
        if valid {
            Ok(Self(name.to_owned()))
        } else {
            Err(DestinationsError::InvalidName(name.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DestinationName {
    type Error = DestinationsError;

    fn try_from(name: String) -> Result<Self, Self::Error> {
        Self::parse(&name)
    }
}

impl From<DestinationName> for String {
    fn from(name: DestinationName) -> Self {
        name.0
    }
}

/// Lets the by-name map be searched with a `&str`, without a copy.
impl std::borrow::Borrow<str> for DestinationName {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DestinationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One entry of `types`: an exact DetailType, or a prefix written `invoice.*`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum TypePattern {
    Exact(String),
    Prefix(String),
}

impl TypePattern {
    fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() {
            return Err("types: a pattern is empty".into());
        }
        match pattern.strip_suffix('*') {
            Some(prefix) if prefix.contains('*') => Err(format!(
                "types: `{pattern}` has a `*` before its end; only a trailing `*` (prefix) is supported"
            )),
            Some(prefix) => Ok(Self::Prefix(prefix.to_owned())),
            None if pattern.contains('*') => Err(format!(
                "types: `{pattern}` has a `*` before its end; only a trailing `*` (prefix) is supported"
            )),
            None => Ok(Self::Exact(pattern.to_owned())),
        }
    }

    pub fn matches(&self, event_type: &str) -> bool {
        match self {
            Self::Exact(exact) => event_type == exact,
            Self::Prefix(prefix) => event_type.starts_with(prefix.as_str()),
        }
    }
}

/// Which events a destination takes: `None` means every source or type.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EventFilter {
    sources: Option<BTreeSet<String>>,
    types: Option<Vec<TypePattern>>,
}

impl EventFilter {
    /// Takes every event (the `default` destination).
    pub fn everything() -> Self {
        Self::default()
    }

    pub fn matches(&self, source: &str, event_type: &str) -> bool {
        let source_matches = self.sources.as_ref().is_none_or(|s| s.contains(source));
        let type_matches = self
            .types
            .as_ref()
            .is_none_or(|patterns| patterns.iter().any(|p| p.matches(event_type)));
        source_matches && type_matches
    }

    /// The SNS subscription FilterPolicy (`FilterPolicyScope` MessageBody: the
    /// message body is the envelope, whose `source` and `type` keys the policy
    /// tests). `None` when the filter takes everything, or when SNS cannot
    /// express it (over its 150 value combinations): the subscription then
    /// takes every event and deliver applies [`EventFilter::matches`] alone.
    pub fn sns_filter_policy(&self) -> Option<Value> {
        let mut policy = Map::new();
        let mut combinations = 1usize;
        if let Some(sources) = &self.sources {
            combinations *= sources.len();
            policy.insert("source".into(), json!(sources));
        }
        // `*` takes every type: SNS needs no condition for it.
        let every_type = |types: &[TypePattern]| {
            types
                .iter()
                .any(|p| matches!(p, TypePattern::Prefix(prefix) if prefix.is_empty()))
        };
        if let Some(types) = self.types.as_deref().filter(|types| !every_type(types)) {
            let conditions: Vec<Value> = types
                .iter()
                .map(|pattern| match pattern {
                    TypePattern::Exact(exact) => json!(exact),
                    TypePattern::Prefix(prefix) => json!({ "prefix": prefix }),
                })
                .collect();
            combinations *= conditions.len();
            policy.insert("type".into(), Value::Array(conditions));
        }
        (!policy.is_empty() && combinations <= MAX_FILTER_COMBINATIONS)
            .then_some(Value::Object(policy))
    }
}

/// One destination, valid by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    pub name: DestinationName,
    /// An absolute `http` or `https` URL (AWS requires https: see
    /// [`Destinations::require_https`]).
    pub url: String,
    pub filter: EventFilter,
    /// SNS `throttlePolicy.maxReceivesPerSecond`; `None` is unthrottled.
    pub rate_per_second: Option<u32>,
    /// How long one POST may take; `None` is the deliverer's default.
    pub timeout: Option<Duration>,
    /// Attempts continue until this long after the event was received.
    pub horizon_hours: u32,
}

impl Destination {
    pub fn is_https(&self) -> bool {
        self.url.starts_with("https://")
    }

    /// Whether this destination takes an event of `source` and `event_type`.
    pub fn wants(&self, source: &str, event_type: &str) -> bool {
        self.filter.matches(source, event_type)
    }
}

/// Every configured destination, by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Destinations(BTreeMap<DestinationName, Destination>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DestinationsError {
    #[error("HOOKBRIDGE_DESTINATIONS is not a JSON object of destinations: {0}")]
    NotAnObject(String),
    #[error(
        "destination name `{0}` is invalid: use 1-64 of a-z, 0-9, '-' and '_', starting with a letter or digit"
    )]
    InvalidName(String),
    #[error("destination `{destination}`: {message}")]
    InvalidDestination {
        destination: String,
        message: String,
    },
}

/// A destination as operators write it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DestinationSpec {
    url: String,
    sources: Option<Vec<String>>,
    types: Option<Vec<String>>,
    rate_per_second: Option<u32>,
    timeout_seconds: Option<u64>,
    horizon_hours: Option<u32>,
}

impl Destinations {
    /// Parses and validates `HOOKBRIDGE_DESTINATIONS`.
    pub fn from_json(json: &str) -> Result<Self, DestinationsError> {
        let map: Map<String, Value> = serde_json::from_str(json)
            .map_err(|e| DestinationsError::NotAnObject(e.to_string()))?;
        Self::from_map(map)
    }

    /// The same from an already parsed object (a `hookbridge.toml`'s tables,
    /// their local-only keys removed by the caller).
    pub fn from_map(map: Map<String, Value>) -> Result<Self, DestinationsError> {
        map.into_iter()
            .map(|(name, spec)| {
                let name = DestinationName::parse(&name)?;
                let destination = parse_destination(name.clone(), spec).map_err(|message| {
                    DestinationsError::InvalidDestination {
                        destination: name.to_string(),
                        message,
                    }
                })?;
                Ok((name, destination))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    /// The one-destination shortcut: `default`, taking everything.
    pub fn single_default(url: &str) -> Result<Self, DestinationsError> {
        Self::from_map(Map::from_iter([(
            DEFAULT_DESTINATION.to_owned(),
            json!({ "url": url }),
        )]))
    }

    pub fn get(&self, name: &str) -> Option<&Destination> {
        self.0.get(name)
    }

    /// Every destination, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Destination> {
        self.0.values()
    }

    /// The destinations that take an event of `source` and `event_type`.
    pub fn matching<'a>(
        &'a self,
        source: &'a str,
        event_type: &'a str,
    ) -> impl Iterator<Item = &'a Destination> + 'a {
        self.iter().filter(move |d| d.wants(source, event_type))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// In AWS every destination must be https: SNS signs what it sends, but
    /// the payload and its signature would cross the internet in clear.
    pub fn require_https(&self) -> Result<(), DestinationsError> {
        match self.iter().find(|d| !d.is_https()) {
            None => Ok(()),
            Some(insecure) => Err(DestinationsError::InvalidDestination {
                destination: insecure.name.to_string(),
                message: format!("url `{}` must be https", insecure.url),
            }),
        }
    }
}

fn parse_destination(name: DestinationName, spec: Value) -> Result<Destination, String> {
    let spec: DestinationSpec =
        serde_path_to_error::deserialize(spec).map_err(|e| match e.path().to_string() {
            path if path == "." => e.inner().to_string(),
            path => format!("{path}: {}", e.inner()),
        })?;
    let url = absolute_http_url(spec.url)?;
    let sources = spec
        .sources
        .map(|sources| {
            if sources.is_empty() {
                return Err("sources: empty; leave it out to take every source".to_owned());
            }
            Ok(sources.into_iter().collect::<BTreeSet<_>>())
        })
        .transpose()?;
    let types = spec
        .types
        .map(|types| {
            if types.is_empty() {
                return Err("types: empty; leave it out to take every type".to_owned());
            }
            types.iter().map(|t| TypePattern::parse(t)).collect()
        })
        .transpose()?;
    let rate_per_second = match spec.rate_per_second {
        Some(0) => return Err("rate_per_second: must be at least 1".into()),
        rate => rate,
    };
    let timeout = match spec.timeout_seconds {
        None => None,
        Some(s) if (1..=MAX_TIMEOUT_SECONDS).contains(&s) => Some(Duration::from_secs(s)),
        Some(s) => {
            return Err(format!(
                "timeout_seconds: must be between 1 and {MAX_TIMEOUT_SECONDS} (SNS waits 15 s), got {s}"
            ));
        }
    };
    let horizon_hours = match spec.horizon_hours {
        None => DEFAULT_HORIZON_HOURS,
        Some(h) => Horizon::from_hours(h)
            .map_err(|out_of_range| out_of_range.to_string())?
            .hours(),
    };
    Ok(Destination {
        name,
        url,
        filter: EventFilter { sources, types },
        rate_per_second,
        timeout,
        horizon_hours,
    })
}

fn absolute_http_url(url: String) -> Result<String, String> {
    let uri: http::Uri = url
        .parse()
        .map_err(|e| format!("url: `{url}` is not a URL: {e}"))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) {
        return Err(format!("url: `{url}` must be an absolute http(s) URL"));
    }
    Ok(url)
}

#[cfg(test)]
mod tests;
