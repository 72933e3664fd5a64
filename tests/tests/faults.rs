//! Fault injection with real parts: the handlers with their production
//! adapters, the AWS SDK's real code paths, moto's server and loopback HTTP
//! targets, with a [`FaultProxy`] in between that refuses, resets, cuts,
//! delays or answers errors. What must hold whatever the network does:
//!
//! - ingest never answers 2xx for an event that is not on the bus, and the
//!   provider's retry once the fault clears is recorded exactly once;
//! - deliver answers 200 only after a 2xx from the target, so SNS retries
//!   every other attempt, and every attempt carries the same `webhook-id`;
//! - consume fails (so Lambda retries) without leaving a projection behind
//!   that has no event item, and the retry records the event once;
//! - ingest without SSM answers 503 (never 401) when cold and keeps serving
//!   its cached secrets when warm.
//!
//! Ingest and consume meet each fault twice: for every attempt (the
//! adapter's retries give up, the caller's retry must recover) and for one
//! attempt only (a blip the adapter's own retries absorb). Each scenario
//! runs its faults concurrently, one proxy and its own resources each, so
//! the whole file takes a few seconds.

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::SdkConfig;
use consume::{Consumer, Outcome};
use hookbridge_aws::dynamodb::{attr, event_key, projection_key};
use hookbridge_aws::ssm::SsmSecretStore;
use hookbridge_aws::{DynamoDbEventStore, EventBridgePublisher, RetryPolicy};
use hookbridge_core::config::Sources;
use hookbridge_core::ports::Clock;
use hookbridge_core::providers::{standard, stripe};
use hookbridge_core::secret::SecretSet;
use hookbridge_testkit::http_target::{HttpTarget, Script};
use hookbridge_testkit::{ManualClock, MemoryPayloads};
use hookbridge_tests::deliver_fixtures::{
    OUTBOUND, PAYLOAD, PAYLOAD_BUCKET, notification, single_target_deliver,
};
use hookbridge_tests::dev_process::webhooks::STRIPE_SECRET;
use hookbridge_tests::fault_proxy::{FaultProxy, Mode};
use hookbridge_tests::{
    BusTap, Item, all_items, aws_config, create_events_table, put_secure_parameter, text,
    unique_name,
};
use ingest::Ingest;
use lambda_http::http::{self, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use tokio::task::JoinSet;

const SOURCES: &str = r#"{"stripe":{"kind":"stripe"}}"#;
const SIGNED_AT: u64 = 1_795_478_400;

/// Two attempts with next to no wait: the publisher's retry is exercised
/// without slowing the tests down.
const FAST_RETRIES: RetryPolicy = RetryPolicy {
    max_attempts: 2,
    base_delay: Duration::from_millis(10),
    max_delay: Duration::from_millis(10),
};

/// The publisher's bound on one `PutEvents` in the ingest scenario.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(1);

/// Long enough to see that no further event arrives: moto routes a
/// `PutEvents` to the tap's queue before it answers.
const QUIET: Duration = Duration::from_millis(1500);

fn throttled() -> Mode {
    Mode::aws_error(400, "ThrottlingException")
}

fn internal_failure() -> Mode {
    Mode::aws_error(500, "InternalFailure")
}

fn service_unavailable() -> Mode {
    Mode::aws_error(503, "ServiceUnavailable")
}

fn clock() -> ManualClock {
    ManualClock::new(UNIX_EPOCH + Duration::from_secs(SIGNED_AT))
}

fn sources() -> Sources {
    Sources::from_json(SOURCES).expect("valid sources")
}

/// A Stripe event about payment intent `pi_<event_id>`, signed at `at` as
/// Stripe signs it: the same arguments give the same bytes, as a provider's
/// retry sends them.
fn stripe_webhook(event_id: &str, at: SystemTime) -> Request {
    let body = format!(
        r#"{{"id":"{event_id}","object":"event","type":"payment_intent.succeeded","created":{},"data":{{"object":{{"id":"pi_{event_id}","amount":2000}}}}}}"#,
        SIGNED_AT - 1
    );
    let t = at.duration_since(UNIX_EPOCH).unwrap().as_secs() as i64;
    http::Request::builder()
        .method("POST")
        .uri("https://abc.execute-api.us-east-1.amazonaws.com/webhooks/stripe")
        .header(
            "stripe-signature",
            stripe::sign(STRIPE_SECRET, t, body.as_bytes()),
        )
        .header("content-type", "application/json")
        .body(Body::from(body))
        .unwrap()
}

fn json_of(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref()).expect("every answer is JSON")
}

