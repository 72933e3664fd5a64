use std::time::UNIX_EPOCH;

use proptest::prelude::*;

use super::*;
use crate::delivery_policy::tests::any_backoff_function;
use crate::delivery_policy::{HealthyRetryPolicy, MAX_POLICY_SECONDS, MAX_RETRIES};

const HOUR: Duration = Duration::from_secs(3_600);

fn received() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

fn default_schedule() -> DeliverySchedule {
    DeliverySchedule::new(DeliveryPolicy::default(), Horizon::default())
}

fn schedule_with_hours(hours: u32) -> DeliverySchedule {
    DeliverySchedule::new(
        DeliveryPolicy::default(),
        Horizon::from_hours(hours).unwrap(),
    )
}

fn server_error() -> Failure {
    Failure::answered(500, None, received())
}

#[test]
fn horizon_accepts_one_to_a_hundred_and_sixty_eight_hours() {
    assert_eq!(Horizon::default().hours(), 72);
    assert_eq!(Horizon::from_hours(1).unwrap().duration(), HOUR);
    assert_eq!(Horizon::from_hours(168).unwrap().duration(), 168 * HOUR);
    assert_eq!(Horizon::from_hours(0), Err(HorizonOutOfRange(0)));
    assert_eq!(Horizon::from_hours(169), Err(HorizonOutOfRange(169)));
}

#[test]
fn tier2_delays_double_from_fifteen_minutes_up_to_six_hours() {
    let minutes: Vec<u64> = (1..=8)
        .map(|attempt| default_schedule().tier2_delay(attempt).as_secs() / 60)
        .collect();
    assert_eq!(minutes, [15, 30, 60, 120, 240, 360, 360, 360]);
    assert_eq!(default_schedule().tier2_delay(0), TIER2_FIRST_DELAY);
    assert_eq!(default_schedule().tier2_delay(u32::MAX), TIER2_MAX_DELAY);
}

#[test]
fn tier2_delays_fit_an_sqs_visibility_timeout() {
    let sqs_max_visibility = 12 * HOUR;
    assert!((1..100).all(|n| default_schedule().tier2_delay(n) <= sqs_max_visibility));
}

#[test]
fn the_default_schedule_is_sns_then_tier2_for_three_days() {
    let attempts = default_schedule().attempts();
    let tier1: Vec<_> = attempts.iter().filter(|a| a.tier == Tier::Sns).collect();
    assert_eq!(tier1.len(), 12);
    assert!(attempts[..12].iter().all(|a| a.tier == Tier::Sns));
    let tier1_end = default_schedule().tier1_duration();
    assert_eq!(attempts[11].elapsed, tier1_end);
    assert_eq!(attempts[12].tier, Tier::Horizon);
    assert_eq!(attempts[12].elapsed, tier1_end + TIER2_FIRST_DELAY);
    // 5 growing steps reach 8 h 45 min after SNS's hour; then every 6 h;
    // the last on the horizon itself, 3 h 25 min after the one before.
    assert_eq!(attempts.len(), 12 + 5 + 10 + 1);
    let [.., before_last, last] = attempts.as_slice() else {
        unreachable!()
    };
    assert_eq!(last.elapsed, 72 * HOUR, "the horizon is used to its end");
    assert_eq!(before_last.delay, TIER2_MAX_DELAY);
    assert!(last.delay < TIER2_MAX_DELAY, "{last:?}");
    for (index, attempt) in attempts.iter().enumerate() {
        assert_eq!(attempt.number as usize, index + 1);
    }
}

#[test]
fn a_one_hour_horizon_leaves_no_room_for_tier2() {
    let attempts = schedule_with_hours(1).attempts();
    assert_eq!(attempts.len(), 12);
    assert!(attempts.iter().all(|a| a.tier == Tier::Sns));
}

#[test]
fn gone_is_final_at_once() {
    let gone = Failure::answered(410, Some("60"), received());
    for attempt in [1, 12, 13, 20] {
        assert_eq!(
            default_schedule().after_failure(&gone, received(), received(), attempt),
            NextStep::DeadLetter(DeadLetterReason::Gone)
        );
    }
}

#[test]
fn a_failure_is_retried_after_the_next_attempts_delay() {
    let schedule = default_schedule();
    let attempts = schedule.attempts();
    for failed in [1, 2, 3, 11, 12, 13, 16, 20] {
        let now = received() + attempts[failed as usize - 1].elapsed;
        let next = attempts[failed as usize];
        assert_eq!(
            schedule.after_failure(&server_error(), received(), now, failed),
            NextStep::RetryAt(now + next.delay),
            "after attempt {failed}"
        );
    }
}

