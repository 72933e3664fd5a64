//! `Retry-After` values: parsing never panics; an accepted value is a
//! delta-seconds count exactly that far ahead or an HTTP-date that formats
//! back to the same instant; and the schedule never retries earlier than the
//! header asked nor past the horizon.
//!
//! Input: the header value, as bytes (non-UTF-8 is read lossily).
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use hookbridge_core::delivery_policy::DeliveryPolicy;
use hookbridge_core::horizon::{DeliverySchedule, Failure, Horizon, NextStep};
use hookbridge_core::retry_after;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let value = String::from_utf8_lossy(data);
    let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let Some(asked) = retry_after::parse(&value, now) else {
        return;
    };
    let trimmed = value.trim();
    if trimmed.bytes().all(|byte| byte.is_ascii_digit()) {
        let seconds: u64 = trimmed.parse().expect("digits that parsed");
        assert_eq!(asked, now + Duration::from_secs(seconds));
    } else {
        let formatted = httpdate::fmt_http_date(asked);
        assert_eq!(retry_after::parse(&formatted, now), Some(asked));
    }

    let schedule = DeliverySchedule::new(DeliveryPolicy::default(), Horizon::default());
    let failure = Failure {
        status: Some(503),
        retry_after: Some(asked),
    };
    let deadline = now + Horizon::default().duration();
    for failed_attempt in [1, 12, 13] {
        if let NextStep::RetryAt(due) = schedule.after_failure(&failure, now, now, failed_attempt) {
            assert!(due >= asked && due >= now && due <= deadline, "{due:?}");
        }
    }
});
