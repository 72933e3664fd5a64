//! What the destinations need in AWS, computed from the custom resource's
//! properties alone: names, subscription and queue attributes. Pure, so every
//! rule is tested without AWS.

use std::collections::BTreeMap;

use hookbridge_aws::dead_letters::{final_queue_name, tier2_queue_name};
use hookbridge_core::delivery_policy::{DeliveryPolicy, InvalidDeliveryPolicy, ThrottlePolicy};
use hookbridge_core::destinations::{Destination, DestinationName, Destinations};
use hookbridge_core::ports::{FailureRateAlarm, QueueAlarm};
use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::json;

/// SQS refuses longer queue names.
pub const MAX_QUEUE_NAME_LENGTH: usize = 80;
/// Both queues keep a message SQS's maximum, 14 days: above the longest
/// horizon (168 h), with a week left for a replay of a dead letter.
pub const DEAD_LETTER_RETENTION_SECONDS: u32 = 1_209_600;
/// Receives after which the tier-2 queue itself moves a message to the
/// final queue: a backstop far above the attempts of the longest horizon
/// (about 33 for 168 h), for a message whose every receive fails.
pub const TIER2_MAX_RECEIVE_COUNT: u32 = 100;
/// How long a received tier-2 message stays hidden unless redeliver changes
/// it: above the function's 30 s timeout (Lambda requires it), and the
/// wait before a message whose invocation crashed is received again.
pub const TIER2_VISIBILITY_TIMEOUT_SECONDS: u32 = 180;
/// The query parameter that tells deliver which destination a message is for.
pub const DESTINATION_QUERY: &str = "destination";
/// The filter policy of a destination that takes every event: the envelope
/// always has a `source`, so every message matches, and every managed
/// subscription keeps the MessageBody scope (no policy removal ever needed).
const EVERY_EVENT: &str = r#"{"source":[{"exists":true}]}"#;

/// The custom resource's properties, as the template writes them.
/// CloudFormation hands every value over as a string.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct Properties {
    #[serde(rename = "ServiceToken")]
    _service_token: IgnoredAny,
    /// The delivery topic.
    pub topic_arn: String,
    /// The deliver function URL; each destination's endpoint adds its query.
    pub endpoint: String,
    /// The `Destinations` parameter: empty means `TargetUrl` as `default`.
    #[serde(default)]
    pub destinations: String,
    #[serde(default)]
    pub target_url: String,
    /// The topic every dead-letter alarm notifies.
    pub alarm_topic_arn: String,
    /// Starts every queue and alarm name: the stack's name and `_`, which no
    /// stack name contains, so no other stack's names share it.
    pub name_prefix: String,
    /// The retry phases of every subscription (JSON), without throttle.
    pub delivery_policy: String,
    /// The redeliver function, mapped to every tier-2 queue. Empty in the
    /// properties of a stack from before tier 2 (a rollback to them): then
    /// SNS redrives to the final queue, as it did.
    #[serde(default)]
    pub redeliver_function_arn: String,
    /// What each destination's failure-rate alarm fires on. Optional only
    /// so that the properties of a deploy made before it still parse.
    #[serde(default)]
    pub delivery_failure_alarm: Option<FailureAlarmProperties>,
}

/// The template's alarm parameters, as strings (CloudFormation's way).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct FailureAlarmProperties {
    /// The stack's name: the `Stack` dimension deliver's metrics carry.
    pub stack: String,
    pub rate_percent: String,
    pub minimum_attempts: String,
    pub period_seconds: String,
    pub evaluation_periods: String,
}

/// The failure-rate alarm settings shared by every destination, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailureAlarm {
    pub stack: String,
    pub rate_percent: u32,
    pub minimum_attempts: u32,
    pub period_seconds: u32,
    pub evaluation_periods: u32,
}

