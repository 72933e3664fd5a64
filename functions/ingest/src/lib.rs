//! The ingest function: `POST /webhooks/{source}` → verified event on the bus.
//!
//! [`Ingest`] is generic over the core's ports, so the same handler runs in
//! Lambda (SSM + EventBridge adapters), in the local dev server and in tests
//! (in-memory ports). It answers 202 only once the bus has the event.

use std::sync::Arc;
use std::time::SystemTime;

use hookbridge_core::config::Sources;
use hookbridge_core::ingest::{self, IngestError, Ingested, Webhook};
use hookbridge_core::metrics::{IngestOutcome, Measurement, UNKNOWN_SOURCE};
use hookbridge_core::ports::{
    Clock, EventPublisher, MetricsRecorder, PayloadStore, PublishError, SecretStore,
    SecretStoreError,
};
use hookbridge_core::providers::Fallback;
use hookbridge_core::providers::Handshake;
use hookbridge_core::providers::handshake::QueryHandshake;
use hookbridge_core::response::{self, CORRELATION_HEADER};
use hookbridge_core::secret::SecretSet;
use hookbridge_core::verify::VerifyError;
use lambda_http::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use tracing::{error, info, warn};

#[cfg(feature = "aws")]
mod lambda;

#[cfg(feature = "aws")]
pub use lambda::{AwsIngest, EVENT_BUS_VARIABLE, IngestFunction, Settings};

/// Route prefix of the webhook endpoint, for requests that carry no path
/// parameters (Lambda function URLs, the local server).
const ROUTE_PREFIX: &str = "/webhooks/";

/// What a 202 says: the event's id and the correlation id of this delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accepted {
    pub id: String,
    pub correlation_id: String,
    /// Logged, not answered: the sender learns nothing from them.
    #[serde(skip)]
    pub fallbacks: Fallbacks,
}

/// What ingest answers a request it accepts: the event is on the bus, or a
/// provider's handshake was answered (nothing goes on the bus).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Accepted(Accepted),
    Handshake(Handshake),
}

/// A handled request: what was decided, and the response that says it.
#[derive(Debug)]
pub struct Decided {
    /// The `{source}` of the route, empty when the path names none.
    pub source: String,
    pub correlation_id: String,
    pub decision: Result<Answer, IngestError>,
    pub response: Response<Body>,
}

/// One request, as ingest reads it.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    pub source: &'a str,
    pub method: &'a Method,
    /// Scheme, host, path and query, as the provider called them.
    pub url: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl Inbound<'_> {
    fn query(&self) -> Option<&str> {
        self.url.split_once('?').map(|(_, query)| query)
    }
}

/// The ingest service: configuration and ports, built once per container.
pub struct Ingest<S, P, C, B> {
    sources: Arc<Sources>,
    secrets: S,
    publisher: P,
    clock: C,
    payloads: B,
    metrics: Option<Arc<dyn MetricsRecorder>>,
}

impl<S: SecretStore, P: EventPublisher, C: Clock, B: PayloadStore> Ingest<S, P, C, B> {
    pub fn new(
        sources: impl Into<Arc<Sources>>,
        secrets: S,
        publisher: P,
        clock: C,
        payloads: B,
    ) -> Self {
        Self {
            sources: sources.into(),
            secrets,
            publisher,
            clock,
            payloads,
            metrics: None,
        }
    }

    /// Reports every webhook's outcome to `recorder` (the Lambda's EMF
    /// lines); without one, nothing is measured.
    pub fn with_metrics(mut self, recorder: Arc<dyn MetricsRecorder>) -> Self {
        self.metrics = Some(recorder);
        self
    }

