//! hookbridge-testkit: what the tests of every crate share. In-memory
//! doubles of the ports in `hookbridge_core::ports`, builders of envelopes,
//! and one scriptable loopback HTTP target. Only ever a dev-dependency, so
//! no production crate's public API carries a double.

mod bus;
mod clock;
mod dead_letters;
mod delivery_status;
mod envelope;
mod event_store;
mod headers;
mod metrics;
mod payloads;
mod recorded;
mod retry_queue;
mod secrets;
mod sns;

pub mod http_target;

pub use bus::MemoryBus;
pub use clock::ManualClock;
pub use dead_letters::MemoryDeadLetters;
pub use delivery_status::MemoryDeliveryStatus;
pub use envelope::EnvelopeBuilder;
pub use event_store::{AcceptingStore, MemoryEventStore, StoredProjection, run_ready};
pub use headers::header_map;
pub use metrics::{CapturedMetrics, EmfDatum, TEST_METRICS_TIME_MS, TEST_STACK, extract_emf};
pub use payloads::MemoryPayloads;
pub use retry_queue::MemoryRetryQueue;
pub use secrets::MemorySecrets;
pub use sns::{
    FakeAuthenticator, FixtureCertificate, NoConfirmations, RecordingConfirmer, Verdict,
    sns_fixture,
};
