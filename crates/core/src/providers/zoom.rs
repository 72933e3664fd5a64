//! Zoom: `x-zm-signature: v0=<hex>`, HMAC-SHA256 of
//! `v0:<x-zm-request-timestamp>:<body>`, keyed with the webhook secret token.
//!
//! Configure: `{"kind": "zoom"}`, optionally `tolerance_seconds` (default
//! 300). The secret is the app's Secret Token (marketplace.zoom.us → the app
//! → Features → Access → Secret Token). The `endpoint.url_validation`
//! handshake is answered, once its signature verifies, with the
//! `plainToken` and its HMAC under the first secret. The type is `event`,
//! the time `event_ts` (milliseconds); Zoom sends no event id (the body
//! digest is the id). The object is `payload.object.id`.

use std::time::SystemTime;

use super::composed::ComposedMac;
use super::{
    Described, EventView, Handshake, ObjectRef, Options, Outgoing, Provider, Request, SignError,
    Signed,
};
use crate::config::DEFAULT_TOLERANCE;
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::SecretSet;
use crate::verify::VerifyError;
use crate::verify::mac::{Algorithm, MacEncoding};

/// A Zoom source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zoom {
    scheme: ComposedMac,
}

impl Provider for Zoom {
    fn from_options(options: &mut Options) -> Result<Self, String> {
        Ok(Self {
            scheme: ComposedMac::timed(
                Algorithm::Sha256,
                "v0:{timestamp}:{body}",
                "x-zm-signature",
                "v0=",
                MacEncoding::Hex,
                "x-zm-request-timestamp",
                options.tolerance(DEFAULT_TOLERANCE)?,
            ),
        })
    }

    fn verify(
        &self,
        request: &Request<'_>,
        _: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        self.scheme.verify(request, secrets, now)
    }

    /// Answered only after the signature verified: the answer is an HMAC of
    /// text the caller chose, which unauthenticated would let anyone forge
    /// signatures.
    fn handshake(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        secrets: &SecretSet,
    ) -> Option<Handshake> {
        if document.at("/event").ok()?? != "endpoint.url_validation" {
            return None;
        }
        let plain_token = document.at("/payload/plainToken").ok()??;
        let plain_token = plain_token.as_str()?;
        let secret = secrets.iter().next()?;
        let encrypted =
            Algorithm::Sha256.mac(secret.expose().as_bytes(), &[plain_token.as_bytes()]);
        Some(Handshake::json(
            "zoom endpoint.url_validation",
            serde_json::json!({ "plainToken": plain_token, "encryptedToken": hex::encode(encrypted) }),
        ))
    }

    fn describe(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        described.event_type("event", document.at("/event"));
        described.occurred_at("event_ts", document.at("/event_ts"));
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        event.id_at("/payload/object/id")
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        Ok(Signed {
            headers: self.scheme.headers(secret, outgoing)?,
            rewritten_body: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{envelope, event, refused, run, source};
    use super::*;
    use crate::ingest::Ingested;

    const SECRET: &str = "zoom_secret_token";
    const NOW: u64 = 1_700_000_000;

    fn signed(body: &[u8], secret: &str) -> Vec<(String, String)> {
        let zoom = source(r#"{"kind":"zoom"}"#);
        let outgoing = Outgoing {
            id: "",
            event_type: None,
            timestamp: NOW as i64,
            url: "",
            body,
        };
        zoom.provider().sign(secret, &outgoing).unwrap().headers
    }

    fn pairs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
        headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
    }

    #[test]
    fn the_documented_message_is_signed() {
        // Zoom's docs: message = `v0:{x-zm-request-timestamp}:{body}`.
        let headers = signed(b"{}", SECRET);
        let mac = Algorithm::Sha256.mac(SECRET.as_bytes(), &[b"v0:1700000000:{}"]);
        assert_eq!(
            headers[0],
            ("x-zm-signature".into(), format!("v0={}", hex::encode(mac)))
        );
    }

    #[test]
    fn an_event_reads_its_type_time_and_object() {
        let zoom = source(r#"{"kind":"zoom"}"#);
        let body = br#"{"event":"meeting.started","event_ts":1700000000123,"payload":{"account_id":"a","object":{"id":"85012345678"}}}"#;
        let prepared = event(run(&zoom, &pairs(&signed(body, SECRET)), body, SECRET, NOW));
        assert_eq!(prepared.event_type, "meeting.started");
        assert_eq!(
            envelope(&prepared).occurred_at.as_deref(),
            Some("2023-11-14T22:13:20.123Z")
        );
        assert_eq!(prepared.event_id.len(), 64);
    }

    #[test]
    fn url_validation_is_answered_only_when_signed() {
        let zoom = source(r#"{"kind":"zoom"}"#);
        let body = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
        match run(&zoom, &pairs(&signed(body, SECRET)), body, SECRET, NOW) {
            Ok(Ingested::Handshake(handshake)) => {
                let answer: serde_json::Value = serde_json::from_str(&handshake.body).unwrap();
                let expected = hex::encode(
                    Algorithm::Sha256.mac(SECRET.as_bytes(), &[b"qgg8vlvZRS6UYooatFL8Aw"]),
                );
                assert_eq!(answer["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
                assert_eq!(answer["encryptedToken"], expected.as_str());
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            refused(run(
                &zoom,
                &pairs(&signed(body, "forged")),
                body,
                SECRET,
                NOW
            )),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run(&zoom, &[], body, SECRET, NOW)),
            "signature_missing"
        );
    }

    #[test]
    fn stale_and_tampered_are_refused() {
        let zoom = source(r#"{"kind":"zoom"}"#);
        let body = br#"{"event":"meeting.started"}"#;
        let headers = signed(body, SECRET);
        assert_eq!(
            refused(run(&zoom, &pairs(&headers), body, SECRET, NOW + 301)),
            "timestamp_out_of_tolerance"
        );
        assert_eq!(
            refused(run(
                &zoom,
                &pairs(&headers),
                br#"{"event":"meeting.ended"}"#,
                SECRET,
                NOW
            )),
            "signature_mismatch"
        );
    }
}