#[test]
fn an_unanswered_attempt_is_retried_like_an_error() {
    assert_eq!(
        default_schedule().after_failure(&Failure::unanswered(), received(), received(), 2),
        NextStep::RetryAt(received() + Duration::from_secs(120))
    );
}

#[test]
fn the_last_attempt_before_the_horizon_dead_letters() {
    let schedule = default_schedule();
    let attempts = schedule.attempts();
    let last = attempts.last().unwrap();
    assert_eq!(
        schedule.after_failure(
            &server_error(),
            received(),
            received() + last.elapsed,
            last.number
        ),
        NextStep::DeadLetter(DeadLetterReason::HorizonReached)
    );
}

#[test]
fn a_late_attempt_is_retried_on_the_horizon_unless_it_is_too_near() {
    let deadline = received() + 72 * HOUR;
    let late = deadline - TIER2_FIRST_DELAY;
    assert_eq!(
        default_schedule().after_failure(&server_error(), received(), late, 20),
        NextStep::RetryAt(deadline)
    );
    let too_late = deadline - Duration::from_secs(60);
    assert_eq!(
        default_schedule().after_failure(&server_error(), received(), too_late, 20),
        NextStep::DeadLetter(DeadLetterReason::HorizonReached)
    );
}

#[test]
fn retry_after_postpones_a_503_and_a_429() {
    for status in [429, 503] {
        let failure = Failure::answered(status, Some("3600"), received());
        assert_eq!(
            default_schedule().after_failure(&failure, received(), received(), 1),
            NextStep::RetryAt(received() + HOUR),
            "{status}"
        );
    }
}

#[test]
fn retry_after_never_brings_an_attempt_forward() {
    let failure = Failure::answered(503, Some("5"), received());
    assert_eq!(
        default_schedule().after_failure(&failure, received(), received(), 2),
        NextStep::RetryAt(received() + Duration::from_secs(120))
    );
}

#[test]
fn retry_after_counts_only_on_429_and_503() {
    let failure = Failure::answered(500, Some("3600"), received());
    assert_eq!(
        default_schedule().after_failure(&failure, received(), received(), 1),
        NextStep::RetryAt(received())
    );
}

#[test]
fn retry_after_past_the_horizon_dead_letters_at_once() {
    let failure = Failure::answered(503, Some(&(73 * 3_600).to_string()), received());
    assert_eq!(
        default_schedule().after_failure(&failure, received(), received(), 1),
        NextStep::DeadLetter(DeadLetterReason::HorizonReached)
    );
}

#[test]
fn retry_after_as_an_http_date_is_honoured() {
    let failure = Failure::answered(429, Some("Fri, 15 Jan 2027 08:00:00 GMT"), received());
    let asked = httpdate::parse_http_date("Fri, 15 Jan 2027 08:00:00 GMT").unwrap();
    let received = asked - 2 * HOUR;
    assert_eq!(
        default_schedule().after_failure(&failure, received, received, 1),
        NextStep::RetryAt(asked)
    );
}

#[test]
fn a_destination_gives_its_horizon() {
    let destinations = crate::destinations::Destinations::from_json(
        r#"{"a": {"url": "https://a.example", "horizon_hours": 5}, "b": {"url": "https://b.example"}}"#,
    )
    .unwrap();
    let hours: Vec<u32> = destinations.iter().map(|d| d.horizon().hours()).collect();
    assert_eq!(hours, [5, DEFAULT_HORIZON_HOURS]);
}

prop_compose! {
    fn any_valid_policy()(
        min_delay_target in 1u32..=600,
        extra_delay in 0u32..=600,
        num_retries in 0u32..=30,
        num_no_delay_retries in 0u32..=5,
        num_min_delay_retries in 0u32..=5,
        num_max_delay_retries in 0u32..=5,
        backoff_function in any_backoff_function(),
    ) -> Option<DeliveryPolicy> {
        DeliveryPolicy::new(
            HealthyRetryPolicy {
                min_delay_target,
                max_delay_target: min_delay_target + extra_delay,
                num_retries,
                num_no_delay_retries,
                num_min_delay_retries,
                num_max_delay_retries,
                backoff_function,
            },
            None,
        )
        .ok()
    }
}

