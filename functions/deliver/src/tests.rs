//! The handler with in-memory ports: every status it can answer.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, UNIX_EPOCH};

use hookbridge_aws::settings::VariableError;
use hookbridge_aws::ssm::TTL_VARIABLE;
use hookbridge_core::delivery_status::{AttemptOutcome, DeliveryState};
use hookbridge_core::destinations::{DestinationName, Destinations};
use hookbridge_core::envelope::PayloadRef;
use hookbridge_core::outbound::OutboundWebhook;
use hookbridge_core::ports::{Clock, TargetAnswer, TargetError, WebhookTarget};
use hookbridge_core::providers::standard;
use hookbridge_core::secret::SecretSet;
use hookbridge_testkit::{
    CapturedMetrics, FakeAuthenticator, FixtureCertificate, ManualClock, MemoryDeadLetters,
    MemoryDeliveryStatus, MemoryPayloads, MemorySecrets, RecordingConfirmer, Verdict, sns_fixture,
};
use lambda_http::http::{self, Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};

use super::*;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:hookbridge-deliver";
const TARGET: &str = "https://target.example/webhooks";
const CRM_TARGET: &str = "https://crm.example/hooks";
/// The destination of [`post`]: takes every Stripe event, 7 s per POST.
const DESTINATION: &str = "billing";
/// The second destination: takes `customer.*` events of any source.
const CRM: &str = "crm";
/// The outbound secrets are stored under the destination names (the SSM
/// store adds HOOKBRIDGE_OUTBOUND_PREFIX).
const SECRET_NAME: &str = DESTINATION;
const OUTBOUND: &str = "whsec_aG9va2JyaWRnZS1kZXYtb3V0Ym91bmQta2V5";
const CRM_OUTBOUND: &str = "whsec_Y3JtLW91dGJvdW5kLWtleS1mb3ItdGVzdHM=";
const DESTINATIONS: &str = r#"{
    "billing": {"url": "https://target.example/webhooks", "sources": ["stripe"], "timeout_seconds": 7},
    "crm": {"url": "https://crm.example/hooks", "types": ["customer.*"]}
}"#;
const NOW: u64 = 1_795_000_000;

/// The body every scripted answer carries.
const ANSWER_BODY: &str = r#"{"received":true}"#;

#[derive(Clone)]
struct ScriptedTarget {
    outcome: Result<u16, TargetError>,
    posted: Arc<Mutex<Vec<(String, OutboundWebhook)>>>,
    timeouts: Arc<Mutex<Vec<Option<Duration>>>>,
}

impl ScriptedTarget {
    fn answering(outcome: Result<u16, TargetError>) -> Self {
        Self {
            outcome,
            posted: Arc::default(),
            timeouts: Arc::default(),
        }
    }