/// Stores the Stripe secret under a fresh prefix and returns the prefix.
async fn stripe_secret_prefix(config: &SdkConfig) -> String {
    let prefix = format!("/{}/", unique_name("hb-faults"));
    put_secure_parameter(config, &format!("{prefix}stripe"), STRIPE_SECRET).await;
    prefix
}

// ---------------------------------------------------------------- DynamoDB

/// The consume handler on `table`, reaching DynamoDB with `client`.
fn consumer(
    client: aws_sdk_dynamodb::Client,
    table: &str,
) -> Consumer<DynamoDbEventStore, MemoryPayloads> {
    let settings = consume::Settings::from_lookup(|name| match name {
        "TABLE_NAME" => Some(table.to_owned()),
        "HOOKBRIDGE_SOURCES" => Some(SOURCES.to_owned()),
        "PAYLOAD_BUCKET" => Some(PAYLOAD_BUCKET.to_owned()),
        _ => None,
    })
    .expect("settings");
    Consumer::new(
        DynamoDbEventStore::new(client, table),
        MemoryPayloads::new(PAYLOAD_BUCKET),
        settings,
    )
}

/// The table's invariant: a projection names an event whose item exists.
fn assert_no_projection_without_its_event(items: &[Item], context: &str) {
    let keys: Vec<&str> = items.iter().map(|item| text(item, attr::PK)).collect();
    for projection in items
        .iter()
        .filter(|item| text(item, attr::RECORD) == "projection")
    {
        let event = event_key(
            text(projection, attr::SOURCE),
            text(projection, attr::EVENT_ID),
        );
        assert!(
            keys.contains(&event.as_str()),
            "{context}: projection {} without its event item {event}",
            text(projection, attr::PK)
        );
    }
}

/// Exactly the event item of `event_id` and its payment intent's
/// projection, pointing at it.
fn assert_recorded_once(items: &[Item], event_id: &str, object_id: &str, context: &str) {
    let mut keys: Vec<&str> = items.iter().map(|item| text(item, attr::PK)).collect();
    keys.sort_unstable();
    let projection = projection_key("stripe", object_id);
    let event = event_key("stripe", event_id);
    assert_eq!(keys, [event.as_str(), projection.as_str()], "{context}");
    let projection = items
        .iter()
        .find(|item| text(item, attr::RECORD) == "projection")
        .expect("checked above");
    assert_eq!(text(projection, attr::EVENT_ID), event_id, "{context}");
}

/// The EventBridge event a tap read, as the bus hands it to consume.
fn as_invocation(event: &hookbridge_tests::BusEvent) -> String {
    json!({
        "version": "0",
        "id": event.id,
        "detail-type": event.detail_type,
        "source": event.source,
        "account": "123456789012",
        "time": "2026-11-24T00:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": event.detail,
    })
    .to_string()
}

// ------------------------------------------------------------ 1. ingest

type ProxiedIngest =
    Ingest<SsmSecretStore<ManualClock>, EventBridgePublisher, ManualClock, MemoryPayloads>;

/// The faults of a service as the tests inject them, each with a name.
fn service_faults() -> Vec<(&'static str, Mode)> {
    vec![
        ("refused", Mode::Refuse),
        ("reset", Mode::Reset),
        ("throttled", throttled()),
        ("internal", internal_failure()),
        ("unavailable", service_unavailable()),
        ("cut", Mode::CutAfterForward),
    ]
}

/// Whether the service may have done the work although the client saw an
/// error: the request was forwarded and its answer lost.
fn is_ambiguous(fault: &Mode) -> bool {
    matches!(fault, Mode::CutAfterForward | Mode::DelayResponse(_))
}

