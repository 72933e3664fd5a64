//! The dev server in-process, on a free loopback port, delivering to a
//! scripted loopback target.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hookbridge_core::providers::{github, standard};
use hookbridge_testkit::http_target::{HttpTarget, Script, closed_loopback_url};
use serde_json::Value;

use super::server::Limits;
use super::*;

/// A data directory removed when the test ends.
struct DataDir(PathBuf);

impl DataDir {
    fn new(name: &str) -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        Self(std::env::temp_dir().join(format!(
            "hookbridge-dev-{name}-{}-{nanos}",
            std::process::id()
        )))
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(data_dir: &Path, target: Option<&str>, time_scale: f64) -> Resolved {
    resolve(
        DevArgs {
            host: None,
            port: Some(0),
            config: None,
            data_dir: Some(data_dir.to_path_buf()),
            target: target.map(str::to_owned),
            time_scale: Some(TimeScale::new(time_scale).unwrap()),
            sources: Vec::new(),
            secrets: Vec::new(),
            outbound_secrets: Vec::new(),
            aws: false,
            verbose: true,
            retention_hours: None,
        },
        Settings::empty(),
    )
    .unwrap()
}

const PULL_REQUEST: &str = r#"{"action":"opened","repository":{"full_name":"octo/hello"}}"#;

/// POSTs a GitHub webhook signed with the development secret.
async fn post_github(client: &reqwest::Client, base: &str, delivery: &str) -> (u16, Value) {
    let sources = config::built_in_sources();
    let secret = sources.secrets["github"].iter().next().unwrap().expose();
    let response = client
        .post(format!("{base}/webhooks/github"))
        .header(
            "x-hub-signature-256",
            github::sign(secret, PULL_REQUEST.as_bytes()),
        )
        .header("x-github-event", "pull_request")
        .header("x-github-delivery", delivery)
        .body(PULL_REQUEST)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, json_of(response).await)
}

