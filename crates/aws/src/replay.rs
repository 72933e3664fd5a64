//! Replaying dead-lettered deliveries: once the target is fixed, an operator
//! re-publishes what SNS gave up on from the subscription's dead-letter queue
//! to the topic, and the subscription delivers it afresh.
//!
//! A message leaves the queue only after the topic has accepted its copy, so
//! a failure at any point loses nothing; at worst a message is published
//! twice, which the target deduplicates by `webhook-id`.

use serde_json::Value;

#[cfg(feature = "sdk")]
mod replayer;
#[cfg(feature = "sdk")]
pub use replayer::{DeadLetterReplayer, ReplayError, ReplayReport};

/// The message to publish again, taken from a dead-lettered SQS body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Republication {
    pub message: String,
    pub subject: Option<String>,
}

/// SNS dead-letters either the JSON notification it would have posted or,
/// with raw message delivery, the bare message; both are understood.
pub fn republication(body: &str) -> Republication {
    if let Ok(Value::Object(notification)) = serde_json::from_str::<Value>(body)
        && notification.get("Type").and_then(Value::as_str) == Some("Notification")
        && let Some(message) = notification.get("Message").and_then(Value::as_str)
    {
        return Republication {
            message: message.to_owned(),
            subject: notification
                .get("Subject")
                .and_then(Value::as_str)
                .map(str::to_owned),
        };
    }
    Republication {
        message: body.to_owned(),
        subject: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_sns_notification_body_yields_its_message_and_subject() {
        let body = r#"{"Type":"Notification","MessageId":"m","Message":"{\"id\":\"evt_1\"}","Subject":"s"}"#;
        assert_eq!(
            republication(body),
            Republication {
                message: r#"{"id":"evt_1"}"#.to_owned(),
                subject: Some("s".to_owned()),
            }
        );
    }

    #[test]
    fn a_raw_body_is_published_as_is() {
        for body in [
            r#"{"id":"evt_1","type":"x"}"#,
            "plain text",
            r#"{"Type":"Other","Message":"m"}"#,
        ] {
            assert_eq!(
                republication(body),
                Republication {
                    message: body.to_owned(),
                    subject: None,
                }
            );
        }
    }
}
