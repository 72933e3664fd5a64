//! The consume Lambda's wiring: the DynamoDB and S3 stores behind
//! [`Consumer`], and what an invocation gets while it is not configured.
//! The Lambda's `main` builds it here.

use std::sync::Arc;

use aws_config::SdkConfig;
use hookbridge_aws::DynamoDbEventStore;
use hookbridge_aws::iam::IamActions;
use hookbridge_aws::metrics::EmfStdout;
use hookbridge_aws::s3::{self, S3PayloadStore};
use hookbridge_aws::settings::SettingsError;
use hookbridge_core::ports::EventStore;

use crate::{ConsumeError, Consumed, Consumer, Settings};

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
    use crate::tests::settings_from;
    use lambda_runtime::Diagnostic;

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
