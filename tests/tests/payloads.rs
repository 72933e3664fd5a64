//! Large payloads on the real adapters against moto: ingest stores the
//! payload in S3 before its reference goes on the bus, deliver fetches and
//! checks it and the target receives the exact bytes signed, consume
//! records the reference; S3 unreachable is a 503, a tampered object is
//! never delivered.

use std::time::{Duration, UNIX_EPOCH};

use consume::{Consumer, Outcome};
use hookbridge_aws::DynamoDbEventStore;
use hookbridge_aws::dynamodb::{attr, event_key};
use hookbridge_aws::eventbridge::EventBridgePublisher;
use hookbridge_aws::s3::S3PayloadStore;
use hookbridge_aws::ssm::SsmSecretStore;
use hookbridge_core::config::Sources;
use hookbridge_core::destinations::DEFAULT_DESTINATION;
use hookbridge_core::envelope::PayloadRef;
use hookbridge_core::ports::{Clock, PayloadStore};
use hookbridge_core::providers::{standard, stripe};
use hookbridge_core::secret::SecretSet;
use hookbridge_testkit::ManualClock;
use hookbridge_testkit::http_target::{HttpTarget, Reply, Script, closed_loopback_url};
use hookbridge_tests::deliver_fixtures::{
    OUTBOUND, PAYLOAD_BUCKET, notification_of, single_target_deliver,
};
use hookbridge_tests::{
    BusTap, all_items, aws_config, create_events_table, put_secure_parameter, text, unique_name,
};
use ingest::Ingest;
use lambda_http::{Body, Request, http};
use serde_json::Value;

const SIGNED_AT: u64 = 1_795_478_400;
const SECRET: &str = "whsec_large";
const MIB: usize = 1024 * 1024;

type LiveIngest =
    Ingest<SsmSecretStore<ManualClock>, EventBridgePublisher, ManualClock, S3PayloadStore>;

async fn create_payload_bucket(config: &aws_config::SdkConfig) {
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    );
    // Shared by every test of the run: created once, "already owned" after.
    let _ = s3.create_bucket().bucket(PAYLOAD_BUCKET).send().await;
}

async fn live_ingest(
    config: &aws_config::SdkConfig,
    bus: &str,
    payloads: S3PayloadStore,
) -> (LiveIngest, ManualClock) {
    let prefix = format!("/{}/", unique_name("hb-payloads"));
    put_secure_parameter(config, &format!("{prefix}stripe"), SECRET).await;
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(SIGNED_AT));
    let secrets = SsmSecretStore::new(aws_sdk_ssm::Client::new(config), prefix, clock.clone());
    let publisher = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(config), bus);
    let sources = Sources::from_json(r#"{"stripe":{"kind":"stripe"}}"#).unwrap();
    let ingest = Ingest::new(sources, secrets, publisher, clock.clone(), payloads);
    (ingest, clock)
}

/// A signed Stripe webhook whose body is `size` bytes of JSON.
fn large_stripe(size: usize, clock: &ManualClock) -> (Request, String) {
    let head = format!(
        r#"{{"id":"evt_large_{size}","type":"payment_intent.succeeded","created":1795478399,"data":{{"object":{{"id":"pi_large"}}}},"pad":""#
    );
    let body = format!("{head}{}\"}}", "é".repeat((size - head.len() - 2) / 2));
    let t = clock.now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    let request = http::Request::builder()
        .method("POST")
        .uri("https://abc.execute-api.us-east-1.amazonaws.com/webhooks/stripe")
        .header("stripe-signature", stripe::sign(SECRET, t, body.as_bytes()))
        .header("content-type", "application/json")
        .body(Body::from(body.clone()))
        .unwrap();
    (request, body)
}

/// The EventBridge event consume is invoked with, around `detail`.
fn invocation(bus_event_id: &str, detail: &Value) -> String {
    serde_json::json!({
        "version": "0", "id": bus_event_id, "detail-type": "payment_intent.succeeded",
        "source": "hookbridge.stripe", "account": "1", "time": "2026-11-24T00:00:00Z",
        "region": "us-east-1", "resources": [], "detail": detail,
    })
    .to_string()
}

