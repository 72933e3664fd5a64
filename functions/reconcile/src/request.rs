//! The CloudFormation custom resource protocol: the request Lambda is
//! invoked with, and the answer it uploads to the request's response URL.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// CloudFormation shows at most this much of a failure's reason.
const MAX_REASON_CHARS: usize = 1_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// A custom resource request (the fields this function uses).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceRequest {
    pub request_type: RequestType,
    /// A presigned S3 URL: the answer is PUT there.
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// Absent on Create.
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    pub resource_properties: Value,
    /// On Update: the properties of the deploy before (on a rollback, those
    /// of the deploy that failed).
    #[serde(default)]
    pub old_resource_properties: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum ResponseStatus {
    Success,
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct CustomResourceResponse {
    pub status: ResponseStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
}

impl CustomResourceRequest {
    /// The answer to this request. The physical id never changes after
    /// Create: a new one would make CloudFormation send a Delete for the
    /// old, which would remove every destination.
    pub fn response(
        &self,
        status: ResponseStatus,
        reason: Option<String>,
    ) -> CustomResourceResponse {
        CustomResourceResponse {
            status,
            reason: reason.map(|reason| reason.chars().take(MAX_REASON_CHARS).collect()),
            physical_resource_id: self
                .physical_resource_id
                .clone()
                .unwrap_or_else(|| format!("{}-{}", self.stack_name(), self.logical_resource_id)),
            stack_id: self.stack_id.clone(),
            request_id: self.request_id.clone(),
            logical_resource_id: self.logical_resource_id.clone(),
        }
    }

    /// The name in `arn:…:stack/<name>/<id>`.
    fn stack_name(&self) -> &str {
        self.stack_id
            .split_once(":stack/")
            .and_then(|(_, rest)| rest.split('/').next())
            .unwrap_or(&self.stack_id)
    }
}
