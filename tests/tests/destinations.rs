//! Destinations in AWS, against moto: the filter policy the reconciler gives
//! a destination's subscription lets through exactly the envelopes the
//! destination's rule matches (observed through an SQS subscription with the
//! same filter, since moto's SNS evaluates MessageBody filters), and the
//! reconciler on the real SDK adapters creates, converges and removes every
//! destination's subscription, dead-letter queue and alarm.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_config::SdkConfig;
use hookbridge_core::delivery_policy::DeliveryPolicy;
use hookbridge_tests::{TestQueue, aws_config, create_queue, create_topic, unique_name};
use reconcile::{AwsReconciler, CustomResourceRequest, Properties, RequestType, ResponseStatus};
use serde_json::{Value, json};

const DESTINATIONS: &str = r#"{
    "billing": {"url": "https://billing.example/hooks", "sources": ["stripe"], "types": ["invoice.*", "customer.subscription.*"], "rate_per_second": 20},
    "crm": {"url": "https://crm.example/hooks", "types": ["customer.*"]},
    "github": {"url": "https://ci.example/hooks", "sources": ["github"]},
    "audit": {"url": "https://audit.example/hooks"}
}"#;

/// (source, type) of every envelope published: matches and near misses of
/// each destination.
const EVENTS: &[(&str, &str)] = &[
    ("stripe", "invoice.paid"),
    ("stripe", "invoice.payment_failed"),
    ("stripe", "customer.subscription.updated"),
    ("stripe", "customer.created"),
    ("stripe", "charge.succeeded"),
    ("stripe", "invoices"),
    ("github", "push"),
    ("github", "customer.created"),
    ("moneybutton", "payment.completed"),
    ("shopify", "customer.subscription.created"),
];

fn properties(
    topic_arn: &str,
    name_prefix: &str,
    alarm_topic_arn: &str,
    destinations: &str,
) -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:reconcile",
        "TopicArn": topic_arn,
        // Never called: moto's SNS delivers to HTTP endpoints only on publish.
        "Endpoint": "https://127.0.0.1:9/",
        "Destinations": destinations,
        "TargetUrl": "",
        "AlarmTopicArn": alarm_topic_arn,
        "NamePrefix": name_prefix,
        "DeliveryPolicy": DeliveryPolicy::default().to_json(),
        "DeliveryFailureAlarm": {
            "Stack": "hb-dest", "RatePercent": "20", "MinimumAttempts": "10",
            "PeriodSeconds": "300", "EvaluationPeriods": "3",
        },
    })
}

fn envelope(index: usize, source: &str, event_type: &str) -> String {
    json!({
        "id": format!("evt_{index}"),
        "source": source,
        "type": event_type,
        "received_at": "2026-12-02T00:00:00.000Z",
        "occurred_at": null,
        "correlation_id": "7a2e0000-0000-4000-8000-000000000000",
        "payload": {"n": index},
    })
    .to_string()
}

/// The ids of the envelopes in the queue, reading until `expected` arrived
/// and then once more to catch any extra.
async fn received_ids(config: &SdkConfig, queue_url: &str, expected: usize) -> BTreeSet<String> {
    let sqs = aws_sdk_sqs::Client::new(config);
    let mut ids = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let messages = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(if ids.len() >= expected { 1 } else { 2 })
            .send()
            .await
            .expect("receive")
            .messages
            .unwrap_or_default();
        let before = ids.len();
        for message in &messages {
            let envelope: Value = serde_json::from_str(message.body.as_deref().unwrap_or_default())
                .expect("raw envelope");
            ids.insert(envelope["id"].as_str().expect("an id").to_owned());
            sqs.delete_message()
                .queue_url(queue_url)
                .set_receipt_handle(message.receipt_handle.clone())
                .send()
                .await
                .expect("delete");
        }
        let settled = ids.len() >= expected && ids.len() == before;
        if settled || tokio::time::Instant::now() > deadline {
            return ids;
        }
    }
}

