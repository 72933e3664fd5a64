//! The console on stderr without `--verbose`: every few seconds, when
//! anything changed, one line with the metrics since the start, under the
//! names CloudWatch shows in AWS ([`Counters`]), and where the deliveries
//! stand now. Failures are logged one line each by the routes themselves.

use std::sync::Arc;
use std::time::Duration;

use hookbridge_core::metrics::Metric;
use tokio::sync::watch;

use super::counters::Counters;
use super::store::LocalStore;
use super::store::console::{Counts, counts};

/// How often the line may be printed.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(5);

pub struct SummaryLine {
    pub store: LocalStore,
    pub counters: Arc<Counters>,
    pub every: Duration,
}

impl SummaryLine {
    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut printed: Option<(Vec<(Metric, u64)>, Counts)> = None;
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.every) => {}
                _ = shutdown.changed() => return,
            }
            match self.store.call(|connection| counts(connection)).await {
                Ok(now) => {
                    let seen = (self.counters.totals(), now);
                    if printed.as_ref() != Some(&seen) {
                        eprintln!("{}", line(&seen.0, &seen.1));
                        printed = Some(seen);
                    }
                }
                Err(error) => tracing::warn!(%error, "the summary could not be read"),
            }
        }
    }
}

/// `Accepted 12, Refused 1, …; DeliveryAttempts 14, …; Recorded 12, …;
/// deliveries now: 0 pending, 1 retrying, 1 dead-lettered`: the metrics in
/// groups of ingest, delivery and consume.
fn line(totals: &[(Metric, u64)], counts: &Counts) -> String {
    let time = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    let group = |first: Metric, last: Metric| {
        let start = totals.iter().position(|(metric, _)| *metric == first);
        let end = totals.iter().position(|(metric, _)| *metric == last);
        match (start, end) {
            (Some(start), Some(end)) => totals[start..=end]
                .iter()
                .map(|(metric, total)| format!("{} {total}", metric.name()))
                .collect::<Vec<_>>()
                .join(", "),
            _ => String::new(),
        }
    };
    format!(
        "{time} {}; {}; {}; deliveries now: {} pending, {} retrying, {} dead-lettered",
        group(Metric::Accepted, Metric::Unavailable),
        group(Metric::DeliveryAttempts, Metric::DeadLettered),
        group(Metric::Recorded, Metric::ConsumeFailed),
        counts.pending,
        counts.retrying,
        counts.dead_lettered
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_names_the_metrics_as_cloudwatch_does_in_three_groups() {
        let totals: Vec<(Metric, u64)> = Metric::ALL
            .iter()
            .filter(|metric| metric.unit() == hookbridge_core::metrics::Unit::Count)
            .map(|metric| (*metric, 1))
            .collect();
        let counts = Counts {
            retrying: 2,
            ..Counts::default()
        };
        let line = line(&totals, &counts);
        let (_, text) = line.split_once(' ').unwrap();
        assert_eq!(
            text,
            "Accepted 1, Refused 1, Unavailable 1; DeliveryAttempts 1, Delivered 1, \
             DeliveryFailed 1, DeadLettered 1; Recorded 1, Duplicate 1, ProjectionUpdated 1, \
             ProjectionSuperseded 1, ConsumeFailed 1; deliveries now: 0 pending, 2 retrying, \
             0 dead-lettered"
        );
    }
}
