//! `hookbridge dev` follows the two-tier schedule up to the horizon, as an
//! outside process at `--time-scale 3600` (an hour of the schedule is a
//! second): a target down for two hours gets the event from tier 2; `410
//! Gone` gets one attempt and is dead-lettered; a `503` with `Retry-After`
//! is not retried before it; a target down past the horizon is
//! dead-lettered and `hookbridge replay` delivers it.
//!
//! Waits are measured between the target's arrivals: the worker waits at
//! least each scaled delay after the answer, so the gaps never fall short of
//! the schedule, however slow the machine.

use std::time::Duration;

use hookbridge_core::delivery_policy::DeliveryPolicy;
use hookbridge_core::horizon::{DeliverySchedule, Horizon, Tier};
use hookbridge_testkit::http_target::{HttpTarget, Received, Reply, Script};
use hookbridge_tests::dev_process::webhooks::{Kind, Webhook, unique_id};
use hookbridge_tests::dev_process::{
    AttemptOutcome, DeliveryStatus, DevOptions, DevServer, ListedEvent, Scratch,
    assert_delivered_as, find_event,
};

const TIME_SCALE: f64 = 3600.0;
/// Generous bound for anything that takes milliseconds when all is well.
const WAIT: Duration = Duration::from_secs(15);
const HOUR: Duration = Duration::from_secs(3_600);

fn scaled(duration: Duration) -> Duration {
    duration.div_f64(TIME_SCALE)
}

fn schedule(horizon_hours: u32) -> DeliverySchedule {
    DeliverySchedule::new(
        DeliveryPolicy::default(),
        Horizon::from_hours(horizon_hours).expect("a valid horizon"),
    )
}

fn options(target: Option<String>) -> DevOptions {
    DevOptions {
        time_scale: TIME_SCALE,
        target,
        ..DevOptions::without_target()
    }
}

/// Time between the target's first arrival and arrival `index` (0-based).
fn since_first(received: &[Received], index: usize) -> Duration {
    received[index].at.duration_since(received[0].at)
}

fn delivery_status(events: &[ListedEvent], id: &str, destination: &str) -> Option<DeliveryStatus> {
    find_event(events, id)
        .and_then(|event| event.delivery_to(destination))
        .map(|delivery| delivery.status)
}

#[test]
fn a_target_down_for_two_hours_gets_the_event_from_tier_2() {
    let schedule = schedule(72);
    let listed = schedule.attempts();
    // Every attempt due within the first two hours fails.
    let down = listed.iter().filter(|a| a.elapsed < 2 * HOUR).count();
    assert!(
        listed[down - 1].tier == Tier::Horizon,
        "tier 2 starts before the second hour"
    );
    let target = HttpTarget::start(Script::per_event(vec![503; down]));
    let scratch = Scratch::new("horizon-two-hours");
    let dev = DevServer::start(&scratch, 1, &options(Some(target.url())));
    let webhook = Webhook::new(Kind::Stripe, &unique_id("evt_two_hours"));

    dev.post_accepted(&webhook);
    let events = dev.wait_for_events(
        scaled(listed[down].elapsed) + WAIT,
        "the event delivered after two hours down",
        |events| {
            delivery_status(events, &webhook.event_id, "default") == Some(DeliveryStatus::Delivered)
        },
    );

    let received = target.received_for(&webhook.event_id);
    assert_eq!(
        received.len(),
        down + 1,
        "one delivery after {down} failures"
    );
    assert_delivered_as(&received[down], &webhook, "payment_intent.succeeded");
    let first_tier2 = schedule.tier1_attempts() as usize;
    assert!(
        since_first(&received, first_tier2) >= scaled(HOUR),
        "the first tier-2 attempt came {:?} after the first, before the scaled hour",
        since_first(&received, first_tier2)
    );
    assert!(since_first(&received, down) >= scaled(2 * HOUR));

    let event = find_event(&events, &webhook.event_id).expect("listed");
    let attempts = &event.default_delivery().attempts;
    assert_eq!(
        attempts.len(),
        down + 1,
        "every attempt of both tiers is recorded"
    );
    assert!(
        attempts[..down]
            .iter()
            .all(|a| a.outcome == AttemptOutcome::Failed && a.status == Some(503)),
        "{attempts:?}"
    );
    assert_eq!(attempts[down].outcome, AttemptOutcome::Delivered);
    let numbers: Vec<u32> = attempts.iter().map(|a| a.number).collect();
    assert_eq!(numbers, (1..=down as u32 + 1).collect::<Vec<_>>());
}

