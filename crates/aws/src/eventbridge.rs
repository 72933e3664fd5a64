//! [`EventPublisher`] on Amazon EventBridge: one `PutEvents` entry per event,
//! with bounded retries owned by this adapter.
//!
//! Retries live here, not in the SDK: a `PutEvents` answered 200 can still
//! report the entry as failed (throttled, internal error), which an SDK
//! retry layer never sees. The call itself is made without the SDK's
//! orchestrator ([`put_events`]), on the route the SDK client resolves once;
//! each attempt is bounded by a timeout, so a publish gives up in bounded
//! time.

mod put_events;

use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::config::http::HttpResponse;
use aws_sdk_eventbridge::error::{DisplayErrorContext, SdkError};
use aws_sdk_eventbridge::operation::put_events::PutEventsError;
use bytes::Bytes;
use hookbridge_core::ports::{BusEvent, EventPublisher, PublishError};
use tokio::sync::OnceCell;

use crate::retry::RetryPolicy;
use put_events::{
    Answer, CallError, ErrorBody, PutEventsRequest, PutEventsResponse, RequestEntry, Route,
    RouteResolver,
};

/// Per-attempt bounds. EventBridge answers `PutEvents` in tens of
/// milliseconds; an attempt still pending after this is better retried.
const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Bytes of an error answer without AWS's error shape kept in its reason.
const UNREADABLE_EXCERPT: usize = 200;

/// Error codes (of a failed entry or of the whole call) worth another try.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "InternalException",
    "InternalFailure",
    "ServiceUnavailable",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Publishes hookbridge events on one event bus.
#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    resolver: RouteResolver,
    /// Resolved by the first publish, then kept for the container's life.
    route: OnceCell<Route>,
    bus_name: String,
    retry: RetryPolicy,
    attempt_timeout: Duration,
}

impl EventBridgePublisher {
    /// A publisher on `bus_name` (a name or ARN) through `client`'s
    /// configuration (region, credentials, endpoint, HTTP client), with the
    /// default retry policy (3 attempts, full-jitter backoff from 50 ms) and
    /// a 2 s bound per attempt: at most about 6.2 s in total.
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            resolver: RouteResolver::new(&client, CONNECT_TIMEOUT, DEFAULT_ATTEMPT_TIMEOUT),
            route: OnceCell::new(),
            bus_name: bus_name.into(),
            retry: RetryPolicy::default(),
            attempt_timeout: DEFAULT_ATTEMPT_TIMEOUT,
        }
    }

    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_attempt_timeout(mut self, attempt_timeout: Duration) -> Self {
        self.attempt_timeout = attempt_timeout;
        self
    }

    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }

    /// The URL `PutEvents` goes to, as the SDK resolved it for this
    /// client's configuration (the first publish resolves it otherwise).
    pub async fn endpoint(&self) -> Result<&str, PublishError> {
        match self.route().await {
            Ok(route) => Ok(route.endpoint()),
            Err(RouteFailure::Transient(reason)) => Err(PublishError::Unavailable {
                attempts: 1,
                reason,
            }),
            Err(RouteFailure::Rejected(reason)) => Err(PublishError::Rejected(reason)),
        }
    }

    async fn route(&self) -> Result<&Route, RouteFailure> {
        self.route
            .get_or_try_init(|| self.resolver.resolve())
            .await
            .map_err(|error| classify_sdk_error(&error))
    }

    async fn attempt(&self, body: &Bytes) -> Disposition {
        let route = match self.route().await {
            Ok(route) => route,
            Err(failure) => return failure.into(),
        };
        match route.call(body, self.attempt_timeout).await {
            Ok(answer) => classify_answer(&answer),
            Err(error) => classify_call_error(&error),
        }
    }
}

impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, event: &BusEvent) -> Result<(), PublishError> {
        let request = PutEventsRequest {
            entries: [RequestEntry {
                event_bus_name: &self.bus_name,
                source: &event.source,
                detail_type: &event.detail_type,
                detail: &event.detail,
            }],
        };
        let body = Bytes::from(
            serde_json::to_vec(&request).map_err(|e| PublishError::Rejected(e.to_string()))?,
        );
        let mut attempt = 1;
        loop {
            match self.attempt(&body).await {
                Disposition::Accepted => {
                    tracing::debug!(
                        bus = %self.bus_name,
                        source = %event.source,
                        detail_type = %event.detail_type,
                        attempt,
                        "event accepted by the bus"
                    );
                    return Ok(());
                }
                Disposition::Rejected(reason) => {
                    tracing::error!(
                        bus = %self.bus_name,
                        source = %event.source,
                        detail_type = %event.detail_type,
                        attempt,
                        %reason,
                        "event rejected by the bus, not retried"
                    );
                    return Err(PublishError::Rejected(reason));
                }
                Disposition::Transient(reason) if self.retry.allows_retry_after(attempt) => {
                    let delay = self.retry.jittered_delay(attempt, fastrand::f64());
                    tracing::warn!(
                        bus = %self.bus_name,
                        source = %event.source,
                        detail_type = %event.detail_type,
                        attempt,
                        delay_ms = delay.as_millis(),
                        %reason,
                        "publish failed transiently, retrying"
                    );
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Disposition::Transient(reason) => {
                    tracing::error!(
                        bus = %self.bus_name,
                        source = %event.source,
                        detail_type = %event.detail_type,
                        attempt,
                        %reason,
                        "publish failed, retries exhausted"
                    );
                    return Err(PublishError::Unavailable {
                        attempts: attempt,
                        reason,
                    });
                }
            }
        }
    }
}

