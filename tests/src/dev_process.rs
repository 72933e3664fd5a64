//! Runs `hookbridge dev` as a child process, the way a developer does, and
//! talks to it only through its public contract: the `listening on` line,
//! the HTTP routes, `GET /events`, signals.
//!
//! The binary is the workspace's own build (`target/<profile>/hookbridge`,
//! built by `scripts/test` before the tests; `HOOKBRIDGE_BIN` overrides it).
//! Each [`DevServer`] gets a free loopback port and a private data
//! directory, so tests run in parallel. Its console goes to a log file (in
//! `HOOKBRIDGE_TEST_LOG_DIR` when set, where the suite checks logs for leaked
//! secrets) and its last lines are quoted when a test fails.

pub mod http;
pub mod webhooks;

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use hookbridge_core::secret::SecretSet;
use hookbridge_testkit::http_target::Received;
use serde::Deserialize;

use self::http::Response;
use self::webhooks::{DEVELOPMENT_SECRETS, OUTBOUND_SECRET, Webhook};

/// How long `hookbridge dev` may take to print its `listening on` line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// The line `hookbridge dev` prints once it serves.
const LISTENING_PREFIX: &str = "hookbridge dev listening on http://";
/// The first line of the start banner; its indented lines that follow list
/// the sources, with the development secrets.
const BANNER_START: &str = "hookbridge dev: data in ";
/// How much of the console a failure message quotes.
const CONSOLE_TAIL: usize = 16 * 1024;
/// Environment (besides `AWS_*` and `HOOKBRIDGE_*`) the child must not
/// inherit: any of it could switch `hookbridge dev` to its `--aws` mode or
/// reconfigure it.
const NOT_INHERITED: [&str; 5] = [
    "EVENT_BUS_NAME",
    "TABLE_NAME",
    "TOPIC_ARN",
    "TARGET_URL",
    "PAYLOAD_BUCKET",
];

/// The `hookbridge` binary under test.
///
/// # Panics
/// When it has not been built.
pub fn hookbridge_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("HOOKBRIDGE_BIN") {
        return PathBuf::from(path);
    }
    // Test executables live in target/<profile>/deps/; binaries one level up.
    let test_executable = std::env::current_exe().expect("the test executable's path");
    let binary = test_executable
        .parent()
        .and_then(Path::parent)
        .map(|profile_dir| profile_dir.join(format!("hookbridge{}", std::env::consts::EXE_SUFFIX)))
        .expect("the test executable is inside target/<profile>/deps");
    assert!(
        binary.is_file(),
        "{} does not exist: build it with `cargo build -p hookbridge --features aws` \
         (scripts/test does) or point HOOKBRIDGE_BIN at a hookbridge binary",
        binary.display()
    );
    binary
}

/// A private scratch directory: the data directory of one or more
/// successive `hookbridge dev` processes, and their working directory.
/// Removed on drop, unless the test is failing (then its path is printed).
#[derive(Debug)]
pub struct Scratch {
    root: PathBuf,
    /// `<label>-<uuid>`: names the directory and the console logs.
    name: String,
}

impl Scratch {
    /// A new empty directory named after `label` (the test).
    pub fn new(label: &str) -> Self {
        let name = format!("{label}-{}", uuid::Uuid::new_v4().simple());
        let root = std::env::temp_dir().join(format!("hookbridge-{name}"));
        std::fs::create_dir_all(root.join("data"))
            .unwrap_or_else(|error| panic!("create {}: {error}", root.display()));
        Self { root, name }
    }

    /// What `--data-dir` names.
    pub fn data_dir(&self) -> PathBuf {
        self.root.join("data")
    }

    /// A `hookbridge` command working in this directory, with none of the
    /// caller's AWS or hookbridge configuration in its environment.
    pub fn hookbridge(&self) -> Command {
        let mut command = Command::new(hookbridge_binary());
        command.current_dir(&self.root).stdin(Stdio::null());
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            if name.starts_with("AWS_")
                || name.starts_with("HOOKBRIDGE_")
                || NOT_INHERITED.contains(&name.as_ref())
            {
                command.env_remove(name.as_ref());
            }
        }
        command
    }

    /// Writes `hookbridge.toml` in the working directory, where `hookbridge
    /// dev` reads it when given no `--config`.
    pub fn write_config(&self, text: &str) {
        let path = self.root.join("hookbridge.toml");
        std::fs::write(&path, text)
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
    }

    fn log_path(&self, run: usize) -> PathBuf {
        let file = format!("{}-run{run}.log", self.name);
        match std::env::var_os("HOOKBRIDGE_TEST_LOG_DIR") {
            Some(dir) => {
                let dir = PathBuf::from(dir);
                std::fs::create_dir_all(&dir)
                    .unwrap_or_else(|error| panic!("create {}: {error}", dir.display()));
                dir.join(file)
            }
            None => self.root.join(file),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "hookbridge dev data and console kept in {}",
                self.root.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }
}

