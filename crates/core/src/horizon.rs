//! The two-tier delivery schedule of one destination, up to its horizon.
//!
//! Tier 1 is the SNS [`DeliveryPolicy`] (SNS retries for at most an hour).
//! Tier 2 continues where SNS gives up, at intervals that start at
//! [`TIER2_FIRST_DELAY`], double, and stop growing at [`TIER2_MAX_DELAY`],
//! until the destination's horizon after the event was received. Nothing is
//! ever scheduled past `received_at + horizon`.
//!
//! Rules after a failed attempt ([`DeliverySchedule::after_failure`]):
//! - `410 Gone` is final: dead-lettered at once.
//! - A `429` or `503` with `Retry-After` postpones the next attempt to at
//!   least that time. A `Retry-After` past the horizon dead-letters at once
//!   ([`DeadLetterReason::HorizonReached`]): the target has said it will not
//!   take the event in time, and an attempt it asked us not to make would
//!   only add load.
//! - Otherwise the next attempt of the schedule follows its delay after the
//!   failure. When it would fall past the horizon, one last attempt is made
//!   at the horizon itself, so the horizon is used to its end; unless that is
//!   less than [`TIER2_FIRST_DELAY`] away, and then the delivery is
//!   dead-lettered.

use std::time::{Duration, SystemTime};

use crate::delivery_policy::DeliveryPolicy;
use crate::destinations::{DEFAULT_HORIZON_HOURS, Destination, MAX_HORIZON_HOURS};

/// Delay before the first tier-2 attempt, after SNS's last one.
pub const TIER2_FIRST_DELAY: Duration = Duration::from_secs(15 * 60);
/// Longest tier-2 delay: half SQS's 12 h maximum visibility timeout, so one
/// wait always fits in one message delay and a day still holds 4 attempts.
pub const TIER2_MAX_DELAY: Duration = Duration::from_secs(6 * 3_600);

/// The longest a tier-2 queue hides a message in one go: SQS allows 12 h
/// counted from the receive, and the postponement follows the attempt (at
/// most the function's 30 s), so 5 minutes are kept in hand. A longer wait
/// (a `Retry-After` beyond it) is served in steps of at most this.
pub const MAX_QUEUE_WAIT: Duration = Duration::from_secs(12 * 3_600 - 5 * 60);

const SECONDS_PER_HOUR: u64 = 3_600;

/// How long after an event was received its delivery may still be
/// attempted: 1 to [`MAX_HORIZON_HOURS`] hours, [`DEFAULT_HORIZON_HOURS`] by
/// default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Horizon(u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("horizon_hours: must be between 1 and {MAX_HORIZON_HOURS}, got {0}")]
pub struct HorizonOutOfRange(pub u32);

impl Horizon {
    pub fn from_hours(hours: u32) -> Result<Self, HorizonOutOfRange> {
        if (1..=MAX_HORIZON_HOURS).contains(&hours) {
            Ok(Self(hours))
        } else {
            Err(HorizonOutOfRange(hours))
        }
    }

    pub fn hours(self) -> u32 {
        self.0
    }

    pub fn duration(self) -> Duration {
        Duration::from_secs(u64::from(self.0) * SECONDS_PER_HOUR)
    }
}

impl Default for Horizon {
    fn default() -> Self {
        Self(DEFAULT_HORIZON_HOURS)
    }
}

impl Destination {
    /// The destination's horizon. `horizon_hours` is range-checked when the
    /// destinations are parsed; a value built by hand out of range is brought
    /// into it rather than trusted.
    pub fn horizon(&self) -> Horizon {
        Horizon(self.horizon_hours.clamp(1, MAX_HORIZON_HOURS))
    }
}

/// Who makes an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    /// SNS, by the subscription's delivery policy.
    Sns,
    /// hookbridge itself, after SNS gave up, until the horizon.
    Horizon,
}

/// One attempt of the full schedule, if every earlier attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScheduledAttempt {
    /// 1 for the first delivery, counted across both tiers.
    pub number: u32,
    pub tier: Tier,
    /// Wait after the previous attempt failed.
    pub delay: Duration,
    /// Time from the event's receipt to this attempt.
    pub elapsed: Duration,
}

