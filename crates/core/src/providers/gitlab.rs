//! GitLab: a static token in `X-Gitlab-Token`, equal to one of the source's
//! secrets (compared in constant time).
//!
//! Configure: `{"kind": "gitlab"}`. The secret is the webhook's "Secret
//! token" (project or group → Settings → Webhooks). The id is
//! `Idempotency-Key` (else `X-Gitlab-Event-UUID`), the type the payload's
//! `object_kind` with `object_attributes.action` when present
//! (`merge_request.open`), else `X-Gitlab-Event`; the time
//! `object_attributes.updated_at`.

use std::time::SystemTime;

use subtle::ConstantTimeEq;

use super::describe::header;
use super::{Described, Options, Outgoing, Provider, Request, SignError, Signed};
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::SecretSet;
use crate::verify::{VerifyError, single_header};

pub const TOKEN_HEADER: &str = "x-gitlab-token";

/// A GitLab source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gitlab;

impl Provider for Gitlab {
    fn from_options(_: &mut Options) -> Result<Self, String> {
        Ok(Self)
    }

    fn verify(
        &self,
        request: &Request<'_>,
        _: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        _: SystemTime,
    ) -> Result<(), VerifyError> {
        let token = single_header(request.headers, TOKEN_HEADER)?;
        if secrets.is_empty() {
            return Err(VerifyError::NoSecrets);
        }
        let matched = secrets
            .iter()
            .fold(subtle::Choice::from(0), |matched, secret| {
                matched | secret.expose().as_bytes().ct_eq(token.as_bytes())
            });
        if bool::from(matched) {
            Ok(())
        } else {
            Err(VerifyError::NoMatch)
        }
    }

    fn describe(
        &self,
        request: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        described.id(
            "Idempotency-Key",
            header(request.headers, "idempotency-key"),
        );
        described.id(
            "X-Gitlab-Event-UUID",
            header(request.headers, "x-gitlab-event-uuid"),
        );
        let kind = document.at("/object_kind").ok().flatten();
        let action = document.at("/object_attributes/action").ok().flatten();
        if let (Some(serde_json::Value::String(kind)), Some(serde_json::Value::String(action))) =
            (&kind, &action)
        {
            described.event_type("object_kind", Ok(Some(format!("{kind}.{action}").into())));
        }
        described.event_type("object_kind", Ok(kind));
        described.event_type("X-Gitlab-Event", header(request.headers, "x-gitlab-event"));
        described.occurred_at(
            "object_attributes.updated_at",
            document.at("/object_attributes/updated_at"),
        );
        Ok(())
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        Ok(Signed::default()
            .header("X-Gitlab-Token", secret)
            .header("X-Gitlab-Event-UUID", outgoing.id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{envelope, event, refused, run, source};

    const BODY: &str = r#"{"object_kind":"merge_request","event_type":"merge_request","object_attributes":{"id":99,"action":"open","updated_at":"2023-11-14 22:13:20 UTC"}}"#;

    #[test]
    fn the_token_verifies_and_the_kind_and_action_are_the_type() {
        let gitlab = source(r#"{"kind":"gitlab"}"#);
        let headers = [
            ("x-gitlab-token", "tok-1"),
            ("x-gitlab-event-uuid", "u-1"),
            ("x-gitlab-event", "Merge Request Hook"),
        ];
        let prepared = event(run(&gitlab, &headers, BODY.as_bytes(), "old,tok-1", 0));
        assert_eq!(
            (prepared.event_id.as_str(), prepared.event_type.as_str()),
            ("u-1", "merge_request.open")
        );
        assert_eq!(envelope(&prepared).occurred_at, None);
        assert_eq!(prepared.fallbacks.len(), 1, "{:?}", prepared.fallbacks);
    }

    #[test]
    fn a_wrong_or_missing_token_is_refused() {
        let gitlab = source(r#"{"kind":"gitlab"}"#);
        assert_eq!(
            refused(run(
                &gitlab,
                &[("x-gitlab-token", "tok-2")],
                BODY.as_bytes(),
                "tok-1",
                0
            )),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run(
                &gitlab,
                &[("x-gitlab-token", "tok-1 ")],
                BODY.as_bytes(),
                "tok-1x",
                0
            )),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run(&gitlab, &[], BODY.as_bytes(), "tok-1", 0)),
            "signature_missing"
        );
    }
}
