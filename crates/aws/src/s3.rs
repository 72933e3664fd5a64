//! [`PayloadStore`](hookbridge_core::ports::PayloadStore) on S3: payloads too large to travel inline, one object
//! per key in one bucket. The bucket encrypts at rest and expires objects
//! with the event retention (template.yaml `PayloadBucket`).

use crate::settings::SettingsReader;

#[cfg(feature = "sdk")]
mod store;
#[cfg(feature = "sdk")]
pub use store::S3PayloadStore;

pub const PAYLOAD_BUCKET_VARIABLE: &str = "PAYLOAD_BUCKET";

/// The IAM action of [`PayloadStore::put`](hookbridge_core::ports::PayloadStore::put). Unlike the other adapters this
/// one has no `IamActions`: ingest only puts and deliver and consume only
/// get, so each function's `iam_actions` names the half it calls and its
/// role is granted only that, under `payloads/`.
pub const PUT_ACTION: &str = "s3:PutObject";
/// The IAM action of [`PayloadStore::get`](hookbridge_core::ports::PayloadStore::get).
pub const GET_ACTION: &str = "s3:GetObject";

/// Reads [`PAYLOAD_BUCKET_VARIABLE`] (required) through a function's reader.
pub fn read_bucket<L: Fn(&str) -> Option<String>>(
    reader: &mut SettingsReader<L>,
) -> Option<String> {
    reader.required(PAYLOAD_BUCKET_VARIABLE)
}
