//! EventBridgePublisher against moto's EventBridge, and against loopback
//! endpoints that throttle, fail or refuse connections.

use std::time::{Duration, Instant};

use hookbridge_aws::{EventBridgePublisher, RetryPolicy};
use hookbridge_core::ports::{BusEvent, EventPublisher, PublishError};
use hookbridge_testkit::http_target::{Answer, HttpTarget, Reply, Script, closed_loopback_url};
use hookbridge_tests::{BusTap, aws_config, unique_name};
use serde_json::{Value, json};

fn stripe_event() -> BusEvent {
    let detail = json!({
        "id": "evt_1",
        "source": "stripe",
        "type": "payment_intent.succeeded",
        "received_at": "2026-11-24T00:00:00.123Z",
        "occurred_at": null,
        "correlation_id": "6f1c2d0e-0000-4000-8000-000000000001",
        "payload": {"id": "evt_1", "object": "event"},
    });
    BusEvent {
        source: "hookbridge.stripe".to_owned(),
        detail_type: "payment_intent.succeeded".to_owned(),
        detail: detail.to_string(),
    }
}

/// A client for `endpoint` with the test environment's region and credentials,
/// and the SDK's default retry configuration (which the publisher must override).
async fn client_for(endpoint: &str) -> aws_sdk_eventbridge::Client {
    let config = aws_sdk_eventbridge::config::Builder::from(&aws_config().await)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_eventbridge::Client::from_conf(config)
}

/// A publisher to `hookbridge-bus` at `endpoint`, retrying without waiting.
async fn publisher_for(endpoint: &str) -> EventBridgePublisher {
    EventBridgePublisher::new(client_for(endpoint).await, "hookbridge-bus")
        .with_retry_policy(NO_WAIT)
}

/// Retries without waiting, so attempt counts are checked quickly.
const NO_WAIT: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_delay: Duration::ZERO,
    max_delay: Duration::ZERO,
};

const ACCEPTED: &str = r#"{"FailedEntryCount":0,"Entries":[{"EventId":"e-1"}]}"#;

/// An endpoint that answers `replies` in order, then goes away.
fn answering_then_gone(replies: impl IntoIterator<Item = Reply>) -> HttpTarget {
    HttpTarget::start(Script::in_order(replies).then(Answer::GoAway))
}

fn failed_entry(code: &str) -> Reply {
    Reply::aws_json(
        200,
        format!(
            r#"{{"FailedEntryCount":1,"Entries":[{{"ErrorCode":"{code}","ErrorMessage":"scripted"}}]}}"#
        ),
    )
}

#[tokio::test]
async fn published_event_reaches_the_bus_with_source_detail_type_and_detail() {
    let config = aws_config().await;
    let tap = BusTap::with_new_bus(&config).await;
    let publisher =
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::new(&config), tap.bus_name());
    let event = stripe_event();

    publisher
        .publish(&event)
        .await
        .expect("publish to an existing bus");

    let received = tap.receive(1, Duration::from_secs(10)).await;
    assert_eq!(
        received.len(),
        1,
        "exactly one event on the bus: {received:?}"
    );
    assert_eq!(received[0].source, event.source);
    assert_eq!(received[0].detail_type, event.detail_type);
    let sent: Value = serde_json::from_str(&event.detail).unwrap();
    assert_eq!(received[0].detail, sent);
}

#[tokio::test]
async fn publishing_to_a_missing_bus_is_rejected() {
    let config = aws_config().await;
    let publisher = EventBridgePublisher::new(
        aws_sdk_eventbridge::Client::new(&config),
        unique_name("hookbridge-missing"),
    );

    let result = publisher.publish(&stripe_event()).await;

    assert!(
        matches!(result, Err(PublishError::Rejected(_))),
        "a missing bus must be an error, not retried: {result:?}"
    );
}

