//! The reconciler over an in-memory SNS, SQS and CloudWatch that keep what
//! those services keep (one subscription per topic and endpoint; queues and
//! alarms by name).

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookbridge_core::delivery_policy::DeliveryPolicy;
use hookbridge_core::ports::{
    DestinationResources, FailureRateAlarm, QueueAlarm, QueueMapping, ResourceError,
    TopicSubscription,
};
use serde_json::{Value, json};

use super::*;

const TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:hookbridge-DeliveryTopic-X";
const FUNCTION_URL: &str = "https://abc.lambda-url.eu-west-1.on.aws/";
const ALARM_TOPIC: &str = "arn:aws:sns:eu-west-1:123456789012:hookbridge-AlarmTopic-Y";
const REDELIVER: &str = "arn:aws:lambda:eu-west-1:123456789012:function:shop-RedeliverFunction";
const STACK_ID: &str = "arn:aws:cloudformation:eu-west-1:123456789012:stack/shop/6a1b-22";

#[derive(Debug, Clone, PartialEq, Eq)]
struct Subscription {
    arn: String,
    confirmed: bool,
    attributes: BTreeMap<String, String>,
}

#[derive(Debug, Default, PartialEq, Eq)]
struct State {
    /// By endpoint: SNS keeps one subscription per topic and endpoint.
    subscriptions: BTreeMap<String, Subscription>,
    queues: BTreeMap<String, BTreeMap<String, String>>,
    alarms: BTreeMap<String, QueueAlarm>,
    failure_alarms: BTreeMap<String, FailureRateAlarm>,
    /// Event source mappings by UUID: function ARN and queue ARN.
    mappings: BTreeMap<String, (String, String)>,
    topic_arn: Option<String>,
    next_id: u32,
}

#[derive(Debug, Clone, Default)]
struct InMemoryAws {
    state: Arc<Mutex<State>>,
    /// Calls whose name starts with this fail.
    failing: Option<&'static str>,
}

impl InMemoryAws {
    fn check(&self, call: &str) -> Result<(), ResourceError> {
        match self.failing {
            Some(failing) if call.starts_with(failing) => {
                Err(ResourceError(format!("{call} failed: AccessDenied")))
            }
            _ => Ok(()),
        }
    }

    fn subscription(&self, name: &str) -> Subscription {
        let state = self.state.lock().unwrap();
        state.subscriptions[&format!("{FUNCTION_URL}?destination={name}")].clone()
    }

    /// The final dead-letter queues.
    fn queue_names(&self) -> Vec<String> {
        self.queues_ending_with("-dlq")
    }

    fn tier2_queue_names(&self) -> Vec<String> {
        self.queues_ending_with("-retry")
    }

    fn queues_ending_with(&self, suffix: &str) -> Vec<String> {
        let state = self.state.lock().unwrap();
        let names = state.queues.keys().filter(|name| name.ends_with(suffix));
        names.cloned().collect()
    }

    /// The queue ARNs mapped to the redeliver function.
    fn mapped_queues(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        let mut queues: Vec<String> = state
            .mappings
            .values()
            .map(|(function, queue)| {
                assert_eq!(function, REDELIVER, "only redeliver is mapped");
                queue.clone()
            })
            .collect();
        queues.sort();
        queues
    }

    fn alarm_names(&self) -> Vec<String> {
        self.state.lock().unwrap().alarms.keys().cloned().collect()
    }

    fn endpoints(&self) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state.subscriptions.keys().cloned().collect()
    }

    /// Every call names the one delivery topic.
    fn record_topic(&self, topic_arn: &str) {
        let mut state = self.state.lock().unwrap();
        let topic = state.topic_arn.get_or_insert_with(|| topic_arn.to_owned());
        assert_eq!(topic, topic_arn, "one delivery topic");
    }

    fn add_subscription(&self, endpoint: &str, confirmed: bool) {
        let mut state = self.state.lock().unwrap();
        state.next_id += 1;
        let arn = format!("{TOPIC}:existing-{}", state.next_id);
        state.subscriptions.insert(
            endpoint.to_owned(),
            Subscription {
                arn,
                confirmed,
                attributes: BTreeMap::new(),
            },
        );
    }
}

impl DestinationResources for InMemoryAws {
    async fn subscriptions(
        &self,
        topic_arn: &str,
    ) -> Result<Vec<TopicSubscription>, ResourceError> {
        self.check("sns:ListSubscriptionsByTopic")?;
        self.record_topic(topic_arn);
        let state = self.state.lock().unwrap();
        Ok(state
            .subscriptions
            .iter()
            .map(|(endpoint, subscription)| TopicSubscription {
                arn: subscription.confirmed.then(|| subscription.arn.clone()),
                endpoint: endpoint.clone(),
            })
            .collect())
    }

