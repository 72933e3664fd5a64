//! deliver: the SNS HTTPS subscriber behind a Lambda function URL.
//!
//! SNS posts every message of the delivery topic here, one subscription per
//! destination, each naming its destination in the endpoint's query
//! (`?destination=<name>`). A message counts only if it names a configured
//! destination, its signature verifies and it comes from the configured
//! topic; a subscription confirmation is confirmed on the spot; a
//! notification carries an envelope (the EventBridge rule's `InputPath` is
//! `$.detail`), whose payload is signed with the destination's outbound
//! secret and POSTed to the destination's url. Every attempt is recorded in
//! the delivery status store. The status answered to SNS decides whether
//! SNS retries:
//!
//! | outcome | status |
//! | --- | --- |
//! | delivered (target 2xx), confirmed, unsubscribe noted | 200 |
//! | an envelope the destination's filter does not take (not delivered) | 200 |
//! | unknown or missing destination | 403 (not retried) |
//! | not an authentic message of the configured topic | 403 (not retried) |
//! | verified notification that holds no envelope | 400 (not retried) |
//! | target answered 410 Gone: put in the final dead-letter queue | 200 |
//! | target answered non-2xx, timed out or was unreachable | 502 (retried) |
//! | 410, but the final dead-letter queue did not take it | 502 (retried) |
//! | confirmation request to SNS failed | 502 (retried) |
//! | configuration missing, secret or certificate unavailable | 503 (retried) |
//! | referenced payload missing, unreadable, or not what its reference says | 503 (retried) |

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use hookbridge_aws::settings::SettingsError;
use hookbridge_core::delivery_status::DeliveryState;
use hookbridge_core::destinations::Destination;
use hookbridge_core::envelope::{AmbiguousBody, Body as EnvelopeBody, Envelope};
use hookbridge_core::horizon::{DeadLetterReason, NextStep};
use hookbridge_core::outbound::{OutboundWebhook, SignError};
use hookbridge_core::ports::{
    Authenticator, CertificateError, CertificateSource, Clock, DeadLetterError,
    DeliveryStatusStore, FinalDeadLetters, MetricsRecorder, PayloadStore, PayloadStoreError,
    SecretStore, SecretStoreError, SubscriptionConfirmer, TargetAnswer, TargetError,
    Unauthenticated, WebhookTarget,
};
use hookbridge_core::response;
use hookbridge_core::sns::{MessageType, SnsError, SnsMessage};
use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};

mod attempt;
#[cfg(feature = "aws")]
mod lambda;
mod routing;
mod settings;

pub use attempt::{
    Attempted, FinishedAttempt, TargetOutcome, finish_attempt, measure_attempt, received_at,
    schedule_of,
};
#[cfg(feature = "aws")]
pub use lambda::{AwsDeliver, AwsOutbound, DeliveryAdapters};
pub use routing::{DESTINATION_PARAMETER, requested_destination};
pub use settings::{
    DESTINATIONS_VARIABLE, DeliverySettings, OUTBOUND_PREFIX_VARIABLE, Settings,
    TABLE_NAME_VARIABLE, TARGET_URL_VARIABLE, TOPIC_ARN_VARIABLE, read_destinations,
};

/// The production authenticator: the RSA signature, checked with the
/// certificate at the message's (already vetted) `SigningCertURL`.
#[derive(Debug)]
pub struct SnsSignatures<S>(pub S);

impl<S: CertificateSource> Authenticator for SnsSignatures<S> {
    async fn authenticate(&self, message: &SnsMessage) -> Result<(), Unauthenticated> {
        let certificate = self
            .0
            .certificate(message.signing_cert_url())
            .await
            .map_err(|error| match error {
                CertificateError::Invalid(_) => Unauthenticated::Rejected(error.to_string()),
                CertificateError::Unavailable(_) => Unauthenticated::Unavailable(error.to_string()),
            })?;
        message
            .verify(&certificate)
            .map_err(|error| Unauthenticated::Rejected(error.to_string()))
    }
}