#[tokio::test]
async fn a_throttled_entry_inside_a_200_is_retried_until_accepted() {
    let server = answering_then_gone([
        failed_entry("ThrottlingException"),
        Reply::aws_json(200, ACCEPTED),
    ]);
    let publisher = publisher_for(&server.url()).await;

    publisher
        .publish(&stripe_event())
        .await
        .expect("accepted on the second attempt");

    let bodies: Vec<_> = server
        .requests()
        .into_iter()
        .map(|request| request.body)
        .collect();
    assert_eq!(bodies.len(), 2);
    assert_eq!(bodies[0], bodies[1], "the retry sends the same entry");
    let request: Value = serde_json::from_slice(&bodies[1]).unwrap();
    let entry = &request["Entries"][0];
    assert_eq!(entry["EventBusName"], "hookbridge-bus");
    assert_eq!(entry["Source"], "hookbridge.stripe");
    assert_eq!(entry["DetailType"], "payment_intent.succeeded");
    assert_eq!(entry["Detail"], stripe_event().detail);
}

#[tokio::test]
async fn a_throttled_call_is_retried_until_accepted() {
    let server = answering_then_gone([
        Reply::aws_json(
            400,
            r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#,
        ),
        Reply::aws_json(200, ACCEPTED),
    ]);
    let publisher = publisher_for(&server.url()).await;

    publisher
        .publish(&stripe_event())
        .await
        .expect("accepted on the second attempt");

    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_by_the_publisher_alone_and_give_up_after_max_attempts() {
    // More failures than any retry layer needs: the count shows that the SDK's
    // own retries (3 attempts by default) do not multiply the publisher's.
    let internal_error = Reply::aws_json(
        500,
        r#"{"__type":"InternalException","message":"scripted"}"#,
    );
    let server = answering_then_gone(vec![internal_error; 12]);
    let publisher = publisher_for(&server.url()).await;

    let result = publisher.publish(&stripe_event()).await;

    assert!(
        matches!(result, Err(PublishError::Unavailable { attempts: 3, .. })),
        "{result:?}"
    );
    assert_eq!(server.requests().len(), 3);
}

#[tokio::test]
async fn a_permanently_failed_entry_is_rejected_without_retry() {
    let server = answering_then_gone([
        failed_entry("MalformedDetail"),
        Reply::aws_json(200, ACCEPTED),
    ]);
    let publisher = publisher_for(&server.url()).await;

    let result = publisher.publish(&stripe_event()).await;

    assert!(
        matches!(&result, Err(PublishError::Rejected(reason)) if reason.contains("MalformedDetail")),
        "{result:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

#[tokio::test]
async fn unreachable_endpoint_is_unavailable_after_bounded_attempts_in_bounded_time() {
    let publisher =
        EventBridgePublisher::new(client_for(&closed_loopback_url()).await, "hookbridge-bus");
    let started = Instant::now();

    let result = publisher.publish(&stripe_event()).await;

    assert!(
        matches!(result, Err(PublishError::Unavailable { attempts: 3, .. })),
        "{result:?}"
    );
    // Refused connections fail at once; what remains is the default policy's
    // jittered waits (under 150 ms). The bound is loose on purpose: it only
    // catches unbounded or multiplied retries, not slowness.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_stalled_endpoint_is_given_up_after_bounded_attempts() {
    // The SDK's stalled-stream protection is off: the attempt timeout alone
    // must end an attempt that never gets an answer.
    let server = HttpTarget::start(Script::always(Answer::Stall));
    let publisher = publisher_for(&server.url())
        .await
        .with_attempt_timeout(Duration::from_millis(200));
    let started = Instant::now();

    let result = publisher.publish(&stripe_event()).await;

    assert!(
        matches!(result, Err(PublishError::Unavailable { attempts: 3, .. })),
        "{result:?}"
    );
    assert_eq!(server.requests().len(), 3);
    // Loose on purpose, as above: it catches an attempt left unbounded.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
}
