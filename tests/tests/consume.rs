//! The consume handler with the DynamoDB adapter against moto's DynamoDB:
//! exactly one item per event, a projection that only moves forward, and
//! payloads that read back unchanged.

use aws_config::SdkConfig;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use consume::{Consumer, DEFAULT_RETENTION_DAYS, Outcome, Settings};
use hookbridge_aws::DynamoDbEventStore;
use hookbridge_aws::dynamodb::{attr, event_key, projection_key};
use hookbridge_aws::s3::S3PayloadStore;
use hookbridge_core::envelope::BUS_SOURCE_PREFIX;
use hookbridge_testkit::MemoryPayloads;
use hookbridge_testkit::http_target::closed_loopback_url;
use hookbridge_tests::deliver_fixtures::PAYLOAD_BUCKET;
use hookbridge_tests::{Item, all_items, aws_config, create_events_table, text, unique_name};

const SOURCES: &str = r#"{"stripe":{"kind":"stripe"},"moneybutton":{"kind":"moneybutton"},
    "orders":{"kind":"hmac","header":"X-Sig","object_pointer":"/order/id"}}"#;
const STRIPE_SAMPLE: &str = include_str!("../../events/consume-stripe.json");
const RECEIVED_AT_EPOCH: u64 = 1_795_478_400;
const DAY: u64 = 86_400;

fn consumer(config: &SdkConfig, table: &str) -> Consumer<DynamoDbEventStore, S3PayloadStore> {
    let settings = Settings::from_lookup(|name| match name {
        "TABLE_NAME" => Some(table.to_owned()),
        "HOOKBRIDGE_SOURCES" => Some(SOURCES.to_owned()),
        "PAYLOAD_BUCKET" => Some(PAYLOAD_BUCKET.to_owned()),
        _ => None,
    })
    .expect("settings");
    Consumer::new(
        DynamoDbEventStore::new(Client::new(config), table),
        S3PayloadStore::new(config, PAYLOAD_BUCKET),
        settings,
    )
}

async fn get_item(config: &SdkConfig, table: &str, pk: &str) -> Option<Item> {
    Client::new(config)
        .get_item()
        .table_name(table)
        .key(attr::PK, AttributeValue::S(pk.to_owned()))
        .consistent_read(true)
        .send()
        .await
        .unwrap_or_else(|error| panic!("get {pk}: {error:?}"))
        .item
}

/// A bus event of `source` whose envelope carries `payload` as written.
fn bus_event(source: &str, id: &str, occurred_at: &str, payload: &str) -> String {
    format!(
        r#"{{"version":"0","id":"bus-{id}","detail-type":"t","source":"hookbridge.{source}",
        "account":"123456789012","time":"2026-11-24T00:00:00Z","region":"us-east-1",
        "resources":[],"detail":{{"id":"{id}","source":"{source}","type":"t",
        "received_at":"2026-11-24T00:00:00.000Z","occurred_at":"{occurred_at}",
        "correlation_id":"corr-{id}","payload":{payload}}}}}"#
    )
}

/// The payload text exactly as it sits in the bus event.
fn payload_text(bus_event: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Detail<'a> {
        #[serde(borrow)]
        payload: &'a serde_json::value::RawValue,
    }
    #[derive(serde::Deserialize)]
    struct Event<'a> {
        #[serde(borrow)]
        detail: Detail<'a>,
    }
    let event: Event<'_> = serde_json::from_str(bus_event).expect("bus event");
    event.detail.payload.get().to_owned()
}

#[tokio::test]
async fn one_event_makes_one_event_item_and_one_projection() {
    let config = aws_config().await;
    let table = create_events_table(&config, "hookbridge-events").await;
    let consumer = consumer(&config, &table);

    let consumed = consumer.handle(STRIPE_SAMPLE).await.expect("consumed");
    assert_eq!(consumed.outcome, Outcome::ProjectionUpdated);

    let event = get_item(
        &config,
        &table,
        &event_key("stripe", "evt_3QdevHookbridge0001"),
    )
    .await
    .expect("event item");
    assert_eq!(text(&event, attr::RECORD), "event");
    assert_eq!(text(&event, attr::EVENT_TYPE), "payment_intent.succeeded");
    assert_eq!(text(&event, attr::OBJECT_ID), "pi_3QdevHookbridge0001");
    assert_eq!(text(&event, attr::OCCURRED_AT), "2026-11-23T23:59:59Z");
    assert_eq!(text(&event, attr::PAYLOAD), payload_text(STRIPE_SAMPLE));
    let expires_at = event[attr::EXPIRES_AT].as_n().expect("numeric TTL");
    assert_eq!(expires_at, &(RECEIVED_AT_EPOCH + 30 * DAY).to_string());

    let projection = get_item(
        &config,
        &table,
        &projection_key("stripe", "pi_3QdevHookbridge0001"),
    )
    .await
    .expect("projection item");
    assert_eq!(text(&projection, attr::RECORD), "projection");
    assert_eq!(text(&projection, attr::EVENT_ID), "evt_3QdevHookbridge0001");
    assert_eq!(
        text(&projection, attr::PAYLOAD),
        payload_text(STRIPE_SAMPLE)
    );
    assert!(
        !projection.contains_key(attr::EXPIRES_AT),
        "projections do not expire"
    );
    assert_eq!(all_items(&config, &table).await.len(), 2);
}

