//! When a delivery is attempted: a failed one again by the two-tier
//! [`DeliverySchedule`] (SNS's policy, then the horizon), compressed by a
//! time scale; and no more often than its destination's `rate_per_second`
//! ([`Pace`]). Pure, so the timing is tested without waiting.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hookbridge_core::horizon::{DeadLetterReason, DeliverySchedule, Failure, NextStep as CoreStep};
use hookbridge_core::retry_after;

/// Bound of a scaled wait, so that a tiny time scale cannot push a due time
/// past what a [`SystemTime`] can hold.
pub const LONGEST_WAIT: Duration = Duration::from_secs(100 * 365 * 86_400);

/// Every wait of the delivery schedule is divided by this factor (`1` is
/// real time, `60` turns the hour of the default policy into a minute).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeScale(f64);

impl TimeScale {
    pub const REAL_TIME: Self = Self(1.0);

    pub fn new(factor: f64) -> Result<Self, InvalidTimeScale> {
        if factor.is_finite() && factor > 0.0 {
            Ok(Self(factor))
        } else {
            Err(InvalidTimeScale(factor.to_string()))
        }
    }

    /// `wait` as it passes at this scale, at most [`LONGEST_WAIT`].
    pub fn compress(self, wait: Duration) -> Duration {
        Duration::try_from_secs_f64(wait.as_secs_f64() / self.0)
            .map_or(LONGEST_WAIT, |scaled| scaled.min(LONGEST_WAIT))
    }
}

impl Default for TimeScale {
    fn default() -> Self {
        Self::REAL_TIME
    }
}

impl fmt::Display for TimeScale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x", self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time scale must be a number greater than 0, got `{0}`")]
pub struct InvalidTimeScale(String);

impl FromStr for TimeScale {
    type Err = InvalidTimeScale;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let factor = text
            .trim()
            .trim_end_matches('x')
            .parse::<f64>()
            .map_err(|_| InvalidTimeScale(text.to_owned()))?;
        Self::new(factor)
    }
}

/// Where a delivery stands in its two-tier schedule when an attempt is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based number of the attempt, counted across both tiers.
    pub attempt: u32,
    /// How far into the schedule (unscaled) the attempt was due.
    pub elapsed: Duration,
}

impl Position {
    /// Where `attempt` stands when its position was not stored: where the
    /// listed schedule puts it (the first attempt at 0).
    pub fn listed(schedule: &DeliverySchedule, attempt: u32) -> Self {
        let elapsed = schedule
            .attempts()
            .get(attempt.saturating_sub(1) as usize)
            .map_or(Duration::ZERO, |listed| listed.elapsed);
        Self { attempt, elapsed }
    }
}

/// What the target answered to a failed attempt; no status for a timeout or
/// a connection error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailedAnswer<'a> {
    pub status: Option<u16>,
    pub retry_after: Option<&'a str>,
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Attempt `number` is due at `at`, `elapsed` (unscaled) into the
    /// schedule.
    Retry {
        number: u32,
        at: SystemTime,
        elapsed: Duration,
    },
    DeadLetter(DeadLetterReason),
}

/// The step after the attempt at `position` failed with `answer`, `latency`
/// after it started, at `now`.
///
/// The core's schedule runs on a clock of its own, unscaled, which starts
/// at the schedule's first attempt: an attempt is at the time it was due
/// plus its latency, so that a late worker or a slow target never eats
/// into the horizon at the scale's rate. Each wait the core asks for,
/// `Retry-After` included, is then divided by `scale` from `now`, so the
/// target always gets at least its scaled `Retry-After` after answering.
pub fn after_failure(
    schedule: &DeliverySchedule,
    scale: TimeScale,
    position: Position,
    answer: FailedAnswer<'_>,
    latency: Duration,
    now: SystemTime,
) -> NextStep {
    let schedule_now = UNIX_EPOCH + position.elapsed + latency;
    let asked_wait = answer
        .retry_after
        .and_then(|value| retry_after::parse(value, now))
        .map(|asked| asked.duration_since(now).unwrap_or(Duration::ZERO));
    let failure = Failure {
        status: answer.status,
        retry_after: asked_wait.and_then(|wait| schedule_now.checked_add(wait)),
    };
    match schedule.after_failure(&failure, UNIX_EPOCH, schedule_now, position.attempt) {
        CoreStep::RetryAt(due) => {
            let wait = due.duration_since(schedule_now).unwrap_or(Duration::ZERO);
            NextStep::Retry {
                number: position.attempt + 1,
                at: now + scale.compress(wait),
                elapsed: due.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO),
            }
        }
        CoreStep::DeadLetter(reason) => NextStep::DeadLetter(reason),
    }
}

