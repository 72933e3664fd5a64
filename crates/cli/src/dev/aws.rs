//! `hookbridge dev --aws`: the local HTTP edge in front of the real AWS
//! adapters (EventBridge, SSM), built once by the ingest Lambda's own
//! constructor, `ingest::AwsIngest::on_aws`. Delivery and consumption then
//! happen in AWS (or moto).

use std::sync::Arc;

use hookbridge_aws::settings::{SOURCES_VARIABLE, SettingsError};
use hookbridge_core::config::{ConfigError, Sources};
use ingest::AwsIngest;
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::config::{self, Settings};
use super::server::{App, Limits};
use super::{DEFAULT_HOST, DEFAULT_PORT, DevArgs, DevError, Running, bind, listen_address};

#[derive(Debug, thiserror::Error)]
pub enum AwsSetupError {
    #[error("{SOURCES_VARIABLE}: {0}")]
    Sources(ConfigError),
    #[error("with --aws: {0}")]
    Settings(SettingsError),
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
    let ingest_settings =
        ingest::Settings::from_lookup_with_sources(sources, |name| std::env::var(name).ok())
            .map_err(AwsSetupError::Settings)?;
    if args.target.is_some()
        || args.time_scale.is_some()
        || !settings.destinations.destinations.is_empty()
    {
        tracing::warn!(
            "--target, [destinations] and --time-scale do not apply with --aws: delivery runs in AWS"
        );
    }
    let bus_name = ingest_settings.event_bus_name.clone();
    let aws = hookbridge_aws::sdk_config::load().await;
    let app = Arc::new(App {
        ingest: AwsIngest::on_aws(ingest_settings, &aws),
        console: None,
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
