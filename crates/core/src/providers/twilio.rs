//! Twilio: `X-Twilio-Signature`, base64 HMAC-SHA1 keyed with the account's
//! auth token, of the URL Twilio called followed, for a form body, by its
//! fields sorted by name, each name followed by its value. A JSON body is
//! signed through the URL's `bodySHA256` parameter (the hex SHA-256 of the
//! body), which the signed URL carries.
//!
//! Configure: `{"kind": "twilio"}`, and `public_url` when Twilio calls a URL
//! other than the one the request arrives on (behind a proxy, the scheme
//! and host Twilio used). The secret is the Auth Token (Console → Account →
//! API keys & tokens). The id is `I-Twilio-Idempotency-Token` (else the body
//! digest), the type `message.<MessageStatus>` or `call.<CallStatus>`; the
//! object is `MessageSid`, else `CallSid`.

use std::time::SystemTime;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::composed::{ComposedMac, Template};
use super::describe::header;
use super::{Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError, Signed};
use crate::ingest::payload::JsonObject;
use crate::ingest::{PayloadError, form};
use crate::secret::SecretSet;
use crate::verify::VerifyError;
use crate::verify::mac::{Algorithm, MacEncoding};

pub const SIGNATURE_HEADER: &str = "x-twilio-signature";

/// A Twilio source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Twilio {
    with_form: ComposedMac,
    url_only: ComposedMac,
}

impl Provider for Twilio {
    fn from_options(_: &mut Options) -> Result<Self, String> {
        let scheme = |template| {
            let mut scheme = ComposedMac::of_body(Algorithm::Sha1, SIGNATURE_HEADER, "", MacEncoding::Base64);
            scheme.message = Template::parse(template).expect("a preset's template is valid");
            scheme
        };
        Ok(Self {
            with_form: scheme("{url}{form}"),
            url_only: scheme("{url}"),
        })
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
        if request.form.is_some() {
            return self.with_form.verify(request, secrets, now);
        }
        self.url_only.verify(request, secrets, now)?;
        let query = request.url.split_once('?').map_or("", |(_, query)| query);
        let fields = form::decode(query.as_bytes())
            .map_err(|_| VerifyError::MalformedSignedField("bodySHA256"))?;
        let signed_digest = form::first(&fields, "bodySHA256")
            .ok_or(VerifyError::MissingSignedField("bodySHA256"))?;
        let digest = hex::encode(Sha256::digest(request.body));
        if bool::from(digest.as_bytes().ct_eq(signed_digest.to_ascii_lowercase().as_bytes())) {
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
        described.id("I-Twilio-Idempotency-Token", header(request.headers, "i-twilio-idempotency-token"));
        for (field, pointer, prefix) in [
            ("MessageStatus", "/MessageStatus", "message"),
            ("SmsStatus", "/SmsStatus", "message"),
            ("CallStatus", "/CallStatus", "call"),
        ] {
            if let Ok(Some(serde_json::Value::String(status))) = document.at(pointer) {
                described.event_type(field, Ok(Some(format!("{prefix}.{status}").into())));
            }
        }
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        event.id_at("/MessageSid").or_else(|| event.id_at("/CallSid"))
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let signature = self.with_form.signature(secret, outgoing)?;
        Ok(Signed::default()
            .header("Content-Type", form::FORM_CONTENT_TYPE)
            .header("X-Twilio-Signature", signature)
            .header("I-Twilio-Idempotency-Token", outgoing.id))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{event, refused, run_url, source};
    use super::*;

    const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

    /// The example of Twilio's "Webhooks security" page.
    #[test]
    fn the_documented_example_verifies() {
        let twilio = source(r#"{"kind":"twilio"}"#);
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let body = "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";
        let headers = [FORM, (SIGNATURE_HEADER, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")];
        let prepared = event(run_url(&twilio, url, &headers, body.as_bytes(), "12345", 0));
        assert_eq!(prepared.event_type, "webhook");
        let tampered = body.replace("1234&", "1235&");
        assert_eq!(refused(run_url(&twilio, url, &headers, tampered.as_bytes(), "12345", 0)), "signature_mismatch");
        assert_eq!(refused(run_url(&twilio, "https://mycompany.com/myapp.php", &headers, body.as_bytes(), "12345", 0)), "signature_mismatch");
        assert_eq!(refused(run_url(&twilio, url, &headers, body.as_bytes(), "54321", 0)), "signature_mismatch");
    }

    #[test]
    fn a_status_callback_reads_its_type_and_object() {
        let twilio = source(r#"{"kind":"twilio"}"#);
        let url = "https://hooks.example.com/webhooks/s";
        let body = b"MessageSid=SM1&MessageStatus=delivered&To=%2B1555";
        let outgoing = Outgoing { id: "idem-1", event_type: None, timestamp: 0, url, body };
        let signed = twilio.provider().sign("token", &outgoing).unwrap();
        let headers: Vec<(&str, &str)> = signed.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let prepared = event(run_url(&twilio, url, &headers, body, "token", 0));
        assert_eq!((prepared.event_id.as_str(), prepared.event_type.as_str()), ("idem-1", "message.delivered"));
    }

    #[test]
    fn a_json_body_is_signed_through_body_sha256() {
        let twilio = source(r#"{"kind":"twilio"}"#);
        let body = br#"{"specversion":"1.0","type":"com.twilio.messaging.message.delivered"}"#;
        let url = format!("https://hooks.example.com/webhooks/s?bodySHA256={}", hex::encode(Sha256::digest(body)));
        let mac = Algorithm::Sha1.mac(b"token", &[url.as_bytes()]);
        let signature = MacEncoding::Base64.encode(&mac);
        let headers = [(SIGNATURE_HEADER, signature.as_str())];
        event(run_url(&twilio, &url, &headers, body, "token", 0));
        assert_eq!(refused(run_url(&twilio, &url, &headers, b"{}", "token", 0)), "signature_mismatch");
        let unsigned_body = "https://hooks.example.com/webhooks/s";
        let mac = MacEncoding::Base64.encode(&Algorithm::Sha1.mac(b"token", &[unsigned_body.as_bytes()]));
        assert_eq!(refused(run_url(&twilio, unsigned_body, &[(SIGNATURE_HEADER, &mac)], body, "token", 0)), "signature_missing");
    }
}
