//! The deliver Lambda's wiring: the adapters behind [`Deliver`], on the
//! AWS SDK. The Lambda's `main` builds it here.

use aws_config::SdkConfig;
use hookbridge_aws::certificates::HttpsCertificateSource;
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::dead_letters::SqsFinalDeadLetters;
use hookbridge_aws::delivery_status::DynamoDbDeliveryStatus;
use hookbridge_aws::iam::IamActions;
use hookbridge_aws::s3::{self, S3PayloadStore};
use hookbridge_aws::settings::{self, SettingsError};
use hookbridge_aws::sns::HttpsSubscriptionConfirmer;
use hookbridge_aws::ssm::{self, SsmSecretStore};
use hookbridge_aws::webhook_target::HttpWebhookTarget;

use crate::{Deliver, DeliverySettings, Outbound, Settings, SnsSignatures};

/// Deliver on SSM, DynamoDB, SQS and HTTPS, as the Lambda runs it.
pub type AwsDeliver = Deliver<
    SnsSignatures<HttpsCertificateSource>,
    HttpsSubscriptionConfirmer,
    HttpWebhookTarget,
    SsmSecretStore<SystemClock>,
    SystemClock,
    S3PayloadStore,
    DynamoDbDeliveryStatus<SystemClock>,
    SqsFinalDeadLetters,
>;

impl AwsDeliver {
    /// The one wiring of the adapters; `http` serves certificates,
    /// confirmations and the targets. Missing or invalid settings are logged
    /// once (variable names only), then every request is answered 503.
    pub fn on_aws(
        settings: Result<Settings, SettingsError>,
        aws: &SdkConfig,
        http: reqwest::Client,
    ) -> Self {
        if let Err(problems) = &settings {
            tracing::error!(%problems, "every request is answered 503 until configured");
        }
        let delivery = settings.as_ref().ok().map(|settings| &settings.delivery);
        let adapters = DeliveryAdapters::on_aws(delivery, aws, http.clone());
        Deliver::new(
            settings,
            SnsSignatures(HttpsCertificateSource::new(http.clone())),
            HttpsSubscriptionConfirmer::new(http),
            adapters.outbound,
            adapters.statuses,
            adapters.dead_letters,
        )
    }
}

/// The outbound side on AWS: HTTPS targets signed with SSM's secrets.
pub type AwsOutbound =
    Outbound<HttpWebhookTarget, SsmSecretStore<SystemClock>, SystemClock, S3PayloadStore>;

/// The adapters both tiers deliver through, wired once from their
/// settings. Unconfigured (`None`), they are inert: no request gets as far
/// as them.
pub struct DeliveryAdapters {
    pub outbound: AwsOutbound,
    pub statuses: DynamoDbDeliveryStatus<SystemClock>,
    pub dead_letters: SqsFinalDeadLetters,
    /// The client and queue prefix the dead letters use, for the tier-2
    /// queues.
    pub sqs: aws_sdk_sqs::Client,
    pub queue_prefix: String,
}

impl DeliveryAdapters {
    /// `http` serves the targets.
    pub fn on_aws(
        settings: Option<&DeliverySettings>,
        aws: &SdkConfig,
        http: reqwest::Client,
    ) -> Self {
        let prefix = settings.map_or("", |s| s.outbound_prefix.as_str());
        let ttl = settings.map_or(ssm::DEFAULT_TTL, |s| s.secrets_ttl);
        let table = settings.map_or("", |s| s.table_name.as_str());
        let retention = settings.map_or(settings::DEFAULT_RETENTION, |s| s.retention);
        let bucket = settings.map_or_else(String::new, |s| s.payload_bucket.clone());
        let queue_prefix = settings.map_or_else(String::new, |s| s.queue_prefix.clone());
        let sqs = aws_sdk_sqs::Client::new(aws);
        let secrets =
            SsmSecretStore::new(aws_sdk_ssm::Client::new(aws), prefix, SystemClock).with_ttl(ttl);
        Self {
            outbound: Outbound::new(
                HttpWebhookTarget::new(http),
                secrets,
                SystemClock,
                S3PayloadStore::new(aws, bucket),
            ),
            statuses: DynamoDbDeliveryStatus::new(
                aws_sdk_dynamodb::Client::new(aws),
                table,
                retention,
                SystemClock,
            ),
            dead_letters: SqsFinalDeadLetters::new(sqs.clone(), &queue_prefix),
            sqs,
            queue_prefix,
        }
    }
}

impl<S: IamActions> IamActions for SnsSignatures<S> {
    fn iam_actions() -> Vec<&'static str> {
        S::iam_actions()
    }
}

impl<A, C, T, S, K, R, D> Deliver<A, C, T, S, K, S3PayloadStore, R, D>
where
    A: IamActions,
    C: IamActions,
    T: IamActions,
    S: IamActions,
    R: IamActions,
    D: IamActions,
{
    /// The IAM actions the function's role needs: its adapters' calls (of
    /// the payload store, only `get`).
    pub fn iam_actions() -> Vec<&'static str> {
        [
            A::iam_actions(),
            C::iam_actions(),
            T::iam_actions(),
            S::iam_actions(),
            R::iam_actions(),
            vec![s3::GET_ACTION],
            D::iam_actions(),
        ]
        .concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_needs_the_outbound_secrets_the_status_items_payload_reads_and_dead_letters() {
        assert_eq!(
            AwsDeliver::iam_actions(),
            [
                "ssm:GetParameter",
                "kms:Decrypt",
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
                "dynamodb:PutItem",
                "s3:GetObject",
                "sqs:GetQueueUrl",
                "sqs:SendMessage"
            ]
        );
    }
}
