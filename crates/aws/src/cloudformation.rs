//! Answering a CloudFormation custom resource request: the answer is PUT to
//! the presigned S3 URL the request carries.

use serde::Serialize;

#[derive(Debug, thiserror::Error)]
#[error("uploading the custom resource response failed: {0}")]
pub struct UploadError(String);

#[derive(Debug, Clone)]
pub struct ResponseUploader {
    client: reqwest::Client,
}

impl ResponseUploader {
    pub fn new(client: reqwest::Client) -> Self {
        Self { client }
    }

    /// PUTs `response` as JSON. No content type: the URL's signature
    /// covers none.
    pub async fn upload(
        &self,
        response_url: &str,
        response: &impl Serialize,
    ) -> Result<(), UploadError> {
        let body = serde_json::to_vec(response).map_err(|error| UploadError(error.to_string()))?;
        let answer = self
            .client
            .put(response_url)
            .body(body)
            .send()
            .await
            .map_err(|error| UploadError(error.without_url().to_string()))?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(UploadError(format!(
                "the response URL answered HTTP {}",
                answer.status().as_u16()
            )))
        }
    }
}