async fn json_of(response: reqwest::Response) -> Value {
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

async fn events(client: &reqwest::Client, base: &str) -> Vec<Value> {
    let list = json_of(client.get(format!("{base}/events")).send().await.unwrap()).await;
    list["events"].as_array().unwrap().clone()
}

/// Polls `GET /events` until `done` holds for the first event.
async fn wait_for(client: &reqwest::Client, base: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(event) = events(client, base).await.first()
            && done(event)
        {
            return event.clone();
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the event: {:?}",
            events(client, base).await
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_is_accepted_stored_once_and_delivered_after_two_failures() {
    let data = DataDir::new("deliver");
    let target = HttpTarget::start(Script::in_order([500, 503]));
    let running = start_local(&config(&data.0, Some(&target.url()), 1000.0))
        .await
        .unwrap();
    let base = format!("http://{}", running.address);
    let client = reqwest::Client::new();

    let (status, accepted) = post_github(&client, &base, "delivery-1").await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["id"], "delivery-1");
    let (status, again) = post_github(&client, &base, "delivery-1").await;
    assert_eq!(status, 202, "a duplicate is accepted too");
    assert_eq!(again["id"], "delivery-1");

    let event = wait_for(&client, &base, |event| {
        event["deliveries"][0]["status"] == "delivered" && event["stored"] == true
    })
    .await;
    assert_eq!(event["id"], "delivery-1");
    assert_eq!(event["source"], "github");
    assert_eq!(event["type"], "pull_request.opened");
    assert_eq!(event["correlation_id"], accepted["correlation_id"]);
    assert_eq!(event["duplicates"], 1);
    let attempts = event["deliveries"][0]["attempts"].as_array().unwrap();
    let summary: Vec<(u64, &str, Option<u64>)> = attempts
        .iter()
        .map(|attempt| {
            (
                attempt["number"].as_u64().unwrap(),
                attempt["outcome"].as_str().unwrap(),
                attempt["status"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (1, "failed", Some(500)),
            (2, "failed", Some(503)),
            (3, "delivered", Some(200))
        ]
    );
    assert!(attempts[0]["error"].as_str().unwrap().contains("500"));
    assert!(attempts[2]["error"].is_null());
    // Attempt 3 is due 120 s / 1000 after the first.
    let at =
        |index: usize| humantime::parse_rfc3339(attempts[index]["at"].as_str().unwrap()).unwrap();
    assert!(at(2).duration_since(at(0)).unwrap() >= Duration::from_millis(119));
    assert_eq!(events(&client, &base).await.len(), 1, "stored once");

    // The target saw three signed requests and no fourth: the duplicate
    // scheduled nothing.
    let received = target.wait_for_requests(4, Duration::from_millis(200));
    assert_eq!(received.len(), 3);
    let outbound = config::built_in_outbound();
    for request in &received {
        assert_eq!(request.body, PULL_REQUEST);
        assert_eq!(request.headers["webhook-id"], "delivery-1");
        let timestamp: i64 = request
            .header("webhook-timestamp")
            .unwrap()
            .parse()
            .unwrap();
        let expected = standard::sign(
            outbound.iter().next().unwrap(),
            "delivery-1",
            timestamp,
            PULL_REQUEST.as_bytes(),
        )
        .unwrap();
        assert_eq!(request.headers["webhook-signature"], expected);
        assert_eq!(request.headers["x-hookbridge-source"], "github");
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_deliveries_resume_after_a_restart() {
    let data = DataDir::new("resume");
    // Nothing listens there: attempts 1 and 2 fail at once, attempt 3 is
    // due 120 s / 100 after the first; the process stops before that.
    let closed = closed_loopback_url();
    let running = start_local(&config(&data.0, Some(&closed), 100.0))
        .await
        .unwrap();
    let base = format!("http://{}", running.address);
    let client = reqwest::Client::new();
    assert_eq!(post_github(&client, &base, "resume-1").await.0, 202);
    let event = wait_for(&client, &base, |event| {
        event["deliveries"][0]["attempts"].as_array().unwrap().len() >= 2
    })
    .await;
    assert_eq!(event["deliveries"][0]["status"], "retrying");
    running.stop().await;

    // Same data, a working target: attempt 3 happens when it was due.
    let target = HttpTarget::start(Script::always(200));
    let running = start_local(&config(&data.0, Some(&target.url()), 100.0))
        .await
        .unwrap();
    let base = format!("http://{}", running.address);
    let event = wait_for(&client, &base, |event| {
        event["deliveries"][0]["status"] == "delivered"
    })
    .await;
    let attempts = event["deliveries"][0]["attempts"].as_array().unwrap();
    // Attempt 3 (or a later one, on a machine slow enough to make it
    // before the stop) is the first to reach the target.
    let last = attempts.last().unwrap();
    assert!(attempts.len() >= 3);
    assert_eq!(last["number"], attempts.len());
    assert_eq!(last["outcome"], "delivered");
    let at = |attempt: &Value| humantime::parse_rfc3339(attempt["at"].as_str().unwrap()).unwrap();
    assert!(at(last).duration_since(at(&attempts[0])).unwrap() >= Duration::from_millis(1190));
    assert_eq!(target.requests().len(), 1);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_target_events_are_stored_and_not_delivered() {
    let data = DataDir::new("no-target");
    let running = start_local(&config(&data.0, None, 1.0)).await.unwrap();
    let base = format!("http://{}", running.address);
    let client = reqwest::Client::new();
    assert_eq!(post_github(&client, &base, "stored-1").await.0, 202);
    let event = wait_for(&client, &base, |event| event["stored"] == true).await;
    assert_eq!(event["deliveries"], Value::Array(Vec::new()), "{event}");
    running.stop().await;
}

/// The 413 of a body over the limit is answered before the body is read, so
/// a client still writing it sees a reset: tests/dev_hostile.rs covers it
/// with a writer that reads the early answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_edge_refuses_what_ingest_must_not_see() {
    let data = DataDir::new("edge");
    let running = start_local(&config(&data.0, None, 1.0)).await.unwrap();
    let base = format!("http://{}", running.address);
    let client = reqwest::Client::new();
    let cases = [
        (
            client.post(format!("{base}/webhooks/nobody")).body("{}"),
            404,
            "unknown_source",
        ),
        (
            client.get(format!("{base}/webhooks/github")),
            405,
            "method_not_allowed",
        ),
        (
            client.post(format!("{base}/webhooks/github")).body("{}"),
            401,
            "signature_missing",
        ),
        (client.get(format!("{base}/elsewhere")), 404, "not_found"),
        (
            client.delete(format!("{base}/events")),
            405,
            "method_not_allowed",
        ),
        (
            client.get(format!("{base}/events?limit=0")),
            400,
            "invalid_limit",
        ),
    ];
    for (request, status, code) in cases {
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{code}");
        let body = json_of(response).await;
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    let health = json_of(client.get(format!("{base}/healthz")).send().await.unwrap()).await;
    assert_eq!(health, serde_json::json!({"status": "ok"}));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_the_edge_carries_a_correlation_id() {
    let data = DataDir::new("edge-correlation");
    let running = start_local(&config(&data.0, None, 1.0)).await.unwrap();
    let base = format!("http://{}", running.address);
    let client = reqwest::Client::new();
    let requests = [
        client.post(format!("{base}/webhooks/github")).body("{}"),
        client.get(format!("{base}/elsewhere")),
        client.delete(format!("{base}/events")),
        client.get(format!("{base}/healthz")),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        let status = response.status();
        let correlation_id = response.headers()["x-correlation-id"].clone();
        assert!(!correlation_id.is_empty(), "{status}");
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = json_of(response).await;
        if !status.is_success() {
            assert!(body["error"]["code"].is_string(), "{body}");
            assert!(body["error"]["message"].is_string(), "{body}");
        }
    }
    running.stop().await;
}

#[test]
fn flags_override_the_file_and_targets_must_be_urls() {
    let settings = Settings::parse(
        "port = 4000\nhost = \"0.0.0.0\"\ntarget = \"http://file/\"\ntime_scale = 5\nretention_hours = 24",
        Path::new("hookbridge.toml"),
        true,
    )
    .unwrap();
    let args = DevArgs {
        host: None,
        port: Some(5000),
        config: None,
        data_dir: None,
        target: Some("https://flag.example/hook".to_owned()),
        time_scale: None,
        sources: Vec::new(),
        secrets: Vec::new(),
        outbound_secrets: Vec::new(),
        aws: false,
        verbose: true,
        retention_hours: None,
    };
    let resolved = resolve(args.clone(), settings).unwrap();
    assert_eq!(resolved.address, "0.0.0.0:5000");
    let destinations = &resolved.destinations.destinations;
    assert_eq!(destinations.len(), 1);
    assert_eq!(
        destinations.get("default").map(|d| d.url.as_str()),
        Some("https://flag.example/hook")
    );
    assert_eq!(resolved.time_scale, TimeScale::new(5.0).unwrap());
    assert_eq!(
        resolved.retention,
        Duration::from_secs(24 * 3600),
        "the file's"
    );
    let flagged = DevArgs {
        retention_hours: Some(2),
        ..args.clone()
    };
    assert_eq!(
        resolve(flagged, Settings::empty()).unwrap().retention,
        Duration::from_secs(2 * 3600),
        "the flag's"
    );
    assert_eq!(
        config(Path::new("d"), None, 1.0).retention,
        Duration::from_secs(u64::from(DEFAULT_RETENTION_HOURS) * 3600)
    );
    assert_eq!(resolved.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
    assert!(resolved.sources.built_in, "no sources in the file");
    for target in ["ftp://x/", "not a url", "/relative"] {
        let args = DevArgs {
            target: Some(target.to_owned()),
            ..args.clone()
        };
        let error = resolve(args, Settings::empty()).unwrap_err();
        assert!(matches!(error, DevError::InvalidTarget(_)), "{target}");
        let message = error.to_string();
        assert!(message.contains("`default`"), "{message}");
    }
    assert_eq!(listen_address("::1", 3000), "[::1]:3000");
}

fn short_limits(data_dir: &Path, body_timeout: Duration) -> Resolved {
    let mut config = config(data_dir, None, 1.0);
    config.limits = Limits {
        header_timeout: Duration::from_millis(300),
        body_timeout,
        shutdown_grace: Duration::from_millis(300),
    };
    config
}

/// Opens a connection that sends `bytes` and then nothing more.
async fn stalled(address: SocketAddr, bytes: &[u8]) -> tokio::net::TcpStream {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream
}

async fn read_until_closed(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer))
        .await
        .expect("the server closes the connection")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_while_others_are_served() {
    let data = DataDir::new("slow");
    let running = start_local(&short_limits(&data.0, Duration::from_millis(300)))
        .await
        .unwrap();
    let address = running.address;
    let mut slow_headers = stalled(address, b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\n").await;
    let mut slow_body = stalled(
        address,
        b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    )
    .await;
    let health = reqwest::Client::new()
        .get(format!("http://{address}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status().as_u16(), 200, "others are served meanwhile");
    let answer = read_until_closed(&mut slow_body).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    let answer = read_until_closed(&mut slow_headers).await;
    assert!(!answer.contains(" 202 "), "{answer}");
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_in_flight_requests_only_so_long() {
    let data = DataDir::new("grace");
    let running = start_local(&short_limits(&data.0, Duration::from_secs(60)))
        .await
        .unwrap();
    let _in_flight = stalled(
        running.address,
        b"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{",
    )
    .await;
    // Let the server start reading that body.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    running.stop().await;
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(250), "it waited: {took:?}");
    assert!(
        took < Duration::from_secs(3),
        "but not for the body: {took:?}"
    );
}
