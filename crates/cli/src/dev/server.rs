//! The local HTTP edge: hyper on a loopback port, with the limits API
//! Gateway would enforce (body size, slow clients) and a bounded graceful
//! shutdown. Webhooks go to the ingest handler unchanged.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hookbridge_aws::clock::SystemClock;
use hookbridge_core::payload_ref::MAX_BODY_SIZE;
use hookbridge_core::ports::{EventPublisher, PayloadStore, SecretStore};
use hookbridge_core::response;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use ingest::Ingest;
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::Instant;
use uuid::Uuid;

use super::bus::REQUEST_HEADERS;
use super::console::{self, ApiRequest, Console};
use super::event_list::limit_of;
use super::store::listing::recent_events;

/// Largest body read: what hookbridge accepts. Larger bodies are refused as
/// soon as they are known to be larger.
pub const MAX_BODY: usize = MAX_BODY_SIZE;

/// How long the edge waits for slow clients and for in-flight requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The request line and headers must arrive within this.
    pub header_timeout: Duration,
    /// The whole body must arrive within this of the request's start.
    pub body_timeout: Duration,
    /// In-flight requests get this long to finish once shutdown starts.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(5),
        }
    }
}

type Body = Full<Bytes>;

/// What the server routes to.
pub struct App<S, P, B> {
    pub ingest: Ingest<S, P, SystemClock, B>,
    /// The console and `GET /events`, over the local store; `None` in
    /// `--aws` mode.
    pub console: Option<Console>,
    pub limits: Limits,
}

/// Serves `listener` until `shutdown` turns true, then lets in-flight
/// requests finish for at most the shutdown grace of its [`Limits`].
pub async fn serve<S, P, B>(
    listener: TcpListener,
    app: Arc<App<S, P, B>>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: SecretStore + 'static,
    P: EventPublisher + 'static,
    B: PayloadStore + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    connections.spawn(connection(stream, peer, Arc::clone(&app), shutdown.clone()));
                }
                Err(error) => {
                    // Out of file descriptors and the like: back off briefly.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let grace = app.limits.shutdown_grace;
    let drained = tokio::time::timeout(grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = connections.len(),
            "requests still open after {}; closing them",
            humantime::format_duration(grace)
        );
        connections.shutdown().await;
    }
}

async fn connection<S, P, B>(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Arc<App<S, P, B>>,
    mut shutdown: watch::Receiver<bool>,
) where
    S: SecretStore + 'static,
    P: EventPublisher + 'static,
    B: PayloadStore + 'static,
{
    let header_timeout = app.limits.header_timeout;
    let service = service_fn(move |request| {
        let app = Arc::clone(&app);
        async move { Ok::<_, Infallible>(route(&app, request).await) }
    });
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        _ = shutdown.changed() => {
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, %error, "connection ended with an error");
    }
}

async fn route<S, P, B>(app: &Arc<App<S, P, B>>, request: Request<Incoming>) -> Response<Body>
where
    S: SecretStore + 'static,
    P: EventPublisher + 'static,
    B: PayloadStore + 'static,
{
    if request.uri().path().starts_with("/webhooks/") {
        return webhook(app, request).await;
    }
    // Ingest gives a webhook its correlation id; every other answer gets one here.
    let correlation_id = &Uuid::new_v4().to_string();
    let path = request.uri().path();
    let for_console = path.starts_with("/api/") || console::asset(path).is_some();
    if let Some(console) = app.console.as_ref().filter(|_| for_console)
        && !console.host_allowed(request.headers())
    {
        return error(
            StatusCode::FORBIDDEN,
            "host_not_allowed",
            "the console answers only requests naming it by IP address, localhost or --host",
            correlation_id,
        );
    }
    if path.starts_with("/api/") {
        return api(app, request, correlation_id).await;
    }
    if let Some(page) = console::asset(path) {
        return match (only_get(&request, correlation_id), &app.console) {
            (Some(refused), _) => refused,
            (None, Some(_)) => into_hyper(page),
            (None, None) => not_local(correlation_id),
        };
    }
    match path {
        "/healthz" => only_get(&request, correlation_id)
            .unwrap_or_else(|| json(StatusCode::OK, &Status::OK, correlation_id)),
        "/events" => match only_get(&request, correlation_id) {
            Some(refused) => refused,
            None => events(app, request.uri().query(), correlation_id).await,
        },
        _ => error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!(
                "no route for {path}: use POST /webhooks/{{source}}, GET / (the console), \
                 /api/…, GET /events or GET /healthz"
            ),
            correlation_id,
        ),
    }
}

/// The console's API: a small JSON body at most, read like a webhook's.
async fn api<S, P, B>(
    app: &App<S, P, B>,
    request: Request<Incoming>,
    correlation_id: &str,
) -> Response<Body> {
    let Some(console) = &app.console else {
        return not_local(correlation_id);
    };
    let deadline = Instant::now() + app.limits.body_timeout;
    let (parts, body) = request.into_parts();
    let body = match read_body(body, deadline).await {
        Ok(body) => body,
        Err(refused) => return refused.response(correlation_id),
    };
    let request = ApiRequest {
        method: &parts.method,
        path: parts.uri.path(),
        query: parts.uri.query(),
        headers: &parts.headers,
        body: &body,
    };
    into_hyper(console::answer(console, request, correlation_id).await)
}

fn not_local(correlation_id: &str) -> Response<Body> {
    error(
        StatusCode::NOT_FOUND,
        "not_local",
        "with --aws, deliveries and records live in AWS: the console and GET /events are not served",
        correlation_id,
    )
}

#[derive(Serialize)]
struct Status {
    status: &'static str,
}