prop_compose! {
    fn any_schedule()(
        policy in any_valid_policy(),
        hours in 1u32..=MAX_HORIZON_HOURS,
    ) -> DeliverySchedule {
        DeliverySchedule::new(
            policy.unwrap_or_default(),
            Horizon::from_hours(hours).unwrap(),
        )
    }
}

fn any_failure() -> impl Strategy<Value = (Option<u16>, Option<u64>)> {
    (
        prop_oneof![Just(None), (400u16..600).prop_map(Some)],
        prop_oneof![Just(None), (0u64..200 * 3_600).prop_map(Some)],
    )
}

proptest! {
    #[test]
    fn tier2_delays_never_shrink_but_on_the_horizon(schedule in any_schedule()) {
        let horizon = schedule.horizon().duration();
        let delays: Vec<Duration> = schedule
            .attempts()
            .iter()
            .filter(|a| a.tier == Tier::Horizon && a.elapsed < horizon)
            .map(|a| a.delay)
            .collect();
        prop_assert!(delays.windows(2).all(|pair| pair[0] <= pair[1]), "{:?}", delays);
        prop_assert!(delays.iter().all(|delay| *delay <= TIER2_MAX_DELAY));
    }

    #[test]
    fn no_attempt_is_listed_past_the_horizon(schedule in any_schedule()) {
        let attempts = schedule.attempts();
        let horizon = schedule.horizon().duration();
        prop_assert!(attempts.iter().all(|a| a.elapsed <= horizon));
        let mut elapsed = Duration::ZERO;
        for (index, attempt) in attempts.iter().enumerate() {
            elapsed += attempt.delay;
            prop_assert_eq!(attempt.elapsed, elapsed);
            prop_assert_eq!(attempt.number as usize, index + 1);
        }
        // The schedule stops on the horizon, or too near it for another
        // attempt.
        let last = attempts.last().unwrap();
        prop_assert!(horizon - last.elapsed < TIER2_FIRST_DELAY, "{:?}", last);
    }

    #[test]
    fn tier1_is_the_sns_policy_within_every_sns_limit(schedule in any_schedule()) {
        let policy = schedule.tier1();
        let tier1: Vec<ScheduledAttempt> = schedule
            .attempts()
            .into_iter()
            .filter(|a| a.tier == Tier::Sns)
            .collect();
        prop_assert_eq!(tier1.len(), policy.schedule().len());
        prop_assert_eq!(tier1.len() as u32, schedule.tier1_attempts());
        prop_assert!(schedule.tier1_attempts() <= MAX_RETRIES + 1);
        prop_assert!(schedule.tier1_duration().as_secs() <= MAX_POLICY_SECONDS);
        for (ours, sns) in tier1.iter().zip(policy.schedule()) {
            prop_assert_eq!((ours.delay, ours.elapsed), (sns.delay, sns.elapsed));
        }
        prop_assert_eq!(DeliveryPolicy::new(*policy.healthy_retry_policy(), None), Ok(*policy));
    }

    #[test]
    fn after_failure_never_runs_earlier_than_asked_nor_past_the_horizon(
        schedule in any_schedule(),
        (status, retry_after) in any_failure(),
        since_received in 0u64..200 * 3_600,
        failed_attempt in 1u32..80,
    ) {
        let now = received() + Duration::from_secs(since_received);
        let failure = Failure {
            status,
            retry_after: retry_after.map(|seconds| now + Duration::from_secs(seconds)),
        };
        let deadline = received() + schedule.horizon().duration();
        match schedule.after_failure(&failure, received(), now, failed_attempt) {
            NextStep::RetryAt(due) => {
                prop_assert!(status != Some(410));
                prop_assert!(due >= now && due <= deadline);
                if let (Some(429 | 503), Some(asked)) = (status, failure.retry_after) {
                    prop_assert!(due >= asked);
                }
            }
            NextStep::DeadLetter(DeadLetterReason::Gone) => prop_assert_eq!(status, Some(410)),
            NextStep::DeadLetter(DeadLetterReason::HorizonReached) => {
                prop_assert!(status != Some(410));
            }
        }
    }

    #[test]
    fn after_failure_follows_the_listed_schedule(schedule in any_schedule()) {
        let attempts = schedule.attempts();
        for pair in attempts.windows(2) {
            let now = received() + pair[0].elapsed;
            prop_assert_eq!(
                schedule.after_failure(&Failure::unanswered(), received(), now, pair[0].number),
                NextStep::RetryAt(received() + pair[1].elapsed)
            );
        }
        let last = attempts.last().unwrap();
        prop_assert_eq!(
            schedule.after_failure(&Failure::unanswered(), received(), received() + last.elapsed, last.number),
            NextStep::DeadLetter(DeadLetterReason::HorizonReached)
        );
    }
}

