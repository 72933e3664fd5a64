//! The deliver Lambda's wiring: its settings and the adapters behind
//! [`Deliver`]. The Lambda's `main` builds it here.

use std::time::Duration;

use aws_config::SdkConfig;
use hookbridge_aws::certificates::HttpsCertificateSource;
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::iam::IamActions;
use hookbridge_aws::s3::{self, S3PayloadStore};
use hookbridge_aws::settings::{SettingsError, SettingsReader};
use hookbridge_aws::sns::HttpsSubscriptionConfirmer;
use hookbridge_aws::ssm::{self, SsmSecretStore};
use hookbridge_aws::webhook_target::HttpWebhookTarget;

use crate::{Deliver, SnsSignatures};

pub const TOPIC_ARN_VARIABLE: &str = "TOPIC_ARN";
pub const TARGET_URL_VARIABLE: &str = "TARGET_URL";
pub const OUTBOUND_SECRET_VARIABLE: &str = "OUTBOUND_SECRET_PARAMETER";

/// What the function needs from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The only topic whose messages are accepted.
    pub topic_arn: String,
    pub target_url: String,
    /// Full SSM name of the outbound signing secret.
    pub outbound_secret_parameter: String,
    /// How long the outbound secret is cached.
    pub secrets_ttl: Duration,
    /// Where payloads too large to travel inline are stored.
    pub payload_bucket: String,
}

impl Settings {
    /// Reads the settings through `lookup` (the process environment in
    /// production), naming every missing or invalid variable at once.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut reader = SettingsReader::new(lookup);
        let topic_arn = reader.required(TOPIC_ARN_VARIABLE);
        let target_url = reader.required(TARGET_URL_VARIABLE);
        let outbound_secret_parameter = reader.required(OUTBOUND_SECRET_VARIABLE);
        let secrets_ttl = ssm::read_ttl(&mut reader);
        let payload_bucket = s3::read_bucket(&mut reader);
        reader.finish(|| {
            Some(Self {
                topic_arn: topic_arn?,
                target_url: target_url?,
                outbound_secret_parameter: outbound_secret_parameter?,
                secrets_ttl: secrets_ttl?,
                payload_bucket: payload_bucket?,
            })
        })
    }
}

/// Deliver on SSM and HTTPS, as the Lambda runs it.
pub type AwsDeliver = Deliver<
    SnsSignatures<HttpsCertificateSource>,
    HttpsSubscriptionConfirmer,
    HttpWebhookTarget,
    SsmSecretStore<SystemClock>,
    SystemClock,
    S3PayloadStore,
>;

impl AwsDeliver {
    /// The one wiring of the adapters; `http` serves certificates,
    /// confirmations and the target. Missing or invalid settings are logged
    /// once (variable names only), then every request is answered 503.
    pub fn on_aws(
        settings: Result<Settings, SettingsError>,
        aws: &SdkConfig,
        http: reqwest::Client,
    ) -> Self {
        if let Err(problems) = &settings {
            tracing::error!(%problems, "every request is answered 503 until configured");
        }
        let ttl = settings
            .as_ref()
            .map_or(ssm::DEFAULT_TTL, |settings| settings.secrets_ttl);
        // OUTBOUND_SECRET_PARAMETER is the parameter's full name: no prefix.
        let secrets =
            SsmSecretStore::new(aws_sdk_ssm::Client::new(aws), "", SystemClock).with_ttl(ttl);
        // Unconfigured, no request gets as far as a payload.
        let bucket = settings.as_ref().map_or_else(
            |_| String::new(),
            |settings| settings.payload_bucket.clone(),
        );
        Deliver::new(
            settings,
            SnsSignatures(HttpsCertificateSource::new(http.clone())),
            HttpsSubscriptionConfirmer::new(http.clone()),
            HttpWebhookTarget::new(http),
            secrets,
            SystemClock,
            S3PayloadStore::new(aws, bucket),
        )
    }
}

impl<S: IamActions> IamActions for SnsSignatures<S> {
    fn iam_actions() -> Vec<&'static str> {
        S::iam_actions()
    }
}

impl<A, C, T, S, K> Deliver<A, C, T, S, K, S3PayloadStore>
where
    A: IamActions,
    C: IamActions,
    T: IamActions,
    S: IamActions,
{
    /// The IAM actions the function's role needs: its adapters' calls (of
    /// the payload store, only `get`).
    pub fn iam_actions() -> Vec<&'static str> {
        [
            A::iam_actions(),
            C::iam_actions(),
            T::iam_actions(),
            S::iam_actions(),
            vec![s3::GET_ACTION],
        ]
        .concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hookbridge_aws::ssm::TTL_VARIABLE;

    #[test]
    fn a_secrets_ttl_that_is_not_whole_seconds_is_named_with_the_missing_variables() {
        let lookup = |name: &str| match name {
            TOPIC_ARN_VARIABLE => Some("arn:aws:sns:eu-west-1:1:topic".to_owned()),
            TTL_VARIABLE => Some("abc".to_owned()),
            _ => None,
        };
        assert_eq!(
            Settings::from_lookup(lookup).unwrap_err().variables(),
            [
                TARGET_URL_VARIABLE,
                OUTBOUND_SECRET_VARIABLE,
                TTL_VARIABLE,
                s3::PAYLOAD_BUCKET_VARIABLE
            ]
        );
    }

    #[test]
    fn the_secrets_ttl_defaults_to_the_store_default() {
        let lookup = |name: &str| (name != TTL_VARIABLE).then(|| format!("value of {name}"));
        assert_eq!(
            Settings::from_lookup(lookup).unwrap().secrets_ttl,
            ssm::DEFAULT_TTL
        );
    }

    #[test]
    fn the_role_needs_the_outbound_secret_and_payload_reads_only() {
        assert_eq!(
            AwsDeliver::iam_actions(),
            ["ssm:GetParameter", "kms:Decrypt", "s3:GetObject"]
        );
    }
}
