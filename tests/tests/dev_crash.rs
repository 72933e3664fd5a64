//! `hookbridge dev` killed with SIGKILL loses nothing it answered 202: after
//! a restart on the same data directory every accepted webhook is stored and
//! delivered, and deliveries that were waiting for a retry resume.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hookbridge_testkit::http_target::{HttpTarget, Script};
use hookbridge_tests::dev_process::http;
use hookbridge_tests::dev_process::webhooks::{Kind, Webhook, unique_id};
use hookbridge_tests::dev_process::{
    AttemptOutcome, DeliveryStatus, DevOptions, DevServer, Scratch, assert_delivered_as,
    find_event, is_delivered_and_stored,
};

const WAIT: Duration = Duration::from_secs(15);
/// Senders of the burst, and webhooks each sends at most: 400 in all, within
/// the 500 that one `GET /events` lists.
const SENDERS: usize = 4;
const PER_SENDER: usize = 100;
/// The kill comes once this many webhooks have been answered 202.
const ACCEPTED_BEFORE_KILL: usize = 60;

/// What one sender learnt: the webhooks answered 202, and how many requests
/// got no answer (cut off by the kill).
#[derive(Debug, Default)]
struct Outcome {
    accepted: Vec<Webhook>,
    unanswered: usize,
}

