//! What deliver and redeliver read from their environment, once at cold
//! start: no AWS SDK involved.

use std::time::Duration;

use hookbridge_aws::settings::{self, SettingsError, SettingsReader};
use hookbridge_aws::{dead_letters, s3, ssm};
use hookbridge_core::destinations::Destinations;

pub const TOPIC_ARN_VARIABLE: &str = "TOPIC_ARN";
pub const DESTINATIONS_VARIABLE: &str = "HOOKBRIDGE_DESTINATIONS";
pub const TARGET_URL_VARIABLE: &str = "TARGET_URL";
pub const OUTBOUND_PREFIX_VARIABLE: &str = "HOOKBRIDGE_OUTBOUND_PREFIX";
pub const TABLE_NAME_VARIABLE: &str = "TABLE_NAME";

/// What deliver needs from its environment: the topic it accepts, and what
/// both tiers deliver with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The only topic whose messages are accepted.
    pub topic_arn: String,
    pub delivery: DeliverySettings,
}

impl Settings {
    /// Reads the settings through `lookup` (the process environment in
    /// production), naming every missing or invalid variable at once.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut reader = SettingsReader::new(lookup);
        let topic_arn = reader.required(TOPIC_ARN_VARIABLE);
        let delivery = DeliverySettings::read(&mut reader);
        reader.finish(|| {
            Some(Self {
                topic_arn: topic_arn?,
                delivery: delivery?,
            })
        })
    }
}

/// What deliver (SNS's attempts) and redeliver (tier 2's) both deliver
/// with: the destinations, their outbound secrets, the delivery status
/// table, the payload bucket and the destinations' queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverySettings {
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
    /// Starts each destination's queue names (`<prefix><name>-retry`,
    /// `<prefix><name>-dlq`).
    pub queue_prefix: String,
}

impl DeliverySettings {
    /// Reads the settings through `lookup`, as [`Settings::from_lookup`]
    /// does, for a function that needs no topic.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let mut reader = SettingsReader::new(lookup);
        let delivery = Self::read(&mut reader);
        reader.finish(|| delivery)
    }

    /// Reads every variable through `reader`, which keeps each problem; the
    /// destinations as [`read_destinations`] reads them.
    fn read<L: Fn(&str) -> Option<String>>(reader: &mut SettingsReader<L>) -> Option<Self> {
        let destinations = read_destinations(reader);
        let outbound_prefix = reader.required(OUTBOUND_PREFIX_VARIABLE);
        let secrets_ttl = ssm::read_ttl(reader);
        let table_name = reader.required(TABLE_NAME_VARIABLE);
        let retention = settings::read_retention(reader);
        let payload_bucket = s3::read_bucket(reader);
        let queue_prefix = dead_letters::read_queue_prefix(reader);
        Some(Self {
            destinations: destinations?,
            outbound_prefix: outbound_prefix?,
            secrets_ttl: secrets_ttl?,
            table_name: table_name?,
            retention: retention?,
            payload_bucket: payload_bucket?,
            queue_prefix: queue_prefix?,
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
        assert_eq!(settings.delivery.secrets_ttl, ssm::DEFAULT_TTL);
        assert_eq!(settings.delivery.retention, settings::DEFAULT_RETENTION);
    }
}
