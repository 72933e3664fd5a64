//! The handler with in-memory ports: every way a tier-2 message can go.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use hookbridge_core::delivery_status::{AttemptOutcome, DeliveryState};
use hookbridge_core::destinations::Destinations;
use hookbridge_core::horizon::TIER2_FIRST_DELAY;
use hookbridge_core::outbound::OutboundWebhook;
use hookbridge_core::ports::{TargetAnswer, TargetError, WebhookTarget};
use hookbridge_core::secret::SecretSet;
use hookbridge_testkit::{
    CapturedMetrics, ManualClock, MemoryDeadLetters, MemoryDeliveryStatus, MemoryPayloads,
    MemoryRetryQueue, MemorySecrets,
};
use serde_json::json;

use super::*;

const OUTBOUND: &str = "whsec_aG9va2JyaWRnZS1kZXYtb3V0Ym91bmQta2V5";
const QUEUE_ARN: &str = "arn:aws:sqs:eu-west-1:123456789012:stack_billing-retry";
const RECEIVED_AT: &str = "2026-11-24T00:00:00.000Z";
const HOUR: Duration = Duration::from_secs(3_600);

fn received() -> SystemTime {
    // RECEIVED_AT, 2026-11-24T00:00:00Z.
    std::time::UNIX_EPOCH + Duration::from_secs(1_795_478_400)
}

/// Answers every POST with one status and counts them.
#[derive(Clone, Default)]
struct Target {
    status: u16,
    posts: Arc<Mutex<usize>>,
}

impl Target {
    fn answering(status: u16) -> Self {
        Self {
            status,
            posts: Arc::default(),
        }
    }

