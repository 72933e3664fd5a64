//! Svix (and the senders built on it: Clerk, Resend, …): Standard Webhooks
//! with the header names `svix-id`, `svix-timestamp` and `svix-signature`.
//!
//! Configure: `{"kind": "svix"}`, optionally `tolerance_seconds` (default
//! 300) and `object_pointer`. The secret is the endpoint's `whsec_…` signing
//! secret (the sender's dashboard → Webhooks → the endpoint). Ids, types and
//! times are read as for `standard`, which accepts these names too; this
//! kind only makes errors and `hookbridge sign` speak of the `svix-*` names.

use std::time::SystemTime;

use super::standard::{SVIX_NAMES, Standard};
use super::{Described, Options, Outgoing, Provider, Request, SignError, Signed};
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::{Secret, SecretSet};
use crate::verify::VerifyError;

/// A Svix source: the Standard Webhooks scheme under Svix's names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Svix(Standard);

impl Provider for Svix {
    fn from_options(options: &mut Options) -> Result<Self, String> {
        let mut standard = Standard::from_options(options)?;
        standard.names = SVIX_NAMES;
        Ok(Self(standard))
    }

    fn check_secret(&self, secret: &Secret) -> Result<(), String> {
        self.0.check_secret(secret)
    }

    fn verify(
        &self,
        request: &Request<'_>,
        document: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        self.0.verify(request, document, secrets, now)
    }

    fn describe(
        &self,
        request: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        self.0.describe(request, document, described)
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        self.0.sign(secret, outgoing)
    }
}
