//! The SNS delivery policy of the deliver subscription, as one typed value.
//!
//! SNS retries an HTTP/S delivery in four phases: immediate retries, retries
//! at `minDelayTarget`, a backoff phase that climbs from `minDelayTarget` to
//! `maxDelayTarget`, and retries at `maxDelayTarget`. [`DeliveryPolicy`]
//! serialises to exactly the JSON SNS accepts as a subscription's
//! `DeliveryPolicy`, can only be built within SNS's limits, and yields the
//! schedule of attempts it implies.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The most retries SNS allows for an HTTP/S subscription.
pub const MAX_RETRIES: u32 = 100;
/// The largest delay target SNS accepts, in seconds.
pub const MAX_DELAY_TARGET_SECONDS: u32 = 3_600;
/// SNS gives up on a message this long after its first attempt, in seconds.
pub const MAX_POLICY_SECONDS: u64 = 3_600;

/// How the delay grows across the backoff phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackoffFunction {
    Linear,
    Arithmetic,
    Geometric,
    Exponential,
}

impl BackoffFunction {
    /// The share (0 to 1) of the way from the minimum to the maximum delay
    /// at backoff retry `retry` of `retries` (1-based).
    ///
    /// SNS does not publish its curves; these are approximations with the
    /// documented shapes, all ending at the maximum delay:
    /// linear in equal steps; arithmetic with steps growing 1, 2, 3, ...;
    /// geometric with delays in constant ratio; exponential with steps that
    /// double.
    fn progress(self, retry: u32, retries: u32, min: f64, max: f64) -> f64 {
        let (i, n) = (f64::from(retry), f64::from(retries));
        match self {
            Self::Linear => i / n,
            Self::Arithmetic => (i * (i + 1.0)) / (n * (n + 1.0)),
            Self::Geometric => {
                if max <= min {
                    1.0
                } else {
                    ((max / min).powf(i / n) - 1.0) / (max / min - 1.0)
                }
            }
            Self::Exponential => (i.exp2() - 1.0) / (n.exp2() - 1.0),
        }
    }
}

/// The retry phases, in SNS's own field names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthyRetryPolicy {
    /// Lowest delay between retries, in seconds (pre-backoff phase).
    pub min_delay_target: u32,
    /// Highest delay between retries, in seconds (post-backoff phase).
    pub max_delay_target: u32,
    /// Every retry of all four phases together (the first attempt excluded).
    pub num_retries: u32,
    /// Retries sent at once after a failure.
    pub num_no_delay_retries: u32,
    /// Retries at `min_delay_target` before the backoff phase.
    pub num_min_delay_retries: u32,
    /// Retries at `max_delay_target` after the backoff phase.
    pub num_max_delay_retries: u32,
    pub backoff_function: BackoffFunction,
}

impl HealthyRetryPolicy {
    /// Retries left for the backoff phase, if the other phases fit at all.
    fn backoff_retries(&self) -> Option<u32> {
        self.num_retries.checked_sub(
            self.num_no_delay_retries
                .checked_add(self.num_min_delay_retries)?
                .checked_add(self.num_max_delay_retries)?,
        )
    }
}

/// Caps the rate at which SNS delivers to the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ThrottlePolicy {
    pub max_receives_per_second: u32,
}

/// The `Content-Type` SNS sets on the notifications it POSTs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum HeaderContentType {
    /// SNS's default.
    #[serde(rename = "text/plain; charset=UTF-8")]
    TextPlain,
    #[serde(rename = "application/json")]
    ApplicationJson,
    #[serde(rename = "application/xml")]
    ApplicationXml,
}

/// What SNS's HTTP/S request looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestPolicy {
    pub header_content_type: HeaderContentType,
}

