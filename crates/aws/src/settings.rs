//! Settings read from environment variables, every problem named at once.
//!
//! A function reads all its variables through one [`SettingsReader`], so an
//! operator fixing the configuration sees every missing or invalid variable
//! in one log line rather than one per deploy.

use std::fmt::Display;
use std::time::Duration;

/// The sources' configuration (JSON), read by ingest and consume.
pub const SOURCES_VARIABLE: &str = "HOOKBRIDGE_SOURCES";
/// How long the table keeps what consume and deliver write, in days.
pub const RETENTION_VARIABLE: &str = "RETENTION_DAYS";
/// How long items are kept when `RETENTION_DAYS` is not set.
pub const DEFAULT_RETENTION_DAYS: u64 = 30;
pub const DEFAULT_RETENTION: Duration =
    Duration::from_secs(DEFAULT_RETENTION_DAYS * SECONDS_PER_DAY);
/// Upper bound on `RETENTION_DAYS`: ten years.
const MAX_RETENTION_DAYS: u64 = 3_650;
const SECONDS_PER_DAY: u64 = 86_400;

/// Reads [`RETENTION_VARIABLE`] (default [`DEFAULT_RETENTION`]): whole days
/// from 1 to 3,650.
pub fn read_retention<L: Fn(&str) -> Option<String>>(
    reader: &mut SettingsReader<L>,
) -> Option<Duration> {
    reader.optional_parsed(RETENTION_VARIABLE, DEFAULT_RETENTION, |days| {
        days.parse::<u64>()
            .ok()
            .filter(|days| (1..=MAX_RETENTION_DAYS).contains(days))
            .map(|days| Duration::from_secs(days * SECONDS_PER_DAY))
            .ok_or_else(|| format!("must be a whole number of days from 1 to {MAX_RETENTION_DAYS}"))
    })
}

/// What is wrong with one variable. Never holds the variable's value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VariableError {
    #[error("{0} is not set")]
    Missing(&'static str),
    #[error("{variable} is invalid: {reason}")]
    Invalid {
        variable: &'static str,
        reason: String,
    },
}

impl VariableError {
    pub fn variable(&self) -> &'static str {
        match self {
            Self::Missing(variable) | Self::Invalid { variable, .. } => variable,
        }
    }
}

/// Every variable that is missing or invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("missing or invalid configuration: {}", list(.0))]
pub struct SettingsError(pub Vec<VariableError>);

impl SettingsError {
    /// The names of the variables at fault, in the order they were read.
    pub fn variables(&self) -> Vec<&'static str> {
        self.0.iter().map(VariableError::variable).collect()
    }
}

fn list(problems: &[VariableError]) -> String {
    problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Reads variables through a lookup (the process environment in `main`, a
/// map in tests), recording every problem instead of stopping at the first.
pub struct SettingsReader<L> {
    lookup: L,
    problems: Vec<VariableError>,
}

impl<L: Fn(&str) -> Option<String>> SettingsReader<L> {
    pub fn new(lookup: L) -> Self {
        Self {
            lookup,
            problems: Vec::new(),
        }
    }

    /// A variable that must be set; blank counts as unset.
    pub fn required(&mut self, name: &'static str) -> Option<String> {
        let value = (self.lookup)(name).filter(|value| !value.trim().is_empty());
        if value.is_none() {
            self.problems.push(VariableError::Missing(name));
        }
        value
    }

    /// A variable that must be set and accepted by `parse`.
    pub fn required_parsed<T, E: Display>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        let value = self.required(name)?;
        self.parse(name, &value, parse)
    }

    /// A variable that may be unset (then `default`), but once set must be
    /// accepted by `parse`: a typo is an error, not a silent default.
    pub fn optional_parsed<T, E: Display>(
        &mut self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        match (self.lookup)(name) {
            None => Some(default),
            Some(value) => self.parse(name, &value, parse),
        }
    }

    /// Records a problem found by the caller (e.g. two values that conflict).
    pub fn invalid(&mut self, name: &'static str, reason: impl Display) {
        self.problems.push(VariableError::Invalid {
            variable: name,
            reason: reason.to_string(),
        });
    }

    fn parse<T, E: Display>(
        &mut self,
        name: &'static str,
        value: &str,
        parse: impl FnOnce(&str) -> Result<T, E>,
    ) -> Option<T> {
        parse(value.trim())
            .map_err(|reason| self.invalid(name, reason))
            .ok()
    }

    /// The settings `build` makes from the values read, or every problem.
    /// `build` returns `None` only if a read failed, which was recorded.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, SettingsError> {
        if !self.problems.is_empty() {
            return Err(SettingsError(self.problems));
        }
        Ok(build().expect("every read without a recorded problem holds a value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(vars: &'static [(&str, &str)]) -> SettingsReader<impl Fn(&str) -> Option<String>> {
        SettingsReader::new(|name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    #[test]
    fn every_missing_and_invalid_variable_is_named() {
        let mut reader = reader(&[("BLANK", " "), ("BAD", "x"), ("GOOD", "7")]);
        let unset = reader.required("UNSET");
        let blank = reader.required("BLANK");
        let bad = reader.optional_parsed("BAD", 1u32, str::parse);
        let good = reader.required_parsed("GOOD", str::parse::<u32>);
        let error = reader
            .finish(|| Some((unset?, blank?, bad?, good?)))
            .unwrap_err();
        assert_eq!(error.variables(), ["UNSET", "BLANK", "BAD"]);
        assert_eq!(
            error.to_string(),
            "missing or invalid configuration: UNSET is not set; BLANK is not set; \
             BAD is invalid: invalid digit found in string"
        );
    }

    #[test]
    fn an_unset_optional_variable_is_its_default() {
        let mut reader = reader(&[("SET", " 5 ")]);
        let unset = reader.optional_parsed("UNSET", 3u32, str::parse);
        let set = reader.optional_parsed("SET", 3u32, str::parse);
        assert_eq!(reader.finish(|| Some((unset?, set?))), Ok((3, 5)));
    }
}
