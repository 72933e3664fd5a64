//! The deliver route: every pending delivery is signed and POSTed to the
//! target by the deliver Lambda's own logic ([`deliver::Outbound`]), on the
//! phased DeliveryPolicy schedule compressed by the time scale. The worker
//! sleeps until the earliest due delivery, waking early on new work, and
//! polls the store at least once a second (so `hookbridge replay` from
//! another process is picked up).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use deliver::{Outbound, OutboundError};
use hookbridge_aws::clock::SystemClock;
use hookbridge_aws::webhook_target::HttpWebhookTarget;
use hookbridge_core::delivery_policy::Attempt;
use hookbridge_core::envelope::Envelope;

use super::payload_files::PayloadFiles;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::bus::ConfiguredSecrets;
use super::schedule::{NextStep, TimeScale, after_failure};
use super::store::LocalStore;
use super::store::deliveries::{
    AfterAttempt, AttemptRecord, DueDelivery, due_deliveries, next_due, record_attempt,
};
use super::store::states::AttemptOutcome;

/// The one name in the deliver route's own secret store: the outbound
/// signing secret (the sources' secrets live in the ingest route's store).
pub const OUTBOUND_SECRET_NAME: &str = "outbound";
/// Attempts in flight at once.
const CONCURRENCY: usize = 8;
/// Longest sleep: the store is polled at least this often.
const POLL: Duration = Duration::from_secs(1);

pub struct DeliverRoute {
    pub store: LocalStore,
    pub outbound: Outbound<HttpWebhookTarget, ConfiguredSecrets, SystemClock, PayloadFiles>,
    pub target_url: String,
    pub schedule: Vec<Attempt>,
    pub time_scale: TimeScale,
    pub wake: Arc<Notify>,
}

impl DeliverRoute {
    /// Runs until `shutdown` turns true. Attempts still in flight then are
    /// abandoned: their deliveries stay pending and resume on restart.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut in_flight = JoinSet::new();
        let mut busy: HashMap<tokio::task::Id, i64> = HashMap::new();
        loop {
            let now = SystemTime::now();
            let capacity = CONCURRENCY - busy.len();
            if capacity > 0 {
                let skip: Vec<i64> = busy.values().copied().collect();
                match self
                    .store
                    .call(move |connection| due_deliveries(connection, now, &skip, capacity))
                    .await
                {
                    Ok(due) => {
                        for delivery in due {
                            let seq = delivery.seq;
                            let route = Arc::clone(&self);
                            let task =
                                in_flight.spawn(async move { route.attempt(delivery).await });
                            busy.insert(task.id(), seq);
                        }
                    }
                    Err(error) => tracing::error!(%error, "reading pending deliveries failed"),
                }
            }
            let wait = if busy.len() < CONCURRENCY {
                let skip: Vec<i64> = busy.values().copied().collect();
                match self
                    .store
                    .call(move |connection| next_due(connection, &skip))
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
                    let id = match finished {
                        Ok((id, ())) => id,
                        Err(error) => error.id(),
                    };
                    busy.remove(&id);
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
        let schedule_started = due.schedule_started.unwrap_or(started);
        let number = due.attempt;
        let (event_id, correlation_id, result) = match serde_json::from_str::<Envelope>(&due.detail)
        {
            Ok(envelope) => {
                let ids = (envelope.id.clone(), envelope.correlation_id.clone());
                let result = self
                    .outbound
                    .send(OUTBOUND_SECRET_NAME, &self.target_url, envelope)
                    .await
                    .map_err(|error| (error.code(), status_of(&error), error.to_string()));
                (ids.0, ids.1, result)
            }
            Err(error) => (
                String::new(),
                String::new(),
                Err(("invalid_envelope", None, error.to_string())),
            ),
        };
        let (attempt, next) = match result {
            Ok(status) => {
                tracing::info!(
                    event_id,
                    correlation_id,
                    attempt = number,
                    target_status = status,
                    "delivered"
                );
                (
                    AttemptRecord {
                        number,
                        at: started,
                        outcome: AttemptOutcome::Delivered,
                        status: Some(status),
                        error: None,
                    },
                    AfterAttempt::Delivered,
                )
            }
            Err((code, status, error)) => {
                let next = match after_failure(
                    &self.schedule,
                    number,
                    self.time_scale,
                    schedule_started,
                ) {
                    NextStep::Retry { number: retry, at } => {
                        let wait = at.duration_since(SystemTime::now()).unwrap_or_default();
                        tracing::warn!(
                            event_id,
                            correlation_id,
                            attempt = number,
                            code,
                            %error,
                            "delivery failed; attempt {retry} in {}",
                            humantime::format_duration(round_to_millis(wait))
                        );
                        AfterAttempt::Retry { number: retry, at }
                    }
                    NextStep::DeadLetter => {
                        tracing::error!(
                            event_id,
                            correlation_id,
                            attempt = number,
                            code,
                            %error,
                            "delivery failed; dead-lettered (`hookbridge replay` sends it again)"
                        );
                        AfterAttempt::DeadLettered
                    }
                };
                (
                    AttemptRecord {
                        number,
                        at: started,
                        outcome: AttemptOutcome::Failed,
                        status,
                        error: Some(error),
                    },
                    next,
                )
            }
        };
        let seq = due.seq;
        if let Err(error) = self
            .store
            .call(move |connection| {
                record_attempt(connection, seq, schedule_started, &attempt, next)
            })
            .await
        {
            // The delivery stays due: the attempt is made again.
            tracing::error!(event_id, %error, "recording the delivery attempt failed");
        }
    }
}

fn status_of(error: &OutboundError) -> Option<u16> {
    match error {
        OutboundError::TargetStatus(status) => Some(*status),
        _ => None,
    }
}

fn round_to_millis(wait: Duration) -> Duration {
    Duration::from_millis(wait.as_millis().try_into().unwrap_or(u64::MAX))
}
