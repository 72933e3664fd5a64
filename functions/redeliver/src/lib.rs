//! redeliver: tier 2 of the delivery horizon (docs/architecture.md, "The
//! delivery horizon in AWS").
//!
//! When SNS gives up on a destination it redrives the notification to the
//! destination's tier-2 queue `<prefix><name>-retry`, whose event source
//! mapping invokes this function with one message at a time. Each receive
//! is one step of the destination's schedule
//! ([`hookbridge_core::horizon::DeliverySchedule::tier2_step`]):
//!
//! | receive | what happens to the message |
//! | --- | --- |
//! | the first (SNS's handover) | hidden for the first tier-2 delay; no attempt |
//! | attempt delivered (or the destination's filter no longer takes it) | done: the mapping deletes it |
//! | attempt failed, the next one fits the horizon | hidden until it is due (at most `MAX_QUEUE_WAIT`, just under 12 h, at a time) |
//! | attempt failed past the horizon, or answered 410 Gone | sent to the final queue `<prefix><name>-dlq`, then done |
//! | unreadable (no envelope, no receive count) | sent to the final queue, then done |
//! | its destination is no longer configured, or the function is not | kept |
//! | a secret or payload unavailable: no request made | kept |
//!
//! "Kept" is a batch item failure with the visibility unchanged: the queue
//! shows the message again after its visibility timeout. A failed
//! `SendMessage` or `ChangeMessageVisibility` keeps it too, so nothing is
//! ever dropped. Every attempt is recorded in the delivery status record,
//! numbered on from SNS's.

#[cfg(feature = "aws")]
mod lambda;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use std::sync::Arc;

use deliver::{
    DeliverySettings, FinishedAttempt, Outbound, OutboundError, TargetOutcome, finish_attempt,
    received_at, schedule_of,
};
use hookbridge_aws::dead_letters::destination_of_tier2_queue;
use hookbridge_aws::replay::republication;
use hookbridge_aws::settings::SettingsError;
use hookbridge_core::delivery_status::DeliveryState;
use hookbridge_core::destinations::Destination;
use hookbridge_core::envelope::Envelope;
use hookbridge_core::horizon::{Tier2Receive, Tier2Step};
use hookbridge_core::ports::{
    Clock, DeliveryStatusStore, FinalDeadLetters, MetricsRecorder, PayloadStore, RetryQueue,
    SecretStore, WebhookTarget,
};
use serde::{Deserialize, Serialize};

#[cfg(feature = "aws")]
pub use lambda::AwsRedeliver;

/// What the function needs from its environment: what deliver delivers
/// with, and no topic.
pub type Settings = DeliverySettings;

/// The SQS attribute that counts a message's receives, this one included.
pub const RECEIVE_COUNT_ATTRIBUTE: &str = "ApproximateReceiveCount";

/// The SQS event a mapping invokes the function with (the fields read).
#[derive(Debug, Clone, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records")]
    pub records: Vec<SqsRecord>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsRecord {
    pub message_id: String,
    pub receipt_handle: String,
    pub body: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    #[serde(rename = "eventSourceARN")]
    pub event_source_arn: String,
}

impl SqsRecord {
    fn receive_count(&self) -> Option<u32> {
        self.attributes.get(RECEIVE_COUNT_ATTRIBUTE)?.parse().ok()
    }
}

/// The answer under `ReportBatchItemFailures`: the messages to keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchResponse {
    pub batch_item_failures: Vec<ItemFailure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemFailure {
    pub item_identifier: String,
}

/// What becomes of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Disposition {
    /// Delivered, filtered out or moved to the final queue: the mapping
    /// deletes it.
    Done,
    /// Stays in the tier-2 queue (postponed, or visible again after the
    /// queue's visibility timeout).
    Kept,
}

/// The handler, generic over its ports so tests run it without AWS.
#[derive(Debug)]
pub struct Redeliver<T, S, K, B, R, D, Q> {
    settings: Result<Settings, SettingsError>,
    outbound: Outbound<T, S, K, B>,
    statuses: R,
    dead_letters: D,
    retry_queue: Q,
    metrics: Option<Arc<dyn MetricsRecorder>>,
}

