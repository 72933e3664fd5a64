//! Shared secrets: held in memory only as long as needed and never printed.

use std::fmt;

/// One shared secret. `Debug` is redacted so a secret cannot reach a log by
/// accident; the bytes are only reachable through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Box<str>);

impl Secret {
    pub fn new(value: impl Into<Box<str>>) -> Self {
        Self(value.into())
    }

    /// The secret's bytes, for keying a MAC or a constant-time comparison.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(**redacted**)")
    }
}

/// Every secret currently valid for one source. Several at once let a secret
/// be rotated without a window in which genuine webhooks fail.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct SecretSet(Vec<Secret>);

impl SecretSet {
    /// Parses the stored form: secrets separated by commas, surrounding
    /// whitespace ignored, empty entries dropped.
    pub fn parse(stored: &str) -> Self {
        Self(
            stored
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Secret::new)
                .collect(),
        )
    }

    pub fn iter(&self) -> impl Iterator<Item = &Secret> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl FromIterator<Secret> for SecretSet {
    fn from_iter<I: IntoIterator<Item = Secret>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_splits_on_commas_and_drops_blanks() {
        let set = SecretSet::parse(" a , b,,c ,");
        let values: Vec<&str> = set.iter().map(Secret::expose).collect();
        assert_eq!(values, ["a", "b", "c"]);
    }

    #[test]
    fn parse_of_blank_value_is_empty() {
        assert!(SecretSet::parse(" , ").is_empty());
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let set = SecretSet::parse("whsec_topsecret");
        assert!(!format!("{set:?}").contains("topsecret"));
    }
}
