//! Square: `x-square-hmacsha256-signature`, base64 HMAC-SHA256 of the
//! notification URL followed by the body.
//!
//! Configure: `{"kind": "square"}`, and `public_url` when Square calls a
//! URL other than the one the request arrives on. The secret is the
//! subscription's Signature Key (Developer Dashboard → the app → Webhooks →
//! Subscriptions → the subscription). The id is `event_id` (Square promises
//! it), the type `type`, the time `created_at`; the object is `data.id`.

use std::time::SystemTime;

use super::composed::{ComposedMac, Template};
use super::{
    Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError, Signed,
};
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::SecretSet;
use crate::verify::VerifyError;
use crate::verify::mac::{Algorithm, MacEncoding};

/// A Square source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Square {
    scheme: ComposedMac,
}

impl Provider for Square {
    fn from_options(_: &mut Options) -> Result<Self, String> {
        let mut scheme = ComposedMac::of_body(
            Algorithm::Sha256,
            "x-square-hmacsha256-signature",
            "",
            MacEncoding::Base64,
        );
        scheme.message = Template::parse("{url}{body}")?;
        Ok(Self { scheme })
    }

    fn signs_url(&self) -> bool {
        true
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

    fn describe(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        described.promised_id("event_id", document.at("/event_id"))?;
        described.event_type("type", document.at("/type"));
        described.occurred_at("created_at", document.at("/created_at"));
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        event.id_at("/data/id")
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
    use super::super::testing::{envelope, event, refused, run_url, source};
    use super::*;

    const URL: &str = "https://example.com/webhooks/s";
    const KEY: &str = "asdf1234";
    const BODY: &str = r#"{"merchant_id":"MLEFBHHSJGVHD","type":"payment.updated","event_id":"ac3ac95b-f97d-458c-a6e6-18981597e05f","created_at":"2022-07-13T20:30:59.037339943Z","data":{"type":"payment","id":"KkAkhdMsgzn59SM8A89WgKwekxLZY"}}"#;

    fn signature(url: &str, body: &str, key: &str) -> String {
        MacEncoding::Base64
            .encode(&Algorithm::Sha256.mac(key.as_bytes(), &[url.as_bytes(), body.as_bytes()]))
    }

    #[test]
    fn the_url_and_body_are_signed() {
        let square = source(r#"{"kind":"square"}"#);
        let sent = signature(URL, BODY, KEY);
        let prepared = event(run_url(
            &square,
            URL,
            &[("x-square-hmacsha256-signature", &sent)],
            BODY.as_bytes(),
            KEY,
            0,
        ));
        assert_eq!(prepared.event_id, "ac3ac95b-f97d-458c-a6e6-18981597e05f");
        assert_eq!(prepared.event_type, "payment.updated");
        assert_eq!(
            envelope(&prepared).occurred_at.as_deref(),
            Some("2022-07-13T20:30:59.037Z")
        );
    }

    #[test]
    fn public_url_replaces_the_request_url() {
        let square = source(r#"{"kind":"square","public_url":"https://hooks.example.org/square"}"#);
        let sent = signature("https://hooks.example.org/square", BODY, KEY);
        let headers = [("x-square-hmacsha256-signature", sent.as_str())];
        event(run_url(
            &square,
            "http://10.0.0.1/webhooks/s",
            &headers,
            BODY.as_bytes(),
            KEY,
            0,
        ));
        let direct = source(r#"{"kind":"square"}"#);
        assert_eq!(
            refused(run_url(
                &direct,
                "http://10.0.0.1/webhooks/s",
                &headers,
                BODY.as_bytes(),
                KEY,
                0
            )),
            "signature_mismatch"
        );
    }

    #[test]
    fn another_url_body_or_key_is_refused() {
        let square = source(r#"{"kind":"square"}"#);
        let sent = signature(URL, BODY, KEY);
        let headers = [("x-square-hmacsha256-signature", sent.as_str())];
        assert_eq!(
            refused(run_url(
                &square,
                "https://example.com/other",
                &headers,
                BODY.as_bytes(),
                KEY,
                0
            )),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run_url(&square, URL, &headers, b"{}", KEY, 0)),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run_url(&square, URL, &headers, BODY.as_bytes(), "other", 0)),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run_url(
                &square,
                URL,
                &[("x-square-hmacsha256-signature", "abc")],
                BODY.as_bytes(),
                KEY,
                0
            )),
            "signature_malformed"
        );
    }

    #[test]
    fn a_verified_event_without_its_id_is_refused() {
        let square = source(r#"{"kind":"square"}"#);
        let body = r#"{"type":"payment.updated"}"#;
        let sent = signature(URL, body, KEY);
        let error = run_url(
            &square,
            URL,
            &[("x-square-hmacsha256-signature", &sent)],
            body.as_bytes(),
            KEY,
            0,
        )
        .unwrap_err();
        assert_eq!((error.status(), error.code()), (400, "missing_field"));
    }
}
