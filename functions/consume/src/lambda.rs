//! The consume Lambda's wiring: its settings, the DynamoDB store behind
//! [`Consumer`], and what an invocation gets while it is not configured.
//! The Lambda's `main` builds it here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use hookbridge_aws::DynamoDbEventStore;
use hookbridge_aws::iam::IamActions;
use hookbridge_aws::metrics::EmfStdout;
use hookbridge_aws::s3::{self, S3PayloadStore};
use hookbridge_aws::settings::{self, SOURCES_VARIABLE, SettingsError, SettingsReader};
pub use hookbridge_aws::settings::{DEFAULT_RETENTION_DAYS, RETENTION_VARIABLE};
use hookbridge_core::config::Sources;
use hookbridge_core::ports::EventStore;
use hookbridge_core::projection::ProjectionRule;

use crate::{ConsumeError, Consumed, Consumer};

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

/// The consumer on DynamoDB and S3, as the Lambda runs it.
pub type AwsConsumer = Consumer<DynamoDbEventStore, S3PayloadStore>;

impl AwsConsumer {
    /// The one wiring of the DynamoDB and S3 stores.
    pub fn on_aws(settings: Settings, aws: &SdkConfig) -> Self {
        let store = DynamoDbEventStore::new(
            aws_sdk_dynamodb::Client::new(aws),
            settings.table_name.clone(),
        );
        let payloads = S3PayloadStore::new(aws, settings.payload_bucket.clone());
        Consumer::new(store, payloads, settings)
    }
}

impl<S: EventStore + IamActions> Consumer<S, S3PayloadStore> {
    /// The IAM actions the function's role needs: its store's calls and,
    /// of the payload store, only `get`.
    pub fn iam_actions() -> Vec<&'static str> {
        [S::iam_actions(), vec![s3::GET_ACTION]].concat()
    }
}

/// What every invocation goes to: the consumer, or while the configuration
/// is missing or invalid, an error (Lambda retries, then the dead-letter
/// queue keeps the event). A configuration mistake never becomes a crash
/// loop, and no event is lost.
pub enum ConsumeFunction {
    Ready(Box<AwsConsumer>),
    Unconfigured(SettingsError),
}

impl ConsumeFunction {
    /// Builds the function from what `main` read, logging a configuration
    /// problem once (variable names only: the values are not logged).
    pub fn on_aws(settings: Result<Settings, SettingsError>, aws: &SdkConfig) -> Self {
        match settings {
            Ok(settings) => Self::Ready(Box::new(AwsConsumer::on_aws(settings, aws))),
            Err(problems) => {
                tracing::error!(%problems, "every invocation fails until configured");
                Self::Unconfigured(problems)
            }
        }
    }

    /// Writes every event's metrics as EMF lines, when `recorder` is
    /// given. An unconfigured function measures nothing: Lambda counts its
    /// errors.
    pub fn with_metrics(self, recorder: Option<EmfStdout>) -> Self {
        match (self, recorder) {
            (Self::Ready(consumer), Some(recorder)) => {
                Self::Ready(Box::new(consumer.with_metrics(Arc::new(recorder))))
            }
            (function, _) => function,
        }
    }

    pub async fn handle(&self, event: &str) -> Result<Consumed, ConsumeError> {
        match self {
            Self::Ready(consumer) => consumer.handle(event).await,
            Self::Unconfigured(problems) => {
                let error = ConsumeError::Unconfigured(problems.clone());
                tracing::error!(code = error.code(), %error, "event not recorded");
                Err(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::{BUCKET, SOURCES, settings_from};
    use hookbridge_core::providers::Kind;
    use lambda_runtime::Diagnostic;

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

    #[tokio::test]
    async fn unconfigured_fails_every_invocation_with_a_typed_error() {
        let problems = settings_from(&[]).unwrap_err();
        let function = ConsumeFunction::Unconfigured(problems);
        for _ in 0..2 {
            let error = function.handle("{}").await.unwrap_err();
            assert_eq!(error.code(), "configuration_missing");
            let diagnostic = Diagnostic::from(error);
            assert_eq!(diagnostic.error_type, "configuration_missing");
            assert!(diagnostic.error_message.contains("TABLE_NAME"));
        }
    }

    #[test]
    fn the_role_needs_put_item_and_payload_reads_only() {
        assert_eq!(
            AwsConsumer::iam_actions(),
            ["dynamodb:PutItem", "s3:GetObject"]
        );
    }
}
