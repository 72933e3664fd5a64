//! The handler with in-memory ports: every status it can answer.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use hookbridge_aws::settings::VariableError;
use hookbridge_aws::ssm::TTL_VARIABLE;
use hookbridge_core::outbound::OutboundWebhook;
use hookbridge_core::ports::{Clock, TargetError, WebhookTarget};
use hookbridge_core::providers::standard;
use hookbridge_core::secret::SecretSet;
use hookbridge_testkit::{
    FakeAuthenticator, FixtureCertificate, ManualClock, MemorySecrets, RecordingConfirmer, Verdict,
    sns_fixture,
};
use lambda_http::http::{self, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use super::*;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:hookbridge-deliver";
const TARGET: &str = "https://target.example/webhooks";
const SECRET_NAME: &str = "/hookbridge/test/outbound";
const OUTBOUND: &str = "whsec_aG9va2JyaWRnZS1kZXYtb3V0Ym91bmQta2V5";
const NOW: u64 = 1_795_000_000;

#[derive(Clone)]
struct ScriptedTarget {
    outcome: Result<u16, TargetError>,
    posted: Arc<Mutex<Vec<(String, OutboundWebhook)>>>,
}

impl ScriptedTarget {
    fn answering(outcome: Result<u16, TargetError>) -> Self {
        Self {
            outcome,
            posted: Arc::default(),
        }
    }

    fn posted(&self) -> Vec<(String, OutboundWebhook)> {
        self.posted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl WebhookTarget for ScriptedTarget {
    async fn post(&self, url: &str, webhook: &OutboundWebhook) -> Result<u16, TargetError> {
        self.posted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((url.to_owned(), webhook.clone()));
        self.outcome.clone()
    }
}

fn outbound_secrets() -> MemorySecrets {
    MemorySecrets::new().with(SECRET_NAME, SecretSet::parse(OUTBOUND))
}

fn clock() -> ManualClock {
    ManualClock::new(UNIX_EPOCH + Duration::from_secs(NOW))
}

fn settings() -> Result<Settings, SettingsError> {
    Ok(Settings {
        topic_arn: TOPIC.to_owned(),
        target_url: TARGET.to_owned(),
        outbound_secret_parameter: SECRET_NAME.to_owned(),
        secrets_ttl: hookbridge_aws::ssm::DEFAULT_TTL,
    })
}

struct Harness {
    verdict: Verdict,
    confirmer: RecordingConfirmer,
    target: ScriptedTarget,
    secrets: MemorySecrets,
    settings: Result<Settings, SettingsError>,
}

impl Harness {
    fn new() -> Self {
        Self {
            verdict: Verdict::Authentic,
            confirmer: RecordingConfirmer::new(),
            target: ScriptedTarget::answering(Ok(200)),
            secrets: outbound_secrets(),
            settings: settings(),
        }
    }

    async fn send(self, request: Request) -> (StatusCode, Value, Self) {
        hookbridge_testlog::capture();
        let deliver = Deliver::new(
            self.settings.clone(),
            FakeAuthenticator(self.verdict),
            self.confirmer.clone(),
            self.target.clone(),
            self.secrets,
            clock(),
        );
        let response = deliver.handle(request).await;
        let (status, body) = parts(response);
        let Deliver {
            outbound: Outbound { secrets, .. },
            ..
        } = deliver;
        (status, body, Self { secrets, ..self })
    }
}

fn parts(response: Response<Body>) -> (StatusCode, Value) {
    let status = response.status();
    let body = serde_json::from_slice(response.body()).expect("every answer is JSON");
    (status, body)
}

fn post(body: &str) -> Request {
    http::Request::builder()
        .method(Method::POST)
        .uri("https://deliver.lambda-url.us-east-1.on.aws/")
        .header("content-type", "text/plain; charset=UTF-8")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// As ingest serialises it: the payload keeps the provider's key order.
const ENVELOPE: &str = r#"{"id":"evt_1","source":"stripe","type":"payment_intent.succeeded","received_at":"2026-11-24T00:00:00.123Z","occurred_at":"2026-11-23T23:59:59Z","correlation_id":"6f1c0000-0000-4000-8000-000000000000","payload":{"id":"evt_1","object":"event","amount":1.50}}"#;

fn sns_message(message_type: &str, message: &str) -> Value {
    let mut json = json!({
        "Type": message_type,
        "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
        "TopicArn": TOPIC,
        "Message": message,
        "Timestamp": "2026-11-24T00:00:01.000Z",
        "SignatureVersion": "2",
        "Signature": "AAAA",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
    });
    if message_type != "Notification" {
        json["SubscribeURL"] =
            format!("https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=tok")
                .into();
        json["Token"] = "tok".into();
    }
    json
}

fn notification() -> String {
    sns_message("Notification", ENVELOPE).to_string()
}

#[tokio::test]
async fn a_notification_is_signed_and_posted_to_the_target() {
    let (status, body, harness) = Harness::new().send(post(&notification())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"status": "delivered", "id": "evt_1"}));

    let posted = harness.target.posted();
    assert_eq!(posted.len(), 1);
    let (url, webhook) = &posted[0];
    assert_eq!(url, TARGET);
    assert_eq!(
        webhook.body(),
        r#"{"id":"evt_1","object":"event","amount":1.50}"#
    );
    let headers: http::HeaderMap = webhook
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                http::HeaderName::from_static(name),
                http::HeaderValue::from_str(value).unwrap(),
            )
        })
        .collect();
    assert_eq!(headers["webhook-id"], "evt_1");
    assert_eq!(headers["webhook-timestamp"], NOW.to_string().as_str());
    assert_eq!(headers["x-hookbridge-source"], "stripe");
    assert_eq!(
        headers["x-hookbridge-event-type"],
        "payment_intent.succeeded"
    );
    assert_eq!(
        standard::verify(
            &headers,
            webhook.body().as_bytes(),
            &SecretSet::parse(OUTBOUND),
            clock().now(),
            Duration::from_secs(300),
        ),
        Ok(())
    );
}

