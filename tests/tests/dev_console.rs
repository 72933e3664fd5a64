//! The local console of `hookbridge dev` as an outside process sees it: the
//! JSON API under `/api/` (paged, filtered events; one event in full; the
//! refusal ring with actionable reasons and no secret; counts; redeliver
//! and replay) and the page at `GET /` with its strict policy.

use std::time::{Duration, Instant};

use hookbridge_core::providers::stripe;
use hookbridge_testkit::http_target::{HttpTarget, Script};
use hookbridge_tests::dev_process::http;
use hookbridge_tests::dev_process::webhooks::{
    Kind, MONEYBUTTON_SECRET, STRIPE_SECRET, WRONG_SECRET, Webhook, unique_id,
};
use hookbridge_tests::dev_process::{DevOptions, DevServer, Scratch, is_delivered_and_stored};
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(15);

fn get(dev: &DevServer, path: &str) -> Value {
    let response = dev.request("GET", path, &[], b"");
    assert_eq!(response.status, 200, "GET {path}: {}", response.body_text());
    response.json()
}

fn post_action(dev: &DevServer, path: &str, body: &Value) -> (u16, Value) {
    let headers = [("content-type".to_owned(), "application/json".to_owned())];
    let response = dev.request("POST", path, &headers, body.to_string().as_bytes());
    (response.status, response.json())
}