#[tokio::test]
async fn each_destination_subscription_receives_exactly_the_envelopes_its_rule_matches() {
    let config = aws_config().await;
    let sns = aws_sdk_sns::Client::new(&config);
    let topic_arn = create_topic(&config, "hb-dest-filter").await;
    let desired = Properties::parse(properties(&topic_arn, "filter_", &topic_arn, DESTINATIONS))
        .expect("properties")
        .desired()
        .expect("valid destinations");

    let mut queues = BTreeMap::new();
    for destination in desired.destinations.iter() {
        let TestQueue { url, arn } = create_queue(
            &aws_sdk_sqs::Client::new(&config),
            &unique_name(&format!("hb-dest-{}", destination.name)),
        )
        .await;
        // The filter half of what the reconciler sets; an SQS endpoint takes
        // no HTTP delivery policy.
        let mut attributes: BTreeMap<String, String> = desired
            .subscription_attributes(destination)
            .expect("attributes")
            .into_iter()
            .filter(|(name, _)| name.starts_with("FilterPolicy"))
            .collect();
        attributes.insert("RawMessageDelivery".into(), "true".into());
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(arn)
            .set_attributes(Some(attributes.into_iter().collect()))
            .send()
            .await
            .expect("subscribe the observing queue");
        queues.insert(destination.name.to_string(), url);
    }

    for (index, (source, event_type)) in EVENTS.iter().enumerate() {
        sns.publish()
            .topic_arn(&topic_arn)
            .message(envelope(index, source, event_type))
            .send()
            .await
            .expect("publish");
    }

    for destination in desired.destinations.iter() {
        let expected: BTreeSet<String> = EVENTS
            .iter()
            .enumerate()
            .filter(|(_, (source, event_type))| destination.filter.matches(source, event_type))
            .map(|(index, _)| format!("evt_{index}"))
            .collect();
        let received =
            received_ids(&config, &queues[destination.name.as_str()], expected.len()).await;
        assert_eq!(
            received, expected,
            "destination {} receives exactly what its rule matches",
            destination.name
        );
    }
}

fn request(
    request_type: RequestType,
    properties: Value,
    old: Option<Value>,
) -> CustomResourceRequest {
    serde_json::from_value(json!({
        "RequestType": request_type_name(request_type),
        "ResponseURL": "https://cloudformation-custom-resource-response.s3.amazonaws.com/x",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/hb/1",
        "RequestId": unique_name("req"),
        "ResourceType": "Custom::Destinations",
        "LogicalResourceId": "DestinationResources",
        "PhysicalResourceId": "hb-DestinationResources",
        "ResourceProperties": properties,
        "OldResourceProperties": old,
    }))
    .expect("a custom resource request as CloudFormation sends it")
}

fn request_type_name(request_type: RequestType) -> &'static str {
    match request_type {
        RequestType::Create => "Create",
        RequestType::Update => "Update",
        RequestType::Delete => "Delete",
    }
}

/// What the topic, SQS and CloudWatch hold for one name prefix.
#[derive(Debug, PartialEq, Eq)]
struct Observed {
    /// Endpoint -> subscription attributes the reconciler sets.
    subscriptions: BTreeMap<String, BTreeMap<String, String>>,
    queues: BTreeSet<String>,
    alarms: BTreeSet<String>,
}

async fn observe(config: &SdkConfig, topic_arn: &str, prefix: &str) -> Observed {
    let sns = aws_sdk_sns::Client::new(config);
    let listed = sns
        .list_subscriptions_by_topic()
        .topic_arn(topic_arn)
        .send()
        .await
        .expect("list subscriptions")
        .subscriptions
        .unwrap_or_default();
    let mut subscriptions = BTreeMap::new();
    for subscription in listed {
        let attributes = sns
            .get_subscription_attributes()
            .subscription_arn(subscription.subscription_arn.unwrap_or_default())
            .send()
            .await
            .expect("subscription attributes")
            .attributes
            .unwrap_or_default()
            .into_iter()
            .filter(|(name, _)| {
                [
                    "FilterPolicy",
                    "FilterPolicyScope",
                    "DeliveryPolicy",
                    "RedrivePolicy",
                ]
                .contains(&name.as_str())
            })
            .collect();
        subscriptions.insert(subscription.endpoint.unwrap_or_default(), attributes);
    }
    let queues = aws_sdk_sqs::Client::new(config)
        .list_queues()
        .queue_name_prefix(prefix)
        .send()
        .await
        .expect("list queues")
        .queue_urls
        .unwrap_or_default()
        .into_iter()
        .map(|url| url.rsplit('/').next().unwrap_or_default().to_owned())
        .collect();
    let alarms = aws_sdk_cloudwatch::Client::new(config)
        .describe_alarms()
        .alarm_name_prefix(prefix)
        .send()
        .await
        .expect("describe alarms")
        .metric_alarms
        .unwrap_or_default()
        .into_iter()
        .filter_map(|alarm| alarm.alarm_name)
        .collect();
    Observed {
        subscriptions,
        queues,
        alarms,
    }
}

