//! The console page in a real browser: Debian's headless Chromium, driven
//! by tests/browser/console_driver.py (Selenium, pinned in
//! scripts/requirements-dev.txt; `scripts/test` installs both) against a
//! running `hookbridge dev`. The driver says what it checked; this test
//! sets the scene and hands it over.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use hookbridge_testkit::http_target::{HttpTarget, Script};
use hookbridge_tests::dev_process::webhooks::{
    Kind, STRIPE_SECRET, WRONG_SECRET, Webhook, unique_id,
};
use hookbridge_tests::dev_process::{DeliveryStatus, DevOptions, DevServer, Scratch, find_event};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .to_path_buf()
}

#[test]
fn the_console_shows_events_attempts_and_refusals_live_in_chromium() {
    // Each event's first attempt is answered 410 Gone: dead-lettered at once.
    let target = HttpTarget::start(Script::per_event([410]).then(200));
    let scratch = Scratch::new("console-browser");
    let dev = DevServer::start(&scratch, 1, &DevOptions::delivering_to(target.url()));
    let dead = Webhook::new(Kind::Stripe, &unique_id("evt_browser_dead"));
    let listed = Webhook::new(Kind::Github, &unique_id("gh_browser"));
    dev.post_accepted(&dead);
    dev.post_accepted(&listed);
    let forged = Webhook::signed_with(Kind::Stripe, &unique_id("evt_forged"), WRONG_SECRET);
    assert_eq!(dev.post(&forged).status, 401);
    dev.wait_for_events(WAIT, "the first event dead-lettered", |events| {
        find_event(events, &dead.event_id)
            .is_some_and(|event| event.default_delivery().status == DeliveryStatus::DeadLettered)
    });
    let new = Webhook::new(Kind::Stripe, &unique_id("evt_browser_new"));

    let root = workspace_root();
    let artifacts = root.join("target/test-artifacts");
    std::fs::create_dir_all(&artifacts).expect("target/test-artifacts can be made");
    let screenshot = artifacts.join("console.png");
    let secrets: Vec<String> = [STRIPE_SECRET, WRONG_SECRET]
        .into_iter()
        .chain(
            [&dead, &forged, &new]
                .iter()
                .filter_map(|webhook| webhook.header("stripe-signature")),
        )
        .map(str::to_owned)
        .collect();
    let spec = json!({
        "url": format!("http://{}", dev.address()),
        "screenshot": screenshot,
        "listed_ids": [dead.event_id, listed.event_id],
        "dead_event_id": dead.event_id,
        "refusal_reason": "no configured secret matches",
        "secrets": secrets,
        "new_webhook": {
            "path": new.path(),
            "headers": new.headers,
            "body": String::from_utf8(new.body.clone()).expect("a JSON body"),
            "event_id": new.event_id,
        },
    });
    let python = root.join(".venv/bin/python");
    let output = Command::new(&python)
        .arg(root.join("tests/browser/console_driver.py"))
        .arg(spec.to_string())
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "cannot run {} ({error}): run scripts/test, which installs Selenium and Chromium",
                python.display()
            )
        });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "the browser check failed:\n{said}\nconsole:\n{}",
        dev.console_tail()
    );
    assert!(said.contains("ok: no request off the machine"), "{said}");
    assert!(
        screenshot.exists(),
        "no screenshot at {}",
        screenshot.display()
    );
}
