use std::collections::HashMap;
use std::hint::black_box;
use std::pin::pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use hookbridge_core::envelope::Envelope;
use hookbridge_core::ports::{EventStore, EventStoreError};
use hookbridge_core::projection::{EventRecord, OrderKey, ProjectionChange, RecordOutcome};

/// An object's projection as held by [`MemoryEventStore`].
#[derive(Debug, Clone)]
pub struct StoredProjection {
    pub order_key: OrderKey,
    pub envelope: Envelope,
}

#[derive(Debug, Default)]
struct MemoryTables {
    /// (source, event id) -> expiry.
    events: HashMap<(String, String), u64>,
    /// (source, object id) -> latest event.
    projections: HashMap<(String, String), StoredProjection>,
}

/// An [`EventStore`] in memory that keeps the port's contract (one record
/// per event id, a projection replaced only by a greater order key): the
/// reference the handler, property and local-store tests compare against.
/// It never fails and never waits.
#[derive(Debug, Default)]
pub struct MemoryEventStore {
    tables: Mutex<MemoryTables>,
}

impl MemoryEventStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// The projection of one object, if any event named it.
    pub fn projection(&self, source: &str, object_id: &str) -> Option<StoredProjection> {
        self.lock()
            .projections
            .get(&(source.to_owned(), object_id.to_owned()))
            .cloned()
    }

    /// How many distinct events are recorded.
    pub fn event_count(&self) -> usize {
        self.lock().events.len()
    }

    fn lock(&self) -> MutexGuard<'_, MemoryTables> {
        // `record` decides everything before it writes, and nothing between
        // its two inserts can panic: a poisoned lock still guards whole maps.
        self.tables.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventStore for MemoryEventStore {
    async fn record(&self, record: &EventRecord<'_>) -> Result<RecordOutcome, EventStoreError> {
        let envelope = record.envelope;
        let mut tables = self.lock();
        let event_key = (envelope.source.clone(), envelope.id.clone());
        if tables.events.contains_key(&event_key) {
            return Ok(RecordOutcome::Duplicate);
        }
        let Some(projection) = &record.projection else {
            tables.events.insert(event_key, record.expires_at);
            return Ok(RecordOutcome::Recorded(ProjectionChange::NotProjected));
        };
        let object_key = (envelope.source.clone(), projection.object_id.clone());
        let newer = tables
            .projections
            .get(&object_key)
            .is_none_or(|held| held.order_key < projection.order_key);
        tables.events.insert(event_key, record.expires_at);
        if !newer {
            return Ok(RecordOutcome::Recorded(ProjectionChange::Superseded));
        }
        tables.projections.insert(
            object_key,
            StoredProjection {
                order_key: projection.order_key.clone(),
                envelope: envelope.clone(),
            },
        );
        Ok(RecordOutcome::Recorded(ProjectionChange::Updated))
    }
}

/// Accepts every record and keeps nothing, so a benchmark measures only the
/// code in front of the store.
#[derive(Debug, Clone, Copy, Default)]
pub struct AcceptingStore;

impl EventStore for AcceptingStore {
    async fn record(&self, record: &EventRecord<'_>) -> Result<RecordOutcome, EventStoreError> {
        black_box(record);
        Ok(RecordOutcome::Recorded(ProjectionChange::Updated))
    }
}

/// Runs a future that never waits, as every future over these doubles is,
/// without an async runtime.
///
/// # Panics
/// When the future is not ready at its first poll.
pub fn run_ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future waited: only futures that never wait run here"),
    }
}
