//! Bounded retries with full-jitter exponential backoff.
//!
//! The delay computation is pure: the randomness comes in as a number in
//! `[0, 1)`, so the schedule is tested without sleeping.

use std::time::Duration;

/// How often and how patiently an operation is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first one included; at least 1.
    pub max_attempts: u32,
    /// Ceiling of the delay before the first retry; doubles with each retry.
    pub base_delay: Duration,
    /// No delay ever exceeds this.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, delays drawn below 50 ms then 100 ms: a publish that keeps
    /// failing gives up within a few hundred milliseconds of waiting, far
    /// below API Gateway's 30 s integration timeout.
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(50),
            max_delay: Duration::from_secs(1),
        }
    }
}

impl RetryPolicy {
    /// The largest delay allowed before retry number `retry` (1 = the first
    /// retry): `min(max_delay, base_delay * 2^(retry - 1))`.
    pub fn delay_ceiling(&self, retry: u32) -> Duration {
        let doublings = retry.saturating_sub(1).min(31);
        self.base_delay
            .checked_mul(1 << doublings)
            .map_or(self.max_delay, |delay| delay.min(self.max_delay))
    }

    /// Full jitter: a delay drawn uniformly from `[0, delay_ceiling(retry))`,
    /// `unit` being the random draw in `[0, 1)`. Spreading retries over the
    /// whole window keeps many throttled containers from retrying in step.
    pub fn jittered_delay(&self, retry: u32, unit: f64) -> Duration {
        self.delay_ceiling(retry).mul_f64(unit.clamp(0.0, 1.0))
    }

    /// Whether an attempt numbered `attempt` (1-based) may be followed by another.
    pub fn allows_retry_after(&self, attempt: u32) -> bool {
        attempt < self.max_attempts.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    #[test]
    fn ceiling_doubles_from_the_base_delay() {
        let policy = RetryPolicy::default();
        let ceilings: Vec<Duration> = (1..=6).map(|n| policy.delay_ceiling(n)).collect();
        assert_eq!(
            ceilings,
            [MS(50), MS(100), MS(200), MS(400), MS(800), MS(1000)]
        );
    }

    #[test]
    fn ceiling_saturates_at_max_delay_for_huge_retry_numbers() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay_ceiling(u32::MAX), policy.max_delay);
    }

    #[test]
    fn jitter_spans_the_window_from_zero_to_the_ceiling() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.jittered_delay(2, 0.0), Duration::ZERO);
        assert_eq!(policy.jittered_delay(2, 0.5), MS(50));
        assert!(policy.jittered_delay(2, 0.999_999) < MS(100));
    }

    #[test]
    fn default_policy_gives_up_after_three_attempts() {
        let policy = RetryPolicy::default();
        assert!(policy.allows_retry_after(1));
        assert!(policy.allows_retry_after(2));
        assert!(!policy.allows_retry_after(3));
    }

    #[test]
    fn zero_attempts_means_a_single_attempt() {
        let policy = RetryPolicy {
            max_attempts: 0,
            ..RetryPolicy::default()
        };
        assert!(!policy.allows_retry_after(1));
    }

    #[test]
    fn seeded_draws_are_reproducible() {
        let policy = RetryPolicy::default();
        let draw = |seed| policy.jittered_delay(3, fastrand::Rng::with_seed(seed).f64());
        assert_eq!(draw(7), draw(7));
    }

    proptest! {
        #[test]
        fn delay_never_exceeds_ceiling_or_max_delay(
            retry in 1u32..64,
            unit in 0.0f64..1.0,
            base_ms in 1u64..10_000,
            max_ms in 1u64..60_000,
        ) {
            let policy = RetryPolicy { max_attempts: 3, base_delay: MS(base_ms), max_delay: MS(max_ms) };
            let delay = policy.jittered_delay(retry, unit);
            prop_assert!(delay <= policy.delay_ceiling(retry));
            prop_assert!(delay <= policy.max_delay);
        }

        #[test]
        fn ceiling_never_shrinks_as_retries_grow(retry in 1u32..64) {
            let policy = RetryPolicy::default();
            prop_assert!(policy.delay_ceiling(retry) <= policy.delay_ceiling(retry + 1));
        }
    }
}