#[tokio::test]
async fn the_reconciler_creates_converges_and_removes_every_destination_in_aws() {
    let config = aws_config().await;
    let reconciler = AwsReconciler::on_aws(&config);
    let topic_arn = create_topic(&config, "hb-dest-reconcile").await;
    let alarm_topic_arn = create_topic(&config, "hb-dest-alarms").await;
    let prefix = format!("{}_", unique_name("hb"));
    let all = properties(&topic_arn, &prefix, &alarm_topic_arn, DESTINATIONS);

    let created = reconciler
        .handle(&request(RequestType::Create, all.clone(), None))
        .await;
    assert_eq!(created.status, ResponseStatus::Success, "{created:?}");
    let after_create = observe(&config, &topic_arn, &prefix).await;
    let names = ["audit", "billing", "crm", "github"];
    assert_eq!(
        after_create.queues,
        names
            .iter()
            .map(|name| format!("{prefix}{name}-dlq"))
            .collect()
    );
    assert_eq!(
        after_create.alarms,
        names
            .iter()
            .flat_map(|name| {
                [
                    format!("{prefix}{name}-dead-letters"),
                    format!("{prefix}{name}-failure-rate"),
                ]
            })
            .collect()
    );
    let billing = &after_create.subscriptions["https://127.0.0.1:9/?destination=billing"];
    let filter: Value =
        serde_json::from_str(&billing["FilterPolicy"]).expect("a JSON filter policy");
    assert_eq!(
        filter,
        json!({"source": ["stripe"], "type": [{"prefix": "invoice."}, {"prefix": "customer.subscription."}]})
    );
    assert_eq!(billing["FilterPolicyScope"], "MessageBody");
    let delivery: Value =
        serde_json::from_str(&billing["DeliveryPolicy"]).expect("a JSON delivery policy");
    assert_eq!(delivery["throttlePolicy"]["maxReceivesPerSecond"], 20);
    let redrive: Value =
        serde_json::from_str(&billing["RedrivePolicy"]).expect("a JSON redrive policy");
    assert!(
        redrive["deadLetterTargetArn"]
            .as_str()
            .is_some_and(|arn| arn.ends_with(&format!(":{prefix}billing-dlq"))),
        "{redrive}"
    );
    assert_eq!(after_create.subscriptions.len(), 4);

    let again = reconciler
        .handle(&request(
            RequestType::Update,
            all.clone(),
            Some(all.clone()),
        ))
        .await;
    assert_eq!(again.status, ResponseStatus::Success, "{again:?}");
    assert_eq!(
        observe(&config, &topic_arn, &prefix).await,
        after_create,
        "reconciling again changes nothing and adds no second subscription"
    );

    let fewer = properties(
        &topic_arn,
        &prefix,
        &alarm_topic_arn,
        r#"{"crm": {"url": "https://crm.example/hooks", "types": ["customer.created"]}}"#,
    );
    let updated = reconciler
        .handle(&request(RequestType::Update, fewer.clone(), Some(all)))
        .await;
    assert_eq!(updated.status, ResponseStatus::Success, "{updated:?}");
    let after_update = observe(&config, &topic_arn, &prefix).await;
    assert_eq!(
        after_update.subscriptions.keys().collect::<Vec<_>>(),
        ["https://127.0.0.1:9/?destination=crm"]
    );
    let crm_filter: Value = serde_json::from_str(
        &after_update.subscriptions["https://127.0.0.1:9/?destination=crm"]["FilterPolicy"],
    )
    .expect("a JSON filter policy");
    assert_eq!(crm_filter, json!({"type": ["customer.created"]}));
    assert_eq!(
        after_update.queues,
        BTreeSet::from([format!("{prefix}crm-dlq")])
    );
    assert_eq!(
        after_update.alarms,
        BTreeSet::from([
            format!("{prefix}crm-dead-letters"),
            format!("{prefix}crm-failure-rate")
        ])
    );

    let deleted = reconciler
        .handle(&request(RequestType::Delete, fewer, None))
        .await;
    assert_eq!(deleted.status, ResponseStatus::Success, "{deleted:?}");
    assert_eq!(
        observe(&config, &topic_arn, &prefix).await,
        Observed {
            subscriptions: BTreeMap::new(),
            queues: BTreeSet::new(),
            alarms: BTreeSet::new(),
        },
        "deleting the stack leaves nothing the reconciler made"
    );
}

/// A redeliver function in moto for the mappings to name: moto maps a queue
/// only to a function it has, and creates one only with an existing role.
async fn create_redeliver_function(config: &SdkConfig) -> String {
    let role_arn = aws_sdk_iam::Client::new(config)
        .create_role()
        .role_name(unique_name("hb-redeliver"))
        .assume_role_policy_document(
            json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
                .to_string(),
        )
        .send()
        .await
        .expect("create the role")
        .role
        .expect("a role")
        .arn;
    aws_sdk_lambda::Client::new(config)
        .create_function()
        .function_name(unique_name("hb-redeliver"))
        .role(role_arn)
        // moto does not look at an image's code.
        .package_type(aws_sdk_lambda::types::PackageType::Image)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .image_uri("123456789012.dkr.ecr.us-east-1.amazonaws.com/redeliver:latest")
                .build(),
        )
        .send()
        .await
        .expect("create the function")
        .function_arn
        .expect("a function ARN")
}