/// Flags of one `hookbridge dev` run.
#[derive(Debug, Clone)]
pub struct DevOptions {
    /// `--target`; none: events are stored, not delivered.
    pub target: Option<String>,
    /// `--time-scale`: 1000 turns the policy's 120 s into 120 ms.
    pub time_scale: f64,
    /// Environment variables to set (none of the caller's AWS or hookbridge
    /// variables is inherited).
    pub env: Vec<(String, String)>,
    /// `--verbose`: every step logged, which the log checks and failure
    /// messages rely on; off, the summary line and failures only.
    pub verbose: bool,
}

impl DevOptions {
    pub fn delivering_to(target: String) -> Self {
        Self {
            target: Some(target),
            time_scale: 1000.0,
            env: Vec::new(),
            verbose: true,
        }
    }

    pub fn without_target() -> Self {
        Self {
            target: None,
            time_scale: 1000.0,
            env: Vec::new(),
            verbose: true,
        }
    }
}

/// A running `hookbridge dev`; SIGKILLed on drop.
#[derive(Debug)]
pub struct DevServer {
    child: Child,
    address: SocketAddr,
    console: Arc<Mutex<String>>,
    log_path: PathBuf,
}

impl DevServer {
    /// Starts `hookbridge dev --port 0` on `scratch`'s data directory (run
    /// number `run`, to name its log) and waits for its `listening on` line.
    ///
    /// # Panics
    /// When it does not start serving within 30 s.
    pub fn start(scratch: &Scratch, run: usize, options: &DevOptions) -> Self {
        let mut command = scratch.hookbridge();
        command
            .arg("dev")
            .args(["--host", "127.0.0.1", "--port", "0", "--data-dir"])
            .arg(scratch.data_dir())
            .args(["--time-scale", &options.time_scale.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(target) = &options.target {
            command.args(["--target", target]);
        }
        if options.verbose {
            command.arg("--verbose");
        }
        command.envs(options.env.iter().map(|(name, value)| (name, value)));
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("spawn {command:?}: {error}"));

        let log_path = scratch.log_path(run);
        let log = File::create(&log_path)
            .unwrap_or_else(|error| panic!("create {}: {error}", log_path.display()));
        let log = Arc::new(Mutex::new(log));
        let console = Arc::new(Mutex::new(String::new()));
        let (listening, address) = mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        copy_console(stdout, &log, &console, Some(listening));
        copy_console(stderr, &log, &console, None);

        let mut server = Self {
            child,
            // Replaced below, once the process says where it listens.
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            console,
            log_path,
        };
        match address.recv_timeout(START_TIMEOUT) {
            Ok(address) => server.address = address,
            Err(_) => {
                let status = server.child.try_wait().ok().flatten();
                panic!(
                    "hookbridge dev printed no `{LISTENING_PREFIX}<host>:<port>` line within \
                     {START_TIMEOUT:?} (exit status: {status:?}); console:\n{}",
                    server.console_tail()
                );
            }
        }
        server
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The last 16 KiB the process printed, and where the full log is.
    pub fn console_tail(&self) -> String {
        let console = self.console.lock().unwrap_or_else(PoisonError::into_inner);
        format!(
            "{}(full log: {})",
            &console[tail_start(&console)..],
            self.log_path.display()
        )
    }

    /// `POST /webhooks/{source}` with the webhook.
    ///
    /// # Panics
    /// When the server gives no HTTP answer.
    pub fn post(&self, webhook: &Webhook) -> Response {
        self.request("POST", &webhook.path(), &webhook.headers, &webhook.body)
    }

    /// Posts the webhook and checks the contract's 202 answer: the event id
    /// and a correlation id.
    pub fn post_accepted(&self, webhook: &Webhook) -> Response {
        let response = self.post(webhook);
        assert_accepted(&response, webhook);
        response
    }

    /// Any request on a fresh connection.
    ///
    /// # Panics
    /// When the server gives no HTTP answer.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Response {
        http::send(self.address, method, path, headers, body).unwrap_or_else(|error| {
            panic!(
                "{method} {path}: no HTTP answer ({error}); console:\n{}",
                self.console_tail()
            )
        })
    }

    /// `GET /events?limit=500`: the newest 500 events, newest first.
    pub fn events(&self) -> Vec<ListedEvent> {
        let response = self.request("GET", "/events?limit=500", &[], b"");
        assert_eq!(
            response.status,
            200,
            "GET /events: {}",
            response.body_text()
        );
        let listing: EventList = serde_json::from_slice(&response.body).unwrap_or_else(|error| {
            panic!(
                "GET /events does not have the contract's shape ({error}): {}",
                response.body_text()
            )
        });
        listing.events
    }

    /// Polls `GET /events` until `done` holds for the listing, and returns it.
    ///
    /// # Panics
    /// When `timeout` passes first; the message shows the last listing.
    pub fn wait_for_events(
        &self,
        timeout: Duration,
        what: &str,
        done: impl Fn(&[ListedEvent]) -> bool,
    ) -> Vec<ListedEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            let events = self.events();
            if done(&events) {
                return events;
            }
            assert!(
                Instant::now() < deadline,
                "GET /events did not show {what} within {timeout:?}; last listing: {events:#?}\nconsole:\n{}",
                self.console_tail()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Checks that the process is alive and serves: `GET /healthz` is 200.
    pub fn assert_serving(&self) {
        let response = http::send(self.address, "GET", "/healthz", &[], b"");
        match response {
            Ok(response) if response.status == 200 => {
                assert_eq!(response.json(), serde_json::json!({"status": "ok"}));
            }
            other => panic!(
                "hookbridge dev no longer serves GET /healthz ({other:?}); console:\n{}",
                self.console_tail()
            ),
        }
    }

    /// The process's peak resident memory (`VmHWM` of /proc/<pid>/status).
    pub fn peak_rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .unwrap_or_else(|error| panic!("read /proc/{}/status: {error}", self.pid()));
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().strip_suffix("kB"))
            .and_then(|kib| kib.trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .expect("/proc/<pid>/status has VmHWM in kB")
    }

    /// Kills the process with SIGKILL and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM (a graceful stop) without waiting.
    pub fn send_sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill -TERM {}: {status}", self.pid());
    }

