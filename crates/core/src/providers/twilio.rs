//! Twilio: `X-Twilio-Signature`, base64 HMAC-SHA1 keyed with the account's
//! auth token, of the URL Twilio called followed, for a form body, by its
//! fields sorted by name, each name followed by its value. A JSON body is
//! signed through the URL's `bodySHA256` parameter (the hex SHA-256 of the
//! body), which the signed URL carries. As Twilio's own libraries do, the
//! URL is tried without its port and with it (the scheme's default port
//! when it names none): Twilio signs `https://host/path` for some requests
//! and `https://host:443/path` for others.
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
use super::{
    Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError, Signed,
};
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
            let mut scheme =
                ComposedMac::of_body(Algorithm::Sha1, SIGNATURE_HEADER, "", MacEncoding::Base64);
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
        let scheme = if request.form.is_some() {
            &self.with_form
        } else {
            &self.url_only
        };
        let [without_port, with_port] = port_forms(request.url);
        let verified = scheme.verify(
            &Request {
                url: &without_port,
                ..*request
            },
            secrets,
            now,
        );
        match verified {
            Err(VerifyError::NoMatch) => scheme.verify(
                &Request {
                    url: &with_port,
                    ..*request
                },
                secrets,
                now,
            )?,
            verified => verified?,
        }
        if request.form.is_some() {
            return Ok(());
        }
        let query = request.url.split_once('?').map_or("", |(_, query)| query);
        let fields = form::decode(query.as_bytes())
            .map_err(|_| VerifyError::MalformedSignedField("bodySHA256"))?;
        let signed_digest = form::first(&fields, "bodySHA256")
            .ok_or(VerifyError::MissingSignedField("bodySHA256"))?;
        let digest = hex::encode(Sha256::digest(request.body));
        if bool::from(
            digest
                .as_bytes()
                .ct_eq(signed_digest.to_ascii_lowercase().as_bytes()),
        ) {
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
            "I-Twilio-Idempotency-Token",
            header(request.headers, "i-twilio-idempotency-token"),
        );
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
        event
            .id_at("/MessageSid")
            .or_else(|| event.id_at("/CallSid"))
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let signature = self.with_form.signature(secret, outgoing)?;
        Ok(Signed::default()
            .header("Content-Type", form::FORM_CONTENT_TYPE)
            .header("X-Twilio-Signature", signature)
            .header("I-Twilio-Idempotency-Token", outgoing.id))
    }
}

