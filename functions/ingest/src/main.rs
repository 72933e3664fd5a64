//! Lambda entry point: settings and clients are built once per container,
//! then every invocation goes to [`ingest::IngestFunction::handle`].

use std::convert::Infallible;

use hookbridge_aws::metrics::EmfStdout;
use ingest::{IngestFunction, Settings};
use lambda_http::{Error, Request, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    hookbridge_aws::logging::init();
    let settings = Settings::from_lookup(|name| std::env::var(name).ok());
    let aws = hookbridge_aws::sdk_config::load().await;
    let metrics = EmfStdout::from_lookup(|name| std::env::var(name).ok());
    let ingest = &IngestFunction::on_aws(settings, &aws).with_metrics(metrics);
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(ingest.handle(request).await)
    }))
    .await
}
