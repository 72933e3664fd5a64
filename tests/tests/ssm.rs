//! SsmSecretStore against moto's SSM, and against an SSM that goes away.

use std::time::{Duration, SystemTime};

use hookbridge_aws::SsmSecretStore;
use hookbridge_core::ports::{SecretStore, SecretStoreError};
use hookbridge_core::secret::{Secret, SecretSet};
use hookbridge_testkit::ManualClock;
use hookbridge_testkit::http_target::{Answer, HttpTarget, Reply, Script, closed_loopback_url};
use hookbridge_tests::{aws_config, put_secure_parameter, unique_name};

const TTL: Duration = Duration::from_secs(300);

fn clock() -> ManualClock {
    ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000))
}

/// A unique prefix, so parallel tests never share parameters.
fn unique_prefix() -> String {
    format!("/{}/", unique_name("hookbridge-test"))
}

fn values(set: &SecretSet) -> Vec<&str> {
    set.iter().map(Secret::expose).collect()
}

async fn ssm_client_for(endpoint: &str) -> aws_sdk_ssm::Client {
    let config = aws_sdk_ssm::config::Builder::from(&aws_config().await)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_ssm::Client::from_conf(config)
}

#[tokio::test]
async fn reads_a_secure_string_with_every_rotated_secret() {
    let config = aws_config().await;
    let prefix = unique_prefix();
    put_secure_parameter(&config, &format!("{prefix}stripe"), "whsec_old, whsec_new").await;
    let store = SsmSecretStore::new(aws_sdk_ssm::Client::new(&config), &prefix, clock());

    let secrets = store.secrets("stripe").await.expect("secrets of stripe");

    assert_eq!(values(&secrets), ["whsec_old", "whsec_new"]);
}

#[tokio::test]
async fn a_changed_value_is_picked_up_after_the_ttl_but_not_before() {
    let config = aws_config().await;
    let prefix = unique_prefix();
    let parameter = format!("{prefix}github");
    put_secure_parameter(&config, &parameter, "first").await;
    let clock = clock();
    let store = SsmSecretStore::new(aws_sdk_ssm::Client::new(&config), &prefix, clock.clone())
        .with_ttl(TTL);
    assert_eq!(values(&store.secrets("github").await.unwrap()), ["first"]);

    put_secure_parameter(&config, &parameter, "second").await;
    clock.advance(TTL - Duration::from_secs(1));
    assert_eq!(
        values(&store.secrets("github").await.unwrap()),
        ["first"],
        "served from the cache within the TTL"
    );

    clock.advance(Duration::from_secs(1));
    assert_eq!(
        values(&store.secrets("github").await.unwrap()),
        ["second"],
        "refetched once the TTL has passed"
    );
}

#[tokio::test]
async fn a_missing_parameter_is_not_found() {
    let config = aws_config().await;
    let prefix = unique_prefix();
    let store = SsmSecretStore::new(aws_sdk_ssm::Client::new(&config), &prefix, clock());

    let result = store.secrets("stripe").await;

    assert!(
        matches!(&result, Err(SecretStoreError::NotFound(name)) if *name == format!("{prefix}stripe")),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_parameter_without_any_secret_is_not_found() {
    let config = aws_config().await;
    let prefix = unique_prefix();
    put_secure_parameter(&config, &format!("{prefix}stripe"), " , ").await;
    let store = SsmSecretStore::new(aws_sdk_ssm::Client::new(&config), &prefix, clock());

    let result = store.secrets("stripe").await;

    assert!(
        matches!(result, Err(SecretStoreError::NotFound(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn a_deleted_parameter_stops_being_served_from_the_cache() {
    let config = aws_config().await;
    let prefix = unique_prefix();
    let parameter = format!("{prefix}stripe");
    put_secure_parameter(&config, &parameter, "revoked").await;
    let clock = clock();
    let store = SsmSecretStore::new(aws_sdk_ssm::Client::new(&config), &prefix, clock.clone())
        .with_ttl(TTL);
    store.secrets("stripe").await.expect("warm the cache");

    aws_sdk_ssm::Client::new(&config)
        .delete_parameter()
        .name(&parameter)
        .send()
        .await
        .expect("delete parameter");
    clock.advance(TTL);

    let result = store.secrets("stripe").await;
    assert!(
        matches!(result, Err(SecretStoreError::NotFound(_))),
        "{result:?}"
    );
}

#[tokio::test]
async fn cached_secrets_are_served_past_their_ttl_while_ssm_is_unreachable() {
    // Answers the first read, then goes away: the next request is cut off
    // unanswered and every later connection refused.
    let server = HttpTarget::start(
        Script::in_order([Reply::aws_json(
            200,
            r#"{"Parameter":{"Name":"/hookbridge/test/stripe","Type":"SecureString","Value":"whsec_a,whsec_b","Version":1}}"#,
        )])
        .then(Answer::GoAway),
    );
    let clock = clock();
    let store = SsmSecretStore::new(
        ssm_client_for(&server.url()).await,
        "/hookbridge/test/",
        clock.clone(),
    )
    .with_ttl(TTL);
    assert_eq!(
        values(&store.secrets("stripe").await.unwrap()),
        ["whsec_a", "whsec_b"]
    );

    clock.advance(TTL * 2);
    let secrets = store
        .secrets("stripe")
        .await
        .expect("stale secrets beat an outage");

    assert_eq!(values(&secrets), ["whsec_a", "whsec_b"]);
    let request: serde_json::Value = serde_json::from_slice(&server.requests()[0].body).unwrap();
    assert_eq!(request["Name"], "/hookbridge/test/stripe");
    assert_eq!(request["WithDecryption"], true);
}

#[tokio::test]
async fn unreachable_ssm_without_a_cached_value_is_unavailable() {
    let store = SsmSecretStore::new(
        ssm_client_for(&closed_loopback_url()).await,
        "/hookbridge/test/",
        clock(),
    );

    let result = store.secrets("stripe").await;

    assert!(
        matches!(result, Err(SecretStoreError::Unavailable(_))),
        "{result:?}"
    );
}