/// One way a policy breaks SNS's limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("numRetries is {0}; SNS allows 0 to {MAX_RETRIES}")]
    TooManyRetries(u32),
    #[error("minDelayTarget is {0} s; it must be at least 1 s")]
    MinDelayTooSmall(u32),
    #[error("maxDelayTarget is {0} s; SNS allows at most {MAX_DELAY_TARGET_SECONDS} s")]
    MaxDelayTooLarge(u32),
    #[error("minDelayTarget ({min} s) is greater than maxDelayTarget ({max} s)")]
    MinDelayAboveMaxDelay { min: u32, max: u32 },
    #[error(
        "numNoDelayRetries + numMinDelayRetries + numMaxDelayRetries is {phases}, \
         more than numRetries ({num_retries})"
    )]
    PhasesExceedRetries { phases: u64, num_retries: u32 },
    #[error("the retries span {0} s; SNS gives up after {MAX_POLICY_SECONDS} s")]
    ScheduleTooLong(u64),
    #[error("throttlePolicy.maxReceivesPerSecond must be at least 1")]
    ZeroReceivesPerSecond,
}

/// Every violation of a rejected policy, so one attempt shows them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidDeliveryPolicy(pub Vec<PolicyViolation>);

impl fmt::Display for InvalidDeliveryPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid SNS delivery policy: ")?;
        for (index, violation) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{violation}")?;
        }
        Ok(())
    }
}

impl std::error::Error for InvalidDeliveryPolicy {}

/// Which phase an attempt belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The first delivery, not a retry.
    Initial,
    NoDelay,
    PreBackoff,
    Backoff,
    PostBackoff,
}

/// One delivery attempt of a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first delivery, 2 for the first retry, ...
    pub number: u32,
    pub phase: Phase,
    /// Wait after the previous attempt failed.
    pub delay: Duration,
    /// Time from the first attempt to this one.
    pub elapsed: Duration,
}

/// A subscription delivery policy within SNS's limits. Build it with
/// [`DeliveryPolicy::new`] or deserialise it; both validate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "UncheckedPolicy")]
pub struct DeliveryPolicy {
    healthy_retry_policy: HealthyRetryPolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    throttle_policy: Option<ThrottlePolicy>,
    #[serde(skip_serializing_if = "Option::is_none")]
    request_policy: Option<RequestPolicy>,
}

/// The subscription `DeliveryPolicy` shape SNS documents ("Creating an
/// HTTP/S delivery policy"); any other field is refused.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UncheckedPolicy {
    healthy_retry_policy: HealthyRetryPolicy,
    throttle_policy: Option<ThrottlePolicy>,
    request_policy: Option<RequestPolicy>,
}

impl TryFrom<UncheckedPolicy> for DeliveryPolicy {
    type Error = InvalidDeliveryPolicy;

    fn try_from(unchecked: UncheckedPolicy) -> Result<Self, Self::Error> {
        let policy = Self::new(unchecked.healthy_retry_policy, unchecked.throttle_policy)?;
        Ok(match unchecked.request_policy {
            Some(request_policy) => policy.with_request_policy(request_policy),
            None => policy,
        })
    }
}

impl Default for DeliveryPolicy {
    /// The Money Button proxy's phases: 1 immediate retry, 2 retries at
    /// 120 s, 6 exponential backoff retries from 120 s to 600 s and 2 retries
    /// at 600 s: 12 attempts within the hour.
    fn default() -> Self {
        Self {
            healthy_retry_policy: HealthyRetryPolicy {
                min_delay_target: 120,
                max_delay_target: 600,
                num_retries: 11,
                num_no_delay_retries: 1,
                num_min_delay_retries: 2,
                num_max_delay_retries: 2,
                backoff_function: BackoffFunction::Exponential,
            },
            throttle_policy: None,
            request_policy: None,
        }
    }
}

