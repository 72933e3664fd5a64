//! SNS delivery policies, from JSON and from arbitrary fields: an accepted
//! policy survives its own JSON form, and its schedule keeps every SNS
//! limit (numRetries + 1 attempts, within 3,600 s, each delay within
//! [0, maxDelayTarget], the phases in order); every reason given for a
//! refusal is true; JSON with a repeated key is refused.
//!
//! Input: JSON text, also read as raw field values.
#![no_main]

use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use hookbridge_core::delivery_policy::{
    BackoffFunction, DeliveryPolicy, HealthyRetryPolicy, MAX_DELAY_TARGET_SECONDS,
    MAX_POLICY_SECONDS, MAX_RETRIES, Phase, PolicyViolation, RequestPolicy, ThrottlePolicy,
};
use hookbridge_fuzz::has_repeated_keys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(policy) = serde_json::from_slice::<DeliveryPolicy>(data) {
        check_accepted(&policy);
    }
    // A repeated key has no agreed meaning: such a policy is refused.
    if has_repeated_keys(data) == Some(true) {
        assert!(serde_json::from_slice::<DeliveryPolicy>(data).is_err());
        return;
    }
    // The JSON form and `new` are one validation.
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        let healthy = value
            .get("healthyRetryPolicy")
            .and_then(|healthy| serde_json::from_value::<HealthyRetryPolicy>(healthy.clone()).ok());
        let throttle = value
            .get("throttlePolicy")
            .map(|throttle| serde_json::from_value::<Option<ThrottlePolicy>>(throttle.clone()));
        let only_known_keys = value.as_object().is_some_and(|object| {
            object
                .keys()
                .all(|key| key == "healthyRetryPolicy" || key == "throttlePolicy")
        });
        let request = value
            .get("requestPolicy")
            .map(|request| serde_json::from_value::<Option<RequestPolicy>>(request.clone()));
        // A well-formed requestPolicy (or null) changes nothing the validation checks.
        if let Some(Ok(request)) = request
            && let (Ok(unrequested), Ok(requested)) = (
                serde_json::from_value::<DeliveryPolicy>(without_request_policy(&value)),
                serde_json::from_slice::<DeliveryPolicy>(data),
            )
        {
            let expected = match request {
                Some(request) => unrequested.with_request_policy(request),
                None => unrequested,
            };
            assert_eq!(requested, expected);
        }
        let throttle = match throttle {
            None => Some(None),
            Some(Ok(throttle)) => Some(throttle),
            Some(Err(_)) => None,
        };
        if let (Some(healthy), Some(throttle), true) = (healthy, throttle, only_known_keys) {
            let from_json = serde_json::from_slice::<DeliveryPolicy>(data).ok();
            assert_eq!(DeliveryPolicy::new(healthy, throttle).ok(), from_json);
        }
    }

    let Ok((healthy, throttle)) = fields(&mut Unstructured::new(data)) else {
        return;
    };
    match DeliveryPolicy::new(healthy, throttle) {
        Ok(policy) => check_accepted(&policy),
        Err(invalid) => {
            assert!(!invalid.0.is_empty(), "refused without a reason");
            for violation in &invalid.0 {
                check_violation(violation, &healthy, throttle);
            }
        }
    }
});

fn without_request_policy(value: &serde_json::Value) -> serde_json::Value {
    let mut value = value.clone();
    if let Some(object) = value.as_object_mut() {
        object.remove("requestPolicy");
    }
    value
}

/// Field values, mostly near SNS's limits (where the rules bite), sometimes
/// anything a u32 holds.
fn fields(
    u: &mut Unstructured<'_>,
) -> arbitrary::Result<(HealthyRetryPolicy, Option<ThrottlePolicy>)> {
    fn value(u: &mut Unstructured<'_>, near: u32) -> arbitrary::Result<u32> {
        if u.ratio(1, 8)? {
            u32::arbitrary(u)
        } else {
            u.int_in_range(0..=near)
        }
    }
    let healthy = HealthyRetryPolicy {
        min_delay_target: value(u, 4_000)?,
        max_delay_target: value(u, 4_000)?,
        num_retries: value(u, 120)?,
        num_no_delay_retries: value(u, 120)?,
        num_min_delay_retries: value(u, 120)?,
        num_max_delay_retries: value(u, 120)?,
        backoff_function: *u.choose(&[
            BackoffFunction::Linear,
            BackoffFunction::Arithmetic,
            BackoffFunction::Geometric,
            BackoffFunction::Exponential,
        ])?,
    };
    let throttle = Option::<u32>::arbitrary(u)?.map(|max_receives_per_second| ThrottlePolicy {
        max_receives_per_second,
    });
    Ok((healthy, throttle))
}