    async fn subscribe(
        &self,
        topic_arn: &str,
        endpoint: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<String, ResourceError> {
        self.check("sns:Subscribe")?;
        self.record_topic(topic_arn);
        let mut state = self.state.lock().unwrap();
        if let Some(existing) = state.subscriptions.get(endpoint) {
            if !attributes.is_empty() && *attributes != existing.attributes {
                return Err(ResourceError(
                    "sns:Subscribe: Subscription already exists with different attributes".into(),
                ));
            }
            return Ok(existing.arn.clone());
        }
        state.next_id += 1;
        let arn = format!("{TOPIC}:{}", state.next_id);
        state.subscriptions.insert(
            endpoint.to_owned(),
            Subscription {
                arn: arn.clone(),
                confirmed: false,
                attributes: attributes.clone(),
            },
        );
        Ok(arn)
    }

    async fn set_subscription_attribute(
        &self,
        subscription_arn: &str,
        name: &str,
        value: &str,
    ) -> Result<(), ResourceError> {
        self.check("sns:SetSubscriptionAttributes")?;
        let mut state = self.state.lock().unwrap();
        let subscription = state
            .subscriptions
            .values_mut()
            .find(|subscription| subscription.arn == subscription_arn)
            .ok_or_else(|| ResourceError(format!("no subscription {subscription_arn}")))?;
        subscription
            .attributes
            .insert(name.to_owned(), value.to_owned());
        Ok(())
    }

    async fn unsubscribe(&self, subscription_arn: &str) -> Result<(), ResourceError> {
        self.check("sns:Unsubscribe")?;
        let mut state = self.state.lock().unwrap();
        state
            .subscriptions
            .retain(|_, subscription| subscription.arn != subscription_arn);
        Ok(())
    }

    async fn put_queue(
        &self,
        name: &str,
        attributes: &BTreeMap<String, String>,
    ) -> Result<(), ResourceError> {
        self.check("sqs:CreateQueue")?;
        let mut state = self.state.lock().unwrap();
        state.queues.insert(name.to_owned(), attributes.clone());
        Ok(())
    }

    async fn delete_queue(&self, name: &str) -> Result<(), ResourceError> {
        self.check("sqs:DeleteQueue")?;
        self.state.lock().unwrap().queues.remove(name);
        Ok(())
    }

    async fn put_alarm(&self, alarm: &QueueAlarm) -> Result<(), ResourceError> {
        self.check("cloudwatch:PutMetricAlarm")?;
        let mut state = self.state.lock().unwrap();
        state.alarms.insert(alarm.name.clone(), alarm.clone());
        Ok(())
    }

    async fn put_failure_rate_alarm(&self, alarm: &FailureRateAlarm) -> Result<(), ResourceError> {
        self.check("cloudwatch:PutMetricAlarm")?;
        let mut state = self.state.lock().unwrap();
        state
            .failure_alarms
            .insert(alarm.name.clone(), alarm.clone());
        Ok(())
    }

    async fn delete_alarms(&self, names: &[String]) -> Result<(), ResourceError> {
        self.check("cloudwatch:DeleteAlarms")?;
        let mut state = self.state.lock().unwrap();
        for name in names {
            state.alarms.remove(name);
            state.failure_alarms.remove(name);
        }
        Ok(())
    }

    async fn queue_mappings(&self, function_arn: &str) -> Result<Vec<QueueMapping>, ResourceError> {
        self.check("lambda:ListEventSourceMappings")?;
        let state = self.state.lock().unwrap();
        Ok(state
            .mappings
            .iter()
            .filter(|(_, (function, _))| function == function_arn)
            .map(|(uuid, (_, queue_arn))| QueueMapping {
                uuid: uuid.clone(),
                queue_arn: queue_arn.clone(),
            })
            .collect())
    }

    async fn map_queue(&self, function_arn: &str, queue_arn: &str) -> Result<(), ResourceError> {
        self.check("lambda:CreateEventSourceMapping")?;
        let mut state = self.state.lock().unwrap();
        let queue_name = queue_arn.rsplit(':').next().unwrap_or_default();
        assert!(
            state.queues.contains_key(queue_name),
            "the queue exists before its mapping"
        );
        state.next_id += 1;
        let uuid = format!("mapping-{}", state.next_id);
        state
            .mappings
            .insert(uuid, (function_arn.to_owned(), queue_arn.to_owned()));
        Ok(())
    }

    async fn unmap_queue(&self, uuid: &str) -> Result<(), ResourceError> {
        self.check("lambda:DeleteEventSourceMapping")?;
        self.state.lock().unwrap().mappings.remove(uuid);
        Ok(())
    }
}

fn properties(destinations: &str) -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:shop-ReconcileFunction",
        "TopicArn": TOPIC,
        "Endpoint": FUNCTION_URL,
        "Destinations": destinations,
        "TargetUrl": "",
        "AlarmTopicArn": ALARM_TOPIC,
        "NamePrefix": "shop_",
        "DeliveryPolicy": DeliveryPolicy::default().to_json(),
        "DeliveryFailureAlarm": failure_alarm_properties(),
        "RedeliverFunctionArn": REDELIVER,
    })
}