#[test]
fn a_gone_target_gets_exactly_one_attempt_and_the_delivery_is_dead_lettered() {
    let target = HttpTarget::start(Script::always(410));
    let scratch = Scratch::new("horizon-gone");
    let dev = DevServer::start(&scratch, 1, &options(Some(target.url())));
    let webhook = Webhook::new(Kind::Stripe, &unique_id("evt_gone"));

    dev.post_accepted(&webhook);
    dev.wait_for_events(WAIT, "the gone delivery dead-lettered", |events| {
        delivery_status(events, &webhook.event_id, "default") == Some(DeliveryStatus::DeadLettered)
    });
    // SNS's second attempt is immediate and tier 2 would follow within the
    // scaled hour and a half: wait that long for an attempt that must not come.
    std::thread::sleep(scaled(90 * 60 * Duration::from_secs(1)));

    assert_eq!(target.received_for(&webhook.event_id).len(), 1);
    let events = dev.events();
    let event = find_event(&events, &webhook.event_id).expect("listed");
    let delivery = event.default_delivery();
    assert_eq!(delivery.status, DeliveryStatus::DeadLettered);
    assert_eq!(delivery.attempts.len(), 1, "{delivery:?}");
    assert_eq!(delivery.attempts[0].status, Some(410));
}

#[test]
fn a_503_with_retry_after_is_not_retried_before_it() {
    let retry_after = Duration::from_secs(30 * 60);
    let busy = Reply {
        headers: vec![("retry-after".to_owned(), retry_after.as_secs().to_string())],
        ..Reply::status(503)
    };
    let target = HttpTarget::start(Script::per_event([busy]));
    let scratch = Scratch::new("horizon-retry-after");
    let dev = DevServer::start(&scratch, 1, &options(Some(target.url())));
    let webhook = Webhook::new(Kind::Stripe, &unique_id("evt_retry_after"));

    dev.post_accepted(&webhook);
    dev.wait_for_events(
        scaled(retry_after) + WAIT,
        "the event delivered after its Retry-After",
        |events| {
            delivery_status(events, &webhook.event_id, "default") == Some(DeliveryStatus::Delivered)
        },
    );

    // Without Retry-After, SNS's second attempt is immediate.
    let received = target.received_for(&webhook.event_id);
    assert_eq!(received.len(), 2);
    assert!(
        since_first(&received, 1) >= scaled(retry_after),
        "retried {:?} after a Retry-After of {:?} (scaled)",
        since_first(&received, 1),
        scaled(retry_after)
    );
}

#[test]
fn a_target_down_past_the_horizon_is_dead_lettered_and_replay_delivers_it() {
    let schedule = schedule(2);
    let listed = schedule.attempts();
    let tier2 = listed.iter().filter(|a| a.tier == Tier::Horizon).count();
    assert!(tier2 > 0, "a two-hour horizon leaves room for tier 2");
    let target = HttpTarget::start(Script::always(503));
    let scratch = Scratch::new("horizon-past");
    scratch.write_config(&format!(
        "[destinations.brief]\nurl = \"{}\"\nhorizon_hours = 2\n",
        target.url()
    ));
    let dev = DevServer::start(&scratch, 1, &options(None));
    let webhook = Webhook::new(Kind::Stripe, &unique_id("evt_past_horizon"));

    dev.post_accepted(&webhook);
    let events = dev.wait_for_events(
        scaled(2 * HOUR) + WAIT,
        "the delivery dead-lettered at the horizon",
        |events| {
            delivery_status(events, &webhook.event_id, "brief")
                == Some(DeliveryStatus::DeadLettered)
        },
    );

    let received = target.received_for(&webhook.event_id);
    assert_eq!(
        received.len(),
        listed.len(),
        "both tiers, up to the horizon"
    );
    assert!(since_first(&received, received.len() - 1) >= scaled(HOUR));
    let event = find_event(&events, &webhook.event_id).expect("listed");
    let attempts = &event.delivery_to("brief").expect("brief").attempts;
    assert_eq!(attempts.len(), listed.len(), "{attempts:?}");

    target.set_script(Script::always(200));
    let replay = scratch
        .hookbridge()
        .arg("replay")
        .arg("--data-dir")
        .arg(scratch.data_dir())
        .args(["--destination", "brief", "--id", &webhook.event_id])
        .output()
        .expect("run hookbridge replay");
    let out = String::from_utf8_lossy(&replay.stdout);
    assert!(
        replay.status.success(),
        "{out}{}",
        String::from_utf8_lossy(&replay.stderr)
    );
    assert!(
        out.contains(&format!("replayed {} to brief", webhook.event_id)),
        "{out}"
    );
    dev.wait_for_events(WAIT, "the replay delivered", |events| {
        delivery_status(events, &webhook.event_id, "brief") == Some(DeliveryStatus::Delivered)
    });
    assert_eq!(target.successes_by_id().get(&webhook.event_id), Some(&1));
}
