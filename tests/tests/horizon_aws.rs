//! The delivery horizon in AWS, against moto's SQS, SNS and DynamoDB and a
//! real loopback target: a `410 Gone` from tier 1 goes straight to the
//! destination's final dead-letter queue (recorded, never retried), and
//! `hookbridge replay`'s replayer sends it again from there.

use std::time::Duration;

use aws_sdk_sqs::types::QueueAttributeName;
use hookbridge_aws::dead_letters::final_queue_name;
use hookbridge_aws::replay::{DeadLetterReplayer, republication};
use hookbridge_core::delivery_status::{AttemptOutcome, DeliveryState};
use hookbridge_core::destinations::{DEFAULT_DESTINATION, DestinationName, Destinations};
use hookbridge_core::ports::DeliveryStatusStore;
use hookbridge_testkit::http_target::{Answer, HttpTarget, Reply, Script};
use hookbridge_tests::deliver_fixtures::{
    ENVELOPE, OUTBOUND, notification, outbound_prefix, queue_prefix, trusting_deliver,
};
use hookbridge_tests::{
    TestQueue, aws_config, create_events_table, create_queue, create_topic, put_secure_parameter,
    subscribe_new_queue,
};
use lambda_http::http::StatusCode;
use serde_json::Value;

fn gone() -> Answer {
    Reply::json(410, r#"{"error":"gone"}"#).into()
}

async fn receive_all(sqs: &aws_sdk_sqs::Client, queue: &str) -> Vec<String> {
    sqs.receive_message()
        .queue_url(queue)
        .max_number_of_messages(10)
        .wait_time_seconds(1)
        // Only looked at: visible again at once for the replayer.
        .visibility_timeout(0)
        .send()
        .await
        .expect("receive")
        .messages
        .unwrap_or_default()
        .into_iter()
        .map(|message| message.body.unwrap_or_default())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_410_from_tier_1_goes_straight_to_the_final_dead_letter_queue_and_replays_from_it() {
    let config = aws_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let sns = aws_sdk_sns::Client::new(&config);
    let prefix = outbound_prefix();
    put_secure_parameter(&config, &format!("{prefix}{DEFAULT_DESTINATION}"), OUTBOUND).await;
    let table = create_events_table(&config, "hb-horizon").await;
    let queues = queue_prefix();
    let default = DestinationName::try_from(DEFAULT_DESTINATION.to_owned()).unwrap();
    let final_queue = create_queue(&sqs, &final_queue_name(&queues, &default))
        .await
        .url;
    let target = HttpTarget::start(Script::always(gone()));
    let deliver = trusting_deliver(
        &config,
        Destinations::single_default(&target.url()).unwrap(),
        &prefix,
        &table,
        &queues,
        Duration::from_secs(5),
    );

    let request = notification();
    let posted = String::from_utf8(request.body().to_vec()).unwrap();
    let response = deliver.handle(request).await;
    let body: Value = serde_json::from_slice(response.body()).unwrap();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "SNS must not retry: {body}"
    );
    assert_eq!(body["status"], "dead_lettered");
    assert_eq!(target.requests().len(), 1, "exactly one attempt");

    let letters = receive_all(&sqs, &final_queue).await;
    assert_eq!(letters, [posted], "the notification, byte for byte");
    assert_eq!(republication(&letters[0]).message, ENVELOPE);

    let statuses = hookbridge_aws::DynamoDbDeliveryStatus::new(
        aws_sdk_dynamodb::Client::new(&config),
        &table,
        hookbridge_aws::settings::DEFAULT_RETENTION,
        hookbridge_aws::SystemClock,
    );
    let records = statuses.records("evt_42").await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].state, DeliveryState::DeadLettered);
    assert_eq!(records[0].attempts.len(), 1);
    assert_eq!(records[0].attempts[0].outcome, AttemptOutcome::Status(410));

    // Replay: the final queue's letter goes back onto the topic, and leaves
    // the queue once the topic has it.
    let topic_arn = create_topic(&config, "hb-horizon").await;
    let published = subscribe_new_queue(&config, &topic_arn, "hb-published").await;
    let mut replayed = 0;
    for _ in 0..40 {
        replayed += DeadLetterReplayer::new(sqs.clone(), sns.clone())
            .replay(&final_queue, &topic_arn, 10)
            .await
            .expect("replay")
            .replayed;
        if replayed > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(replayed, 1);
    assert_eq!(receive_all(&sqs, &published).await, [ENVELOPE.to_owned()]);
}

