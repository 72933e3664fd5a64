use std::time::SystemTime;

use crate::metrics::Measurement;

/// Where the handlers report each decision they make (a webhook accepted, a
/// delivery attempt, an event recorded). Recording never fails and never
/// waits: a metric must not change an answer or slow it down.
pub trait MetricsRecorder: Send + Sync {
    /// `at` is when the decision was made (the handler's clock).
    fn record(&self, at: SystemTime, measurement: &Measurement<'_>);
}
