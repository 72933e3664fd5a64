//! The deliver handler with real parts: a real HTTP target on loopback that
//! fails and then recovers, the production HTTP client, and the outbound
//! secret read from SSM (moto). Most tests hand-build SNS messages and so
//! trust them; the last one takes a message that moto's SNS signed and
//! posted over HTTP through the production signature check.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use deliver::{Deliver, Settings, SnsSignatures};
use hookbridge_aws::certificates::fetch_certificate;
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::ssm::SsmSecretStore;
use hookbridge_aws::webhook_target::HttpWebhookTarget;
use hookbridge_core::ports::{CertificateError, CertificateSource};
use hookbridge_core::secret::SecretSet;
use hookbridge_core::sns::{CertificateUrl, SigningCertificate};
use hookbridge_core::verify::standard;
use hookbridge_testkit::NoConfirmations;
use hookbridge_testkit::http_target::{Answer, HttpTarget, Reply, Script, closed_loopback_url};
use hookbridge_tests::deliver_fixtures::{
    ENVELOPE, OUTBOUND, TrustingDeliver, notification, trusting_deliver,
};
use hookbridge_tests::{aws_config, create_topic, put_secure_parameter, unique_name};
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
    let config = aws_config().await;
    let parameter = format!("/{}/outbound", unique_name("hb-deliver"));
    put_secure_parameter(&config, &parameter, OUTBOUND).await;
    trusting_deliver(&config, target_url.to_owned(), parameter, timeout)
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
    let deliver = trusting_deliver(
        &config,
        target.url(),
        format!("/{}/missing", unique_name("hb-deliver")),
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
    let mut request = http::Request::builder().uri("https://deliver.lambda-url.us-east-1.on.aws/");
    reader.read_line(&mut line).await.unwrap();
    request = request.method(line.split(' ').next().unwrap());
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
    let parameter = format!("/{}/outbound", unique_name("hb-deliver"));
    put_secure_parameter(&config, &parameter, OUTBOUND).await;
    let target = HttpTarget::start(Script::in_order([status(200), status(200)]));
    let client = hookbridge_aws::http::client_with_timeout(Duration::from_secs(5)).unwrap();
    let deliver = Arc::new(Deliver::new(
        Ok(Settings {
            topic_arn: topic_arn.clone(),
            target_url: target.url(),
            outbound_secret_parameter: parameter,
            secrets_ttl: hookbridge_aws::ssm::DEFAULT_TTL,
        }),
        SnsSignatures(EmulatorCertificates {
            endpoint: std::env::var("AWS_ENDPOINT_URL").unwrap(),
            client: client.clone(),
        }),
        NoConfirmations,
        HttpWebhookTarget::new(client),
        SsmSecretStore::new(aws_sdk_ssm::Client::new(&config), "", SystemClock),
        SystemClock,
    ));
    let (endpoint, posted) = serve_over_http(Arc::clone(&deliver)).await;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("http")
        .endpoint(&endpoint)
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
            .uri("https://deliver.lambda-url.us-east-1.on.aws/")
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
