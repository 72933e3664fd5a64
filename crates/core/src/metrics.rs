//! What hookbridge counts, named once: the outcome of each decision the
//! handlers make, the CloudWatch metrics (names, units, dimensions) each
//! outcome adds to, and the CloudWatch Embedded Metric Format (EMF) line
//! that carries them.
//!
//! Handlers report a [`Measurement`] through the
//! [`MetricsRecorder`](crate::ports::MetricsRecorder) port; in Lambda the
//! recorder writes [`emf_line`] to stdout, where CloudWatch Logs extracts
//! the metrics (no API call on the hot path). Dimensions are only the
//! stack, a configured source or destination name, and a fixed reason or
//! failure class: never an event id, a secret or anything from a payload.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::ingest::IngestError;
use crate::ports::TargetError;
use crate::verify::VerifyError;

/// The CloudWatch namespace of every hookbridge metric.
pub const NAMESPACE: &str = "hookbridge";

/// The `Source` value of a request naming no configured source: the name
/// in the URL is the sender's choice, so it never becomes a dimension.
/// Parentheses are not allowed in source names, so no source is called so.
pub const UNKNOWN_SOURCE: &str = "(unknown)";

/// A CloudWatch unit, as EMF spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Count => "Count",
            Self::Milliseconds => "Milliseconds",
        }
    }
}

/// A dimension every metric of hookbridge may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dimension {
    /// The CloudFormation stack's name.
    Stack,
    /// A configured source (or [`UNKNOWN_SOURCE`]).
    Source,
    /// Why ingest refused a webhook: [`Refusal::as_str`].
    Reason,
    /// A configured destination.
    Destination,
    /// How a delivery attempt failed: [`FailureClass::as_str`].
    Class,
}

impl Dimension {
    pub fn name(self) -> &'static str {
        match self {
            Self::Stack => "Stack",
            Self::Source => "Source",
            Self::Reason => "Reason",
            Self::Destination => "Destination",
            Self::Class => "Class",
        }
    }
}

use Dimension::{Class, Destination, Reason, Source, Stack};

const BY_SOURCE: &[&[Dimension]] = &[&[Stack, Source]];
const BY_REASON: &[&[Dimension]] = &[&[Stack, Source, Reason], &[Stack, Reason]];
const BY_DESTINATION: &[&[Dimension]] = &[&[Stack, Destination]];
const BY_CLASS: &[&[Dimension]] = &[&[Stack, Destination, Class]];

/// Every metric hookbridge emits. The template's dashboard and alarms may
/// name only these (a test reads the template and checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Ingest: a webhook verified and put on the bus (202).
    Accepted,
    /// Ingest: a webhook refused (4xx), by [`Refusal`].
    Refused,
    /// Ingest: a webhook answered 503 (the provider retries).
    Unavailable,
    /// Ingest: milliseconds from the request to the answer.
    IngestLatency,
    /// Deliver: a request made to a destination.
    DeliveryAttempts,
    /// Deliver: 1 for an attempt the destination took (2xx), else 0, so the
    /// average is the success rate and the sum the deliveries.
    Delivered,
    /// Deliver: an attempt that failed, by [`FailureClass`].
    DeliveryFailed,
    /// Deliver: milliseconds the destination took to answer (or fail).
    DeliveryLatency,
    /// Deliver: a delivery put in the destination's final dead-letter queue
    /// after this attempt (a 410 Gone, or the horizon reached).
    DeadLettered,
    /// Consume: an event recorded for the first time.
    Recorded,
    /// Consume: an event already recorded (nothing changed).
    Duplicate,
    /// Consume: an object's projection moved to this event.
    ProjectionUpdated,
    /// Consume: the projection already held a newer event.
    ProjectionSuperseded,
    /// Consume: an event not recorded (an error Lambda retries).
    ConsumeFailed,
}

