//! hookbridge-aws: the core's ports implemented for AWS. With the `sdk`
//! feature (the default), the adapters on the AWS SDK; without it, only
//! those that need no SDK (clock, HTTP target and client, settings,
//! logging, metrics, queue names), which is all `hookbridge dev` runs
//! locally.

pub mod certificates;
pub mod clock;
pub mod cloudformation;
pub mod dead_letters;
#[cfg(feature = "sdk")]
pub mod delivery_status;
#[cfg(feature = "sdk")]
pub mod destination_resources;
#[cfg(feature = "sdk")]
pub mod dynamodb;
#[cfg(feature = "sdk")]
pub mod eventbridge;
pub mod http;
#[cfg(feature = "sdk")]
pub mod iam;
pub mod logging;
pub mod metrics;
#[cfg(feature = "sdk")]
mod queue_urls;
pub mod replay;
pub mod retry;
#[cfg(feature = "sdk")]
pub mod retry_queue;
pub mod s3;
#[cfg(feature = "sdk")]
pub mod sdk_config;
pub mod settings;
pub mod sns;
pub mod ssm;
pub mod webhook_target;

pub use clock::SystemClock;
#[cfg(feature = "sdk")]
pub use delivery_status::DynamoDbDeliveryStatus;
#[cfg(feature = "sdk")]
pub use dynamodb::DynamoDbEventStore;
#[cfg(feature = "sdk")]
pub use eventbridge::EventBridgePublisher;
pub use retry::RetryPolicy;
#[cfg(feature = "sdk")]
pub use s3::S3PayloadStore;
pub use settings::{SettingsError, SettingsReader};
pub use ssm::SecretsSettings;
#[cfg(feature = "sdk")]
pub use ssm::SsmSecretStore;
