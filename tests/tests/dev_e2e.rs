//! `hookbridge dev` end to end, as an outside process: signed webhooks of
//! every kind in, Standard Webhooks-signed deliveries out to a loopback
//! target that fails before it succeeds, `GET /events` telling the story,
//! dead letters replayed, and SIGTERM stopping it gracefully.
//!
//! Run with `--time-scale 1000` (100 where a wait is measured): the delivery
//! policy's 120 s wait is 120 ms (1.2 s).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant, SystemTime};

use hookbridge_core::delivery_policy::DeliveryPolicy;
use hookbridge_core::providers::stripe;
use hookbridge_core::verify::VerifyError;
use hookbridge_testkit::http_target::{HttpTarget, Script};
use hookbridge_tests::dev_process::http;
use hookbridge_tests::dev_process::webhooks::{
    Kind, STRIPE_SECRET, WRONG_SECRET, Webhook, unique_id,
};
use hookbridge_tests::dev_process::{
    AttemptOutcome, DeliveryStatus, DevOptions, DevServer, ListedEvent, Scratch, assert_accepted,
    assert_delivered_as, find_event, is_delivered_and_stored,
};

/// Generous bound for anything that takes milliseconds when all is well.
const WAIT: Duration = Duration::from_secs(15);

fn parse_time(text: &str) -> SystemTime {
    humantime::parse_rfc3339_weak(text)
        .unwrap_or_else(|error| panic!("{text:?} is not an RFC 3339 time: {error}"))
}

fn every_kind(label: &str) -> Vec<Webhook> {
    Kind::ALL
        .into_iter()
        .map(|kind| Webhook::new(kind, &unique_id(&format!("{label}_{}", kind.source()))))
        .collect()
}

/// Sends a fresh valid webhook and waits until it is delivered and stored:
/// whatever the server would do with requests sent before it has had its
/// chance by then, so a test can assert that something did *not* happen.
fn send_sentinel_and_wait(dev: &DevServer, target: &HttpTarget) -> Webhook {
    let sentinel = Webhook::new(Kind::Github, &unique_id("sentinel"));
    dev.post_accepted(&sentinel);
    target.wait_until(WAIT, "the sentinel delivered", |received| {
        received
            .iter()
            .any(|r| r.succeeded() && r.event_id() == Some(sentinel.event_id.as_str()))
    });
    dev.wait_for_events(WAIT, "the sentinel delivered and stored", |events| {
        is_delivered_and_stored(events, &sentinel.event_id)
    });
    sentinel
}

