//! The deliver handler with real parts: a real HTTP target on loopback that
//! fails and then recovers, the production HTTP client, the outbound secrets
//! read from SSM and the delivery status written to DynamoDB (moto), and
//! `hookbridge status --aws` reading it back. Most tests hand-build SNS
//! messages and so trust them; one takes a message that moto's SNS signed
//! and posted over HTTP through the production signature check.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use deliver::{Deliver, DeliverySettings, Outbound, Settings, SnsSignatures};
use hookbridge_aws::certificates::fetch_certificate;
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::dead_letters::SqsFinalDeadLetters;
use hookbridge_aws::delivery_status::{DynamoDbDeliveryStatus, delivery_key, index_key};
use hookbridge_aws::dynamodb::attr;
use hookbridge_aws::s3::S3PayloadStore;
use hookbridge_aws::ssm::SsmSecretStore;
use hookbridge_aws::webhook_target::HttpWebhookTarget;
use hookbridge_core::delivery_status::{
    Attempt, AttemptOutcome, DeliveryState, MAX_RECORDED_ATTEMPTS,
};
use hookbridge_core::destinations::{DestinationName, Destinations};
use hookbridge_core::ports::{CertificateError, CertificateSource, DeliveryStatusStore};
use hookbridge_core::providers::standard;
use hookbridge_core::secret::SecretSet;
use hookbridge_core::sns::{CertificateUrl, SigningCertificate};
use hookbridge_testkit::NoConfirmations;
use hookbridge_testkit::http_target::{Answer, HttpTarget, Reply, Script, closed_loopback_url};
use hookbridge_tests::deliver_fixtures::{
    ENVELOPE, OUTBOUND, PAYLOAD_BUCKET, TrustingDeliver, notification, notification_for,
    outbound_prefix, queue_prefix, single_target_deliver, trusting_deliver,
};
use hookbridge_tests::dev_process::hookbridge_binary;
use hookbridge_tests::{
    all_items, aws_config, create_events_table, create_topic, put_secure_parameter, text,
};
use lambda_http::Body;
use lambda_http::http::{self, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

/// The target's answer `status`, with a JSON body as a real endpoint's.
fn status(status: u16) -> Answer {
    Reply::json(status, r#"{"ok":false}"#).into()
}

/// The handler as main.rs builds it, but for trust and a shorter timeout.
async fn deliver_to(target_url: &str, timeout: Duration) -> TrustingDeliver {
    single_target_deliver(&aws_config().await, target_url, timeout).await
}

async fn send(deliver: &TrustingDeliver) -> (StatusCode, Value) {
    let response = deliver.handle(notification()).await;
    let body = serde_json::from_slice(response.body()).expect("every answer is JSON");
    (response.status(), body)
}

#[tokio::test]
async fn a_target_that_fails_twice_then_recovers_gets_the_same_signed_webhook() {
    let target = HttpTarget::start(Script::in_order([status(500), status(503), status(204)]));
    let deliver = deliver_to(&target.url(), Duration::from_secs(5)).await;

    // SNS retries while deliver answers 5xx, and stops at the 200.
    let (first, body) = send(&deliver).await;
    assert_eq!(first, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "target_rejected");
    let (second, _) = send(&deliver).await;
    assert_eq!(second, StatusCode::BAD_GATEWAY);
    let (third, body) = send(&deliver).await;
    assert_eq!(third, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"status": "delivered", "id": "evt_42"}));

    let received = target.requests();
    assert_eq!(received.len(), 3);
    for request in &received {
        assert_eq!(
            request.body,
            r#"{"id":"42","status":"COMPLETED","amount":"1.50"}"#
        );
        assert_eq!(request.headers["content-type"], "application/json");
        assert_eq!(request.headers["webhook-id"], "evt_42");
        assert_eq!(request.headers["x-hookbridge-source"], "moneybutton");
        assert_eq!(
            request.headers["x-hookbridge-event-type"],
            "payment.completed"
        );
        assert_eq!(
            request.headers["x-hookbridge-correlation-id"],
            "7a2e0000-0000-4000-8000-000000000000"
        );
        assert_eq!(
            standard::verify(
                &request.headers,
                &request.body,
                &SecretSet::parse(OUTBOUND),
                SystemTime::now(),
                Duration::from_secs(300),
            ),
            Ok(()),
            "the outbound signature verifies by the Standard Webhooks algorithm"
        );
        assert!(
            standard::verify(
                &request.headers,
                &request.body,
                &SecretSet::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
                SystemTime::now(),
                Duration::from_secs(300),
            )
            .is_err(),
            "and only with the outbound secret"
        );
    }
}