impl Metric {
    pub const ALL: [Self; 14] = [
        Self::Accepted,
        Self::Refused,
        Self::Unavailable,
        Self::IngestLatency,
        Self::DeliveryAttempts,
        Self::Delivered,
        Self::DeliveryFailed,
        Self::DeliveryLatency,
        Self::DeadLettered,
        Self::Recorded,
        Self::Duplicate,
        Self::ProjectionUpdated,
        Self::ProjectionSuperseded,
        Self::ConsumeFailed,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Accepted => "Accepted",
            Self::Refused => "Refused",
            Self::Unavailable => "Unavailable",
            Self::IngestLatency => "IngestLatency",
            Self::DeliveryAttempts => "DeliveryAttempts",
            Self::Delivered => "Delivered",
            Self::DeliveryFailed => "DeliveryFailed",
            Self::DeliveryLatency => "DeliveryLatency",
            Self::DeadLettered => "DeadLettered",
            Self::Recorded => "Recorded",
            Self::Duplicate => "Duplicate",
            Self::ProjectionUpdated => "ProjectionUpdated",
            Self::ProjectionSuperseded => "ProjectionSuperseded",
            Self::ConsumeFailed => "ConsumeFailed",
        }
    }

    pub fn unit(self) -> Unit {
        match self {
            Self::IngestLatency | Self::DeliveryLatency => Unit::Milliseconds,
            _ => Unit::Count,
        }
    }

    /// The dimension sets CloudWatch aggregates the metric by: each is a
    /// custom metric billed per combination of values, so a set exists only
    /// where the dashboard or an alarm reads it (refusals by reason alone,
    /// whatever the source).
    pub fn dimension_sets(self) -> &'static [&'static [Dimension]] {
        match self {
            Self::Refused => BY_REASON,
            Self::DeliveryFailed => BY_CLASS,
            Self::DeliveryAttempts
            | Self::Delivered
            | Self::DeliveryLatency
            | Self::DeadLettered => BY_DESTINATION,
            Self::Accepted
            | Self::Unavailable
            | Self::IngestLatency
            | Self::Recorded
            | Self::Duplicate
            | Self::ProjectionUpdated
            | Self::ProjectionSuperseded
            | Self::ConsumeFailed => BY_SOURCE,
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|metric| metric.name() == name)
    }
}

/// The metric-math expression of a delivery failure rate in percent, over
/// the ids `attempts` ([`Metric::DeliveryAttempts`], sum) and `delivered`
/// ([`Metric::Delivered`], sum). A period with fewer than
/// `minimum_attempts` is taken over that many, so one failure among two
/// attempts is no 50 % outage.
pub fn failure_rate_expression(minimum_attempts: u32) -> String {
    format!(
        "100 * (attempts - delivered) / IF(attempts < {minimum_attempts}, {minimum_attempts}, attempts)"
    )
}

/// Why ingest refused a webhook (its 4xx answers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// 401: signature missing, malformed or wrong.
    Signature,
    /// 401: the signed timestamp is outside the tolerance.
    Stale,
    /// 404: no such source.
    UnknownSource,
    /// 400: the body cannot be read.
    Payload,
    /// 413: over 5 MiB.
    TooLarge,
    /// 405: not a POST.
    Method,
}

impl Refusal {
    pub const ALL: [Self; 6] = [
        Self::Signature,
        Self::Stale,
        Self::UnknownSource,
        Self::Payload,
        Self::TooLarge,
        Self::Method,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::Stale => "stale",
            Self::UnknownSource => "unknown_source",
            Self::Payload => "payload",
            Self::TooLarge => "too_large",
            Self::Method => "method",
        }
    }
}

/// How one webhook ended at ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IngestOutcome {
    Accepted,
    Refused(Refusal),
    Unavailable,
}

