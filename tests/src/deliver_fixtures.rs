//! What the deliver tests share: one SNS notification carrying one envelope,
//! posted to a destination's subscription endpoint.
//! The ports that stand in for SNS's signature and confirmation are
//! hookbridge-testkit's (both are covered by their own tests in
//! tests/deliver.rs and the core).

use std::time::Duration;

use aws_config::SdkConfig;
use deliver::{Deliver, DeliverySettings, Outbound, Settings};
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::dead_letters::SqsFinalDeadLetters;
use hookbridge_aws::delivery_status::DynamoDbDeliveryStatus;
use hookbridge_aws::s3::S3PayloadStore;
use hookbridge_aws::ssm::SsmSecretStore;
use hookbridge_aws::webhook_target::HttpWebhookTarget;
use hookbridge_core::destinations::{DEFAULT_DESTINATION, Destinations};
use hookbridge_testkit::{FakeAuthenticator, NoConfirmations, Verdict};
use lambda_http::{Body, Request};
use serde_json::json;

/// The development outbound signing key.
pub const OUTBOUND: &str = crate::dev_process::webhooks::OUTBOUND_SECRET;
pub const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:hookbridge-deliver";
pub const ENVELOPE: &str = r#"{"id":"evt_42","source":"moneybutton","type":"payment.completed","received_at":"2026-11-24T00:00:00.123Z","occurred_at":null,"correlation_id":"7a2e0000-0000-4000-8000-000000000000","payload":{"id":"42","status":"COMPLETED","amount":"1.50"}}"#;
/// The `payload` of [`ENVELOPE`], as the target must receive it.
pub const PAYLOAD: &str = r#"{"id":"42","status":"COMPLETED","amount":"1.50"}"#;

/// The SNS notification carrying [`ENVELOPE`] to the `default` destination;
/// SNS re-sends it unchanged.
pub fn notification() -> Request {
    notification_for(DEFAULT_DESTINATION)
}

/// The SNS notification carrying [`ENVELOPE`], as `destination`'s
/// subscription posts it.
pub fn notification_for(destination: &str) -> Request {
    notification_of(ENVELOPE, destination)
}

/// The SNS notification carrying `envelope`, as `destination`'s
/// subscription posts it.
pub fn notification_of(envelope: &str, destination: &str) -> Request {
    let message = json!({
        "Type": "Notification",
        "MessageId": "9a1b0000-0000-4000-8000-000000000000",
        "TopicArn": TOPIC,
        "Message": envelope,
        "Timestamp": "2026-11-24T00:00:01.000Z",
        "SignatureVersion": "2",
        "Signature": "AAAA",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
    });
    http::Request::builder()
        .method("POST")
        .uri(format!(
            "https://deliver.lambda-url.us-east-1.on.aws/?destination={destination}"
        ))
        .header("content-type", "text/plain; charset=UTF-8")
        .body(Body::from(message.to_string()))
        .expect("a valid request")
}

/// The deliver handler on the real SSM, DynamoDB and HTTP adapters,
/// trusting every message (no RSA, no confirmation), with its own HTTP
/// timeout.
pub type TrustingDeliver = Deliver<
    FakeAuthenticator,
    NoConfirmations,
    HttpWebhookTarget,
    SsmSecretStore<SystemClock>,
    SystemClock,
    S3PayloadStore,
    DynamoDbDeliveryStatus<SystemClock>,
    SqsFinalDeadLetters,
>;

/// The bucket the trusting deliver handler reads referenced payloads from.
pub const PAYLOAD_BUCKET: &str = "hookbridge-payloads";

/// A fresh SSM prefix for a test's outbound secrets: destination `D` signs
/// with `<prefix>D`.
pub fn outbound_prefix() -> String {
    format!("/{}/outbound/", crate::unique_name("hb-deliver"))
}

/// A fresh stack-like prefix for a test's destination queues: destination
/// `D`'s final dead-letter queue is `<prefix>D-dlq`.
pub fn queue_prefix() -> String {
    format!("{}_", crate::unique_name("hb-queues"))
}

/// The handler for `destinations`, their secrets under `outbound_prefix`,
/// recording the status in `table`, dead-lettering into the queues named
/// after `queue_prefix`.
pub fn trusting_deliver(
    config: &SdkConfig,
    destinations: Destinations,
    outbound_prefix: &str,
    table: &str,
    queue_prefix: &str,
    timeout: Duration,
) -> TrustingDeliver {
    let client = hookbridge_aws::http::client_with_timeout(timeout).expect("build the HTTP client");
    let retention = hookbridge_aws::settings::DEFAULT_RETENTION;
    Deliver::new(
        Ok(Settings {
            topic_arn: TOPIC.to_owned(),
            delivery: DeliverySettings {
                destinations,
                outbound_prefix: outbound_prefix.to_owned(),
                secrets_ttl: hookbridge_aws::ssm::DEFAULT_TTL,
                table_name: table.to_owned(),
                retention,
                payload_bucket: PAYLOAD_BUCKET.to_owned(),
                queue_prefix: queue_prefix.to_owned(),
            },
        }),
        FakeAuthenticator(Verdict::Authentic),
        NoConfirmations,
        Outbound::new(
            HttpWebhookTarget::new(client),
            SsmSecretStore::new(
                aws_sdk_ssm::Client::new(config),
                outbound_prefix,
                SystemClock,
            ),
            SystemClock,
            S3PayloadStore::new(config, PAYLOAD_BUCKET),
        ),
        DynamoDbDeliveryStatus::new(
            aws_sdk_dynamodb::Client::new(config),
            table,
            retention,
            SystemClock,
        ),
        SqsFinalDeadLetters::new(aws_sdk_sqs::Client::new(config), queue_prefix),
    )
}

/// The handler for one `default` destination at `target_url`, signing with
/// [`OUTBOUND`] (stored in SSM), recording in a fresh table.
pub async fn single_target_deliver(
    config: &SdkConfig,
    target_url: &str,
    timeout: Duration,
) -> TrustingDeliver {
    let prefix = outbound_prefix();
    crate::put_secure_parameter(config, &format!("{prefix}{DEFAULT_DESTINATION}"), OUTBOUND).await;
    let table = crate::create_events_table(config, "hb-deliver").await;
    let destinations = Destinations::single_default(target_url).expect("a valid target URL");
    trusting_deliver(
        config,
        destinations,
        &prefix,
        &table,
        &queue_prefix(),
        timeout,
    )
}