/// Why a delivery ends without success.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeadLetterReason {
    /// The target answered `410 Gone`.
    Gone,
    /// No further attempt fits before the horizon.
    HorizonReached,
}

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Attempt again at this time (never past the horizon).
    RetryAt(SystemTime),
    DeadLetter(DeadLetterReason),
}

/// How an attempt failed, as far as the schedule cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    /// The target's HTTP status; `None` for a timeout or connection error.
    pub status: Option<u16>,
    /// The target's `Retry-After`, already read (see [`crate::retry_after`]).
    pub retry_after: Option<SystemTime>,
}

impl Failure {
    /// No answer: a timeout or a connection error.
    pub fn unanswered() -> Self {
        Self {
            status: None,
            retry_after: None,
        }
    }

    /// A non-2xx answer and its raw `Retry-After` header, read at `now`.
    pub fn answered(status: u16, retry_after: Option<&str>, now: SystemTime) -> Self {
        Self {
            status: Some(status),
            retry_after: retry_after.and_then(|value| crate::retry_after::parse(value, now)),
        }
    }

    /// `Retry-After` counts only on the statuses RFC 9110 gives it a meaning
    /// for a retry: 429 Too Many Requests and 503 Service Unavailable.
    fn postponed_until(&self) -> Option<SystemTime> {
        matches!(self.status, Some(429 | 503))
            .then_some(self.retry_after)
            .flatten()
    }
}

/// Both tiers of one destination's delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverySchedule {
    tier1: DeliveryPolicy,
    horizon: Horizon,
}

impl DeliverySchedule {
    pub fn new(tier1: DeliveryPolicy, horizon: Horizon) -> Self {
        Self { tier1, horizon }
    }

    pub fn tier1(&self) -> &DeliveryPolicy {
        &self.tier1
    }

    pub fn horizon(&self) -> Horizon {
        self.horizon
    }

    /// Attempts SNS makes (the first delivery included).
    pub fn tier1_attempts(&self) -> u32 {
        self.tier1.healthy_retry_policy().num_retries + 1
    }

    /// Time from the first attempt to SNS's last one.
    pub fn tier1_duration(&self) -> Duration {
        self.tier1.total_duration()
    }

    /// Delay before tier-2 attempt `tier2_attempt` (1-based; 0 reads as 1):
    /// 15 min, 30 min, 1 h, 2 h, 4 h, then 6 h each.
    pub fn tier2_delay(&self, tier2_attempt: u32) -> Duration {
        let doublings = tier2_attempt.saturating_sub(1);
        TIER2_FIRST_DELAY
            .checked_mul(1u32.checked_shl(doublings).unwrap_or(u32::MAX))
            .map_or(TIER2_MAX_DELAY, |delay| delay.min(TIER2_MAX_DELAY))
    }

    /// Every attempt of both tiers if each one fails, up to the horizon: the
    /// last lands on the horizon itself when the full delay would overshoot
    /// it and it is at least [`TIER2_FIRST_DELAY`] away.
    pub fn attempts(&self) -> Vec<ScheduledAttempt> {
        let horizon = self.horizon.duration();
        let mut attempts: Vec<ScheduledAttempt> = self
            .tier1
            .schedule()
            .into_iter()
            .take_while(|attempt| attempt.elapsed <= horizon)
            .map(|attempt| ScheduledAttempt {
                number: attempt.number,
                tier: Tier::Sns,
                delay: attempt.delay,
                elapsed: attempt.elapsed,
            })
            .collect();
        let mut elapsed = attempts.last().map_or(Duration::ZERO, |last| last.elapsed);
        for tier2_attempt in 1.. {
            let delay = self.tier2_delay(tier2_attempt);
            if elapsed + delay > horizon {
                break;
            }
            elapsed += delay;
            attempts.push(ScheduledAttempt {
                number: attempts.len() as u32 + 1,
                tier: Tier::Horizon,
                delay,
                elapsed,
            });
        }
        let left = horizon.saturating_sub(elapsed);
        if left >= TIER2_FIRST_DELAY {
            attempts.push(ScheduledAttempt {
                number: attempts.len() as u32 + 1,
                tier: Tier::Horizon,
                delay: left,
                elapsed: horizon,
            });
        }
        attempts
    }

    /// Delay before attempt `number` (across both tiers) after the one
    /// before it failed; the horizon is the caller's to apply.
    fn delay_before(&self, number: u32) -> Duration {
        match self.tier1.schedule().get(number.saturating_sub(1) as usize) {
            Some(attempt) => attempt.delay,
            None => self.tier2_delay(number - self.tier1_attempts()),
        }
    }

