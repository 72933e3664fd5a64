//! GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the body.
//!
//! Configure: `{"kind": "github"}`. The secret is the webhook's "Secret"
//! (repository or organisation → Settings → Webhooks). The id is
//! `X-GitHub-Delivery` (else the body digest), the type `X-GitHub-Event`
//! refined by the payload's `action` (`pull_request.opened`); GitHub sends
//! no event time. The object is the repository and the event kind.

use std::time::SystemTime;

use subtle::ConstantTimeEq;

use super::describe::header;
use super::{
    Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError, Signed,
};
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::SecretSet;
use crate::verify::{VerifyError, hmac_sha256};

pub const EVENT_HEADER: &str = "x-github-event";
pub const DELIVERY_HEADER: &str = "x-github-delivery";

/// A GitHub source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Github;

impl Provider for Github {
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
        verify(request.headers, request.body, secrets)
    }

    fn describe(
        &self,
        request: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        described.id(
            "X-GitHub-Delivery",
            header(request.headers, DELIVERY_HEADER),
        );
        let event = header(request.headers, EVENT_HEADER);
        let action = document.at("/action");
        let refined = match (&event, &action) {
            (Ok(Some(event)), Ok(Some(serde_json::Value::String(action)))) => event
                .as_str()
                .map(|event| Ok(Some(format!("{event}.{action}").into()))),
            _ => None,
        };
        if let Some(refined) = refined {
            described.event_type("X-GitHub-Event", refined);
        }
        described.event_type("X-GitHub-Event", event);
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        let repository = event
            .json()?
            .pointer("/repository/full_name")?
            .as_str()?
            .to_owned();
        let kind = event
            .event_type
            .split_once('.')
            .map_or(event.event_type, |(kind, _action)| kind);
        Some(ObjectRef {
            id: format!("{repository}#{kind}"),
            rank: 0,
        })
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let event_type = outgoing.event_type.ok_or(SignError::MissingEventType {
            kind: "github",
            what: "the X-GitHub-Event header, e.g. `push`",
        })?;
        Ok(Signed::default()
            .header("X-GitHub-Event", event_type)
            .header("X-GitHub-Delivery", outgoing.id)
            .header("X-Hub-Signature-256", sign(secret, outgoing.body)))
    }
}

pub const SIGNATURE_HEADER: &str = "x-hub-signature-256";
const PREFIX: &str = "sha256=";

/// A decoded HMAC-SHA256 as sent by the provider. Its `Debug` leaves the
/// bytes out: a full signature never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct MacCandidate([u8; 32]);

impl std::fmt::Debug for MacCandidate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MacCandidate(..)")
    }
}

impl MacCandidate {
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn from_hex(text: &str) -> Option<Self> {
        let mut mac = [0u8; 32];
        hex::decode_to_slice(text, &mut mac).ok()?;
        Some(Self(mac))
    }
}

/// Whether the body's MAC under any of `secrets` equals `candidate`.
fn verify_mac(
    candidate: &MacCandidate,
    body: &[u8],
    secrets: &SecretSet,
) -> Result<(), VerifyError> {
    if secrets.is_empty() {
        return Err(VerifyError::NoSecrets);
    }
    let matched = secrets.iter().any(|secret| {
        let mac = hmac_sha256(secret.expose().as_bytes(), &[body]);
        bool::from(mac.ct_eq(&candidate.0))
    });
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

pub fn verify(
    headers: &http::HeaderMap,
    body: &[u8],
    secrets: &SecretSet,
) -> Result<(), VerifyError> {
    let value = crate::verify::single_header(headers, SIGNATURE_HEADER)?;
    verify_mac(&parse_signature(value)?, body, secrets)
}

/// Parses a (trimmed) `X-Hub-Signature-256` value: `sha256=<hex>`.
pub fn parse_signature(value: &str) -> Result<MacCandidate, VerifyError> {
    value
        .strip_prefix(PREFIX)
        .and_then(MacCandidate::from_hex)
        .ok_or_else(|| VerifyError::MalformedHeader(SIGNATURE_HEADER.into()))
}

/// The `X-Hub-Signature-256` value carrying `mac`.
pub fn format_signature(mac: &MacCandidate) -> String {
    format!("{PREFIX}{}", hex::encode(mac.as_bytes()))
}

/// The header value GitHub would send for `body`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mac = crate::verify::hmac_sha256(secret.as_bytes(), &[body]);
    format!("{PREFIX}{}", hex::encode(mac))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(header: Option<&str>, body: &str, secrets: &str) -> Result<(), VerifyError> {
        let mut headers = http::HeaderMap::new();
        if let Some(value) = header {
            headers.insert(SIGNATURE_HEADER, value.parse().unwrap());
        }
        verify(&headers, body.as_bytes(), &SecretSet::parse(secrets))
    }

    #[test]
    fn official_vectors() {
        let vectors = crate::test_vectors::load();
        for vector in vectors["github"].as_array().unwrap() {
            let result = check(
                vector["header"].as_str(),
                vector["payload"].as_str().unwrap(),
                vector["secret"].as_str().unwrap(),
            );
            assert_eq!(
                result.is_ok(),
                vector["valid"].as_bool().unwrap(),
                "{}: {result:?}",
                vector["origin"]
            );
        }
    }

    #[test]
    fn sign_produces_the_documented_header() {
        assert_eq!(
            sign("It's a Secret to Everybody", b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
    }

    #[test]
    fn missing_header_is_reported_as_missing() {
        assert_eq!(
            check(None, "{}", "s"),
            Err(VerifyError::MissingHeader(SIGNATURE_HEADER.into()))
        );
    }

    #[test]
    fn malformed_values_are_rejected() {
        let mac = &sign("s", b"{}")[PREFIX.len()..];
        for value in [
            "foo".to_string(),
            format!("sha1={mac}"),
            format!("sha256={}", &mac[..63]),
            format!("sha256={mac}00"),
            format!("sha256={}zz", &mac[..62]),
            "sha256=".to_string(),
        ] {
            assert_eq!(
                check(Some(&value), "{}", "s"),
                Err(VerifyError::MalformedHeader(SIGNATURE_HEADER.into())),
                "{value}"
            );
        }
    }

    #[test]
    fn a_parsed_signature_formats_back_to_an_equivalent_header() {
        let sent = sign("s", b"{}");
        let mac = parse_signature(&sent).unwrap();
        assert_eq!(format_signature(&mac), sent);
        let upper = format!("sha256={}", sent[PREFIX.len()..].to_uppercase());
        assert_eq!(parse_signature(&upper), Ok(mac));
    }

    #[test]
    fn uppercase_hex_verifies() {
        let header = sign("s", b"{}").replace("sha256=", "").to_uppercase();
        assert_eq!(check(Some(&format!("sha256={header}")), "{}", "s"), Ok(()));
    }

    #[test]
    fn either_rotated_secret_verifies() {
        let header = sign("new", b"{}");
        assert_eq!(check(Some(&header), "{}", "old,new"), Ok(()));
        assert_eq!(check(Some(&header), "{}", "old"), Err(VerifyError::NoMatch));
    }
}
