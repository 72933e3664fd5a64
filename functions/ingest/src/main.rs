//! Lambda entry point: configuration and clients are built once per
//! container, then every invocation goes to [`ingest::Ingest::handle`].

use std::convert::Infallible;
use std::env;

use aws_config::BehaviorVersion;
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::eventbridge::EventBridgePublisher;
use hookbridge_aws::ssm::SsmSecretStore;
use hookbridge_core::config::Sources;
use ingest::Ingest;
use lambda_http::{Error, Request, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::tracing::init_default_subscriber();
    let sources = Sources::from_json(&required_env("HOOKBRIDGE_SOURCES")?)?;
    let bus_name = required_env("EVENT_BUS_NAME")?;
    let aws = aws_config::defaults(BehaviorVersion::latest()).load().await;
    let secrets = SsmSecretStore::from_env(aws_sdk_ssm::Client::new(&aws), SystemClock)?;
    let publisher = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&aws), bus_name);
    let ingest = Ingest::new(sources, secrets, publisher, SystemClock);
    let ingest = &ingest;
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(ingest.handle(request).await)
    }))
    .await
}

fn required_env(name: &str) -> Result<String, Error> {
    env::var(name).map_err(|_| format!("environment variable {name} must be set").into())
}