#[tokio::test]
async fn target_failures_answer_502_so_sns_retries() {
    let cases = [
        (Ok(500), "target_rejected"),
        (Ok(404), "target_rejected"),
        (Ok(301), "target_rejected"),
        (Err(TargetError::Timeout), "target_timeout"),
        (
            Err(TargetError::Connection("refused".into())),
            "target_unreachable",
        ),
        (
            Err(TargetError::Request("reset".into())),
            "target_unreachable",
        ),
    ];
    for (outcome, code) in cases {
        let harness = Harness {
            target: ScriptedTarget::answering(outcome.clone()),
            ..Harness::new()
        };
        let (status, body, _) = harness.send(post(&notification())).await;
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{outcome:?}");
        assert_eq!(body["error"]["code"], code, "{outcome:?}");
    }
}

#[tokio::test]
async fn every_2xx_of_the_target_is_success() {
    for answer in [200, 202, 204, 299] {
        let harness = Harness {
            target: ScriptedTarget::answering(Ok(answer)),
            ..Harness::new()
        };
        let (status, _, _) = harness.send(post(&notification())).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
}

#[tokio::test]
async fn a_forged_message_is_refused_with_403_and_not_delivered() {
    let harness = Harness {
        verdict: Verdict::Forged,
        ..Harness::new()
    };
    let (status, body, harness) = harness.send(post(&notification())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "signature_invalid");
    assert!(harness.target.posted().is_empty());
}

#[tokio::test]
async fn a_message_of_another_topic_is_refused_with_403() {
    let mut message = sns_message("Notification", ENVELOPE);
    message["TopicArn"] = "arn:aws:sns:us-east-1:123456789012:other".into();
    let (status, body, harness) = Harness::new().send(post(&message.to_string())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"]["code"], "topic_mismatch");
    assert!(harness.target.posted().is_empty());
}

#[tokio::test]
async fn what_is_not_an_sns_message_is_refused_with_403() {
    let mut foreign_certificate = sns_message("Notification", "{}");
    foreign_certificate["SigningCertURL"] = "https://sns.evil.com/cert.pem".into();
    let mut version_three = sns_message("Notification", "{}");
    version_three["SignatureVersion"] = "3".into();
    for body in [
        "not json".to_owned(),
        "{}".to_owned(),
        foreign_certificate.to_string(),
        version_three.to_string(),
    ] {
        let (status, answer, _) = Harness::new().send(post(&body)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
        assert_eq!(answer["error"]["code"], "invalid_sns_message", "{body}");
    }
}

#[tokio::test]
async fn an_unreachable_certificate_answers_503() {
    let harness = Harness {
        verdict: Verdict::Unreachable,
        ..Harness::new()
    };
    let (status, body, _) = harness.send(post(&notification())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "certificate_unavailable");
}

#[tokio::test]
async fn a_subscription_confirmation_is_confirmed_at_its_subscribe_url() {
    let message = sns_message("SubscriptionConfirmation", "You have chosen to subscribe");
    let (status, body, harness) = Harness::new().send(post(&message.to_string())).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"status": "confirmed"}));
    let confirmed = harness.confirmer.confirmed();
    assert_eq!(confirmed, [message["SubscribeURL"].as_str().unwrap()]);
    assert!(harness.target.posted().is_empty());
}