    /// Handles one HTTP request; every outcome is an HTTP response.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        self.decide(&request).await.response
    }

    /// Handles one HTTP request, returning the decision beside its
    /// response, for a caller that keeps its own record of decisions (the
    /// local console's refusal log).
    pub async fn decide(&self, request: &Request) -> Decided {
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let source = source_of(request);
        let url = url_of(request);
        let inbound = Inbound {
            source: source.as_deref().unwrap_or_default(),
            method: request.method(),
            url: &url,
            headers: request.headers(),
            body: request.body().as_ref(),
        };
        let decision = self.ingest(&inbound, &correlation_id).await;
        let response = match &decision {
            Ok(Answer::Accepted(accepted)) => {
                response::json(StatusCode::ACCEPTED, accepted, Some(&correlation_id))
                    .map(Body::from)
            }
            Ok(Answer::Handshake(handshake)) => {
                handshake_response(handshake.clone(), &correlation_id)
            }
            Err(error) => error_response(error, &correlation_id),
        };
        Decided {
            source: source.unwrap_or_default(),
            correlation_id,
            decision,
            response,
        }
    }

    /// The ingest rule over plain HTTP parts, logging one line per decision.
    pub async fn ingest(
        &self,
        inbound: &Inbound<'_>,
        correlation_id: &str,
    ) -> Result<Answer, IngestError> {
        let source = inbound.source;
        let started = self.clock.now();
        let result = self.try_ingest(inbound, correlation_id).await;
        self.measure(source, &result, started);
        match &result {
            Ok(Answer::Accepted(accepted)) => info!(
                source,
                event_id = %accepted.id,
                correlation_id,
                fallbacks = %accepted.fallbacks,
                "webhook accepted: on the bus"
            ),
            Ok(Answer::Handshake(handshake)) => info!(
                source,
                correlation_id,
                handshake = handshake.name,
                "handshake answered: nothing on the bus"
            ),
            Err(error) if error.status() >= 500 => error!(
                source,
                correlation_id,
                status = error.status(),
                code = error.code(),
                reason = %error,
                "webhook not accepted: provider will retry"
            ),
            Err(error) => warn!(
                source,
                correlation_id,
                status = error.status(),
                code = error.code(),
                reason = %error,
                "webhook rejected"
            ),
        }
        result
    }

    async fn try_ingest(
        &self,
        inbound: &Inbound<'_>,
        correlation_id: &str,
    ) -> Result<Answer, IngestError> {
        let source = inbound.source;
        let handshake = QueryHandshake::of(inbound.method, inbound.query());
        if handshake.is_none() && inbound.method != Method::POST {
            return Err(IngestError::MethodNotAllowed);
        }
        let config = self
            .sources
            .get(source)
            .ok_or_else(|| IngestError::UnknownSource(source.to_owned()))?;
        if let Some(handshake) = handshake {
            let secrets = if handshake.needs_secrets() {
                self.secrets_of(source, correlation_id).await?
            } else {
                Arc::default()
            };
            return Ok(Answer::Handshake(handshake.answer(&secrets)?));
        }
        ingest::check_body_size(inbound.body)?;
        let secrets = self.secrets_of(source, correlation_id).await?;
        let webhook = Webhook {
            source,
            config,
            method: inbound.method,
            url: inbound.url,
            headers: inbound.headers,
            body: inbound.body,
        };
        let mut prepared = match ingest::prepare(
            &webhook,
            &secrets,
            self.clock.now(),
            correlation_id,
            self.payloads.bucket(),
        ) {
            Ok(Ingested::Event(prepared)) => prepared,
            Ok(Ingested::Handshake(handshake)) => return Ok(Answer::Handshake(handshake)),
            Err(IngestError::Unverified(VerifyError::InvalidSecret)) => {
                // Which secret, by position, so an operator can fix it; never the secret.
                let problem = config.check_secrets(&secrets).err().unwrap_or_default();
                error!(
                    source,
                    correlation_id, problem, "a configured secret is not usable for this kind"
                );
                return Err(IngestError::Unverified(VerifyError::InvalidSecret));
            }
            Err(error) => return Err(error),
        };
        // The payload is durable before the event that references it exists.
        if let Some(stored) = prepared.stored_payload.take() {
            let reference = stored.reference;
            self.payloads
                .put(&reference.key, stored.bytes)
                .await
                .map_err(|e| {
                    error!(
                        source,
                        event_id = %prepared.event_id,
                        correlation_id,
                        key = %reference.key,
                        size = reference.size,
                        reason = %e,
                        "payload store did not take the payload"
                    );
                    IngestError::PayloadStoreUnavailable
                })?;
            info!(
                source,
                event_id = %prepared.event_id,
                correlation_id,
                key = %reference.key,
                size = reference.size,
                "payload stored apart: the event carries its reference"
            );
        }
        self.publisher
            .publish(&prepared.bus_event)
            .await
            .map_err(|e| {
                let attempts = match &e {
                    PublishError::Rejected(_) => 1,
                    PublishError::Unavailable { attempts, .. } => *attempts,
                };
                error!(
                    source,
                    event_id = %prepared.event_id,
                    correlation_id,
                    attempts,
                    reason = %e,
                    "event bus did not take the event"
                );
                IngestError::BusUnavailable
            })?;
        Ok(Answer::Accepted(Accepted {
            id: prepared.event_id,
            correlation_id: correlation_id.to_owned(),
            fallbacks: Fallbacks(prepared.fallbacks),
        }))
    }

    /// A handshake is no webhook: it is not counted.
    fn measure(&self, source: &str, result: &Result<Answer, IngestError>, started: SystemTime) {
        let Some(metrics) = &self.metrics else { return };
        let outcome = match result {
            Ok(Answer::Accepted(_)) => IngestOutcome::Accepted,
            Ok(Answer::Handshake(_)) => return,
            Err(error) => IngestOutcome::from(error),
        };
        // The sender chose the name of an unknown source: never a dimension.
        let source = if self.sources.get(source).is_some() {
            source
        } else {
            UNKNOWN_SOURCE
        };
        let latency_ms = self
            .clock
            .now()
            .duration_since(started)
            .map_or(0, |elapsed| {
                elapsed.as_millis().try_into().unwrap_or(u64::MAX)
            });
        metrics.record(&Measurement::Ingest {
            source,
            outcome,
            latency_ms,
        });
    }

    async fn secrets_of(
        &self,
        source: &str,
        correlation_id: &str,
    ) -> Result<Arc<SecretSet>, IngestError> {
        self.secrets.secrets(source).await.map_err(|e| {
            match &e {
                SecretStoreError::NotFound(_) => {
                    error!(source, correlation_id, reason = %e, "no secret stored for the source")
                }
                SecretStoreError::Unavailable(_) => {
                    error!(source, correlation_id, reason = %e, "secret store unavailable")
                }
            }
            IngestError::SecretsUnavailable
        })
    }
}