/// Tier 2 against moto's SQS: the real queues, `ChangeMessageVisibility`
/// and `SendMessage`; the test stands in for the event source mapping
/// (receive, invoke, delete what the function did not report) and for the
/// passing of hours (the function's clock is advanced, and a postponed
/// message is made visible again once the test has seen it hidden).
mod tier2 {
    use std::time::SystemTime;

    use aws_sdk_sqs::types::MessageSystemAttributeName;
    use deliver::Outbound;
    use hookbridge_aws::dead_letters::{SqsFinalDeadLetters, tier2_queue_name};
    use hookbridge_aws::delivery_status::DynamoDbDeliveryStatus;
    use hookbridge_aws::retry_queue::SqsRetryQueue;
    use hookbridge_aws::s3::S3PayloadStore;
    use hookbridge_aws::ssm::SsmSecretStore;
    use hookbridge_aws::webhook_target::HttpWebhookTarget;
    use hookbridge_aws::{SystemClock, settings::DEFAULT_RETENTION};
    use hookbridge_core::horizon::{DeliverySchedule, Tier};
    use hookbridge_testkit::ManualClock;
    use hookbridge_tests::deliver_fixtures::PAYLOAD_BUCKET;
    use redeliver::{Redeliver, SqsEvent, SqsRecord};

    use super::*;

    type MotoRedeliver = Redeliver<
        HttpWebhookTarget,
        SsmSecretStore<SystemClock>,
        ManualClock,
        S3PayloadStore,
        DynamoDbDeliveryStatus<SystemClock>,
        SqsFinalDeadLetters,
        SqsRetryQueue,
    >;

    /// One destination `default`, its tier-2 and final queues, and the
    /// function on the real adapters with a clock the test moves.
    struct Stage {
        config: aws_config::SdkConfig,
        sqs: aws_sdk_sqs::Client,
        table: String,
        tier2_queue: String,
        tier2_arn: String,
        final_queue: String,
        clock: ManualClock,
        redeliver: MotoRedeliver,
        schedule: DeliverySchedule,
    }

    /// When [`ENVELOPE`] was received.
    fn received() -> SystemTime {
        humantime::parse_rfc3339("2026-11-24T00:00:00.123Z").unwrap()
    }

    async fn stage(target_url: &str, horizon_hours: u32) -> Stage {
        let config = aws_config().await;
        let sqs = aws_sdk_sqs::Client::new(&config);
        let prefix = outbound_prefix();
        put_secure_parameter(&config, &format!("{prefix}{DEFAULT_DESTINATION}"), OUTBOUND).await;
        let table = create_events_table(&config, "hb-tier2").await;
        let queues = queue_prefix();
        let default = DestinationName::try_from(DEFAULT_DESTINATION.to_owned()).unwrap();
        let final_queue = create_queue(&sqs, &final_queue_name(&queues, &default))
            .await
            .url;
        let TestQueue {
            url: tier2_queue,
            arn: tier2_arn,
        } = create_queue(&sqs, &tier2_queue_name(&queues, &default)).await;
        let destinations = Destinations::from_json(&format!(
            r#"{{"default": {{"url": "{target_url}", "horizon_hours": {horizon_hours}}}}}"#
        ))
        .unwrap();
        let destination = destinations.get(DEFAULT_DESTINATION).unwrap();
        let schedule = deliver::schedule_of(destination);
        // SNS has just given up.
        let clock = ManualClock::new(received() + schedule.tier1_duration());
        let http = hookbridge_aws::http::client_with_timeout(Duration::from_secs(5)).unwrap();
        let redeliver = Redeliver::new(
            Ok(redeliver::Settings {
                destinations,
                outbound_prefix: prefix.clone(),
                secrets_ttl: hookbridge_aws::ssm::DEFAULT_TTL,
                table_name: table.clone(),
                retention: DEFAULT_RETENTION,
                payload_bucket: PAYLOAD_BUCKET.to_owned(),
                queue_prefix: queues.clone(),
            }),
            Outbound::new(
                HttpWebhookTarget::new(http),
                SsmSecretStore::new(aws_sdk_ssm::Client::new(&config), &prefix, SystemClock),
                clock.clone(),
                S3PayloadStore::new(&config, PAYLOAD_BUCKET),
            ),
            DynamoDbDeliveryStatus::new(
                aws_sdk_dynamodb::Client::new(&config),
                &table,
                DEFAULT_RETENTION,
                SystemClock,
            ),
            SqsFinalDeadLetters::new(sqs.clone(), &queues),
            SqsRetryQueue::new(sqs.clone(), &queues),
        );
        Stage {
            config,
            sqs,
            table,
            tier2_queue,
            tier2_arn,
            final_queue,
            clock,
            redeliver,
            schedule,
        }
    }