#[tokio::test]
async fn a_failed_confirmation_answers_502() {
    let harness = Harness {
        confirmer: RecordingConfirmer::failing(),
        ..Harness::new()
    };
    let message = sns_message("SubscriptionConfirmation", "subscribe");
    let (status, body, _) = harness.send(post(&message.to_string())).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY);
    assert_eq!(body["error"]["code"], "confirmation_failed");
}

#[tokio::test]
async fn a_confirmation_pointing_elsewhere_is_refused_without_a_request() {
    let mut message = sns_message("SubscriptionConfirmation", "subscribe");
    message["SubscribeURL"] = "https://evil.example/?Action=ConfirmSubscription".into();
    let (status, _, harness) = Harness::new().send(post(&message.to_string())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(harness.confirmer.confirmed().is_empty());
}

#[tokio::test]
async fn a_confirmation_of_another_topic_is_not_confirmed() {
    let mut message = sns_message("SubscriptionConfirmation", "subscribe");
    message["TopicArn"] = "arn:aws:sns:us-east-1:123456789012:other".into();
    let (status, _, harness) = Harness::new().send(post(&message.to_string())).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(harness.confirmer.confirmed().is_empty());
}

#[tokio::test]
async fn an_unsubscribe_confirmation_answers_200_and_confirms_nothing() {
    let message = sns_message("UnsubscribeConfirmation", "unsubscribed");
    let (status, body, harness) = Harness::new().send(post(&message.to_string())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "unsubscribed"}));
    assert!(harness.confirmer.confirmed().is_empty());
    assert!(harness.target.posted().is_empty());
}