    /// The step after attempt `failed_attempt` (numbered as in
    /// [`Self::attempts`]: SNS's first delivery is 1, the first tier-2
    /// attempt is `tier1_attempts() + 1`) failed with `failure` at `now`,
    /// for an event received at `received_at`.
    ///
    /// The next delay counts from the failure, not from the first attempt,
    /// so a postponed attempt shifts the ones after it instead of leaving
    /// them overdue and sent in a burst.
    pub fn after_failure(
        &self,
        failure: &Failure,
        received_at: SystemTime,
        now: SystemTime,
        failed_attempt: u32,
    ) -> NextStep {
        if failure.status == Some(410) {
            return NextStep::DeadLetter(DeadLetterReason::Gone);
        }
        let Some(deadline) = received_at.checked_add(self.horizon.duration()) else {
            return NextStep::DeadLetter(DeadLetterReason::HorizonReached);
        };
        let scheduled = now.checked_add(self.delay_before(failed_attempt.saturating_add(1)));
        let due = match (scheduled, failure.postponed_until()) {
            (Some(scheduled), Some(asked)) => Some(scheduled.max(asked)),
            (scheduled, _) => scheduled,
        };
        let asked_past_horizon = failure
            .postponed_until()
            .is_some_and(|asked| asked > deadline);
        let left = deadline.duration_since(now).unwrap_or_default();
        match due {
            Some(due) if due <= deadline => NextStep::RetryAt(due),
            // The last attempt lands on the horizon, unless the target asked
            // for later or the horizon is too near for another attempt.
            _ if !asked_past_horizon && left >= TIER2_FIRST_DELAY => NextStep::RetryAt(deadline),
            _ => NextStep::DeadLetter(DeadLetterReason::HorizonReached),
        }
    }
}

/// What one receive of a delivery from the tier-2 queue came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier2Receive {
    /// The first receive: SNS has just given up and redriven the message.
    /// No attempt is made; the first tier-2 attempt waits its delay.
    Handover,
    /// The attempt made on this receive succeeded.
    Delivered,
    /// The attempt made on this receive failed.
    Failed(Failure),
}

/// What to do with the tier-2 queue's message after a receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tier2Step {
    /// Delivered: the message leaves the queue.
    Done,
    /// Hide the message this long (never more than [`MAX_QUEUE_WAIT`]); the
    /// next receive makes the next attempt.
    Wait(Duration),
    /// Move the message to the final dead-letter queue, then let it go.
    DeadLetter(DeadLetterReason),
}

impl DeliverySchedule {
    /// The attempt (numbered as in [`Self::attempts`]) that receive
    /// `receive_count` (the queue's `ApproximateReceiveCount`, 1-based) of
    /// the tier-2 queue makes; `None` for the first, the handover.
    pub fn tier2_attempt_number(&self, receive_count: u32) -> Option<u32> {
        (receive_count > 1).then(|| self.tier1_attempts() + receive_count - 1)
    }

    /// The step after receive `receive_count` of the tier-2 queue came to
    /// `receive` at `now`, for an event received at `received_at`.
    pub fn tier2_step(
        &self,
        receive: &Tier2Receive,
        received_at: SystemTime,
        now: SystemTime,
        receive_count: u32,
    ) -> Tier2Step {
        let next = match receive {
            Tier2Receive::Delivered => return Tier2Step::Done,
            // As if SNS's last attempt had just failed.
            Tier2Receive::Handover => self.after_failure(
                &Failure::unanswered(),
                received_at,
                now,
                self.tier1_attempts(),
            ),
            Tier2Receive::Failed(failure) => {
                let failed_attempt = self
                    .tier2_attempt_number(receive_count)
                    .unwrap_or_else(|| self.tier1_attempts() + 1);
                self.after_failure(failure, received_at, now, failed_attempt)
            }
        };
        match next {
            NextStep::RetryAt(due) => Tier2Step::Wait(
                due.duration_since(now)
                    .unwrap_or_default()
                    .min(MAX_QUEUE_WAIT),
            ),
            NextStep::DeadLetter(reason) => Tier2Step::DeadLetter(reason),
        }
    }
}

#[cfg(test)]
mod tests;
