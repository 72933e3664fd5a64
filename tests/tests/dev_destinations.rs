//! `hookbridge dev` with several destinations, as an outside process: each
//! receives exactly the events its filter takes, signed with its own
//! secret; a destination that never answers does not hold the others up;
//! an event no destination takes is stored and delivered nowhere; a replay
//! to one destination resends nothing to the others; `hookbridge status`
//! reads beside the running server; an invalid destination refuses start.

use std::collections::{BTreeSet, HashMap};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use hookbridge_core::delivery_policy::DeliveryPolicy;
use hookbridge_testkit::http_target::{Answer, HttpTarget, Received, Reply, Script};
use hookbridge_tests::dev_process::webhooks::{Kind, OUTBOUND_SECRET, Webhook, unique_id};
use hookbridge_tests::dev_process::{
    DeliveryStatus, DevOptions, DevServer, ListedEvent, Scratch, find_event, is_signed_by,
};

/// Generous bound for anything that takes milliseconds when all is well.
const WAIT: Duration = Duration::from_secs(15);
/// The stalling destination's `timeout_seconds`: the longest allowed.
const STALL_TIMEOUT: Duration = Duration::from_secs(14);
/// How long the others may take to receive everything while that one
/// stalls: less than its timeout, so a shared in-flight budget (filled with
/// its stalled attempts) would make them miss it.
const BESIDE_THE_STALL: Duration = Duration::from_secs(10);

const BILLING_SECRET: &str = "whsec_aG9va2JyaWRnZS10ZXN0LWJpbGxpbmcta2V5";
const PRS_SECRET: &str = "whsec_aG9va2JyaWRnZS10ZXN0LXBycy1rZXk=";
/// What the failing destination answers, kept as each attempt's excerpt.
const BUSY: &str = r#"{"error":"busy, try later"}"#;

/// `billing` filters by source, `prs` by type, `broken` takes Stripe and
/// GitHub and signs with the shared (development) outbound secret. A
/// Standard Webhooks `invoice.paid` matches none of them.
fn three_destinations(billing: &str, prs: &str, broken: &str) -> String {
    format!(
        r#"
[destinations.billing]
url = "{billing}"
sources = ["stripe", "moneybutton"]
secrets = ["{BILLING_SECRET}"]

[destinations.prs]
url = "{prs}"
types = ["pull_request.*", "orders/create"]
secrets = ["{PRS_SECRET}"]

[destinations.broken]
url = "{broken}"
sources = ["stripe", "github"]
timeout_seconds = {}
"#,
        STALL_TIMEOUT.as_secs()
    )
}

fn no_target() -> DevOptions {
    DevOptions::without_target()
}

/// The event ids a target received, each with how many requests.
fn received_ids(target: &HttpTarget) -> HashMap<String, usize> {
    let mut ids = HashMap::new();
    for received in target.received() {
        let id = received.event_id().unwrap_or("<no webhook-id>").to_owned();
        *ids.entry(id).or_default() += 1;
    }
    ids
}

fn ids_of<'w>(webhooks: impl IntoIterator<Item = &'w Webhook>) -> BTreeSet<String> {
    webhooks.into_iter().map(|w| w.event_id.clone()).collect()
}

/// Checks a delivery's payload and `webhook-id`, and that it verifies with
/// `secret` and with none of `others`.
fn assert_signed_for(received: &Received, webhook: &Webhook, secret: &str, others: &[&str]) {
    assert_eq!(
        received.request.header("webhook-id"),
        Some(webhook.event_id.as_str())
    );
    assert_eq!(
        String::from_utf8_lossy(&received.request.body),
        String::from_utf8_lossy(&webhook.delivered_body)
    );
    assert!(
        is_signed_by(received, secret),
        "{} is not signed with its destination's secret",
        webhook.event_id
    );
    for other in others {
        assert!(
            !is_signed_by(received, other),
            "{} verifies with another destination's secret",
            webhook.event_id
        );
    }
}

