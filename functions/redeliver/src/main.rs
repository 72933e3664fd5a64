//! Lambda entry point: settings, the HTTP client and the SDK clients are
//! built once per container, then every batch of tier-2 queue messages goes
//! to [`redeliver::Redeliver::handle`].

use std::sync::Arc;

use hookbridge_aws::metrics::EmfStdout;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use redeliver::{AwsRedeliver, Settings, SqsEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    hookbridge_aws::logging::init();
    let settings = Settings::from_lookup(|name| std::env::var(name).ok());
    let aws = hookbridge_aws::sdk_config::load().await;
    let redeliver = AwsRedeliver::on_aws(settings, &aws, hookbridge_aws::http::client()?);
    let redeliver = &match EmfStdout::from_lookup(|name| std::env::var(name).ok()) {
        Some(metrics) => redeliver.with_metrics(Arc::new(metrics)),
        None => redeliver,
    };
    // An event that does not parse fails the invocation: every message of
    // the batch stays in its queue.
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        Ok::<_, Error>(redeliver.handle(&event.payload).await)
    }))
    .await
}