impl From<&IngestError> for IngestOutcome {
    fn from(error: &IngestError) -> Self {
        match error {
            IngestError::UnknownSource(_) => Self::Refused(Refusal::UnknownSource),
            IngestError::MethodNotAllowed => Self::Refused(Refusal::Method),
            IngestError::TooLarge { .. } => Self::Refused(Refusal::TooLarge),
            IngestError::InvalidPayload(_) => Self::Refused(Refusal::Payload),
            IngestError::Unverified(VerifyError::OutsideTolerance { .. }) => {
                Self::Refused(Refusal::Stale)
            }
            // Our secret, not the sender's signature: a 503, as answered.
            IngestError::Unverified(VerifyError::InvalidSecret) => Self::Unavailable,
            IngestError::Unverified(_) => Self::Refused(Refusal::Signature),
            IngestError::SecretsUnavailable
            | IngestError::BusUnavailable
            | IngestError::PayloadStoreUnavailable => Self::Unavailable,
        }
    }
}

/// How a delivery attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureClass {
    /// The destination answered with a status outside 2xx: its class
    /// (1, 3, 4 or 5; anything else is 5).
    Status(u8),
    Timeout,
    Connection,
}

impl FailureClass {
    /// The class of a non-2xx status.
    pub fn of_status(status: u16) -> Self {
        match status / 100 {
            class @ (1 | 3 | 4) => Self::Status(class as u8),
            _ => Self::Status(5),
        }
    }

    pub fn of_error(error: &TargetError) -> Self {
        match error {
            TargetError::Timeout => Self::Timeout,
            TargetError::Connection(_) | TargetError::Request(_) => Self::Connection,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status(1) => "1xx",
            Self::Status(3) => "3xx",
            Self::Status(4) => "4xx",
            Self::Status(_) => "5xx",
            Self::Timeout => "timeout",
            Self::Connection => "connection",
        }
    }
}

/// How one delivery attempt (a request made to a destination) ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered,
    Failed(FailureClass),
    /// Failed, and put in the final dead-letter queue: a 410 Gone, or the
    /// last attempt before the horizon.
    DeadLettered(FailureClass),
}

/// How consume ended for one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsumeOutcome {
    ProjectionUpdated,
    ProjectionSuperseded,
    NotProjected,
    Duplicate,
    Failed,
}

/// One decision a handler made, with what identifies it on a dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measurement<'a> {
    Ingest {
        /// A configured source, or [`UNKNOWN_SOURCE`].
        source: &'a str,
        outcome: IngestOutcome,
        latency_ms: u64,
    },
    Delivery {
        destination: &'a str,
        outcome: DeliveryOutcome,
        latency_ms: u64,
    },
    Consume {
        /// A configured source, or [`UNKNOWN_SOURCE`] when the event names
        /// none that can be trusted.
        source: &'a str,
        outcome: ConsumeOutcome,
    },
}

impl Measurement<'_> {
    /// The metrics this decision adds to, with their values.
    pub fn values(&self) -> Vec<(Metric, u64)> {
        match *self {
            Self::Ingest {
                outcome,
                latency_ms,
                ..
            } => {
                let counted = match outcome {
                    IngestOutcome::Accepted => Metric::Accepted,
                    IngestOutcome::Refused(_) => Metric::Refused,
                    IngestOutcome::Unavailable => Metric::Unavailable,
                };
                vec![(counted, 1), (Metric::IngestLatency, latency_ms)]
            }
            Self::Delivery {
                outcome,
                latency_ms,
                ..
            } => {
                let delivered = u64::from(outcome == DeliveryOutcome::Delivered);
                let mut values = vec![
                    (Metric::DeliveryAttempts, 1),
                    (Metric::Delivered, delivered),
                    (Metric::DeliveryLatency, latency_ms),
                ];
                if outcome != DeliveryOutcome::Delivered {
                    values.push((Metric::DeliveryFailed, 1));
                }
                if matches!(outcome, DeliveryOutcome::DeadLettered(_)) {
                    values.push((Metric::DeadLettered, 1));
                }
                values
            }
            Self::Consume { outcome, .. } => match outcome {
                ConsumeOutcome::ProjectionUpdated => {
                    vec![(Metric::Recorded, 1), (Metric::ProjectionUpdated, 1)]
                }
                ConsumeOutcome::ProjectionSuperseded => {
                    vec![(Metric::Recorded, 1), (Metric::ProjectionSuperseded, 1)]
                }
                ConsumeOutcome::NotProjected => vec![(Metric::Recorded, 1)],
                ConsumeOutcome::Duplicate => vec![(Metric::Duplicate, 1)],
                ConsumeOutcome::Failed => vec![(Metric::ConsumeFailed, 1)],
            },
        }
    }

    /// The value of `dimension` for this decision, if it has one.
    pub fn dimension(&self, dimension: Dimension) -> Option<&str> {
        match (*self, dimension) {
            (Self::Ingest { source, .. } | Self::Consume { source, .. }, Source) => Some(source),
            (
                Self::Ingest {
                    outcome: IngestOutcome::Refused(refusal),
                    ..
                },
                Reason,
            ) => Some(refusal.as_str()),
            (Self::Delivery { destination, .. }, Destination) => Some(destination),
            (Self::Delivery { outcome, .. }, Class) => match outcome {
                DeliveryOutcome::Delivered => None,
                DeliveryOutcome::Failed(class) | DeliveryOutcome::DeadLettered(class) => {
                    Some(class.as_str())
                }
            },
            _ => None,
        }
    }
}

