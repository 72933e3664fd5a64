//! [`EventPublisher`] on Amazon EventBridge: one `PutEvents` entry per event,
//! with bounded retries owned by this adapter.
//!
//! Retries live here, not in the SDK: a `PutEvents` answered 200 can still
//! report the entry as failed (throttled, internal error), which the SDK's
//! retry layer never sees. To keep one retry layer only, the publisher turns
//! the SDK's own retries off on its copy of the client (whatever the client
//! was built with) and bounds each attempt with a timeout, so a publish gives
//! up in bounded time.

use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::config::StalledStreamProtectionConfig;
use aws_sdk_eventbridge::config::http::HttpResponse;
use aws_sdk_eventbridge::config::retry::RetryConfig;
use aws_sdk_eventbridge::config::timeout::TimeoutConfig;
use aws_sdk_eventbridge::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_eventbridge::operation::put_events::{PutEventsError, PutEventsOutput};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use hookbridge_core::ports::{BusEvent, EventPublisher, PublishError};

use crate::retry::RetryPolicy;

/// Per-attempt bounds. EventBridge answers `PutEvents` in tens of
/// milliseconds; an attempt still pending after this is better retried.
const DEFAULT_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

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

/// `client` without the SDK's retries and with bounded attempts, configured
/// once rather than overridden per call (which would rebuild the SDK's
/// runtime plugins on every publish). Stalled-stream protection is off: the
/// attempt timeout already ends a stalled call, sooner than the protection's
/// 5 s grace period would, and the protection's throughput-checking body
/// wrappers and timers cost CPU on every publish.
fn bounded(client: &Client, attempt_timeout: Duration) -> Client {
    let config = client
        .config()
        .to_builder()
        .retry_config(RetryConfig::disabled())
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(attempt_timeout)
                .build(),
        )
        .build();
    Client::from_conf(config)
}

/// Publishes hookbridge events on one event bus.
#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus_name: String,
    retry: RetryPolicy,
}

impl EventBridgePublisher {
    /// A publisher on `bus_name` (a name or ARN) with the default retry
    /// policy (3 attempts, full-jitter backoff from 50 ms) and a 2 s bound
    /// per attempt: at most about 6.2 s in total.
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            client: bounded(&client, DEFAULT_ATTEMPT_TIMEOUT),
            bus_name: bus_name.into(),
            retry: RetryPolicy::default(),
        }
    }

    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn with_attempt_timeout(mut self, attempt_timeout: Duration) -> Self {
        self.client = bounded(&self.client, attempt_timeout);
        self
    }

    pub fn bus_name(&self) -> &str {
        &self.bus_name
    }

    async fn attempt(&self, entry: PutEventsRequestEntry) -> Disposition {
        let result = self.client.put_events().entries(entry).send().await;
        match result {
            Ok(output) => classify_output(&output),
            Err(error) => classify_sdk_error(&error),
        }
    }
}

impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, event: &BusEvent) -> Result<(), PublishError> {
        let entry = PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(&event.source)
            .detail_type(&event.detail_type)
            .detail(&event.detail)
            .build();
        let mut attempt = 1;
        loop {
            match self.attempt(entry.clone()).await {
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

fn is_transient_code(code: &str) -> bool {
    TRANSIENT_CODES.contains(&code)
}

/// A 200 answer still carries a per-entry outcome: with one entry sent, the
/// first entry's error code decides.
fn classify_output(output: &PutEventsOutput) -> Disposition {
    let failed_entry = output.entries().first().and_then(|entry| {
        entry
            .error_code()
            .map(|code| (code, entry.error_message().unwrap_or("")))
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
        None if output.failed_entry_count() > 0 => {
            Disposition::Transient("entry failed without an error code".to_owned())
        }
        None => Disposition::Accepted,
    }
}

fn classify_sdk_error(error: &SdkError<PutEventsError, HttpResponse>) -> Disposition {
    let reason = DisplayErrorContext(error).to_string();
    let transient = match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => {
            is_transient_service_error(service.err(), service.raw().status().as_u16())
        }
        // Building the request failed: a defect, not an outage.
        _ => false,
    };
    if transient {
        Disposition::Transient(reason)
    } else {
        Disposition::Rejected(reason)
    }
}

/// Throttling and server-side failures pass; ResourceNotFoundException (no
/// such bus), access denied and validation errors fail again if repeated.
fn is_transient_service_error(error: &PutEventsError, status: u16) -> bool {
    matches!(error, PutEventsError::InternalException(_))
        || error.code().is_some_and(is_transient_code)
        || status == 429
        || (500..600).contains(&status)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;

    fn output_with(entry: PutEventsResultEntry, failed: i32) -> PutEventsOutput {
        PutEventsOutput::builder()
            .failed_entry_count(failed)
            .entries(entry)
            .build()
    }

    fn failed_entry(code: &str) -> PutEventsOutput {
        output_with(
            PutEventsResultEntry::builder()
                .error_code(code)
                .error_message("details")
                .build(),
            1,
        )
    }

    #[test]
    fn an_entry_with_an_event_id_is_accepted() {
        let output = output_with(PutEventsResultEntry::builder().event_id("e-1").build(), 0);
        assert_eq!(classify_output(&output), Disposition::Accepted);
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
                matches!(
                    classify_output(&failed_entry(code)),
                    Disposition::Transient(_)
                ),
                "{code} must be retried"
            );
        }
    }

    #[test]
    fn other_entry_failures_are_rejected_with_their_code() {
        let Disposition::Rejected(reason) = classify_output(&failed_entry("MalformedDetail"))
        else {
            panic!("a malformed detail must not be retried");
        };
        assert!(reason.contains("MalformedDetail"));
    }

    #[test]
    fn a_failed_count_without_an_error_code_is_not_taken_as_success() {
        let output = output_with(PutEventsResultEntry::builder().build(), 1);
        assert!(matches!(
            classify_output(&output),
            Disposition::Transient(_)
        ));
    }

    fn service_error(code: &str) -> PutEventsError {
        PutEventsError::generic(
            aws_sdk_eventbridge::error::ErrorMetadata::builder()
                .code(code)
                .message("details")
                .build(),
        )
    }

    #[test]
    fn missing_bus_is_not_retried() {
        assert!(!is_transient_service_error(
            &service_error("ResourceNotFoundException"),
            400
        ));
    }

    #[test]
    fn client_errors_are_not_retried() {
        assert!(!is_transient_service_error(
            &service_error("AccessDeniedException"),
            400
        ));
        assert!(!is_transient_service_error(
            &service_error("ValidationException"),
            400
        ));
    }

    #[test]
    fn throttled_calls_are_retried() {
        assert!(is_transient_service_error(
            &service_error("ThrottlingException"),
            400
        ));
        assert!(is_transient_service_error(
            &service_error("SomethingNew"),
            429
        ));
    }

    #[test]
    fn server_errors_are_retried_whatever_their_code() {
        assert!(is_transient_service_error(
            &service_error("SomethingNew"),
            503
        ));
    }

    #[test]
    fn timeouts_are_retried() {
        let error: SdkError<PutEventsError, HttpResponse> =
            SdkError::timeout_error("attempt timed out");
        assert!(matches!(
            classify_sdk_error(&error),
            Disposition::Transient(_)
        ));
    }
}