#[tokio::test]
async fn a_1_mib_payload_travels_by_reference_from_ingest_to_target_and_table() {
    let config = aws_config().await;
    create_payload_bucket(&config).await;
    let tap = BusTap::with_new_bus(&config).await;
    let store = S3PayloadStore::new(&config, PAYLOAD_BUCKET);
    let (ingest, clock) = live_ingest(&config, tap.bus_name(), store.clone()).await;
    let (request, body) = large_stripe(MIB, &clock);

    assert_eq!(ingest.handle(request).await.status(), 202);
    let events = tap.receive(1, Duration::from_secs(10)).await;
    let envelope = &events[0].detail;
    assert!(envelope.get("payload").is_none(), "{envelope}");
    let reference: PayloadRef = serde_json::from_value(envelope["payload_ref"].clone()).unwrap();
    assert_eq!(
        reference,
        PayloadRef::of(PAYLOAD_BUCKET, "stripe", body.as_bytes())
    );
    let stored = store.get(&reference.key, reference.size).await.unwrap();
    assert_eq!(stored, body.as_bytes(), "S3 holds the exact bytes");

    let target = HttpTarget::start(Script::always(Reply::status(200)));
    let deliver = single_target_deliver(&config, &target.url(), Duration::from_secs(5)).await;
    let response = deliver
        .handle(notification_of(&envelope.to_string(), DEFAULT_DESTINATION))
        .await;
    assert_eq!(response.status(), 200);
    let posted = &target.requests()[0];
    assert_eq!(
        posted.body,
        body.as_bytes(),
        "the target gets the exact bytes"
    );
    assert_eq!(
        standard::verify(
            &posted.headers,
            &posted.body,
            &SecretSet::parse(OUTBOUND),
            hookbridge_aws::clock::SystemClock.now(),
            Duration::from_secs(300),
        ),
        Ok(()),
        "signed over exactly those bytes"
    );

    let table = create_events_table(&config, "hb-payloads").await;
    let settings = consume::Settings::from_lookup(|name| match name {
        "TABLE_NAME" => Some(table.clone()),
        "HOOKBRIDGE_SOURCES" => Some(r#"{"stripe":{"kind":"stripe"}}"#.to_owned()),
        "PAYLOAD_BUCKET" => Some(PAYLOAD_BUCKET.to_owned()),
        _ => None,
    })
    .unwrap();
    let consumer = Consumer::new(
        DynamoDbEventStore::new(aws_sdk_dynamodb::Client::new(&config), &table),
        store,
        settings,
    );
    let consumed = consumer
        .handle(&invocation(&events[0].id, envelope))
        .await
        .unwrap();
    assert_eq!(consumed.outcome, Outcome::ProjectionUpdated);
    assert_eq!(consumed.object_id.as_deref(), Some("pi_large"));
    let items = all_items(&config, &table).await;
    let event = items
        .iter()
        .find(|item| text(item, attr::PK) == event_key("stripe", &consumed.event_id))
        .expect("the event item");
    assert!(!event.contains_key(attr::PAYLOAD));
    assert_eq!(text(event, attr::PAYLOAD_KEY), reference.key);
    assert_eq!(text(event, attr::PAYLOAD_SHA256), reference.sha256);
    assert_eq!(text(event, attr::PAYLOAD_BUCKET), PAYLOAD_BUCKET);
    assert_eq!(items.len(), 2, "the event and its projection");
    for item in &items {
        assert!(
            !item.contains_key(attr::PAYLOAD),
            "items hold only the reference"
        );
    }
}

#[tokio::test]
async fn s3_unreachable_is_a_503_and_nothing_goes_on_the_bus() {
    let config = aws_config().await;
    let tap = BusTap::with_new_bus(&config).await;
    // Per client: AWS_ENDPOINT_URL wins over a shared config's endpoint.
    let unreachable = aws_sdk_s3::config::Builder::from(&config)
        .endpoint_url(closed_loopback_url())
        .force_path_style(true)
        .build();
    let store =
        S3PayloadStore::from_client(aws_sdk_s3::Client::from_conf(unreachable), PAYLOAD_BUCKET);
    let (ingest, clock) = live_ingest(&config, tap.bus_name(), store).await;
    let (request, _) = large_stripe(300 * 1024, &clock);
    let response = ingest.handle(request).await;
    assert_eq!(response.status(), 503);
    let answer: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
    assert_eq!(answer["error"]["code"], "payload_store_unavailable");
    assert!(tap.receive(1, Duration::from_secs(2)).await.is_empty());
}

#[tokio::test]
async fn a_tampered_or_missing_object_is_never_delivered() {
    let config = aws_config().await;
    create_payload_bucket(&config).await;
    let store = S3PayloadStore::new(&config, PAYLOAD_BUCKET);
    let payload = format!(
        r#"{{"id":"evt_tampered","pad":"{}"}}"#,
        "x".repeat(300 * 1024)
    );
    let reference = PayloadRef::of(PAYLOAD_BUCKET, &unique_name("tampered"), payload.as_bytes());
    store
        .put(
            &reference.key,
            payload.replace("evt_tampered", "evt_tampereD").into_bytes(),
        )
        .await
        .unwrap();
    let missing = PayloadRef::of(PAYLOAD_BUCKET, &unique_name("missing"), payload.as_bytes());

    let target = HttpTarget::start(Script::always(Reply::status(200)));
    let deliver = single_target_deliver(&config, &target.url(), Duration::from_secs(5)).await;
    for (reference, code) in [
        (reference, "payload_mismatch"),
        (missing, "payload_missing"),
    ] {
        let envelope = serde_json::json!({
            "id": "evt_tampered", "source": "stripe", "type": "t",
            "received_at": "2026-11-24T00:00:00.000Z", "occurred_at": null,
            "correlation_id": "c", "payload_ref": reference,
        });
        let response = deliver
            .handle(notification_of(&envelope.to_string(), DEFAULT_DESTINATION))
            .await;
        assert_eq!(response.status(), 503, "{code}: SNS retries");
        let answer: Value = serde_json::from_slice(response.body().as_ref()).unwrap();
        assert_eq!(answer["error"]["code"], code);
    }
    assert!(target.requests().is_empty(), "nothing reached the target");
}