/// The metadata of an accepted webhook that fell back, for its log line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Fallbacks(pub Vec<Fallback>);

impl std::fmt::Display for Fallbacks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, fallback) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{fallback}")?;
        }
        Ok(())
    }
}

/// The URL the request arrived on. Lambda's requests carry scheme and host;
/// a local server's carry only the path, so they are `http` on their `Host`.
fn url_of(request: &Request) -> String {
    let uri = request.uri();
    if uri.scheme().is_some() && uri.authority().is_some() {
        return uri.to_string();
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    match request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
    {
        Some(host) => format!("http://{host}{path}"),
        None => path.to_owned(),
    }
}

/// A handshake's answer, never cached or sniffed as anything but its type.
fn handshake_response(handshake: Handshake, correlation_id: &str) -> Response<Body> {
    let mut builder = Response::builder()
        .status(handshake.status)
        .header("x-content-type-options", "nosniff")
        .header(header::CACHE_CONTROL, "no-store");
    if let Some(content_type) = handshake.content_type {
        builder = builder.header(header::CONTENT_TYPE, content_type);
    }
    if let Ok(value) = HeaderValue::from_str(correlation_id) {
        builder = builder.header(CORRELATION_HEADER, value);
    }
    builder
        .body(Body::from(handshake.body))
        .expect("status and headers are valid")
}

/// The `{source}` of the route: the API Gateway path parameter, else the
/// segment after `/webhooks/` (function URLs carry no path parameters).
fn source_of(request: &Request) -> Option<String> {
    if let Some(source) = request
        .path_parameters_ref()
        .and_then(|p| p.first("source"))
    {
        return Some(source.to_owned());
    }
    let path = request.uri().path();
    let start = path.find(ROUTE_PREFIX)? + ROUTE_PREFIX.len();
    let source = path[start..].trim_end_matches('/');
    (!source.is_empty() && !source.contains('/')).then(|| source.to_owned())
}

/// The one place an [`IngestError`] becomes HTTP.
fn error_response(error: &IngestError, correlation_id: &str) -> Response<Body> {
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut answer = response::error(
        status,
        error.code(),
        &error.to_string(),
        Some(correlation_id),
    );
    if matches!(error, IngestError::MethodNotAllowed) {
        answer = response::allowing(answer, "POST");
    }
    answer.map(Body::from)
}

#[cfg(test)]
mod tests;