impl FailureAlarmProperties {
    fn checked(&self) -> Result<FailureAlarm, PropertiesError> {
        let number = |name: &str, value: &str, range: std::ops::RangeInclusive<u32>| {
            value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|number| range.contains(number))
                .ok_or_else(|| {
                    PropertiesError::FailureAlarm(format!(
                        "{name} `{value}` is not a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ))
                })
        };
        if self.stack.trim().is_empty() {
            return Err(PropertiesError::FailureAlarm("Stack is empty".to_owned()));
        }
        Ok(FailureAlarm {
            stack: self.stack.clone(),
            rate_percent: number("RatePercent", &self.rate_percent, 1..=100)?,
            minimum_attempts: number("MinimumAttempts", &self.minimum_attempts, 1..=u32::MAX)?,
            // CloudWatch's periods of a minute or more are multiples of 60.
            period_seconds: number("PeriodSeconds", &self.period_seconds, 60..=86_400).and_then(
                |seconds| {
                    (seconds % 60 == 0).then_some(seconds).ok_or_else(|| {
                        PropertiesError::FailureAlarm(format!(
                            "PeriodSeconds `{seconds}` is not a multiple of 60"
                        ))
                    })
                },
            )?,
            evaluation_periods: number("EvaluationPeriods", &self.evaluation_periods, 1..=100)?,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PropertiesError {
    #[error("the custom resource's properties are invalid: {0}")]
    Malformed(String),
    #[error("{0}")]
    Destinations(String),
    #[error("neither Destinations nor TargetUrl is set: declare at least one destination")]
    NoDestination,
    #[error("DeliveryPolicy: {0}")]
    DeliveryPolicy(String),
    #[error("DeliveryFailureAlarm: {0}")]
    FailureAlarm(String),
    #[error("Endpoint `{0}` must be an http(s) URL without a query")]
    Endpoint(String),
    #[error(
        "destination `{destination}`: its queue name `{queue}` is longer than SQS's {MAX_QUEUE_NAME_LENGTH} characters; shorten the destination or the stack name"
    )]
    QueueNameTooLong { destination: String, queue: String },
}

/// Everything the destinations need, checked.
#[derive(Debug, Clone)]
pub struct Desired {
    pub topic_arn: String,
    pub endpoint: String,
    pub alarm_topic_arn: String,
    pub name_prefix: String,
    pub delivery_policy: DeliveryPolicy,
    pub destinations: Destinations,
    pub failure_alarm: FailureAlarm,
    /// `None`: no tier 2 (see [`Properties::redeliver_function_arn`]).
    pub redeliver_function_arn: Option<String>,
}

impl Properties {
    pub fn parse(value: serde_json::Value) -> Result<Self, PropertiesError> {
        serde_json::from_value(value).map_err(|error| PropertiesError::Malformed(error.to_string()))
    }

    /// The declared destinations, `TargetUrl` standing for `default` when
    /// `Destinations` is empty (the rule deliver applies too).
    pub fn destinations(&self) -> Result<Destinations, PropertiesError> {
        let destinations = if !self.destinations.trim().is_empty() {
            Destinations::from_json(&self.destinations)
        } else if !self.target_url.trim().is_empty() {
            Destinations::single_default(self.target_url.trim())
        } else {
            return Err(PropertiesError::NoDestination);
        };
        let destinations =
            destinations.map_err(|error| PropertiesError::Destinations(error.to_string()))?;
        destinations
            .require_https()
            .map_err(|error| PropertiesError::Destinations(error.to_string()))?;
        Ok(destinations)
    }

    pub fn desired(&self) -> Result<Desired, PropertiesError> {
        let destinations = self.destinations()?;
        let failure_alarm = self
            .delivery_failure_alarm
            .as_ref()
            .ok_or_else(|| PropertiesError::FailureAlarm("missing".to_owned()))?
            .checked()?;
        let delivery_policy: DeliveryPolicy = serde_json::from_str(&self.delivery_policy)
            .map_err(|error| PropertiesError::DeliveryPolicy(error.to_string()))?;
        let scheme_ok = ["https://", "http://"]
            .iter()
            .any(|scheme| self.endpoint.starts_with(scheme));
        if !scheme_ok || self.endpoint.contains('?') {
            return Err(PropertiesError::Endpoint(self.endpoint.clone()));
        }
        for destination in destinations.iter() {
            // The longer of its two queue names.
            let queue = tier2_queue_name(&self.name_prefix, &destination.name);
            if queue.len() > MAX_QUEUE_NAME_LENGTH {
                return Err(PropertiesError::QueueNameTooLong {
                    destination: destination.name.to_string(),
                    queue,
                });
            }
        }
        Ok(Desired {
            topic_arn: self.topic_arn.clone(),
            endpoint: self.endpoint.clone(),
            alarm_topic_arn: self.alarm_topic_arn.clone(),
            name_prefix: self.name_prefix.clone(),
            delivery_policy,
            destinations,
            failure_alarm,
            redeliver_function_arn: Some(self.redeliver_function_arn.trim())
                .filter(|arn| !arn.is_empty())
                .map(str::to_owned),
        })
    }
}

impl Desired {
    /// The endpoint of the destination's subscription.
    pub fn endpoint_of(&self, name: &DestinationName) -> String {
        format!("{}?{DESTINATION_QUERY}={name}", self.endpoint)
    }

    /// The final dead-letter queue: the one with the alarm, which replay reads.
    pub fn queue_name(&self, name: &DestinationName) -> String {
        queue_name(&self.name_prefix, name)
    }

    pub fn tier2_queue_name(&self, name: &DestinationName) -> String {
        tier2_queue_name(&self.name_prefix, name)
    }

    /// The queue's ARN: it lives in the topic's partition, region and account.
    pub fn queue_arn(&self, queue_name: &str) -> String {
        let mut parts = self.topic_arn.splitn(6, ':');
        let (_, partition, _, region, account) = (
            parts.next(),
            parts.next().unwrap_or_default(),
            parts.next(),
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        );
        format!("arn:{partition}:sqs:{region}:{account}:{queue_name}")
    }

    /// The queue SNS redrives to when it gives up: the tier-2 queue, or the
    /// final one when there is no tier 2.
    pub fn redrive_queue_name(&self, name: &DestinationName) -> String {
        match self.redeliver_function_arn {
            Some(_) => self.tier2_queue_name(name),
            None => self.queue_name(name),
        }
    }

    /// The final queue's attributes: 14 days of retention, SSE, and a policy
    /// that lets only the delivery topic send to it (SNS's redrive when
    /// there is no tier 2; deliver and redeliver send with their roles).
    pub fn queue_attributes(&self, name: &DestinationName) -> BTreeMap<String, String> {
        self.topic_queue_attributes(&self.queue_name(name))
    }

    /// The tier-2 queue's attributes: the final queue's, its visibility
    /// timeout, and a redrive to the final queue as a backstop.
    pub fn tier2_queue_attributes(&self, name: &DestinationName) -> BTreeMap<String, String> {
        let mut attributes = self.topic_queue_attributes(&self.tier2_queue_name(name));
        attributes.insert(
            "VisibilityTimeout".to_owned(),
            TIER2_VISIBILITY_TIMEOUT_SECONDS.to_string(),
        );
        attributes.insert(
            "RedrivePolicy".to_owned(),
            json!({
                "deadLetterTargetArn": self.queue_arn(&self.queue_name(name)),
                "maxReceiveCount": TIER2_MAX_RECEIVE_COUNT,
            })
            .to_string(),
        );
        attributes
    }

    fn topic_queue_attributes(&self, queue_name: &str) -> BTreeMap<String, String> {
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Sid": "RedriveFromTheDeliveryTopic",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": self.queue_arn(queue_name),
                "Condition": {"ArnEquals": {"aws:SourceArn": self.topic_arn}},
            }],
        });
        BTreeMap::from([
            (
                "MessageRetentionPeriod".to_owned(),
                DEAD_LETTER_RETENTION_SECONDS.to_string(),
            ),
            ("Policy".to_owned(), policy.to_string()),
            ("SqsManagedSseEnabled".to_owned(), "true".to_owned()),
        ])
    }

    pub fn alarm(&self, name: &DestinationName) -> QueueAlarm {
        QueueAlarm {
            name: alarm_name(&self.name_prefix, name),
            queue_name: self.queue_name(name),
            description: format!(
                "Deliveries to destination {name} that are over (horizon reached, 410 Gone) are waiting in its final dead-letter queue."
            ),
            notify_topic_arn: self.alarm_topic_arn.clone(),
        }
    }

    pub fn failure_rate_alarm(&self, name: &DestinationName) -> FailureRateAlarm {
        let alarm = &self.failure_alarm;
        FailureRateAlarm {
            name: failure_alarm_name(&self.name_prefix, name),
            description: format!(
                "More than {}% of the delivery attempts to destination {name} failed for {} periods of {} s (SNS keeps retrying): see the dashboard's failures by class for {name}.",
                alarm.rate_percent, alarm.evaluation_periods, alarm.period_seconds
            ),
            stack: alarm.stack.clone(),
            destination: name.to_string(),
            threshold_percent: alarm.rate_percent,
            minimum_attempts: alarm.minimum_attempts,
            period_seconds: alarm.period_seconds,
            evaluation_periods: alarm.evaluation_periods,
            notify_topic_arn: self.alarm_topic_arn.clone(),
        }
    }

    /// The subscription's attributes, in the order they are set on an
    /// existing subscription (the scope before the policy it applies to).
    pub fn subscription_attributes(
        &self,
        destination: &Destination,
    ) -> Result<Vec<(String, String)>, InvalidDeliveryPolicy> {
        let throttle = destination
            .rate_per_second
            .map(|max_receives_per_second| ThrottlePolicy {
                max_receives_per_second,
            });
        let delivery_policy =
            DeliveryPolicy::new(*self.delivery_policy.healthy_retry_policy(), throttle)?;
        let filter_policy = destination
            .filter
            .sns_filter_policy()
            .map_or_else(|| EVERY_EVENT.to_owned(), |policy| policy.to_string());
        Ok(vec![
            ("FilterPolicyScope".to_owned(), "MessageBody".to_owned()),
            ("FilterPolicy".to_owned(), filter_policy),
            ("DeliveryPolicy".to_owned(), delivery_policy.to_json()),
            (
                "RedrivePolicy".to_owned(),
                json!({ "deadLetterTargetArn": self.queue_arn(&self.redrive_queue_name(&destination.name)) })
                    .to_string(),
            ),
        ])
    }
}

pub fn queue_name(prefix: &str, name: &DestinationName) -> String {
    final_queue_name(prefix, name)
}

pub fn alarm_name(prefix: &str, name: &DestinationName) -> String {
    format!("{prefix}{name}-dead-letters")
}

pub fn failure_alarm_name(prefix: &str, name: &DestinationName) -> String {
    format!("{prefix}{name}-failure-rate")
}

/// The destination a managed subscription's endpoint is for; `None` for a
/// subscription the reconciler does not own (no `destination` query).
pub fn destination_of(endpoint: &str) -> Option<&str> {
    let (_, query) = endpoint.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(DESTINATION_QUERY)?.strip_prefix('='))
}