/// The EMF document of one decision, as one line (ending in `\n`):
/// `{"_aws":{"Timestamp":ms,"CloudWatchMetrics":[directive…]},"Stack":…,
/// <dimension>:…, <metric>:value…}`, one directive per distinct list of
/// dimension sets. Written by hand, not through a JSON tree: it runs once
/// per webhook.
pub fn emf_line(stack: &str, at: SystemTime, measurement: &Measurement<'_>) -> String {
    let timestamp_ms = at
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis());
    let values = measurement.values();
    let mut line = String::with_capacity(384);
    let _ = write!(
        line,
        r#"{{"_aws":{{"Timestamp":{timestamp_ms},"CloudWatchMetrics":["#
    );
    let mut written: Vec<&'static [&'static [Dimension]]> = Vec::with_capacity(3);
    for (metric, _) in &values {
        let sets = metric.dimension_sets();
        if written.contains(&sets) {
            continue;
        }
        if !written.is_empty() {
            line.push(',');
        }
        written.push(sets);
        line.push_str(r#"{"Namespace":""#);
        line.push_str(NAMESPACE);
        line.push_str(r#"","Dimensions":["#);
        for (i, set) in sets.iter().enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push('[');
            for (j, dimension) in set.iter().enumerate() {
                if j > 0 {
                    line.push(',');
                }
                line.push('"');
                line.push_str(dimension.name());
                line.push('"');
            }
            line.push(']');
        }
        line.push_str(r#"],"Metrics":["#);
        let in_directive = values
            .iter()
            .filter(|(other, _)| other.dimension_sets() == sets);
        for (i, (other, _)) in in_directive.enumerate() {
            if i > 0 {
                line.push(',');
            }
            let _ = write!(
                line,
                r#"{{"Name":"{}","Unit":"{}"}}"#,
                other.name(),
                other.unit().as_str()
            );
        }
        line.push_str("]}");
    }
    line.push_str("]},");
    push_member(&mut line, Stack.name(), stack);
    for dimension in [Source, Reason, Destination, Class] {
        if let Some(value) = measurement.dimension(dimension) {
            line.push(',');
            push_member(&mut line, dimension.name(), value);
        }
    }
    for (metric, value) in &values {
        let _ = write!(line, r#","{}":{value}"#, metric.name());
    }
    line.push_str("}\n");
    line
}

/// `"name":"value"`, the value escaped as a JSON string.
fn push_member(line: &mut String, name: &str, value: &str) {
    line.push('"');
    line.push_str(name);
    line.push_str(r#"":""#);
    for c in value.chars() {
        match c {
            '"' => line.push_str("\\\""),
            '\\' => line.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(line, "\\u{:04x}", c as u32);
            }
            c => line.push(c),
        }
    }
    line.push('"');
}