    /// The notification SNS redrives when it gives up: as it posted it.
    fn redriven() -> String {
        String::from_utf8(notification().body().to_vec()).unwrap()
    }

    impl Stage {
        /// SNS's redrive: the notification lands in the tier-2 queue.
        async fn hand_over(&self) {
            self.sqs
                .send_message()
                .queue_url(&self.tier2_queue)
                .message_body(redriven())
                .send()
                .await
                .unwrap();
        }

        /// What the mapping does once: receive the visible message, invoke
        /// the function, delete it unless reported. Returns whether it was
        /// kept, and its receipt handle.
        async fn poll(&self) -> Option<(bool, String)> {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&self.tier2_queue)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap()
                .messages
                .unwrap_or_default();
            let message = received.into_iter().next()?;
            let receipt = message.receipt_handle.clone().unwrap();
            let attributes = message
                .attributes
                .unwrap_or_default()
                .into_iter()
                .map(|(name, value)| (name.as_str().to_owned(), value))
                .collect();
            let record = SqsRecord {
                message_id: message.message_id.unwrap(),
                receipt_handle: receipt.clone(),
                body: message.body.unwrap(),
                attributes,
                event_source_arn: self.tier2_arn.clone(),
            };
            let answer = self
                .redeliver
                .handle(&SqsEvent {
                    records: vec![record],
                })
                .await;
            let kept = !answer.batch_item_failures.is_empty();
            if !kept {
                self.sqs
                    .delete_message()
                    .queue_url(&self.tier2_queue)
                    .receipt_handle(&receipt)
                    .send()
                    .await
                    .unwrap();
            }
            Some((kept, receipt))
        }

        /// The postponed message is hidden; then the hours pass.
        async fn wait_until(&self, receipt: &str, due: SystemTime) {
            assert!(
                self.visible_now().await.is_empty(),
                "postponed: hidden until its next attempt"
            );
            self.sqs
                .change_message_visibility()
                .queue_url(&self.tier2_queue)
                .receipt_handle(receipt)
                .visibility_timeout(0)
                .send()
                .await
                .unwrap();
            let now = self.clock.now();
            self.clock
                .advance(due.duration_since(now).unwrap_or_default());
        }

        async fn visible_now(&self) -> Vec<String> {
            receive_all(&self.sqs, &self.tier2_queue).await
        }

        async fn tier2_holds(&self) -> usize {
            let attributes = self
                .sqs
                .get_queue_attributes()
                .queue_url(&self.tier2_queue)
                .attribute_names(QueueAttributeName::All)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap_or_default();
            [
                QueueAttributeName::ApproximateNumberOfMessages,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
            ]
            .iter()
            .map(|name| attributes[name].parse::<usize>().unwrap())
            .sum()
        }