fn status_of(event: &ListedEvent, destination: &str) -> Option<DeliveryStatus> {
    event
        .delivery_to(destination)
        .map(|delivery| delivery.status)
}

/// Runs `hookbridge <args>` in `scratch` and returns its output.
fn hookbridge(scratch: &Scratch, args: &[&str]) -> Output {
    scratch
        .hookbridge()
        .args(args)
        .arg("--data-dir")
        .arg(scratch.data_dir())
        .output()
        .expect("run hookbridge")
}

#[test]
fn each_destination_gets_exactly_its_events_with_its_own_signature_beside_a_stalled_one() {
    let billing = HttpTarget::start(Script::always(200));
    let prs = HttpTarget::start(Script::always(200));
    let broken = HttpTarget::start(Script::always(Answer::Stall));
    let scratch = Scratch::new("destinations");
    scratch.write_config(&three_destinations(
        &billing.url(),
        &prs.url(),
        &broken.url(),
    ));
    let dev = DevServer::start(&scratch, 1, &no_target());

    // Ten rounds: 20 events for `broken`, more than its in-flight budget.
    let mut sent: HashMap<Kind, Vec<Webhook>> = HashMap::new();
    for round in 0..10 {
        for kind in Kind::ALL {
            let webhook = Webhook::new(kind, &unique_id(&format!("dest{round}_{}", kind.source())));
            dev.post_accepted(&webhook);
            sent.entry(kind).or_default().push(webhook);
        }
    }
    let of = |kinds: &[Kind]| ids_of(kinds.iter().flat_map(|kind| &sent[kind]));
    let billing_ids = of(&[Kind::Stripe, Kind::MoneyButton]);
    let prs_ids = of(&[Kind::Github, Kind::Shopify]);
    let broken_ids = of(&[Kind::Stripe, Kind::Github]);

    for (target, expected, name) in [(&billing, &billing_ids, "billing"), (&prs, &prs_ids, "prs")] {
        target.wait_until(
            BESIDE_THE_STALL,
            &format!("every {name} event while `broken` stalls"),
            |received| {
                let got: BTreeSet<&str> = received
                    .iter()
                    .filter(|r| r.succeeded())
                    .filter_map(Received::event_id)
                    .collect();
                expected.iter().all(|id| got.contains(id.as_str()))
            },
        );
    }
    let events = dev.wait_for_events(WAIT, "billing and prs recorded as delivered", |events| {
        billing_ids.iter().all(|id| {
            find_event(events, id).and_then(|e| status_of(e, "billing"))
                == Some(DeliveryStatus::Delivered)
        }) && prs_ids.iter().all(|id| {
            find_event(events, id).and_then(|e| status_of(e, "prs"))
                == Some(DeliveryStatus::Delivered)
        })
    });

    // Exactly their events, once each, signed with their own secrets.
    let billing_got = received_ids(&billing);
    assert_eq!(
        billing_got.keys().cloned().collect::<BTreeSet<_>>(),
        billing_ids
    );
    assert!(
        billing_got.values().all(|count| *count == 1),
        "{billing_got:?}"
    );
    let prs_got = received_ids(&prs);
    assert_eq!(prs_got.keys().cloned().collect::<BTreeSet<_>>(), prs_ids);
    assert!(prs_got.values().all(|count| *count == 1), "{prs_got:?}");
    let webhooks: HashMap<&str, &Webhook> = sent
        .values()
        .flatten()
        .map(|w| (w.event_id.as_str(), w))
        .collect();
    for received in billing.received() {
        let webhook = webhooks[received.event_id().expect("webhook-id")];
        assert_signed_for(
            &received,
            webhook,
            BILLING_SECRET,
            &[PRS_SECRET, OUTBOUND_SECRET],
        );
    }
    for received in prs.received() {
        let webhook = webhooks[received.event_id().expect("webhook-id")];
        assert_signed_for(
            &received,
            webhook,
            PRS_SECRET,
            &[BILLING_SECRET, OUTBOUND_SECRET],
        );
    }
    // `broken` got only its own events so far, signed with the shared secret.
    let stalled = broken.received();
    assert!(!stalled.is_empty(), "broken was attempted");
    for received in &stalled {
        let id = received.event_id().expect("webhook-id");
        assert!(broken_ids.contains(id), "{id} is not for broken");
        assert_signed_for(
            received,
            webhooks[id],
            OUTBOUND_SECRET,
            &[BILLING_SECRET, PRS_SECRET],
        );
    }

    // GET /events: a delivery per matched destination; none for invoice.paid.
    for webhook in &sent[&Kind::Stripe] {
        let event = find_event(&events, &webhook.event_id).expect("listed");
        let names: Vec<&str> = event
            .deliveries
            .iter()
            .map(|d| d.destination.as_str())
            .collect();
        assert_eq!(names, ["billing", "broken"], "{event:?}");
        assert_ne!(status_of(event, "broken"), Some(DeliveryStatus::Delivered));
    }
    for webhook in &sent[&Kind::Standard] {
        let event = find_event(&events, &webhook.event_id).expect("stored");
        assert!(event.deliveries.is_empty(), "{event:?}");
        for target in [&billing, &prs, &broken] {
            assert!(target.received_for(&webhook.event_id).is_empty());
        }
    }
    let unmatched = &sent[&Kind::Standard][0].event_id;
    dev.wait_for_events(WAIT, "the unmatched event stored", |events| {
        find_event(events, unmatched).is_some_and(|event| event.stored)
    });

    // `hookbridge status` reads beside the running server.
    let stripe_id = &sent[&Kind::Stripe][0].event_id;
    let status = hookbridge(&scratch, &["status", stripe_id, "--json"]);
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&status.stdout).expect("JSON");
    assert_eq!(json["event_id"], stripe_id.as_str());
    assert_eq!(json["deliveries"][0]["destination"], "billing");
    assert_eq!(json["deliveries"][0]["state"], "delivered");
    assert_eq!(
        json["deliveries"][0]["attempts"][0]["outcome"]["status"],
        200
    );
    assert_eq!(json["deliveries"][1]["destination"], "broken");
    let table = hookbridge(&scratch, &["status", stripe_id]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("billing") && table.contains("delivered"),
        "{table}"
    );
    let none = hookbridge(&scratch, &["status", unmatched]);
    assert!(none.status.success());
    assert!(
        String::from_utf8_lossy(&none.stdout).contains("matched no destination"),
        "{}",
        String::from_utf8_lossy(&none.stdout)
    );
    let unknown = hookbridge(&scratch, &["status", "evt_never_sent"]);
    assert!(!unknown.status.success(), "an unknown id exits non-zero");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("evt_never_sent"));
    dev.assert_serving();
}

