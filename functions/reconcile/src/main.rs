//! Lambda entry point: the SDK clients are built once per container, then
//! every custom resource request is reconciled and answered on its response
//! URL.

// The AWS SDK futures nested in the Lambda runtime future exceed the
// default depth when rustc computes their layout.
#![recursion_limit = "256"]

use std::time::SystemTime;

use hookbridge_aws::cloudformation::ResponseUploader;
use lambda_runtime::{LambdaEvent, service_fn};
use reconcile::{AwsReconciler, CustomResourceRequest, respond_before};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    hookbridge_aws::logging::init();
    let aws = hookbridge_aws::sdk_config::load().await;
    let reconciler = &AwsReconciler::on_aws(&aws);
    let uploader = &ResponseUploader::new(hookbridge_aws::http::client()?);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Not a custom resource request: there is no one to answer.
        let request: CustomResourceRequest = serde_json::from_value(event.payload)?;
        let time_left = event
            .context
            .deadline()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        let response = respond_before(reconciler, &request, time_left).await;
        uploader.upload(&request.response_url, &response).await?;
        Ok::<(), lambda_runtime::Error>(())
    }))
    .await
}