fn failure_alarm_properties() -> Value {
    json!({
        "Stack": "shop",
        "RatePercent": "20",
        "MinimumAttempts": "10",
        "PeriodSeconds": "300",
        "EvaluationPeriods": "3",
    })
}

const THREE: &str = r#"{
    "billing": {"url": "https://billing.example/hooks", "sources": ["stripe"], "types": ["invoice.*"], "rate_per_second": 20},
    "crm": {"url": "https://crm.example/hooks", "types": ["customer.*"]},
    "audit": {"url": "https://audit.example/hooks"}
}"#;

fn request(
    request_type: RequestType,
    properties: Value,
    old: Option<Value>,
) -> CustomResourceRequest {
    CustomResourceRequest {
        request_type,
        response_url: "https://cloudformation-custom-resource-response.s3.amazonaws.com/x".into(),
        stack_id: STACK_ID.into(),
        request_id: "req-1".into(),
        logical_resource_id: "DestinationResources".into(),
        physical_resource_id: (request_type != RequestType::Create)
            .then(|| "shop-DestinationResources".into()),
        resource_properties: properties,
        old_resource_properties: old,
    }
}

async fn run(aws: &InMemoryAws, request: CustomResourceRequest) -> CustomResourceResponse {
    Reconciler::new(aws.clone()).handle(&request).await
}

fn json_of(text: &str) -> Value {
    serde_json::from_str(text).expect("an attribute is JSON")
}

#[tokio::test]
async fn create_gives_every_destination_its_subscription_queue_and_alarm() {
    let aws = InMemoryAws::default();

    let response = run(&aws, request(RequestType::Create, properties(THREE), None)).await;

    assert_eq!(response.status, ResponseStatus::Success, "{response:?}");
    assert_eq!(
        aws.queue_names(),
        ["shop_audit-dlq", "shop_billing-dlq", "shop_crm-dlq"]
    );
    assert_eq!(
        aws.alarm_names(),
        [
            "shop_audit-dead-letters",
            "shop_billing-dead-letters",
            "shop_crm-dead-letters"
        ]
    );
    assert_eq!(aws.endpoints().len(), 3);

    let billing = aws.subscription("billing").attributes;
    assert_eq!(billing["FilterPolicyScope"], "MessageBody");
    assert_eq!(
        json_of(&billing["FilterPolicy"]),
        json!({"source": ["stripe"], "type": [{"prefix": "invoice."}]})
    );
    let policy = json_of(&billing["DeliveryPolicy"]);
    assert_eq!(
        policy["throttlePolicy"],
        json!({"maxReceivesPerSecond": 20})
    );
    assert_eq!(
        policy["healthyRetryPolicy"],
        json_of(&DeliveryPolicy::default().to_json())["healthyRetryPolicy"]
    );
    assert_eq!(
        json_of(&billing["RedrivePolicy"]),
        json!({"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:123456789012:shop_billing-retry"}),
        "SNS hands over to tier 2"
    );

    let crm = aws.subscription("crm").attributes;
    assert_eq!(
        json_of(&crm["FilterPolicy"]),
        json!({"type": [{"prefix": "customer."}]})
    );
    assert!(
        json_of(&crm["DeliveryPolicy"])
            .get("throttlePolicy")
            .is_none(),
        "no rate_per_second: unthrottled"
    );
    let audit = aws.subscription("audit").attributes;
    assert_eq!(
        json_of(&audit["FilterPolicy"]),
        json!({"source": [{"exists": true}]}),
        "taking everything: a policy every envelope matches"
    );
}

#[tokio::test]
async fn every_dead_letter_queue_takes_messages_only_from_the_delivery_topic_and_raises_its_alarm()
{
    let aws = InMemoryAws::default();
    run(&aws, request(RequestType::Create, properties(THREE), None)).await;

    let state = aws.state.lock().unwrap();
    let queue = &state.queues["shop_crm-dlq"];
    assert_eq!(queue["MessageRetentionPeriod"], "1209600");
    assert_eq!(queue["SqsManagedSseEnabled"], "true");
    let policy = json_of(&queue["Policy"]);
    let statement = &policy["Statement"][0];
    assert_eq!(
        statement["Principal"],
        json!({"Service": "sns.amazonaws.com"})
    );
    assert_eq!(statement["Action"], "sqs:SendMessage");
    assert_eq!(
        statement["Resource"],
        "arn:aws:sqs:eu-west-1:123456789012:shop_crm-dlq"
    );
    assert_eq!(
        statement["Condition"],
        json!({"ArnEquals": {"aws:SourceArn": TOPIC}})
    );
    let alarm = &state.alarms["shop_crm-dead-letters"];
    assert_eq!(alarm.queue_name, "shop_crm-dlq");
    assert_eq!(alarm.notify_topic_arn, ALARM_TOPIC);
}

