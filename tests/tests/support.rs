//! The test support itself works against the emulator: what is put on a
//! tapped bus can be read back, and secrets round-trip through SSM.

use std::time::Duration;

use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use hookbridge_tests::{BusTap, aws_config, put_secure_parameter, unique_name};
use serde_json::json;

#[tokio::test]
async fn events_put_on_a_tapped_bus_are_read_back() {
    let config = aws_config().await;
    let tap = BusTap::with_new_bus(&config).await;
    let detail = json!({"id": "evt_1", "source": "stripe", "type": "payment_intent.succeeded"});

    let entry = |source: &str| {
        PutEventsRequestEntry::builder()
            .event_bus_name(tap.bus_name())
            .source(source)
            .detail_type("payment_intent.succeeded")
            .detail(detail.to_string())
            .build()
    };
    let response = aws_sdk_eventbridge::Client::new(&config)
        .put_events()
        .entries(entry("hookbridge.stripe"))
        .entries(entry("someone.else"))
        .send()
        .await
        .expect("put events");
    assert_eq!(response.failed_entry_count, 0, "{response:?}");

    let events = tap.receive(2, Duration::from_secs(3)).await;
    assert_eq!(
        events.len(),
        1,
        "only the hookbridge event is tapped: {events:?}"
    );
    assert_eq!(events[0].source, "hookbridge.stripe");
    assert_eq!(events[0].detail_type, "payment_intent.succeeded");
    assert_eq!(events[0].detail, detail);
}

#[tokio::test]
async fn an_untouched_bus_yields_no_events() {
    let config = aws_config().await;
    let tap = BusTap::with_new_bus(&config).await;

    assert!(tap.receive(1, Duration::from_secs(1)).await.is_empty());
}

#[tokio::test]
async fn secure_parameters_round_trip_with_decryption() {
    let config = aws_config().await;
    let name = format!("/{}/stripe", unique_name("hookbridge-test"));

    put_secure_parameter(&config, &name, "whsec_a,whsec_b").await;

    let parameter = aws_sdk_ssm::Client::new(&config)
        .get_parameter()
        .name(&name)
        .with_decryption(true)
        .send()
        .await
        .expect("get parameter")
        .parameter
        .expect("parameter exists");
    assert_eq!(parameter.value.as_deref(), Some("whsec_a,whsec_b"));
    assert_eq!(
        parameter.r#type,
        Some(aws_sdk_ssm::types::ParameterType::SecureString)
    );
}
