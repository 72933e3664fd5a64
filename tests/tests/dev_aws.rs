//! `hookbridge dev` with `AWS_ENDPOINT_URL` set: the local HTTP edge in
//! front of the real adapters (secrets from SSM, events onto EventBridge), as
//! an outside process against moto's server; `GET /events` is not served.

use std::time::Duration;

use hookbridge_tests::dev_process::webhooks::{Kind, WRONG_SECRET, Webhook, unique_id};
use hookbridge_tests::dev_process::{DevOptions, DevServer, Scratch};
use hookbridge_tests::{BusTap, aws_config, put_secure_parameter, unique_name};

#[test]
fn with_an_aws_endpoint_webhooks_go_to_the_bus_and_events_are_not_listed() {
    let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
    let config = runtime.block_on(aws_config());
    let tap = runtime.block_on(BusTap::with_new_bus(&config));
    let prefix = format!("/{}/", unique_name("hb-dev-aws"));
    runtime.block_on(put_secure_parameter(
        &config,
        &format!("{prefix}github"),
        Kind::Github.dev_secret(),
    ));

    // The emulator's endpoint and fake credentials, and nothing else of ours.
    let mut env: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| name.starts_with("AWS_"))
        .collect();
    env.push(("EVENT_BUS_NAME".into(), tap.bus_name().to_owned()));
    env.push(("HOOKBRIDGE_SECRETS_PREFIX".into(), prefix));
    // Only a body too large for SNS would be stored there.
    env.push((
        "PAYLOAD_BUCKET".into(),
        "hookbridge-dev-aws-payloads".into(),
    ));
    let scratch = Scratch::new("dev-aws");
    let dev = DevServer::start(
        &scratch,
        1,
        &DevOptions {
            env,
            ..DevOptions::without_target()
        },
    );

    let webhook = Webhook::new(Kind::Github, &unique_id("aws"));
    dev.post_accepted(&webhook);
    let forged = Webhook::signed_with(Kind::Github, &unique_id("aws_forged"), WRONG_SECRET);
    assert_eq!(dev.post(&forged).status, 401);

    let events = runtime.block_on(tap.receive(2, Duration::from_secs(5)));
    assert_eq!(events.len(), 1, "only the verified webhook: {events:?}");
    assert_eq!(events[0].source, "hookbridge.github");
    assert_eq!(events[0].detail_type, "pull_request.opened");
    assert_eq!(events[0].detail["id"], webhook.event_id);
    assert_eq!(
        events[0].detail["payload"],
        serde_json::from_slice::<serde_json::Value>(&webhook.body).expect("JSON body")
    );

    let listing = dev.request("GET", "/events", &[], b"");
    assert_eq!(listing.status, 404, "{}", listing.body_text());
    listing.error_code();
}