#[test]
fn sigkill_in_the_middle_of_a_burst_loses_no_accepted_webhook() {
    let target = HttpTarget::start(Script::per_event([500, 500]));
    let scratch = Scratch::new("crash-burst");
    let options = DevOptions::delivering_to(target.url());
    let mut dev = DevServer::start(&scratch, 1, &options);
    let address = dev.address();

    let accepted_count = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let outcome = Arc::new(Mutex::new(Outcome::default()));
    let senders: Vec<_> = (0..SENDERS)
        .map(|sender| {
            let (accepted_count, killed, outcome) = (
                Arc::clone(&accepted_count),
                Arc::clone(&killed),
                Arc::clone(&outcome),
            );
            std::thread::spawn(move || {
                for n in 0..PER_SENDER {
                    let kind = Kind::ALL[(sender + n) % Kind::ALL.len()];
                    let webhook = Webhook::new(kind, &unique_id(&format!("burst{sender}")));
                    let answer = http::send(
                        address,
                        "POST",
                        &webhook.path(),
                        &webhook.headers,
                        &webhook.body,
                    );
                    let mut outcome = outcome.lock().unwrap_or_else(PoisonError::into_inner);
                    match answer {
                        Ok(response) if response.status == 202 => {
                            outcome.accepted.push(webhook);
                            accepted_count.fetch_add(1, Ordering::SeqCst);
                        }
                        Ok(response) => panic!(
                            "{kind:?} webhook answered {}: {}",
                            response.status,
                            response.body_text()
                        ),
                        // The process is gone: the rest would be refused too.
                        Err(_) if killed.load(Ordering::SeqCst) => {
                            outcome.unanswered += 1;
                            return;
                        }
                        Err(error) => panic!("no answer before the kill: {error}"),
                    }
                }
            })
        })
        .collect();

    let deadline = Instant::now() + WAIT;
    while accepted_count.load(Ordering::SeqCst) < ACCEPTED_BEFORE_KILL {
        assert!(
            Instant::now() < deadline,
            "only {} webhooks accepted within {WAIT:?}; console:\n{}",
            accepted_count.load(Ordering::SeqCst),
            dev.console_tail()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    killed.store(true, Ordering::SeqCst);
    dev.kill();
    for sender in senders {
        sender.join().expect("sender thread");
    }
    let outcome = std::mem::take(&mut *outcome.lock().unwrap_or_else(PoisonError::into_inner));
    assert!(
        outcome.accepted.len() < SENDERS * PER_SENDER,
        "the kill came after the burst, not in its middle"
    );

    let restarted = DevServer::start(&scratch, 2, &options);
    let events = restarted.wait_for_events(
        WAIT,
        "every accepted webhook delivered and stored",
        |events| {
            outcome
                .accepted
                .iter()
                .all(|webhook| is_delivered_and_stored(events, &webhook.event_id))
        },
    );

    let listed: Vec<&str> = events.iter().map(|event| event.id.as_str()).collect();
    let distinct: HashSet<&str> = listed.iter().copied().collect();
    assert_eq!(listed.len(), distinct.len(), "each event is stored once");
    let successes = target.successes_by_id();
    for webhook in &outcome.accepted {
        assert!(
            successes.contains_key(&webhook.event_id),
            "{} was accepted but never delivered",
            webhook.event_id
        );
        let delivered = target
            .received_for(&webhook.event_id)
            .into_iter()
            .find(|received| received.succeeded())
            .expect("checked above");
        assert_delivered_as(&delivered, webhook, webhook.kind.event_type());
    }
    eprintln!(
        "accepted before the kill: {}, cut off: {}, listed after restart: {}",
        outcome.accepted.len(),
        outcome.unanswered,
        listed.len()
    );
}

#[test]
fn sigkill_with_retries_pending_resumes_them_after_restart() {
    let target = HttpTarget::start(Script::always(503));
    let scratch = Scratch::new("crash-pending");
    // Scale 100: attempt 3 is due 1.2 s after attempt 1, the kill comes between.
    let options = DevOptions {
        time_scale: 100.0,
        ..DevOptions::delivering_to(target.url())
    };
    let mut dev = DevServer::start(&scratch, 1, &options);
    let webhooks: Vec<Webhook> = Kind::ALL
        .into_iter()
        .map(|kind| Webhook::new(kind, &unique_id(&format!("pending_{}", kind.source()))))
        .collect();
    for webhook in &webhooks {
        dev.post_accepted(webhook);
    }
    // Attempts 1 and 2 (immediate) have failed; attempt 3 waits (or has
    // failed too, on a slow machine: then attempt 4 waits).
    dev.wait_for_events(WAIT, "two failed attempts of every event", |events| {
        webhooks.iter().all(|webhook| {
            find_event(events, &webhook.event_id).is_some_and(|event| {
                event.stored
                    && event.default_delivery().status == DeliveryStatus::Retrying
                    && event.default_delivery().attempts.len() >= 2
            })
        })
    });
    dev.kill();
    target.set_script(Script::always(200));

    let restarted = DevServer::start(&scratch, 2, &options);
    let events = restarted.wait_for_events(WAIT, "every event delivered", |events| {
        webhooks
            .iter()
            .all(|webhook| is_delivered_and_stored(events, &webhook.event_id))
    });

    let successes = target.successes_by_id();
    for webhook in &webhooks {
        assert_eq!(
            successes.get(&webhook.event_id),
            Some(&1),
            "{} delivered exactly once",
            webhook.event_id
        );
        let received = target.received_for(&webhook.event_id);
        let failures = received.len() - 1;
        let statuses: Vec<u16> = received.iter().filter_map(|r| r.status).collect();
        assert!(
            failures >= 2 && statuses[..failures].iter().all(|status| *status == 503),
            "{}: the failures before the kill, then the delivery: {statuses:?}",
            webhook.event_id
        );
        assert_delivered_as(&received[failures], webhook, webhook.kind.event_type());
        let event = find_event(&events, &webhook.event_id).expect("listed");
        let outcomes: Vec<AttemptOutcome> = event
            .default_delivery()
            .attempts
            .iter()
            .map(|a| a.outcome)
            .collect();
        // The store may miss an attempt the kill interrupted, never more.
        let (last, before) = outcomes.split_last().expect("attempts are listed");
        assert!(
            *last == AttemptOutcome::Delivered
                && before.len() >= 2
                && before
                    .iter()
                    .all(|outcome| *outcome == AttemptOutcome::Failed),
            "attempts before the kill are kept: {event:?}"
        );
    }
}
