//! hookbridge-aws: the core's ports implemented with the AWS SDK.

pub mod certificates;
pub mod clock;
pub mod cloudformation;
pub mod dead_letters;
pub mod delivery_status;
pub mod destination_resources;
pub mod dynamodb;
pub mod eventbridge;
pub mod http;
pub mod iam;
pub mod logging;
pub mod metrics;
pub mod replay;
pub mod retry;
pub mod retry_queue;
pub mod s3;
pub mod sdk_config;
pub mod settings;
pub mod sns;
pub mod ssm;
pub mod webhook_target;

pub use clock::SystemClock;
pub use delivery_status::DynamoDbDeliveryStatus;
pub use dynamodb::DynamoDbEventStore;
pub use eventbridge::EventBridgePublisher;
pub use retry::RetryPolicy;
pub use s3::S3PayloadStore;
pub use settings::{SettingsError, SettingsReader};
pub use ssm::{SecretsSettings, SsmSecretStore};