    /// Waits up to `timeout` for the process to exit.
    ///
    /// # Panics
    /// When it is still running after `timeout`.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for hookbridge dev") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "hookbridge dev did not exit within {timeout:?}; console:\n{}",
                self.console_tail()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Copies one of the child's output streams, line by line, to the log file
/// and the in-memory console; sends the address of the `listening on` line.
fn copy_console(
    stream: impl Read + Send + 'static,
    log: &Arc<Mutex<File>>,
    console: &Arc<Mutex<String>>,
    mut listening: Option<mpsc::Sender<SocketAddr>>,
) {
    let (log, console) = (Arc::clone(log), Arc::clone(console));
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        let mut in_banner = false;
        while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            let mut text = String::from_utf8_lossy(&line).into_owned();
            if text.starts_with(BANNER_START) {
                in_banner = true;
            } else if in_banner && text.starts_with(' ') {
                text = redact_development_secrets(&text);
            } else {
                in_banner = false;
            }
            if let Some(address) = text
                .trim_end()
                .strip_prefix(LISTENING_PREFIX)
                .and_then(|address| address.parse().ok())
                && let Some(sender) = listening.take()
            {
                let _ = sender.send(address);
            }
            let _ = log
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .write_all(text.as_bytes());
            let mut console = console.lock().unwrap_or_else(PoisonError::into_inner);
            console.push_str(&text);
            // Keeps memory bounded under a flood of log lines.
            if console.len() > 4 * CONSOLE_TAIL {
                let keep_from = tail_start(&console);
                console.drain(..keep_from);
            }
            drop(console);
            line.clear();
        }
    });
}

/// The start banner lists the development secrets on purpose (the
/// contract: a developer needs them to sign test webhooks); only there are
/// they replaced, so that any other line showing a secret still fails the
/// suite's leaked-secret check of the captured logs.
fn redact_development_secrets(line: &str) -> String {
    DEVELOPMENT_SECRETS
        .iter()
        .fold(line.to_owned(), |line, secret| {
            line.replace(secret, "<development secret>")
        })
}

/// Where the last [`CONSOLE_TAIL`] bytes of `console` start (at a char).
fn tail_start(console: &str) -> usize {
    let mut start = console.len().saturating_sub(CONSOLE_TAIL);
    while !console.is_char_boundary(start) {
        start += 1;
    }
    start
}

