//! Intercom: `X-Hub-Signature: sha1=<hex>`, HMAC-SHA1 of the body keyed with
//! the app's client secret.
//!
//! Configure: `{"kind": "intercom"}`. The secret is the app's Client secret
//! (Developer Hub → the app → Basic information). The id is the
//! notification's `id`, the type its `topic` (`conversation.user.created`),
//! the time `created_at`; the object is `data.item.id`.

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

/// An Intercom source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intercom {
    scheme: ComposedMac,
}

impl Provider for Intercom {
    fn from_options(_: &mut Options) -> Result<Self, String> {
        Ok(Self {
            scheme: ComposedMac::of_body(
                Algorithm::Sha1,
                "x-hub-signature",
                "sha1=",
                MacEncoding::Hex,
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
        described.id("id", document.at("/id"));
        described.event_type("topic", document.at("/topic"));
        described.occurred_at("created_at", document.at("/created_at"));
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        event.id_at("/data/item/id")
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

    const BODY: &str = r#"{"type":"notification_event","id":"notif_ccd8a4d2","topic":"conversation.user.created","created_at":1700000000,"data":{"item":{"type":"conversation","id":"147"}}}"#;

    #[test]
    fn a_sha1_signed_notification_is_read() {
        let intercom = source(r#"{"kind":"intercom"}"#);
        let sent = format!(
            "sha1={}",
            hex::encode(Algorithm::Sha1.mac(b"client-secret", &[BODY.as_bytes()]))
        );
        let prepared = event(run(
            &intercom,
            &[("x-hub-signature", &sent)],
            BODY.as_bytes(),
            "client-secret",
            0,
        ));
        assert_eq!(
            (prepared.event_id.as_str(), prepared.event_type.as_str()),
            ("notif_ccd8a4d2", "conversation.user.created")
        );
        let envelope = envelope(&prepared);
        let view = EventView {
            event_type: "",
            payload: envelope.inline_payload().unwrap(),
        };
        assert_eq!(Intercom::object(&view).map(|o| o.id), Some("147".into()));
        assert_eq!(
            refused(run(
                &intercom,
                &[("x-hub-signature", &sent)],
                b"{}",
                "client-secret",
                0
            )),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run(
                &intercom,
                &[("x-hub-signature", &sent[5..])],
                BODY.as_bytes(),
                "client-secret",
                0
            )),
            "signature_malformed"
        );
    }
}