#[tokio::test]
async fn a_client_error_of_the_target_is_retried_too() {
    let target = HttpTarget::start(Script::in_order([status(404)]));
    let deliver = deliver_to(&target.url(), Duration::from_secs(5)).await;
    let (status, body) = send(&deliver).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"]["code"], "target_rejected");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("404"),
        "{body}"
    );
}

#[tokio::test]
async fn a_silent_target_times_out_with_502() {
    let target = HttpTarget::start(Script::always(Answer::Stall));
    let deliver = deliver_to(&target.url(), Duration::from_millis(500)).await;
    let (status, body) = send(&deliver).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"]["code"], "target_timeout");
    assert_eq!(
        target.requests().len(),
        1,
        "the request did reach the target"
    );
}

#[tokio::test]
async fn an_unreachable_target_answers_502() {
    let deliver = deliver_to(
        &format!("{}/hooks", closed_loopback_url()),
        Duration::from_secs(5),
    )
    .await;
    let (status, body) = send(&deliver).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"]["code"], "target_unreachable");
}

#[tokio::test]
async fn a_missing_outbound_secret_answers_503_without_a_request() {
    let target = HttpTarget::start(Script::in_order([status(200)]));
    let config = aws_config().await;
    let table = create_events_table(&config, "hb-deliver").await;
    let deliver = trusting_deliver(
        &config,
        Destinations::single_default(&target.url()).unwrap(),
        &outbound_prefix(),
        &table,
        &queue_prefix(),
        Duration::from_secs(5),
    );
    let (status, body) = send(&deliver).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "secret_unavailable");
    assert!(target.requests().is_empty());
}

/// Fetches the certificates moto signs with. moto serves them at its own
/// endpoint to requests that name the SNS service; the URL in the message
/// still passed the core's SNS host check, and the signature is checked
/// for real.
struct EmulatorCertificates {
    endpoint: String,
    client: reqwest::Client,
}

impl CertificateSource for EmulatorCertificates {
    async fn certificate(
        &self,
        url: &CertificateUrl,
    ) -> Result<Arc<SigningCertificate>, CertificateError> {
        let path = url
            .as_str()
            .split_once(".amazonaws.com")
            .map_or("", |(_, path)| path);
        let request = self.client.get(format!("{}{path}", self.endpoint)).header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261124/us-east-1/sns/aws4_request, \
                 SignedHeaders=host, Signature=0",
        );
        fetch_certificate(request).await.map(Arc::new)
    }
}

type EmulatedDeliver = Deliver<
    SnsSignatures<EmulatorCertificates>,
    NoConfirmations,
    HttpWebhookTarget,
    SsmSecretStore<SystemClock>,
    SystemClock,
    S3PayloadStore,
    DynamoDbDeliveryStatus<SystemClock>,
    SqsFinalDeadLetters,
>;

/// Bodies the handler was posted, in order.
type Posted = Arc<Mutex<Vec<Vec<u8>>>>;

/// Serves the handler over HTTP on loopback, as the function URL would.
async fn serve_over_http(deliver: Arc<EmulatedDeliver>) -> (String, Posted) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let posted = Posted::default();
    let log = Arc::clone(&posted);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let deliver = Arc::clone(&deliver);
            let log = Arc::clone(&log);
            tokio::spawn(async move { answer_with(&deliver, stream, &log).await });
        }
    });
    (url, posted)
}