    fn posts(&self) -> usize {
        *self.posts.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl WebhookTarget for Target {
    async fn post(
        &self,
        _: &str,
        _: &OutboundWebhook,
        _: Option<Duration>,
    ) -> Result<TargetAnswer, TargetError> {
        *self.posts.lock().unwrap_or_else(PoisonError::into_inner) += 1;
        Ok(TargetAnswer {
            status: self.status,
            excerpt: None,
            retry_after: None,
        })
    }
}

fn settings() -> Settings {
    Settings {
        destinations: Destinations::from_json(
            r#"{"billing": {"url": "https://billing.example/hooks"}}"#,
        )
        .unwrap(),
        outbound_prefix: "/hookbridge/test/outbound/".to_owned(),
        secrets_ttl: hookbridge_aws::ssm::DEFAULT_TTL,
        table_name: "events".to_owned(),
        retention: hookbridge_aws::settings::DEFAULT_RETENTION,
        payload_bucket: "payloads".to_owned(),
        queue_prefix: "stack_".to_owned(),
    }
}

/// The SNS notification SNS redrives, holding an envelope.
fn notification() -> String {
    let envelope = json!({
        "id": "evt_1", "source": "stripe", "type": "invoice.paid",
        "received_at": RECEIVED_AT, "correlation_id": "c-1", "payload": {"id": "evt_1"},
    });
    json!({
        "Type": "Notification",
        "MessageId": "m-1",
        "TopicArn": "arn:aws:sns:eu-west-1:123456789012:topic",
        "Message": envelope.to_string(),
        "Timestamp": RECEIVED_AT,
    })
    .to_string()
}

fn record(body: &str, receive_count: u32) -> SqsRecord {
    SqsRecord {
        message_id: "msg-1".to_owned(),
        receipt_handle: "receipt-1".to_owned(),
        body: body.to_owned(),
        attributes: BTreeMap::from([(
            RECEIVE_COUNT_ATTRIBUTE.to_owned(),
            receive_count.to_string(),
        )]),
        event_source_arn: QUEUE_ARN.to_owned(),
    }
}

struct Harness {
    target: Target,
    statuses: MemoryDeliveryStatus,
    dead_letters: MemoryDeadLetters,
    retry_queue: MemoryRetryQueue,
    metrics: CapturedMetrics,
    settings: Settings,
    now: SystemTime,
}

impl Harness {
    fn new(status: u16) -> Self {
        Self {
            target: Target::answering(status),
            statuses: MemoryDeliveryStatus::new(),
            dead_letters: MemoryDeadLetters::new(),
            retry_queue: MemoryRetryQueue::new(),
            metrics: CapturedMetrics::new(),
            settings: settings(),
            // Two hours in: SNS's hour and the first tier-2 delay are over.
            now: received() + 2 * HOUR,
        }
    }

    /// Whether the message was kept in its tier-2 queue.
    async fn receive(&self, record: SqsRecord) -> bool {
        let redeliver = Redeliver::new(
            Ok(self.settings.clone()),
            Outbound::new(
                self.target.clone(),
                MemorySecrets::new().with("billing", SecretSet::parse(OUTBOUND)),
                ManualClock::new(self.now),
                MemoryPayloads::new("payloads"),
            ),
            self.statuses.clone(),
            self.dead_letters.clone(),
            self.retry_queue.clone(),
        )
        .with_metrics(Arc::new(self.metrics.clone()));
        let answer = redeliver
            .handle(&SqsEvent {
                records: vec![record],
            })
            .await;
        match answer.batch_item_failures.as_slice() {
            [] => false,
            [kept] => {
                assert_eq!(kept.item_identifier, "msg-1");
                true
            }
            more => panic!("one record, {} failures", more.len()),
        }
    }

    /// `(metric, value, class)` of every datum, as CloudWatch extracts
    /// them from the lines.
    fn measured(&self) -> Vec<(String, f64, String)> {
        self.metrics
            .datums()
            .into_iter()
            .inspect(|datum| assert_eq!(datum.dimension("Destination"), "billing"))
            .map(|datum| {
                let class = datum.dimension("Class").to_owned();
                (datum.name, datum.value, class)
            })
            .collect()
    }

    fn states(&self) -> Vec<(DeliveryState, usize)> {
        self.statuses
            .all()
            .iter()
            .map(|record| (record.state, record.attempts.len()))
            .collect()
    }
}

#[tokio::test]
async fn the_handover_waits_the_first_tier2_delay_without_an_attempt() {
    let harness = Harness {
        now: received() + HOUR,
        ..Harness::new(200)
    };

    assert!(harness.receive(record(&notification(), 1)).await);

    assert_eq!(harness.target.posts(), 0);
    let postponed = harness.retry_queue.all();
    assert_eq!(postponed.len(), 1);
    assert_eq!(postponed[0].1, "receipt-1");
    assert_eq!(postponed[0].2, TIER2_FIRST_DELAY);
    assert!(harness.statuses.all().is_empty());
}

#[tokio::test]
async fn a_failed_attempt_is_recorded_and_hidden_until_the_next_is_due() {
    let harness = Harness::new(500);

    assert!(harness.receive(record(&notification(), 2)).await);

    assert_eq!(harness.target.posts(), 1);
    assert_eq!(
        harness.retry_queue.all()[0].2,
        2 * TIER2_FIRST_DELAY,
        "the second tier-2 delay"
    );
    assert_eq!(harness.states(), [(DeliveryState::Retrying, 1)]);
    assert_eq!(
        harness.statuses.all()[0].attempts[0].outcome,
        AttemptOutcome::Status(500)
    );
    assert!(harness.dead_letters.all().is_empty());
}

#[tokio::test]
async fn a_delivery_is_done_and_recorded() {
    let harness = Harness::new(204);

    assert!(!harness.receive(record(&notification(), 3)).await);

    assert_eq!(harness.states(), [(DeliveryState::Delivered, 1)]);
    assert!(harness.retry_queue.all().is_empty());
}

#[tokio::test]
async fn gone_goes_to_the_final_queue_byte_for_byte_at_once() {
    let harness = Harness::new(410);

    assert!(!harness.receive(record(&notification(), 2)).await);

    let letters = harness.dead_letters.all();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].0.as_str(), "billing");
    assert_eq!(letters[0].1, notification());
    assert_eq!(harness.states(), [(DeliveryState::DeadLettered, 1)]);
}

#[tokio::test]
async fn a_failure_at_the_horizon_goes_to_the_final_queue() {
    let harness = Harness {
        now: received() + 72 * HOUR,
        ..Harness::new(503)
    };

    assert!(!harness.receive(record(&notification(), 20)).await);

    assert_eq!(harness.dead_letters.all().len(), 1);
    assert_eq!(harness.states(), [(DeliveryState::DeadLettered, 1)]);
}

#[tokio::test]
async fn a_final_queue_that_refuses_keeps_the_message_in_tier2() {
    let harness = Harness {
        dead_letters: MemoryDeadLetters::unavailable(),
        ..Harness::new(410)
    };

    assert!(harness.receive(record(&notification(), 2)).await);

    assert_eq!(harness.states(), [(DeliveryState::Retrying, 1)]);
}

