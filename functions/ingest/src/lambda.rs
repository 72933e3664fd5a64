//! The ingest Lambda's wiring: its settings, the AWS adapters behind
//! [`Ingest`], and what it answers while it is not configured. The Lambda's
//! `main` and `hookbridge dev --aws` both build it here.

use std::sync::Arc;

use aws_config::SdkConfig;
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::eventbridge::EventBridgePublisher;
use hookbridge_aws::iam::IamActions;
use hookbridge_aws::metrics::EmfStdout;
use hookbridge_aws::s3::{self, S3PayloadStore};
use hookbridge_aws::settings::{SOURCES_VARIABLE, SettingsError, SettingsReader};
use hookbridge_aws::ssm::{SecretsSettings, SsmSecretStore};
use hookbridge_core::config::Sources;
use hookbridge_core::response;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};

use crate::Ingest;

pub const EVENT_BUS_VARIABLE: &str = "EVENT_BUS_NAME";

/// What the function is configured with, read once at cold start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub sources: Sources,
    pub event_bus_name: String,
    pub secrets: SecretsSettings,
    /// Where payloads too large to travel inline are stored.
    pub payload_bucket: String,
}

impl Settings {
    /// Reads every variable through `lookup` (the process environment in
    /// `main`), naming every missing or invalid one at once.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut reader = SettingsReader::new(lookup);
        let sources = reader.required_parsed(SOURCES_VARIABLE, Sources::from_json);
        Self::read_with(reader, sources)
    }

    /// As [`Self::from_lookup`] with the sources given: `hookbridge dev
    /// --aws` takes them from `hookbridge.toml` or its flags.
    pub fn from_lookup_with_sources(
        sources: Sources,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, SettingsError> {
        Self::read_with(SettingsReader::new(lookup), Some(sources))
    }

    fn read_with<L: Fn(&str) -> Option<String>>(
        mut reader: SettingsReader<L>,
        sources: Option<Sources>,
    ) -> Result<Self, SettingsError> {
        let event_bus_name = reader.required(EVENT_BUS_VARIABLE);
        let secrets = SecretsSettings::read(&mut reader);
        let payload_bucket = s3::read_bucket(&mut reader);
        reader.finish(|| {
            Some(Self {
                sources: sources?,
                event_bus_name: event_bus_name?,
                secrets: secrets?,
                payload_bucket: payload_bucket?,
            })
        })
    }
}

/// Ingest on SSM, EventBridge and S3, as the Lambda runs it.
pub type AwsIngest =
    Ingest<SsmSecretStore<SystemClock>, EventBridgePublisher, SystemClock, S3PayloadStore>;

impl AwsIngest {
    /// The one wiring of the AWS adapters.
    pub fn on_aws(settings: Settings, aws: &SdkConfig) -> Self {
        let secrets = SsmSecretStore::from_settings(
            aws_sdk_ssm::Client::new(aws),
            settings.secrets,
            SystemClock,
        );
        let publisher = EventBridgePublisher::new(
            aws_sdk_eventbridge::Client::new(aws),
            settings.event_bus_name,
        );
        let payloads = S3PayloadStore::new(aws, settings.payload_bucket);
        Ingest::new(settings.sources, secrets, publisher, SystemClock, payloads)
    }
}

impl<S: IamActions, P: IamActions, C> Ingest<S, P, C, S3PayloadStore> {
    /// The IAM actions the function's role needs: its adapters' calls
    /// (of the payload store, only `put`).
    pub fn iam_actions() -> Vec<&'static str> {
        [S::iam_actions(), P::iam_actions(), vec![s3::PUT_ACTION]].concat()
    }
}

/// What every request goes to: ingest, or while the configuration is
/// missing or invalid, a 503 (the provider retries). A configuration
/// mistake never becomes a crash loop.
pub enum IngestFunction {
    Ready(Box<AwsIngest>),
    Unconfigured,
}

