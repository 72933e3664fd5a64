//! The redeliver Lambda's wiring: its settings and the adapters behind
//! [`Redeliver`]. The Lambda's `main` builds it here.

use std::time::Duration;

use aws_config::SdkConfig;
use deliver::{OUTBOUND_PREFIX_VARIABLE, Outbound, TABLE_NAME_VARIABLE, read_destinations};
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::dead_letters::{self, SqsFinalDeadLetters};
use hookbridge_aws::delivery_status::DynamoDbDeliveryStatus;
use hookbridge_aws::iam::IamActions;
use hookbridge_aws::retry_queue::SqsRetryQueue;
use hookbridge_aws::s3::{self, S3PayloadStore};
use hookbridge_aws::settings::{self, SettingsError, SettingsReader};
use hookbridge_aws::ssm::{self, SsmSecretStore};
use hookbridge_aws::webhook_target::HttpWebhookTarget;
use hookbridge_core::destinations::Destinations;

use crate::Redeliver;

/// What the function needs from its environment: deliver's, but no topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// Every destination, each https: the same declaration deliver reads.
    pub destinations: Destinations,
    /// SSM path prefix: destination `D` signs with `<prefix>D`.
    pub outbound_prefix: String,
    pub secrets_ttl: Duration,
    /// The events table, where the delivery status is recorded.
    pub table_name: String,
    pub retention: Duration,
    pub payload_bucket: String,
    /// Starts each destination's queue names (`<prefix><name>-retry`,
    /// `<prefix><name>-dlq`).
    pub queue_prefix: String,
}

impl Settings {
    /// Reads the settings through `lookup` (the process environment in
    /// production), naming every missing or invalid variable at once.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut reader = SettingsReader::new(lookup);
        let destinations = read_destinations(&mut reader);
        let outbound_prefix = reader.required(OUTBOUND_PREFIX_VARIABLE);
        let secrets_ttl = ssm::read_ttl(&mut reader);
        let table_name = reader.required(TABLE_NAME_VARIABLE);
        let retention = settings::read_retention(&mut reader);
        let payload_bucket = s3::read_bucket(&mut reader);
        let queue_prefix = dead_letters::read_queue_prefix(&mut reader);
        reader.finish(|| {
            Some(Self {
                destinations: destinations?,
                outbound_prefix: outbound_prefix?,
                secrets_ttl: secrets_ttl?,
                table_name: table_name?,
                retention: retention?,
                payload_bucket: payload_bucket?,
                queue_prefix: queue_prefix?,
            })
        })
    }
}

/// Redeliver on SSM, DynamoDB, S3, SQS and HTTPS, as the Lambda runs it.
pub type AwsRedeliver = Redeliver<
    HttpWebhookTarget,
    SsmSecretStore<SystemClock>,
    SystemClock,
    S3PayloadStore,
    DynamoDbDeliveryStatus<SystemClock>,
    SqsFinalDeadLetters,
    SqsRetryQueue,
>;

impl AwsRedeliver {
    /// The one wiring of the adapters; `http` serves the targets. Missing or
    /// invalid settings are logged once (variable names only), then every
    /// message is kept in its queue.
    pub fn on_aws(
        settings: Result<Settings, SettingsError>,
        aws: &SdkConfig,
        http: reqwest::Client,
    ) -> Self {
        if let Err(problems) = &settings {
            tracing::error!(%problems, "every message stays in its queue until configured");
        }
        let configured = settings.as_ref().ok();
        let prefix = configured.map_or("", |s| s.outbound_prefix.as_str());
        let ttl = configured.map_or(ssm::DEFAULT_TTL, |s| s.secrets_ttl);
        let table = configured.map_or("", |s| s.table_name.as_str());
        let retention = configured.map_or(settings::DEFAULT_RETENTION, |s| s.retention);
        let queue_prefix = configured.map_or("", |s| s.queue_prefix.as_str());
        let bucket = configured.map_or_else(String::new, |s| s.payload_bucket.clone());
        let sqs = aws_sdk_sqs::Client::new(aws);
        let secrets =
            SsmSecretStore::new(aws_sdk_ssm::Client::new(aws), prefix, SystemClock).with_ttl(ttl);
        let statuses = DynamoDbDeliveryStatus::new(
            aws_sdk_dynamodb::Client::new(aws),
            table,
            retention,
            SystemClock,
        );
        let dead_letters = SqsFinalDeadLetters::new(sqs.clone(), queue_prefix);
        let retry_queue = SqsRetryQueue::new(sqs, queue_prefix);
        Redeliver::new(
            settings,
            Outbound::new(
                HttpWebhookTarget::new(http),
                secrets,
                SystemClock,
                S3PayloadStore::new(aws, bucket),
            ),
            statuses,
            dead_letters,
            retry_queue,
        )
    }

    /// The IAM actions the function's role needs: its adapters' calls (of
    /// the payload store, only `get`), and what the event source mapping
    /// calls on the tier-2 queues with the function's role.
    pub fn iam_actions() -> Vec<&'static str> {
        [
            HttpWebhookTarget::iam_actions(),
            SsmSecretStore::<SystemClock>::iam_actions(),
            DynamoDbDeliveryStatus::<SystemClock>::iam_actions(),
            vec![s3::GET_ACTION],
            SqsFinalDeadLetters::iam_actions(),
            SqsRetryQueue::iam_actions(),
            MAPPING_ACTIONS.to_vec(),
        ]
        .concat()
    }
}

/// What Lambda's SQS poller calls with the function's role.
const MAPPING_ACTIONS: [&str; 3] = [
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
];

#[cfg(test)]
mod tests {
    use deliver::{DESTINATIONS_VARIABLE, TARGET_URL_VARIABLE};

    use super::*;

    #[test]
    fn every_missing_variable_is_named_and_no_topic_is_needed() {
        let lookup = |name: &str| (name == TARGET_URL_VARIABLE).then(|| "https://a.example".into());
        assert_eq!(
            Settings::from_lookup(lookup).unwrap_err().variables(),
            [
                OUTBOUND_PREFIX_VARIABLE,
                TABLE_NAME_VARIABLE,
                s3::PAYLOAD_BUCKET_VARIABLE,
                dead_letters::QUEUE_PREFIX_VARIABLE
            ]
        );
        let both = |name: &str| match name {
            TARGET_URL_VARIABLE => Some("https://a.example".to_owned()),
            DESTINATIONS_VARIABLE => Some(r#"{"b": {"url": "https://b.example"}}"#.to_owned()),
            _ => None,
        };
        assert!(
            Settings::from_lookup(both)
                .unwrap_err()
                .variables()
                .contains(&TARGET_URL_VARIABLE)
        );
    }

    #[test]
    fn the_role_needs_deliveries_statuses_both_queues_and_the_mapping_s_reads() {
        assert_eq!(
            AwsRedeliver::iam_actions(),
            [
                "ssm:GetParameter",
                "kms:Decrypt",
                "dynamodb:GetItem",
                "dynamodb:UpdateItem",
                "dynamodb:PutItem",
                "s3:GetObject",
                "sqs:GetQueueUrl",
                "sqs:SendMessage",
                "sqs:GetQueueUrl",
                "sqs:ChangeMessageVisibility",
                "sqs:ReceiveMessage",
                "sqs:DeleteMessage",
                "sqs:GetQueueAttributes"
            ]
        );
    }
}