/// Runs `run` once per fault, concurrently, and fails with the first panic.
async fn for_each_fault<F, R>(faults: Vec<(&'static str, Mode)>, run: F)
where
    F: Fn(&'static str, Mode) -> R,
    R: Future<Output = ()> + Send + 'static,
{
    let mut runs = JoinSet::new();
    for (name, fault) in faults {
        runs.spawn(run(name, fault));
    }
    while let Some(finished) = runs.join_next().await {
        if let Err(error) = finished {
            std::panic::resume_unwind(error.into_panic());
        }
    }
}

/// Ingest with its secret read from moto and EventBridge reached through
/// `proxy`, retrying quickly.
async fn ingest_via(proxy: &FaultProxy, bus: &str, clock: &ManualClock) -> ProxiedIngest {
    let config = aws_config().await;
    let secrets = SsmSecretStore::new(
        aws_sdk_ssm::Client::new(&config),
        stripe_secret_prefix(&config).await,
        clock.clone(),
    );
    let publisher = EventBridgePublisher::new(proxy.eventbridge().await, bus)
        .with_retry_policy(FAST_RETRIES)
        .with_attempt_timeout(ATTEMPT_TIMEOUT);
    Ingest::new(
        sources(),
        secrets,
        publisher,
        clock.clone(),
        MemoryPayloads::new(PAYLOAD_BUCKET),
    )
}

/// Reads the `copies` of event `event_id` the bus carries (and waits long
/// enough to see there are no more), then consumes each into `table`: the
/// first records the event, every further copy is a duplicate.
async fn consume_every_copy(name: &str, tap: &BusTap, copies: usize, event_id: &str, table: &str) {
    let events = tap.receive(copies + 1, QUIET).await;
    assert_eq!(events.len(), copies, "{name}: {events:?}");
    let consumer = consumer(aws_sdk_dynamodb::Client::new(&aws_config().await), table);
    let mut outcomes = Vec::new();
    for event in &events {
        assert_eq!(event.detail["id"], event_id, "{name}");
        let consumed = consumer
            .handle(&as_invocation(event))
            .await
            .unwrap_or_else(|error| panic!("{name}: consume: {error}"));
        outcomes.push(consumed.outcome);
    }
    assert_eq!(outcomes[0], Outcome::ProjectionUpdated, "{name}");
    assert!(
        outcomes[1..]
            .iter()
            .all(|outcome| *outcome == Outcome::Duplicate),
        "{name}: every further copy is a duplicate: {outcomes:?}"
    );
}

/// Every event of `names` (`evt_<name>`) is in `table` once, with its
/// projection, and no projection lacks its event.
async fn assert_each_recorded_once(table: &str, names: &[&str]) {
    let items = all_items(&aws_config().await, table).await;
    assert_no_projection_without_its_event(&items, table);
    for name in names {
        let event_id = format!("evt_{name}");
        let mine: Vec<Item> = items
            .iter()
            .filter(|item| text(item, attr::EVENT_ID) == event_id)
            .cloned()
            .collect();
        assert_recorded_once(&mine, &event_id, &format!("pi_{event_id}"), name);
    }
}

/// EventBridge fails every attempt of one delivery; the provider retries
/// once it has recovered; everything the bus carried is consumed.
async fn ingest_through_a_failing_bus(name: &'static str, fault: Mode, table: String) {
    let tap = BusTap::with_new_bus(&aws_config().await).await;
    let proxy = FaultProxy::in_front_of_emulator().await;
    let clock = clock();
    let ingest = ingest_via(&proxy, tap.bus_name(), &clock).await;
    let event_id = format!("evt_{name}");

    proxy.set_mode(fault.clone());
    let refused = ingest.handle(stripe_webhook(&event_id, clock.now())).await;
    assert_eq!(refused.status(), 503, "{name}: {:?}", json_of(&refused));
    assert_eq!(
        json_of(&refused)["error"]["code"],
        "bus_unavailable",
        "{name}"
    );
    assert_eq!(
        proxy.handled_as(&fault),
        FAST_RETRIES.max_attempts as usize,
        "{name}: every attempt of the publisher met the fault"
    );

    proxy.set_mode(Mode::Pass);
    let accepted = ingest.handle(stripe_webhook(&event_id, clock.now())).await;
    assert_eq!(accepted.status(), 202, "{name}: the provider's retry");
    assert_eq!(json_of(&accepted)["id"], event_id.as_str(), "{name}");

    // What reached EventBridge is exactly what moto was forwarded: the
    // retry, and in the ambiguous cases also each attempt that moto took
    // but whose answer never arrived.
    let copies = proxy.forwarded();
    if is_ambiguous(&fault) {
        assert_eq!(copies, FAST_RETRIES.max_attempts as usize + 1, "{name}");
    } else {
        assert_eq!(
            copies, 1,
            "{name}: nothing reached the bus during the fault"
        );
    }
    consume_every_copy(name, &tap, copies, &event_id, &table).await;
}

#[tokio::test]
async fn ingest_never_acknowledges_what_eventbridge_did_not_take_and_the_retry_lands_once() {
    let table = create_events_table(&aws_config().await, "hb-faults").await;
    let mut faults = service_faults();
    faults.push((
        "late",
        Mode::DelayResponse(ATTEMPT_TIMEOUT + Duration::from_millis(500)),
    ));
    let names: Vec<&str> = faults.iter().map(|(name, _)| *name).collect();

    for_each_fault(faults, |name, fault| {
        ingest_through_a_failing_bus(name, fault, table.clone())
    })
    .await;

    assert_each_recorded_once(&table, &names).await;
}

/// EventBridge fails one attempt only: the publisher's own retry gets the
/// event through and the provider sees nothing but a 202.
async fn ingest_through_a_blip(name: &'static str, fault: Mode, table: String) {
    let tap = BusTap::with_new_bus(&aws_config().await).await;
    let proxy = FaultProxy::in_front_of_emulator().await;
    let clock = clock();
    let ingest = ingest_via(&proxy, tap.bus_name(), &clock).await;
    let event_id = format!("evt_{name}");

    proxy.queue([fault.clone()]);
    let accepted = ingest.handle(stripe_webhook(&event_id, clock.now())).await;
    assert_eq!(accepted.status(), 202, "{name}: {:?}", json_of(&accepted));
    assert_eq!(proxy.handled(), [fault.clone(), Mode::Pass], "{name}");

    let copies = proxy.forwarded();
    assert_eq!(copies, if is_ambiguous(&fault) { 2 } else { 1 }, "{name}");
    consume_every_copy(name, &tap, copies, &event_id, &table).await;
}

#[tokio::test]
async fn a_bus_blip_within_the_publishers_retries_is_answered_202_and_recorded_once() {
    let table = create_events_table(&aws_config().await, "hb-faults").await;
    let faults = service_faults();
    let names: Vec<&str> = faults.iter().map(|(name, _)| *name).collect();

    for_each_fault(faults, |name, fault| {
        ingest_through_a_blip(name, fault, table.clone())
    })
    .await;

    assert_each_recorded_once(&table, &names).await;
}

// ------------------------------------------------------------ 2. deliver

/// deliver's bound on one POST to the target in this scenario.
const TARGET_TIMEOUT: Duration = Duration::from_secs(1);

#[tokio::test]
async fn deliver_reports_delivered_only_after_a_2xx_from_a_flapping_target() {
    let config = aws_config().await;
    let target = HttpTarget::start(Script::in_order([500, 503]));
    // The target is down at first: nothing listens on its address.
    let proxy = FaultProxy::refusing(target.address());
    let deliver =
        single_target_deliver(&config, &format!("{}/hooks", proxy.url()), TARGET_TIMEOUT).await;

    // Each call is one SNS attempt; SNS retries while deliver answers 5xx.
    let response = deliver.handle(notification()).await;
    let body = json_of(&response);
    assert_eq!(
        response.status(),
        StatusCode::BAD_GATEWAY,
        "connection refused: {body}"
    );
    assert_eq!(body["error"]["code"], "target_unreachable");

    // The target comes up, and flaps.
    let steps = [
        ("target answers 500", Mode::Pass, "target_rejected"),
        ("target answers 503", Mode::Pass, "target_rejected"),
        (
            "target answers after the timeout",
            Mode::DelayResponse(TARGET_TIMEOUT + Duration::from_millis(500)),
            "target_timeout",
        ),
        ("connection reset", Mode::Reset, "target_unreachable"),
        (
            "connection closed unanswered",
            Mode::Refuse,
            "target_unreachable",
        ),
    ];
    proxy.listen();
    for (step, mode, code) in &steps {
        proxy.set_mode(mode.clone());
        let response = deliver.handle(notification()).await;
        let body = json_of(&response);
        assert_eq!(response.status(), StatusCode::BAD_GATEWAY, "{step}: {body}");
        assert_eq!(body["error"]["code"], *code, "{step}");
    }
    let slow = Mode::DelayResponse(Duration::from_millis(200));
    proxy.set_mode(slow.clone());
    let response = deliver.handle(notification()).await;
    assert_eq!(response.status(), StatusCode::OK, "slow but in time");
    assert_eq!(
        json_of(&response),
        json!({"status": "delivered", "id": "evt_42"})
    );

    let modes: Vec<Mode> = steps.iter().map(|(_, mode, _)| mode.clone()).collect();
    assert_eq!(
        proxy.handled(),
        [modes, vec![slow]].concat(),
        "every fault fired"
    );
    // 500, 503, the late 200 nobody waited for, and the 200 that counted.
    let received = target.requests();
    assert_eq!(received.len(), 4, "{received:?}");
    for request in &received {
        let headers = &request.headers;
        assert_eq!(
            headers["webhook-id"], "evt_42",
            "the target can deduplicate"
        );
        assert_eq!(request.body, PAYLOAD.as_bytes());
        assert_eq!(
            standard::verify(
                headers,
                &request.body,
                &SecretSet::parse(OUTBOUND),
                SystemTime::now(),
                Duration::from_secs(300),
            ),
            Ok(()),
            "every attempt is signed by the Standard Webhooks algorithm"
        );
    }
}

// ------------------------------------------------------------ 3. consume

const STRIPE_SAMPLE: &str = include_str!("../../events/consume-stripe.json");
const SAMPLE_EVENT: &str = "evt_3QdevHookbridge0001";
const SAMPLE_OBJECT: &str = "pi_3QdevHookbridge0001";

/// The table holds the sample event once, with its projection, and both
/// carry the provider's payload unchanged.
fn assert_sample_recorded_once(items: &[Item], name: &str) {
    assert_recorded_once(items, SAMPLE_EVENT, SAMPLE_OBJECT, name);
    let sample: Value = serde_json::from_str(STRIPE_SAMPLE).unwrap();
    for item in items {
        let payload: Value = serde_json::from_str(text(item, attr::PAYLOAD)).unwrap();
        assert_eq!(payload, sample["detail"]["payload"], "{name}");
    }
}

/// DynamoDB fails every attempt while consume records the sample event;
/// Lambda retries once it has recovered.
async fn consume_through_a_failing_table(name: &'static str, fault: Mode) {
    let config = aws_config().await;
    let table = create_events_table(&config, "hb-faults").await;
    let proxy = FaultProxy::in_front_of_emulator().await;
    let consumer = consumer(proxy.dynamodb().await, &table);

    proxy.set_mode(fault.clone());
    let error = consumer
        .handle(STRIPE_SAMPLE)
        .await
        .expect_err("an error, so Lambda retries");
    assert_eq!(error.code(), "store_unavailable", "{name}: {error}");
    assert!(proxy.handled_as(&fault) >= 1, "{name}: the fault fired");
    assert_eq!(
        proxy.handled_as(&fault),
        proxy.handled().len(),
        "{name}: every attempt met the fault"
    );

    let items = all_items(&config, &table).await;
    assert_no_projection_without_its_event(&items, name);
    if is_ambiguous(&fault) {
        assert!(proxy.forwarded() >= 1, "{name}");
        assert_sample_recorded_once(&items, name);
    } else {
        assert_eq!(proxy.forwarded(), 0, "{name}");
        assert!(items.is_empty(), "{name}: nothing written: {items:?}");
    }

    proxy.set_mode(Mode::Pass);
    let retried = consumer
        .handle(STRIPE_SAMPLE)
        .await
        .unwrap_or_else(|error| panic!("{name}: Lambda's retry: {error}"));
    let expected = if is_ambiguous(&fault) {
        Outcome::Duplicate
    } else {
        Outcome::ProjectionUpdated
    };
    assert_eq!(retried.outcome, expected, "{name}");
    assert_sample_recorded_once(&all_items(&config, &table).await, name);
}

#[tokio::test]
async fn consume_fails_retryably_without_half_writes_and_the_retry_records_once() {
    for_each_fault(service_faults(), consume_through_a_failing_table).await;
}

/// DynamoDB fails one attempt only: the store's own retries record the
/// event within the same invocation.
async fn consume_through_a_blip(name: &'static str, fault: Mode) {
    let config = aws_config().await;
    let table = create_events_table(&config, "hb-faults").await;
    let proxy = FaultProxy::in_front_of_emulator().await;
    let consumer = consumer(proxy.dynamodb().await, &table);

    proxy.queue([fault.clone()]);
    let consumed = consumer
        .handle(STRIPE_SAMPLE)
        .await
        .unwrap_or_else(|error| panic!("{name}: {error}"));

    assert_eq!(proxy.handled(), [fault.clone(), Mode::Pass], "{name}");
    // After a cut, the retried transaction meets its own write. DynamoDB
    // knows the retry by the SDK's ClientRequestToken and answers success;
    // moto ignores the token and cancels it, which reads as a duplicate.
    // Either way the table is right.
    let expected = if is_ambiguous(&fault) {
        Outcome::Duplicate
    } else {
        Outcome::ProjectionUpdated
    };
    assert_eq!(consumed.outcome, expected, "{name}");
    assert_sample_recorded_once(&all_items(&config, &table).await, name);
}

#[tokio::test]
async fn a_dynamodb_blip_within_the_stores_retries_records_the_event_once() {
    for_each_fault(service_faults(), consume_through_a_blip).await;
}

// ------------------------------------------------------------ 4. SSM

#[tokio::test]
async fn a_cold_start_without_ssm_answers_503_not_401_and_loses_nothing() {
    let config = aws_config().await;
    let tap = BusTap::with_new_bus(&config).await;
    let proxy = FaultProxy::in_front_of_emulator().await;
    let clock = clock();
    // A fresh container: nothing cached, SSM through the proxy, the bus direct.
    let secrets = SsmSecretStore::new(
        proxy.ssm().await,
        stripe_secret_prefix(&config).await,
        clock.clone(),
    );
    let publisher =
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&config), tap.bus_name());
    let ingest = Ingest::new(
        sources(),
        secrets,
        publisher,
        clock.clone(),
        MemoryPayloads::new(PAYLOAD_BUCKET),
    );

    // A failed read caches nothing: the container stays cold through them all.
    for fault in [
        Mode::Refuse,
        Mode::Reset,
        throttled(),
        internal_failure(),
        service_unavailable(),
    ] {
        proxy.set_mode(fault.clone());
        let response = ingest.handle(stripe_webhook("evt_cold", clock.now())).await;
        let body = json_of(&response);
        assert_eq!(response.status(), 503, "{fault:?}: {body}");
        assert_eq!(body["error"]["code"], "secrets_unavailable", "{fault:?}");
        assert!(proxy.handled_as(&fault) >= 1, "{fault:?} fired");
    }
    assert_eq!(proxy.forwarded(), 0, "SSM never answered");

    proxy.set_mode(Mode::Pass);
    let response = ingest.handle(stripe_webhook("evt_cold", clock.now())).await;
    assert_eq!(
        response.status(),
        202,
        "the provider's retry once SSM is back"
    );

    let events = tap.receive(2, QUIET).await;
    assert_eq!(events.len(), 1, "only the accepted attempt is on the bus");
    assert_eq!(events[0].detail["id"], "evt_cold");
}

#[tokio::test]
async fn a_warm_container_keeps_serving_cached_secrets_while_ssm_is_down() {
    const TTL: Duration = Duration::from_secs(300);
    let config = aws_config().await;
    let tap = BusTap::with_new_bus(&config).await;
    let prefix = stripe_secret_prefix(&config).await;
    let proxy = FaultProxy::in_front_of_emulator().await;
    let clock = clock();
    let secrets = SsmSecretStore::new(proxy.ssm().await, prefix, clock.clone()).with_ttl(TTL);
    let publisher =
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&config), tap.bus_name());
    let ingest = Ingest::new(
        sources(),
        secrets,
        publisher,
        clock.clone(),
        MemoryPayloads::new(PAYLOAD_BUCKET),
    );

    let first = ingest
        .handle(stripe_webhook("evt_warm_1", clock.now()))
        .await;
    assert_eq!(first.status(), 202);
    assert_eq!(proxy.forwarded(), 1, "the secret was read from SSM once");

    proxy.set_mode(Mode::Refuse);
    let cached = ingest
        .handle(stripe_webhook("evt_warm_2", clock.now()))
        .await;
    assert_eq!(cached.status(), 202, "within the TTL");
    assert_eq!(proxy.handled_as(&Mode::Refuse), 0, "SSM is not asked");

    clock.advance(TTL * 2);
    let stale = ingest
        .handle(stripe_webhook("evt_warm_3", clock.now()))
        .await;
    assert_eq!(stale.status(), 202, "past the TTL, SSM refusing");
    assert!(proxy.handled_as(&Mode::Refuse) >= 1, "SSM was asked again");

    proxy.set_mode(throttled());
    let throttled_read = ingest
        .handle(stripe_webhook("evt_warm_4", clock.now()))
        .await;
    assert_eq!(throttled_read.status(), 202, "past the TTL, SSM throttling");
    assert!(proxy.handled_as(&throttled()) >= 1, "SSM was asked again");

    let events = tap.receive(4, Duration::from_secs(10)).await;
    let mut ids: Vec<&str> = events
        .iter()
        .map(|event| event.detail["id"].as_str().unwrap())
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        ["evt_warm_1", "evt_warm_2", "evt_warm_3", "evt_warm_4"]
    );
}