#[tokio::test]
async fn the_same_event_five_times_is_one_item_and_four_duplicates() {
    let config = aws_config().await;
    let table = create_events_table(&config, "hookbridge-events").await;
    let consumer = consumer(&config, &table);

    let mut outcomes = Vec::new();
    for _ in 0..5 {
        outcomes.push(
            consumer
                .handle(STRIPE_SAMPLE)
                .await
                .expect("consumed")
                .outcome,
        );
    }

    let duplicates = outcomes
        .iter()
        .filter(|o| **o == Outcome::Duplicate)
        .count();
    assert_eq!(outcomes[0], Outcome::ProjectionUpdated);
    assert_eq!(duplicates, 4);
    assert_eq!(
        all_items(&config, &table).await.len(),
        2,
        "one event, one projection"
    );
}

/// Four events of one payment: two tie on time (rank decides), two tie on a
/// later time (the terminal DOUBLE_SPENT wins).
fn payment_events(payment: &str) -> Vec<(String, String)> {
    [
        ("PENDING", "2026-11-24T00:00:00Z"),
        ("RECEIVED", "2026-11-24T00:00:00Z"),
        ("COMPLETED", "2026-11-24T00:00:05Z"),
        ("DOUBLE_SPENT", "2026-11-24T00:00:05Z"),
    ]
    .into_iter()
    .map(|(status, at)| {
        let id = format!("{payment}-{status}");
        let payload = format!(r#"{{"payment":{{"id":"{payment}","status":"{status}"}}}}"#);
        (id.clone(), bus_event("moneybutton", &id, at, &payload))
    })
    .collect()
}

fn permutations(items: &[usize]) -> Vec<Vec<usize>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (index, &first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(index);
        for mut tail in permutations(&rest) {
            tail.insert(0, first);
            all.push(tail);
        }
    }
    all
}

#[tokio::test]
async fn every_delivery_order_of_four_events_gives_the_same_projection() {
    let config = aws_config().await;
    let table = create_events_table(&config, "hookbridge-events").await;
    let consumer = consumer(&config, &table);
    let orders = permutations(&[0, 1, 2, 3]);
    assert_eq!(orders.len(), 24);

    // One payment per order, all in one table.
    for (run, order) in orders.iter().enumerate() {
        let events = payment_events(&format!("pay{run}"));
        for &index in order {
            consumer.handle(&events[index].1).await.expect("consumed");
        }
    }

    for (run, order) in orders.iter().enumerate() {
        let payment = format!("pay{run}");
        let projection = get_item(&config, &table, &projection_key("moneybutton", &payment))
            .await
            .expect("projection item");
        assert_eq!(
            text(&projection, attr::EVENT_ID),
            format!("{payment}-DOUBLE_SPENT"),
            "delivery order {order:?}"
        );
        assert_eq!(
            text(&projection, attr::PAYLOAD),
            format!(r#"{{"payment":{{"id":"{payment}","status":"DOUBLE_SPENT"}}}}"#)
        );
    }
    let items = all_items(&config, &table).await;
    let events = items
        .iter()
        .filter(|item| text(item, attr::RECORD) == "event")
        .count();
    assert_eq!(events, 24 * 4, "every event is recorded, superseded or not");
    assert_eq!(items.len() - events, 24, "one projection per payment");
}

#[tokio::test]
async fn a_superseded_event_is_recorded_without_touching_the_projection() {
    let config = aws_config().await;
    let table = create_events_table(&config, "hookbridge-events").await;
    let consumer = consumer(&config, &table);
    let events = payment_events("pay");

    let newest = consumer.handle(&events[3].1).await.expect("consumed");
    let oldest = consumer.handle(&events[0].1).await.expect("consumed");
    let again = consumer.handle(&events[0].1).await.expect("consumed");

    assert_eq!(newest.outcome, Outcome::ProjectionUpdated);
    assert_eq!(oldest.outcome, Outcome::ProjectionSuperseded);
    assert_eq!(again.outcome, Outcome::Duplicate);
    assert!(
        get_item(&config, &table, &event_key("moneybutton", &events[0].0))
            .await
            .is_some()
    );
}

#[tokio::test]
async fn a_payload_with_unicode_nesting_and_large_integers_reads_back_equal() {
    let config = aws_config().await;
    let table = create_events_table(&config, "hookbridge-events").await;
    let consumer = consumer(&config, &table);
    let nested = format!("{}\"bottom\"{}", "[".repeat(60), "]".repeat(60));
    let payload = format!(
        r#"{{"order":{{"id":"ord_ü_1"}},"text":"Grüße, 東京, emoji 🎉, escaped \u00e9\n\"q\"",
        "big":123456789012345678901234567890,"negative":-9223372036854775809,
        "precise":0.1000000000000000055511151231257827,"exp":1.5e300,"nested":{nested},
        "empty":{{}},"list":[],"null":null}}"#
    );
    let event = bus_event("orders", "evt_unicode", "2026-11-24T00:00:00Z", &payload);

    consumer.handle(&event).await.expect("consumed");

    let item = get_item(&config, &table, &event_key("orders", "evt_unicode"))
        .await
        .expect("event item");
    assert_eq!(text(&item, attr::PAYLOAD), payload);
    let projection = get_item(&config, &table, &projection_key("orders", "ord_ü_1"))
        .await
        .expect("projection item");
    assert_eq!(text(&projection, attr::PAYLOAD), payload);
}

