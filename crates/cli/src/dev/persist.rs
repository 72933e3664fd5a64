//! The persist route: hands every event on the local bus to the consume
//! handler (as EventBridge hands it to the consume Lambda) and marks it
//! consumed once recorded. A crash between the two only repeats a record,
//! which the store counts as a duplicate.

use std::sync::Arc;
use std::time::Duration;

use consume::{ConsumeError, Consumer};
use hookbridge_core::ports::EventStoreError;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::consumer_store::SqliteEventStore;
use super::payload_files::PayloadFiles;
use super::store::LocalStore;
use super::store::persist::{mark_consumed, unconsumed};

/// Events read from the bus and handed over concurrently at once: their
/// records share the writer's batches, and their marks one write.
const BATCH: usize = 256;
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
        let route = Arc::new(self);
        loop {
            let batch = match route
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
            if *shutdown.borrow() {
                return;
            }
            let mut handling = JoinSet::new();
            for event in batch {
                let route = Arc::clone(&route);
                handling.spawn(async move {
                    let handled = route.consumer.handle(&event.bus_event).await;
                    (event, handled)
                });
            }
            let mut marks = Vec::new();
            while let Some(joined) = handling.join_next().await {
                let Ok((event, handled)) = joined else {
                    pause = true;
                    continue;
                };
                match handled {
                    Ok(_) => marks.push((event.seq, None)),
                    // Left unmarked, handed over again after the pause.
                    Err(error) if is_transient(&error) => pause = true,
                    // The consume Lambda would send it to its dead-letter
                    // queue; here it stays visible in GET /events as not
                    // stored, and is not retried in a loop.
                    Err(error) => marks.push((event.seq, Some(error.to_string()))),
                }
            }
            if !marks.is_empty() {
                let count = marks.len();
                if let Err(error) = route
                    .store
                    .write(move |connection| {
                        for (seq, error) in &marks {
                            mark_consumed(connection, *seq, error.as_deref())?;
                        }
                        Ok(())
                    })
                    .await
                {
                    // Handed over again: the store counts the repeats as
                    // duplicates.
                    tracing::error!(count, %error, "marking events consumed failed");
                    pause = true;
                }
            }
            if pause {
                tokio::select! {
                    () = route.wake.notified() => {}
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
