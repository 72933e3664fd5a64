//! One `AWSEvents.PutEvents` call without the SDK's orchestrator: the JSON
//! 1.1 request signed with SigV4 (`aws-sigv4`, the SDK's own signer) and
//! sent through the SDK client's own HTTP connector (hyper and rustls, the
//! connections kept alive).
//!
//! The orchestrator (interceptors, runtime plugins, config-bag lookups,
//! user agent) cost about a third of an accepted webhook's CPU
//! (docs/performance.md). What it decided once per container is still the
//! SDK's: [`Route::resolve`] runs one orchestrated `PutEvents` that stops
//! before signing, so the endpoint (the `AWS_ENDPOINT_URL*` settings, the
//! region's partition, FIPS and dual-stack), the HTTP client, the identity
//! cache (credentials cached and refreshed as the SDK does) and the time
//! source are the ones the SDK client would have used.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::config::http::HttpRequest;
use aws_sdk_eventbridge::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_eventbridge::config::retry::RetryConfig;
use aws_sdk_eventbridge::config::timeout::TimeoutConfig;
use aws_sdk_eventbridge::config::{
    ConfigBag, HttpClient, Intercept, ResolveCachedIdentity, RuntimeComponents,
};
use aws_sdk_eventbridge::error::{DisplayErrorContext, SdkError};
use aws_sdk_eventbridge::operation::put_events::PutEventsError;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::auth::AuthSchemeId;
use aws_smithy_runtime_api::client::http::{
    HttpConnector, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::identity::SharedIdentityResolver;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::runtime_components::GetIdentityResolver;
use aws_smithy_types::body::SdkBody;
use bytes::Bytes;
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};

/// SigV4 signing name of EventBridge.
const SIGNING_NAME: &str = "events";
/// The SDK's SigV4 scheme, whose identity resolver gives the credentials.
const SIGV4: AuthSchemeId = AuthSchemeId::new("sigv4");
const TARGET: &str = "AWSEvents.PutEvents";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
const ROUTE_CAPTURED: &str = "PutEvents route captured; the resolving call stops here";

/// Where and how this container's `PutEvents` calls go.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    endpoint: String,
    region: String,
    connector: SharedHttpConnector,
    credentials: SharedIdentityResolver,
    components: RuntimeComponents,
}

/// The SDK client that resolves the route, once: the caller's client with
/// the capturing interceptor, without retries and with bounded attempts.
/// The interceptor is part of this client's configuration rather than
/// added per call, which would link the SDK's per-call config-override
/// machinery into the binary for one call.
#[derive(Debug, Clone)]
pub(crate) struct RouteResolver {
    client: Client,
    captured: CaptureRoute,
    connect_timeout: Duration,
}

impl RouteResolver {
    pub(crate) fn new(
        client: &Client,
        connect_timeout: Duration,
        attempt_timeout: Duration,
    ) -> Self {
        let captured = CaptureRoute::default();
        let config = client
            .config()
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(connect_timeout)
                    .operation_attempt_timeout(attempt_timeout)
                    .build(),
            )
            .interceptor(captured.clone())
            .build();
        Self {
            client: Client::from_conf(config),
            captured,
            connect_timeout,
        }
    }

    /// The SDK's own choices for the client's `PutEvents`, from one
    /// orchestrated call that ends before signing (nothing is sent). Its
    /// failure (no region, no credentials, an endpoint rule refusing the
    /// configuration) is the SDK's error, classified as the SDK call's was.
    pub(crate) async fn resolve(&self) -> Result<Route, SdkError<PutEventsError, HttpResponse>> {
        let probe = PutEventsRequestEntry::builder()
            .source("hookbridge.route")
            .build();
        let outcome = self.client.put_events().entries(probe).send().await;
        let seen = self
            .captured
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match (seen, outcome) {
            (Some(seen), _) => {
                let settings = HttpConnectorSettings::builder()
                    .connect_timeout(self.connect_timeout)
                    .build();
                let http_client = seen.components.http_client().ok_or_else(|| {
                    SdkError::construction_failure("the SDK client has no HTTP client")
                })?;
                let region = self
                    .client
                    .config()
                    .region()
                    .map(ToString::to_string)
                    .ok_or_else(|| SdkError::construction_failure("no region configured"))?;
                let credentials = seen.components.identity_resolver(SIGV4).ok_or_else(|| {
                    SdkError::construction_failure("no credentials provider configured")
                })?;
                Ok(Route {
                    connector: http_client.http_connector(&settings, &seen.components),
                    endpoint: seen.endpoint,
                    region,
                    credentials,
                    components: seen.components,
                })
            }
            (None, Err(error)) => Err(error),
            (None, Ok(_)) => Err(SdkError::construction_failure(
                "the resolving call was sent instead of stopping before signing",
            )),
        }
    }
}