/// What one attempt means for the publish.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Disposition {
    Accepted,
    /// Another attempt may succeed.
    Transient(String),
    /// Retrying the same request cannot help.
    Rejected(String),
}

/// Why no route could be had: resolving one accepts no event.
#[derive(Debug, Clone, PartialEq, Eq)]
enum RouteFailure {
    Transient(String),
    Rejected(String),
}

impl From<RouteFailure> for Disposition {
    fn from(failure: RouteFailure) -> Self {
        match failure {
            RouteFailure::Transient(reason) => Self::Transient(reason),
            RouteFailure::Rejected(reason) => Self::Rejected(reason),
        }
    }
}

fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code)
}

/// A 200 answer still carries a per-entry outcome: with one entry sent, the
/// first entry's error code decides. An answer that is not a `PutEvents`
/// result says nothing about the event: another attempt may get one.
fn classify_answer(answer: &Answer) -> Disposition {
    if !(200..300).contains(&answer.status) {
        return classify_error_answer(answer);
    }
    let output: PutEventsResponse = match serde_json::from_slice(&answer.body) {
        Ok(output) => output,
        Err(error) => {
            return Disposition::Transient(format!(
                "unreadable PutEvents answer (HTTP {}): {error}",
                answer.status
            ));
        }
    };
    let failed_entry = output.entries.first().and_then(|entry| {
        entry
            .error_code
            .as_deref()
            .map(|code| (code, entry.error_message.as_deref().unwrap_or("")))
    });
    match failed_entry {
        Some((code, message)) => {
            let reason = format!("entry failed: {code}: {message}");
            if is_transient_code(code) {
                Disposition::Transient(reason)
            } else {
                Disposition::Rejected(reason)
            }
        }
        None if output.failed_entry_count > 0 => {
            Disposition::Transient("entry failed without an error code".to_owned())
        }
        None => Disposition::Accepted,
    }
}

/// Throttling and server-side failures pass; ResourceNotFoundException (no
/// such bus), access denied and validation errors fail again if repeated.
/// The code is the `x-amzn-ErrorType` header's, else the body's `__type`,
/// without its namespace (`…#Code`) or details (`Code:…`).
fn classify_error_answer(answer: &Answer) -> Disposition {
    let body: ErrorBody = serde_json::from_slice(&answer.body).unwrap_or_default();
    let code = answer
        .error_type
        .as_deref()
        .or(body.error_type.as_deref())
        .map(|code| {
            let code = code.split(':').next().unwrap_or(code);
            code.rsplit('#').next().unwrap_or(code)
        });
    let reason = match (code, &body.message) {
        (Some(code), message) => format!(
            "service error (HTTP {}): {code}: {}",
            answer.status,
            message.as_deref().unwrap_or("")
        ),
        // Not AWS's JSON error shape: the start of what came, to diagnose.
        (None, _) => format!(
            "service error (HTTP {}): {}",
            answer.status,
            String::from_utf8_lossy(&answer.body[..answer.body.len().min(UNREADABLE_EXCERPT)])
        ),
    };
    let transient = code.is_some_and(is_transient_code)
        || answer.status == 429
        || (500..600).contains(&answer.status);
    if transient {
        Disposition::Transient(reason)
    } else {
        Disposition::Rejected(reason)
    }
}

/// No answer: the network, the endpoint or the credentials may recover; a
/// request that cannot be built is a defect, not an outage.
fn classify_call_error(error: &CallError) -> Disposition {
    match error {
        CallError::Request(_) => Disposition::Rejected(error.to_string()),
        CallError::Credentials(_) | CallError::Dispatch(_) | CallError::TimedOut(_) => {
            Disposition::Transient(error.to_string())
        }
    }
}

