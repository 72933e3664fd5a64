//! Calendly: `Calendly-Webhook-Signature: t=<unix>,v1=<hex>`, HMAC-SHA256 of
//! `<t>.<body>` keyed with the webhook signing key, within 3 minutes.
//!
//! Configure: `{"kind": "calendly"}`, optionally `tolerance_seconds`
//! (default 180, as Calendly documents). The secret is the signing key given
//! when the webhook subscription is created (the API's `signing_key`). The
//! type is `event` (`invitee.created`), the time `created_at`; Calendly
//! sends no event id (the body digest is the id). The object is
//! `payload.uri`.

use std::time::{Duration, SystemTime};

use super::composed::check_timestamp;
use super::{
    Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError, Signed,
};
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::SecretSet;
use crate::verify::mac::{Algorithm, MacEncoding, any_matches};
use crate::verify::{VerifyError, single_header};

pub const SIGNATURE_HEADER: &str = "calendly-webhook-signature";

/// A Calendly source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendly {
    tolerance: Duration,
}

/// The `t` and every `v1` of a `t=…,v1=…` header (Calendly, Paddle with `;`
/// and `ts`/`h1`); `None` when `t` is not there exactly once.
pub(super) fn timed_signatures<'a>(
    value: &'a str,
    separator: char,
    timestamp_key: &str,
    signature_key: &str,
) -> Option<(&'a str, Vec<&'a str>)> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for item in value
        .split(separator)
        .map(str::trim)
        .filter(|item| !item.is_empty())
    {
        let (key, text) = item.split_once('=')?;
        if key == timestamp_key {
            if timestamp.replace(text).is_some() {
                return None;
            }
        } else if key == signature_key {
            signatures.push(text);
        }
    }
    Some((timestamp?, signatures))
}

impl Provider for Calendly {
    fn from_options(options: &mut Options) -> Result<Self, String> {
        Ok(Self {
            tolerance: options.tolerance(Duration::from_secs(180))?,
        })
    }

    fn verify(
        &self,
        request: &Request<'_>,
        _: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        let value = single_header(request.headers, SIGNATURE_HEADER)?;
        let (timestamp, signatures) = timed_signatures(value, ',', "t", "v1")
            .ok_or_else(|| VerifyError::MalformedHeader(SIGNATURE_HEADER.into()))?;
        let decoded: Vec<Vec<u8>> = signatures
            .iter()
            .filter_map(|text| MacEncoding::Hex.decode(text, 32))
            .collect();
        let candidates = decoded.iter().map(Vec::as_slice);
        let message = [timestamp.as_bytes(), b".", request.body];
        if signatures.is_empty() {
            return Err(VerifyError::NoExpectedScheme);
        }
        match any_matches(Algorithm::Sha256, secrets, &message, candidates) {
            Err(VerifyError::NoExpectedScheme) => Err(VerifyError::NoMatch),
            other => other,
        }?;
        check_timestamp(SIGNATURE_HEADER, timestamp, now, self.tolerance)
    }

    fn describe(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        described.event_type("event", document.at("/event"));
        described.occurred_at("created_at", document.at("/created_at"));
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        event.id_at("/payload/uri")
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let timestamp = outgoing.timestamp.to_string();
        let mac = Algorithm::Sha256.mac(
            secret.as_bytes(),
            &[timestamp.as_bytes(), b".", outgoing.body],
        );
        Ok(Signed::default().header(
            "Calendly-Webhook-Signature",
            format!("t={timestamp},v1={}", hex::encode(mac)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{envelope, event, refused, run, source};
    use super::*;

    const NOW: u64 = 1_700_000_000;
    const BODY: &str = r#"{"created_at":"2023-11-14T22:13:19.000000Z","created_by":"https://api.calendly.com/users/A","event":"invitee.created","payload":{"uri":"https://api.calendly.com/scheduled_events/E/invitees/I"}}"#;

    fn header(secret: &str, at: u64) -> String {
        let calendly = source(r#"{"kind":"calendly"}"#);
        let outgoing = Outgoing {
            id: "",
            event_type: None,
            timestamp: at as i64,
            url: "",
            body: BODY.as_bytes(),
        };
        calendly.provider().sign(secret, &outgoing).unwrap().headers[0]
            .1
            .clone()
    }

    #[test]
    fn a_signed_invitee_event_is_read() {
        let calendly = source(r#"{"kind":"calendly"}"#);
        let sent = header("key", NOW);
        let prepared = event(run(
            &calendly,
            &[(SIGNATURE_HEADER, &sent)],
            BODY.as_bytes(),
            "key",
            NOW,
        ));
        assert_eq!(prepared.event_type, "invitee.created");
        let envelope = envelope(&prepared);
        assert_eq!(
            envelope.occurred_at.as_deref(),
            Some("2023-11-14T22:13:19Z")
        );
        let view = EventView {
            event_type: "",
            payload: envelope.inline_payload().unwrap(),
        };
        assert!(Calendly::object(&view).unwrap().id.ends_with("/invitees/I"));
    }

    #[test]
    fn stale_forged_and_malformed_are_refused() {
        let calendly = source(r#"{"kind":"calendly"}"#);
        let sent = header("key", NOW);
        assert_eq!(
            refused(run(
                &calendly,
                &[(SIGNATURE_HEADER, &sent)],
                BODY.as_bytes(),
                "key",
                NOW + 181
            )),
            "timestamp_out_of_tolerance"
        );
        assert_eq!(
            refused(run(
                &calendly,
                &[(SIGNATURE_HEADER, &header("forged", NOW))],
                BODY.as_bytes(),
                "key",
                NOW
            )),
            "signature_mismatch"
        );
        for bad in ["v1=00", "t=1,t=2,v1=00", "garbage"] {
            assert_eq!(
                refused(run(
                    &calendly,
                    &[(SIGNATURE_HEADER, bad)],
                    BODY.as_bytes(),
                    "key",
                    NOW
                )),
                "signature_malformed",
                "{bad}"
            );
        }
        assert_eq!(
            refused(run(
                &calendly,
                &[(SIGNATURE_HEADER, "t=1700000000")],
                BODY.as_bytes(),
                "key",
                NOW
            )),
            "signature_mismatch"
        );
    }
}
