//! The consume Lambda: builds settings and the DynamoDB client once, then
//! hands every EventBridge invocation to [`consume::Consumer`].

// The AWS SDK futures nested in the Lambda runtime future exceed the
// default depth when rustc computes their layout.
#![recursion_limit = "256"]

use consume::{Consumer, Settings};
use hookbridge_aws::DynamoDbEventStore;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::value::RawValue;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    lambda_runtime::tracing::init_default_subscriber();
    let settings = Settings::from_env(|name| std::env::var(name).ok())?;
    let aws = aws_config::load_from_env().await;
    let store = DynamoDbEventStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        settings.table_name.clone(),
    );
    let consumer = &Consumer::new(store, settings);
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