#[test]
fn a_replay_to_one_destination_resends_nothing_to_the_others() {
    let billing = HttpTarget::start(Script::always(200));
    let broken = HttpTarget::start(Script::always(Reply::json(503, BUSY)));
    let scratch = Scratch::new("destinations-replay");
    scratch.write_config(&format!(
        r#"
[destinations.billing]
url = "{}"
sources = ["stripe"]

[destinations.broken]
url = "{}"
types = ["payment_intent.*"]
# SNS's hour is all it gets: dead-lettered without tier 2.
horizon_hours = 1
"#,
        billing.url(),
        broken.url()
    ));
    let options = no_target();
    let dev = DevServer::start(&scratch, 1, &options);
    let webhook = Webhook::new(Kind::Stripe, &unique_id("evt_replay_one"));
    let scaled_schedule = DeliveryPolicy::default()
        .total_duration()
        .div_f64(options.time_scale);

    dev.post_accepted(&webhook);
    let events = dev.wait_for_events(
        scaled_schedule + WAIT,
        "billing delivered, broken dead-lettered",
        |events| {
            find_event(events, &webhook.event_id).is_some_and(|event| {
                status_of(event, "billing") == Some(DeliveryStatus::Delivered)
                    && status_of(event, "broken") == Some(DeliveryStatus::DeadLettered)
            })
        },
    );
    let event = find_event(&events, &webhook.event_id).expect("listed");
    let attempts = &event.delivery_to("broken").expect("broken").attempts;
    assert_eq!(attempts.len(), DeliveryPolicy::default().schedule().len());
    for attempt in attempts {
        assert_eq!(attempt.status, Some(503), "{attempt:?}");
        assert_eq!(
            attempt.response_excerpt.as_deref(),
            Some(BUSY),
            "{attempt:?}"
        );
        assert!(attempt.latency_ms.is_some(), "{attempt:?}");
    }

    let nothing = hookbridge(
        &scratch,
        &[
            "replay",
            "--destination",
            "billing",
            "--id",
            &webhook.event_id,
        ],
    );
    assert!(nothing.status.success());
    assert!(
        String::from_utf8_lossy(&nothing.stdout).contains("no dead-lettered deliveries"),
        "{}",
        String::from_utf8_lossy(&nothing.stdout)
    );

    broken.set_script(Script::always(200));
    let replay = hookbridge(
        &scratch,
        &[
            "replay",
            "--destination",
            "broken",
            "--id",
            &webhook.event_id,
        ],
    );
    let out = String::from_utf8_lossy(&replay.stdout);
    assert!(
        replay.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(
        out.contains(&format!("replayed {} to broken", webhook.event_id)),
        "{out}"
    );

    dev.wait_for_events(WAIT, "the replay delivered to broken", |events| {
        find_event(events, &webhook.event_id)
            .is_some_and(|event| status_of(event, "broken") == Some(DeliveryStatus::Delivered))
    });
    assert_eq!(broken.successes_by_id().get(&webhook.event_id), Some(&1));
    assert_eq!(
        billing.received_for(&webhook.event_id).len(),
        1,
        "billing is not sent the event again"
    );
}

/// Runs `command` until it exits (at most [`WAIT`]) and returns its output.
fn run_to_exit(mut command: Command) -> Output {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hookbridge dev");
    let deadline = Instant::now() + WAIT;
    while child.try_wait().expect("wait for hookbridge dev").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let output = child.wait_with_output().expect("reap it");
            panic!(
                "hookbridge dev started despite an invalid destination; stderr:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("read its output")
}

#[test]
fn an_invalid_destination_refuses_start_naming_the_destination_and_the_field() {
    let cases = [
        (
            "[destinations.crm]\nurl = \"http://127.0.0.1:1/\"\ntimeout_seconds = 30",
            ["crm", "timeout_seconds"],
        ),
        (
            "[destinations.crm]\nurl = \"ftp://127.0.0.1/\"",
            ["crm", "url"],
        ),
        (
            "[destinations.crm]\nurl = \"http://127.0.0.1:1/\"\nkind = \"x\"",
            ["crm", "kind"],
        ),
        (
            "[destinations.crm]\nurl = \"http://127.0.0.1:1/\"\nsecrets = []",
            ["destinations.crm.secrets", "at least one"],
        ),
    ];
    for (config, expected) in cases {
        let scratch = Scratch::new("destinations-invalid");
        scratch.write_config(config);
        let mut command = scratch.hookbridge();
        command
            .arg("dev")
            .args(["--host", "127.0.0.1", "--port", "0", "--data-dir"])
            .arg(scratch.data_dir());
        let output = run_to_exit(command);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{config}: {stderr}");
        for part in expected {
            assert!(stderr.contains(part), "{config}: names {part}: {stderr}");
        }
        assert!(
            !String::from_utf8_lossy(&output.stdout).contains("listening on"),
            "{config}: it never served"
        );
    }
}
