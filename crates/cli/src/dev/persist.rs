//! The persist route: hands every event on the local bus to the consume
//! handler (as EventBridge hands it to the consume Lambda) and marks it
//! consumed once recorded. A crash between the two only repeats a record,
//! which the store counts as a duplicate.

use std::sync::Arc;
use std::time::Duration;

use consume::{ConsumeError, Consumer};
use hookbridge_core::ports::EventStoreError;
use tokio::sync::{Notify, watch};

use super::consumer_store::SqliteEventStore;
use super::payload_files::PayloadFiles;
use super::store::LocalStore;
use super::store::persist::{mark_consumed, unconsumed};

/// Events handed over per read of the bus.
const BATCH: usize = 32;
/// Longest sleep without being woken; also the wait after a transient error.
const POLL: Duration = Duration::from_secs(1);

pub struct PersistRoute {
    pub store: LocalStore,
    pub consumer: Consumer<SqliteEventStore, PayloadFiles>,
    pub wake: Arc<Notify>,
}

impl PersistRoute {
    /// Runs until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        loop {
            let batch = match self
                .store
                .call(|connection| unconsumed(connection, BATCH))
                .await
            {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(%error, "reading the local bus failed; retrying");
                    Vec::new()
                }
            };
            // Wait for new work once the bus is drained or the store is busy.
            let mut pause = batch.len() < BATCH;
            for event in batch {
                if *shutdown.borrow() {
                    return;
                }
                let error = match self.consumer.handle(&event.bus_event).await {
                    Ok(_) => None,
                    Err(error) if is_transient(&error) => {
                        pause = true;
                        break;
                    }
                    // The consume Lambda would send it to its dead-letter
                    // queue; here it stays visible in GET /events as not
                    // stored, and is not retried in a loop.
                    Err(error) => Some(error.to_string()),
                };
                let seq = event.seq;
                if let Err(mark_error) = self
                    .store
                    .call(move |connection| mark_consumed(connection, seq, error.as_deref()))
                    .await
                {
                    tracing::error!(event_id = event.event_id, error = %mark_error, "marking the event consumed failed");
                }
            }
            if pause {
                tokio::select! {
                    () = self.wake.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                    _ = shutdown.changed() => return,
                }
            }
        }
    }
}

fn is_transient(error: &ConsumeError) -> bool {
    matches!(
        error,
        ConsumeError::Store {
            source: EventStoreError::Unavailable(_),
            ..
        }
    )
}