fn check_accepted(policy: &DeliveryPolicy) {
    let json = policy.to_json();
    let reparsed: DeliveryPolicy = serde_json::from_str(&json).expect("its own JSON parses");
    assert_eq!(&reparsed, policy);

    let retry = policy.healthy_retry_policy();
    assert!(retry.num_retries <= MAX_RETRIES);
    assert!(retry.min_delay_target >= 1);
    assert!(retry.min_delay_target <= retry.max_delay_target);
    assert!(retry.max_delay_target <= MAX_DELAY_TARGET_SECONDS);
    let (min, max) = (
        Duration::from_secs(retry.min_delay_target.into()),
        Duration::from_secs(retry.max_delay_target.into()),
    );

    let schedule = policy.schedule();
    assert_eq!(schedule.len(), retry.num_retries as usize + 1);
    let mut elapsed = Duration::ZERO;
    let mut previous_phase = Phase::Initial;
    let mut previous_backoff_delay = Duration::ZERO;
    for (index, attempt) in schedule.iter().enumerate() {
        assert_eq!(attempt.number as usize, index + 1);
        assert!(
            attempt.delay <= max,
            "delay {:?} above maxDelayTarget",
            attempt.delay
        );
        elapsed += attempt.delay;
        assert_eq!(attempt.elapsed, elapsed);
        assert!(
            phase_rank(attempt.phase) >= phase_rank(previous_phase),
            "phases out of order"
        );
        previous_phase = attempt.phase;
        match attempt.phase {
            Phase::Initial => assert_eq!((index, attempt.delay), (0, Duration::ZERO)),
            Phase::NoDelay => assert_eq!(attempt.delay, Duration::ZERO),
            Phase::PreBackoff => assert_eq!(attempt.delay, min),
            Phase::PostBackoff => assert_eq!(attempt.delay, max),
            Phase::Backoff => {
                assert!((min..=max).contains(&attempt.delay));
                assert!(attempt.delay >= previous_backoff_delay, "backoff shrinks");
                previous_backoff_delay = attempt.delay;
            }
        }
    }
    let count = |phase| {
        schedule
            .iter()
            .filter(|attempt| attempt.phase == phase)
            .count()
    };
    assert_eq!(count(Phase::NoDelay), retry.num_no_delay_retries as usize);
    assert_eq!(
        count(Phase::PreBackoff),
        retry.num_min_delay_retries as usize
    );
    assert_eq!(
        count(Phase::PostBackoff),
        retry.num_max_delay_retries as usize
    );
    assert!(elapsed <= Duration::from_secs(MAX_POLICY_SECONDS));
    assert_eq!(policy.total_duration(), elapsed);
}

fn phase_rank(phase: Phase) -> u8 {
    match phase {
        Phase::Initial => 0,
        Phase::NoDelay => 1,
        Phase::PreBackoff => 2,
        Phase::Backoff => 3,
        Phase::PostBackoff => 4,
    }
}

fn check_violation(
    violation: &PolicyViolation,
    retry: &HealthyRetryPolicy,
    throttle: Option<ThrottlePolicy>,
) {
    let phases = u64::from(retry.num_no_delay_retries)
        + u64::from(retry.num_min_delay_retries)
        + u64::from(retry.num_max_delay_retries);
    let holds = match *violation {
        PolicyViolation::TooManyRetries(n) => n == retry.num_retries && n > MAX_RETRIES,
        PolicyViolation::MinDelayTooSmall(n) => n == retry.min_delay_target && n < 1,
        PolicyViolation::MaxDelayTooLarge(n) => {
            n == retry.max_delay_target && n > MAX_DELAY_TARGET_SECONDS
        }
        PolicyViolation::MinDelayAboveMaxDelay { min, max } => {
            (min, max) == (retry.min_delay_target, retry.max_delay_target) && min > max
        }
        PolicyViolation::PhasesExceedRetries {
            phases: p,
            num_retries,
        } => p == phases && num_retries == retry.num_retries && p > u64::from(num_retries),
        PolicyViolation::ScheduleTooLong(total) => {
            // Only reported once the parts are valid; the floor of any such
            // schedule: the fixed phases alone.
            let fixed = u64::from(retry.num_min_delay_retries) * u64::from(retry.min_delay_target)
                + u64::from(retry.num_max_delay_retries) * u64::from(retry.max_delay_target);
            total > MAX_POLICY_SECONDS && total >= fixed
        }
        PolicyViolation::ZeroReceivesPerSecond => {
            throttle.is_some_and(|throttle| throttle.max_receives_per_second == 0)
        }
    };
    assert!(
        holds,
        "untrue violation {violation:?} for {retry:?} / {throttle:?}"
    );
}
