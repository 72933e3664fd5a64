//! Shopify: `X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256 of the body.
//!
//! Configure: `{"kind": "shopify"}`. The secret is the app's client secret
//! (Partner Dashboard → Apps → the app → Client credentials), or for a
//! webhook made in the admin, the key shown under Settings → Notifications →
//! Webhooks. The id is `X-Shopify-Webhook-Id` (else `X-Shopify-Event-Id`),
//! the type `X-Shopify-Topic` (`orders/create`), the time
//! `X-Shopify-Triggered-At`; the object is `admin_graphql_api_id`, else `id`.

use std::time::SystemTime;

use super::composed::ComposedMac;
use super::describe::header;
use super::{
    Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError, Signed,
};
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::SecretSet;
use crate::verify::VerifyError;
use crate::verify::mac::{Algorithm, MacEncoding};

/// A Shopify source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shopify {
    scheme: ComposedMac,
}

impl Provider for Shopify {
    fn from_options(_: &mut Options) -> Result<Self, String> {
        Ok(Self {
            scheme: ComposedMac::of_body(
                Algorithm::Sha256,
                "x-shopify-hmac-sha256",
                "",
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
        request: &Request<'_>,
        _: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        described.id(
            "X-Shopify-Webhook-Id",
            header(request.headers, "x-shopify-webhook-id"),
        );
        described.id(
            "X-Shopify-Event-Id",
            header(request.headers, "x-shopify-event-id"),
        );
        described.event_type(
            "X-Shopify-Topic",
            header(request.headers, "x-shopify-topic"),
        );
        described.occurred_at(
            "X-Shopify-Triggered-At",
            header(request.headers, "x-shopify-triggered-at"),
        );
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        event
            .id_at("/admin_graphql_api_id")
            .or_else(|| event.id_at("/id"))
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let mut signed = Signed::default()
            .header(
                "X-Shopify-Hmac-Sha256",
                self.scheme.signature(secret, outgoing)?,
            )
            .header("X-Shopify-Webhook-Id", outgoing.id);
        if let Some(topic) = outgoing.event_type {
            signed = signed.header("X-Shopify-Topic", topic);
        }
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{envelope, event, refused, run, source};

    #[test]
    fn official_vector_and_headers() {
        let shopify = source(r#"{"kind":"shopify"}"#);
        let vectors = crate::test_vectors::load();
        for vector in vectors["shopify_style_hmac_base64"].as_array().unwrap() {
            let value = vector["value"].as_str().unwrap();
            let body = vector["payload"].as_str().unwrap();
            let secret = vector["secret"].as_str().unwrap();
            let headers = [
                ("x-shopify-hmac-sha256", value),
                (
                    "x-shopify-webhook-id",
                    "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
                ),
                ("x-shopify-topic", "orders/create"),
                ("x-shopify-triggered-at", "2023-11-14T22:13:20.123456Z"),
            ];
            let prepared = event(run(&shopify, &headers, body.as_bytes(), secret, 0));
            assert_eq!(prepared.event_id, "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043");
            assert_eq!(prepared.event_type, "orders/create");
            assert_eq!(
                envelope(&prepared).occurred_at.as_deref(),
                Some("2023-11-14T22:13:20.123Z")
            );
            assert_eq!(
                refused(run(&shopify, &headers, b"{}", secret, 0)),
                "signature_mismatch"
            );
        }
    }
}