#[tokio::test]
async fn without_destinations_the_target_url_is_the_default_destination() {
    let aws = InMemoryAws::default();
    let mut properties = properties("");
    properties["TargetUrl"] = json!("https://target.example/webhooks");

    let response = run(&aws, request(RequestType::Create, properties, None)).await;

    assert_eq!(response.status, ResponseStatus::Success, "{response:?}");
    assert_eq!(
        aws.endpoints(),
        [format!("{FUNCTION_URL}?destination=default")]
    );
    assert_eq!(aws.queue_names(), ["shop_default-dlq"]);
}

#[tokio::test]
async fn reconciling_again_changes_nothing_and_never_adds_a_second_subscription() {
    let aws = InMemoryAws::default();
    run(&aws, request(RequestType::Create, properties(THREE), None)).await;
    let before = format!("{:?}", aws.state.lock().unwrap());

    let response = run(
        &aws,
        request(
            RequestType::Update,
            properties(THREE),
            Some(properties(THREE)),
        ),
    )
    .await;

    assert_eq!(response.status, ResponseStatus::Success, "{response:?}");
    assert_eq!(format!("{:?}", aws.state.lock().unwrap()), before);
}

#[tokio::test]
async fn a_changed_filter_is_set_on_the_existing_subscription() {
    let aws = InMemoryAws::default();
    run(&aws, request(RequestType::Create, properties(THREE), None)).await;
    let arn = aws.subscription("crm").arn;
    let changed = THREE.replace("customer.*", "contact.created");

    run(
        &aws,
        request(
            RequestType::Update,
            properties(&changed),
            Some(properties(THREE)),
        ),
    )
    .await;

    let crm = aws.subscription("crm");
    assert_eq!(crm.arn, arn, "the same subscription, not a second one");
    assert_eq!(
        json_of(&crm.attributes["FilterPolicy"]),
        json!({"type": ["contact.created"]})
    );
    assert_eq!(aws.endpoints().len(), 3);
}

#[tokio::test]
async fn a_subscription_still_awaiting_confirmation_is_updated_through_its_arn() {
    let aws = InMemoryAws::default();
    aws.add_subscription(&format!("{FUNCTION_URL}?destination=audit"), false);

    let response = run(
        &aws,
        request(
            RequestType::Create,
            properties(r#"{"audit": {"url": "https://audit.example/hooks"}}"#),
            None,
        ),
    )
    .await;

    assert_eq!(response.status, ResponseStatus::Success, "{response:?}");
    assert_eq!(aws.endpoints().len(), 1);
    assert_eq!(
        aws.subscription("audit").attributes["FilterPolicyScope"],
        "MessageBody"
    );
}

#[tokio::test]
async fn removing_a_destination_removes_its_subscription_queue_and_alarm_only() {
    let aws = InMemoryAws::default();
    run(&aws, request(RequestType::Create, properties(THREE), None)).await;
    let two = r#"{
        "billing": {"url": "https://billing.example/hooks", "sources": ["stripe"], "types": ["invoice.*"], "rate_per_second": 20},
        "audit": {"url": "https://audit.example/hooks"}
    }"#;

    let response = run(
        &aws,
        request(
            RequestType::Update,
            properties(two),
            Some(properties(THREE)),
        ),
    )
    .await;

    assert_eq!(response.status, ResponseStatus::Success, "{response:?}");
    assert_eq!(aws.queue_names(), ["shop_audit-dlq", "shop_billing-dlq"]);
    assert_eq!(
        aws.alarm_names(),
        ["shop_audit-dead-letters", "shop_billing-dead-letters"]
    );
    assert_eq!(
        aws.endpoints(),
        [
            format!("{FUNCTION_URL}?destination=audit"),
            format!("{FUNCTION_URL}?destination=billing"),
        ]
    );
}

#[tokio::test]
async fn a_rollback_restores_what_the_failed_deploy_removed() {
    let aws = InMemoryAws::default();
    run(&aws, request(RequestType::Create, properties(THREE), None)).await;
    let one = r#"{"audit": {"url": "https://audit.example/hooks"}}"#;
    run(
        &aws,
        request(
            RequestType::Update,
            properties(one),
            Some(properties(THREE)),
        ),
    )
    .await;

    // CloudFormation rolls back with the properties swapped.
    let response = run(
        &aws,
        request(
            RequestType::Update,
            properties(THREE),
            Some(properties(one)),
        ),
    )
    .await;

    assert_eq!(response.status, ResponseStatus::Success, "{response:?}");
    assert_eq!(aws.endpoints().len(), 3);
    assert_eq!(aws.queue_names().len(), 3);
}