impl Status {
    const OK: Self = Self { status: "ok" };
}

fn only_get(request: &Request<Incoming>, correlation_id: &str) -> Option<Response<Body>> {
    (request.method() != Method::GET).then(|| {
        let refused = response::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "only GET is accepted",
            Some(correlation_id),
        );
        into_hyper(response::allowing(refused, "GET"))
    })
}

async fn events<S, P, B>(
    app: &App<S, P, B>,
    query: Option<&str>,
    correlation_id: &str,
) -> Response<Body> {
    let Some(Console { store, .. }) = &app.console else {
        return not_local(correlation_id);
    };
    let limit = match limit_of(query) {
        Ok(limit) => limit,
        Err(invalid) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_limit",
                &invalid.to_string(),
                correlation_id,
            );
        }
    };
    match store
        .call(move |connection| recent_events(connection, limit))
        .await
    {
        Ok(list) => json(StatusCode::OK, &list, correlation_id),
        Err(failure) => {
            tracing::error!(correlation_id, error = %failure, "reading events failed");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "store_unavailable",
                "the local store could not be read",
                correlation_id,
            )
        }
    }
}

/// Why a webhook body was not read.
#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("the body exceeds {MAX_BODY} bytes")]
    TooLarge,
    #[error("the body did not arrive in time")]
    TooSlow,
    #[error("the body could not be read: {0}")]
    Broken(hyper::Error),
}

impl BodyError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::TooSlow => (StatusCode::REQUEST_TIMEOUT, "request_timeout"),
            Self::Broken(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
        }
    }

    fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    fn response(&self, correlation_id: &str) -> Response<Body> {
        let (status, code) = self.status_and_code();
        let mut response = error(status, code, &self.to_string(), correlation_id);
        // The rest of the body is not read: the connection cannot be reused.
        response.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        response
    }
}

async fn webhook<S, P, B>(app: &Arc<App<S, P, B>>, request: Request<Incoming>) -> Response<Body>
where
    S: SecretStore + 'static,
    P: EventPublisher + 'static,
    B: PayloadStore + 'static,
{
    let deadline = Instant::now() + app.limits.body_timeout;
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let bytes = match declared {
        Some(length) if length > MAX_BODY as u64 => Err(BodyError::TooLarge),
        _ => read_body(body, deadline).await,
    };
    let bytes = match bytes {
        Ok(bytes) => bytes,
        Err(refused) => {
            // Refused before ingest runs: the edge names the correlation id.
            let correlation_id = Uuid::new_v4().to_string();
            tracing::warn!(path = parts.uri.path(), correlation_id, reason = %refused, "webhook refused at the edge");
            let response = refused.response(&correlation_id);
            if let Some(console) = &app.console {
                let source = parts.uri.path()["/webhooks/".len()..].trim_end_matches('/');
                let code = refused.code();
                console
                    .record_edge_refusal(
                        source,
                        (response.status(), code),
                        refused.to_string(),
                        &correlation_id,
                        &parts.headers,
                    )
                    .await;
            }
            return response;
        }
    };
    let request = Request::from_parts(parts, lambda_http::Body::from(bytes));
    // Once the body is in, the webhook is handled to the end in its own
    // task: a client that hangs up must not cut a decision off between its
    // commit and its log line.
    let app = Arc::clone(app);
    let response = match tokio::spawn(async move {
        let headers = app
            .console
            .as_ref()
            .and_then(|console| console.masked_headers_json(request.headers()));
        let decided = match headers {
            Some(headers) => {
                REQUEST_HEADERS
                    .scope(headers, app.ingest.decide(&request))
                    .await
            }
            None => app.ingest.decide(&request).await,
        };
        if let Some(console) = &app.console {
            console
                .record(&decided, request.headers(), request.body().as_ref())
                .await;
        }
        decided.response
    })
    .await
    {
        Ok(response) => response,
        Err(failure) => {
            let correlation_id = Uuid::new_v4().to_string();
            tracing::error!(correlation_id, error = %failure, "the ingest task failed");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "the webhook could not be handled; retry it",
                &correlation_id,
            );
        }
    };
    let (parts, body) = response.into_parts();
    Response::from_parts(parts, Full::new(Bytes::copy_from_slice(body.as_ref())))
}

/// Reads the body frame by frame, stopping as soon as it is too large or
/// `deadline` passes. The frames are kept as they came and joined once the
/// body is complete, into a buffer of its exact size: a body refused midway
/// costs no more than what was sent of it, and none is copied while growing.
async fn read_body(mut body: Incoming, deadline: Instant) -> Result<Vec<u8>, BodyError> {
    let mut frames = Vec::new();
    let mut size = 0;
    loop {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .map_err(|_| BodyError::TooSlow)?;
        let Some(frame) = frame else {
            break;
        };
        if let Ok(data) = frame.map_err(BodyError::Broken)?.into_data() {
            size += data.len();
            if size > MAX_BODY {
                return Err(BodyError::TooLarge);
            }
            frames.push(data);
        }
    }
    let mut collected = Vec::with_capacity(size);
    for data in &frames {
        collected.extend_from_slice(data);
    }
    Ok(collected)
}

fn error(status: StatusCode, code: &str, message: &str, correlation_id: &str) -> Response<Body> {
    into_hyper(response::error(status, code, message, Some(correlation_id)))
}

fn json(status: StatusCode, body: &impl Serialize, correlation_id: &str) -> Response<Body> {
    into_hyper(response::json(status, body, Some(correlation_id)))
}

fn into_hyper(response: Response<String>) -> Response<Body> {
    response.map(|body| Full::new(Bytes::from(body)))
}
