//! What verifying and confirming SNS messages needs from outside: who vouches
//! for a message, where signing certificates come from, and how a
//! subscription is confirmed.

use std::future::Future;
use std::sync::Arc;

use crate::sns::{CertificateUrl, SigningCertificate, SnsMessage, SnsUrl};

/// Why a message's origin could not be established.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unauthenticated {
    /// The message is not SNS's: answered 403, never retried.
    #[error("{0}")]
    Rejected(String),
    /// Proof could not be had right now (certificate unreachable): 503.
    #[error("{0}")]
    Unavailable(String),
}

/// Establishes that a parsed message really comes from SNS. In production
/// that is its RSA signature (deliver's `SnsSignatures`, over a
/// [`CertificateSource`]); handler tests stand in without RSA.
pub trait Authenticator: Send + Sync {
    fn authenticate(
        &self,
        message: &SnsMessage,
    ) -> impl Future<Output = Result<(), Unauthenticated>> + Send;
}

/// Why no certificate could be had for a URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The URL served something that is not an RSA certificate (or nothing):
    /// the message cannot be genuine.
    #[error("not an SNS signing certificate: {0}")]
    Invalid(String),
    /// SNS could not be reached; a retry may succeed.
    #[error("certificate unavailable: {0}")]
    Unavailable(String),
}

/// Fetches signing certificates by URL (an adapter caches them).
pub trait CertificateSource: Send + Sync {
    fn certificate(
        &self,
        url: &CertificateUrl,
    ) -> impl Future<Output = Result<Arc<SigningCertificate>, CertificateError>> + Send;
}

/// Why a subscription could not be confirmed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("subscription confirmation failed: {0}")]
pub struct ConfirmError(pub String);

/// Confirms a subscription by visiting its `SubscribeURL`.
pub trait SubscriptionConfirmer: Send + Sync {
    fn confirm(
        &self,
        subscribe_url: &SnsUrl,
    ) -> impl Future<Output = Result<(), ConfirmError>> + Send;
}
