//! When a delivery is attempted: a failed one again by the phased
//! [`DeliveryPolicy`] schedule, compressed by a time scale; and no more
//! often than its destination's `rate_per_second` ([`Pace`]). Pure, so the
//! timing is tested without waiting.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime};

use hookbridge_core::delivery_policy::Attempt;

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

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Attempt `number` is due at `at`.
    Retry { number: u32, at: SystemTime },
    /// The schedule is spent: the delivery is dead-lettered.
    DeadLetter,
}

/// The step after attempt `failed` (1-based) of `schedule` failed, for a
/// schedule whose first attempt happened at `first_attempt_at`. Attempt `k`
/// is due `schedule[k-1].elapsed / scale` after the first one, measured from
/// the first attempt rather than the last so that slow attempts do not
/// stretch the whole schedule (SNS behaves the same way).
pub fn after_failure(
    schedule: &[Attempt],
    failed: u32,
    scale: TimeScale,
    first_attempt_at: SystemTime,
) -> NextStep {
    match schedule.get(failed as usize) {
        Some(next) => NextStep::Retry {
            number: next.number,
            at: first_attempt_at + scale.compress(next.elapsed),
        },
        None => NextStep::DeadLetter,
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
    use std::time::UNIX_EPOCH;

    use hookbridge_core::delivery_policy::DeliveryPolicy;

    use super::*;

    fn start() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000)
    }

    #[test]
    fn real_time_follows_the_default_policy_phases() {
        let schedule = DeliveryPolicy::default().schedule();
        let due = |failed| match after_failure(&schedule, failed, TimeScale::REAL_TIME, start()) {
            NextStep::Retry { number, at } => (number, at.duration_since(start()).unwrap()),
            NextStep::DeadLetter => panic!("attempt {failed} should be retried"),
        };
        // 1 immediate retry, then 2 pre-backoff retries 120 s apart.
        assert_eq!(due(1), (2, Duration::ZERO));
        assert_eq!(due(2), (3, Duration::from_secs(120)));
        assert_eq!(due(3), (4, Duration::from_secs(240)));
        // The last attempt is the 12th, 600 s after the 11th.
        let (number, eleventh) = due(10);
        assert_eq!(number, 11);
        assert_eq!(due(11), (12, eleventh + Duration::from_secs(600)));
    }

    #[test]
    fn the_last_failed_attempt_dead_letters() {
        let schedule = DeliveryPolicy::default().schedule();
        assert_eq!(schedule.len(), 12);
        assert_eq!(
            after_failure(&schedule, 12, TimeScale::REAL_TIME, start()),
            NextStep::DeadLetter
        );
        assert_eq!(
            after_failure(&schedule, 40, TimeScale::REAL_TIME, start()),
            NextStep::DeadLetter
        );
    }

    #[test]
    fn a_time_scale_divides_every_wait() {
        let schedule = DeliveryPolicy::default().schedule();
        let scale = TimeScale::new(1000.0).unwrap();
        for failed in 1..12u32 {
            let expected = start() + schedule[failed as usize].elapsed / 1000;
            match after_failure(&schedule, failed, scale, start()) {
                NextStep::Retry { number, at } => {
                    assert_eq!(number, failed + 1);
                    let drift = at.duration_since(expected).unwrap_or_else(|e| e.duration());
                    assert!(drift < Duration::from_micros(1), "attempt {number}");
                }
                NextStep::DeadLetter => panic!("attempt {failed} should be retried"),
            }
        }
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
        let schedule = DeliveryPolicy::default().schedule();
        assert!(matches!(
            after_failure(&schedule, 3, tiny, start()),
            NextStep::Retry { .. }
        ));
    }
}