/// Spaces the attempts of one destination by its `rate_per_second`: at most
/// one start per `1 s / rate`, like SNS's `throttlePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// Zero: unthrottled.
    interval: Duration,
    next_start: Option<Instant>,
}

impl Pace {
    pub fn new(rate_per_second: Option<u32>) -> Self {
        let interval = rate_per_second
            .filter(|rate| *rate > 0)
            .map_or(Duration::ZERO, |rate| Duration::from_secs(1) / rate);
        Self {
            interval,
            next_start: None,
        }
    }

    /// Whether an attempt may start at `now`; if so, it counts as started.
    pub fn start(&mut self, now: Instant) -> bool {
        if self.interval.is_zero() {
            return true;
        }
        if self.next_start.is_some_and(|next| now < next) {
            return false;
        }
        self.next_start = Some(now + self.interval);
        true
    }

    /// How long from `now` until the next attempt may start.
    pub fn wait(&self, now: Instant) -> Duration {
        self.next_start
            .map_or(Duration::ZERO, |next| next.saturating_duration_since(now))
    }
}

#[cfg(test)]
mod tests {
    use hookbridge_core::delivery_policy::DeliveryPolicy;
    use hookbridge_core::horizon::{Horizon, Tier};

    use super::*;

    const HOUR: Duration = Duration::from_secs(3_600);

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    fn schedule(hours: u32) -> DeliverySchedule {
        DeliverySchedule::new(
            DeliveryPolicy::default(),
            Horizon::from_hours(hours).unwrap(),
        )
    }

