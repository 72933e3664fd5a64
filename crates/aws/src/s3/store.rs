//! The S3 client behind [`PayloadStore`].

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::retry::RetryConfig;
use aws_sdk_s3::config::timeout::TimeoutConfig;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStream;
use hookbridge_core::ports::{PayloadStore, PayloadStoreError};

/// Bounds of one call, retries included: ingest must still answer well
/// within API Gateway's 30 s, and 5 MiB take well under a second in-region.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(10);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(4);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
const MAX_ATTEMPTS: u32 = 3;

#[derive(Debug, Clone)]
pub struct S3PayloadStore {
    client: Client,
    bucket: String,
}

impl S3PayloadStore {
    /// A store in `bucket`. With a custom endpoint (an emulator) requests
    /// use path-style addressing: `<bucket>.127.0.0.1` resolves nowhere.
    pub fn new(aws: &SdkConfig, bucket: impl Into<String>) -> Self {
        let config = aws_sdk_s3::config::Builder::from(aws)
            .force_path_style(aws.endpoint_url().is_some())
            .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build(),
            )
            .build();
        Self::from_client(Client::from_conf(config), bucket)
    }

    /// The store on a client configured elsewhere (e.g. pointed at one
    /// endpoint, which a shared `SdkConfig` cannot do: `AWS_ENDPOINT_URL`
    /// wins over its endpoint).
    pub fn from_client(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

impl PayloadStore for S3PayloadStore {
    fn bucket(&self) -> &str {
        &self.bucket
    }

    async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), PayloadStoreError> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type("application/octet-stream")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map(|_| ())
            .map_err(|error| {
                PayloadStoreError::Unavailable(DisplayErrorContext(&error).to_string())
            })
    }

    async fn get(&self, key: &str, max_size: u64) -> Result<Vec<u8>, PayloadStoreError> {
        let output = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
            .map_err(|error| match error.as_service_error() {
                Some(GetObjectError::NoSuchKey(_)) => PayloadStoreError::NotFound(key.to_owned()),
                _ => PayloadStoreError::Unavailable(DisplayErrorContext(&error).to_string()),
            })?;
        let too_large = || PayloadStoreError::TooLarge {
            key: key.to_owned(),
            limit: max_size,
        };
        // Refused before a byte of the body is read.
        if output
            .content_length()
            .is_some_and(|length| u64::try_from(length).unwrap_or(u64::MAX) > max_size)
        {
            return Err(too_large());
        }
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|error| PayloadStoreError::Unavailable(error.to_string()))?
            .to_vec();
        if bytes.len() as u64 > max_size {
            return Err(too_large());
        }
        Ok(bytes)
    }
}