#[test]
fn every_kind_is_accepted_retried_and_delivered_once_with_a_valid_signature() {
    let target = HttpTarget::start(Script::per_event([500, 500]));
    let scratch = Scratch::new("e2e-every-kind");
    // Scale 100, not 1000: a 1.2 s wait stands out from any request's latency.
    let options = DevOptions {
        time_scale: 100.0,
        ..DevOptions::delivering_to(target.url())
    };
    let dev = DevServer::start(&scratch, 1, &options);
    let webhooks = every_kind("e2e");

    let correlation_ids: Vec<String> = webhooks
        .iter()
        .map(|webhook| {
            dev.post_accepted(webhook).json()["correlation_id"]
                .as_str()
                .expect("checked by post_accepted")
                .to_owned()
        })
        .collect();

    let ids: Vec<&str> = webhooks.iter().map(|w| w.event_id.as_str()).collect();
    target.wait_until(WAIT, "a successful delivery of every event", |received| {
        ids.iter().all(|id| {
            received
                .iter()
                .any(|r| r.succeeded() && r.event_id() == Some(id))
        })
    });
    let events = dev.wait_for_events(WAIT, "every event delivered and stored", |events| {
        ids.iter().all(|id| is_delivered_and_stored(events, id))
    });

    for (webhook, correlation_id) in webhooks.iter().zip(&correlation_ids) {
        let kind = webhook.kind;
        let received = target.received_for(&webhook.event_id);
        let statuses: Vec<u16> = received.iter().filter_map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [500, 500, 200],
            "{kind:?}: two failed attempts, then exactly one delivery"
        );
        for attempt in &received {
            assert_delivered_as(attempt, webhook, kind.event_type());
            assert_eq!(
                attempt.request.header("x-hookbridge-correlation-id"),
                Some(correlation_id.as_str()),
                "{kind:?}: the delivery carries the ingest request's correlation id"
            );
        }
        // Attempt 3 is due 120 s / 100 after attempt 1 (attempt 2 at once).
        // Measured on arrival, so the first request's own latency may eat
        // into the wait: 1 s still tells the scaled wait from none.
        let first_to_third = received[2].at.duration_since(received[0].at);
        assert!(
            first_to_third >= Duration::from_secs(1),
            "{kind:?}: the third attempt came {first_to_third:?} after the first, \
             not after the 120 s wait scaled by 100"
        );

        let event = find_event(&events, &webhook.event_id).expect("listed");
        assert_eq!(event.source, kind.source(), "{event:?}");
        assert_eq!(event.event_type, kind.event_type(), "{event:?}");
        assert_eq!(&event.correlation_id, correlation_id, "{event:?}");
        assert_eq!(event.duplicates, 0, "{event:?}");
        assert!(event.stored, "{event:?}");
        parse_time(&event.received_at);
        match kind {
            // The payload's own time, as sent.
            Kind::Standard => assert_eq!(
                event.occurred_at.as_deref(),
                Some("2026-11-24T00:00:00Z"),
                "{event:?}"
            ),
            // Nothing in a GitHub webhook says when it happened.
            Kind::Github => assert_eq!(event.occurred_at, None, "{event:?}"),
            _ => {}
        }
        let attempts = &event.default_delivery().attempts;
        assert_eq!(
            attempts.iter().map(|a| a.number).collect::<Vec<_>>(),
            [1, 2, 3],
            "{event:?}"
        );
        assert_eq!(
            attempts.iter().map(|a| a.outcome).collect::<Vec<_>>(),
            [
                AttemptOutcome::Failed,
                AttemptOutcome::Failed,
                AttemptOutcome::Delivered
            ],
            "{event:?}"
        );
        assert_eq!(
            attempts.iter().map(|a| a.status).collect::<Vec<_>>(),
            [Some(500), Some(500), Some(200)],
            "{event:?}"
        );
        let times: Vec<SystemTime> = attempts.iter().map(|a| parse_time(&a.at)).collect();
        assert!(
            times.windows(2).all(|pair| pair[0] <= pair[1]),
            "attempt times go forward: {event:?}"
        );
    }

    // Nothing more arrives for events already delivered.
    send_sentinel_and_wait(&dev, &target);
    let successes = target.successes_by_id();
    for webhook in &webhooks {
        assert_eq!(target.received_for(&webhook.event_id).len(), 3);
        assert_eq!(successes.get(&webhook.event_id), Some(&1));
    }
}

#[test]
fn a_duplicate_is_answered_202_stored_once_and_never_delivered_again() {
    let target = HttpTarget::start(Script::per_event([500, 500]));
    let scratch = Scratch::new("e2e-duplicates");
    let dev = DevServer::start(&scratch, 1, &DevOptions::delivering_to(target.url()));
    let first = Webhook::new(Kind::Stripe, &unique_id("evt_dup"));
    let standard = Webhook::new(Kind::Standard, &unique_id("msg_dup"));

    dev.post_accepted(&first);
    dev.post_accepted(&standard);
    // Re-sent (and re-signed) while the first delivery is still being retried.
    let resent = Webhook::new(Kind::Stripe, &first.event_id);
    dev.post_accepted(&resent);
    dev.post_accepted(&Webhook::new(Kind::Standard, &standard.event_id));

    dev.wait_for_events(WAIT, "both events delivered and stored", |events| {
        is_delivered_and_stored(events, &first.event_id)
            && is_delivered_and_stored(events, &standard.event_id)
    });
    // And once more after delivery.
    dev.post_accepted(&Webhook::new(Kind::Stripe, &first.event_id));
    send_sentinel_and_wait(&dev, &target);

    let events = dev.events();
    for (webhook, duplicates) in [(&first, 2), (&standard, 1)] {
        let listed: Vec<&ListedEvent> = events
            .iter()
            .filter(|event| event.id == webhook.event_id)
            .collect();
        assert_eq!(listed.len(), 1, "stored once: {events:#?}");
        assert_eq!(listed[0].duplicates, duplicates, "{:?}", listed[0]);
        assert_eq!(
            listed[0].default_delivery().attempts.len(),
            3,
            "no delivery scheduled for a duplicate: {:?}",
            listed[0]
        );
        let statuses: Vec<u16> = target
            .received_for(&webhook.event_id)
            .iter()
            .filter_map(|r| r.status)
            .collect();
        assert_eq!(
            statuses,
            [500, 500, 200],
            "{}: one delivery schedule, one delivery",
            webhook.event_id
        );
    }
}

