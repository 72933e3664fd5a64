//! `hookbridge dev --aws`: the local HTTP edge in front of the real AWS
//! adapters (EventBridge, SSM), built once as the ingest Lambda's `main`
//! builds them. Delivery and consumption then happen in AWS (or moto).

use std::sync::Arc;

use aws_config::BehaviorVersion;
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::eventbridge::EventBridgePublisher;
use hookbridge_aws::ssm::SsmSecretStore;
use hookbridge_core::config::{ConfigError, Sources};
use ingest::Ingest;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::config::{self, Settings};
use super::server::{App, Limits};
use super::{DEFAULT_HOST, DEFAULT_PORT, DevArgs, DevError, Running, bind, listen_address};

pub const SOURCES_VARIABLE: &str = "HOOKBRIDGE_SOURCES";
pub const BUS_VARIABLE: &str = "EVENT_BUS_NAME";

#[derive(Debug, thiserror::Error)]
pub enum AwsSetupError {
    #[error("{BUS_VARIABLE} must name the event bus with --aws")]
    MissingBus,
    #[error("{SOURCES_VARIABLE}: {0}")]
    Sources(ConfigError),
    #[error("secret store: {0}")]
    Secrets(hookbridge_aws::ssm::SettingsError),
}

pub async fn run(args: DevArgs, settings: Settings) -> Result<(), DevError> {
    if !args.secrets.is_empty() || !args.outbound_secrets.is_empty() {
        return Err(DevError::SecretFlagsWithAws);
    }
    let sources = match settings.sources {
        _ if !args.sources.is_empty() => config::sources_from_flags(&args.sources)?,
        Some(setup) => setup.sources,
        None => match std::env::var(SOURCES_VARIABLE) {
            Ok(json) => Sources::from_json(&json).map_err(AwsSetupError::Sources)?,
            Err(_) => config::built_in_sources().sources,
        },
    };
    let bus_name = std::env::var(BUS_VARIABLE)
        .ok()
        .filter(|name| !name.trim().is_empty())
        .ok_or(AwsSetupError::MissingBus)?;
    if args.target.is_some() || args.time_scale.is_some() {
        tracing::warn!("--target and --time-scale do not apply with --aws: delivery runs in AWS");
    }
    let aws = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let secrets = SsmSecretStore::from_env(aws_sdk_ssm::Client::new(&aws), SystemClock)
        .map_err(AwsSetupError::Secrets)?;
    let publisher = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&aws), &bus_name);
    let app = Arc::new(App {
        ingest: Ingest::new(sources, secrets, publisher, SystemClock),
        events: None,
        limits: Limits::default(),
    });
    let host = args
        .host
        .or(settings.host)
        .unwrap_or_else(|| DEFAULT_HOST.to_owned());
    let port = args.port.or(settings.port).unwrap_or(DEFAULT_PORT);
    let listener = bind(&listen_address(&host, port)).await?;
    eprintln!(
        "hookbridge dev --aws: webhooks go to the EventBridge bus {bus_name}; secrets come from SSM"
    );
    Running::serve(listener, app, JoinSet::new(), watch::channel(false))?
        .until_signal()
        .await
}