/// Why an envelope was not delivered, once SNS (or a local bus) handed it over.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("the outbound secret is unavailable: {0}")]
    SecretUnavailable(SecretStoreError),
    #[error("the outbound secret is unusable: {0}")]
    SecretUnusable(SignError),
    #[error("the target answered HTTP {}", .0.status)]
    TargetStatus(TargetAnswer),
    #[error("{0}")]
    TargetFailed(TargetError),
    #[error("{0}")]
    InvalidEnvelope(AmbiguousBody),
    #[error("the payload at `{key}` cannot be read: {reason}")]
    PayloadUnavailable {
        key: String,
        reason: PayloadStoreError,
    },
    #[error("the payload at `{key}` is not the one referenced: {reason}")]
    PayloadMismatch { key: String, reason: String },
}

/// The part of delivery after the message is known to be authentic: sign
/// the envelope's payload (inline, or fetched by its reference) with the
/// destination's outbound secret (the secret store's entry named after the
/// destination) and POST it to the destination. The Lambda handler and the
/// local dev server both use it, so a target sees the same request from
/// either.
#[derive(Debug)]
pub struct Outbound<T, S, K, B> {
    target: T,
    secrets: S,
    clock: K,
    payloads: B,
}

impl<T: WebhookTarget, S: SecretStore, K: Clock, B: PayloadStore> Outbound<T, S, K, B> {
    pub fn new(target: T, secrets: S, clock: K, payloads: B) -> Self {
        Self {
            target,
            secrets,
            clock,
            payloads,
        }
    }

    /// The exact bytes to POST: the inline body as is, or the stored one,
    /// read no further than its reference's size and checked against its
    /// digest, so a missing, replaced or tampered object is never sent.
    async fn body(&self, envelope: &mut Envelope) -> Result<Box<str>, OutboundError> {
        let reference = match envelope.body().map_err(OutboundError::InvalidEnvelope)? {
            // A form travels as its raw body; `payload` is only its fields.
            EnvelopeBody::Inline(_) => {
                if let Some(raw_body) = envelope.raw_body.take() {
                    return Ok(raw_body.into());
                }
                let payload = envelope.payload.take().expect("an inline body");
                return Ok(payload.into());
            }
            EnvelopeBody::Stored(reference) => reference,
        };
        let mismatch = |reason: String| OutboundError::PayloadMismatch {
            key: reference.key.clone(),
            reason,
        };
        reference
            .check_bucket(self.payloads.bucket())
            .map_err(|reason| mismatch(reason.to_string()))?;
        let bytes = self
            .payloads
            .get(&reference.key, reference.size)
            .await
            .map_err(|reason| match reason {
                PayloadStoreError::TooLarge { .. } => mismatch(reason.to_string()),
                reason => OutboundError::PayloadUnavailable {
                    key: reference.key.clone(),
                    reason,
                },
            })?;
        reference
            .text(bytes)
            .map(String::into_boxed_str)
            .map_err(|reason| mismatch(reason.to_string()))
    }

    /// Signs `envelope` with the secrets stored under the destination's
    /// name and POSTs it to the destination's url within its timeout. `Ok`
    /// holds the target's 2xx answer.
    pub async fn send(
        &self,
        destination: &Destination,
        mut envelope: Envelope,
    ) -> Result<TargetAnswer, OutboundError> {
        let body = self.body(&mut envelope).await?;
        let secrets = self
            .secrets
            .secrets(destination.name.as_str())
            .await
            .map_err(OutboundError::SecretUnavailable)?;
        let timestamp = self
            .clock
            .now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()) as i64;
        let webhook = OutboundWebhook::sign(envelope, body, &secrets, timestamp)
            .map_err(OutboundError::SecretUnusable)?;
        match self
            .target
            .post(&destination.url, &webhook, destination.timeout)
            .await
        {
            Ok(answer) if answer.is_success() => Ok(answer),
            Ok(answer) => Err(OutboundError::TargetStatus(answer)),
            Err(error) => Err(OutboundError::TargetFailed(error)),
        }
    }
}

/// Every way a request can end other than success, with its status.
#[derive(Debug, thiserror::Error)]
enum DeliverError {
    #[error("{0}")]
    Unconfigured(SettingsError),
    #[error("only POST is accepted")]
    MethodNotAllowed,
    #[error("{0}")]
    UnknownDestination(String),
    #[error("not an acceptable SNS message: {0}")]
    InvalidMessage(SnsError),
    #[error("the message is not from the configured topic")]
    ForeignTopic,
    #[error("the message is not authentic: {0}")]
    NotAuthentic(String),
    #[error("the signing certificate is unavailable: {0}")]
    CertificateUnavailable(String),
    #[error("the subscription could not be confirmed: {0}")]
    ConfirmationFailed(String),
    #[error("the notification does not hold an envelope: {0}")]
    InvalidEnvelope(String),
    #[error(transparent)]
    Outbound(OutboundError),
    #[error("{0}")]
    DeadLetterFailed(DeadLetterError),
}

