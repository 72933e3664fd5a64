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
use hookbridge_tests::{aws_config, create_events_table, create_topic, put_secure_parameter};
use lambda_http::http::StatusCode;
use serde_json::Value;

fn gone() -> Answer {
    Reply::json(410, r#"{"error":"gone"}"#).into()
}

async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> String {
    sqs.create_queue()
        .queue_name(name)
        .send()
        .await
        .expect("create the queue")
        .queue_url
        .expect("a queue URL")
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
    let final_queue = create_queue(&sqs, &final_queue_name(&queues, &default)).await;
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
    let published = create_queue(&sqs, &hookbridge_tests::unique_name("hb-published")).await;
    let published_arn = sqs
        .get_queue_attributes()
        .queue_url(&published)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(published_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap();
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