fn is_signature_header(name: &str) -> bool {
    matches!(
        name,
        "stripe-signature" | "x-hub-signature-256" | "webhook-signature" | "x-shopify-hmac-sha256"
    )
}

/// Ways a webhook of `kind` can fail verification, each with the error code
/// of its 401.
fn forged(kind: Kind) -> Vec<(Webhook, &'static str)> {
    let id = |what: &str| unique_id(&format!("{what}_{}", kind.source()));
    let mismatch = VerifyError::NoMatch.code();
    let mut cases = vec![(
        Webhook::signed_with(kind, &id("wrong"), WRONG_SECRET),
        mismatch,
    )];
    if kind != Kind::MoneyButton {
        // Money Button signs nothing: its secret travels in the body.
        let mut tampered = Webhook::new(kind, &id("tampered"));
        let last = tampered.body.len() - 1;
        tampered.body.insert(last, b' ');
        cases.push((tampered, mismatch));

        let mut unsigned = Webhook::new(kind, &id("unsigned"));
        unsigned
            .headers
            .retain(|(name, _)| !is_signature_header(name));
        cases.push((unsigned, VerifyError::MissingHeader(String::new()).code()));
    }
    cases
}

/// A Stripe webhook signed correctly, but in 2023: far outside the 300 s
/// tolerance.
fn stale_stripe() -> (Webhook, &'static str) {
    let mut webhook = Webhook::new(Kind::Stripe, &unique_id("evt_stale"));
    let signed_long_ago = stripe::sign(STRIPE_SECRET, 1_700_000_000, &webhook.body);
    for (name, value) in &mut webhook.headers {
        if name == "stripe-signature" {
            value.clone_from(&signed_long_ago);
        }
    }
    let code = VerifyError::OutsideTolerance {
        tolerance_seconds: 300,
        age_seconds: 0,
    }
    .code();
    (webhook, code)
}

#[test]
fn bad_signatures_get_401_and_never_reach_the_target() {
    let target = HttpTarget::start(Script::always(200));
    let scratch = Scratch::new("e2e-bad-signatures");
    let dev = DevServer::start(&scratch, 1, &DevOptions::delivering_to(target.url()));
    let mut refused: Vec<(Webhook, &str)> = Kind::ALL.into_iter().flat_map(forged).collect();
    refused.push(stale_stripe());

    for (webhook, code) in &refused {
        let response = dev.post(webhook);
        let body = response.body_text();
        assert_eq!(
            response.status, 401,
            "{:?} {}: {body}",
            webhook.kind, webhook.event_id
        );
        assert_eq!(response.error_code(), *code, "{body}");
        for (name, value) in &webhook.headers {
            if is_signature_header(name) {
                assert!(
                    !body.contains(value.as_str()),
                    "the answer echoes {name}: {body}"
                );
            }
        }
        for secret in [WRONG_SECRET, webhook.kind.dev_secret()] {
            assert!(
                !body.contains(secret),
                "the answer contains a secret: {body}"
            );
        }
    }

    let sentinel = send_sentinel_and_wait(&dev, &target);
    let delivered: HashSet<String> = target
        .received()
        .iter()
        .filter_map(|r| r.event_id().map(str::to_owned))
        .collect();
    assert_eq!(
        delivered,
        HashSet::from([sentinel.event_id.clone()]),
        "only the sentinel reached the target"
    );
    let listed: Vec<String> = dev.events().into_iter().map(|event| event.id).collect();
    assert_eq!(listed, [sentinel.event_id], "only the sentinel is stored");
    let console = dev.console_tail();
    for (webhook, _) in &refused {
        for (name, value) in &webhook.headers {
            if is_signature_header(name) {
                assert!(
                    !console.contains(value.as_str()),
                    "the console shows {name}"
                );
            }
        }
    }
}

