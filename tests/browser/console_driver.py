#!/usr/bin/env python3
"""Drives the console of a running `hookbridge dev` in Debian's headless
Chromium (through /usr/bin/chromedriver, never a downloaded browser or driver)
and checks what a person would: the page loads with no console error and no
request off the machine, lists the events, shows a new one without a reload,
shows an event's attempts, replays a dead letter, and shows the refusals with
their reason and no secret.

Run by tests/tests/dev_console_browser.rs, which starts the server and the
target and hands over, as JSON on the command line, what to look for:

  {"url": "http://127.0.0.1:PORT", "screenshot": "PATH",
   "listed_ids": [...], "dead_event_id": "...", "refusal_reason": "...",
   "secrets": [...], "new_webhook": {"path": "/webhooks/stripe",
   "headers": [[name, value], ...], "body": "...", "event_id": "..."}}

Prints one line per check and exits non-zero at the first that fails.
"""

import json
import sys
import tempfile
import time
import urllib.request
from urllib.parse import urlsplit

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT_SECONDS = 15


def browser(profile):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1100",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    # The driver's path is given: Selenium Manager never runs, so nothing is downloaded.
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def wait_until(what, condition):
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        try:
            result = condition()
        except Exception as error:  # a stale element while the page re-renders
            result, last = None, error
        else:
            last = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {WAIT_SECONDS} s: {what} (last error: {last})")
        time.sleep(0.1)


def check(what):
    print(f"ok: {what}", flush=True)


def post_webhook(url, webhook):
    request = urllib.request.Request(
        url + webhook["path"],
        data=webhook["body"].encode(),
        headers=dict(webhook["headers"]),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 202, response.status


def requested_urls(driver):
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message.get("method") == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def main():
    spec = json.loads(sys.argv[1])
    url = spec["url"]
    origin = urlsplit(url)
    with tempfile.TemporaryDirectory(prefix="hookbridge-chromium-") as profile:
        driver = browser(profile)
        try:
            run(driver, spec, url, origin)
        finally:
            driver.quit()


def run(driver, spec, url, origin):
    driver.get(url + "/")
    events = driver.find_element(By.ID, "events")
    for event_id in spec["listed_ids"]:
        wait_until(f"event {event_id} listed", lambda: event_id in events.text)
    check("the events are listed")

    refusals = driver.find_element(By.ID, "refusals")
    wait_until("the refusal's reason", lambda: spec["refusal_reason"] in refusals.text)
    check("the refusal shows its reason")

    # A marker that a reload would wipe.
    driver.execute_script("window.__notReloaded = true;")
    post_webhook(url, spec["new_webhook"])
    new_id = spec["new_webhook"]["event_id"]
    wait_until("the new event listed", lambda: new_id in events.text)
    assert driver.execute_script("return window.__notReloaded === true;"), "the page reloaded"
    check("a new event shows without a reload")

    unlabelled = driver.execute_script(
        "return [...document.querySelectorAll('input, select')]"
        ".filter(control => control.labels.length === 0).map(control => control.id);"
    )
    assert not unlabelled, f"controls without a label: {unlabelled}"
    check("every control has a label")

    # By keyboard: focus the event's button, Enter opens it, Escape closes it.
    dead_id = spec["dead_event_id"]
    show = f'button[aria-label="Show event {dead_id}"]'
    driver.execute_script("arguments[0].focus();", driver.find_element(By.CSS_SELECTOR, show))
    driver.switch_to.active_element.send_keys(Keys.ENTER)
    detail = driver.find_element(By.ID, "detail")
    wait_until("the detail opened by Enter", lambda: detail.is_displayed())
    driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    wait_until("the detail closed by Escape", lambda: not detail.is_displayed())
    check("an event opens with Enter and closes with Escape")

    driver.find_element(By.CSS_SELECTOR, show).click()
    wait_until("the event's detail", lambda: detail.is_displayed() and dead_id in detail.text)
    wait_until("the failed attempt", lambda: "HTTP 410" in detail.text)
    check("the event's attempts are shown")

    replay = wait_until(
        "the replay button",
        lambda: detail.find_element(By.XPATH, './/button[starts-with(normalize-space(), "Replay to")]'),
    )
    replay.click()
    wait_until("the replayed delivery delivered", lambda: "delivered: HTTP 200" in detail.text)
    check("a dead letter is replayed from the page")

    text = driver.find_element(By.TAG_NAME, "body").text
    for secret in spec["secrets"]:
        assert secret not in text, f"the page shows a secret or signature: {secret[:6]}…"
    check("no secret or signature on the page")

    driver.execute_script("window.scrollTo(0, 0);")
    driver.save_screenshot(spec["screenshot"])
    check(f"screenshot saved to {spec['screenshot']}")

    driver.set_window_size(400, 900)
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    )
    assert overflow <= 0, f"the page is {overflow} px wider than a 400 px window"
    check("readable in a 400 px window (tables scroll on their own)")

    errors = [entry for entry in driver.get_log("browser") if entry["level"] in ("SEVERE", "ERROR")]
    assert not errors, f"console errors: {errors}"
    check("no console error")

    # Every network request must go to the console's own origin; chrome://
    # (the browser's start page before the console loads), data: and about:
    # never leave the process.
    own = f"{origin.scheme}://{origin.netloc}/"
    network = [u for u in requested_urls(driver) if urlsplit(u).scheme in ("http", "https", "ws", "wss", "ftp")]
    assert any(u.startswith(own) for u in network), "no request to the console was seen"
    off_machine = [u for u in network if not u.startswith(own)]
    assert not off_machine, f"requests off the machine: {off_machine}"
    check("no request off the machine")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as failure:
        print(f"FAILED: {failure}", file=sys.stderr)
        sys.exit(1)
