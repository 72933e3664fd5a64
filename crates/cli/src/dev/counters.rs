//! The Lambda functions' metrics, counted in process: the summary line of
//! `hookbridge dev` names the same counts CloudWatch shows in AWS, because
//! the same handlers report the same measurements.

use std::sync::{Mutex, PoisonError};

use hookbridge_core::metrics::{Measurement, Metric, Unit};
use hookbridge_core::ports::MetricsRecorder;

/// Every count metric's total since the start (latencies are not summed).
#[derive(Debug, Default)]
pub struct Counters(Mutex<[u64; Metric::ALL.len()]>);

impl Counters {
    /// The count metrics with their totals, in [`Metric::ALL`]'s order.
    pub fn totals(&self) -> Vec<(Metric, u64)> {
        let totals = *self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Metric::ALL
            .iter()
            .zip(totals)
            .filter(|(metric, _)| metric.unit() == Unit::Count)
            .map(|(metric, total)| (*metric, total))
            .collect()
    }
}

impl MetricsRecorder for Counters {
    fn record(&self, measurement: &Measurement<'_>) {
        let mut totals = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        for (metric, value) in measurement.values() {
            if let Some(index) = Metric::ALL.iter().position(|known| *known == metric) {
                totals[index] += value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hookbridge_core::metrics::{DeliveryOutcome, FailureClass, IngestOutcome};

    use super::*;

    #[test]
    fn counts_add_up_across_sources_and_destinations_and_latencies_are_left_out() {
        let counters = Counters::default();
        for source in ["stripe", "github"] {
            counters.record(&Measurement::Ingest {
                source,
                outcome: IngestOutcome::Accepted,
                latency_ms: 40,
            });
        }
        counters.record(&Measurement::Delivery {
            destination: "crm",
            outcome: DeliveryOutcome::DeadLettered(FailureClass::Status(4)),
            latency_ms: 12,
        });
        let totals = counters.totals();
        let total = |wanted: Metric| {
            totals
                .iter()
                .find(|(metric, _)| *metric == wanted)
                .map(|(_, total)| *total)
        };
        assert_eq!(total(Metric::Accepted), Some(2));
        assert_eq!(total(Metric::DeliveryAttempts), Some(1));
        assert_eq!(total(Metric::Delivered), Some(0));
        assert_eq!(total(Metric::DeliveryFailed), Some(1));
        assert_eq!(total(Metric::DeadLettered), Some(1));
        assert_eq!(total(Metric::IngestLatency), None);
        assert_eq!(total(Metric::DeliveryLatency), None);
    }
}