/// The queue ARN of every mapping of the function.
async fn mapped_queues(config: &SdkConfig, function_arn: &str) -> BTreeSet<String> {
    aws_sdk_lambda::Client::new(config)
        .list_event_source_mappings()
        .function_name(function_arn)
        .send()
        .await
        .expect("list mappings")
        .event_source_mappings
        .unwrap_or_default()
        .into_iter()
        .inspect(|mapping| {
            assert_eq!(
                mapping.function_response_types(),
                [aws_sdk_lambda::types::FunctionResponseType::ReportBatchItemFailures]
            );
            assert_eq!(mapping.batch_size(), Some(1));
        })
        .filter_map(|mapping| mapping.event_source_arn)
        .map(|arn| arn.rsplit(':').next().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn with_tier_2_each_destination_s_redrive_queue_is_its_tier2_queue_mapped_to_redeliver() {
    let config = aws_config().await;
    let reconciler = AwsReconciler::on_aws(&config);
    let topic_arn = create_topic(&config, "hb-dest-tier2").await;
    let alarm_topic_arn = create_topic(&config, "hb-dest-t2-alarms").await;
    let function_arn = create_redeliver_function(&config).await;
    let prefix = format!("{}_", unique_name("hb"));
    let mut two = properties(
        &topic_arn,
        &prefix,
        &alarm_topic_arn,
        r#"{"billing": {"url": "https://billing.example/hooks"}, "crm": {"url": "https://crm.example/hooks"}}"#,
    );
    two["RedeliverFunctionArn"] = json!(function_arn);

    for (request_type, old) in [
        (RequestType::Create, None),
        (RequestType::Update, Some(two.clone())),
    ] {
        let response = reconciler
            .handle(&request(request_type, two.clone(), old))
            .await;
        assert_eq!(response.status, ResponseStatus::Success, "{response:?}");
    }

    let observed = observe(&config, &topic_arn, &prefix).await;
    let queues = |suffix: &str| -> BTreeSet<String> {
        ["billing", "crm"]
            .iter()
            .map(|name| format!("{prefix}{name}{suffix}"))
            .collect()
    };
    assert_eq!(
        observed.queues,
        queues("-dlq").union(&queues("-retry")).cloned().collect()
    );
    assert_eq!(
        mapped_queues(&config, &function_arn).await,
        queues("-retry"),
        "one mapping per tier-2 queue, also after a second reconcile"
    );
    let redrive: Value = serde_json::from_str(
        &observed.subscriptions["https://127.0.0.1:9/?destination=billing"]["RedrivePolicy"],
    )
    .expect("a JSON redrive policy");
    assert!(
        redrive["deadLetterTargetArn"]
            .as_str()
            .is_some_and(|arn| arn.ends_with(&format!(":{prefix}billing-retry"))),
        "SNS hands over to tier 2: {redrive}"
    );
    let sqs = aws_sdk_sqs::Client::new(&config);
    let tier2_url = sqs
        .get_queue_url()
        .queue_name(format!("{prefix}billing-retry"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&tier2_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap_or_default();
    let attribute =
        |name: &str| attributes[&aws_sdk_sqs::types::QueueAttributeName::from(name)].clone();
    assert_eq!(attribute("MessageRetentionPeriod"), "1209600");
    assert_eq!(attribute("VisibilityTimeout"), "180");
    let backstop: Value = serde_json::from_str(&attribute("RedrivePolicy")).unwrap();
    assert_eq!(
        backstop["maxReceiveCount"].as_u64(),
        Some(u64::from(reconcile::TIER2_MAX_RECEIVE_COUNT))
    );
    assert!(
        backstop["deadLetterTargetArn"]
            .as_str()
            .is_some_and(|arn| arn.ends_with(&format!(":{prefix}billing-dlq")))
    );

    let deleted = reconciler
        .handle(&request(RequestType::Delete, two, None))
        .await;
    assert_eq!(deleted.status, ResponseStatus::Success, "{deleted:?}");
    assert!(mapped_queues(&config, &function_arn).await.is_empty());
    assert!(
        observe(&config, &topic_arn, &prefix)
            .await
            .queues
            .is_empty()
    );
}