    const ERROR: FailedAnswer<'static> = FailedAnswer {
        status: Some(500),
        retry_after: None,
    };

    fn retry(step: NextStep) -> (u32, Duration, Duration) {
        match step {
            NextStep::Retry {
                number,
                at,
                elapsed,
            } => (number, at.duration_since(now()).unwrap(), elapsed),
            NextStep::DeadLetter(reason) => panic!("dead-lettered: {reason:?}"),
        }
    }

    #[test]
    fn real_time_follows_both_tiers_of_the_listed_schedule() {
        let schedule = schedule(72);
        let listed = schedule.attempts();
        for pair in listed.windows(2) {
            let position = Position::listed(&schedule, pair[0].number);
            let step = after_failure(
                &schedule,
                TimeScale::REAL_TIME,
                position,
                ERROR,
                Duration::ZERO,
                now(),
            );
            assert_eq!(
                retry(step),
                (pair[1].number, pair[1].delay, pair[1].elapsed),
                "after attempt {}",
                pair[0].number
            );
        }
        assert!(listed.iter().any(|attempt| attempt.tier == Tier::Horizon));
    }

    #[test]
    fn the_last_attempt_before_the_horizon_dead_letters() {
        let schedule = schedule(2);
        let last = *schedule.attempts().last().unwrap();
        let step = after_failure(
            &schedule,
            TimeScale::REAL_TIME,
            Position::listed(&schedule, last.number),
            ERROR,
            Duration::ZERO,
            now(),
        );
        assert_eq!(step, NextStep::DeadLetter(DeadLetterReason::HorizonReached));
    }

    #[test]
    fn gone_dead_letters_after_the_first_attempt() {
        let schedule = schedule(72);
        let gone = FailedAnswer {
            status: Some(410),
            retry_after: None,
        };
        let step = after_failure(
            &schedule,
            TimeScale::REAL_TIME,
            Position::listed(&schedule, 1),
            gone,
            Duration::ZERO,
            now(),
        );
        assert_eq!(step, NextStep::DeadLetter(DeadLetterReason::Gone));
    }

    #[test]
    fn a_time_scale_divides_every_wait_including_retry_after() {
        let schedule = schedule(72);
        let scale = TimeScale::new(3600.0).unwrap();
        let after_third = retry(after_failure(
            &schedule,
            scale,
            Position::listed(&schedule, 3),
            ERROR,
            Duration::ZERO,
            now(),
        ));
        assert_eq!(after_third.1, Duration::from_secs(120).div_f64(3600.0));
        let busy = FailedAnswer {
            status: Some(503),
            retry_after: Some("1800"),
        };
        let (number, wait, elapsed) = retry(after_failure(
            &schedule,
            scale,
            Position::listed(&schedule, 1),
            busy,
            Duration::ZERO,
            now(),
        ));
        assert_eq!((number, wait), (2, Duration::from_millis(500)));
        assert_eq!(elapsed, Duration::from_secs(1_800));
    }

    #[test]
    fn an_http_date_retry_after_waits_its_real_distance_scaled() {
        let schedule = schedule(72);
        let in_an_hour = httpdate::fmt_http_date(now() + HOUR);
        let busy = FailedAnswer {
            status: Some(429),
            retry_after: Some(&in_an_hour),
        };
        let (_, wait, elapsed) = retry(after_failure(
            &schedule,
            TimeScale::new(3600.0).unwrap(),
            Position::listed(&schedule, 1),
            busy,
            Duration::ZERO,
            now(),
        ));
        assert_eq!((wait, elapsed), (Duration::from_secs(1), HOUR));
    }

    #[test]
    fn latency_counts_unscaled_towards_the_horizon() {
        let schedule = schedule(1);
        let last_sns = Position::listed(&schedule, 11);
        let slow = Duration::from_secs(5);
        let (number, _, elapsed) = retry(after_failure(
            &schedule,
            TimeScale::new(3600.0).unwrap(),
            last_sns,
            ERROR,
            slow,
            now(),
        ));
        assert_eq!(number, 12);
        assert_eq!(elapsed, last_sns.elapsed + slow + Duration::from_secs(600));
    }

    #[test]
    fn time_scales_must_be_positive_numbers() {
        assert_eq!("60".parse::<TimeScale>().unwrap(), TimeScale(60.0));
        assert_eq!("60x".parse::<TimeScale>().unwrap(), TimeScale(60.0));
        assert_eq!("0.5".parse::<TimeScale>().unwrap(), TimeScale(0.5));
        for invalid in ["0", "-2", "NaN", "inf", "fast", ""] {
            assert!(invalid.parse::<TimeScale>().is_err(), "{invalid:?}");
        }
    }

    #[test]
    fn a_paced_destination_starts_one_attempt_per_interval() {
        let now = Instant::now();
        let mut pace = Pace::new(Some(4));
        assert!(pace.start(now));
        assert!(!pace.start(now), "a second start at once is refused");
        assert_eq!(pace.wait(now), Duration::from_millis(250));
        assert!(!pace.start(now + Duration::from_millis(249)));
        assert!(pace.start(now + Duration::from_millis(250)));
        assert_eq!(
            pace.wait(now + Duration::from_millis(300)),
            Duration::from_millis(200)
        );
    }

    #[test]
    fn an_unpaced_destination_never_waits() {
        let now = Instant::now();
        for rate in [None, Some(0)] {
            let mut pace = Pace::new(rate);
            assert!((0..100).all(|_| pace.start(now)), "{rate:?}");
            assert_eq!(pace.wait(now), Duration::ZERO);
        }
    }

    #[test]
    fn compressing_never_overflows() {
        let tiny = TimeScale::new(f64::MIN_POSITIVE).unwrap();
        assert_eq!(tiny.compress(Duration::from_secs(600)), LONGEST_WAIT);
        let schedule = schedule(72);
        assert!(matches!(
            after_failure(
                &schedule,
                tiny,
                Position::listed(&schedule, 3),
                ERROR,
                Duration::ZERO,
                now()
            ),
            NextStep::Retry { .. }
        ));
    }
}
