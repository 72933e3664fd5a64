//! The redeliver Lambda's wiring: the adapters behind [`Redeliver`]. The
//! Lambda's `main` builds it here.

use aws_config::SdkConfig;
use deliver::DeliveryAdapters;
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::dead_letters::SqsFinalDeadLetters;
use hookbridge_aws::delivery_status::DynamoDbDeliveryStatus;
use hookbridge_aws::iam::IamActions;
use hookbridge_aws::retry_queue::SqsRetryQueue;
use hookbridge_aws::s3::{self, S3PayloadStore};
use hookbridge_aws::settings::SettingsError;
use hookbridge_aws::ssm::SsmSecretStore;
use hookbridge_aws::webhook_target::HttpWebhookTarget;

use crate::{Redeliver, Settings};

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
        let adapters = DeliveryAdapters::on_aws(settings.as_ref().ok(), aws, http);
        let retry_queue = SqsRetryQueue::new(adapters.sqs, adapters.queue_prefix);
        Redeliver::new(
            settings,
            adapters.outbound,
            adapters.statuses,
            adapters.dead_letters,
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
    use deliver::{
        DESTINATIONS_VARIABLE, OUTBOUND_PREFIX_VARIABLE, TABLE_NAME_VARIABLE, TARGET_URL_VARIABLE,
    };
    use hookbridge_aws::dead_letters;

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