        async fn record(&self) -> hookbridge_core::delivery_status::DeliveryRecord {
            let statuses = hookbridge_aws::DynamoDbDeliveryStatus::new(
                aws_sdk_dynamodb::Client::new(&self.config),
                &self.table,
                DEFAULT_RETENTION,
                SystemClock,
            );
            let mut records = statuses.records("evt_42").await.unwrap();
            assert_eq!(records.len(), 1);
            records.remove(0)
        }
    }

    use hookbridge_core::ports::Clock;

    #[tokio::test(flavor = "multi_thread")]
    async fn a_target_down_past_the_horizon_gets_every_tier2_attempt_then_the_final_queue_and_replay()
     {
        let target = HttpTarget::start(Script::always(Reply::json(503, "{}")));
        let stage = stage(&target.url(), 5).await;
        let tier2: Vec<_> = stage
            .schedule
            .attempts()
            .into_iter()
            .filter(|attempt| attempt.tier == Tier::Horizon)
            .collect();
        assert_eq!(
            tier2.len(),
            5,
            "a 5 h horizon: 15 min, 30 min, 1 h, 2 h, then the horizon itself"
        );

        stage.hand_over().await;
        let (kept, mut receipt) = stage.poll().await.expect("the handover");
        assert!(kept);
        assert!(target.requests().is_empty(), "no attempt at the handover");
        for (index, attempt) in tier2.iter().enumerate() {
            stage
                .wait_until(&receipt, received() + attempt.elapsed)
                .await;
            let (kept, next) = stage.poll().await.expect("due again");
            assert_eq!(target.requests().len(), index + 1);
            let last = index + 1 == tier2.len();
            assert_eq!(
                kept, !last,
                "attempt {}: kept until the horizon",
                attempt.number
            );
            receipt = next;
        }

        assert_eq!(stage.tier2_holds().await, 0, "nothing left in tier 2");
        let letters = receive_all(&stage.sqs, &stage.final_queue).await;
        assert_eq!(letters, [redriven()], "the notification, byte for byte");
        let record = stage.record().await;
        assert_eq!(record.state, DeliveryState::DeadLettered);
        assert_eq!(record.attempts.len(), tier2.len());
        assert!(
            record
                .attempts
                .iter()
                .all(|attempt| attempt.outcome == AttemptOutcome::Status(503))
        );

        // `hookbridge replay` from the final queue puts it back on the topic.
        let sns = aws_sdk_sns::Client::new(&stage.config);
        let topic_arn = create_topic(&stage.config, "hb-tier2").await;
        let published = subscribe_new_queue(&stage.config, &topic_arn, "hb-t2-pub").await;
        let replayed = DeadLetterReplayer::new(stage.sqs.clone(), sns)
            .replay(&stage.final_queue, &topic_arn, 10)
            .await
            .expect("replay")
            .replayed;
        assert_eq!(replayed, 1);
        assert_eq!(
            receive_all(&stage.sqs, &published).await,
            [ENVELOPE.to_owned()]
        );
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_410_in_tier_2_goes_to_the_final_queue_at_once() {
        let target = HttpTarget::start(Script::always(gone()));
        let stage = stage(&target.url(), 72).await;
        stage.hand_over().await;
        let (_, receipt) = stage.poll().await.expect("the handover");
        let first = received() + stage.schedule.tier1_duration() + stage.schedule.tier2_delay(1);
        stage.wait_until(&receipt, first).await;

        let (kept, _) = stage.poll().await.expect("the first tier-2 attempt");

        assert!(!kept);
        assert_eq!(target.requests().len(), 1, "exactly one tier-2 attempt");
        assert_eq!(stage.tier2_holds().await, 0);
        assert_eq!(
            receive_all(&stage.sqs, &stage.final_queue).await,
            [redriven()]
        );
        let record = stage.record().await;
        assert_eq!(record.state, DeliveryState::DeadLettered);
        assert_eq!(record.attempts[0].outcome, AttemptOutcome::Status(410));
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_success_in_tier_2_deletes_the_message_and_records_the_delivery() {
        let target = HttpTarget::start(Script::always(Reply::json(503, "{}")));
        let stage = stage(&target.url(), 72).await;
        stage.hand_over().await;
        let (_, receipt) = stage.poll().await.expect("the handover");
        let first = received() + stage.schedule.tier1_duration() + stage.schedule.tier2_delay(1);
        stage.wait_until(&receipt, first).await;
        let (kept, receipt) = stage.poll().await.expect("the first tier-2 attempt");
        assert!(kept, "503: kept for the next attempt");
        target.set_script(Script::always(Reply::json(200, "{}")));
        let second = first + stage.schedule.tier2_delay(2);
        stage.wait_until(&receipt, second).await;

        let (kept, _) = stage.poll().await.expect("the second tier-2 attempt");

        assert!(!kept);
        assert_eq!(target.requests().len(), 2);
        assert_eq!(stage.tier2_holds().await, 0, "deleted");
        assert!(receive_all(&stage.sqs, &stage.final_queue).await.is_empty());
        let record = stage.record().await;
        assert_eq!(record.state, DeliveryState::Delivered);
        assert_eq!(record.attempts.len(), 2);
    }
}