    fn timeouts(&self) -> Vec<Option<Duration>> {
        self.timeouts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn posted(&self) -> Vec<(String, OutboundWebhook)> {
        self.posted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl WebhookTarget for ScriptedTarget {
    async fn post(
        &self,
        url: &str,
        webhook: &OutboundWebhook,
        timeout: Option<Duration>,
    ) -> Result<TargetAnswer, TargetError> {
        self.posted
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((url.to_owned(), webhook.clone()));
        self.timeouts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(timeout);
        self.outcome.clone().map(|status| TargetAnswer {
            status,
            excerpt: Some(ANSWER_BODY.to_owned()),
            retry_after: None,
        })
    }
}

fn outbound_secrets() -> MemorySecrets {
    MemorySecrets::new()
        .with(SECRET_NAME, SecretSet::parse(OUTBOUND))
        .with(CRM, SecretSet::parse(CRM_OUTBOUND))
}

fn clock() -> ManualClock {
    ManualClock::new(UNIX_EPOCH + Duration::from_secs(NOW))
}

fn settings() -> Result<Settings, SettingsError> {
    Ok(Settings {
        topic_arn: TOPIC.to_owned(),
        delivery: DeliverySettings {
            destinations: Destinations::from_json(DESTINATIONS).unwrap(),
            outbound_prefix: "/hookbridge/test/outbound/".to_owned(),
            secrets_ttl: hookbridge_aws::ssm::DEFAULT_TTL,
            table_name: "events".to_owned(),
            retention: hookbridge_aws::settings::DEFAULT_RETENTION,
            payload_bucket: BUCKET.to_owned(),
            queue_prefix: "stack_".to_owned(),
        },
    })
}

const BUCKET: &str = "payloads";

struct Harness {
    verdict: Verdict,
    confirmer: RecordingConfirmer,
    target: ScriptedTarget,
    secrets: MemorySecrets,
    statuses: MemoryDeliveryStatus,
    settings: Result<Settings, SettingsError>,
    payloads: MemoryPayloads,
    dead_letters: MemoryDeadLetters,
    metrics: CapturedMetrics,
}

impl Harness {
    fn new() -> Self {
        Self {
            verdict: Verdict::Authentic,
            confirmer: RecordingConfirmer::new(),
            target: ScriptedTarget::answering(Ok(200)),
            secrets: outbound_secrets(),
            statuses: MemoryDeliveryStatus::new(),
            settings: settings(),
            payloads: MemoryPayloads::new(BUCKET),
            dead_letters: MemoryDeadLetters::new(),
            metrics: CapturedMetrics::new(),
        }
    }

    async fn send(self, request: Request) -> (StatusCode, Value, Self) {
        hookbridge_testlog::capture();
        let deliver = Deliver::new(
            self.settings.clone(),
            FakeAuthenticator(self.verdict),
            self.confirmer.clone(),
            Outbound::new(
                self.target.clone(),
                self.secrets,
                clock(),
                self.payloads.clone(),
            ),
            self.statuses.clone(),
            self.dead_letters.clone(),
        )
        .with_metrics(Arc::new(self.metrics.clone()));
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

/// A POST for [`DESTINATION`], as its subscription sends it.
fn post(body: &str) -> Request {
    post_to(&format!("?destination={DESTINATION}"), body)
}

/// A POST to the function URL with `query` (`?…`, or empty).
fn post_to(query: &str, body: &str) -> Request {
    http::Request::builder()
        .method(Method::POST)
        .uri(format!(
            "https://deliver.lambda-url.us-east-1.on.aws/{query}"
        ))
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

/// A notification whose envelope references `payload` stored at its key
/// in `harness`'s bucket.
fn referencing(harness: &Harness, payload: &[u8]) -> (String, PayloadRef) {
    let reference = PayloadRef::of(BUCKET, "stripe", payload);
    harness.payloads.overwrite(&reference.key, payload);
    let envelope = ENVELOPE.replace(
        r#""payload":{"id":"evt_1","object":"event","amount":1.50}"#,
        &format!(
            r#""payload_ref":{}"#,
            serde_json::to_string(&reference).unwrap()
        ),
    );
    (
        sns_message("Notification", &envelope).to_string(),
        reference,
    )
}

#[tokio::test]
async fn a_referenced_payload_is_fetched_checked_and_posted_byte_for_byte() {
    let payload = format!(r#"{{"id":"evt_1","pad":"{}"}}"#, "é".repeat(200_000));
    let harness = Harness::new();
    let (notification, _) = referencing(&harness, payload.as_bytes());
    let (status, body, harness) = harness.send(post(&notification)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let posted = harness.target.posted();
    assert_eq!(posted[0].1.body(), payload);
}

#[tokio::test]
async fn a_missing_tampered_or_foreign_payload_is_503_and_never_posted() {
    let payload = br#"{"id":"evt_1","large":true}"#;
    let tampered = Harness::new();
    let (tampered_note, reference) = referencing(&tampered, payload);
    tampered
        .payloads
        .overwrite(&reference.key, br#"{"id":"evt_1","large":fals}"#);
    let longer = Harness::new();
    let (longer_note, reference) = referencing(&longer, payload);
    longer
        .payloads
        .overwrite(&reference.key, br#"{"id":"evt_1","large":true} "#);
    let missing = Harness::new();
    let (missing_note, _) = referencing(&missing, payload);
    let missing = Harness {
        payloads: MemoryPayloads::new(BUCKET),
        ..missing
    };
    let foreign = Harness {
        payloads: MemoryPayloads::new("another-bucket"),
        ..Harness::new()
    };
    let (foreign_note, _) = referencing(&Harness::new(), payload);
    let unreachable = Harness {
        payloads: MemoryPayloads::new(BUCKET).unavailable("connection refused"),
        ..Harness::new()
    };
    let (unreachable_note, _) = referencing(&Harness::new(), payload);
    let cases = [
        (tampered, tampered_note, "payload_mismatch"),
        (longer, longer_note, "payload_mismatch"),
        (missing, missing_note, "payload_missing"),
        (foreign, foreign_note, "payload_mismatch"),
        (unreachable, unreachable_note, "payload_unavailable"),
    ];
    for (harness, notification, code) in cases {
        let (status, body, harness) = harness.send(post(&notification)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{code}: {body}");
        assert_eq!(body["error"]["code"], code);
        assert!(
            harness.target.posted().is_empty(),
            "{code}: never delivered"
        );
    }
}

#[tokio::test]
async fn an_envelope_with_both_or_neither_payloads_is_400() {
    let reference = serde_json::to_string(&PayloadRef::of(BUCKET, "stripe", b"{}")).unwrap();
    let both = ENVELOPE.replace(
        r#""payload":"#,
        &format!(r#""payload_ref":{reference},"payload":"#),
    );
    let neither = ENVELOPE.replace(r#""payload":"#, r#""elsewhere":"#);
    for envelope in [both, neither] {
        let notification = sns_message("Notification", &envelope).to_string();
        let (status, body, harness) = Harness::new().send(post(&notification)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["error"]["code"], "invalid_envelope");
        assert!(harness.target.posted().is_empty());
    }
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
async fn a_410_is_dead_lettered_at_once_recorded_and_answered_200_so_sns_stops() {
    let harness = Harness {
        target: ScriptedTarget::answering(Ok(410)),
        ..Harness::new()
    };
    let notification = notification();
    let (status, body, harness) = harness.send(post(&notification)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "dead_lettered");
    let letters = harness.dead_letters.all();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].0.as_str(), DESTINATION);
    assert_eq!(
        letters[0].1, notification,
        "the SNS notification, byte for byte"
    );
    let records = harness.statuses.all();
    assert_eq!(records[0].state, DeliveryState::DeadLettered);
    assert_eq!(records[0].attempts[0].outcome, AttemptOutcome::Status(410));
}

#[tokio::test]
async fn a_410_the_final_queue_does_not_take_is_502_so_sns_retries() {
    let harness = Harness {
        target: ScriptedTarget::answering(Ok(410)),
        dead_letters: MemoryDeadLetters::unavailable(),
        ..Harness::new()
    };
    let (status, body, harness) = harness.send(post(&notification())).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["error"]["code"], "dead_letter_failed");
    assert_eq!(harness.statuses.all()[0].state, DeliveryState::Retrying);
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
            OUTBOUND_PREFIX_VARIABLE,
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
            .contains(OUTBOUND_PREFIX_VARIABLE)
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
        .uri("https://deliver.lambda-url.us-east-1.on.aws/?destination=billing")
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

/// `vars` as the process environment.
fn environment(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: Vec<(String, String)> = vars
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
        .collect();
    move |name: &str| {
        vars.iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.clone())
    }
}

const REQUIRED: [(&str, &str); 5] = [
    (TOPIC_ARN_VARIABLE, TOPIC),
    (OUTBOUND_PREFIX_VARIABLE, "/hookbridge/outbound/"),
    (TABLE_NAME_VARIABLE, "events"),
    (hookbridge_aws::s3::PAYLOAD_BUCKET_VARIABLE, BUCKET),
    (
        hookbridge_aws::dead_letters::QUEUE_PREFIX_VARIABLE,
        "stack_",
    ),
];

#[test]
fn settings_name_every_missing_variable() {
    let only_topic = |name: &str| (name == TOPIC_ARN_VARIABLE).then(|| TOPIC.to_owned());
    assert_eq!(
        Settings::from_lookup(only_topic).map_err(|problems| problems.variables()),
        Err(vec![
            DESTINATIONS_VARIABLE,
            OUTBOUND_PREFIX_VARIABLE,
            TABLE_NAME_VARIABLE,
            hookbridge_aws::s3::PAYLOAD_BUCKET_VARIABLE,
            hookbridge_aws::dead_letters::QUEUE_PREFIX_VARIABLE
        ])
    );
    let blank = |name: &str| (name != TTL_VARIABLE).then(|| "  ".to_owned());
    assert_eq!(
        Settings::from_lookup(blank).unwrap_err().variables(),
        [
            TOPIC_ARN_VARIABLE,
            DESTINATIONS_VARIABLE,
            OUTBOUND_PREFIX_VARIABLE,
            TABLE_NAME_VARIABLE,
            "RETENTION_DAYS",
            hookbridge_aws::s3::PAYLOAD_BUCKET_VARIABLE,
            hookbridge_aws::dead_letters::QUEUE_PREFIX_VARIABLE
        ]
    );
}

#[test]
fn the_destinations_are_the_declaration_or_the_target_url_as_default() {
    let declared = [
        REQUIRED.as_slice(),
        &[(DESTINATIONS_VARIABLE, DESTINATIONS)],
    ]
    .concat();
    let settings = Settings::from_lookup(environment(&declared)).unwrap();
    assert_eq!(
        settings.delivery.destinations,
        Destinations::from_json(DESTINATIONS).unwrap()
    );
    assert_eq!(
        settings.delivery.retention,
        hookbridge_aws::settings::DEFAULT_RETENTION
    );

    let shortcut = [
        REQUIRED.as_slice(),
        &[(DESTINATIONS_VARIABLE, " "), (TARGET_URL_VARIABLE, TARGET)],
    ]
    .concat();
    let settings = Settings::from_lookup(environment(&shortcut)).unwrap();
    assert_eq!(
        settings.delivery.destinations,
        Destinations::single_default(TARGET).unwrap()
    );
    assert!(settings.delivery.destinations.get("default").is_some());
}

/// Variables over [`REQUIRED`].
type Environment<'a> = &'a [(&'a str, &'a str)];

#[test]
fn conflicting_invalid_or_insecure_destinations_are_refused_naming_the_fault() {
    let cases: [(Environment, &str, &str); 5] = [
        (
            &[
                (DESTINATIONS_VARIABLE, DESTINATIONS),
                (TARGET_URL_VARIABLE, TARGET),
            ],
            TARGET_URL_VARIABLE,
            "not both",
        ),
        (
            &[(
                DESTINATIONS_VARIABLE,
                r#"{"crm": {"url": "http://crm.example/hooks"}}"#,
            )],
            DESTINATIONS_VARIABLE,
            "`crm`",
        ),
        (
            &[(TARGET_URL_VARIABLE, "http://target.example/webhooks")],
            TARGET_URL_VARIABLE,
            "https",
        ),
        (
            &[(
                DESTINATIONS_VARIABLE,
                r#"{"crm": {"url": "https://crm.example", "timeout_seconds": 15}}"#,
            )],
            DESTINATIONS_VARIABLE,
            "timeout",
        ),
        (
            &[(
                DESTINATIONS_VARIABLE,
                r#"{"Bad Name": {"url": "https://crm.example"}}"#,
            )],
            DESTINATIONS_VARIABLE,
            "Bad Name",
        ),
    ];
    for (vars, variable, says) in cases {
        let error =
            Settings::from_lookup(environment(&[REQUIRED.as_slice(), vars].concat())).unwrap_err();
        assert_eq!(error.variables(), [variable], "{vars:?}");
        assert!(error.to_string().contains(says), "{vars:?}: {error}");
    }
}

fn handler_for(
    topic: &str,
) -> Deliver<
    SnsSignatures<FixtureCertificate>,
    RecordingConfirmer,
    ScriptedTarget,
    MemorySecrets,
    ManualClock,
    MemoryPayloads,
    MemoryDeliveryStatus,
    MemoryDeadLetters,
> {
    hookbridge_testlog::capture();
    Deliver::new(
        Ok(Settings {
            topic_arn: topic.to_owned(),
            ..settings().unwrap()
        }),
        SnsSignatures(FixtureCertificate),
        RecordingConfirmer::new(),
        Outbound::new(
            ScriptedTarget::answering(Ok(200)),
            outbound_secrets(),
            clock(),
            MemoryPayloads::new(BUCKET),
        ),
        MemoryDeliveryStatus::new(),
        MemoryDeadLetters::new(),
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

/// A Stripe `customer.created` envelope: both destinations take it.
const CUSTOMER_ENVELOPE: &str = r#"{"id":"evt_2","source":"stripe","type":"customer.created","received_at":"2026-11-24T00:00:00.123Z","occurred_at":null,"correlation_id":"6f1c0000-0000-4000-8000-000000000001","payload":{"id":"cus_1"}}"#;

fn verifies_with(webhook: &OutboundWebhook, secret: &str) -> bool {
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
    standard::verify(
        &headers,
        webhook.body().as_bytes(),
        &SecretSet::parse(secret),
        clock().now(),
        Duration::from_secs(300),
    )
    .is_ok()
}

#[tokio::test]
async fn each_destination_gets_its_url_and_its_own_secrets_signature() {
    let body = sns_message("Notification", CUSTOMER_ENVELOPE).to_string();
    let (status, answer, billing) = Harness::new().send(post(&body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (status, answer, crm) = Harness::new()
        .send(post_to("?destination=crm", &body))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let (url, webhook) = &billing.target.posted()[0];
    assert_eq!(url, TARGET);
    assert!(verifies_with(webhook, OUTBOUND) && !verifies_with(webhook, CRM_OUTBOUND));
    let (url, webhook) = &crm.target.posted()[0];
    assert_eq!(url, CRM_TARGET);
    assert!(verifies_with(webhook, CRM_OUTBOUND) && !verifies_with(webhook, OUTBOUND));
    assert_eq!(
        webhook
            .headers()
            .iter()
            .find(|(name, _)| *name == "webhook-id")
            .map(|(_, id)| id.to_string()),
        Some("evt_2".to_owned()),
        "webhook-id is the event id for every destination"
    );
}

#[tokio::test]
async fn a_message_for_an_unknown_or_missing_destination_is_403_and_not_delivered() {
    for query in [
        "",
        "?destination=",
        "?destination=payroll",
        "?destination=Billing",
        "?destination=billing&destination=crm",
        "?target=billing",
    ] {
        let (status, body, harness) = Harness::new().send(post_to(query, &notification())).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{query}");
        assert_eq!(body["error"]["code"], "unknown_destination", "{query}");
        assert!(harness.target.posted().is_empty(), "{query}");
        assert!(harness.statuses.all().is_empty(), "{query}");
    }
    let confirmation = sns_message("SubscriptionConfirmation", "subscribe").to_string();
    let (status, _, harness) = Harness::new()
        .send(post_to("?destination=payroll", &confirmation))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        harness.confirmer.confirmed().is_empty(),
        "no subscription is confirmed for a destination that is not configured"
    );
}

#[tokio::test]
async fn an_event_the_destinations_filter_does_not_take_is_answered_200_and_not_delivered() {
    // crm takes customer.* only; the notification is a payment intent.
    let (status, body, harness) = Harness::new()
        .send(post_to("?destination=crm", &notification()))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "filtered", "id": "evt_1"}));
    assert!(harness.target.posted().is_empty());
    assert!(harness.statuses.all().is_empty());
}

#[tokio::test]
async fn the_destinations_timeout_bounds_its_post() {
    let body = sns_message("Notification", CUSTOMER_ENVELOPE).to_string();
    let (_, _, billing) = Harness::new().send(post(&body)).await;
    assert_eq!(billing.target.timeouts(), [Some(Duration::from_secs(7))]);
    let (_, _, crm) = Harness::new()
        .send(post_to("?destination=crm", &body))
        .await;
    assert_eq!(
        crm.target.timeouts(),
        [None],
        "no timeout_seconds: the client's bound"
    );
}

#[tokio::test]
async fn every_attempt_is_recorded_with_its_outcome_and_the_resulting_state() {
    let statuses = MemoryDeliveryStatus::new();
    let failing = Harness {
        target: ScriptedTarget::answering(Ok(503)),
        statuses: statuses.clone(),
        ..Harness::new()
    };
    failing.send(post(&notification())).await;
    let unreachable = Harness {
        target: ScriptedTarget::answering(Err(TargetError::Timeout)),
        statuses: statuses.clone(),
        ..Harness::new()
    };
    unreachable.send(post(&notification())).await;
    let records = statuses.all();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].state, DeliveryState::Retrying);
    assert_eq!(
        records[0].destination,
        DestinationName::parse(DESTINATION).unwrap()
    );
    assert_eq!(records[0].event_id, "evt_1");
    assert_eq!(records[0].attempts[0].outcome, AttemptOutcome::Status(503));
    assert_eq!(
        records[0].attempts[0].response_excerpt.as_deref(),
        Some(ANSWER_BODY)
    );
    assert_eq!(records[0].attempts[0].at, "2026-11-18T11:06:40.000Z");
    assert_eq!(
        records[0].attempts[1].outcome,
        AttemptOutcome::Error("the target did not answer in time".to_owned())
    );

    let delivering = Harness {
        statuses: statuses.clone(),
        ..Harness::new()
    };
    delivering.send(post(&notification())).await;
    let records = statuses.all();
    assert_eq!(records[0].state, DeliveryState::Delivered);
    assert_eq!(records[0].attempt_count, 3);
    assert_eq!(records[0].attempts[2].outcome, AttemptOutcome::Status(200));
}

#[tokio::test]
async fn a_status_store_failure_changes_no_answer() {
    for (target, expected) in [
        (Ok(200), StatusCode::OK),
        (Ok(500), StatusCode::BAD_GATEWAY),
    ] {
        let harness = Harness {
            target: ScriptedTarget::answering(target),
            statuses: MemoryDeliveryStatus::unavailable(),
            ..Harness::new()
        };
        let (status, body, harness) = harness.send(post(&notification())).await;
        assert_eq!(status, expected, "{body}");
        assert_eq!(harness.target.posted().len(), 1);
    }
}

#[tokio::test]
async fn no_attempt_is_recorded_when_no_request_was_made() {
    let harness = Harness {
        secrets: MemorySecrets::new(),
        ..Harness::new()
    };
    let (status, _, harness) = harness.send(post(&notification())).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(harness.statuses.all().is_empty());
}

/// `(metric, value, class)` of the destination's datums, as CloudWatch
/// extracts them from the lines.
fn per_destination(metrics: &CapturedMetrics) -> Vec<(String, f64, String)> {
    metrics
        .datums()
        .into_iter()
        .inspect(|datum| {
            assert_eq!(datum.namespace, "hookbridge");
            assert_eq!(datum.dimension("Stack"), hookbridge_testkit::TEST_STACK);
            assert!(datum.dimension("Source").is_empty());
        })
        .filter(|datum| datum.dimension("Destination") == DESTINATION)
        .map(|datum| {
            let class = datum.dimension("Class").to_owned();
            (datum.name, datum.value, class)
        })
        .collect()
}

fn datum(name: &str, value: f64, class: &str) -> (String, f64, String) {
    (name.into(), value, class.into())
}

#[tokio::test]
async fn a_delivery_writes_one_emf_line_counting_an_attempt_and_a_success() {
    let harness = Harness::new();
    let (status, _, harness) = harness.send(post(&notification())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(harness.metrics.lines().len(), 1);
    assert_eq!(
        per_destination(&harness.metrics),
        [
            datum("DeliveryAttempts", 1.0, ""),
            datum("Delivered", 1.0, ""),
            datum("DeliveryLatency", 0.0, ""),
        ]
    );
    let line = &harness.metrics.lines()[0];
    assert!(
        !line.contains("evt_1") && !line.contains(OUTBOUND),
        "{line}"
    );
}

#[tokio::test]
async fn a_failed_attempt_counts_zero_delivered_and_a_failure_of_its_class() {
    let cases = [
        (Ok(500), "5xx"),
        (Ok(429), "4xx"),
        (Ok(301), "3xx"),
        (Err(TargetError::Timeout), "timeout"),
        (Err(TargetError::Connection("refused".into())), "connection"),
    ];
    for (outcome, class) in cases {
        let harness = Harness {
            target: ScriptedTarget::answering(outcome),
            ..Harness::new()
        };
        let (_, _, harness) = harness.send(post(&notification())).await;
        assert_eq!(
            per_destination(&harness.metrics),
            [
                datum("DeliveryAttempts", 1.0, ""),
                datum("Delivered", 0.0, ""),
                datum("DeliveryLatency", 0.0, ""),
                datum("DeliveryFailed", 1.0, class),
            ],
            "{class}"
        );
    }
}

#[tokio::test]
async fn a_gone_destination_counts_a_dead_letter_only_once_the_queue_took_it() {
    let gone = Harness {
        target: ScriptedTarget::answering(Ok(410)),
        ..Harness::new()
    };
    let (_, _, gone) = gone.send(post(&notification())).await;
    assert_eq!(
        per_destination(&gone.metrics),
        [
            datum("DeliveryAttempts", 1.0, ""),
            datum("Delivered", 0.0, ""),
            datum("DeliveryLatency", 0.0, ""),
            datum("DeadLettered", 1.0, ""),
            datum("DeliveryFailed", 1.0, "4xx"),
        ]
    );
    let not_taken = Harness {
        target: ScriptedTarget::answering(Ok(410)),
        dead_letters: MemoryDeadLetters::unavailable(),
        ..Harness::new()
    };
    let (_, _, not_taken) = not_taken.send(post(&notification())).await;
    let names: Vec<String> = per_destination(&not_taken.metrics)
        .into_iter()
        .map(|(name, ..)| name)
        .collect();
    assert!(!names.contains(&"DeadLettered".to_owned()), "{names:?}");
}

#[tokio::test]
async fn nothing_is_counted_when_no_request_was_made() {
    let unsigned = Harness {
        secrets: MemorySecrets::new(),
        ..Harness::new()
    };
    let (_, _, unsigned) = unsigned.send(post(&notification())).await;
    let forged = Harness {
        verdict: Verdict::Forged,
        ..Harness::new()
    };
    let (_, _, forged) = forged.send(post(&notification())).await;
    assert!(unsigned.metrics.lines().is_empty());
    assert!(forged.metrics.lines().is_empty());
}