async fn answer_with(
    deliver: &EmulatedDeliver,
    stream: tokio::net::TcpStream,
    log: &Mutex<Vec<Vec<u8>>>,
) {
    let mut reader = tokio::io::BufReader::new(stream);
    let mut line = String::new();
    let mut content_length = 0;
    reader.read_line(&mut line).await.unwrap();
    let mut words = line.split(' ');
    let method = words.next().unwrap().to_owned();
    let path = words.next().unwrap().to_owned();
    let mut request = http::Request::builder()
        .method(method.as_str())
        .uri(format!("https://deliver.lambda-url.us-east-1.on.aws{path}"));
    loop {
        line.clear();
        reader.read_line(&mut line).await.unwrap();
        let Some((name, value)) = line.trim_end().split_once(':') else {
            break;
        };
        if name.eq_ignore_ascii_case("content-length") {
            content_length = value.trim().parse().unwrap();
        }
        request = request.header(name.trim(), value.trim());
    }
    let mut body = vec![0; content_length];
    reader.read_exact(&mut body).await.unwrap();
    log.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(body.clone());
    let response = deliver
        .handle(request.body(Body::from(body)).unwrap())
        .await;
    let head = format!(
        "HTTP/1.1 {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        response.status(),
        response.body().len()
    );
    let mut stream = reader.into_inner();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(response.body()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_moto_topic_delivers_through_the_handler_with_a_verified_signature() {
    let config = aws_config().await;
    let sns = aws_sdk_sns::Client::new(&config);
    let topic_arn = create_topic(&config, "hb-deliver").await;
    let prefix = outbound_prefix();
    put_secure_parameter(&config, &format!("{prefix}default"), OUTBOUND).await;
    let table = create_events_table(&config, "hb-deliver").await;
    let target = HttpTarget::start(Script::in_order([status(200), status(200)]));
    let client = hookbridge_aws::http::client_with_timeout(Duration::from_secs(5)).unwrap();
    let retention = hookbridge_aws::settings::DEFAULT_RETENTION;
    let deliver = Arc::new(Deliver::new(
        Ok(Settings {
            topic_arn: topic_arn.clone(),
            delivery: DeliverySettings {
                destinations: Destinations::single_default(&target.url()).unwrap(),
                outbound_prefix: prefix.clone(),
                secrets_ttl: hookbridge_aws::ssm::DEFAULT_TTL,
                table_name: table.clone(),
                retention,
                payload_bucket: PAYLOAD_BUCKET.to_owned(),
                queue_prefix: queue_prefix(),
            },
        }),
        SnsSignatures(EmulatorCertificates {
            endpoint: std::env::var("AWS_ENDPOINT_URL").unwrap(),
            client: client.clone(),
        }),
        NoConfirmations,
        Outbound::new(
            HttpWebhookTarget::new(client),
            SsmSecretStore::new(aws_sdk_ssm::Client::new(&config), prefix, SystemClock),
            SystemClock,
            S3PayloadStore::new(&config, PAYLOAD_BUCKET),
        ),
        DynamoDbDeliveryStatus::new(
            aws_sdk_dynamodb::Client::new(&config),
            table,
            retention,
            SystemClock,
        ),
        SqsFinalDeadLetters::new(aws_sdk_sqs::Client::new(&config), queue_prefix()),
    ));
    let (endpoint, posted) = serve_over_http(Arc::clone(&deliver)).await;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("http")
        .endpoint(format!("{endpoint}?destination=default"))
        .send()
        .await
        .expect("subscribe the handler");

    // As the EventBridge rule publishes it: the envelope is the message.
    sns.publish()
        .topic_arn(&topic_arn)
        .message(ENVELOPE)
        .send()
        .await
        .expect("publish");

    let received = target.wait_for_requests(1, Duration::from_secs(5));
    assert_eq!(received.len(), 1, "the target got the event once");
    assert_eq!(received[0].headers["webhook-id"], "evt_42");
    assert_eq!(
        standard::verify(
            &received[0].headers,
            &received[0].body,
            &SecretSet::parse(OUTBOUND),
            SystemTime::now(),
            Duration::from_secs(300),
        ),
        Ok(())
    );

    // The same signed body again (as an SNS retry) is delivered again; one
    // changed byte of it is refused before the target hears of it.
    let signed = posted
        .lock()
        .unwrap()
        .first()
        .cloned()
        .expect("moto posted the message");
    let request = |body: Vec<u8>| {
        http::Request::builder()
            .method("POST")
            .uri("https://deliver.lambda-url.us-east-1.on.aws/?destination=default")
            .body(Body::from(body))
            .unwrap()
    };
    let again = deliver.handle(request(signed.clone())).await;
    assert_eq!(again.status(), StatusCode::OK);
    let tampered = String::from_utf8(signed)
        .unwrap()
        .replace("evt_42", "evt_43");
    let refused = deliver.handle(request(tampered.into_bytes())).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(target.requests().len(), 2);
}

// ------------------------------------------------- several destinations

const BILLING_SECRET: &str = "whsec_YmlsbGluZy1vdXRib3VuZC1rZXktZm9yLXRlc3Rz";
const OPS_SECRET: &str = "whsec_b3BzLW91dGJvdW5kLWtleS1mb3ItdGhlLXRlc3Rz";

fn verifies(request: &hookbridge_testkit::http_target::Request, secret: &str) -> bool {
    standard::verify(
        &request.headers,
        &request.body,
        &SecretSet::parse(secret),
        SystemTime::now(),
        Duration::from_secs(300),
    )
    .is_ok()
}

#[tokio::test]
async fn each_destination_gets_its_events_signed_with_its_own_secret_and_its_status_recorded() {
    let config = aws_config().await;
    let billing = HttpTarget::start(Script::always(status(200)));
    let ops = HttpTarget::start(Script::in_order([status(503), status(204)]));
    let crm = HttpTarget::start(Script::always(status(200)));
    let prefix = outbound_prefix();
    put_secure_parameter(&config, &format!("{prefix}billing"), BILLING_SECRET).await;
    put_secure_parameter(&config, &format!("{prefix}ops"), OPS_SECRET).await;
    let table = create_events_table(&config, "hb-deliver").await;
    let destinations = Destinations::from_json(
        &json!({
            "billing": {"url": billing.url(), "sources": ["moneybutton"]},
            "ops": {"url": ops.url()},
            "crm": {"url": crm.url(), "types": ["customer.*"]},
        })
        .to_string(),
    )
    .unwrap();
    let deliver = trusting_deliver(
        &config,
        destinations,
        &prefix,
        &table,
        &queue_prefix(),
        Duration::from_secs(5),
    );
    let answer = |destination: &'static str| {
        let deliver = &deliver;
        async move {
            let response = deliver.handle(notification_for(destination)).await;
            let body: Value = serde_json::from_slice(response.body()).unwrap();
            (response.status(), body)
        }
    };

    assert_eq!(answer("billing").await.0, StatusCode::OK);
    assert_eq!(answer("ops").await.0, StatusCode::BAD_GATEWAY);
    assert_eq!(answer("ops").await.0, StatusCode::OK);
    assert_eq!(
        answer("crm").await,
        (
            StatusCode::OK,
            json!({"status": "filtered", "id": "evt_42"})
        )
    );
    let (refused, body) = answer("payroll").await;
    assert_eq!(refused, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "unknown_destination");

    let to_billing = billing.requests();
    assert_eq!(to_billing.len(), 1);
    assert!(verifies(&to_billing[0], BILLING_SECRET) && !verifies(&to_billing[0], OPS_SECRET));
    let to_ops = ops.requests();
    assert_eq!(to_ops.len(), 2);
    assert!(to_ops.iter().all(|request| verifies(request, OPS_SECRET)));
    assert!(
        to_ops
            .iter()
            .all(|request| !verifies(request, BILLING_SECRET))
    );
    assert!(crm.requests().is_empty(), "crm takes customer.* only");

    let store = DynamoDbDeliveryStatus::new(
        aws_sdk_dynamodb::Client::new(&config),
        &table,
        hookbridge_aws::settings::DEFAULT_RETENTION,
        SystemClock,
    );
    let records = store.records("evt_42").await.unwrap();
    let summary: Vec<(&str, DeliveryState, u32)> = records
        .iter()
        .map(|record| {
            (
                record.destination.as_str(),
                record.state,
                record.attempt_count,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("billing", DeliveryState::Delivered, 1),
            ("ops", DeliveryState::Delivered, 2)
        ]
    );
    let ops_attempts = &records[1].attempts;
    assert_eq!(ops_attempts[0].outcome, AttemptOutcome::Status(503));
    assert_eq!(
        ops_attempts[0].response_excerpt.as_deref(),
        Some(r#"{"ok":false}"#)
    );
    assert_eq!(ops_attempts[1].outcome, AttemptOutcome::Status(204));
    assert!(store.records("evt_unknown").await.unwrap().is_empty());
}

fn attempt(second: u32, outcome: AttemptOutcome, excerpt: Option<String>) -> Attempt {
    Attempt {
        at: format!("2026-12-01T00:00:{second:02}.000Z"),
        outcome,
        latency_ms: 7,
        response_excerpt: excerpt,
    }
}

#[tokio::test]
async fn status_items_are_idempotent_capped_and_kept_apart_per_destination() {
    let config = aws_config().await;
    let table = create_events_table(&config, "hb-status").await;
    let store = DynamoDbDeliveryStatus::new(
        aws_sdk_dynamodb::Client::new(&config),
        &table,
        hookbridge_aws::settings::DEFAULT_RETENTION,
        SystemClock,
    );
    let billing = DestinationName::parse("billing").unwrap();
    let crm = DestinationName::parse("crm").unwrap();

    // The same attempt twice (a retried write, a duplicate notification).
    let first = attempt(0, AttemptOutcome::Status(500), Some("é".repeat(600)));
    for _ in 0..2 {
        store
            .record_attempt("evt#1", &billing, first.clone(), DeliveryState::Retrying)
            .await
            .unwrap();
    }
    // Two destinations at once never overwrite each other.
    let (a, b) = tokio::join!(
        store.record_attempt(
            "evt#1",
            &billing,
            attempt(
                1,
                AttemptOutcome::Error("the target did not answer in time".into()),
                None
            ),
            DeliveryState::Retrying,
        ),
        store.record_attempt(
            "evt#1",
            &crm,
            attempt(1, AttemptOutcome::Status(200), None),
            DeliveryState::Delivered,
        ),
    );
    a.unwrap();
    b.unwrap();
    for second in 2..30 {
        store
            .record_attempt(
                "evt#1",
                &billing,
                attempt(second, AttemptOutcome::Status(503), None),
                DeliveryState::Retrying,
            )
            .await
            .unwrap();
    }

    let records = store.records("evt#1").await.unwrap();
    assert_eq!(records.len(), 2);
    let (billing_record, crm_record) = (&records[0], &records[1]);
    assert_eq!(billing_record.attempt_count, 30);
    assert_eq!(billing_record.attempts.len(), MAX_RECORDED_ATTEMPTS);
    assert_eq!(
        billing_record.attempts[0], first,
        "the first attempt is kept, excerpt and all"
    );
    assert_eq!(
        billing_record.attempts.last().unwrap().at,
        "2026-12-01T00:00:29.000Z"
    );
    assert_eq!(crm_record.state, DeliveryState::Delivered);
    assert_eq!(crm_record.attempt_count, 1);
    // Another event whose id extends this one's shares no item with it.
    assert!(store.records("evt").await.unwrap().is_empty());

    let items = all_items(&config, &table).await;
    let mut keys: Vec<&str> = items.iter().map(|item| text(item, attr::PK)).collect();
    keys.sort_unstable();
    assert_eq!(index_key("evt#1"), keys[0]);
    assert_eq!(delivery_key(&crm, "evt#1"), keys[2]);
    assert_eq!(
        keys,
        [
            "DELIVERIES#evt#1",
            "DELIVERY#billing#evt#1",
            "DELIVERY#crm#evt#1"
        ]
    );
    for item in &items {
        assert!(
            item.contains_key(attr::EXPIRES_AT),
            "every status item expires"
        );
    }
}

fn status_command(table: &str, event_id: &str, json: bool) -> std::process::Output {
    let mut command = std::process::Command::new(hookbridge_binary());
    command.args(["status", event_id, "--aws", "--table", table]);
    if json {
        command.arg("--json");
    }
    command.output().expect("run hookbridge status")
}

#[tokio::test]
async fn hookbridge_status_aws_prints_the_records_and_says_when_an_event_is_unknown() {
    let config = aws_config().await;
    let table = create_events_table(&config, "hb-status").await;
    let store = DynamoDbDeliveryStatus::new(
        aws_sdk_dynamodb::Client::new(&config),
        &table,
        hookbridge_aws::settings::DEFAULT_RETENTION,
        SystemClock,
    );
    let billing = DestinationName::parse("billing").unwrap();
    store
        .record_attempt(
            "evt_7",
            &billing,
            attempt(0, AttemptOutcome::Status(502), Some("bad gateway".into())),
            DeliveryState::Retrying,
        )
        .await
        .unwrap();

    let table_output = status_command(&table, "evt_7", false);
    let stdout = String::from_utf8_lossy(&table_output.stdout);
    assert!(table_output.status.success(), "{table_output:?}");
    assert!(
        stdout.contains("billing      retrying              1  2026-12-01T00:00:00.000Z"),
        "{stdout}"
    );
    assert!(stdout.contains("HTTP 502  7 ms  bad gateway"), "{stdout}");

    let json_output = status_command(&table, "evt_7", true);
    assert!(json_output.status.success(), "{json_output:?}");
    let json: Value = serde_json::from_slice(&json_output.stdout).unwrap();
    assert_eq!(json["deliveries"][0]["state"], "retrying");
    assert_eq!(
        json["deliveries"][0]["attempts"][0]["response_excerpt"],
        "bad gateway"
    );

    let unknown = status_command(&table, "evt_nothing", false);
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr)
            .contains("no delivery of event `evt_nothing` is recorded"),
        "{unknown:?}"
    );
}