/// Checks the contract's 202 answer to `webhook`.
pub fn assert_accepted(response: &Response, webhook: &Webhook) {
    assert_eq!(
        response.status,
        202,
        "{} webhook {}: {}",
        webhook.source(),
        webhook.event_id,
        response.body_text()
    );
    let body = response.json();
    assert_eq!(
        body["id"], webhook.event_id,
        "202 names the event id: {body}"
    );
    let correlation_id = body["correlation_id"].as_str().unwrap_or_default();
    assert!(
        uuid::Uuid::parse_str(correlation_id).is_ok(),
        "202 carries a UUID correlation id: {body}"
    );
}

/// Checks that a request the target received is `webhook`, delivered as the
/// contract says: its payload byte for byte, `webhook-id` = the event id,
/// hookbridge's headers, and a valid Standard Webhooks signature by the
/// development outbound secret.
pub fn assert_delivered_as(received: &Received, webhook: &Webhook, event_type: &str) {
    let request = &received.request;
    assert_eq!(request.method, "POST", "{request:?}");
    assert_eq!(
        request.header("webhook-id"),
        Some(webhook.event_id.as_str()),
        "{request:?}"
    );
    assert_eq!(
        request.header("x-hookbridge-source"),
        Some(webhook.source()),
        "{request:?}"
    );
    assert_eq!(
        request.header("x-hookbridge-event-type"),
        Some(event_type),
        "{request:?}"
    );
    assert!(
        request
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/json")),
        "{request:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&request.body),
        String::from_utf8_lossy(&webhook.delivered_body),
        "the target receives the provider's payload (Money Button's without its secret)"
    );
    assert_signed_by_outbound_secret(received);
}

/// Checks the request's Standard Webhooks signature with the development
/// outbound secret, as any Standard Webhooks library would.
pub fn assert_signed_by_outbound_secret(received: &Received) {
    assert!(
        is_signed_by(received, OUTBOUND_SECRET),
        "delivery of {:?} is not signed by the outbound secret",
        received.event_id()
    );
}

/// Whether the request's Standard Webhooks signature verifies with
/// `secret` (a `whsec_` key), as any Standard Webhooks library checks it.
pub fn is_signed_by(received: &Received, secret: &str) -> bool {
    hookbridge_core::providers::standard::verify(
        &received.request.headers,
        &received.request.body,
        &SecretSet::parse(secret),
        SystemTime::now(),
        Duration::from_secs(300),
    )
    .is_ok()
}

/// `GET /events`'s body.
#[derive(Debug, Clone, Deserialize)]
struct EventList {
    events: Vec<ListedEvent>,
}

/// One event of `GET /events`.
#[derive(Debug, Clone, Deserialize)]
pub struct ListedEvent {
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub received_at: String,
    pub occurred_at: Option<String>,
    pub correlation_id: String,
    /// How many times the same id was ingested again.
    pub duplicates: u64,
    /// Whether the consumer recorded it.
    pub stored: bool,
    /// One per destination the event matched, by name.
    pub deliveries: Vec<Delivery>,
}

/// The destination `--target` stands for.
pub const DEFAULT_DESTINATION: &str = "default";

impl ListedEvent {
    /// Its delivery to `destination`, if it matched that destination.
    pub fn delivery_to(&self, destination: &str) -> Option<&Delivery> {
        self.deliveries
            .iter()
            .find(|delivery| delivery.destination == destination)
    }

    /// Its delivery to the `--target` destination.
    ///
    /// # Panics
    /// When it has none.
    pub fn default_delivery(&self) -> &Delivery {
        self.delivery_to(DEFAULT_DESTINATION)
            .unwrap_or_else(|| panic!("no delivery to `{DEFAULT_DESTINATION}`: {self:?}"))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct Delivery {
    pub destination: String,
    pub status: DeliveryStatus,
    pub attempts: Vec<DeliveryAttempt>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Retrying,
    Delivered,
    DeadLettered,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DeliveryAttempt {
    pub number: u32,
    pub at: String,
    pub outcome: AttemptOutcome,
    pub status: Option<u16>,
    pub error: Option<String>,
    pub latency_ms: Option<u64>,
    pub response_excerpt: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Delivered,
    Failed,
}

/// The listed event with `id`.
pub fn find_event<'e>(events: &'e [ListedEvent], id: &str) -> Option<&'e ListedEvent> {
    events.iter().find(|event| event.id == id)
}

/// Whether the event `id` is listed, stored and delivered to every
/// destination it matched (at least one).
pub fn is_delivered_and_stored(events: &[ListedEvent], id: &str) -> bool {
    find_event(events, id).is_some_and(|event| {
        event.stored
            && !event.deliveries.is_empty()
            && event
                .deliveries
                .iter()
                .all(|delivery| delivery.status == DeliveryStatus::Delivered)
    })
}
