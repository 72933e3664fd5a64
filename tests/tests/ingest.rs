//! The ingest handler with the real adapters (SSM, EventBridge) against moto:
//! a verified webhook ends up on the bus as the contract's event, secrets
//! come from SSM with rotation and TTL, and a bus failure is never a 2xx.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hookbridge_aws::eventbridge::EventBridgePublisher;
use hookbridge_aws::retry::RetryPolicy;
use hookbridge_aws::s3::S3PayloadStore;
use hookbridge_aws::ssm::SsmSecretStore;
use hookbridge_core::config::Sources;
use hookbridge_core::ports::Clock;
use hookbridge_core::providers::stripe;
use hookbridge_testkit::ManualClock;
use hookbridge_tests::deliver_fixtures::PAYLOAD_BUCKET;
use hookbridge_tests::{BusTap, aws_config, put_secure_parameter, unique_name};
use ingest::Ingest;
use lambda_http::{Body, Request, http};

const SIGNED_AT: u64 = 1_795_478_400;
const BODY: &str = r#"{"id":"evt_it_1","object":"event","type":"payment_intent.succeeded","created":1795478399,"data":{"object":{"id":"pi_1","amount":2000,"note":"Zürich"}}}"#;
const TTL: Duration = Duration::from_secs(300);

type LiveIngest =
    Ingest<SsmSecretStore<ManualClock>, EventBridgePublisher, ManualClock, S3PayloadStore>;

struct Fixture {
    ingest: LiveIngest,
    clock: ManualClock,
    prefix: String,
    config: aws_config::SdkConfig,
}

async fn fixture(bus_name: &str, secret_value: &str) -> Fixture {
    let config = aws_config().await;
    let prefix = format!("/{}/", unique_name("hb-ingest"));
    put_secure_parameter(&config, &format!("{prefix}stripe"), secret_value).await;
    let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(SIGNED_AT));
    let secrets = SsmSecretStore::new(
        aws_sdk_ssm::Client::new(&config),
        prefix.clone(),
        clock.clone(),
    )
    .with_ttl(TTL);
    let publisher = EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&config), bus_name)
        .with_retry_policy(RetryPolicy {
            max_attempts: 2,
            ..RetryPolicy::default()
        });
    let sources = Sources::from_json(r#"{"stripe":{"kind":"stripe"}}"#).unwrap();
    Fixture {
        ingest: Ingest::new(
            sources,
            secrets,
            publisher,
            clock.clone(),
            S3PayloadStore::new(&config, PAYLOAD_BUCKET),
        ),
        clock,
        prefix,
        config,
    }
}

fn stripe_request(secret: &str, signed_at: SystemTime) -> Request {
    let t = signed_at.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    http::Request::builder()
        .method("POST")
        .uri("https://abc.execute-api.us-east-1.amazonaws.com/webhooks/stripe")
        .header("stripe-signature", stripe::sign(secret, t, BODY.as_bytes()))
        .header("content-type", "application/json")
        .body(Body::from(BODY))
        .unwrap()
}

fn json_of(response: &lambda_http::Response<Body>) -> serde_json::Value {
    serde_json::from_slice(response.body().as_ref()).unwrap()
}

#[tokio::test]
async fn verified_webhook_lands_on_the_bus_as_the_contract_event() {
    let config = aws_config().await;
    let tap = BusTap::with_new_bus(&config).await;
    let f = fixture(tap.bus_name(), "whsec_live").await;

    let response = f
        .ingest
        .handle(stripe_request("whsec_live", f.clock.now()))
        .await;
    assert_eq!(response.status(), 202);
    let accepted = json_of(&response);
    assert_eq!(accepted["id"], "evt_it_1");

    let events = tap.receive(1, Duration::from_secs(10)).await;
    assert_eq!(events.len(), 1, "exactly one event on the bus");
    let event = &events[0];
    assert_eq!(event.source, "hookbridge.stripe");
    assert_eq!(event.detail_type, "payment_intent.succeeded");
    let envelope = &event.detail;
    assert_eq!(envelope["id"], "evt_it_1");
    assert_eq!(envelope["source"], "stripe");
    assert_eq!(envelope["type"], "payment_intent.succeeded");
    assert_eq!(envelope["correlation_id"], accepted["correlation_id"]);
    assert_eq!(envelope["received_at"], "2026-11-24T00:00:00.000Z");
    assert_eq!(envelope["occurred_at"], "2026-11-23T23:59:59Z");
    assert_eq!(
        envelope["payload"],
        serde_json::from_str::<serde_json::Value>(BODY).unwrap()
    );
}

