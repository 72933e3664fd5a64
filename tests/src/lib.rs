//! Support for hookbridge's end-to-end tests (`tests/tests/*.rs`).
//!
//! The tests talk to moto's server, an AWS emulator, through the real AWS
//! SDK. `scripts/test` starts it on a free loopback port and exports
//! `AWS_ENDPOINT_URL`, a region and fake credentials; [`aws_config`] refuses to
//! run without that endpoint, so a test can neither pass vacuously nor touch a
//! real account.
//!
//! Tests run in parallel (cargo nextest, one process per test) against one
//! server, so every resource gets a unique name from [`unique_name`].
//!
//! To read back what reached a bus, [`BusTap`] routes every hookbridge event
//! (source `hookbridge.*`) to a fresh SQS queue through a rule.

pub mod deliver_fixtures;
pub mod dev_process;
pub mod fault_proxy;

use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_sqs::types::QueueAttributeName;
use aws_sdk_ssm::types::ParameterType;
use serde::Deserialize;
use serde_json::{Value, json};

/// Event pattern matching every event hookbridge puts on a bus.
pub const HOOKBRIDGE_EVENT_PATTERN: &str = r#"{"source":[{"prefix":"hookbridge."}]}"#;

/// SDK configuration for the emulator named by `AWS_ENDPOINT_URL`.
///
/// # Panics
/// When `AWS_ENDPOINT_URL` is unset or not a loopback address: the tests are
/// meant to run through `scripts/test`, never against real AWS.
pub async fn aws_config() -> SdkConfig {
    // Every test against the emulator runs the functions: capture what they
    // log for scripts/check-logs.
    hookbridge_testlog::capture();
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    assert!(
        !endpoint.is_empty(),
        "AWS_ENDPOINT_URL is not set: run the integration tests with scripts/test, \
         which starts moto's server and points the AWS SDK at it"
    );
    assert!(
        is_loopback_url(&endpoint),
        "AWS_ENDPOINT_URL={endpoint} is not a loopback address: the integration tests \
         only run against a local emulator (use scripts/test)"
    );
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// `<prefix>-<32 hex digits>`: unique across parallel tests and runs.
/// Keep `prefix` under 31 characters so the name fits every AWS limit
/// (EventBridge rule names stop at 64).
pub fn unique_name(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

/// Creates a uniquely named SNS topic and returns its ARN.
pub async fn create_topic(config: &SdkConfig, prefix: &str) -> String {
    aws_sdk_sns::Client::new(config)
        .create_topic()
        .name(unique_name(prefix))
        .send()
        .await
        .unwrap_or_else(|error| panic!("create topic {prefix}-*: {error:?}"))
        .topic_arn
        .expect("CreateTopic returns the ARN")
}

/// An SQS queue a test created: its URL for the SQS calls, its ARN for
/// subscriptions and policies.
pub struct TestQueue {
    pub url: String,
    pub arn: String,
}

/// Creates the queue `name`: a [`unique_name`], unless the code under test
/// derives the name itself.
pub async fn create_queue(sqs: &aws_sdk_sqs::Client, name: &str) -> TestQueue {
    let url = sqs
        .create_queue()
        .queue_name(name)
        .send()
        .await
        .unwrap_or_else(|error| panic!("create queue {name}: {error:?}"))
        .queue_url
        .expect("CreateQueue returns the queue URL");
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap_or_else(|error| panic!("get attributes of queue {name}: {error:?}"))
        .attributes
        .and_then(|mut attributes| attributes.remove(&QueueAttributeName::QueueArn))
        .expect("GetQueueAttributes returns the queue ARN");
    TestQueue { url, arn }
}

/// A fresh queue `<prefix>-<unique>` subscribed to the topic with raw
/// message delivery, so it receives exactly what the topic published;
/// returns its URL.
pub async fn subscribe_new_queue(config: &SdkConfig, topic_arn: &str, prefix: &str) -> String {
    let queue = create_queue(&aws_sdk_sqs::Client::new(config), &unique_name(prefix)).await;
    aws_sdk_sns::Client::new(config)
        .subscribe()
        .topic_arn(topic_arn)
        .protocol("sqs")
        .endpoint(queue.arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .unwrap_or_else(|error| panic!("subscribe queue {prefix}-*: {error:?}"));
    queue.url
}

/// A fresh events table shaped like the template's (string partition key
/// `pk`), named `<prefix>-<unique>`.
pub async fn create_events_table(config: &SdkConfig, prefix: &str) -> String {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
    };
    use hookbridge_aws::dynamodb::attr;

    let table = unique_name(prefix);
    aws_sdk_dynamodb::Client::new(config)
        .create_table()
        .table_name(&table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr::PK)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("attribute definition"),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name(attr::PK)
                .key_type(KeyType::Hash)
                .build()
                .expect("key schema"),
        )
        .send()
        .await
        .unwrap_or_else(|error| panic!("create table {table}: {error:?}"));
    table
}

/// A DynamoDB item, as the events table holds it.
pub type Item = std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>;

/// Every item of `table`, read straight from the emulator with a
/// consistent read, page by page.
pub async fn all_items(config: &SdkConfig, table: &str) -> Vec<Item> {
    let client = aws_sdk_dynamodb::Client::new(config);
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .set_exclusive_start_key(start)
            .send()
            .await
            .unwrap_or_else(|error| panic!("scan {table}: {error:?}"));
        items.extend(page.items.unwrap_or_default());
        start = page.last_evaluated_key;
        if start.is_none() {
            return items;
        }
    }
}