#[tokio::test]
async fn a_notification_without_an_envelope_answers_400() {
    for message in ["Hello world", r#"{"id":"evt_1"}"#] {
        let body = sns_message("Notification", message).to_string();
        let (status, answer, harness) = Harness::new().send(post(&body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{message}");
        assert_eq!(answer["error"]["code"], "invalid_envelope");
        assert!(harness.target.posted().is_empty());
    }
}

#[tokio::test]
async fn missing_configuration_answers_503() {
    let harness = Harness {
        settings: Err(SettingsError(vec![VariableError::Missing(
            TARGET_URL_VARIABLE,
        )])),
        ..Harness::new()
    };
    let (status, body, harness) = harness.send(post(&notification())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"]["code"], "configuration_missing");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("TARGET_URL")
    );
    assert!(harness.target.posted().is_empty());
}

#[tokio::test]
async fn an_unavailable_or_unusable_secret_answers_503() {
    let cases: [(MemorySecrets, &str); 4] = [
        (
            MemorySecrets::new().unavailable(SECRET_NAME, "throttled"),
            "secret_unavailable",
        ),
        (MemorySecrets::new(), "secret_unavailable"),
        (
            MemorySecrets::new().with(SECRET_NAME, SecretSet::default()),
            "secret_invalid",
        ),
        (
            MemorySecrets::new().with(SECRET_NAME, SecretSet::parse("whsec_!!!")),
            "secret_invalid",
        ),
    ];
    for (secrets, code) in cases {
        let harness = Harness {
            secrets,
            ..Harness::new()
        };
        let (status, body, harness) = harness.send(post(&notification())).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{code}");
        assert_eq!(body["error"]["code"], code);
        assert!(harness.target.posted().is_empty());
    }
}

#[tokio::test]
async fn methods_other_than_post_answer_405() {
    let request = http::Request::builder()
        .method(Method::GET)
        .uri("https://deliver.lambda-url.us-east-1.on.aws/")
        .body(Body::Empty)
        .unwrap();
    let (status, body, _) = Harness::new().send(request).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn no_answer_carries_the_secret_or_signature() {
    let harness = Harness {
        target: ScriptedTarget::answering(Ok(500)),
        ..Harness::new()
    };
    let (_, body, _) = harness.send(post(&notification())).await;
    let text = body.to_string();
    assert!(
        !text.contains("aG9va2JyaWRnZS1kZXYtb3V0Ym91bmQta2V5") && !text.contains("v1,"),
        "{text}"
    );
}

#[test]
fn settings_name_every_missing_variable() {
    let only_topic = |name: &str| (name == TOPIC_ARN_VARIABLE).then(|| TOPIC.to_owned());
    assert_eq!(
        Settings::from_lookup(only_topic).map_err(|problems| problems.variables()),
        Err(vec![TARGET_URL_VARIABLE, OUTBOUND_SECRET_VARIABLE])
    );
    // The secrets TTL is optional: left unset, as the template does.
    let all = |name: &str| (name != TTL_VARIABLE).then(|| format!("value of {name}"));
    assert_eq!(
        Settings::from_lookup(all).map(|settings| settings.target_url),
        Ok("value of TARGET_URL".to_owned())
    );
    let blank = |name: &str| (name != TTL_VARIABLE).then(|| "  ".to_owned());
    assert_eq!(Settings::from_lookup(blank).unwrap_err().0.len(), 3);
}

fn handler_for(
    topic: &str,
) -> Deliver<
    SnsSignatures<FixtureCertificate>,
    RecordingConfirmer,
    ScriptedTarget,
    MemorySecrets,
    ManualClock,
> {
    hookbridge_testlog::capture();
    Deliver::new(
        Ok(Settings {
            topic_arn: topic.to_owned(),
            ..settings().unwrap()
        }),
        SnsSignatures(FixtureCertificate),
        RecordingConfirmer::new(),
        ScriptedTarget::answering(Ok(200)),
        outbound_secrets(),
        clock(),
    )
}

#[tokio::test]
async fn real_aws_signatures_pass_the_production_authenticator() {
    for name in ["notification-v1.json", "notification-v2.json"] {
        let body = sns_fixture(name);
        let topic: Value = serde_json::from_str(&body).unwrap();
        let deliver = handler_for(topic["TopicArn"].as_str().unwrap());
        // Authentic, but "Hello world" is no envelope: past the 403 gate.
        let (status, answer) = parts(deliver.handle(post(&body)).await);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {answer}");
        assert_eq!(answer["error"]["code"], "invalid_envelope");

        let tampered = body.replace("Hello world", "Hello World");
        let (status, answer) = parts(deliver.handle(post(&tampered)).await);
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}");
        assert_eq!(answer["error"]["code"], "signature_invalid");
    }
}