impl IngestFunction {
    /// Builds the function from what `main` read, logging a configuration
    /// problem once (variable names only: the values are not logged).
    pub fn on_aws(settings: Result<Settings, SettingsError>, aws: &SdkConfig) -> Self {
        match settings {
            Ok(settings) => Self::Ready(Box::new(AwsIngest::on_aws(settings, aws))),
            Err(problems) => {
                tracing::error!(%problems, "every webhook is answered 503 until configured");
                Self::Unconfigured
            }
        }
    }

    /// Writes every webhook's metrics as EMF lines, when `recorder` is
    /// given. An unconfigured function measures nothing: API Gateway counts
    /// its 503s.
    pub fn with_metrics(self, recorder: Option<EmfStdout>) -> Self {
        match (self, recorder) {
            (Self::Ready(ingest), Some(recorder)) => {
                Self::Ready(Box::new(ingest.with_metrics(Arc::new(recorder))))
            }
            (function, _) => function,
        }
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        match self {
            Self::Ready(ingest) => ingest.handle(request).await,
            Self::Unconfigured => unconfigured(),
        }
    }
}

fn unconfigured() -> Response<Body> {
    let correlation_id = uuid::Uuid::new_v4().to_string();
    tracing::error!(
        correlation_id,
        code = "configuration_missing",
        "webhook not accepted: the function is not configured"
    );
    response::error(
        StatusCode::SERVICE_UNAVAILABLE,
        "configuration_missing",
        "the service is not configured yet; retry later",
        Some(&correlation_id),
    )
    .map(Body::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookbridge_aws::s3::PAYLOAD_BUCKET_VARIABLE;
    use hookbridge_aws::ssm::{PREFIX_VARIABLE, TTL_VARIABLE};
    use hookbridge_core::response::CORRELATION_HEADER;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    const SOURCES: &str = r#"{"stripe":{"kind":"stripe"}}"#;

    #[test]
    fn settings_read_every_variable() {
        let read = settings(&[
            (SOURCES_VARIABLE, SOURCES),
            (EVENT_BUS_VARIABLE, "bus"),
            (PREFIX_VARIABLE, "/hookbridge/"),
            (TTL_VARIABLE, "60"),
            (PAYLOAD_BUCKET_VARIABLE, "payloads"),
        ])
        .unwrap();
        assert_eq!(read.payload_bucket, "payloads");
        assert_eq!(read.event_bus_name, "bus");
        assert_eq!(read.secrets.prefix, "/hookbridge/");
        assert_eq!(read.secrets.ttl.as_secs(), 60);
        assert!(read.sources.get("stripe").is_some());
    }

    #[test]
    fn settings_name_every_missing_and_invalid_variable_at_once() {
        let problems = settings(&[(SOURCES_VARIABLE, "[]"), (TTL_VARIABLE, "abc")]).unwrap_err();
        assert_eq!(
            problems.variables(),
            [
                SOURCES_VARIABLE,
                EVENT_BUS_VARIABLE,
                PREFIX_VARIABLE,
                TTL_VARIABLE,
                PAYLOAD_BUCKET_VARIABLE
            ]
        );
    }

    #[test]
    fn the_dev_server_gives_the_sources_itself() {
        let sources = Sources::from_json(SOURCES).unwrap();
        let read = Settings::from_lookup_with_sources(sources.clone(), |name| {
            [EVENT_BUS_VARIABLE, PREFIX_VARIABLE, PAYLOAD_BUCKET_VARIABLE]
                .contains(&name)
                .then(|| "set".to_owned())
        })
        .unwrap();
        assert_eq!(read.sources, sources);
    }

    #[tokio::test]
    async fn unconfigured_answers_every_request_503_with_the_error_body() {
        let request = lambda_http::http::Request::builder()
            .method("POST")
            .uri("/webhooks/stripe")
            .body(Body::from("{}"))
            .unwrap();
        let response = IngestFunction::Unconfigured.handle(request).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(response.headers().contains_key(CORRELATION_HEADER));
        let body: serde_json::Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(body["error"]["code"], "configuration_missing");
    }

    #[test]
    fn the_role_needs_events_ssm_and_payload_put_calls_only() {
        assert_eq!(
            AwsIngest::iam_actions(),
            [
                "ssm:GetParameter",
                "kms:Decrypt",
                "events:PutEvents",
                "s3:PutObject"
            ]
        );
    }
}