/// Polls `GET {path}` until `done` holds for its JSON.
fn wait_for(dev: &DevServer, path: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let value = get(dev, path);
        if done(&value) {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "GET {path} did not show {what} within {WAIT:?}: {value:#}\nconsole:\n{}",
            dev.console_tail()
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

fn ids(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|event| event["id"].as_str().expect("an id").to_owned())
        .collect()
}

fn seq_of(dev: &DevServer, id: &str) -> i64 {
    let page = get(dev, &format!("/api/events?id={id}"));
    page["events"][0]["seq"]
        .as_i64()
        .unwrap_or_else(|| panic!("no event {id}: {page}"))
}

#[test]
fn events_page_by_cursor_filter_and_show_in_full_with_masked_headers() {
    let target = HttpTarget::start(Script::in_order([500]).then(200));
    let scratch = Scratch::new("console-events");
    let dev = DevServer::start(&scratch, 1, &DevOptions::delivering_to(target.url()));
    let stripe_ids: Vec<String> = (0..3).map(|n| unique_id(&format!("evt_page{n}"))).collect();
    let sent: Vec<Webhook> = stripe_ids
        .iter()
        .map(|id| Webhook::new(Kind::Stripe, id))
        .chain([Webhook::new(Kind::Github, &unique_id("gh_page"))])
        .collect();
    for webhook in &sent {
        dev.post_accepted(webhook);
    }
    dev.wait_for_events(WAIT, "every event delivered", |events| {
        sent.iter()
            .all(|webhook| is_delivered_and_stored(events, &webhook.event_id))
    });

    let first = get(&dev, "/api/events?limit=3");
    assert_eq!(ids(&first).len(), 3);
    assert_eq!(ids(&first)[0], sent[3].event_id, "newest first");
    let cursor = first["next_cursor"].as_str().expect("a next page");
    let second = get(&dev, &format!("/api/events?limit=3&cursor={cursor}"));
    assert_eq!(ids(&second), [stripe_ids[0].clone()]);
    assert_eq!(second["next_cursor"], Value::Null);
    let github = get(&dev, "/api/events?source=github");
    assert_eq!(ids(&github), [sent[3].event_id.clone()]);
    let by_type = get(&dev, "/api/events?type=payment_intent.%2A");
    assert_eq!(ids(&by_type).len(), 3);
    let delivered = get(&dev, "/api/events?status=delivered");
    assert_eq!(ids(&delivered).len(), 4);
    assert!(ids(&get(&dev, "/api/events?status=dead_lettered")).is_empty());
    let bad = dev.request("GET", "/api/events?status=lost", &[], b"");
    assert_eq!(
        (bad.status, bad.error_code()),
        (400, "invalid_query".to_owned())
    );

    let seq = seq_of(&dev, &stripe_ids[0]);
    let event = get(&dev, &format!("/api/events/{seq}"));
    assert_eq!(event["id"], stripe_ids[0].as_str());
    assert_eq!(event["envelope"]["payload"]["id"], stripe_ids[0].as_str());
    let headers = event["headers"].as_array().expect("recorded headers");
    let signature = sent[0].header("stripe-signature").expect("signed");
    let shown_signature = headers
        .iter()
        .find(|pair| pair[0] == "stripe-signature")
        .expect("the signature header is listed")[1]
        .as_str()
        .unwrap();
    assert!(shown_signature.starts_with("[masked"), "{shown_signature}");
    assert!(
        !event.to_string().contains(signature),
        "never the signature"
    );
    let delivery = &event["deliveries"][0];
    assert_eq!(delivery["destination"], "default");
    assert_eq!(delivery["next_attempt"], Value::Null, "delivered");
    let attempts = delivery["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.last().unwrap()["status"], 200);
    assert!(
        attempts
            .iter()
            .all(|attempt| attempt["latency_ms"].is_u64())
    );
    let missing = dev.request("GET", "/api/events/999999", &[], b"");
    assert_eq!(
        (missing.status, missing.error_code()),
        (404, "unknown_event".to_owned())
    );
    let counts = get(&dev, "/api/counts");
    assert_eq!(counts["delivered"], 4);
    assert_eq!(counts["events"], 4);
    let legacy = dev.events();
    assert_eq!(legacy.len(), 4, "GET /events keeps working");
}

#[test]
fn refusals_say_why_and_keep_no_secret() {
    let scratch = Scratch::new("console-refusals");
    let dev = DevServer::start(&scratch, 1, &DevOptions::without_target());

    let mut stale = Webhook::new(Kind::Stripe, &unique_id("evt_stale"));
    let signed_long_ago = stripe::sign(STRIPE_SECRET, 1_700_000_000, &stale.body);
    for (name, value) in &mut stale.headers {
        if name == "stripe-signature" {
            value.clone_from(&signed_long_ago);
        }
    }
    assert_eq!(dev.post(&stale).status, 401);
    let mut unsigned = Webhook::new(Kind::Stripe, &unique_id("evt_unsigned"));
    unsigned
        .headers
        .retain(|(name, _)| name != "stripe-signature");
    assert_eq!(dev.post(&unsigned).status, 401);
    let forged = Webhook::signed_with(Kind::MoneyButton, &unique_id("mb_forged"), WRONG_SECRET);
    assert_eq!(dev.post(&forged).status, 401);
    let unknown = dev.request("POST", "/webhooks/strpe", &[], br#"{"secret":"leak"}"#);
    assert_eq!(unknown.status, 404);
    let not_json =
        Webhook::stripe_with_body(&unique_id("evt_text"), b"hello".to_vec(), STRIPE_SECRET);
    assert_eq!(dev.post(&not_json).status, 400);

    let listed = wait_for(&dev, "/api/refusals", "five refusals", |list| {
        list["refusals"]
            .as_array()
            .is_some_and(|all| all.len() == 5)
    });
    let refusals = listed["refusals"].as_array().unwrap();
    let reason = |index: usize| refusals[index]["reason"].as_str().unwrap().to_owned();
    // Newest first.
    assert!(reason(0).starts_with("body is not JSON"), "{}", reason(0));
    assert_eq!(refusals[0]["body_excerpt"], "hello");
    assert!(
        reason(1).starts_with("no source named `strpe` is configured (configured: "),
        "{}",
        reason(1)
    );
    assert_eq!(
        refusals[1]["body_excerpt"],
        Value::Null,
        "none for unknown sources"
    );
    assert!(
        reason(2).starts_with("no configured secret matches"),
        "{}",
        reason(2)
    );
    assert_eq!(refusals[2]["source"], "moneybutton");
    assert!(
        reason(3).starts_with("header `stripe-signature` missing"),
        "{}",
        reason(3)
    );
    let stale_reason = reason(4);
    assert!(
        stale_reason.starts_with("timestamp ")
            && stale_reason.contains(" s older than the 300 s tolerance"),
        "{stale_reason}"
    );
    assert_eq!(
        (refusals[4]["status"].as_u64(), refusals[4]["code"].as_str()),
        (Some(401), Some("timestamp_out_of_tolerance"))
    );

    let text = listed.to_string();
    for secret in [
        WRONG_SECRET,
        MONEYBUTTON_SECRET,
        STRIPE_SECRET,
        "leak",
        &signed_long_ago,
    ] {
        assert!(!text.contains(secret), "a refusal shows `{secret}`: {text}");
    }
    assert_eq!(get(&dev, "/api/counts")["refusals"], 5);
}

#[test]
fn dead_letters_are_redelivered_and_replayed_from_the_api() {
    // 410 Gone is final: each delivery is dead-lettered at its first attempt.
    let target = HttpTarget::start(Script::always(410));
    let scratch = Scratch::new("console-actions");
    let dev = DevServer::start(&scratch, 1, &DevOptions::delivering_to(target.url()));
    let first = Webhook::new(Kind::Stripe, &unique_id("evt_gone1"));
    let second = Webhook::new(Kind::Stripe, &unique_id("evt_gone2"));
    dev.post_accepted(&first);
    dev.post_accepted(&second);
    wait_for(&dev, "/api/counts", "two dead letters", |counts| {
        counts["dead_lettered"] == 2
    });
    let dead = get(&dev, "/api/events?status=dead_lettered");
    assert_eq!(ids(&dead).len(), 2);
    target.set_script(Script::always(200));

    let seq = seq_of(&dev, &first.event_id);
    let path = format!("/api/events/{seq}/redeliver");
    let plain_form = dev.request("POST", &path, &[], b"destination=default");
    assert_eq!(plain_form.status, 415, "an action needs a JSON body");
    let (status, answer) = post_action(&dev, &path, &json!({}));
    assert_eq!((status, answer), (200, json!({"requeued": ["default"]})));
    let event_path = format!("/api/events/{seq}");
    wait_for(&dev, &event_path, "the redelivery", |event| {
        event["deliveries"][0]["status"] == "delivered"
    });

    let (status, answer) = post_action(&dev, "/api/replay", &json!({}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["requeued"][0]["event_id"], second.event_id.as_str());
    wait_for(&dev, "/api/counts", "every delivery delivered", |counts| {
        counts["delivered"] == 2 && counts["dead_lettered"] == 0
    });
    let (status, answer) = post_action(&dev, &path, &json!({}));
    assert_eq!(
        (status, answer),
        (200, json!({"requeued": ["default"]})),
        "a delivered event can be sent again"
    );
}

#[test]
fn the_page_is_served_with_a_strict_policy() {
    let scratch = Scratch::new("console-page");
    let dev = DevServer::start(&scratch, 1, &DevOptions::without_target());
    let page = dev.request("GET", "/", &[], b"");
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let policy = page.header("content-security-policy").expect("a policy");
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    assert!(page.body_text().contains("/console.js"));
    for asset in ["/console.js", "/console.css"] {
        let response = dev.request("GET", asset, &[], b"");
        assert_eq!(response.status, 200, "{asset}");
        assert!(response.header("content-security-policy").is_some());
    }
    let refused = dev.request("POST", "/", &[], b"");
    assert_eq!(refused.status, 405);
    // A page of another site whose DNS name was rebound to 127.0.0.1.
    let rebound = http::send_raw(
        dev.address(),
        b"GET /api/counts HTTP/1.1\r\nhost: rebound.example:80\r\nconnection: close\r\n\r\n",
    )
    .expect("an answer");
    assert_eq!(
        (rebound.status, rebound.error_code()),
        (403, "host_not_allowed".to_owned())
    );
}

#[test]
fn without_verbose_stderr_has_a_summary_line_and_one_line_per_failure() {
    let target = HttpTarget::start(Script::always(410));
    let scratch = Scratch::new("console-summary");
    let options = DevOptions {
        verbose: false,
        ..DevOptions::delivering_to(target.url())
    };
    let dev = DevServer::start(&scratch, 1, &options);
    dev.post_accepted(&Webhook::new(Kind::Stripe, &unique_id("evt_summary")));
    let forged = Webhook::signed_with(Kind::Stripe, &unique_id("evt_forged"), WRONG_SECRET);
    assert_eq!(dev.post(&forged).status, 401);
    // The metrics as CloudWatch names them: the 410 was one attempt,
    // failed (4xx) and dead-lettered; the Stripe event moved its object's
    // projection.
    let summary = "Accepted 1, Refused 1, Unavailable 0; DeliveryAttempts 1, Delivered 0, \
                   DeliveryFailed 1, DeadLettered 1; Recorded 1, Duplicate 0, ProjectionUpdated \
                   1, ProjectionSuperseded 0, ConsumeFailed 0; deliveries now: 0 pending, 0 \
                   retrying, 1 dead-lettered";
    // The line comes every 5 s at most, once something changed.
    let deadline = Instant::now() + WAIT;
    while !dev.console_tail().contains(summary) {
        assert!(
            Instant::now() < deadline,
            "no summary line `{summary}` within {WAIT:?}:\n{}",
            dev.console_tail()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let console = dev.console_tail();
    assert!(console.contains("webhook rejected"), "{console}");
    assert!(
        console.contains("delivery failed; dead-lettered"),
        "{console}"
    );
    assert!(
        !console.contains("webhook accepted: on the bus"),
        "a step line without --verbose: {console}"
    );
}