impl DeliverError {
    fn status(&self) -> StatusCode {
        match self {
            Self::Unconfigured(_)
            | Self::CertificateUnavailable(_)
            | Self::Outbound(
                OutboundError::SecretUnavailable(_)
                | OutboundError::SecretUnusable(_)
                | OutboundError::PayloadUnavailable { .. }
                | OutboundError::PayloadMismatch { .. },
            ) => StatusCode::SERVICE_UNAVAILABLE,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::UnknownDestination(_)
            | Self::InvalidMessage(_)
            | Self::ForeignTopic
            | Self::NotAuthentic(_) => StatusCode::FORBIDDEN,
            Self::InvalidEnvelope(_) | Self::Outbound(OutboundError::InvalidEnvelope(_)) => {
                StatusCode::BAD_REQUEST
            }
            Self::ConfirmationFailed(_)
            | Self::DeadLetterFailed(_)
            | Self::Outbound(OutboundError::TargetStatus(_) | OutboundError::TargetFailed(_)) => {
                StatusCode::BAD_GATEWAY
            }
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::Unconfigured(_) => "configuration_missing",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::UnknownDestination(_) => "unknown_destination",
            Self::InvalidMessage(_) => "invalid_sns_message",
            Self::ForeignTopic => "topic_mismatch",
            Self::NotAuthentic(_) => "signature_invalid",
            Self::CertificateUnavailable(_) => "certificate_unavailable",
            Self::ConfirmationFailed(_) => "confirmation_failed",
            Self::InvalidEnvelope(_) => "invalid_envelope",
            Self::DeadLetterFailed(_) => "dead_letter_failed",
            Self::Outbound(error) => error.code(),
        }
    }
}

impl OutboundError {
    /// The snake_case code of the error body and of log lines.
    pub fn code(&self) -> &'static str {
        match self {
            Self::SecretUnavailable(_) => "secret_unavailable",
            Self::SecretUnusable(_) => "secret_invalid",
            Self::TargetStatus(_) => "target_rejected",
            Self::TargetFailed(TargetError::Timeout) => "target_timeout",
            Self::TargetFailed(_) => "target_unreachable",
            Self::InvalidEnvelope(_) => "invalid_envelope",
            Self::PayloadUnavailable {
                reason: PayloadStoreError::NotFound(_),
                ..
            } => "payload_missing",
            Self::PayloadUnavailable { .. } => "payload_unavailable",
            Self::PayloadMismatch { .. } => "payload_mismatch",
        }
    }
}

/// The handler, generic over its ports so tests run it without AWS.
#[derive(Debug)]
pub struct Deliver<A, C, T, S, K, B, R, D> {
    settings: Result<Settings, SettingsError>,
    authenticator: A,
    confirmer: C,
    outbound: Outbound<T, S, K, B>,
    statuses: R,
    dead_letters: D,
    metrics: Option<Arc<dyn MetricsRecorder>>,
}

