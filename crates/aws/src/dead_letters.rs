//! [`FinalDeadLetters`](hookbridge_core::ports::FinalDeadLetters) on SQS: each destination's final dead-letter queue,
//! `<prefix><destination>-dlq`, made by the reconcile function (which names
//! its queues with [`final_queue_name`] and [`tier2_queue_name`] too).

use hookbridge_core::destinations::DestinationName;

use crate::settings::SettingsReader;

#[cfg(feature = "sdk")]
mod sqs;
#[cfg(feature = "sdk")]
pub use sqs::SqsFinalDeadLetters;

/// Starts every destination queue's name: the stack's name and `_`.
pub const QUEUE_PREFIX_VARIABLE: &str = "HOOKBRIDGE_QUEUE_PREFIX";

/// Reads [`QUEUE_PREFIX_VARIABLE`] (required) through a function's reader.
pub fn read_queue_prefix<L: Fn(&str) -> Option<String>>(
    reader: &mut SettingsReader<L>,
) -> Option<String> {
    reader.required(QUEUE_PREFIX_VARIABLE)
}

/// The destination's final dead-letter queue: where a delivery waits for a
/// replay once it is over (410, or the horizon reached). It has the alarm.
pub fn final_queue_name(prefix: &str, destination: &DestinationName) -> String {
    format!("{prefix}{destination}-dlq")
}

const TIER2_QUEUE_SUFFIX: &str = "-retry";

/// The destination's tier-2 queue: SNS's redrive target, where a delivery
/// SNS gave up on waits for its next attempt.
pub fn tier2_queue_name(prefix: &str, destination: &DestinationName) -> String {
    format!("{prefix}{destination}{TIER2_QUEUE_SUFFIX}")
}

/// The destination whose tier-2 queue the ARN (or name) is; `None` for any
/// other queue.
pub fn destination_of_tier2_queue<'a>(prefix: &str, queue_arn: &'a str) -> Option<&'a str> {
    let name = queue_arn.rsplit(':').next()?;
    name.strip_prefix(prefix)?
        .strip_suffix(TIER2_QUEUE_SUFFIX)
        .filter(|destination| !destination.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tier2_queue_names_its_destination_and_no_other_queue_does() {
        let billing = DestinationName::try_from("billing".to_owned()).unwrap();
        let arn = format!(
            "arn:aws:sqs:eu-west-1:123456789012:{}",
            tier2_queue_name("shop_", &billing)
        );
        assert_eq!(destination_of_tier2_queue("shop_", &arn), Some("billing"));
        for other in [
            "arn:aws:sqs:eu-west-1:123456789012:shop_billing-dlq",
            "arn:aws:sqs:eu-west-1:123456789012:other_billing-retry",
            "arn:aws:sqs:eu-west-1:123456789012:shop_-retry",
        ] {
            assert_eq!(destination_of_tier2_queue("shop_", other), None, "{other}");
        }
    }
}
