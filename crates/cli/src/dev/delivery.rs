//! A deliver route, one per destination: each of its due deliveries is
//! signed with the destination's outbound secret and POSTed to its url by
//! the deliver Lambda's own logic ([`deliver::Outbound`]), on the two-tier
//! schedule up to the destination's horizon (SNS's DeliveryPolicy, then
//! growing intervals; `Retry-After` and `410 Gone` honoured) compressed by
//! the time scale, each attempt within the destination's `timeout_seconds`.
//! Each route has its own queue, in-flight budget and pace (its
//! `rate_per_second`), so a failing or slow destination never delays
//! another's deliveries. The worker sleeps until its earliest due delivery,
//! waking early on new work, and polls the store at least once a second (so
//! `hookbridge replay` from another process is picked up).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use deliver::{Outbound, OutboundError, measure_attempt};
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::webhook_target::HttpWebhookTarget;
use hookbridge_core::delivery_status::DeliveryState;
use hookbridge_core::destinations::Destination;
use hookbridge_core::envelope::Envelope;
use hookbridge_core::horizon::{DeadLetterReason, DeliverySchedule};
use hookbridge_core::metrics::FailureClass;
use hookbridge_core::ports::{MetricsRecorder, TargetAnswer};

use super::payload_files::PayloadFiles;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::bus::ConfiguredSecrets;
use super::schedule::{FailedAnswer, NextStep, Pace, Position, TimeScale, after_failure};
use super::store::LocalStore;
use super::store::deliveries::{
    AfterAttempt, AttemptRecord, DueDelivery, due_deliveries, next_due, record_attempt,
};
use super::store::states::AttemptOutcome;

/// Attempts in flight at once, per destination: enough to keep a fast
/// target busy while each attempt waits for its record's batch commit;
/// a destination's `rate_per_second` still paces them.
const CONCURRENCY: usize = 64;
/// Longest sleep: the store is polled at least this often.
const POLL: Duration = Duration::from_secs(1);

pub struct DeliverRoute {
    pub store: LocalStore,
    /// Where it delivers; its name also names its outbound secrets.
    pub destination: Destination,
    pub outbound: Outbound<HttpWebhookTarget, ConfiguredSecrets, SystemClock, PayloadFiles>,
    pub schedule: DeliverySchedule,
    pub time_scale: TimeScale,
    pub wake: Arc<Notify>,
    /// Counts each request made, as the deliver function does in AWS.
    pub metrics: Arc<dyn MetricsRecorder>,
}

impl DeliverRoute {
    fn name(&self) -> &str {
        self.destination.name.as_str()
    }

