//! The one way every function and the CLI load the AWS SDK configuration.

use aws_config::{BehaviorVersion, SdkConfig};

/// Region, credentials and endpoint from the environment (and profile
/// files), with the SDK behaviour of the pinned release.
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}