mod tier2 {
    use super::*;

    /// When SNS gives up under the default policy.
    fn handed_over() -> SystemTime {
        received() + default_schedule().tier1_duration()
    }

    #[test]
    fn the_handover_waits_the_first_tier2_delay_without_an_attempt() {
        let schedule = default_schedule();
        assert_eq!(schedule.tier2_attempt_number(1), None);
        assert_eq!(
            schedule.tier2_step(&Tier2Receive::Handover, received(), handed_over(), 1),
            Tier2Step::Wait(TIER2_FIRST_DELAY)
        );
    }

    #[test]
    fn each_later_receive_is_the_next_attempt_across_both_tiers() {
        let schedule = default_schedule();
        assert_eq!(schedule.tier2_attempt_number(2), Some(13));
        assert_eq!(schedule.tier2_attempt_number(5), Some(16));
        let attempts = schedule.attempts();
        // Receive 2 made attempt 13; attempt 14 follows its listed delay.
        let now = received() + attempts[12].elapsed;
        assert_eq!(
            schedule.tier2_step(&Tier2Receive::Failed(server_error()), received(), now, 2),
            Tier2Step::Wait(attempts[13].delay)
        );
    }

    #[test]
    fn a_delivery_is_done() {
        assert_eq!(
            default_schedule().tier2_step(&Tier2Receive::Delivered, received(), handed_over(), 3),
            Tier2Step::Done
        );
    }

    #[test]
    fn gone_in_tier2_dead_letters_at_once() {
        let gone = Failure::answered(410, None, handed_over());
        assert_eq!(
            default_schedule().tier2_step(
                &Tier2Receive::Failed(gone),
                received(),
                handed_over(),
                2
            ),
            Tier2Step::DeadLetter(DeadLetterReason::Gone)
        );
    }

    #[test]
    fn the_horizon_dead_letters_and_a_one_hour_horizon_at_the_handover() {
        let late = received() + 72 * HOUR;
        assert_eq!(
            default_schedule().tier2_step(
                &Tier2Receive::Failed(server_error()),
                received(),
                late,
                20
            ),
            Tier2Step::DeadLetter(DeadLetterReason::HorizonReached)
        );
        assert_eq!(
            schedule_with_hours(1).tier2_step(
                &Tier2Receive::Handover,
                received(),
                handed_over(),
                1
            ),
            Tier2Step::DeadLetter(DeadLetterReason::HorizonReached)
        );
    }

    #[test]
    fn a_retry_after_beyond_twelve_hours_is_waited_in_steps_just_under_twelve() {
        let failure = Failure::answered(503, Some(&(30 * 3_600).to_string()), handed_over());
        assert_eq!(
            default_schedule().tier2_step(
                &Tier2Receive::Failed(failure),
                received(),
                handed_over(),
                2
            ),
            Tier2Step::Wait(MAX_QUEUE_WAIT)
        );
    }

    proptest! {
        #[test]
        fn a_tier2_wait_fits_sqs_and_never_outlasts_the_horizon(
            schedule in any_schedule(),
            (status, retry_after) in any_failure(),
            since_received in 0u64..200 * 3_600,
            receive_count in 1u32..120,
        ) {
            let now = received() + Duration::from_secs(since_received);
            let failure = Failure {
                status,
                retry_after: retry_after.map(|seconds| now + Duration::from_secs(seconds)),
            };
            let receive = if receive_count == 1 { Tier2Receive::Handover } else { Tier2Receive::Failed(failure) };
            let deadline = received() + schedule.horizon().duration();
            match schedule.tier2_step(&receive, received(), now, receive_count) {
                Tier2Step::Wait(wait) => {
                    prop_assert!(wait <= MAX_QUEUE_WAIT);
                    prop_assert!(now + wait <= deadline);
                }
                Tier2Step::DeadLetter(_) => {}
                Tier2Step::Done => prop_assert!(false, "a failure is never done"),
            }
        }
    }
}
