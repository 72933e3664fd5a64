//! The reconcile Lambda's wiring: the AWS adapters behind [`Reconciler`],
//! and answering within the invocation's time. The Lambda's `main` builds
//! it here.

use std::time::Duration;

use aws_config::SdkConfig;
use hookbridge_aws::destination_resources::AwsDestinationResources;
use hookbridge_aws::iam::IamActions;
use hookbridge_core::ports::DestinationResources;

use crate::{CustomResourceRequest, CustomResourceResponse, Reconciler, ResponseStatus};

/// Time kept back to upload the answer when the work runs long.
const RESPONSE_MARGIN: Duration = Duration::from_secs(5);

/// The reconciler on SNS, SQS, CloudWatch and Lambda, as the Lambda runs it.
pub type AwsReconciler = Reconciler<AwsDestinationResources>;

impl AwsReconciler {
    pub fn on_aws(aws: &SdkConfig) -> Self {
        Reconciler::new(AwsDestinationResources::new(
            aws_sdk_sns::Client::new(aws),
            aws_sdk_sqs::Client::new(aws),
            aws_sdk_cloudwatch::Client::new(aws),
            aws_sdk_lambda::Client::new(aws),
        ))
    }
}

impl IamActions for AwsReconciler {
    fn iam_actions() -> Vec<&'static str> {
        let mut actions = AwsDestinationResources::iam_actions();
        actions.extend(hookbridge_aws::cloudformation::ResponseUploader::iam_actions());
        actions
    }
}

/// Handles the request, or answers FAILED when `time_left` (less a margin
/// for the upload) runs out first: a custom resource that never answers
/// holds the stack for an hour.
pub async fn respond_before<R: DestinationResources>(
    reconciler: &Reconciler<R>,
    request: &CustomResourceRequest,
    time_left: Duration,
) -> CustomResourceResponse {
    let budget = time_left.saturating_sub(RESPONSE_MARGIN);
    match tokio::time::timeout(budget, reconciler.handle(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::error!(
                request_id = %request.request_id,
                budget_seconds = budget.as_secs(),
                "reconciling took longer than the invocation allows"
            );
            request.response(
                ResponseStatus::Failed,
                Some(format!(
                    "reconciling the destinations took longer than {} s; deploy again to finish",
                    budget.as_secs()
                )),
            )
        }
    }
}
