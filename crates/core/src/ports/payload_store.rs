use std::future::Future;

#[derive(Debug, thiserror::Error)]
pub enum PayloadStoreError {
    /// No object is stored under the key (expired, deleted, never stored).
    #[error("no payload is stored at `{0}`")]
    NotFound(String),
    /// The stored object is larger than its reference allows.
    #[error("the payload at `{key}` is larger than {limit} bytes")]
    TooLarge { key: String, limit: u64 },
    /// The store could not be reached or refused; retrying later may work.
    #[error("payload store unavailable: {0}")]
    Unavailable(String),
}

/// Keeps payloads too large to travel inline, by key, in one bucket.
pub trait PayloadStore: Send + Sync {
    /// The bucket every key lives in; envelopes name it in `payload_ref`.
    fn bucket(&self) -> &str;

    /// Stores `bytes` at `key`; returns only once they are durable.
    fn put(
        &self,
        key: &str,
        bytes: Vec<u8>,
    ) -> impl Future<Output = Result<(), PayloadStoreError>> + Send;

    /// The bytes at `key`, refusing to read more than `max_size`.
    fn get(
        &self,
        key: &str,
        max_size: u64,
    ) -> impl Future<Output = Result<Vec<u8>, PayloadStoreError>> + Send;
}