/// The string attribute `name` of `item`; panics naming it when absent.
pub fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|value| value.as_s().ok())
        .unwrap_or_else(|| panic!("item has no string attribute {name}: {item:?}"))
}

/// Stores `value` as the SSM SecureString parameter `name` (overwriting it).
pub async fn put_secure_parameter(config: &SdkConfig, name: &str, value: &str) {
    aws_sdk_ssm::Client::new(config)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap_or_else(|error| panic!("put SSM parameter {name}: {error:?}"));
}

/// An event as EventBridge delivers it to a target.
#[derive(Debug, Clone, Deserialize)]
pub struct BusEvent {
    /// EventBridge's own event id (not the envelope's).
    pub id: String,
    pub source: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    /// The envelope, as a JSON value.
    pub detail: Value,
}

/// An event bus whose hookbridge events are copied to an SQS queue to read back.
#[derive(Debug)]
pub struct BusTap {
    bus_name: String,
    queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

impl BusTap {
    /// Creates a uniquely named bus and taps it.
    pub async fn with_new_bus(config: &SdkConfig) -> Self {
        let bus_name = unique_name("hookbridge-test");
        aws_sdk_eventbridge::Client::new(config)
            .create_event_bus()
            .name(&bus_name)
            .send()
            .await
            .unwrap_or_else(|error| panic!("create event bus {bus_name}: {error:?}"));
        Self::attach(config, &bus_name).await
    }

    /// Taps an existing bus: a new rule matching [`HOOKBRIDGE_EVENT_PATTERN`]
    /// targets a new queue.
    pub async fn attach(config: &SdkConfig, bus_name: &str) -> Self {
        let events = aws_sdk_eventbridge::Client::new(config);
        let sqs = aws_sdk_sqs::Client::new(config);
        let name = unique_name("hb-tap");

        let TestQueue {
            url: queue_url,
            arn: queue_arn,
        } = create_queue(&sqs, &name).await;

        let rule_arn = events
            .put_rule()
            .name(&name)
            .event_bus_name(bus_name)
            .event_pattern(HOOKBRIDGE_EVENT_PATTERN)
            .send()
            .await
            .unwrap_or_else(|error| panic!("put rule {name} on bus {bus_name}: {error:?}"))
            .rule_arn
            .expect("PutRule returns the rule ARN");

        // What real AWS requires for the rule to send to the queue; moto does not check it.
        let policy = json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }],
        });
        sqs.set_queue_attributes()
            .queue_url(&queue_url)
            .attributes(QueueAttributeName::Policy, policy.to_string())
            .send()
            .await
            .unwrap_or_else(|error| panic!("set policy of queue {name}: {error:?}"));

        let target = aws_sdk_eventbridge::types::Target::builder()
            .id("tap")
            .arn(&queue_arn)
            .build()
            .expect("target has an id and an ARN");
        let response = events
            .put_targets()
            .rule(&name)
            .event_bus_name(bus_name)
            .targets(target)
            .send()
            .await
            .unwrap_or_else(|error| panic!("put target of rule {name}: {error:?}"));
        assert_eq!(
            response.failed_entry_count, 0,
            "put target of rule {name}: {response:?}"
        );

        Self {
            bus_name: bus_name.to_owned(),
            queue_url,
            sqs,
        }
    }

    /// Name of the tapped bus.
    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }

    /// Waits until `count` events have arrived or `timeout` has passed, and
    /// returns the events that arrived (each once: they are deleted from the
    /// queue). Asking for an event that must not come and getting an empty
    /// list is how a test shows that nothing reached the bus.
    pub async fn receive(&self, count: usize, timeout: Duration) -> Vec<BusEvent> {
        let deadline = Instant::now() + timeout;
        let mut received = Vec::with_capacity(count);
        while received.len() < count && Instant::now() < deadline {
            let output = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap_or_else(|error| panic!("receive from tap of {}: {error:?}", self.bus_name));
            for message in output.messages.unwrap_or_default() {
                let body = message.body.as_deref().unwrap_or_default();
                let event = serde_json::from_str(body).unwrap_or_else(|error| {
                    panic!("tap message is not an event ({error}): {body}")
                });
                received.push(event);
                if let Some(receipt_handle) = message.receipt_handle {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(receipt_handle)
                        .send()
                        .await
                        .unwrap_or_else(|error| panic!("delete tap message: {error:?}"));
                }
            }
        }
        received
    }
}

/// Whether `url` names a host on this machine (127.0.0.0/8, localhost or [::1]).
fn is_loopback_url(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::is_loopback_url;

    #[test]
    fn loopback_endpoints_are_accepted() {
        for url in [
            "http://127.0.0.1:5000",
            "http://127.0.0.2:5000/",
            "http://localhost:4566",
            "http://[::1]:5000",
        ] {
            assert!(is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn remote_or_malformed_endpoints_are_refused() {
        for url in [
            "https://events.us-east-1.amazonaws.com",
            "http://10.0.0.1:5000",
            "http://127.0.0.1.example.com",
            "http://localhost.example.com",
            "127.0.0.1:5000",
            "",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }
}