/// The URL without its port and with it (the scheme's default when it names
/// none), as twilio-python's `RequestValidator` tries them: the port goes
/// or comes, the rest of the URL stays as it is.
pub fn port_forms(url: &str) -> [String; 2] {
    let Some((scheme, rest)) = url.split_once("://") else {
        return [url.to_owned(), url.to_owned()];
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    // The port follows the last `:` after any `]` of an IPv6 host.
    let host_end = authority.rfind(']').map_or(0, |at| at + 1);
    let host = match authority[host_end..].rfind(':') {
        Some(colon) => &authority[..host_end + colon],
        None => authority,
    };
    let port = match &authority[host.len()..] {
        "" if scheme.eq_ignore_ascii_case("https") => ":443",
        "" => ":80",
        port => port,
    };
    [
        format!("{scheme}://{host}{path}"),
        format!("{scheme}://{host}{port}{path}"),
    ]
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
        assert_eq!(
            refused(run_url(
                &twilio,
                url,
                &headers,
                tampered.as_bytes(),
                "12345",
                0
            )),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run_url(
                &twilio,
                "https://mycompany.com/myapp.php",
                &headers,
                body.as_bytes(),
                "12345",
                0
            )),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run_url(&twilio, url, &headers, body.as_bytes(), "54321", 0)),
            "signature_mismatch"
        );
    }

    #[test]
    fn a_status_callback_reads_its_type_and_object() {
        let twilio = source(r#"{"kind":"twilio"}"#);
        let url = "https://hooks.example.com/webhooks/s";
        let body = b"MessageSid=SM1&MessageStatus=delivered&To=%2B1555";
        let outgoing = Outgoing {
            id: "idem-1",
            event_type: None,
            timestamp: 0,
            url,
            body,
        };
        let signed = twilio.provider().sign("token", &outgoing).unwrap();
        let headers: Vec<(&str, &str)> = signed
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let prepared = event(run_url(&twilio, url, &headers, body, "token", 0));
        assert_eq!(
            (prepared.event_id.as_str(), prepared.event_type.as_str()),
            ("idem-1", "message.delivered")
        );
    }

    #[test]
    fn a_json_body_is_signed_through_body_sha256() {
        let twilio = source(r#"{"kind":"twilio"}"#);
        let body = br#"{"specversion":"1.0","type":"com.twilio.messaging.message.delivered"}"#;
        let url = format!(
            "https://hooks.example.com/webhooks/s?bodySHA256={}",
            hex::encode(Sha256::digest(body))
        );
        let mac = Algorithm::Sha1.mac(b"token", &[url.as_bytes()]);
        let signature = MacEncoding::Base64.encode(&mac);
        let headers = [(SIGNATURE_HEADER, signature.as_str())];
        event(run_url(&twilio, &url, &headers, body, "token", 0));
        assert_eq!(
            refused(run_url(&twilio, &url, &headers, b"{}", "token", 0)),
            "signature_mismatch"
        );
        let unsigned_body = "https://hooks.example.com/webhooks/s";
        let mac =
            MacEncoding::Base64.encode(&Algorithm::Sha1.mac(b"token", &[unsigned_body.as_bytes()]));
        assert_eq!(
            refused(run_url(
                &twilio,
                unsigned_body,
                &[(SIGNATURE_HEADER, &mac)],
                body,
                "token",
                0
            )),
            "signature_missing"
        );
    }

    /// The form of Twilio's "Webhooks security" example, signed by
    /// twilio-python 9.13.0 (`RequestValidator("12345").compute_signature`)
    /// over each URL below.
    const EXAMPLE_FORM: &str = "CallSid=CA1234567890ABCDE&Caller=%2B12349013030&Digits=1234&From=%2B12349013030&To=%2B18005551212";
    const SIGNED_BY_TWILIO_PYTHON: [(&str, &str); 5] = [
        (
            "https://mycompany.com/myapp.php?foo=1&bar=2",
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ=",
        ),
        (
            "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            "EpDEmp1PyjDYp77YxYU3GILBWzE=",
        ),
        (
            "http://mycompany.com/myapp.php?foo=1&bar=2",
            "FYMaGAU6nPbB9h2pncMl4aJ4vns=",
        ),
        (
            "http://mycompany.com:80/myapp.php?foo=1&bar=2",
            "boT12oXXJ0BuzO2U/6iCqFdh2Do=",
        ),
        (
            "http://mycompany.com:8080/myapp.php?foo=1&bar=2",
            "cJJVKHdIjbW41MrqAyee0Omps+A=",
        ),
    ];

    fn signature_for(signed_url: &str) -> &'static str {
        SIGNED_BY_TWILIO_PYTHON
            .iter()
            .find(|(url, _)| *url == signed_url)
            .unwrap()
            .1
    }

    fn verdict(arrived_on: &str, signed_url: &str) -> Result<(), &'static str> {
        let twilio = source(r#"{"kind":"twilio"}"#);
        let headers = [FORM, (SIGNATURE_HEADER, signature_for(signed_url))];
        match run_url(
            &twilio,
            arrived_on,
            &headers,
            EXAMPLE_FORM.as_bytes(),
            "12345",
            0,
        ) {
            Ok(_) => Ok(()),
            Err(error) => Err(error.code()),
        }
    }

    #[test]
    fn a_url_signed_with_or_without_its_default_port_verifies_either_way() {
        for (arrived_on, signed_url) in [
            (
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            ),
            (
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
            ),
            (
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
                "https://mycompany.com:443/myapp.php?foo=1&bar=2",
            ),
            (
                "http://mycompany.com/myapp.php?foo=1&bar=2",
                "http://mycompany.com:80/myapp.php?foo=1&bar=2",
            ),
            (
                "http://mycompany.com:80/myapp.php?foo=1&bar=2",
                "http://mycompany.com/myapp.php?foo=1&bar=2",
            ),
        ] {
            assert_eq!(
                verdict(arrived_on, signed_url),
                Ok(()),
                "{signed_url} arriving on {arrived_on}"
            );
        }
    }

    #[test]
    fn another_port_verifies_on_its_own_url_and_without_any_port() {
        let on_8080 = "http://mycompany.com:8080/myapp.php?foo=1&bar=2";
        assert_eq!(verdict(on_8080, on_8080), Ok(()));
        assert_eq!(
            verdict(on_8080, "http://mycompany.com/myapp.php?foo=1&bar=2"),
            Ok(())
        );
    }

    #[test]
    fn a_port_the_request_did_not_arrive_on_or_another_scheme_is_refused() {
        // As twilio-python's `validate`: a port is only ever removed, or the
        // scheme's default added.
        let mismatch = Err("signature_mismatch");
        let on_8080 = "http://mycompany.com:8080/myapp.php?foo=1&bar=2";
        assert_eq!(
            verdict("http://mycompany.com/myapp.php?foo=1&bar=2", on_8080),
            mismatch
        );
        assert_eq!(
            verdict(on_8080, "http://mycompany.com:80/myapp.php?foo=1&bar=2"),
            mismatch
        );
        assert_eq!(
            verdict(
                "http://mycompany.com/myapp.php?foo=1&bar=2",
                "https://mycompany.com:443/myapp.php?foo=1&bar=2"
            ),
            mismatch
        );
        assert_eq!(
            verdict(
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                "http://mycompany.com:80/myapp.php?foo=1&bar=2"
            ),
            mismatch
        );
        assert_eq!(
            verdict(
                "https://mycompany.com:8443/myapp.php?foo=1&bar=2",
                "https://mycompany.com:443/myapp.php?foo=1&bar=2"
            ),
            mismatch
        );
        assert_eq!(
            verdict(
                "https://mycompany.com/myapp.php?foo=1",
                "https://mycompany.com:443/myapp.php?foo=1&bar=2"
            ),
            mismatch
        );
    }

    #[test]
    fn a_json_body_signed_with_the_port_verifies_without_it() {
        // twilio-python 9.13.0 over `https://mycompany.com:443/myapp?bodySHA256=<digest>`.
        let twilio = source(r#"{"kind":"twilio"}"#);
        let body = br#"{"specversion":"1.0","type":"com.twilio.messaging.message.delivered"}"#;
        let url = "https://mycompany.com/myapp?bodySHA256=1eb8fd25c241a7d3478ca5fd26342742b8c55f66b50ecaf8185a514426ab14ce";
        let headers = [(SIGNATURE_HEADER, "3upyypIloktfRW3/jtTpbZhyAYk=")];
        event(run_url(&twilio, url, &headers, body, "12345", 0));
        assert_eq!(
            refused(run_url(&twilio, url, &headers, b"{}", "12345", 0)),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run_url(&twilio, url, &headers, body, "54321", 0)),
            "signature_mismatch"
        );
    }

    #[test]
    fn port_forms_remove_the_port_or_add_the_default() {
        for (url, without, with) in [
            (
                "https://h.example/p?q=1",
                "https://h.example/p?q=1",
                "https://h.example:443/p?q=1",
            ),
            (
                "http://h.example",
                "http://h.example",
                "http://h.example:80",
            ),
            (
                "https://h.example:8443/p",
                "https://h.example/p",
                "https://h.example:8443/p",
            ),
            (
                "https://[2001:db8::1]:8443/p",
                "https://[2001:db8::1]/p",
                "https://[2001:db8::1]:8443/p",
            ),
            (
                "https://[2001:db8::1]/p",
                "https://[2001:db8::1]/p",
                "https://[2001:db8::1]:443/p",
            ),
            (
                "https://h.example?a=b:c",
                "https://h.example?a=b:c",
                "https://h.example:443?a=b:c",
            ),
            ("not a url", "not a url", "not a url"),
        ] {
            assert_eq!(
                port_forms(url),
                [without.to_owned(), with.to_owned()],
                "{url}"
            );
        }
    }
}
