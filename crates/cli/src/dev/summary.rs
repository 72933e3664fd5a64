//! The console on stderr without `--verbose`: every few seconds, when
//! anything changed, one line of what happened since the start (accepted)
//! and where the deliveries stand. Failures are logged one line each by the
//! routes themselves.

use std::time::Duration;

use tokio::sync::watch;

use super::store::LocalStore;
use super::store::console::{Summary, summary};

/// How often the line may be printed.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(5);

pub struct SummaryLine {
    pub store: LocalStore,
    pub every: Duration,
}

impl SummaryLine {
    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let since = match self.store.call(|connection| summary(connection, 0)).await {
            Ok(start) => start.last_seq,
            Err(error) => {
                tracing::warn!(%error, "the summary line is off: the store could not be read");
                return;
            }
        };
        let mut printed: Option<Summary> = None;
        loop {
            tokio::select! {
                () = tokio::time::sleep(self.every) => {}
                _ = shutdown.changed() => return,
            }
            match self
                .store
                .call(move |connection| summary(connection, since))
                .await
            {
                Ok(now) if printed.as_ref() != Some(&now) => {
                    eprintln!("{}", line(&now));
                    printed = Some(now);
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "the summary could not be read"),
            }
        }
    }
}

fn line(summary: &Summary) -> String {
    let time = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    format!(
        "{time} {} accepted since start; deliveries: {} delivered, {} pending, {} retrying, {} dead-lettered",
        summary.accepted,
        summary.counts.delivered,
        summary.counts.pending,
        summary.counts.retrying,
        summary.counts.dead_lettered
    )
}
