//! Payloads that travel by reference: SNS carries 256 KiB and a DynamoDB
//! item 400 KB, while providers send up to [`MAX_BODY_SIZE`]. Such a payload
//! is stored apart, content-addressed, and the envelope names it by a
//! [`PayloadRef`] whose size and SHA-256 every reader checks.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The largest webhook body hookbridge accepts: 5 MiB. API Gateway's HTTP
/// API carries 10 MB and a Lambda invocation 6 MB.
pub const MAX_BODY_SIZE: usize = 5 * 1024 * 1024;

/// SNS's limit for one message; the envelope is the message deliver receives.
pub const SNS_MESSAGE_LIMIT: usize = 256 * 1024;

/// The largest bus event whose payload travels inline. SNS counts message
/// attributes and EventBridge's re-serialisation of the detail against its
/// limit, so 16 KiB are kept free of what the envelope itself takes.
pub const MAX_INLINE_EVENT_SIZE: usize = SNS_MESSAGE_LIMIT - 16 * 1024;

/// Where a payload's exact bytes are stored, and what they must be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayloadRef {
    /// The S3 bucket (`hookbridge dev`: `local`, under its data directory).
    pub bucket: String,
    /// `payloads/<source>/<sha256 hex>`.
    pub key: String,
    /// Length of the stored bytes.
    pub size: u64,
    /// Lower-case hex SHA-256 of the stored bytes.
    pub sha256: String,
}

/// How a reference or the bytes fetched for it differ from what a reader
/// may use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadMismatch {
    #[error("it names bucket `{named}`, not the configured `{configured}`")]
    Bucket { named: String, configured: String },
    #[error("the stored payload is {actual} bytes; its reference says {expected}")]
    Size { expected: u64, actual: u64 },
    #[error("the stored payload's SHA-256 is {actual}; its reference says {expected}")]
    Digest { expected: String, actual: String },
    #[error("it is not UTF-8 text")]
    NotText,
}

impl PayloadRef {
    /// The reference of `bytes`, the body of an event from `source`, stored
    /// in `bucket`. Identical bodies share one key, so each is stored once.
    pub fn of(bucket: &str, source: &str, bytes: &[u8]) -> Self {
        let sha256 = hex::encode(Sha256::digest(bytes));
        Self {
            bucket: bucket.to_owned(),
            key: format!("payloads/{source}/{sha256}"),
            size: bytes.len() as u64,
            sha256,
        }
    }

    /// Checks, before anything is fetched, that the reference names the
    /// bucket this reader keeps payloads in: an envelope pointing elsewhere
    /// is never followed.
    pub fn check_bucket(&self, configured: &str) -> Result<(), PayloadMismatch> {
        if self.bucket == configured {
            Ok(())
        } else {
            Err(PayloadMismatch::Bucket {
                named: self.bucket.clone(),
                configured: configured.to_owned(),
            })
        }
    }

    /// The payload's text, once the fetched bytes are checked against the
    /// reference: a webhook body is JSON or form text.
    pub fn text(&self, bytes: Vec<u8>) -> Result<String, PayloadMismatch> {
        self.check(&bytes)?;
        String::from_utf8(bytes).map_err(|_| PayloadMismatch::NotText)
    }

    /// Checks fetched bytes against the reference: a tampered, truncated or
    /// replaced object is never delivered or recorded.
    pub fn check(&self, bytes: &[u8]) -> Result<(), PayloadMismatch> {
        let actual = bytes.len() as u64;
        if actual != self.size {
            return Err(PayloadMismatch::Size {
                expected: self.size,
                actual,
            });
        }
        let digest = hex::encode(Sha256::digest(bytes));
        if digest != self.sha256 {
            return Err(PayloadMismatch::Digest {
                expected: self.sha256.clone(),
                actual: digest,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_key_is_the_source_and_the_bodys_digest() {
        let reference = PayloadRef::of("bucket", "github", b"abc");
        assert_eq!(
            reference.key,
            "payloads/github/ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(reference.size, 3);
        assert_eq!(reference.bucket, "bucket");
    }

    #[test]
    fn other_bytes_of_another_size_or_digest_are_refused() {
        let reference = PayloadRef::of("b", "s", b"abc");
        assert_eq!(reference.check(b"abc"), Ok(()));
        assert_eq!(
            reference.check(b"abcd"),
            Err(PayloadMismatch::Size {
                expected: 3,
                actual: 4
            })
        );
        assert!(matches!(
            reference.check(b"abd"),
            Err(PayloadMismatch::Digest { .. })
        ));
    }

    #[test]
    fn a_reference_to_another_bucket_is_refused_naming_both() {
        let reference = PayloadRef::of("elsewhere", "s", b"abc");
        assert_eq!(reference.check_bucket("elsewhere"), Ok(()));
        let refused = reference.check_bucket("payloads").unwrap_err();
        assert_eq!(
            refused.to_string(),
            "it names bucket `elsewhere`, not the configured `payloads`"
        );
    }

    #[test]
    fn the_text_is_had_only_from_checked_utf8_bytes() {
        let text = PayloadRef::of("b", "s", "{\"é\":1}".as_bytes());
        assert_eq!(text.text("{\"é\":1}".into()), Ok("{\"é\":1}".to_owned()));
        assert!(matches!(
            text.text(b"{}".to_vec()),
            Err(PayloadMismatch::Size { .. })
        ));
        let binary = PayloadRef::of("b", "s", &[0xff, 0xfe]);
        assert_eq!(binary.text(vec![0xff, 0xfe]), Err(PayloadMismatch::NotText));
    }

    proptest! {
        #[test]
        fn only_the_referenced_bytes_pass(body: Vec<u8>, other: Vec<u8>) {
            let reference = PayloadRef::of("b", "s", &body);
            prop_assert_eq!(reference.check(&body), Ok(()));
            prop_assert_eq!(reference.check(&other).is_ok(), other == body);
        }
    }
}