#[tokio::test]
async fn a_payload_as_large_as_the_bus_allows_is_stored() {
    let config = aws_config().await;
    let table = create_events_table(&config, "hookbridge-events").await;
    let consumer = consumer(&config, &table);
    // EventBridge carries at most 256 KB per event, envelope included.
    let filler = "x".repeat(250 * 1024);
    let payload = format!(r#"{{"order":{{"id":"ord_big"}},"filler":"{filler}"}}"#);
    let event = bus_event("orders", "evt_big", "2026-11-24T00:00:00Z", &payload);

    let consumed = consumer.handle(&event).await.expect("consumed");

    assert_eq!(consumed.outcome, Outcome::ProjectionUpdated);
    let item = get_item(&config, &table, &event_key("orders", "evt_big"))
        .await
        .expect("event item");
    assert_eq!(text(&item, attr::PAYLOAD).len(), payload.len());
}

#[tokio::test]
async fn a_missing_table_is_an_error() {
    let config = aws_config().await;
    let consumer = consumer(&config, &unique_name("hookbridge-missing"));

    let error = consumer.handle(STRIPE_SAMPLE).await.expect_err("no table");

    assert_eq!(error.code(), "store_rejected");
}

#[tokio::test]
async fn a_missing_table_is_an_error_for_events_without_a_projection() {
    let config = aws_config().await;
    let consumer = consumer(&config, &unique_name("hookbridge-missing"));
    let event = bus_event(
        "orders",
        "evt_1",
        "2026-11-24T00:00:00Z",
        r#"{"no":"order"}"#,
    );

    let error = consumer.handle(&event).await.expect_err("no table");

    assert_eq!(error.code(), "store_rejected");
}

#[tokio::test]
async fn an_item_over_the_dynamodb_limit_is_rejected() {
    let config = aws_config().await;
    let table = create_events_table(&config, "hookbridge-events").await;
    let consumer = consumer(&config, &table);
    // Larger than any bus event; DynamoDB items stop at 400 KB.
    let filler = "x".repeat(410 * 1024);
    let unprojected = format!(r#""{filler}""#);
    let projected = format!(r#"{{"order":{{"id":"ord_huge"}},"filler":"{filler}"}}"#);

    for (id, payload) in [("evt_huge_1", unprojected), ("evt_huge_2", projected)] {
        let event = bus_event("orders", id, "2026-11-24T00:00:00Z", &payload);
        let error = consumer.handle(&event).await.expect_err("item too large");
        assert_eq!(error.code(), "store_rejected", "{id}");
    }
    assert!(all_items(&config, &table).await.is_empty());
}

#[tokio::test]
async fn an_unreachable_dynamodb_is_an_error_lambda_retries() {
    let config = aws_config().await;
    let unreachable = aws_sdk_dynamodb::config::Builder::from(&config)
        .endpoint_url(closed_loopback_url())
        .build();
    let settings = Settings::from_lookup(|name| match name {
        "TABLE_NAME" => Some("hookbridge-events".to_owned()),
        "HOOKBRIDGE_SOURCES" => Some(SOURCES.to_owned()),
        "PAYLOAD_BUCKET" => Some(PAYLOAD_BUCKET.to_owned()),
        _ => None,
    })
    .expect("settings");
    let store = DynamoDbEventStore::new(Client::from_conf(unreachable), "hookbridge-events");
    let consumer = Consumer::new(store, MemoryPayloads::new(PAYLOAD_BUCKET), settings);

    let error = consumer
        .handle(STRIPE_SAMPLE)
        .await
        .expect_err("no DynamoDB");

    assert_eq!(error.code(), "store_unavailable");
}

/// The template, with CloudFormation's short tags kept as `!Tag value` text.
fn template() -> serde_yaml::Value {
    serde_yaml::from_str(include_str!("../../template.yaml")).expect("template.yaml is YAML")
}

fn tagged(value: &serde_yaml::Value) -> String {
    match value {
        serde_yaml::Value::Tagged(tagged) => format!(
            "{} {}",
            tagged.tag,
            tagged.value.as_str().expect("a scalar tag argument")
        ),
        other => panic!("expected a tagged value, got {other:?}"),
    }
}

#[test]
fn the_template_table_is_keyed_and_expires_as_the_adapter_writes() {
    let template = template();
    let table = &template["Resources"]["EventsTable"]["Properties"];

    assert_eq!(table["BillingMode"].as_str(), Some("PAY_PER_REQUEST"));
    let keys = table["KeySchema"].as_sequence().expect("key schema");
    assert_eq!(keys.len(), 1, "a partition key only");
    assert_eq!(keys[0]["AttributeName"].as_str(), Some(attr::PK));
    assert_eq!(keys[0]["KeyType"].as_str(), Some("HASH"));
    let definitions = table["AttributeDefinitions"]
        .as_sequence()
        .expect("attributes");
    assert_eq!(definitions.len(), 1);
    assert_eq!(definitions[0]["AttributeName"].as_str(), Some(attr::PK));
    assert_eq!(definitions[0]["AttributeType"].as_str(), Some("S"));
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"].as_bool(),
        Some(true)
    );
    let ttl = &table["TimeToLiveSpecification"];
    assert_eq!(ttl["AttributeName"].as_str(), Some(attr::EXPIRES_AT));
    assert_eq!(ttl["Enabled"].as_bool(), Some(true));
    assert_eq!(
        template["Parameters"]["RetentionDays"]["Default"].as_u64(),
        Some(DEFAULT_RETENTION_DAYS)
    );
}

#[test]
fn the_template_routes_every_hookbridge_source_to_consume_and_failures_to_the_queue() {
    let template = template();
    let function = &template["Resources"]["ConsumeFunction"]["Properties"];
    let dead_letter_queue = "!GetAtt ConsumeDeadLetterQueue.Arn";

    let rule = &function["Events"]["Persist"];
    assert_eq!(rule["Type"].as_str(), Some("EventBridgeRule"));
    assert_eq!(tagged(&rule["Properties"]["EventBusName"]), "!Ref EventBus");
    let sources = rule["Properties"]["Pattern"]["source"]
        .as_sequence()
        .expect("source pattern");
    assert_eq!(sources.len(), 1);
    assert_eq!(sources[0]["prefix"].as_str(), Some(BUS_SOURCE_PREFIX));
    assert_eq!(
        tagged(&rule["Properties"]["DeadLetterConfig"]["Arn"]),
        dead_letter_queue
    );

    let invoke = &function["EventInvokeConfig"];
    assert_eq!(invoke["MaximumRetryAttempts"].as_u64(), Some(2));
    assert_eq!(
        invoke["DestinationConfig"]["OnFailure"]["Type"].as_str(),
        Some("SQS")
    );
    assert_eq!(
        tagged(&invoke["DestinationConfig"]["OnFailure"]["Destination"]),
        dead_letter_queue
    );
    let variables = &function["Environment"]["Variables"];
    assert_eq!(tagged(&variables["TABLE_NAME"]), "!Ref EventsTable");
    assert_eq!(tagged(&variables["RETENTION_DAYS"]), "!Ref RetentionDays");
}

#[test]
fn the_template_lets_consume_only_put_items_in_its_table_and_read_payloads() {
    let template = template();
    let policies = template["Resources"]["ConsumeFunction"]["Properties"]["Policies"]
        .as_sequence()
        .expect("policies");
    assert_eq!(policies.len(), 1);
    let statements = policies[0]["Statement"].as_sequence().expect("statements");
    // Its table, and the large payloads it reads (tests/template.rs checks those).
    assert_eq!(statements.len(), 2);
    let statement = statements
        .iter()
        .find(|statement| statement["Sid"].as_str() != Some("ReadLargePayloads"))
        .expect("the table statement");
    assert_eq!(statement["Effect"].as_str(), Some("Allow"));
    // Puts inside TransactWriteItems are authorised as dynamodb:PutItem too.
    assert_eq!(statement["Action"].as_str(), Some("dynamodb:PutItem"));
    assert_eq!(tagged(&statement["Resource"]), "!GetAtt EventsTable.Arn");
}
