//! The deliver Lambda's wiring: its settings and the adapters behind
//! [`Deliver`]. The Lambda's `main` builds it here.

use std::time::Duration;

use aws_config::SdkConfig;
use hookbridge_aws::certificates::HttpsCertificateSource;
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::dead_letters::{self, SqsFinalDeadLetters};
use hookbridge_aws::delivery_status::DynamoDbDeliveryStatus;
use hookbridge_aws::iam::IamActions;
use hookbridge_aws::s3::{self, S3PayloadStore};
use hookbridge_aws::settings::{self, SettingsError, SettingsReader};
use hookbridge_aws::sns::HttpsSubscriptionConfirmer;
use hookbridge_aws::ssm::{self, SsmSecretStore};
use hookbridge_aws::webhook_target::HttpWebhookTarget;
use hookbridge_core::destinations::Destinations;

use crate::{Deliver, Outbound, SnsSignatures};

pub const TOPIC_ARN_VARIABLE: &str = "TOPIC_ARN";
pub const DESTINATIONS_VARIABLE: &str = "HOOKBRIDGE_DESTINATIONS";
pub const TARGET_URL_VARIABLE: &str = "TARGET_URL";
pub const OUTBOUND_PREFIX_VARIABLE: &str = "HOOKBRIDGE_OUTBOUND_PREFIX";
pub const TABLE_NAME_VARIABLE: &str = "TABLE_NAME";

/// What the function needs from its environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The only topic whose messages are accepted.
    pub topic_arn: String,
    /// Every destination, each https.
    pub destinations: Destinations,
    /// SSM path prefix: destination `D` signs with `<prefix>D`.
    pub outbound_prefix: String,
    /// How long an outbound secret is cached.
    pub secrets_ttl: Duration,
    /// The events table, where the delivery status is recorded.
    pub table_name: String,
    /// How long a delivery status item is kept after its latest attempt.
    pub retention: Duration,
    /// Where payloads too large to travel inline are stored.
    pub payload_bucket: String,
    /// Starts each destination's queue names (its final dead-letter queue).
    pub queue_prefix: String,
}

impl Settings {
    /// Reads the settings through `lookup` (the process environment in
    /// production), naming every missing or invalid variable at once; the
    /// destinations as [`read_destinations`] reads them.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut reader = SettingsReader::new(lookup);
        let topic_arn = reader.required(TOPIC_ARN_VARIABLE);
        let destinations = read_destinations(&mut reader);
        let outbound_prefix = reader.required(OUTBOUND_PREFIX_VARIABLE);
        let secrets_ttl = ssm::read_ttl(&mut reader);
        let table_name = reader.required(TABLE_NAME_VARIABLE);
        let retention = settings::read_retention(&mut reader);
        let payload_bucket = s3::read_bucket(&mut reader);
        let queue_prefix = dead_letters::read_queue_prefix(&mut reader);
        reader.finish(|| {
            Some(Self {
                topic_arn: topic_arn?,
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

/// Reads the destinations: `HOOKBRIDGE_DESTINATIONS`, or, when that is
/// empty, `TARGET_URL` as the one destination `default`; setting both is
/// refused rather than guessing which was meant. Every url must be https.
/// Deliver and redeliver read them alike.
pub fn read_destinations<L: Fn(&str) -> Option<String>>(
    reader: &mut SettingsReader<L>,
) -> Option<Destinations> {
    let declared = reader.optional_parsed(DESTINATIONS_VARIABLE, None, |json| {
        if json.is_empty() {
            return Ok(None);
        }
        let destinations = Destinations::from_json(json)?;
        destinations.require_https()?;
        Ok::<_, hookbridge_core::destinations::DestinationsError>(Some(destinations))
    });
    let target_url = reader.optional_parsed(TARGET_URL_VARIABLE, None, |url| {
        if url.is_empty() {
            return Ok(None);
        }
        let destinations = Destinations::single_default(url)?;
        destinations.require_https()?;
        Ok::<_, hookbridge_core::destinations::DestinationsError>(Some(destinations))
    });
    match (declared, target_url) {
        (Some(Some(_)), Some(Some(_))) => {
            reader.invalid(
                TARGET_URL_VARIABLE,
                format!("set either {DESTINATIONS_VARIABLE} or {TARGET_URL_VARIABLE}, not both"),
            );
            None
        }
        (Some(Some(destinations)), Some(None)) | (Some(None), Some(Some(destinations))) => {
            Some(destinations)
        }
        (Some(None), Some(None)) => {
            reader.invalid(
                DESTINATIONS_VARIABLE,
                format!("no destination: set it, or {TARGET_URL_VARIABLE} for one"),
            );
            None
        }
        // A problem already recorded.
        _ => None,
    }
}

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
        let (prefix, ttl, table, retention) = settings.as_ref().map_or(
            ("", ssm::DEFAULT_TTL, "", settings::DEFAULT_RETENTION),
            |settings| {
                (
                    settings.outbound_prefix.as_str(),
                    settings.secrets_ttl,
                    settings.table_name.as_str(),
                    settings.retention,
                )
            },
        );
        let secrets =
            SsmSecretStore::new(aws_sdk_ssm::Client::new(aws), prefix, SystemClock).with_ttl(ttl);
        let statuses = DynamoDbDeliveryStatus::new(
            aws_sdk_dynamodb::Client::new(aws),
            table,
            retention,
            SystemClock,
        );
        let queue_prefix = settings
            .as_ref()
            .map_or("", |settings| settings.queue_prefix.as_str());
        let dead_letters = SqsFinalDeadLetters::new(aws_sdk_sqs::Client::new(aws), queue_prefix);
        // Unconfigured, no request gets as far as a payload.
        let bucket = settings.as_ref().map_or_else(
            |_| String::new(),
            |settings| settings.payload_bucket.clone(),
        );
        Deliver::new(
            settings,
            SnsSignatures(HttpsCertificateSource::new(http.clone())),
            HttpsSubscriptionConfirmer::new(http.clone()),
            Outbound::new(
                HttpWebhookTarget::new(http),
                secrets,
                SystemClock,
                S3PayloadStore::new(aws, bucket),
            ),
            statuses,
            dead_letters,
        )
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
                DESTINATIONS_VARIABLE,
                OUTBOUND_PREFIX_VARIABLE,
                TTL_VARIABLE,
                TABLE_NAME_VARIABLE,
                s3::PAYLOAD_BUCKET_VARIABLE,
                dead_letters::QUEUE_PREFIX_VARIABLE
            ]
        );
    }

    #[test]
    fn the_secrets_ttl_and_the_retention_default() {
        let lookup = |name: &str| match name {
            TOPIC_ARN_VARIABLE => Some("arn:aws:sns:eu-west-1:1:topic".to_owned()),
            TARGET_URL_VARIABLE => Some("https://target.example/hooks".to_owned()),
            OUTBOUND_PREFIX_VARIABLE => Some("/hookbridge/outbound/".to_owned()),
            TABLE_NAME_VARIABLE => Some("events".to_owned()),
            s3::PAYLOAD_BUCKET_VARIABLE => Some("payloads".to_owned()),
            dead_letters::QUEUE_PREFIX_VARIABLE => Some("stack_".to_owned()),
            _ => None,
        };
        let settings = Settings::from_lookup(lookup).unwrap();
        assert_eq!(settings.secrets_ttl, ssm::DEFAULT_TTL);
        assert_eq!(settings.retention, settings::DEFAULT_RETENTION);
    }

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