    /// Runs until `shutdown` turns true. Attempts still in flight then are
    /// abandoned: their deliveries stay due and resume on restart.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut in_flight = JoinSet::new();
        let mut busy: HashMap<tokio::task::Id, i64> = HashMap::new();
        let mut pace = Pace::new(self.destination.rate_per_second);
        loop {
            let now = SystemTime::now();
            let capacity = CONCURRENCY - busy.len();
            let mut paced = false;
            if capacity > 0 {
                let skip: Vec<i64> = busy.values().copied().collect();
                let route = Arc::clone(&self);
                match self
                    .store
                    .call(move |connection| {
                        due_deliveries(connection, route.name(), now, &skip, capacity)
                    })
                    .await
                {
                    Ok(due) => {
                        for delivery in due {
                            if !pace.start(Instant::now()) {
                                paced = true;
                                break;
                            }
                            let seq = delivery.seq;
                            let route = Arc::clone(&self);
                            let task =
                                in_flight.spawn(async move { route.attempt(delivery).await });
                            busy.insert(task.id(), seq);
                        }
                    }
                    Err(error) => tracing::error!(
                        destination = self.name(),
                        %error,
                        "reading due deliveries failed"
                    ),
                }
            }
            let wait = if paced {
                pace.wait(Instant::now()).min(POLL)
            } else if busy.len() < CONCURRENCY {
                let skip: Vec<i64> = busy.values().copied().collect();
                let route = Arc::clone(&self);
                match self
                    .store
                    .call(move |connection| next_due(connection, route.name(), &skip))
                    .await
                {
                    Ok(Some(due)) => due
                        .duration_since(SystemTime::now())
                        .unwrap_or(Duration::ZERO)
                        .min(POLL),
                    Ok(None) | Err(_) => POLL,
                }
            } else {
                POLL
            };
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
                Some(finished) = in_flight.join_next_with_id() => {
                    // Every attempt finished by now frees its place, so one
                    // read of the store refills them all.
                    let mut finished = Some(finished);
                    while let Some(joined) = finished {
                        let id = match joined {
                            Ok((id, ())) => id,
                            Err(error) => error.id(),
                        };
                        busy.remove(&id);
                        finished = in_flight.try_join_next_with_id();
                    }
                }
                _ = shutdown.changed() => {
                    in_flight.abort_all();
                    return;
                }
            }
        }
    }

    /// Makes one attempt and records it with the delivery's next state.
    async fn attempt(&self, due: DueDelivery) {
        let started = SystemTime::now();
        let clock = Instant::now();
        let schedule_started = due.schedule_started.unwrap_or(started);
        let number = due.attempt;
        let destination = self.name();
        let (event_id, correlation_id, result) = match serde_json::from_str::<Envelope>(&due.detail)
        {
            Ok(envelope) => {
                let ids = (envelope.id.clone(), envelope.correlation_id.clone());
                let result = self
                    .outbound
                    .send(&self.destination, envelope)
                    .await
                    .map_err(Failure::from);
                (ids.0, ids.1, result)
            }
            Err(error) => (
                String::new(),
                String::new(),
                Err(Failure {
                    code: "invalid_envelope",
                    answer: None,
                    message: error.to_string(),
                    class: None,
                }),
            ),
        };
        let latency = clock.elapsed();
        // `Some` when a request was made (the metrics count only those),
        // holding how it failed.
        let requested = match &result {
            Ok(_) => Some(None),
            Err(failure) => failure.class.map(Some),
        };
        let (attempt, next) = match result {
            Ok(answer) => {
                tracing::info!(
                    event_id,
                    correlation_id,
                    destination,
                    attempt = number,
                    target_status = answer.status,
                    latency_ms = latency.as_millis(),
                    "delivered"
                );
                (
                    AttemptRecord {
                        number,
                        at: started,
                        outcome: AttemptOutcome::Delivered,
                        status: Some(answer.status),
                        error: None,
                        latency,
                        response_excerpt: answer.excerpt,
                    },
                    AfterAttempt::Delivered,
                )
            }
            Err(Failure {
                code,
                answer,
                message: error,
                ..
            }) => {
                let position = match due.schedule_elapsed {
                    Some(elapsed) => Position {
                        attempt: number,
                        elapsed,
                    },
                    None => Position::listed(&self.schedule, number),
                };
                let failed = FailedAnswer {
                    status: answer.as_ref().map(|answer| answer.status),
                    retry_after: answer
                        .as_ref()
                        .and_then(|answer| answer.retry_after.as_deref()),
                };
                let step = after_failure(
                    &self.schedule,
                    self.time_scale,
                    position,
                    failed,
                    latency,
                    SystemTime::now(),
                );
                let next = match step {
                    NextStep::Retry {
                        number: retry,
                        at,
                        elapsed,
                    } => {
                        let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
                        tracing::warn!(
                            event_id,
                            correlation_id,
                            destination,
                            attempt = number,
                            code,
                            %error,
                            "delivery failed; attempt {retry} in {}",
                            humantime::format_duration(round_to_millis(wait))
                        );
                        AfterAttempt::Retry {
                            number: retry,
                            at,
                            schedule_elapsed: elapsed,
                        }
                    }
                    NextStep::DeadLetter(reason) => {
                        let why = match reason {
                            DeadLetterReason::Gone => "the target answered 410 Gone".to_owned(),
                            DeadLetterReason::HorizonReached => format!(
                                "no attempt fits within the {} h horizon",
                                self.schedule.horizon().hours()
                            ),
                        };
                        tracing::error!(
                            event_id,
                            correlation_id,
                            destination,
                            attempt = number,
                            code,
                            %error,
                            "delivery failed; dead-lettered: {why} (`hookbridge replay` sends it again)"
                        );
                        AfterAttempt::DeadLettered
                    }
                };
                (
                    AttemptRecord {
                        number,
                        at: started,
                        outcome: AttemptOutcome::Failed,
                        status: answer.as_ref().map(|answer| answer.status),
                        error: Some(error),
                        latency,
                        response_excerpt: answer.and_then(|answer| answer.excerpt),
                    },
                    next,
                )
            }
        };
        if let Some(failure) = requested {
            measure_attempt(
                Some(self.metrics.as_ref()),
                &self.destination,
                failure,
                attempt.latency.as_millis().try_into().unwrap_or(u64::MAX),
                state_after(&next),
            );
        }
        let seq = due.seq;
        let name = destination.to_owned();
        if let Err(error) = self
            .store
            .write(move |connection| {
                record_attempt(connection, seq, &name, schedule_started, &attempt, next)
            })
            .await
        {
            // The delivery stays due: the attempt is made again.
            tracing::error!(
                event_id,
                destination,
                %error,
                "recording the delivery attempt failed"
            );
        }
    }
}

/// Why an attempt failed, as recorded: the log code, the target's answer
/// if it gave one, the reason in words, and how the request failed as the
/// metrics class it (`None`: no request was made).
struct Failure {
    code: &'static str,
    answer: Option<TargetAnswer>,
    message: String,
    class: Option<FailureClass>,
}

impl From<OutboundError> for Failure {
    fn from(error: OutboundError) -> Self {
        let code = error.code();
        let message = error.to_string();
        let (answer, class) = match error {
            OutboundError::TargetStatus(answer) => {
                let class = FailureClass::of_status(answer.status);
                (Some(answer), Some(class))
            }
            OutboundError::TargetFailed(error) => (None, Some(FailureClass::of_error(&error))),
            _ => (None, None),
        };
        Self {
            code,
            answer,
            message,
            class,
        }
    }
}

/// The delivery's state as the status record (and the metrics) name it.
fn state_after(next: &AfterAttempt) -> DeliveryState {
    match next {
        AfterAttempt::Delivered => DeliveryState::Delivered,
        AfterAttempt::Retry { .. } => DeliveryState::Retrying,
        AfterAttempt::DeadLettered => DeliveryState::DeadLettered,
    }
}

fn round_to_millis(wait: Duration) -> Duration {
    Duration::from_millis(wait.as_millis().try_into().unwrap_or(u64::MAX))
}