#[tokio::test]
async fn subscriptions_of_a_previous_function_url_are_replaced_not_doubled() {
    let aws = InMemoryAws::default();
    aws.add_subscription(
        "https://old.lambda-url.eu-west-1.on.aws/?destination=audit",
        true,
    );

    run(
        &aws,
        request(
            RequestType::Create,
            properties(r#"{"audit": {"url": "https://audit.example/hooks"}}"#),
            None,
        ),
    )
    .await;

    assert_eq!(
        aws.endpoints(),
        [format!("{FUNCTION_URL}?destination=audit")]
    );
}

#[tokio::test]
async fn subscriptions_it_does_not_manage_are_left_alone() {
    let aws = InMemoryAws::default();
    let tap = "arn:aws:sqs:eu-west-1:123456789012:operator-tap";
    aws.add_subscription(tap, true);

    run(&aws, request(RequestType::Create, properties(THREE), None)).await;
    run(&aws, request(RequestType::Delete, properties(THREE), None)).await;

    assert_eq!(aws.endpoints(), [tap]);
}

#[tokio::test]
async fn deleting_the_resource_removes_everything_it_created() {
    let aws = InMemoryAws::default();
    run(&aws, request(RequestType::Create, properties(THREE), None)).await;

    let response = run(&aws, request(RequestType::Delete, properties(THREE), None)).await;

    assert_eq!(response.status, ResponseStatus::Success, "{response:?}");
    assert!(aws.endpoints().is_empty());
    assert!(aws.queue_names().is_empty());
    assert!(aws.alarm_names().is_empty());
}

#[tokio::test]
async fn a_delete_with_unreadable_properties_succeeds_since_their_create_made_nothing() {
    let aws = InMemoryAws::default();

    let response = run(
        &aws,
        request(RequestType::Delete, json!({"TopicArn": 7}), None),
    )
    .await;

    assert_eq!(response.status, ResponseStatus::Success, "{response:?}");
}

async fn refused(properties: Value) -> String {
    let aws = InMemoryAws::default();
    let response = run(&aws, request(RequestType::Create, properties, None)).await;
    assert_eq!(response.status, ResponseStatus::Failed);
    assert!(
        aws.endpoints().is_empty() && aws.queue_names().is_empty(),
        "nothing is made from invalid properties"
    );
    response.reason.expect("a failure says why")
}

#[tokio::test]
async fn invalid_destinations_fail_the_deploy_naming_the_destination_and_field() {
    let reason = refused(properties(
        r#"{"crm": {"url": "https://crm.example/hooks", "timeout_seconds": 30}}"#,
    ))
    .await;
    assert!(
        reason.contains("crm") && reason.contains("timeout_seconds"),
        "{reason}"
    );

    let reason = refused(properties(
        r#"{"crm": {"url": "https://crm.example/hooks", "colour": "red"}}"#,
    ))
    .await;
    assert!(
        reason.contains("crm") && reason.contains("colour"),
        "{reason}"
    );

    let reason = refused(properties(r#"{"Bad Name": {"url": "https://x.example/"}}"#)).await;
    assert!(reason.contains("Bad Name"), "{reason}");

    let reason = refused(properties("[1, 2]")).await;
    assert!(reason.contains("JSON object"), "{reason}");
}

#[tokio::test]
async fn a_destination_that_is_not_https_fails_the_deploy() {
    let reason = refused(properties(
        r#"{"crm": {"url": "http://crm.example/hooks"}}"#,
    ))
    .await;
    assert!(
        reason.contains("crm") && reason.contains("https"),
        "{reason}"
    );
}

#[tokio::test]
async fn neither_destinations_nor_a_target_url_fails_the_deploy() {
    let reason = refused(properties("")).await;
    assert!(reason.contains("TargetUrl"), "{reason}");
}

#[tokio::test]
async fn a_queue_name_over_the_sqs_limit_fails_the_deploy_naming_the_destination() {
    let mut properties = properties(&format!(
        r#"{{"{}": {{"url": "https://x.example/"}}}}"#,
        "d".repeat(64)
    ));
    properties["NamePrefix"] = json!("a-long-stack-name-of-twenty_");

    let reason = refused(properties).await;

    assert!(
        reason.contains(&"d".repeat(64)) && reason.contains("80"),
        "{reason}"
    );
}

#[tokio::test]
async fn malformed_properties_fail_the_deploy() {
    let mut missing = properties(THREE);
    missing.as_object_mut().unwrap().remove("TopicArn");
    assert!(refused(missing).await.contains("TopicArn"));

    let mut unknown = properties(THREE);
    unknown["Colour"] = json!("red");
    assert!(refused(unknown).await.contains("Colour"));

    let mut policy = properties(THREE);
    policy["DeliveryPolicy"] = json!(r#"{"healthyRetryPolicy": {"numRetries": 500}}"#);
    assert!(refused(policy).await.contains("DeliveryPolicy"));

    let mut endpoint = properties(THREE);
    endpoint["Endpoint"] = json!("https://abc.lambda-url.eu-west-1.on.aws/?x=1");
    assert!(refused(endpoint).await.contains("Endpoint"));
}

#[tokio::test]
async fn a_failed_aws_call_fails_the_deploy_naming_the_call() {
    let aws = InMemoryAws {
        failing: Some("cloudwatch:PutMetricAlarm"),
        ..InMemoryAws::default()
    };

    let response = run(&aws, request(RequestType::Create, properties(THREE), None)).await;

    assert_eq!(response.status, ResponseStatus::Failed);
    assert!(
        response
            .reason
            .as_deref()
            .is_some_and(|reason| reason.contains("cloudwatch:PutMetricAlarm")),
        "{response:?}"
    );
}

#[tokio::test]
async fn the_answer_carries_the_request_identity_and_a_physical_id_that_never_changes() {
    let aws = InMemoryAws::default();

    let created = run(&aws, request(RequestType::Create, properties(THREE), None)).await;
    let updated = run(
        &aws,
        request(
            RequestType::Update,
            properties(THREE),
            Some(properties(THREE)),
        ),
    )
    .await;

    assert_eq!(created.physical_resource_id, "shop-DestinationResources");
    assert_eq!(updated.physical_resource_id, created.physical_resource_id);
    assert_eq!(created.stack_id, STACK_ID);
    assert_eq!(created.request_id, "req-1");
    assert_eq!(created.logical_resource_id, "DestinationResources");
    let body = serde_json::to_value(&created).unwrap();
    assert_eq!(body["Status"], "SUCCESS");
    assert!(body.get("Reason").is_none());
}

/// Never answers: stands for AWS calls that hang.
#[derive(Clone)]
struct Hanging;

fn hang<T>() -> impl Future<Output = Result<T, ResourceError>> + Send {
    std::future::pending()
}

impl DestinationResources for Hanging {
    fn subscriptions(
        &self,
        _: &str,
    ) -> impl Future<Output = Result<Vec<TopicSubscription>, ResourceError>> + Send {
        hang()
    }
    fn subscribe(
        &self,
        _: &str,
        _: &str,
        _: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<String, ResourceError>> + Send {
        hang()
    }
    fn set_subscription_attribute(
        &self,
        _: &str,
        _: &str,
        _: &str,
    ) -> impl Future<Output = Result<(), ResourceError>> + Send {
        hang()
    }
    fn unsubscribe(&self, _: &str) -> impl Future<Output = Result<(), ResourceError>> + Send {
        hang()
    }
    fn put_queue(
        &self,
        _: &str,
        _: &BTreeMap<String, String>,
    ) -> impl Future<Output = Result<(), ResourceError>> + Send {
        hang()
    }
    fn delete_queue(&self, _: &str) -> impl Future<Output = Result<(), ResourceError>> + Send {
        hang()
    }
    fn put_alarm(&self, _: &QueueAlarm) -> impl Future<Output = Result<(), ResourceError>> + Send {
        hang()
    }
    fn put_failure_rate_alarm(
        &self,
        _: &FailureRateAlarm,
    ) -> impl Future<Output = Result<(), ResourceError>> + Send {
        hang()
    }
    fn delete_alarms(
        &self,
        _: &[String],
    ) -> impl Future<Output = Result<(), ResourceError>> + Send {
        hang()
    }
    fn queue_mappings(
        &self,
        _: &str,
    ) -> impl Future<Output = Result<Vec<QueueMapping>, ResourceError>> + Send {
        hang()
    }
    fn map_queue(
        &self,
        _: &str,
        _: &str,
    ) -> impl Future<Output = Result<(), ResourceError>> + Send {
        hang()
    }
    fn unmap_queue(&self, _: &str) -> impl Future<Output = Result<(), ResourceError>> + Send {
        hang()
    }
}

#[tokio::test]
async fn work_that_outlasts_the_invocation_is_answered_failed_in_time() {
    let request = request(RequestType::Create, properties(THREE), None);

    let response = respond_before(
        &Reconciler::new(Hanging),
        &request,
        Duration::from_millis(5_050),
    )
    .await;

    assert_eq!(response.status, ResponseStatus::Failed);
    assert!(response.reason.unwrap().contains("deploy again"));
}

fn sample(json: &str) -> CustomResourceRequest {
    serde_json::from_str(json).expect("a sample custom resource request")
}

#[tokio::test]
async fn the_sample_requests_create_update_and_delete_the_destinations() {
    let aws = InMemoryAws::default();
    let endpoint = "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/";

    let created = run(
        &aws,
        sample(include_str!("../../../events/reconcile-create.json")),
    )
    .await;
    assert_eq!(created.status, ResponseStatus::Success, "{created:?}");
    assert_eq!(
        aws.endpoints(),
        [
            format!("{endpoint}?destination=billing"),
            format!("{endpoint}?destination=crm")
        ]
    );
    assert_eq!(
        aws.queue_names(),
        ["hookbridge_billing-dlq", "hookbridge_crm-dlq"]
    );

    let updated = run(
        &aws,
        sample(include_str!("../../../events/reconcile-update.json")),
    )
    .await;
    assert_eq!(updated.status, ResponseStatus::Success, "{updated:?}");
    assert_eq!(aws.endpoints(), [format!("{endpoint}?destination=billing")]);
    assert_eq!(aws.queue_names(), ["hookbridge_billing-dlq"]);
    assert_eq!(aws.alarm_names(), ["hookbridge_billing-dead-letters"]);
    let failure_alarms: Vec<String> = aws
        .state
        .lock()
        .unwrap()
        .failure_alarms
        .keys()
        .cloned()
        .collect();
    assert_eq!(failure_alarms, ["hookbridge_billing-failure-rate"]);

    let deleted = run(
        &aws,
        sample(include_str!("../../../events/reconcile-delete.json")),
    )
    .await;
    assert_eq!(deleted.status, ResponseStatus::Success, "{deleted:?}");
    assert!(
        aws.endpoints().is_empty() && aws.queue_names().is_empty() && aws.alarm_names().is_empty()
    );
    assert_eq!(
        deleted.physical_resource_id,
        "hookbridge-DestinationResources"
    );
}

#[test]
fn only_endpoints_with_a_destination_query_are_managed() {
    assert_eq!(
        destination_of("https://abc.lambda-url.eu-west-1.on.aws/?destination=crm"),
        Some("crm")
    );
    assert_eq!(
        destination_of("https://abc.example/?a=1&destination=crm"),
        Some("crm")
    );
    assert_eq!(
        destination_of("https://abc.lambda-url.eu-west-1.on.aws/"),
        None
    );
    assert_eq!(
        destination_of("https://abc.example/?destinations=crm"),
        None
    );
    assert_eq!(destination_of("arn:aws:sqs:eu-west-1:1:queue"), None);
}

#[tokio::test]
async fn every_destination_gets_a_failure_rate_alarm_on_its_own_metrics_and_loses_it_with_it() {
    let aws = InMemoryAws::default();
    run(&aws, request(RequestType::Create, properties(THREE), None)).await;
    {
        let state = aws.state.lock().unwrap();
        let names: Vec<&String> = state.failure_alarms.keys().collect();
        assert_eq!(
            names,
            [
                "shop_audit-failure-rate",
                "shop_billing-failure-rate",
                "shop_crm-failure-rate"
            ]
        );
        let crm = &state.failure_alarms["shop_crm-failure-rate"];
        assert_eq!(
            (crm.stack.as_str(), crm.destination.as_str()),
            ("shop", "crm")
        );
        assert_eq!(
            (
                crm.threshold_percent,
                crm.minimum_attempts,
                crm.period_seconds,
                crm.evaluation_periods
            ),
            (20, 10, 300, 3)
        );
        assert_eq!(crm.notify_topic_arn, ALARM_TOPIC);
    }
    let fewer = properties(r#"{"crm": {"url": "https://crm.example/hooks"}}"#);
    run(
        &aws,
        request(RequestType::Update, fewer, Some(properties(THREE))),
    )
    .await;
    let state = aws.state.lock().unwrap();
    let names: Vec<&String> = state.failure_alarms.keys().collect();
    assert_eq!(names, ["shop_crm-failure-rate"]);
}

#[tokio::test]
async fn invalid_alarm_thresholds_fail_the_deploy_naming_the_field() {
    for (field, value) in [
        ("RatePercent", "0"),
        ("RatePercent", "101"),
        ("MinimumAttempts", "many"),
        ("PeriodSeconds", "90"),
        ("EvaluationPeriods", "0"),
        ("Stack", " "),
    ] {
        let aws = InMemoryAws::default();
        let mut properties = properties(THREE);
        properties["DeliveryFailureAlarm"][field] = json!(value);
        let response = run(&aws, request(RequestType::Create, properties, None)).await;
        assert_eq!(response.status, ResponseStatus::Failed, "{field}={value}");
        let reason = response.reason.unwrap_or_default();
        assert!(
            reason.contains("DeliveryFailureAlarm") && reason.contains(field.trim()),
            "{reason}"
        );
        assert!(aws.queue_names().is_empty());
    }
}

#[tokio::test]
async fn the_properties_of_a_deploy_before_the_alarm_still_remove_its_destinations() {
    let aws = InMemoryAws::default();
    let mut before = properties(THREE);
    before
        .as_object_mut()
        .unwrap()
        .remove("DeliveryFailureAlarm");
    run(&aws, request(RequestType::Create, properties(THREE), None)).await;
    let fewer = properties(r#"{"crm": {"url": "https://crm.example/hooks"}}"#);
    let response = run(&aws, request(RequestType::Update, fewer, Some(before))).await;
    assert_eq!(response.status, ResponseStatus::Success, "{response:?}");
    assert_eq!(aws.queue_names(), ["shop_crm-dlq"]);
}

#[tokio::test]
async fn every_tier2_queue_redrives_to_the_final_queue_and_is_mapped_to_redeliver_once() {
    let aws = InMemoryAws::default();
    run(&aws, request(RequestType::Create, properties(THREE), None)).await;
    run(
        &aws,
        request(
            RequestType::Update,
            properties(THREE),
            Some(properties(THREE)),
        ),
    )
    .await;

    assert_eq!(
        aws.tier2_queue_names(),
        ["shop_audit-retry", "shop_billing-retry", "shop_crm-retry"]
    );
    assert_eq!(
        aws.mapped_queues(),
        [
            "arn:aws:sqs:eu-west-1:123456789012:shop_audit-retry",
            "arn:aws:sqs:eu-west-1:123456789012:shop_billing-retry",
            "arn:aws:sqs:eu-west-1:123456789012:shop_crm-retry"
        ],
        "one mapping per queue, also after a second reconcile"
    );
    let state = aws.state.lock().unwrap();
    let queue = &state.queues["shop_crm-retry"];
    assert_eq!(queue["MessageRetentionPeriod"], "1209600");
    assert_eq!(queue["SqsManagedSseEnabled"], "true");
    assert_eq!(queue["VisibilityTimeout"], "180");
    assert_eq!(
        json_of(&queue["RedrivePolicy"]),
        json!({
            "deadLetterTargetArn": "arn:aws:sqs:eu-west-1:123456789012:shop_crm-dlq",
            "maxReceiveCount": TIER2_MAX_RECEIVE_COUNT,
        })
    );
    let statement = &json_of(&queue["Policy"])["Statement"][0];
    assert_eq!(
        statement["Resource"],
        "arn:aws:sqs:eu-west-1:123456789012:shop_crm-retry"
    );
    assert_eq!(
        statement["Condition"],
        json!({"ArnEquals": {"aws:SourceArn": TOPIC}})
    );
}

#[tokio::test]
async fn a_removed_destination_loses_its_mapping_and_both_queues_and_delete_unmaps_all() {
    let aws = InMemoryAws::default();
    run(&aws, request(RequestType::Create, properties(THREE), None)).await;
    let two = r#"{"billing": {"url": "https://billing.example/hooks"}, "audit": {"url": "https://audit.example/hooks"}}"#;

    let updated = run(
        &aws,
        request(
            RequestType::Update,
            properties(two),
            Some(properties(THREE)),
        ),
    )
    .await;

    assert_eq!(updated.status, ResponseStatus::Success, "{updated:?}");
    assert_eq!(
        aws.tier2_queue_names(),
        ["shop_audit-retry", "shop_billing-retry"]
    );
    assert_eq!(aws.queue_names(), ["shop_audit-dlq", "shop_billing-dlq"]);
    assert_eq!(aws.mapped_queues().len(), 2);
    assert!(
        !aws.mapped_queues()
            .iter()
            .any(|queue| queue.ends_with("crm-retry"))
    );

    let deleted = run(&aws, request(RequestType::Delete, properties(two), None)).await;
    assert_eq!(deleted.status, ResponseStatus::Success, "{deleted:?}");
    assert!(aws.mapped_queues().is_empty());
    assert!(aws.state.lock().unwrap().queues.is_empty());
}

#[tokio::test]
async fn properties_from_before_tier_2_redrive_to_the_final_queue_and_map_nothing() {
    let aws = InMemoryAws::default();
    let mut before_tier2 = properties(THREE);
    before_tier2
        .as_object_mut()
        .unwrap()
        .remove("RedeliverFunctionArn");

    let response = run(&aws, request(RequestType::Create, before_tier2, None)).await;

    assert_eq!(response.status, ResponseStatus::Success, "{response:?}");
    assert!(aws.tier2_queue_names().is_empty());
    assert!(aws.mapped_queues().is_empty());
    assert_eq!(
        json_of(&aws.subscription("crm").attributes["RedrivePolicy"]),
        json!({"deadLetterTargetArn": "arn:aws:sqs:eu-west-1:123456789012:shop_crm-dlq"}),
        "nothing waits in a queue no function reads"
    );
}
