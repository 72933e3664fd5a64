//! EventBridgePublisher against moto's EventBridge (one instance checking
//! signatures), and against loopback endpoints that throttle, fail, answer
//! nonsense or refuse connections.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use aws_config::BehaviorVersion;
use aws_credential_types::credential_fn::provide_credentials_fn;
use aws_sdk_eventbridge::config::{Credentials, Region};

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
    // Attempts are sent without the SDK's orchestrator (no SDK timeouts, no
    // stalled-stream protection): the attempt timeout alone must end an
    // attempt that never gets an answer.
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

#[tokio::test]
async fn an_answer_that_is_no_put_events_result_is_unavailable_not_accepted() {
    let not_json = Reply::aws_json(200, "<html>a proxy's error page</html>");
    let server = answering_then_gone(vec![not_json; 3]);
    let publisher = publisher_for(&server.url()).await;

    let result = publisher.publish(&stripe_event()).await;

    assert!(
        matches!(&result, Err(PublishError::Unavailable { attempts: 3, reason }) if reason.contains("unreadable")),
        "{result:?}"
    );
}

#[tokio::test]
async fn each_call_is_signed_with_the_credentials_the_provider_gives_at_that_time() {
    let server = answering_then_gone([
        Reply::aws_json(200, ACCEPTED),
        Reply::aws_json(200, ACCEPTED),
    ]);
    let issued = Arc::new(AtomicUsize::new(0));
    let rotating = {
        let issued = Arc::clone(&issued);
        provide_credentials_fn(move || {
            let n = issued.fetch_add(1, Ordering::SeqCst) + 1;
            // Expiring within the SDK cache's refresh margin: asked again each time.
            let expires = SystemTime::now() + Duration::from_secs(1);
            async move {
                Ok(Credentials::new(
                    "AKIDROTATING",
                    "rotating-secret",
                    Some(format!("session-{n}")),
                    Some(expires),
                    "rotating",
                ))
            }
        })
    };
    let config = aws_sdk_eventbridge::config::Builder::from(&aws_config().await)
        .endpoint_url(server.url())
        .credentials_provider(rotating)
        .build();
    let publisher = EventBridgePublisher::new(
        aws_sdk_eventbridge::Client::from_conf(config),
        "hookbridge-bus",
    )
    .with_retry_policy(NO_WAIT);

    for _ in 0..2 {
        publisher.publish(&stripe_event()).await.expect("accepted");
    }

    let tokens: Vec<String> = server
        .requests()
        .iter()
        .map(|request| {
            request
                .header("x-amz-security-token")
                .expect("a session token is sent")
                .to_owned()
        })
        .collect();
    assert_eq!(tokens.len(), 2);
    assert_ne!(
        tokens[0], tokens[1],
        "the second call uses the refreshed token"
    );
    let last = issued.load(Ordering::SeqCst);
    assert_eq!(
        tokens[1],
        format!("session-{last}"),
        "the newest token is used"
    );
    for request in server.requests() {
        let authorization = request.header("authorization").expect("signed");
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDROTATING/"),
            "{authorization}"
        );
        assert!(
            authorization.contains("/events/aws4_request"),
            "{authorization}"
        );
    }
}

#[tokio::test]
async fn without_an_endpoint_url_the_region_chooses_its_partitions_endpoint() {
    let cases = [
        ("us-east-1", false, "https://events.us-east-1.amazonaws.com"),
        (
            "eu-central-1",
            false,
            "https://events.eu-central-1.amazonaws.com",
        ),
        (
            "cn-north-1",
            false,
            "https://events.cn-north-1.amazonaws.com.cn",
        ),
        (
            "us-gov-west-1",
            false,
            "https://events.us-gov-west-1.amazonaws.com",
        ),
        (
            "us-iso-east-1",
            false,
            "https://events.us-iso-east-1.c2s.ic.gov",
        ),
        (
            "us-east-1",
            true,
            "https://events-fips.us-east-1.amazonaws.com",
        ),
    ];
    for (region, fips, expected) in cases {
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .use_fips(fips)
            .credentials_provider(Credentials::new("AKID", "secret", None, None, "static"))
            .build();
        let publisher =
            EventBridgePublisher::new(aws_sdk_eventbridge::Client::from_conf(config), "bus");

        let endpoint = publisher.endpoint().await.expect("an endpoint");

        assert_eq!(
            endpoint.trim_end_matches('/'),
            expected,
            "{region}, FIPS {fips}"
        );
    }
}

/// A moto server of its own that checks every request's SigV4 signature
/// (the shared one accepts any): a user with an access key allowed to put
/// events on its own bus, created before checking starts.
struct SigningMoto {
    process: std::process::Child,
    url: String,
}

impl SigningMoto {
    async fn start() -> (Self, Credentials, String) {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let process = std::process::Command::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../.venv/bin/moto_server"
        ))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("moto_server runs (scripts/test installs it in .venv)");
        let moto = Self {
            process,
            url: format!("http://127.0.0.1:{port}"),
        };
        let http = reqwest::Client::new();
        let started = Instant::now();
        while http
            .get(format!("{}/moto-api/", moto.url))
            .send()
            .await
            .is_err()
        {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The four set-up calls below go unchecked; every later one is checked.
        http.post(format!("{}/moto-api/reset-auth", moto.url))
            .body("4")
            .send()
            .await
            .expect("auth checking set");
        let config = aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&moto.url)
            .load()
            .await;
        let iam = aws_sdk_iam::Client::new(&config);
        let user = "publisher";
        iam.create_user()
            .user_name(user)
            .send()
            .await
            .expect("user");
        let key = iam
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .expect("access key")
            .access_key
            .expect("the key");
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "events:PutEvents", "Resource": "*"}],
        });
        iam.put_user_policy()
            .user_name(user)
            .policy_name("put-events")
            .policy_document(policy.to_string())
            .send()
            .await
            .expect("policy");
        let bus = "signed-bus".to_owned();
        aws_sdk_eventbridge::Client::new(&config)
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .expect("bus");
        let credentials = Credentials::new(
            key.access_key_id,
            key.secret_access_key,
            None,
            None,
            "moto-iam",
        );
        (moto, credentials, bus)
    }

    async fn publisher(&self, credentials: Credentials, bus: &str) -> EventBridgePublisher {
        let config = aws_sdk_eventbridge::config::Builder::from(&aws_config().await)
            .endpoint_url(&self.url)
            .credentials_provider(credentials)
            .build();
        EventBridgePublisher::new(aws_sdk_eventbridge::Client::from_conf(config), bus)
            .with_retry_policy(NO_WAIT)
    }
}

impl Drop for SigningMoto {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

#[tokio::test]
async fn moto_checking_signatures_accepts_the_publishers_and_refuses_a_wrong_secret() {
    let (moto, credentials, bus) = SigningMoto::start().await;

    let signed = moto.publisher(credentials.clone(), &bus).await;
    signed
        .publish(&stripe_event())
        .await
        .expect("the signature is accepted");

    let wrong_secret = Credentials::new(
        credentials.access_key_id(),
        "not-the-secret",
        None,
        None,
        "wrong",
    );
    let result = moto
        .publisher(wrong_secret, &bus)
        .await
        .publish(&stripe_event())
        .await;
    assert!(
        matches!(&result, Err(PublishError::Rejected(reason)) if reason.contains("HTTP 403")),
        "a wrong signature must be refused, not retried: {result:?}"
    );
}