impl<T, S, K, B, R, D, Q> Redeliver<T, S, K, B, R, D, Q>
where
    T: WebhookTarget,
    S: SecretStore,
    K: Clock,
    B: PayloadStore,
    R: DeliveryStatusStore,
    D: FinalDeadLetters,
    Q: RetryQueue,
{
    pub fn new(
        settings: Result<Settings, SettingsError>,
        outbound: Outbound<T, S, K, B>,
        statuses: R,
        dead_letters: D,
        retry_queue: Q,
    ) -> Self {
        Self {
            settings,
            outbound,
            statuses,
            dead_letters,
            retry_queue,
            metrics: None,
        }
    }

    /// Reports every attempt's outcome to `recorder` (the Lambda's EMF
    /// lines), as deliver does; without one, nothing is measured.
    pub fn with_metrics(mut self, recorder: Arc<dyn MetricsRecorder>) -> Self {
        self.metrics = Some(recorder);
        self
    }

    /// Handles each message of the batch; the ones kept are reported.
    pub async fn handle(&self, event: &SqsEvent) -> BatchResponse {
        let mut batch_item_failures = Vec::new();
        for record in &event.records {
            if self.process(record).await == Disposition::Kept {
                batch_item_failures.push(ItemFailure {
                    item_identifier: record.message_id.clone(),
                });
            }
        }
        BatchResponse {
            batch_item_failures,
        }
    }

    async fn process(&self, record: &SqsRecord) -> Disposition {
        let message_id = record.message_id.as_str();
        let Ok(settings) = &self.settings else {
            tracing::error!(message_id, "unconfigured; the message stays in its queue");
            return Disposition::Kept;
        };
        let named = destination_of_tier2_queue(&settings.queue_prefix, &record.event_source_arn);
        let Some(destination) = named.and_then(|name| settings.destinations.get(name)) else {
            tracing::error!(
                message_id,
                queue_arn = record.event_source_arn,
                destination = named,
                "no configured destination has this tier-2 queue (removed from the configuration?); the message stays in the queue"
            );
            return Disposition::Kept;
        };
        let readable = record.receive_count().and_then(|count| {
            let envelope: Envelope =
                serde_json::from_str(&republication(&record.body).message).ok()?;
            let received_at = received_at(&envelope)?;
            Some((count, envelope, received_at))
        });
        let Some((receive_count, envelope, received_at)) = readable else {
            tracing::error!(
                message_id,
                destination = %destination.name,
                "no envelope with a received time, or no receive count: to the final dead-letter queue"
            );
            return self.dead_letter(record, destination, None).await;
        };
        let schedule = schedule_of(destination);
        let ids = (envelope.id.clone(), envelope.correlation_id.clone());
        let (event_id, correlation_id) = (ids.0.as_str(), ids.1.as_str());
        let Some(attempt_number) = schedule.tier2_attempt_number(receive_count) else {
            let step = schedule.tier2_step(
                &Tier2Receive::Handover,
                received_at,
                self.outbound.now(),
                receive_count,
            );
            tracing::info!(event_id, correlation_id, message_id, destination = %destination.name, ?step, "handed over by SNS to tier 2");
            return self.apply(record, destination, step, None).await;
        };
        if !destination.wants(&envelope.source, &envelope.event_type) {
            tracing::info!(event_id, correlation_id, message_id, destination = %destination.name, "not for this destination (its filter changed); not delivered");
            return Disposition::Done;
        }
        let attempted = match self.outbound.attempt(destination, envelope).await {
            Ok(attempted) => attempted,
            Err(error @ OutboundError::InvalidEnvelope(_)) => {
                tracing::error!(event_id, correlation_id, message_id, destination = %destination.name, %error, "undeliverable envelope: to the final dead-letter queue");
                return self.dead_letter(record, destination, None).await;
            }
            Err(error) => {
                tracing::error!(event_id, correlation_id, message_id, destination = %destination.name, code = error.code(), %error, "no request made; the message stays in its queue");
                return Disposition::Kept;
            }
        };
        let now = self.outbound.now();
        let receive = attempted
            .failure(now)
            .map_or(Tier2Receive::Delivered, Tier2Receive::Failed);
        let step = schedule.tier2_step(&receive, received_at, now, receive_count);
        let target_status = match &attempted.outcome {
            TargetOutcome::Delivered(answer) | TargetOutcome::Refused(answer) => {
                Some(answer.status)
            }
            TargetOutcome::Failed(_) => None,
        };
        tracing::info!(
            event_id,
            correlation_id,
            message_id,
            destination = %destination.name,
            attempt = attempt_number,
            target_status,
            latency_ms = attempted.attempt.latency_ms,
            ?step,
            "tier-2 attempt"
        );
        let finished = FinishedAttempt::of((event_id, correlation_id), &attempted);
        self.apply(record, destination, step, Some(finished)).await
    }

    /// Carries out the step; then records the attempt (if one was made)
    /// with the state the message is really in.
    async fn apply(
        &self,
        record: &SqsRecord,
        destination: &Destination,
        step: Tier2Step,
        finished: Option<FinishedAttempt<'_>>,
    ) -> Disposition {
        match step {
            Tier2Step::Done => {
                self.record(finished, destination, DeliveryState::Delivered)
                    .await;
                Disposition::Done
            }
            Tier2Step::Wait(wait) => {
                if let Err(error) = self
                    .retry_queue
                    .postpone(&destination.name, &record.receipt_handle, wait)
                    .await
                {
                    tracing::error!(message_id = record.message_id, %error, "not postponed: received again after the queue's visibility timeout");
                }
                self.record(finished, destination, DeliveryState::Retrying)
                    .await;
                Disposition::Kept
            }
            Tier2Step::DeadLetter(reason) => {
                tracing::warn!(message_id = record.message_id, destination = %destination.name, ?reason, "delivery over: to the final dead-letter queue");
                self.dead_letter(record, destination, finished).await
            }
        }
    }

    /// The final queue first; only once it holds the message is it done.
    async fn dead_letter(
        &self,
        record: &SqsRecord,
        destination: &Destination,
        finished: Option<FinishedAttempt<'_>>,
    ) -> Disposition {
        match self
            .dead_letters
            .dead_letter(&destination.name, &record.body)
            .await
        {
            Ok(()) => {
                self.record(finished, destination, DeliveryState::DeadLettered)
                    .await;
                Disposition::Done
            }
            Err(error) => {
                tracing::error!(message_id = record.message_id, %error, "not dead-lettered; the message stays in its tier-2 queue");
                self.record(finished, destination, DeliveryState::Retrying)
                    .await;
                Disposition::Kept
            }
        }
    }

    async fn record(
        &self,
        finished: Option<FinishedAttempt<'_>>,
        destination: &Destination,
        state: DeliveryState,
    ) {
        if let Some(finished) = finished {
            finish_attempt(
                self.metrics.as_deref(),
                &self.statuses,
                destination,
                finished,
                state,
            )
            .await;
        }
    }
}