#[tokio::test]
async fn both_rotated_secrets_verify() {
    let config = aws_config().await;
    let tap = BusTap::with_new_bus(&config).await;
    let f = fixture(tap.bus_name(), "whsec_old,whsec_new").await;
    for secret in ["whsec_old", "whsec_new"] {
        let response = f.ingest.handle(stripe_request(secret, f.clock.now())).await;
        assert_eq!(response.status(), 202, "{secret}");
    }
    let response = f
        .ingest
        .handle(stripe_request("whsec_other", f.clock.now()))
        .await;
    assert_eq!(response.status(), 401);
    assert_eq!(tap.receive(2, Duration::from_secs(10)).await.len(), 2);
    assert!(
        tap.receive(1, Duration::from_secs(1)).await.is_empty(),
        "the forged one never arrives"
    );
}

#[tokio::test]
async fn changed_secret_takes_effect_after_the_ttl() {
    let config = aws_config().await;
    let tap = BusTap::with_new_bus(&config).await;
    let f = fixture(tap.bus_name(), "whsec_before").await;
    let first = f
        .ingest
        .handle(stripe_request("whsec_before", f.clock.now()))
        .await;
    assert_eq!(first.status(), 202);

    put_secure_parameter(&f.config, &format!("{}stripe", f.prefix), "whsec_after").await;
    f.clock.advance(TTL - Duration::from_secs(1));
    let cached = f
        .ingest
        .handle(stripe_request("whsec_before", f.clock.now()))
        .await;
    assert_eq!(
        cached.status(),
        202,
        "the cached secret serves until the TTL ends"
    );

    f.clock.advance(Duration::from_secs(2));
    let old = f
        .ingest
        .handle(stripe_request("whsec_before", f.clock.now()))
        .await;
    assert_eq!(old.status(), 401, "the replaced secret no longer verifies");
    let new = f
        .ingest
        .handle(stripe_request("whsec_after", f.clock.now()))
        .await;
    assert_eq!(new.status(), 202);
}

#[tokio::test]
async fn missing_bus_answers_503_and_never_2xx() {
    let f = fixture(&unique_name("hb-no-such-bus"), "whsec_live").await;
    let response = f
        .ingest
        .handle(stripe_request("whsec_live", f.clock.now()))
        .await;
    assert_eq!(response.status(), 503);
    assert_eq!(json_of(&response)["error"]["code"], "bus_unavailable");
}

#[tokio::test]
async fn source_without_a_stored_secret_answers_503() {
    let config = aws_config().await;
    let tap = BusTap::with_new_bus(&config).await;
    let f = fixture(tap.bus_name(), "whsec_live").await;
    let secrets = SsmSecretStore::new(
        aws_sdk_ssm::Client::new(&config),
        format!("/{}/", unique_name("hb-empty")),
        f.clock.clone(),
    );
    let publisher =
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&config), tap.bus_name());
    let sources = Sources::from_json(r#"{"stripe":{"kind":"stripe"}}"#).unwrap();
    let ingest = Ingest::new(
        sources,
        secrets,
        publisher,
        f.clock.clone(),
        S3PayloadStore::new(&config, PAYLOAD_BUCKET),
    );
    let response = ingest
        .handle(stripe_request("whsec_live", f.clock.now()))
        .await;
    assert_eq!(response.status(), 503);
    assert_eq!(json_of(&response)["error"]["code"], "secrets_unavailable");
    assert!(tap.receive(1, Duration::from_secs(2)).await.is_empty());
}
