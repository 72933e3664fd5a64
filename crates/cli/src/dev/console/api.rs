//! The console's JSON API (README: "The local console"). Reads are GET;
//! the two actions are POST with a JSON body, which a page of another
//! origin cannot send without a CORS preflight this server never grants.

use std::time::SystemTime;

use hookbridge_core::ingest::form;
use hookbridge_core::response;
use http::{HeaderMap, Method, Response, StatusCode, header};
use serde::{Deserialize, Serialize};

use super::Console;
use crate::dev::event_list::{InvalidLimit, limit_of};
use crate::dev::store::StoreError;
use crate::dev::store::console::{EventFilter, counts, event_detail, event_page, redeliver};
use crate::dev::store::deliveries::{DeadLetterFilter, requeue_dead_letters};
use crate::dev::store::refusals::recent_refusals;
use crate::dev::store::states::DeliveryState;

/// Most dead letters one replay re-queues.
const REPLAY_LIMIT: usize = 1000;

/// One request to the API.
#[derive(Debug, Clone, Copy)]
pub struct ApiRequest<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Why an API request was not served; mapped to HTTP once, in [`answer`].
#[derive(Debug, thiserror::Error)]
enum ApiError {
    #[error("no API route {0}: see the README's \"The local console\"")]
    NoRoute(String),
    #[error("only {0} is accepted here")]
    Method(&'static str),
    #[error("{0}")]
    Limit(#[from] InvalidLimit),
    #[error("invalid query: {0}")]
    Query(String),
    #[error("no event is stored as {0}")]
    UnknownEvent(i64),
    #[error("actions take a JSON body: send `content-type: application/json`")]
    NotJson,
    #[error("actions are taken only from the console's own origin")]
    CrossOrigin,
    #[error("invalid body: {0}")]
    Body(String),
    #[error("the local store could not be read: {0}")]
    Store(#[from] StoreError),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::NoRoute(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Method(_) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            Self::Limit(_) => (StatusCode::BAD_REQUEST, "invalid_limit"),
            Self::Query(_) => (StatusCode::BAD_REQUEST, "invalid_query"),
            Self::UnknownEvent(_) => (StatusCode::NOT_FOUND, "unknown_event"),
            Self::NotJson => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            Self::CrossOrigin => (StatusCode::FORBIDDEN, "cross_origin"),
            Self::Body(_) => (StatusCode::BAD_REQUEST, "invalid_body"),
            Self::Store(_) => (StatusCode::SERVICE_UNAVAILABLE, "store_unavailable"),
        }
    }
}

/// Serves one API request.
pub async fn answer(
    console: &Console,
    request: ApiRequest<'_>,
    correlation_id: &str,
) -> Response<String> {
    match route(console, request).await {
        Ok(body) => response::json(StatusCode::OK, &body, Some(correlation_id)),
        Err(error) => {
            let (status, code) = error.status_and_code();
            if let ApiError::Store(failure) = &error {
                tracing::error!(correlation_id, error = %failure, "the console's store call failed");
            }
            let answer = response::error(status, code, &error.to_string(), Some(correlation_id));
            match error {
                ApiError::Method(allowed) => response::allowing(answer, allowed),
                _ => answer,
            }
        }
    }
}

async fn route(console: &Console, request: ApiRequest<'_>) -> Result<serde_json::Value, ApiError> {
    let segments: Vec<&str> = request.path["/api/".len()..]
        .trim_end_matches('/')
        .split('/')
        .collect();
    match segments.as_slice() {
        ["events"] => {
            only(request.method, &Method::GET)?;
            let (filter, cursor, limit) = page_query(request.query)?;
            let page = console
                .store
                .call(move |connection| event_page(connection, &filter, cursor, limit))
                .await?;
            Ok(to_json(&page))
        }
        ["events", seq] => {
            only(request.method, &Method::GET)?;
            let seq = event_seq(seq)?;
            let detail = console
                .store
                .call(move |connection| event_detail(connection, seq))
                .await?
                .ok_or(ApiError::UnknownEvent(seq))?;
            Ok(to_json(&detail))
        }
        ["events", seq, "redeliver"] => {
            only(request.method, &Method::POST)?;
            let seq = event_seq(seq)?;
            let action: Redeliver = action_body(&request)?;
            let destination = action.destination.clone();
            let requeued = console
                .store
                .write(move |connection| {
                    let known = event_detail(connection, seq)?.is_some();
                    let requeued =
                        redeliver(connection, seq, destination.as_deref(), SystemTime::now())?;
                    Ok(known.then_some(requeued))
                })
                .await?
                .ok_or(ApiError::UnknownEvent(seq))?;
            tracing::info!(seq, destinations = ?requeued, "redelivery requested from the console");
            Ok(serde_json::json!({ "requeued": requeued }))
        }
        ["replay"] => {
            only(request.method, &Method::POST)?;
            let action: Replay = action_body(&request)?;
            let requeued = console
                .store
                .write(move |connection| {
                    let filter = DeadLetterFilter {
                        event_id: action.event_id.as_deref(),
                        destination: action.destination.as_deref(),
                    };
                    requeue_dead_letters(connection, filter, REPLAY_LIMIT, SystemTime::now())
                })
                .await?;
            let requeued: Vec<Replayed> = requeued
                .into_iter()
                .map(|entry| Replayed {
                    event_id: entry.event_id,
                    source: entry.source,
                    destination: entry.destination,
                })
                .collect();
            tracing::info!(
                count = requeued.len(),
                "replay of dead letters requested from the console"
            );
            Ok(serde_json::json!({ "requeued": requeued }))
        }
        ["refusals"] => {
            only(request.method, &Method::GET)?;
            let limit = limit_of(request.query)?;
            let refusals = console
                .store
                .call(move |connection| recent_refusals(connection, limit))
                .await?;
            Ok(serde_json::json!({ "refusals": refusals }))
        }
        ["counts"] => {
            only(request.method, &Method::GET)?;
            let counted = console.store.call(|connection| counts(connection)).await?;
            Ok(to_json(&counted))
        }
        _ => Err(ApiError::NoRoute(request.path.to_owned())),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Redeliver {
    /// Only this destination's delivery; none: every finished one.
    destination: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Replay {
    event_id: Option<String>,
    destination: Option<String>,
}

#[derive(Debug, Serialize)]
struct Replayed {
    event_id: String,
    source: String,
    destination: String,
}

fn only(method: &Method, allowed: &Method) -> Result<(), ApiError> {
    if method == allowed {
        Ok(())
    } else if *allowed == Method::GET {
        Err(ApiError::Method("GET"))
    } else {
        Err(ApiError::Method("POST"))
    }
}

fn event_seq(text: &str) -> Result<i64, ApiError> {
    text.parse()
        .map_err(|_| ApiError::Query(format!("`{text}` is not an event's seq (a whole number)")))
}

/// The body of an action: JSON, from this server's own origin. An empty
/// body is an action without options.
fn action_body<T: Default + for<'de> Deserialize<'de>>(
    request: &ApiRequest<'_>,
) -> Result<T, ApiError> {
    let content_type = request
        .headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if !content_type.starts_with("application/json") {
        return Err(ApiError::NotJson);
    }
    if let Some(origin) = request.headers.get(header::ORIGIN) {
        let host = request
            .headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok());
        let own = host.map(|host| format!("http://{host}"));
        if origin.to_str().ok() != own.as_deref() {
            return Err(ApiError::CrossOrigin);
        }
    }
    if request.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(request.body).map_err(|error| ApiError::Body(error.to_string()))
}

/// The filter, cursor and limit of `GET /api/events`.
fn page_query(query: Option<&str>) -> Result<(EventFilter, Option<i64>, usize), ApiError> {
    let limit = limit_of(query)?;
    let fields = form::decode(query.unwrap_or_default().as_bytes())
        .map_err(|error| ApiError::Query(error.to_string()))?;
    let value = |name: &str| {
        form::first(&fields, name)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
    };
    let status = match value("status").as_deref() {
        None => None,
        Some("pending") => Some(DeliveryState::Pending),
        Some("retrying") => Some(DeliveryState::Retrying),
        Some("delivered") => Some(DeliveryState::Delivered),
        Some("dead_lettered") => Some(DeliveryState::DeadLettered),
        Some(other) => {
            return Err(ApiError::Query(format!(
                "status `{other}`: use pending, retrying, delivered or dead_lettered"
            )));
        }
    };
    let cursor = value("cursor")
        .map(|cursor| {
            cursor
                .parse::<i64>()
                .map_err(|_| ApiError::Query(format!("cursor `{cursor}` is not one this API gave")))
        })
        .transpose()?;
    let filter = EventFilter {
        source: value("source"),
        event_type: value("type"),
        status,
        event_id: value("id"),
    };
    Ok((filter, cursor, limit))
}

fn to_json(value: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(value).expect("the API's views always serialise")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_query_reads_filters_cursor_and_limit() {
        let (filter, cursor, limit) = page_query(Some(
            "source=stripe&type=invoice.%2A&status=dead_lettered&id=evt%201&cursor=9&limit=5",
        ))
        .unwrap();
        assert_eq!(
            filter,
            EventFilter {
                source: Some("stripe".into()),
                event_type: Some("invoice.*".into()),
                status: Some(DeliveryState::DeadLettered),
                event_id: Some("evt 1".into()),
            }
        );
        assert_eq!((cursor, limit), (Some(9), 5));
        assert_eq!(page_query(None).unwrap().0, EventFilter::default());
        assert!(matches!(
            page_query(Some("status=lost")),
            Err(ApiError::Query(_))
        ));
        assert!(matches!(
            page_query(Some("cursor=x")),
            Err(ApiError::Query(_))
        ));
    }

    #[test]
    fn an_action_needs_json_from_the_consoles_own_origin() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:3000".parse().unwrap());
        let request = |headers: &HeaderMap| {
            action_body::<Redeliver>(&ApiRequest {
                method: &Method::POST,
                path: "/api/events/1/redeliver",
                query: None,
                headers,
                body: br#"{"destination":"crm"}"#,
            })
        };
        assert!(
            matches!(request(&headers), Err(ApiError::NotJson)),
            "a plain form post"
        );
        headers.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        assert_eq!(
            request(&headers).unwrap().destination.as_deref(),
            Some("crm")
        );
        headers.insert(header::ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        assert!(request(&headers).is_ok(), "its own origin");
        headers.insert(header::ORIGIN, "https://evil.example".parse().unwrap());
        assert!(matches!(request(&headers), Err(ApiError::CrossOrigin)));
    }
}