#[test]
fn routes_outside_ingest_answer_by_the_contract() {
    let scratch = Scratch::new("e2e-routes");
    let dev = DevServer::start(&scratch, 1, &DevOptions::without_target());

    dev.assert_serving();
    let cases: [(&str, &str, u16); 6] = [
        ("GET", "/no-such-route", 404),
        ("POST", "/events", 405),
        ("DELETE", "/events", 405),
        ("POST", "/healthz", 405),
        ("GET", "/webhooks/stripe", 405),
        ("PUT", "/webhooks/github", 405),
    ];
    for (method, path, status) in cases {
        let response = dev.request(method, path, &[], b"");
        assert_eq!(
            response.status,
            status,
            "{method} {path}: {}",
            response.body_text()
        );
        response.error_code();
    }

    let unknown = Webhook::new(Kind::Github, &unique_id("unknown"));
    let response = dev.request("POST", "/webhooks/nobody", &unknown.headers, &unknown.body);
    assert_eq!(response.status, 404, "{}", response.body_text());
    assert_eq!(response.error_code(), "unknown_source");

    let not_json = Webhook::github_with_body(
        &unique_id("not_json"),
        b"<xml/>".to_vec(),
        Kind::Github.dev_secret(),
    );
    let response = dev.post(&not_json);
    assert_eq!(response.status, 400, "{}", response.body_text());
    assert_eq!(response.error_code(), "invalid_json");
}

#[test]
fn without_a_target_events_are_stored_and_listed_newest_first() {
    let scratch = Scratch::new("e2e-no-target");
    let dev = DevServer::start(&scratch, 1, &DevOptions::without_target());
    let mut webhooks = every_kind("stored");
    for n in 0..50 {
        webhooks.push(Webhook::new(Kind::Github, &unique_id(&format!("bulk{n}"))));
    }

    for webhook in &webhooks {
        dev.post_accepted(webhook);
    }
    let sent: Vec<&str> = webhooks.iter().map(|w| w.event_id.as_str()).collect();
    let events = dev.wait_for_events(WAIT, "every event stored", |events| {
        sent.iter()
            .all(|id| find_event(events, id).is_some_and(|event| event.stored))
    });

    let newest_first: Vec<&str> = sent.iter().rev().copied().collect();
    let listed: Vec<&str> = events.iter().map(|event| event.id.as_str()).collect();
    assert_eq!(listed, newest_first, "newest first");
    for event in &events {
        assert!(event.deliveries.is_empty(), "no destination: {event:?}");
    }

    let default_page = dev.request("GET", "/events", &[], b"").json();
    let default_ids: Vec<&str> = default_page["events"]
        .as_array()
        .expect("events array")
        .iter()
        .filter_map(|event| event["id"].as_str())
        .collect();
    assert_eq!(default_ids, newest_first[..50], "50 by default");
    let three = dev.request("GET", "/events?limit=3", &[], b"").json();
    let three_ids: Vec<&str> = three["events"]
        .as_array()
        .expect("events array")
        .iter()
        .filter_map(|event| event["id"].as_str())
        .collect();
    assert_eq!(three_ids, newest_first[..3]);
}

