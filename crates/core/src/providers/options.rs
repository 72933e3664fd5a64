//! A source's options as the operator wrote them: each provider takes the
//! ones it knows, and whatever is left is an error naming the field.

use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// Upper bound on a configured tolerance: a day-wide window would make a
/// replayed capture useful to an attacker for too long.
const MAX_TOLERANCE_SECONDS: u64 = 86_400;

/// The options of one source, `kind` already taken.
pub struct Options(Map<String, Value>);

impl Options {
    pub(crate) fn new(options: Map<String, Value>) -> Self {
        Self(options)
    }

    /// Option `name` as a `T`, if given; an error names the field.
    pub fn take<T: DeserializeOwned>(&mut self, name: &'static str) -> Result<Option<T>, String> {
        self.0
            .remove(name)
            .map(|value| serde_json::from_value(value).map_err(|e| format!("{name}: {e}")))
            .transpose()
    }

    /// Option `name`, which the kind cannot do without.
    pub fn require<T: DeserializeOwned>(&mut self, name: &'static str) -> Result<T, String> {
        self.take(name)?
            .ok_or_else(|| format!("missing field `{name}`"))
    }

    /// `tolerance_seconds`, else the provider's documented `default`.
    pub fn tolerance(&mut self, default: Duration) -> Result<Duration, String> {
        match self.take::<u64>("tolerance_seconds")? {
            None => Ok(default),
            Some(s) if (1..=MAX_TOLERANCE_SECONDS).contains(&s) => Ok(Duration::from_secs(s)),
            Some(s) => Err(format!(
                "tolerance_seconds must be between 1 and {MAX_TOLERANCE_SECONDS}, got {s}"
            )),
        }
    }

    /// A header name option, stored lower-case (headers match case-insensitively).
    pub fn header(&mut self, name: &'static str) -> Result<Option<String>, String> {
        self.take::<String>(name)?
            .map(|value| header_name(name, value))
            .transpose()
    }

    /// A JSON pointer option.
    pub fn pointer(&mut self, name: &'static str) -> Result<Option<String>, String> {
        self.take::<String>(name)?
            .map(|value| json_pointer(name, value))
            .transpose()
    }

    /// Refuses any option no one took: a misspelt option must not be ignored.
    pub(crate) fn finish(self) -> Result<(), String> {
        match self.0.keys().next() {
            None => Ok(()),
            Some(name) => Err(format!("unknown field `{name}`")),
        }
    }
}

pub(crate) fn header_name(field: &str, name: String) -> Result<String, String> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if valid {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(format!("{field} `{name}` is not a valid HTTP header name"))
    }
}

pub(crate) fn json_pointer(field: &str, pointer: String) -> Result<String, String> {
    if pointer.starts_with('/') {
        Ok(pointer)
    } else {
        Err(format!(
            "{field} `{pointer}` is not a JSON pointer (it must start with '/')"
        ))
    }
}
