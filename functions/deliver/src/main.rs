//! Lambda entry point: settings, the HTTP client and the SSM client are built
//! once per container, then every invocation goes to [`deliver::Deliver::handle`].

use std::convert::Infallible;
use std::sync::Arc;

use deliver::{AwsDeliver, Settings};
use hookbridge_aws::metrics::EmfStdout;
use lambda_http::{Error, Request, service_fn};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    hookbridge_aws::logging::init();
    let settings = Settings::from_lookup(|name| std::env::var(name).ok());
    let aws = hookbridge_aws::sdk_config::load().await;
    let deliver = AwsDeliver::on_aws(settings, &aws, hookbridge_aws::http::client()?);
    let deliver = &match EmfStdout::from_lookup(|name| std::env::var(name).ok()) {
        Some(metrics) => deliver.with_metrics(Arc::new(metrics)),
        None => deliver,
    };
    lambda_http::run(service_fn(move |request: Request| async move {
        Ok::<_, Infallible>(deliver.handle(request).await)
    }))
    .await
}