impl DeliveryPolicy {
    /// Checks every SNS limit and reports all violations at once.
    pub fn new(
        healthy_retry_policy: HealthyRetryPolicy,
        throttle_policy: Option<ThrottlePolicy>,
    ) -> Result<Self, InvalidDeliveryPolicy> {
        let retry = &healthy_retry_policy;
        let mut violations = Vec::new();
        if retry.num_retries > MAX_RETRIES {
            violations.push(PolicyViolation::TooManyRetries(retry.num_retries));
        }
        if retry.min_delay_target < 1 {
            violations.push(PolicyViolation::MinDelayTooSmall(retry.min_delay_target));
        }
        if retry.max_delay_target > MAX_DELAY_TARGET_SECONDS {
            violations.push(PolicyViolation::MaxDelayTooLarge(retry.max_delay_target));
        }
        if retry.min_delay_target > retry.max_delay_target {
            violations.push(PolicyViolation::MinDelayAboveMaxDelay {
                min: retry.min_delay_target,
                max: retry.max_delay_target,
            });
        }
        if retry.backoff_retries().is_none() {
            violations.push(PolicyViolation::PhasesExceedRetries {
                phases: u64::from(retry.num_no_delay_retries)
                    + u64::from(retry.num_min_delay_retries)
                    + u64::from(retry.num_max_delay_retries),
                num_retries: retry.num_retries,
            });
        }
        if throttle_policy.is_some_and(|throttle| throttle.max_receives_per_second == 0) {
            violations.push(PolicyViolation::ZeroReceivesPerSecond);
        }
        // The length of the schedule only means something once its parts do.
        if violations.is_empty() {
            let total = schedule_of(retry)
                .last()
                .map_or(0, |attempt| attempt.elapsed.as_secs());
            if total > MAX_POLICY_SECONDS {
                violations.push(PolicyViolation::ScheduleTooLong(total));
            }
        }
        if violations.is_empty() {
            Ok(Self {
                healthy_retry_policy,
                throttle_policy,
                request_policy: None,
            })
        } else {
            Err(InvalidDeliveryPolicy(violations))
        }
    }

    pub fn healthy_retry_policy(&self) -> &HealthyRetryPolicy {
        &self.healthy_retry_policy
    }

    pub fn throttle_policy(&self) -> Option<&ThrottlePolicy> {
        self.throttle_policy.as_ref()
    }

    /// The same policy, with SNS's request settings (they set no limit).
    pub fn with_request_policy(self, request_policy: RequestPolicy) -> Self {
        Self {
            request_policy: Some(request_policy),
            ..self
        }
    }

    pub fn request_policy(&self) -> Option<&RequestPolicy> {
        self.request_policy.as_ref()
    }

    /// The JSON SNS accepts as a subscription's `DeliveryPolicy` attribute.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a delivery policy always serialises")
    }

    /// Every attempt SNS makes if each one fails, the first delivery
    /// included. Exact in the no-delay, pre- and post-backoff phases; in
    /// the backoff phase an approximation (see [`BackoffFunction`]), each
    /// delay rounded up to a whole second so the total errs long.
    pub fn schedule(&self) -> Vec<Attempt> {
        schedule_of(&self.healthy_retry_policy)
    }

    /// Time from the first attempt to the last.
    pub fn total_duration(&self) -> Duration {
        self.schedule()
            .last()
            .map_or(Duration::ZERO, |attempt| attempt.elapsed)
    }
}

