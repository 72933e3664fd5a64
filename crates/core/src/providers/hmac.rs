//! The generic `hmac` kind: an HMAC (SHA-1, SHA-256 or SHA-512) of a message
//! composed from the request, after a prefix in a configured header, hex or
//! base64. An unlisted sender is configuration, not code.
//!
//! Configure, e.g. for a sender signing `<timestamp>.<body>`:
//! `{"kind": "hmac", "header": "X-Signature", "prefix": "sha256=",
//! "algorithm": "sha256", "encoding": "hex", "message": "{timestamp}.{body}",
//! "timestamp_header": "X-Timestamp", "tolerance_seconds": 300,
//! "id_header": "X-Event-Id", "type_header": "X-Event-Type"}`. Only
//! `header` is required: the default is the hex HMAC-SHA256 of the body.
//! `message` placeholders: `{timestamp}` `{id}` `{method}` `{url}` `{form}`
//! `{body}`; a template with `{form}` is for form posts (signing sends the
//! form content type). The type is `type_header`, else the payload at `type_pointer`
//! (default `/type`), else `default_type`.

use std::time::SystemTime;

use super::composed::{ComposedMac, Template, Timestamp};
use super::describe::header;
use super::{Described, Options, Outgoing, Provider, Request, SignError, Signed};
use crate::config::DEFAULT_TOLERANCE;
use crate::ingest::payload::JsonObject;
use crate::ingest::{PayloadError, form};
use crate::secret::SecretSet;
use crate::verify::VerifyError;
use crate::verify::mac::{Algorithm, MacEncoding};

/// A configured generic HMAC source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hmac {
    pub scheme: ComposedMac,
    /// Lower-case header carrying the event type.
    pub type_header: Option<String>,
    /// JSON pointer to the event type in the payload.
    pub type_pointer: String,
}

impl Provider for Hmac {
    fn from_options(options: &mut Options) -> Result<Self, String> {
        let header = options.header("header")?.ok_or("missing field `header`")?;
        let prefix = signature_prefix(options.take("prefix")?.unwrap_or_default())?;
        let encoding: MacEncoding = options.take("encoding")?.unwrap_or_default();
        let algorithm: Algorithm = options.take("algorithm")?.unwrap_or_default();
        let message = match options.take::<String>("message")? {
            Some(template) => Template::parse(&template)?,
            None => Template::body(),
        };
        let timestamp_header = options.header("timestamp_header")?;
        let tolerance = options.tolerance(DEFAULT_TOLERANCE)?;
        let id_header = options.header("id_header")?;
        // A signature must cover what the webhook says, or it authenticates
        // nothing but its own header.
        if !message.uses_body() && !message.uses_form() {
            return Err("message must include {body} (or {form} for form posts)".into());
        }
        if message.uses_timestamp() && timestamp_header.is_none() {
            return Err("message uses {timestamp}: set timestamp_header".into());
        }
        if message.uses_id() && id_header.is_none() {
            return Err("message uses {id}: set id_header".into());
        }
        let type_header = options.header("type_header")?;
        let type_pointer = options
            .pointer("type_pointer")?
            .unwrap_or_else(|| "/type".into());
        Ok(Self {
            scheme: ComposedMac {
                algorithm,
                message,
                header,
                prefix,
                encoding,
                timestamp: timestamp_header.map(|header| Timestamp { header, tolerance }),
                id_header,
            },
            type_header,
            type_pointer,
        })
    }

    fn signs_url(&self) -> bool {
        self.scheme.message.uses_url()
    }

    fn verify(
        &self,
        request: &Request<'_>,
        _: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        // `{form}` covers a form's fields only: any other body is unsigned.
        if !self.scheme.message.uses_body() && request.form.is_none() {
            return Err(VerifyError::NoMatch);
        }
        self.scheme.verify(request, secrets, now)
    }

    fn describe(
        &self,
        request: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        if let Some(name) = &self.scheme.id_header {
            described.id("id header", header(request.headers, name));
        }
        if let Some(name) = &self.type_header {
            described.event_type("type header", header(request.headers, name));
        }
        described.event_type("type", document.at(&self.type_pointer));
        Ok(())
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let mut signed = Signed {
            headers: self.scheme.headers(secret, outgoing)?,
            rewritten_body: None,
        };
        if let (Some(name), Some(event_type)) = (&self.type_header, outgoing.event_type) {
            signed = signed.header(name, event_type);
        }
        // `{form}` is the fields of a form post; ingest reads them only from
        // a body that says it is one.
        if self.scheme.message.uses_form() {
            signed = signed.header("Content-Type", form::FORM_CONTENT_TYPE);
        }
        Ok(signed)
    }
}

