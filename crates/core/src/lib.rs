//! hookbridge-core: the domain of the webhook gateway.
//!
//! Pure by construction: no AWS SDK, no network, no clock reads. Time,
//! randomness and I/O arrive as arguments or through the traits in [`ports`],
//! so every rule here is tested in microseconds.

pub mod config;
pub mod delivery_policy;
pub mod delivery_status;
pub mod destinations;
pub mod entry;
pub mod envelope;
pub mod horizon;
pub mod ingest;
pub mod metrics;
pub mod outbound;
pub mod payload_ref;
pub mod ports;
pub mod projection;
pub mod providers;
pub mod response;
pub mod retry_after;
pub mod secret;
pub mod sns;
pub mod verify;

#[cfg(test)]
mod test_vectors;