/// The schedule of a policy whose phases fit in `num_retries` and whose
/// delays are ordered; the caller checks both.
fn schedule_of(retry: &HealthyRetryPolicy) -> Vec<Attempt> {
    let backoff_retries = retry.backoff_retries().unwrap_or(0);
    let (min, max) = (
        f64::from(retry.min_delay_target),
        f64::from(retry.max_delay_target),
    );
    let phases = [
        (Phase::NoDelay, retry.num_no_delay_retries),
        (Phase::PreBackoff, retry.num_min_delay_retries),
        (Phase::Backoff, backoff_retries),
        (Phase::PostBackoff, retry.num_max_delay_retries),
    ];
    let mut attempts = Vec::with_capacity(retry.num_retries as usize + 1);
    attempts.push(Attempt {
        number: 1,
        phase: Phase::Initial,
        delay: Duration::ZERO,
        elapsed: Duration::ZERO,
    });
    let mut elapsed = Duration::ZERO;
    for (phase, retries) in phases {
        for retry_in_phase in 1..=retries {
            let seconds = match phase {
                Phase::Initial | Phase::NoDelay => 0,
                Phase::PreBackoff => u64::from(retry.min_delay_target),
                Phase::PostBackoff => u64::from(retry.max_delay_target),
                Phase::Backoff => {
                    let progress =
                        retry
                            .backoff_function
                            .progress(retry_in_phase, backoff_retries, min, max);
                    // Bounded by max (<= u32::MAX), so the cast cannot truncate.
                    (min + (max - min) * progress).ceil().clamp(min, max) as u64
                }
            };
            let delay = Duration::from_secs(seconds);
            elapsed += delay;
            attempts.push(Attempt {
                number: attempts.len() as u32 + 1,
                phase,
                delay,
                elapsed,
            });
        }
    }
    attempts
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    fn retry_policy() -> HealthyRetryPolicy {
        *DeliveryPolicy::default().healthy_retry_policy()
    }

    fn violations(
        retry: HealthyRetryPolicy,
        throttle: Option<ThrottlePolicy>,
    ) -> Vec<PolicyViolation> {
        DeliveryPolicy::new(retry, throttle)
            .expect_err("the policy must be rejected")
            .0
    }

    #[test]
    fn default_serialises_to_the_sns_json() {
        let json: serde_json::Value =
            serde_json::from_str(&DeliveryPolicy::default().to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "healthyRetryPolicy": {
                    "minDelayTarget": 120,
                    "maxDelayTarget": 600,
                    "numRetries": 11,
                    "numNoDelayRetries": 1,
                    "numMinDelayRetries": 2,
                    "numMaxDelayRetries": 2,
                    "backoffFunction": "exponential"
                }
            })
        );
    }

    #[test]
    fn default_is_valid() {
        let default = DeliveryPolicy::default();
        assert_eq!(
            DeliveryPolicy::new(*default.healthy_retry_policy(), None),
            Ok(default)
        );
    }

    #[test]
    fn default_makes_twelve_attempts_within_the_hour() {
        let schedule = DeliveryPolicy::default().schedule();
        assert_eq!(schedule.len(), 12);
        let phases: Vec<Phase> = schedule.iter().map(|attempt| attempt.phase).collect();
        use Phase::*;
        assert_eq!(
            phases,
            [
                Initial,
                NoDelay,
                PreBackoff,
                PreBackoff,
                Backoff,
                Backoff,
                Backoff,
                Backoff,
                Backoff,
                Backoff,
                PostBackoff,
                PostBackoff
            ]
        );
        let total = DeliveryPolicy::default().total_duration();
        assert!(total <= Duration::from_secs(3_600), "{total:?}");
        assert!(
            total >= Duration::from_secs(240 + 6 * 120 + 1_200),
            "{total:?}"
        );
    }

    #[test]
    fn default_schedule_delays_follow_the_phases() {
        let schedule = DeliveryPolicy::default().schedule();
        let delays: Vec<u64> = schedule.iter().map(|a| a.delay.as_secs()).collect();
        assert_eq!(&delays[..4], [0, 0, 120, 120]);
        assert_eq!(&delays[10..], [600, 600]);
        let backoff = &delays[4..10];
        assert!(
            backoff.windows(2).all(|pair| pair[0] < pair[1]),
            "{backoff:?}"
        );
        assert!(backoff[0] > 120 && backoff[5] == 600, "{backoff:?}");
    }

    #[test]
    fn schedule_numbers_attempts_and_accumulates_elapsed_time() {
        let schedule = DeliveryPolicy::default().schedule();
        let mut elapsed = Duration::ZERO;
        for (index, attempt) in schedule.iter().enumerate() {
            elapsed += attempt.delay;
            assert_eq!(attempt.number as usize, index + 1);
            assert_eq!(attempt.elapsed, elapsed);
        }
    }

    #[test]
    fn every_backoff_function_climbs_from_min_to_max() {
        for function in [
            BackoffFunction::Linear,
            BackoffFunction::Arithmetic,
            BackoffFunction::Geometric,
            BackoffFunction::Exponential,
        ] {
            let retry = HealthyRetryPolicy {
                min_delay_target: 10,
                max_delay_target: 100,
                num_retries: 5,
                num_no_delay_retries: 0,
                num_min_delay_retries: 0,
                num_max_delay_retries: 0,
                backoff_function: function,
            };
            let delays: Vec<u64> = DeliveryPolicy::new(retry, None)
                .unwrap()
                .schedule()
                .iter()
                .skip(1)
                .map(|a| a.delay.as_secs())
                .collect();
            assert!(
                delays.windows(2).all(|p| p[0] < p[1]),
                "{function:?}: {delays:?}"
            );
            assert!(
                delays[0] > 10 && delays[4] == 100,
                "{function:?}: {delays:?}"
            );
        }
    }

    #[test]
    fn linear_backoff_takes_equal_steps() {
        let retry = HealthyRetryPolicy {
            min_delay_target: 20,
            max_delay_target: 100,
            num_retries: 4,
            num_no_delay_retries: 0,
            num_min_delay_retries: 0,
            num_max_delay_retries: 0,
            backoff_function: BackoffFunction::Linear,
        };
        let delays: Vec<u64> = DeliveryPolicy::new(retry, None)
            .unwrap()
            .schedule()
            .iter()
            .map(|a| a.delay.as_secs())
            .collect();
        assert_eq!(delays, [0, 40, 60, 80, 100]);
    }

    #[test]
    fn zero_retries_is_a_single_attempt() {
        let retry = HealthyRetryPolicy {
            num_retries: 0,
            num_no_delay_retries: 0,
            num_min_delay_retries: 0,
            num_max_delay_retries: 0,
            ..retry_policy()
        };
        let policy = DeliveryPolicy::new(retry, None).unwrap();
        assert_eq!(policy.schedule().len(), 1);
        assert_eq!(policy.total_duration(), Duration::ZERO);
    }

    #[test]
    fn rejects_more_than_a_hundred_retries() {
        let retry = HealthyRetryPolicy {
            num_retries: 101,
            num_no_delay_retries: 101,
            num_min_delay_retries: 0,
            num_max_delay_retries: 0,
            ..retry_policy()
        };
        assert_eq!(
            violations(retry, None),
            [PolicyViolation::TooManyRetries(101)]
        );
    }

    #[test]
    fn rejects_a_zero_min_delay() {
        let retry = HealthyRetryPolicy {
            min_delay_target: 0,
            ..retry_policy()
        };
        assert_eq!(
            violations(retry, None),
            [PolicyViolation::MinDelayTooSmall(0)]
        );
    }

    #[test]
    fn rejects_a_max_delay_above_an_hour() {
        let retry = HealthyRetryPolicy {
            max_delay_target: 3_601,
            num_retries: 0,
            num_no_delay_retries: 0,
            num_min_delay_retries: 0,
            num_max_delay_retries: 0,
            ..retry_policy()
        };
        assert_eq!(
            violations(retry, None),
            [PolicyViolation::MaxDelayTooLarge(3_601)]
        );
    }

    #[test]
    fn rejects_min_delay_above_max_delay() {
        let retry = HealthyRetryPolicy {
            min_delay_target: 700,
            ..retry_policy()
        };
        assert_eq!(
            violations(retry, None),
            [PolicyViolation::MinDelayAboveMaxDelay { min: 700, max: 600 }]
        );
    }

    #[test]
    fn rejects_phases_that_do_not_add_up() {
        let retry = HealthyRetryPolicy {
            num_retries: 4,
            ..retry_policy()
        };
        assert_eq!(
            violations(retry, None),
            [PolicyViolation::PhasesExceedRetries {
                phases: 5,
                num_retries: 4
            }]
        );
    }

    #[test]
    fn rejects_a_schedule_longer_than_an_hour() {
        let retry = HealthyRetryPolicy {
            num_max_delay_retries: 4,
            num_retries: 13,
            ..retry_policy()
        };
        let found = violations(retry, None);
        assert!(
            matches!(found[..], [PolicyViolation::ScheduleTooLong(seconds)] if seconds > 3_600),
            "{found:?}"
        );
    }

    #[test]
    fn rejects_a_zero_throttle() {
        let throttle = ThrottlePolicy {
            max_receives_per_second: 0,
        };
        assert_eq!(
            violations(retry_policy(), Some(throttle)),
            [PolicyViolation::ZeroReceivesPerSecond]
        );
    }

    #[test]
    fn reports_every_violation_at_once() {
        let retry = HealthyRetryPolicy {
            min_delay_target: 0,
            max_delay_target: 4_000,
            num_retries: 200,
            num_no_delay_retries: 300,
            ..retry_policy()
        };
        let error = DeliveryPolicy::new(
            retry,
            Some(ThrottlePolicy {
                max_receives_per_second: 0,
            }),
        )
        .unwrap_err();
        assert_eq!(error.0.len(), 5, "{error}");
        assert!(error.to_string().contains("numRetries is 200"), "{error}");
    }

    #[test]
    fn deserialising_validates() {
        let json = r#"{"healthyRetryPolicy":{"minDelayTarget":0,"maxDelayTarget":600,
            "numRetries":3,"numNoDelayRetries":0,"numMinDelayRetries":0,
            "numMaxDelayRetries":0,"backoffFunction":"linear"}}"#;
        let error = serde_json::from_str::<DeliveryPolicy>(json).unwrap_err();
        assert!(error.to_string().contains("minDelayTarget is 0"), "{error}");
    }

    #[test]
    fn deserialising_rejects_unknown_fields_and_functions() {
        let unknown_field = r#"{"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":1,
            "numRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,
            "numMaxDelayRetries":0,"backoffFunction":"linear","extra":1}}"#;
        assert!(serde_json::from_str::<DeliveryPolicy>(unknown_field).is_err());
        let unknown_function = unknown_field
            .replace(r#","extra":1"#, "")
            .replace("linear", "cubic");
        assert!(serde_json::from_str::<DeliveryPolicy>(&unknown_function).is_err());
    }

    #[test]
    fn json_round_trips_with_throttle() {
        let policy = DeliveryPolicy::new(
            retry_policy(),
            Some(ThrottlePolicy {
                max_receives_per_second: 10,
            }),
        )
        .unwrap();
        let json = policy.to_json();
        assert!(
            json.contains(r#""throttlePolicy":{"maxReceivesPerSecond":10}"#),
            "{json}"
        );
        assert_eq!(
            serde_json::from_str::<DeliveryPolicy>(&json).unwrap(),
            policy
        );
    }

    #[test]
    fn accepts_the_documented_sns_subscription_shape() {
        for (content_type, expected) in [
            ("text/plain; charset=UTF-8", HeaderContentType::TextPlain),
            ("application/json", HeaderContentType::ApplicationJson),
            ("application/xml", HeaderContentType::ApplicationXml),
        ] {
            let json = serde_json::json!({
                "healthyRetryPolicy": {
                    "minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3,
                    "numMaxDelayRetries": 0, "numNoDelayRetries": 0,
                    "numMinDelayRetries": 0, "backoffFunction": "linear"
                },
                "throttlePolicy": {"maxReceivesPerSecond": 10},
                "requestPolicy": {"headerContentType": content_type}
            });
            let policy: DeliveryPolicy = serde_json::from_value(json.clone()).unwrap();
            assert_eq!(
                policy.request_policy(),
                Some(&RequestPolicy {
                    header_content_type: expected
                })
            );
            let round_trip: serde_json::Value = serde_json::from_str(&policy.to_json()).unwrap();
            assert_eq!(round_trip, json);
        }
    }

    #[test]
    fn refuses_unknown_request_settings() {
        let base = r#"{"healthyRetryPolicy":{"minDelayTarget":1,"maxDelayTarget":1,
            "numRetries":0,"numNoDelayRetries":0,"numMinDelayRetries":0,
            "numMaxDelayRetries":0,"backoffFunction":"linear"},"#;
        for tail in [
            r#""requestPolicy":{"headerContentType":"text/csv"}}"#,
            r#""requestPolicy":{"headerContentType":"application/json","extra":1}}"#,
            r#""sicklyRetryPolicy":null}"#,
        ] {
            let json = format!("{base}{tail}");
            assert!(
                serde_json::from_str::<DeliveryPolicy>(&json).is_err(),
                "{json}"
            );
        }
    }

    #[test]
    fn a_request_policy_still_validates_the_retries() {
        let json = r#"{"healthyRetryPolicy":{"minDelayTarget":0,"maxDelayTarget":600,
            "numRetries":3,"numNoDelayRetries":0,"numMinDelayRetries":0,
            "numMaxDelayRetries":0,"backoffFunction":"linear"},
            "requestPolicy":{"headerContentType":"application/json"}}"#;
        let error = serde_json::from_str::<DeliveryPolicy>(json).unwrap_err();
        assert!(error.to_string().contains("minDelayTarget is 0"), "{error}");
    }

    /// Shared with the horizon's property tests.
    pub(crate) fn any_backoff_function() -> impl Strategy<Value = BackoffFunction> {
        prop_oneof![
            Just(BackoffFunction::Linear),
            Just(BackoffFunction::Arithmetic),
            Just(BackoffFunction::Geometric),
            Just(BackoffFunction::Exponential),
        ]
    }

    prop_compose! {
        fn any_retry_policy()(
            min_delay_target in 0u32..=4_000,
            max_delay_target in 0u32..=4_000,
            num_retries in 0u32..=120,
            num_no_delay_retries in 0u32..=40,
            num_min_delay_retries in 0u32..=40,
            num_max_delay_retries in 0u32..=40,
            backoff_function in any_backoff_function(),
        ) -> HealthyRetryPolicy {
            HealthyRetryPolicy {
                min_delay_target,
                max_delay_target,
                num_retries,
                num_no_delay_retries,
                num_min_delay_retries,
                num_max_delay_retries,
                backoff_function,
            }
        }
    }

    proptest! {
        #[test]
        fn any_valid_policy_stays_within_sns_limits(retry in any_retry_policy()) {
            if let Ok(policy) = DeliveryPolicy::new(retry, None) {
                let schedule = policy.schedule();
                prop_assert_eq!(schedule.len() as u32, retry.num_retries + 1);
                prop_assert!(retry.num_retries <= MAX_RETRIES);
                prop_assert!(policy.total_duration().as_secs() <= MAX_POLICY_SECONDS);
                let min = Duration::from_secs(retry.min_delay_target.into());
                let max = Duration::from_secs(retry.max_delay_target.into());
                for attempt in &schedule {
                    match attempt.phase {
                        Phase::Initial | Phase::NoDelay => prop_assert_eq!(attempt.delay, Duration::ZERO),
                        _ => prop_assert!(attempt.delay >= min && attempt.delay <= max),
                    }
                }
            }
        }

        #[test]
        fn backoff_delays_never_decrease(retry in any_retry_policy()) {
            if let Ok(policy) = DeliveryPolicy::new(retry, None) {
                let delays: Vec<Duration> = policy
                    .schedule()
                    .iter()
                    .filter(|attempt| attempt.phase != Phase::Initial)
                    .map(|attempt| attempt.delay)
                    .collect();
                prop_assert!(delays.windows(2).all(|pair| pair[0] <= pair[1]), "{:?}", delays);
            }
        }

        /// `new` refuses only what breaks an SNS limit: a refused policy has a
        /// part out of range, or its schedule runs past the hour.
        #[test]
        fn every_refused_policy_breaks_an_sns_limit(retry in any_retry_policy()) {
            if DeliveryPolicy::new(retry, None).is_err() {
                let phases = u64::from(retry.num_no_delay_retries)
                    + u64::from(retry.num_min_delay_retries)
                    + u64::from(retry.num_max_delay_retries);
                let part_out_of_range = retry.num_retries > MAX_RETRIES
                    || retry.min_delay_target < 1
                    || retry.max_delay_target > MAX_DELAY_TARGET_SECONDS
                    || retry.min_delay_target > retry.max_delay_target
                    || phases > u64::from(retry.num_retries);
                let too_long = || {
                    schedule_of(&retry)
                        .iter()
                        .map(|attempt| attempt.delay.as_secs())
                        .sum::<u64>()
                        > MAX_POLICY_SECONDS
                };
                prop_assert!(part_out_of_range || too_long(), "{:?}", retry);
            }
        }

        #[test]
        fn valid_policies_round_trip_through_json(retry in any_retry_policy()) {
            if let Ok(policy) = DeliveryPolicy::new(retry, None) {
                prop_assert_eq!(serde_json::from_str::<DeliveryPolicy>(&policy.to_json()).unwrap(), policy);
            }
        }
    }
}
