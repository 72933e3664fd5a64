use std::sync::Arc;

use hookbridge_core::ports::{
    Authenticator, CertificateError, CertificateSource, ConfirmError, SubscriptionConfirmer,
    Unauthenticated,
};
use hookbridge_core::sns::{CertificateUrl, SigningCertificate, SnsMessage, SnsUrl};

use crate::recorded::Recorded;

/// The shared SNS test data: real AWS-signed messages and their certificate.
const TESTDATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/testdata/sns/");

/// What a [`FakeAuthenticator`] says of every message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Authentic,
    Forged,
    /// The proof cannot be had right now, as with an unreachable certificate.
    Unreachable,
}

/// An [`Authenticator`] that skips RSA and answers one [`Verdict`] for every
/// message; signatures themselves are tested in the core and against moto.
#[derive(Debug, Clone, Copy)]
pub struct FakeAuthenticator(pub Verdict);

impl Authenticator for FakeAuthenticator {
    async fn authenticate(&self, _message: &SnsMessage) -> Result<(), Unauthenticated> {
        match self.0 {
            Verdict::Authentic => Ok(()),
            Verdict::Forged => Err(Unauthenticated::Rejected("signature mismatch".into())),
            Verdict::Unreachable => Err(Unauthenticated::Unavailable("timeout".into())),
        }
    }
}

/// The text of a shared AWS-signed SNS message, e.g. `notification-v2.json`.
pub fn sns_fixture(name: &str) -> String {
    String::from_utf8(fixture_bytes(name)).expect("SNS test data is UTF-8")
}

fn fixture_bytes(name: &str) -> Vec<u8> {
    std::fs::read(format!("{TESTDATA}{name}"))
        .unwrap_or_else(|error| panic!("read SNS test data {name}: {error}"))
}

/// A [`SubscriptionConfirmer`] that notes every `SubscribeURL` it is asked
/// to visit; clones share the notes. A failing one answers as SNS's HTTP 500.
#[derive(Debug, Clone, Default)]
pub struct RecordingConfirmer {
    confirmed: Recorded<String>,
    fail: bool,
}

impl RecordingConfirmer {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn failing() -> Self {
        Self {
            fail: true,
            ..Self::default()
        }
    }

    /// Every URL asked for so far, oldest first.
    pub fn confirmed(&self) -> Vec<String> {
        self.confirmed.all()
    }
}

impl SubscriptionConfirmer for RecordingConfirmer {
    async fn confirm(&self, subscribe_url: &SnsUrl) -> Result<(), ConfirmError> {
        self.confirmed.push(subscribe_url.as_str().to_owned());
        if self.fail {
            Err(ConfirmError("HTTP 500".into()))
        } else {
            Ok(())
        }
    }
}

/// A [`SubscriptionConfirmer`] for tests that send only notifications: any
/// confirmation fails the test.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoConfirmations;

impl SubscriptionConfirmer for NoConfirmations {
    async fn confirm(&self, subscribe_url: &SnsUrl) -> Result<(), ConfirmError> {
        panic!("unexpected confirmation at {subscribe_url}")
    }
}

/// Serves the shared AWS signing certificate for any URL, to drive the
/// production authenticator with real AWS-signed messages.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixtureCertificate;

impl CertificateSource for FixtureCertificate {
    async fn certificate(
        &self,
        _url: &CertificateUrl,
    ) -> Result<Arc<SigningCertificate>, CertificateError> {
        let pem = fixture_bytes("SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem");
        SigningCertificate::from_pem(&pem).map(Arc::new)
    }
}
