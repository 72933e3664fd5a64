//! The consume Lambda: builds settings and the DynamoDB client once, then
//! hands every EventBridge invocation to [`consume::ConsumeFunction`].

// The AWS SDK futures nested in the Lambda runtime future exceed the
// default depth when rustc computes their layout.
#![recursion_limit = "256"]

use consume::{ConsumeFunction, Settings};
use hookbridge_aws::metrics::EmfStdout;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    hookbridge_aws::logging::init();
    let settings = Settings::from_lookup(|name| std::env::var(name).ok());
    let aws = hookbridge_aws::sdk_config::load().await;
    let metrics = EmfStdout::from_lookup(|name| std::env::var(name).ok());
    let consumer = &ConsumeFunction::on_aws(settings, &aws).with_metrics(metrics);
    // The event is taken as raw JSON so that an invocation that is not a
    // valid bus event still reaches the handler and is logged with what
    // identifies it.
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<Box<RawValue>>| async move {
            consumer.handle(event.payload.get()).await
        },
    ))
    .await
}
