//! What consume reads from its environment, once at cold start: no AWS
//! SDK involved.

use std::collections::HashMap;
use std::time::Duration;

use hookbridge_aws::s3;
use hookbridge_aws::settings::{self, SOURCES_VARIABLE, SettingsError, SettingsReader};
pub use hookbridge_aws::settings::{DEFAULT_RETENTION_DAYS, RETENTION_VARIABLE};
use hookbridge_core::config::Sources;
use hookbridge_core::projection::ProjectionRule;

pub const TABLE_NAME_VARIABLE: &str = "TABLE_NAME";

/// What the function is configured with, read once at cold start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The DynamoDB table (`TABLE_NAME`).
    pub table_name: String,
    /// Projection rule per configured source; sources without one (standard
    /// or hmac without `object_pointer`) are recorded only.
    pub rules: HashMap<String, ProjectionRule>,
    /// How long event items live (`RETENTION_DAYS`).
    pub retention: Duration,
    /// Where payloads too large to travel inline are stored.
    pub payload_bucket: String,
}

impl Settings {
    /// Reads `TABLE_NAME`, `HOOKBRIDGE_SOURCES`, `RETENTION_DAYS` and
    /// `PAYLOAD_BUCKET` through
    /// `lookup` (the process environment in `main`, a map in tests), naming
    /// every missing or invalid one at once.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut reader = SettingsReader::new(lookup);
        let table_name = reader.required(TABLE_NAME_VARIABLE);
        let sources = reader.required_parsed(SOURCES_VARIABLE, Sources::from_json);
        let retention = settings::read_retention(&mut reader);
        let payload_bucket = s3::read_bucket(&mut reader);
        reader.finish(|| {
            Some(Self {
                table_name: table_name?,
                rules: rules_of(&sources?),
                retention: retention?,
                payload_bucket: payload_bucket?,
            })
        })
    }
}

fn rules_of(sources: &Sources) -> HashMap<String, ProjectionRule> {
    sources
        .iter()
        .map(|(name, config)| (name.to_owned(), ProjectionRule::for_source(config)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{BUCKET, SOURCES, settings_from};
    use hookbridge_core::providers::Kind;

    #[test]
    fn settings_default_to_thirty_days_and_map_sources_to_rules() {
        let settings = settings_from(&[
            ("TABLE_NAME", "events"),
            ("HOOKBRIDGE_SOURCES", SOURCES),
            BUCKET,
        ])
        .unwrap();
        assert_eq!(settings.table_name, "events");
        assert_eq!(settings.retention, Duration::from_secs(30 * 86_400));
        assert_eq!(
            settings.rules.get("stripe"),
            Some(&ProjectionRule::Provider(Kind::Stripe))
        );
        assert_eq!(
            settings.rules.get("orders"),
            Some(&ProjectionRule::Pointer("/order/id".to_owned()))
        );
        // Standard without object_pointer names no object: recorded, not projected.
        assert_eq!(
            settings.rules.get("standard"),
            Some(&ProjectionRule::Provider(Kind::Standard))
        );
    }

    #[test]
    fn settings_read_retention_days() {
        let settings = settings_from(&[
            ("TABLE_NAME", "events"),
            ("HOOKBRIDGE_SOURCES", SOURCES),
            ("RETENTION_DAYS", "7"),
            BUCKET,
        ])
        .unwrap();
        assert_eq!(settings.retention, Duration::from_secs(7 * 86_400));
    }

    fn faulty_variables(vars: &[(&str, &str)]) -> Vec<&'static str> {
        settings_from(vars).unwrap_err().variables()
    }

    #[test]
    fn settings_reject_what_is_missing_or_malformed() {
        for days in ["0", "-1", "3651", "30d", ""] {
            let faulty = faulty_variables(&[
                ("TABLE_NAME", "events"),
                ("HOOKBRIDGE_SOURCES", SOURCES),
                ("RETENTION_DAYS", days),
                BUCKET,
            ]);
            assert_eq!(faulty, ["RETENTION_DAYS"], "{days:?}");
        }
        assert_eq!(
            faulty_variables(&[("HOOKBRIDGE_SOURCES", SOURCES), BUCKET]),
            ["TABLE_NAME"]
        );
        assert_eq!(
            faulty_variables(&[("TABLE_NAME", "events"), BUCKET]),
            ["HOOKBRIDGE_SOURCES"]
        );
        assert_eq!(
            faulty_variables(&[
                ("TABLE_NAME", "events"),
                ("HOOKBRIDGE_SOURCES", "[]"),
                BUCKET
            ]),
            ["HOOKBRIDGE_SOURCES"]
        );
    }

    #[test]
    fn settings_name_every_problem_at_once() {
        assert_eq!(
            faulty_variables(&[("HOOKBRIDGE_SOURCES", "[]"), ("RETENTION_DAYS", "x")]),
            [
                "TABLE_NAME",
                "HOOKBRIDGE_SOURCES",
                "RETENTION_DAYS",
                "PAYLOAD_BUCKET"
            ]
        );
    }
}