#[tokio::test]
async fn a_postponement_that_fails_still_keeps_the_message() {
    let harness = Harness {
        retry_queue: MemoryRetryQueue::unavailable(),
        ..Harness::new(500)
    };

    assert!(harness.receive(record(&notification(), 2)).await);
}

#[tokio::test]
async fn a_destination_removed_from_the_configuration_keeps_its_messages() {
    let mut harness = Harness::new(200);
    harness.settings.destinations =
        Destinations::from_json(r#"{"crm": {"url": "https://crm.example/hooks"}}"#).unwrap();

    assert!(harness.receive(record(&notification(), 2)).await);

    assert_eq!(harness.target.posts(), 0);
    assert!(harness.dead_letters.all().is_empty());
}

#[tokio::test]
async fn an_unreadable_message_goes_to_the_final_queue_never_dropped() {
    for body in ["not json", r#"{"Type": "Notification", "Message": "{}"}"#] {
        let harness = Harness::new(200);

        assert!(!harness.receive(record(body, 2)).await, "{body}");

        assert_eq!(harness.dead_letters.all()[0].1, body);
        assert_eq!(harness.target.posts(), 0);
    }
    let harness = Harness::new(200);
    let mut without_count = record(&notification(), 2);
    without_count.attributes.clear();
    assert!(!harness.receive(without_count).await);
    assert_eq!(harness.dead_letters.all().len(), 1);
}

#[tokio::test]
async fn an_unconfigured_function_keeps_every_message() {
    let redeliver = Redeliver::new(
        Err(SettingsError(Vec::new())),
        Outbound::new(
            Target::answering(200),
            MemorySecrets::new(),
            ManualClock::new(received()),
            MemoryPayloads::new("payloads"),
        ),
        MemoryDeliveryStatus::new(),
        MemoryDeadLetters::new(),
        MemoryRetryQueue::new(),
    );

    let answer = redeliver
        .handle(&SqsEvent {
            records: vec![record(&notification(), 2)],
        })
        .await;

    assert_eq!(answer.batch_item_failures.len(), 1);
}

#[tokio::test]
async fn the_sample_event_goes_through_the_handler_as_a_handover() {
    let event: SqsEvent =
        serde_json::from_str(include_str!("../../../events/redeliver-retry.json"))
            .expect("the sample is an SQS event");
    let mut settings = settings();
    settings.queue_prefix = "hookbridge_".to_owned();
    let harness = Harness {
        settings,
        now: received() + HOUR,
        ..Harness::new(200)
    };

    let kept = harness.receive(event.records[0].clone()).await;

    assert!(kept, "a first receive is postponed, not done");
    assert_eq!(harness.retry_queue.all()[0].2, TIER2_FIRST_DELAY);
    let answer = serde_json::to_value(BatchResponse {
        batch_item_failures: vec![ItemFailure {
            item_identifier: "msg-1".to_owned(),
        }],
    })
    .unwrap();
    assert_eq!(
        answer,
        json!({"batchItemFailures": [{"itemIdentifier": "msg-1"}]})
    );
}

/// Tier 2's attempts count in the same metrics as deliver's, so the
/// destination's success rate and its alarm see both tiers.
#[tokio::test]
async fn tier2_attempts_are_counted_like_deliver_attempts() {
    let datum = |name: &str, value: f64, class: &str| (name.to_owned(), value, class.to_owned());
    let delivered = Harness::new(204);
    assert!(!delivered.receive(record(&notification(), 3)).await);
    let mut seen = delivered.measured();
    seen.retain(|(name, ..)| name != "DeliveryLatency");
    assert_eq!(
        seen,
        [
            datum("DeliveryAttempts", 1.0, ""),
            datum("Delivered", 1.0, "")
        ]
    );

    let at_the_horizon = Harness {
        now: received() + 72 * HOUR,
        ..Harness::new(503)
    };
    assert!(!at_the_horizon.receive(record(&notification(), 20)).await);
    let seen = at_the_horizon.measured();
    for expected in [
        datum("DeliveryAttempts", 1.0, ""),
        datum("Delivered", 0.0, ""),
        datum("DeliveryFailed", 1.0, "5xx"),
        datum("DeadLettered", 1.0, ""),
    ] {
        assert!(seen.contains(&expected), "{expected:?} in {seen:?}");
    }

    let handover = Harness {
        now: received() + HOUR,
        ..Harness::new(200)
    };
    assert!(handover.receive(record(&notification(), 1)).await);
    assert!(
        handover.measured().is_empty(),
        "no attempt, nothing counted"
    );
}
