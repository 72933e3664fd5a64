//! Replaying dead-lettered deliveries against moto's SQS and SNS: what is
//! replayed reaches the topic, and nothing leaves the queue unless the topic
//! has accepted it.

use std::time::{Duration, Instant};

use aws_config::SdkConfig;
use aws_sdk_sqs::types::QueueAttributeName;
use hookbridge_aws::replay::{DeadLetterReplayer, ReplayError, ReplayReport};
use hookbridge_tests::{aws_config, create_queue, create_topic, subscribe_new_queue, unique_name};
use serde_json::json;

const ENVELOPE: &str = r#"{"id":"evt_1","source":"stripe","type":"charge.failed","received_at":"2026-11-24T00:00:00.123Z","occurred_at":null,"correlation_id":"c1","payload":{"id":"evt_1"}}"#;

struct Fixture {
    sqs: aws_sdk_sqs::Client,
    replayer: DeadLetterReplayer,
    dead_letters: String,
    topic_arn: String,
    /// Subscribed to the topic with raw delivery: what the topic published.
    published: String,
}

impl Fixture {
    async fn new() -> Self {
        let config: SdkConfig = aws_config().await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let sns = aws_sdk_sns::Client::new(&config);
        let dead_letters = create_queue(&sqs, &unique_name("hb-dlq")).await.url;
        let topic_arn = create_topic(&config, "hb-topic").await;
        let published = subscribe_new_queue(&config, &topic_arn, "hb-published").await;
        Self {
            replayer: DeadLetterReplayer::new(sqs.clone(), sns),
            sqs,
            dead_letters,
            topic_arn,
            published,
        }
    }

    async fn dead_letter(&self, body: &str) {
        self.sqs
            .send_message()
            .queue_url(&self.dead_letters)
            .message_body(body)
            .send()
            .await
            .expect("send a dead letter");
    }

    /// Every message of `queue` within `timeout`, deleted as read.
    async fn drain(&self, queue: &str, expected: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut bodies = Vec::new();
        while bodies.len() < expected && Instant::now() < deadline {
            let messages = self
                .sqs
                .receive_message()
                .queue_url(queue)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .expect("receive")
                .messages
                .unwrap_or_default();
            for message in messages {
                bodies.push(message.body.unwrap_or_default());
                self.sqs
                    .delete_message()
                    .queue_url(queue)
                    .set_receipt_handle(message.receipt_handle)
                    .send()
                    .await
                    .expect("delete");
            }
        }
        bodies
    }

    /// Messages in the queue, visible or not.
    async fn count(&self, queue: &str) -> usize {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(queue)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .unwrap_or_default();
        [
            QueueAttributeName::ApproximateNumberOfMessages,
            QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        ]
        .iter()
        .map(|name| {
            attributes
                .get(name)
                .map_or(0, |value| value.parse::<usize>().unwrap())
        })
        .sum()
    }
}

fn sns_notification(message: &str) -> String {
    json!({
        "Type": "Notification",
        "MessageId": "0b7b0000-0000-4000-8000-000000000000",
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:hookbridge-deliver",
        "Message": message,
        "Timestamp": "2026-11-24T00:00:01.000Z",
        "SignatureVersion": "2",
        "Signature": "AAAA",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
    })
    .to_string()
}

#[tokio::test]
async fn dead_letters_are_republished_to_the_topic_and_then_removed() {
    let fixture = Fixture::new().await;
    fixture.dead_letter(&sns_notification(ENVELOPE)).await;
    fixture.dead_letter(ENVELOPE).await;

    let report = fixture
        .replayer
        .replay(&fixture.dead_letters, &fixture.topic_arn, 100)
        .await
        .expect("replay");
    assert_eq!(report, ReplayReport { replayed: 2 });

    let published = fixture
        .drain(&fixture.published, 2, Duration::from_secs(5))
        .await;
    assert_eq!(
        published,
        [ENVELOPE, ENVELOPE],
        "the topic gets the envelopes again"
    );
    assert_eq!(fixture.count(&fixture.dead_letters).await, 0);
}

#[tokio::test]
async fn replay_stops_at_the_limit() {
    let fixture = Fixture::new().await;
    for _ in 0..3 {
        fixture.dead_letter(ENVELOPE).await;
    }
    let report = fixture
        .replayer
        .replay(&fixture.dead_letters, &fixture.topic_arn, 2)
        .await
        .expect("replay");
    assert_eq!(report.replayed, 2);
    assert_eq!(fixture.count(&fixture.dead_letters).await, 1);
}

#[tokio::test]
async fn an_empty_queue_replays_nothing() {
    let fixture = Fixture::new().await;
    let report = fixture
        .replayer
        .replay(&fixture.dead_letters, &fixture.topic_arn, 10)
        .await
        .expect("replay");
    assert_eq!(report.replayed, 0);
}

#[tokio::test]
async fn nothing_is_deleted_when_publishing_fails() {
    let fixture = Fixture::new().await;
    fixture.dead_letter(&sns_notification(ENVELOPE)).await;
    let missing_topic = format!(
        "arn:aws:sns:us-east-1:123456789012:{}",
        unique_name("hb-gone")
    );

    let error = fixture
        .replayer
        .replay(&fixture.dead_letters, &missing_topic, 10)
        .await
        .expect_err("publishing to a missing topic fails");
    assert!(
        matches!(error, ReplayError::Publish { replayed: 0, .. }),
        "{error}"
    );

    // Still there, and visible again at once for the next attempt.
    let left = fixture
        .drain(&fixture.dead_letters, 1, Duration::from_secs(3))
        .await;
    assert_eq!(left, [sns_notification(ENVELOPE)]);
}
