//! Typeform: `Typeform-Signature: sha256=<base64>`, HMAC-SHA256 of the body.
//!
//! Configure: `{"kind": "typeform"}`. The secret is the webhook's secret
//! (the form → Connect → Webhooks → Edit → Secret). The id is `event_id`,
//! the type `event_type` (`form_response`), the time
//! `form_response.submitted_at`; the object is the response's `token`.

use std::time::SystemTime;

use super::composed::ComposedMac;
use super::{
    Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError, Signed,
};
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::SecretSet;
use crate::verify::VerifyError;
use crate::verify::mac::{Algorithm, MacEncoding};

/// A Typeform source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typeform {
    scheme: ComposedMac,
}

impl Provider for Typeform {
    fn from_options(_: &mut Options) -> Result<Self, String> {
        Ok(Self {
            scheme: ComposedMac::of_body(
                Algorithm::Sha256,
                "typeform-signature",
                "sha256=",
                MacEncoding::Base64,
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

    fn describe(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        described.id("event_id", document.at("/event_id"));
        described.event_type("event_type", document.at("/event_type"));
        described.occurred_at(
            "form_response.submitted_at",
            document.at("/form_response/submitted_at"),
        );
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        event.id_at("/form_response/token")
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

    #[test]
    fn a_signed_form_response_is_read() {
        let typeform = source(r#"{"kind":"typeform"}"#);
        let body = r#"{"event_id":"01HF","event_type":"form_response","form_response":{"form_id":"lT4Z3j","token":"a3a12ec67a1365927098a606107fac15","submitted_at":"2023-11-14T22:13:20Z"}}"#;
        let sent = format!(
            "sha256={}",
            MacEncoding::Base64.encode(&Algorithm::Sha256.mac(b"tf", &[body.as_bytes()]))
        );
        let prepared = event(run(
            &typeform,
            &[("typeform-signature", &sent)],
            body.as_bytes(),
            "tf",
            0,
        ));
        assert_eq!(
            (prepared.event_id.as_str(), prepared.event_type.as_str()),
            ("01HF", "form_response")
        );
        assert_eq!(
            envelope(&prepared).occurred_at.as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(
            refused(run(
                &typeform,
                &[("typeform-signature", &sent)],
                body.as_bytes(),
                "other",
                0
            )),
            "signature_mismatch"
        );
        let hex_sent = format!(
            "sha256={}",
            hex::encode(Algorithm::Sha256.mac(b"tf", &[body.as_bytes()]))
        );
        assert_eq!(
            refused(run(
                &typeform,
                &[("typeform-signature", &hex_sent)],
                body.as_bytes(),
                "tf",
                0
            )),
            "signature_malformed"
        );
    }
}
