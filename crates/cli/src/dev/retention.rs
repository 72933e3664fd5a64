//! The retention sweep: once a minute (and at start), events older than
//! the retention are removed from the store in batches (see
//! [`super::store::retention`] for which never are), then the large payloads
//! no kept event refers to.

use std::time::{Duration, SystemTime};

use tokio::sync::watch;

use super::payload_files::PayloadFiles;
use super::store::LocalStore;
use super::store::retention::{BATCH, remove_expired};

/// How often the store is swept.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

pub struct RetentionSweep {
    pub store: LocalStore,
    pub payloads: PayloadFiles,
    pub retention: Duration,
}

impl RetentionSweep {
    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            self.sweep().await;
            tokio::select! {
                () = tokio::time::sleep(SWEEP_EVERY) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    async fn sweep(&self) {
        let Some(cutoff) = SystemTime::now().checked_sub(self.retention) else {
            return;
        };
        let (mut events, mut payloads) = (0, 0);
        loop {
            let removed = match self
                .store
                .write(move |connection| remove_expired(connection, cutoff))
                .await
            {
                Ok(removed) => removed,
                Err(error) => {
                    tracing::warn!(%error, "the retention sweep failed; it runs again in a minute");
                    return;
                }
            };
            events += removed.events;
            for key in &removed.unreferenced_payloads {
                match self.payloads.remove_if_older(key, cutoff).await {
                    Ok(true) => payloads += 1,
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(key, %error, "an expired payload could not be removed")
                    }
                }
            }
            if removed.events < BATCH {
                break;
            }
        }
        if events > 0 {
            tracing::info!(
                events,
                payloads,
                retention_hours = self.retention.as_secs() / 3600,
                "expired events removed from the store"
            );
        }
    }
}