impl Route {
    pub(crate) fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// One signed call with `body`, answered or not within `timeout`.
    pub(crate) async fn call(&self, body: &Bytes, timeout: Duration) -> Result<Answer, CallError> {
        let request = self.signed_request(body).await?;
        let exchange = async {
            let response = self
                .connector
                .call(request)
                .await
                .map_err(|e| CallError::Dispatch(DisplayErrorContext(e).to_string()))?;
            let status = response.status().as_u16();
            let error_type = response
                .headers()
                .get("x-amzn-errortype")
                .map(ToOwned::to_owned);
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| CallError::Dispatch(format!("reading the answer: {e}")))?
                .to_bytes();
            Ok(Answer {
                status,
                error_type,
                body,
            })
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| CallError::TimedOut(timeout))?
    }

    async fn signed_request(&self, body: &Bytes) -> Result<HttpRequest, CallError> {
        let identity = self
            .components
            .identity_cache()
            .resolve_cached_identity(
                self.credentials.clone(),
                &self.components,
                &ConfigBag::base(),
            )
            .await
            .map_err(|e| CallError::Credentials(DisplayErrorContext(&*e).to_string()))?;
        let now = self
            .components
            .time_source()
            .map_or_else(std::time::SystemTime::now, |time| time.now());
        let params = SigningParams::builder()
            .identity(&identity)
            .region(&self.region)
            .name(SIGNING_NAME)
            .time(now)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| CallError::Request(e.to_string()))?
            .into();
        let mut request = http::Request::post(&self.endpoint)
            .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
            .header("x-amz-target", TARGET)
            .header(http::header::CONTENT_LENGTH, body.len())
            .body(SdkBody::from(body.clone()))
            .map_err(|e| CallError::Request(e.to_string()))?;
        let headers = request
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str(), value.to_str().unwrap_or_default()));
        let signable = SignableRequest::new(
            "POST",
            self.endpoint.as_str(),
            headers,
            SignableBody::Bytes(body),
        )
        .map_err(|e| CallError::Request(e.to_string()))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| CallError::Request(e.to_string()))?
            .into_parts();
        instructions.apply_to_request_http1x(&mut request);
        HttpRequest::try_from(request).map_err(|e| CallError::Request(e.to_string()))
    }
}

/// What the endpoint answered, before it is read as a `PutEvents` result.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    /// `x-amzn-ErrorType`, which names the error when the body does not.
    pub error_type: Option<String>,
    pub body: Bytes,
}

/// Why a call got no answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    #[error("no credentials: {0}")]
    Credentials(String),
    #[error("the request could not be built or signed: {0}")]
    Request(String),
    #[error("dispatch failure: {0}")]
    Dispatch(String),
    #[error("no answer within {0:?}")]
    TimedOut(Duration),
}

/// The request body: one entry.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutEventsRequest<'a> {
    pub entries: [RequestEntry<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RequestEntry<'a> {
    pub event_bus_name: &'a str,
    pub source: &'a str,
    pub detail_type: &'a str,
    pub detail: &'a str,
}

/// A 200's body: every entry's outcome.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PutEventsResponse {
    #[serde(default)]
    pub failed_entry_count: i32,
    #[serde(default)]
    pub entries: Vec<ResultEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ResultEntry {
    pub error_code: Option<String>,
    pub error_message: Option<String>,
}

/// An error answer's body (`awsJson1_1`): `__type` (possibly
/// `namespace#Code`) and a message, in either case.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ErrorBody {
    #[serde(rename = "__type")]
    pub error_type: Option<String>,
    #[serde(alias = "Message")]
    pub message: Option<String>,
}

/// What the resolving call saw just before signing.
#[derive(Debug)]
struct Seen {
    endpoint: String,
    components: RuntimeComponents,
}

#[derive(Debug, Default, Clone)]
struct CaptureRoute(Arc<Mutex<Option<Seen>>>);

impl Intercept for CaptureRoute {
    fn name(&self) -> &'static str {
        "CaptureRoute"
    }

    fn read_before_signing(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let seen = Seen {
            endpoint: context.request().uri().to_owned(),
            components: components.clone(),
        };
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Some(seen);
        Err(ROUTE_CAPTURED.into())
    }
}
