use crate::metrics::Measurement;

/// Where the handlers report each decision they make (a webhook accepted, a
/// delivery attempt, an event recorded). Recording never fails and never
/// waits: a metric must not change an answer or slow it down.
pub trait MetricsRecorder: Send + Sync + std::fmt::Debug {
    /// The recorder stamps the measurement with its own clock.
    fn record(&self, measurement: &Measurement<'_>);
}