impl<A, C, T, S, K, B, R, D> Deliver<A, C, T, S, K, B, R, D>
where
    A: Authenticator,
    C: SubscriptionConfirmer,
    T: WebhookTarget,
    S: SecretStore,
    K: Clock,
    R: DeliveryStatusStore,
    B: PayloadStore,
    D: FinalDeadLetters,
{
    /// Missing or invalid settings do not stop the function: every request
    /// is then answered 503, so SNS keeps the messages until it is configured.
    pub fn new(
        settings: Result<Settings, SettingsError>,
        authenticator: A,
        confirmer: C,
        outbound: Outbound<T, S, K, B>,
        statuses: R,
        dead_letters: D,
    ) -> Self {
        Self {
            settings,
            authenticator,
            confirmer,
            outbound,
            statuses,
            dead_letters,
            metrics: None,
        }
    }

    /// Reports every attempt's outcome to `recorder` (the Lambda's EMF
    /// lines); without one, nothing is measured.
    pub fn with_metrics(mut self, recorder: Arc<dyn MetricsRecorder>) -> Self {
        self.metrics = Some(recorder);
        self
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        match self.process(&request).await {
            Ok(response) => response,
            Err(error) => {
                let status = error.status();
                if status.is_server_error() {
                    tracing::error!(status = status.as_u16(), code = error.code(), %error, "not delivered");
                } else {
                    tracing::warn!(status = status.as_u16(), code = error.code(), %error, "refused");
                }
                error_response(&error)
            }
        }
    }

    async fn process(&self, request: &Request) -> Result<Response<Body>, DeliverError> {
        let settings = self
            .settings
            .as_ref()
            .map_err(|problems| DeliverError::Unconfigured(problems.clone()))?;
        if request.method() != Method::POST {
            return Err(DeliverError::MethodNotAllowed);
        }
        // A lookup by name: the same cost for one destination or fifty.
        let destination = requested_destination(request.uri().query())
            .and_then(|name| settings.delivery.destinations.get(name))
            .ok_or_else(|| {
                DeliverError::UnknownDestination(format!(
                    "the endpoint's `?{DESTINATION_PARAMETER}=` names no configured destination"
                ))
            })?;
        let message = SnsMessage::parse(request.body()).map_err(DeliverError::InvalidMessage)?;
        // Cheap before costly: a foreign topic needs no certificate fetch.
        if message.topic_arn() != settings.topic_arn {
            return Err(DeliverError::ForeignTopic);
        }
        self.authenticator
            .authenticate(&message)
            .await
            .map_err(|error| match error {
                Unauthenticated::Rejected(reason) => DeliverError::NotAuthentic(reason),
                Unauthenticated::Unavailable(reason) => {
                    DeliverError::CertificateUnavailable(reason)
                }
            })?;
        match message.message_type() {
            MessageType::SubscriptionConfirmation => self.confirm(destination, &message).await,
            MessageType::UnsubscribeConfirmation => {
                tracing::warn!(
                    destination = %destination.name,
                    sns_message_id = message.message_id(),
                    topic_arn = message.topic_arn(),
                    "the subscription was removed; deliveries stop until it is re-created"
                );
                Ok(ok_response(serde_json::json!({"status": "unsubscribed"})))
            }
            MessageType::Notification => self.deliver(destination, &message, request.body()).await,
        }
    }

    async fn confirm(
        &self,
        destination: &Destination,
        message: &SnsMessage,
    ) -> Result<Response<Body>, DeliverError> {
        let subscribe_url = message
            .subscribe_url()
            .expect("a parsed confirmation always has a vetted SubscribeURL");
        self.confirmer
            .confirm(subscribe_url)
            .await
            .map_err(|error| DeliverError::ConfirmationFailed(error.to_string()))?;
        tracing::info!(
            destination = %destination.name,
            sns_message_id = message.message_id(),
            topic_arn = message.topic_arn(),
            host = subscribe_url.host(),
            "subscription confirmed"
        );
        Ok(ok_response(serde_json::json!({"status": "confirmed"})))
    }

    async fn deliver(
        &self,
        destination: &Destination,
        message: &SnsMessage,
        raw: &[u8],
    ) -> Result<Response<Body>, DeliverError> {
        let envelope: Envelope = serde_json::from_str(message.message())
            .map_err(|error| DeliverError::InvalidEnvelope(error.to_string()))?;
        let event_id = envelope.id.clone();
        let correlation_id = envelope.correlation_id.clone();
        let received_at = received_at(&envelope);
        let sns_message_id = message.message_id();
        let name = &destination.name;
        // SNS filters by the destination's FilterPolicy where it can express
        // it; this check covers the rest, and a filter changed since publish.
        if !destination.wants(&envelope.source, &envelope.event_type) {
            tracing::info!(
                event_id,
                correlation_id,
                sns_message_id,
                destination = %name,
                source = envelope.source,
                event_type = envelope.event_type,
                "not for this destination; not delivered"
            );
            return Ok(ok_response(
                serde_json::json!({"status": "filtered", "id": event_id}),
            ));
        }
        let attempted = match self.outbound.attempt(destination, envelope).await {
            Ok(attempted) => attempted,
            Err(
                error @ (OutboundError::PayloadUnavailable { .. }
                | OutboundError::PayloadMismatch { .. }),
            ) => {
                tracing::error!(
                    event_id,
                    correlation_id,
                    sns_message_id,
                    destination = %name,
                    code = error.code(),
                    %error,
                    "referenced payload not delivered; SNS retries"
                );
                return Err(DeliverError::Outbound(error));
            }
            // No request was made: nothing to record (the 503 is logged).
            Err(error) => return Err(DeliverError::Outbound(error)),
        };
        let latency_ms = attempted.attempt.latency_ms;
        let gone = is_gone(destination, &attempted, received_at, self.outbound.now());
        let record = |state: DeliveryState| {
            finish_attempt(
                self.metrics.as_deref(),
                &self.statuses,
                destination,
                FinishedAttempt::of((&event_id, &correlation_id), &attempted),
                state,
            )
        };
        match &attempted.outcome {
            TargetOutcome::Delivered(answer) => {
                tracing::info!(
                    event_id,
                    correlation_id,
                    sns_message_id,
                    destination = %name,
                    target_status = answer.status,
                    latency_ms,
                    "delivered"
                );
                record(DeliveryState::Delivered).await;
                Ok(ok_response(
                    serde_json::json!({"status": "delivered", "id": event_id}),
                ))
            }
            TargetOutcome::Refused(answer) if gone => {
                // Sent before SNS is answered: if the queue does not take
                // it, the 502 makes SNS try again, and nothing is lost.
                if let Err(error) = self
                    .dead_letters
                    .dead_letter(name, &String::from_utf8_lossy(raw))
                    .await
                {
                    tracing::error!(event_id, correlation_id, sns_message_id, destination = %name, target_status = answer.status, %error, "gone, but not dead-lettered; SNS retries");
                    record(DeliveryState::Retrying).await;
                    return Err(DeliverError::DeadLetterFailed(error));
                }
                tracing::warn!(
                    event_id,
                    correlation_id,
                    sns_message_id,
                    destination = %name,
                    target_status = answer.status,
                    latency_ms,
                    "target gone; dead-lettered at once, never retried"
                );
                record(DeliveryState::DeadLettered).await;
                Ok(ok_response(
                    serde_json::json!({"status": "dead_lettered", "id": event_id}),
                ))
            }
            TargetOutcome::Refused(answer) => {
                tracing::warn!(
                    event_id,
                    correlation_id,
                    sns_message_id,
                    destination = %name,
                    target_status = answer.status,
                    latency_ms,
                    "target refused; SNS retries"
                );
                record(DeliveryState::Retrying).await;
                Err(DeliverError::Outbound(OutboundError::TargetStatus(
                    answer.clone(),
                )))
            }
            TargetOutcome::Failed(error) => {
                tracing::warn!(event_id, correlation_id, sns_message_id, destination = %name, latency_ms, %error, "target failed; SNS retries");
                record(DeliveryState::Retrying).await;
                Err(DeliverError::Outbound(OutboundError::TargetFailed(
                    error.clone(),
                )))
            }
        }
    }
}

/// Whether the schedule ends the delivery at once (410 Gone). Tier 1's
/// other retries are SNS's, by the subscription's policy, so no other
/// verdict of the schedule is acted on here (SNS does not say which attempt
/// this is); the horizon is tier 2's to enforce.
fn is_gone(
    destination: &Destination,
    attempted: &Attempted,
    received_at: Option<SystemTime>,
    now: SystemTime,
) -> bool {
    attempted.failure(now).is_some_and(|failure| {
        matches!(
            schedule_of(destination).after_failure(&failure, received_at.unwrap_or(now), now, 1),
            NextStep::DeadLetter(DeadLetterReason::Gone)
        )
    })
}

fn ok_response(body: serde_json::Value) -> Response<Body> {
    response::json(StatusCode::OK, &body, None).map(Body::from)
}

fn error_response(error: &DeliverError) -> Response<Body> {
    let mut answer = response::error(error.status(), error.code(), &error.to_string(), None);
    if matches!(error, DeliverError::MethodNotAllowed) {
        answer = response::allowing(answer, "POST");
    }
    answer.map(Body::from)
}

#[cfg(test)]
mod tests;