/// The SDK's error from resolving the route, classified as the SDK's
/// `PutEvents` errors were: what did not reach the service may pass.
fn classify_sdk_error(error: &SdkError<PutEventsError, HttpResponse>) -> RouteFailure {
    let reason = DisplayErrorContext(error).to_string();
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            RouteFailure::Transient(reason)
        }
        _ => RouteFailure::Rejected(reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            error_type: None,
            body: Bytes::from(body.to_owned()),
        }
    }

    fn failed_entry(code: &str) -> Answer {
        answer(
            200,
            &format!(
                r#"{{"FailedEntryCount":1,"Entries":[{{"ErrorCode":"{code}","ErrorMessage":"details"}}]}}"#
            ),
        )
    }

    fn service_error(status: u16, code: &str) -> Answer {
        answer(
            status,
            &format!(r#"{{"__type":"{code}","message":"details"}}"#),
        )
    }

    fn is_transient(disposition: Disposition) -> bool {
        matches!(disposition, Disposition::Transient(_))
    }

    #[test]
    fn an_entry_with_an_event_id_is_accepted() {
        let accepted = answer(
            200,
            r#"{"FailedEntryCount":0,"Entries":[{"EventId":"e-1"}]}"#,
        );
        assert_eq!(classify_answer(&accepted), Disposition::Accepted);
    }

    #[test]
    fn throttled_and_internal_entry_failures_are_retried() {
        for code in [
            "ThrottlingException",
            "InternalException",
            "InternalFailure",
            "ServiceUnavailable",
        ] {
            assert!(
                is_transient(classify_answer(&failed_entry(code))),
                "{code} must be retried"
            );
        }
    }

    #[test]
    fn other_entry_failures_are_rejected_with_their_code() {
        let Disposition::Rejected(reason) = classify_answer(&failed_entry("MalformedDetail"))
        else {
            panic!("a malformed detail must not be retried");
        };
        assert!(reason.contains("MalformedDetail"));
    }

    #[test]
    fn a_failed_count_without_an_error_code_is_not_taken_as_success() {
        let output = answer(200, r#"{"FailedEntryCount":1,"Entries":[{}]}"#);
        assert!(is_transient(classify_answer(&output)));
    }

    #[test]
    fn an_answer_that_is_no_put_events_result_is_retried_not_accepted() {
        for body in ["<html>gateway</html>", "", r#"{"Entries":"many"}"#, "[1,2]"] {
            assert!(
                is_transient(classify_answer(&answer(200, body))),
                "{body:?} must not be taken as accepted"
            );
        }
    }

    #[test]
    fn missing_bus_is_not_retried() {
        let Disposition::Rejected(reason) =
            classify_answer(&service_error(400, "ResourceNotFoundException"))
        else {
            panic!("a missing bus must not be retried");
        };
        assert!(reason.contains("ResourceNotFoundException"), "{reason}");
    }

    #[test]
    fn client_errors_are_not_retried() {
        for code in ["AccessDeniedException", "ValidationException"] {
            assert!(!is_transient(classify_answer(&service_error(400, code))));
        }
        assert!(!is_transient(classify_answer(&answer(403, "denied"))));
    }

    #[test]
    fn throttled_calls_are_retried() {
        assert!(is_transient(classify_answer(&service_error(
            400,
            "ThrottlingException"
        ))));
        assert!(is_transient(classify_answer(&service_error(
            400,
            "com.amazonaws.events#ThrottlingException"
        ))));
        assert!(is_transient(classify_answer(&service_error(
            429,
            "SomethingNew"
        ))));
    }

    #[test]
    fn the_error_type_header_names_the_error_when_the_body_does_not() {
        let mut throttled = answer(400, "not json");
        throttled.error_type = Some("ThrottlingException:http://internal.amazon.com/".to_owned());
        assert!(is_transient(classify_answer(&throttled)));
    }

    #[test]
    fn server_errors_are_retried_whatever_their_code_or_body() {
        assert!(is_transient(classify_answer(&service_error(
            503,
            "SomethingNew"
        ))));
        assert!(is_transient(classify_answer(&answer(502, "<html>"))));
    }

    #[test]
    fn timeouts_dispatch_and_credential_failures_are_retried_a_bad_request_is_not() {
        assert!(is_transient(classify_call_error(&CallError::TimedOut(
            Duration::from_secs(2)
        ))));
        assert!(is_transient(classify_call_error(&CallError::Dispatch(
            "connection refused".into()
        ))));
        assert!(is_transient(classify_call_error(&CallError::Credentials(
            "expired".into()
        ))));
        assert!(!is_transient(classify_call_error(&CallError::Request(
            "invalid uri".into()
        ))));
    }

    #[test]
    fn an_sdk_timeout_while_resolving_the_route_is_retried() {
        let error: SdkError<PutEventsError, HttpResponse> =
            SdkError::timeout_error("attempt timed out");
        assert!(is_transient(classify_sdk_error(&error).into()));
    }
}
