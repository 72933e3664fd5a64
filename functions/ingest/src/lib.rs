//! The ingest function: `POST /webhooks/{source}` → verified event on the bus.
//!
//! [`Ingest`] is generic over the core's ports, so the same handler runs in
//! Lambda (SSM + EventBridge adapters), in the local dev server and in tests
//! (in-memory ports). It answers 202 only once the bus has the event.

use std::sync::Arc;

use hookbridge_core::config::Sources;
use hookbridge_core::ingest::{self, IngestError, Webhook};
use hookbridge_core::ports::{
    Clock, EventPublisher, PayloadStore, PublishError, SecretStore, SecretStoreError,
};
use hookbridge_core::response;
use lambda_http::http::{HeaderMap, Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use serde::Serialize;
use tracing::{error, info, warn};

mod lambda;

pub use lambda::{AwsIngest, EVENT_BUS_VARIABLE, IngestFunction, Settings};

/// Route prefix of the webhook endpoint, for requests that carry no path
/// parameters (Lambda function URLs, the local server).
const ROUTE_PREFIX: &str = "/webhooks/";

/// What a 202 says: the event's id and the correlation id of this delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Accepted {
    pub id: String,
    pub correlation_id: String,
}

/// The ingest service: configuration and ports, built once per container.
pub struct Ingest<S, P, C, B> {
    sources: Arc<Sources>,
    secrets: S,
    publisher: P,
    clock: C,
    payloads: B,
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
        }
    }

    /// Handles one HTTP request; every outcome is an HTTP response.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let correlation_id = uuid::Uuid::new_v4().to_string();
        let source = source_of(&request);
        let result = self
            .ingest(
                source.as_deref().unwrap_or_default(),
                request.method(),
                request.headers(),
                request.body().as_ref(),
                &correlation_id,
            )
            .await;
        match result {
            Ok(accepted) => response::json(StatusCode::ACCEPTED, &accepted, Some(&correlation_id))
                .map(Body::from),
            Err(error) => error_response(&error, &correlation_id),
        }
    }

    /// The ingest rule over plain HTTP parts, logging one line per decision.
    pub async fn ingest(
        &self,
        source: &str,
        method: &Method,
        headers: &HeaderMap,
        body: &[u8],
        correlation_id: &str,
    ) -> Result<Accepted, IngestError> {
        let result = self
            .try_ingest(source, method, headers, body, correlation_id)
            .await;
        match &result {
            Ok(accepted) => info!(
                source,
                event_id = %accepted.id,
                correlation_id,
                "webhook accepted: on the bus"
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
        source: &str,
        method: &Method,
        headers: &HeaderMap,
        body: &[u8],
        correlation_id: &str,
    ) -> Result<Accepted, IngestError> {
        if method != Method::POST {
            return Err(IngestError::MethodNotAllowed);
        }
        let config = self
            .sources
            .get(source)
            .ok_or_else(|| IngestError::UnknownSource(source.to_owned()))?;
        ingest::check_body_size(body)?;
        let secrets = self.secrets.secrets(source).await.map_err(|e| {
            match &e {
                SecretStoreError::NotFound(_) => {
                    error!(source, correlation_id, reason = %e, "no secret stored for the source")
                }
                SecretStoreError::Unavailable(_) => {
                    error!(source, correlation_id, reason = %e, "secret store unavailable")
                }
            }
            IngestError::SecretsUnavailable
        })?;
        let webhook = Webhook {
            source,
            config,
            headers,
            body,
        };
        let mut prepared = ingest::prepare(
            &webhook,
            &secrets,
            self.clock.now(),
            correlation_id,
            self.payloads.bucket(),
        )?;
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
        Ok(Accepted {
            id: prepared.event_id,
            correlation_id: correlation_id.to_owned(),
        })
    }
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
