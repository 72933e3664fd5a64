//! One delivery attempt, the same in both tiers: deliver (SNS's attempts)
//! and redeliver (the tier-2 queue's) make it with [`Outbound::attempt`],
//! read it with the destination's [`schedule_of`], and count and record it
//! with [`finish_attempt`]. The local pipeline, which records in its own
//! store, counts with [`measure_attempt`].

use std::time::SystemTime;

use hookbridge_core::delivery_policy::DeliveryPolicy;
use hookbridge_core::delivery_status::{Attempt, AttemptOutcome, DeliveryState};
use hookbridge_core::destinations::Destination;
use hookbridge_core::envelope::Envelope;
use hookbridge_core::horizon::{DeliverySchedule, Failure};
use hookbridge_core::metrics::{DeliveryOutcome, FailureClass, Measurement};
use hookbridge_core::ports::{
    Clock, DeliveryStatusStore, MetricsRecorder, PayloadStore, SecretStore, TargetAnswer,
    TargetError, WebhookTarget,
};

use crate::{Outbound, OutboundError};

/// How a request to the target ended.
#[derive(Debug)]
pub enum TargetOutcome {
    /// A 2xx answer.
    Delivered(TargetAnswer),
    /// Any other answer.
    Refused(TargetAnswer),
    /// No answer: a timeout or a connection error.
    Failed(TargetError),
}

/// A request made to the target: what the delivery status record keeps of
/// it, and how it ended.
#[derive(Debug)]
pub struct Attempted {
    pub attempt: Attempt,
    pub outcome: TargetOutcome,
}

impl Attempted {
    /// The failure as the schedule reads it, at `now`; `None` when delivered.
    pub fn failure(&self, now: SystemTime) -> Option<Failure> {
        match &self.outcome {
            TargetOutcome::Delivered(_) => None,
            TargetOutcome::Refused(answer) => Some(Failure::answered(
                answer.status,
                answer.retry_after.as_deref(),
                now,
            )),
            TargetOutcome::Failed(_) => Some(Failure::unanswered()),
        }
    }

    /// How the request failed, as the metrics class it; `None` when delivered.
    pub fn failure_class(&self) -> Option<FailureClass> {
        match &self.outcome {
            TargetOutcome::Delivered(_) => None,
            TargetOutcome::Refused(answer) => Some(FailureClass::of_status(answer.status)),
            TargetOutcome::Failed(error) => Some(FailureClass::of_error(error)),
        }
    }
}

impl<T: WebhookTarget, S: SecretStore, K: Clock, B: PayloadStore> Outbound<T, S, K, B> {
    /// Sends `envelope` ([`Outbound::send`]) and times the request. `Err`
    /// only when no request was made (secret, payload or envelope unusable):
    /// there is no attempt to record then.
    pub async fn attempt(
        &self,
        destination: &Destination,
        envelope: Envelope,
    ) -> Result<Attempted, OutboundError> {
        let started = self.clock.now();
        let sent = self.send(destination, envelope).await;
        let latency_ms = elapsed_ms(started, self.clock.now());
        let (outcome, response_excerpt, target) = match sent {
            Ok(answer) => (
                AttemptOutcome::Status(answer.status),
                answer.excerpt.clone(),
                TargetOutcome::Delivered(answer),
            ),
            Err(OutboundError::TargetStatus(answer)) => (
                AttemptOutcome::Status(answer.status),
                answer.excerpt.clone(),
                TargetOutcome::Refused(answer),
            ),
            Err(OutboundError::TargetFailed(error)) => (
                AttemptOutcome::Error(error.to_string()),
                None,
                TargetOutcome::Failed(error),
            ),
            Err(error) => return Err(error),
        };
        Ok(Attempted {
            attempt: Attempt {
                at: humantime::format_rfc3339_millis(started).to_string(),
                outcome,
                latency_ms,
                response_excerpt,
            },
            outcome: target,
        })
    }

    pub fn now(&self) -> SystemTime {
        self.clock.now()
    }
}

/// Both tiers of the destination's delivery. Tier 1 is the template's SNS
/// policy, which equals the default (tests/tests/template.rs holds them
/// equal).
pub fn schedule_of(destination: &Destination) -> DeliverySchedule {
    DeliverySchedule::new(DeliveryPolicy::default(), destination.horizon())
}

/// The envelope's `received_at`, from which the horizon counts.
pub fn received_at(envelope: &Envelope) -> Option<SystemTime> {
    humantime::parse_rfc3339_weak(&envelope.received_at).ok()
}

/// An attempt made, to count and record once the state it leaves the
/// delivery in is known.
pub struct FinishedAttempt<'a> {
    /// The envelope's event id and correlation id.
    pub ids: (&'a str, &'a str),
    pub attempt: Attempt,
    /// How it failed; `None` when delivered.
    pub failure: Option<FailureClass>,
}

impl<'a> FinishedAttempt<'a> {
    pub fn of(ids: (&'a str, &'a str), attempted: &Attempted) -> Self {
        Self {
            ids,
            attempt: attempted.attempt.clone(),
            failure: attempted.failure_class(),
        }
    }
}

/// Counts the request made to the destination and records it, with the
/// state the delivery is in after it. A failure to record is logged and
/// nothing else: what follows the attempt (the answer to
/// SNS, the tier-2 queue's message) must follow the target's answer, or a
/// delivered event would be retried (and delivered again) because its
/// status could not be written.
pub async fn finish_attempt<R: DeliveryStatusStore>(
    metrics: Option<&dyn MetricsRecorder>,
    statuses: &R,
    destination: &Destination,
    finished: FinishedAttempt<'_>,
    state: DeliveryState,
) {
    let FinishedAttempt {
        ids: (event_id, correlation_id),
        attempt,
        failure,
    } = finished;
    measure_attempt(metrics, destination, failure, attempt.latency_ms, state);
    if let Err(error) = statuses
        .record_attempt(event_id, &destination.name, attempt, state)
        .await
    {
        tracing::error!(
            event_id,
            correlation_id,
            destination = %destination.name,
            state = state.as_str(),
            %error,
            "the delivery status could not be recorded"
        );
    }
}

/// Counts a request made to the destination, with the state the delivery
/// is in after it. Payload and secret problems make no request, and are no
/// attempt (their 503 is logged).
pub fn measure_attempt(
    metrics: Option<&dyn MetricsRecorder>,
    destination: &Destination,
    failure: Option<FailureClass>,
    latency_ms: u64,
    state: DeliveryState,
) {
    let Some(metrics) = metrics else {
        return;
    };
    let outcome = match failure {
        None => DeliveryOutcome::Delivered,
        Some(class) if state == DeliveryState::DeadLettered => DeliveryOutcome::DeadLettered(class),
        Some(class) => DeliveryOutcome::Failed(class),
    };
    metrics.record(&Measurement::Delivery {
        destination: destination.name.as_str(),
        outcome,
        latency_ms,
    });
}

fn elapsed_ms(started: SystemTime, finished: SystemTime) -> u64 {
    finished.duration_since(started).map_or(0, |elapsed| {
        elapsed.as_millis().try_into().unwrap_or(u64::MAX)
    })
}