/// With a one-hour horizon SNS's schedule is the whole schedule: no tier-2
/// attempt fits (dev_horizon covers tier 2).
#[test]
fn a_refused_event_is_dead_lettered_after_the_whole_schedule_and_replay_delivers_it() {
    let target = HttpTarget::start(Script::always(503));
    let scratch = Scratch::new("e2e-dead-letter");
    scratch.write_config(&format!(
        "[destinations.default]\nurl = \"{}\"\nhorizon_hours = 1\n",
        target.url()
    ));
    let options = DevOptions::without_target();
    let dev = DevServer::start(&scratch, 1, &options);
    let webhook = Webhook::new(Kind::Stripe, &unique_id("evt_dead"));
    let policy = DeliveryPolicy::default();
    let scaled_schedule = policy.total_duration().div_f64(options.time_scale);

    dev.post_accepted(&webhook);
    let events = dev.wait_for_events(
        scaled_schedule + WAIT,
        "the event dead-lettered",
        |events| {
            find_event(events, &webhook.event_id).is_some_and(|event| {
                event.default_delivery().status == DeliveryStatus::DeadLettered
            })
        },
    );

    let event = find_event(&events, &webhook.event_id).expect("listed");
    let attempts = &event.default_delivery().attempts;
    assert_eq!(attempts.len(), policy.schedule().len(), "{event:?}");
    assert!(
        attempts
            .iter()
            .all(|a| a.outcome == AttemptOutcome::Failed && a.status == Some(503)),
        "{event:?}"
    );
    let received = target.received_for(&webhook.event_id);
    assert_eq!(received.len(), policy.schedule().len());
    // Measured on arrival: allow the first request's latency a tenth.
    let spread = received[received.len() - 1]
        .at
        .duration_since(received[0].at);
    assert!(
        spread >= scaled_schedule.mul_f64(0.9),
        "the attempts spread over {spread:?}, not the scaled schedule's {scaled_schedule:?}"
    );

    target.set_script(Script::always(200));
    let replay = scratch
        .hookbridge()
        .arg("replay")
        .arg("--data-dir")
        .arg(scratch.data_dir())
        .args(["--id", &webhook.event_id])
        .output()
        .expect("run hookbridge replay");
    let replay_out = String::from_utf8_lossy(&replay.stdout);
    assert!(
        replay.status.success(),
        "hookbridge replay: {}\n{replay_out}{}",
        replay.status,
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(replay_out.contains(&webhook.event_id), "{replay_out}");

    dev.wait_for_events(WAIT, "the replayed event delivered", |events| {
        is_delivered_and_stored(events, &webhook.event_id)
    });
    assert_eq!(target.successes_by_id().get(&webhook.event_id), Some(&1));
    let last = target.received_for(&webhook.event_id);
    assert_delivered_as(&last[last.len() - 1], &webhook, "payment_intent.succeeded");
}

#[test]
fn sigterm_exits_zero_and_a_restart_keeps_every_event() {
    let target = HttpTarget::start(Script::always(200));
    let scratch = Scratch::new("e2e-sigterm");
    let options = DevOptions::delivering_to(target.url());
    let mut dev = DevServer::start(&scratch, 1, &options);
    let webhooks = every_kind("term");
    for webhook in &webhooks {
        dev.post_accepted(webhook);
    }
    dev.wait_for_events(WAIT, "every event delivered and stored", |events| {
        webhooks
            .iter()
            .all(|w| is_delivered_and_stored(events, &w.event_id))
    });

    // In-flight requests get up to 5 s; nothing is in flight here.
    dev.send_sigterm();
    let status = dev.wait_for_exit(Duration::from_secs(7));
    assert_eq!(status.code(), Some(0), "{}", dev.console_tail());

    let restarted = DevServer::start(&scratch, 2, &options);
    let events = restarted.events();
    for webhook in &webhooks {
        assert!(
            is_delivered_and_stored(&events, &webhook.event_id),
            "{events:#?}"
        );
        // Accepting it again is a duplicate, not a new event.
        assert_accepted(&restarted.post(webhook), webhook);
    }
    let events = restarted.events();
    assert_eq!(events.len(), webhooks.len(), "{events:#?}");
    assert!(
        events.iter().all(|event| event.duplicates == 1),
        "{events:#?}"
    );
    send_sentinel_and_wait(&restarted, &target);
    for webhook in &webhooks {
        assert_eq!(target.received_for(&webhook.event_id).len(), 1);
    }
}

#[test]
fn sigterm_lets_an_in_flight_request_finish_and_refuses_new_connections() {
    let scratch = Scratch::new("e2e-sigterm-in-flight");
    let options = DevOptions::without_target();
    let mut dev = DevServer::start(&scratch, 1, &options);
    let address = dev.address();
    let webhook = Webhook::new(Kind::Stripe, &unique_id("evt_in_flight"));

    // A request on a connection the server is surely serving (it has just
    // answered on it), cut off ten bytes before the end of its body.
    let mut stream = http::connect(address).expect("connect");
    stream
        .write_all(format!("GET /healthz HTTP/1.1\r\nhost: {address}\r\n\r\n").as_bytes())
        .expect("send a keep-alive request");
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    assert_eq!(
        http::read_response(&mut reader).expect("healthz").status,
        200
    );
    // `Expect: 100-continue`: the server's interim answer proves it is
    // reading this request's body, so the request is in flight, not a
    // keep-alive connection's unread bytes that a graceful shutdown may
    // drop (which a loaded machine made this test see once).
    let mut headers = webhook.headers.clone();
    headers.push(("expect".into(), "100-continue".into()));
    let request = http::encode_request(address, "POST", &webhook.path(), &headers, &webhook.body);
    let (head, body) = request.split_at(request.len() - webhook.body.len());
    stream.write_all(head).expect("send the request's head");
    let mut interim = String::new();
    reader.read_line(&mut interim).expect("the interim answer");
    assert!(interim.starts_with("HTTP/1.1 100"), "{interim:?}");
    while interim != "\r\n" {
        interim.clear();
        reader
            .read_line(&mut interim)
            .expect("the interim answer's end");
    }
    let (most, rest) = body.split_at(body.len() - 10);
    stream.write_all(most).expect("send most of the body");

    dev.send_sigterm();
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(address).is_ok() {
        assert!(
            Instant::now() < deadline,
            "new connections still accepted 5 s after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    stream
        .write_all(rest)
        .expect("send the rest of the request");
    let response = http::read_response(&mut reader).expect("the in-flight request is answered");
    assert_accepted(&response, &webhook);
    let status = dev.wait_for_exit(Duration::from_secs(7));
    assert_eq!(status.code(), Some(0), "{}", dev.console_tail());

    let restarted = DevServer::start(&scratch, 2, &options);
    let events = restarted.wait_for_events(WAIT, "the in-flight event stored", |events| {
        find_event(events, &webhook.event_id).is_some_and(|event| event.stored)
    });
    assert_eq!(events.len(), 1, "{events:#?}");
}

#[test]
fn sigterm_exits_within_the_grace_period_despite_a_stalled_request() {
    let scratch = Scratch::new("e2e-sigterm-stalled");
    let mut dev = DevServer::start(&scratch, 1, &DevOptions::without_target());
    let address = dev.address();

    let mut stalled = http::connect(address).expect("connect");
    stalled
        .write_all(
            b"POST /webhooks/github HTTP/1.1\r\nhost: hookbridge\r\ncontent-length: 1000\r\n\r\n{",
        )
        .expect("send the start of a request");
    dev.assert_serving();

    let signalled = Instant::now();
    dev.send_sigterm();
    // 5 s of grace for in-flight requests, and a margin for a loaded machine.
    let status = dev.wait_for_exit(Duration::from_secs(8));
    assert_eq!(status.code(), Some(0), "{}", dev.console_tail());
    eprintln!("exited {:?} after SIGTERM", signalled.elapsed());
}

#[test]
fn a_second_dev_on_the_same_data_directory_refuses_to_start_and_names_the_first() {
    let scratch = Scratch::new("e2e-second-dev");
    let first = DevServer::start(&scratch, 1, &DevOptions::without_target());
    let mut second = scratch
        .hookbridge()
        .arg("dev")
        .args(["--host", "127.0.0.1", "--port", "0", "--data-dir"])
        .arg(scratch.data_dir())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn a second hookbridge dev");
    let deadline = Instant::now() + WAIT;
    while second
        .try_wait()
        .expect("wait for the second hookbridge dev")
        .is_none()
    {
        if Instant::now() >= deadline {
            let _ = second.kill();
            let output = second.wait_with_output().expect("reap it");
            panic!(
                "a second hookbridge dev on the same data directory kept running; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = second.wait_with_output().expect("read its output");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{:?}: {stderr}", output.status);
    assert!(
        stderr.contains(&format!("pid {}", first.pid())),
        "names the running one's pid: {stderr}"
    );
    assert!(
        stderr.contains(&format!("http://{}", first.address())),
        "names the running one's address: {stderr}"
    );
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("listening on"),
        "it never served"
    );
    first.assert_serving();
}