/// Header values are read as visible ASCII and trimmed, so a prefix with
/// any other character, or starting with a space, could never be matched.
fn signature_prefix(prefix: String) -> Result<String, String> {
    let valid =
        prefix.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) && !prefix.starts_with(' ');
    if valid {
        Ok(prefix)
    } else {
        Err(format!(
            "prefix {prefix:?} can never match a header value: use visible ASCII characters, not starting with a space"
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;
    use crate::config::Sources;
    use crate::providers::Preset;

    fn hmac(options: &str) -> Hmac {
        let sources =
            Sources::from_json(&format!(r#"{{"s":{{"kind":"hmac",{options}}}}}"#)).unwrap();
        match &sources.get("s").unwrap().preset {
            Preset::Hmac(hmac) => hmac.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn check(
        hmac: &Hmac,
        headers: &[(&str, &str)],
        body: &str,
        secret: &str,
        now: u64,
    ) -> Result<(), VerifyError> {
        let headers = hookbridge_testkit::header_map(headers);
        let request = Request {
            method: &http::Method::POST,
            url: "https://hooks.example.com/webhooks/s?x=1",
            headers: &headers,
            body: body.as_bytes(),
            form: None,
        };
        hmac.verify(
            &request,
            None,
            &SecretSet::parse(secret),
            UNIX_EPOCH + Duration::from_secs(now),
        )
    }

    #[test]
    fn official_shopify_vector() {
        let vectors = crate::test_vectors::load();
        let scheme = hmac(r#""header":"X-Shopify-Hmac-Sha256","encoding":"base64""#);
        for vector in vectors["shopify_style_hmac_base64"].as_array().unwrap() {
            let value = vector["value"].as_str().unwrap();
            let body = vector["payload"].as_str().unwrap();
            let secret = vector["secret"].as_str().unwrap();
            let sent = [("x-shopify-hmac-sha256", value)];
            assert_eq!(check(&scheme, &sent, body, secret, 0), Ok(()));
            assert_eq!(
                check(&scheme, &sent, &format!("{body} "), secret, 0),
                Err(VerifyError::NoMatch)
            );
        }
    }

    #[test]
    fn every_option_composes_the_message() {
        let scheme = hmac(
            r#""header":"X-Sig","prefix":"v1=","algorithm":"sha512","encoding":"base64",
               "message":"{method} {url} {id} {timestamp} {body}","timestamp_header":"X-Ts",
               "tolerance_seconds":60,"id_header":"X-Id""#,
        );
        let message = "POST https://hooks.example.com/webhooks/s?x=1 evt_1 1700000000 {}";
        let mac = Algorithm::Sha512.mac(b"k", &[message.as_bytes()]);
        let signature = format!("v1={}", MacEncoding::Base64.encode(&mac));
        let headers = [
            ("x-sig", signature.as_str()),
            ("x-ts", "1700000000"),
            ("x-id", "evt_1"),
        ];
        assert_eq!(check(&scheme, &headers, "{}", "k", 1_700_000_030), Ok(()));
        assert!(matches!(
            check(&scheme, &headers, "{}", "k", 1_700_000_061),
            Err(VerifyError::OutsideTolerance {
                tolerance_seconds: 60,
                age_seconds: 61
            })
        ));
        assert_eq!(
            check(&scheme, &headers, "{}", "other", 1_700_000_000),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            check(&scheme, &headers[..2], "{}", "k", 1_700_000_000),
            Err(VerifyError::MissingHeader("x-id".into()))
        );
    }

    #[test]
    fn sha1_hex_of_the_body_verifies() {
        let scheme = hmac(r#""header":"X-Hub-Signature","prefix":"sha1=","algorithm":"sha1""#);
        let signature = format!("sha1={}", hex::encode(Algorithm::Sha1.mac(b"k", &[b"{}"])));
        assert_eq!(
            check(&scheme, &[("x-hub-signature", &signature)], "{}", "k", 0),
            Ok(())
        );
        let truncated = &signature[..signature.len() - 2];
        assert_eq!(
            check(&scheme, &[("x-hub-signature", truncated)], "{}", "k", 0),
            Err(VerifyError::MalformedHeader("x-hub-signature".into()))
        );
    }

    #[test]
    fn templates_need_the_headers_they_use() {
        for (options, says) in [
            (
                r#"{"kind":"hmac","header":"h","message":"{timestamp}.{body}"}"#,
                "timestamp_header",
            ),
            (
                r#"{"kind":"hmac","header":"h","message":"{id}.{body}"}"#,
                "id_header",
            ),
            (
                r#"{"kind":"hmac","header":"h","message":"{when}"}"#,
                "{when}",
            ),
            (r#"{"kind":"hmac","header":"h","algorithm":"md5"}"#, "md5"),
            (
                r#"{"kind":"hmac","header":"h","message":"v1:{url}"}"#,
                "{body}",
            ),
        ] {
            let error = Sources::from_json(&format!(r#"{{"a":{options}}}"#))
                .unwrap_err()
                .to_string();
            assert!(error.contains(says), "{options}: {error}");
        }
    }

    #[test]
    fn a_url_template_accepts_public_url() {
        assert!(hmac(r#""header":"h","message":"{url}{body}""#).signs_url());
        assert!(!hmac(r#""header":"h""#).signs_url());
    }
}
