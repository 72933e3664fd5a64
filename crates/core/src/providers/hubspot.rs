//! HubSpot (signature v3): `X-HubSpot-Signature-v3`, base64 HMAC-SHA256 of
//! `<method><url><body><X-HubSpot-Request-Timestamp>` (milliseconds),
//! within 5 minutes, where the URL has the escapes of HubSpot's list
//! ([`SIGNED_ESCAPES`]) decoded, and only those. Webhook bodies are JSON
//! arrays of events.
//!
//! Configure: `{"kind": "hubspot"}`, optionally `tolerance_seconds` (default
//! 300) and `public_url`. The secret is the app's Client secret (developer
//! account → Apps → the app → Auth). A batch of one event takes its
//! `eventId`, `subscriptionType` and `occurredAt`, and its object is
//! `objectId`; a larger batch takes the type its events share, and the body
//! digest as id.

use std::borrow::Cow;
use std::time::SystemTime;

use serde_json::Value;

use super::composed::ComposedMac;
use super::{
    BodyShape, Described, EventView, ObjectRef, Options, Outgoing, Provider, Request, SignError,
    Signed,
};
use crate::config::DEFAULT_TOLERANCE;
use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::SecretSet;
use crate::verify::VerifyError;
use crate::verify::mac::{Algorithm, MacEncoding};

/// A HubSpot source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hubspot {
    scheme: ComposedMac,
}

/// The percent-escapes HubSpot decodes in the URI before signing it
/// ("Validate the v3 request signature"); every other escape, and these in
/// lower case, stay as they arrived.
pub const SIGNED_ESCAPES: [(&str, char); 12] = [
    ("%3A", ':'),
    ("%2F", '/'),
    ("%3F", '?'),
    ("%40", '@'),
    ("%21", '!'),
    ("%24", '$'),
    ("%27", '\''),
    ("%28", '('),
    ("%29", ')'),
    ("%2A", '*'),
    ("%2C", ','),
    ("%3B", ';'),
];

/// The URI as HubSpot signs it: the escapes of [`SIGNED_ESCAPES`] decoded
/// in one pass; `%25` is not among them, so `%253A` stays as it is.
pub fn signed_uri(uri: &str) -> Cow<'_, str> {
    if !uri.contains('%') {
        return Cow::Borrowed(uri);
    }
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3);
        match SIGNED_ESCAPES
            .iter()
            .find(|(text, _)| Some(*text) == escape)
        {
            Some((_, decoded)) => {
                out.push(*decoded);
                rest = &rest[at + 3..];
            }
            None => {
                out.push('%');
                rest = &rest[at + 1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// The events of a body: an array, or one object.
pub(super) fn batch(document: &JsonObject<'_>) -> Vec<Value> {
    match serde_json::from_str::<Value>(document.text()) {
        Ok(Value::Array(events)) => events,
        Ok(event) => vec![event],
        Err(_) => Vec::new(),
    }
}

/// The value every event of a batch has at `pointer`, when they agree.
pub(super) fn shared(events: &[Value], pointer: &str) -> Option<Value> {
    let first = events.first()?.pointer(pointer)?;
    events
        .iter()
        .all(|event| event.pointer(pointer) == Some(first))
        .then(|| first.clone())
}

impl Provider for Hubspot {
    fn from_options(options: &mut Options) -> Result<Self, String> {
        Ok(Self {
            scheme: ComposedMac::timed(
                Algorithm::Sha256,
                "{method}{url}{body}{timestamp}",
                "x-hubspot-signature-v3",
                "",
                MacEncoding::Base64,
                "x-hubspot-request-timestamp",
                options.tolerance(DEFAULT_TOLERANCE)?,
            ),
        })
    }

    fn body_shape(&self) -> BodyShape {
        BodyShape::ObjectOrArray
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
        let url = signed_uri(request.url);
        self.scheme.verify(
            &Request {
                url: &url,
                ..*request
            },
            secrets,
            now,
        )
    }

    fn describe(
        &self,
        _: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError> {
        let events = batch(document);
        if let [event] = events.as_slice() {
            described.id("eventId", Ok(event.get("eventId").cloned()));
            described.occurred_at("occurredAt", Ok(event.get("occurredAt").cloned()));
        }
        described.event_type("subscriptionType", Ok(shared(&events, "/subscriptionType")));
        Ok(())
    }

    fn object(event: &EventView<'_>) -> Option<ObjectRef> {
        match event.json()? {
            Value::Array(events) if events.len() == 1 => ObjectRef::at(&events[0], "/objectId"),
            _ => None,
        }
    }

    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError> {
        let url = signed_uri(outgoing.url);
        let millis = Outgoing {
            timestamp: outgoing.timestamp * 1000,
            url: &url,
            ..*outgoing
        };
        Ok(Signed {
            headers: self.scheme.headers(secret, &millis)?,
            rewritten_body: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{URL, envelope, event, refused, run, source};
    use super::*;

    const SECRET: &str = "hubspot-client-secret";
    const NOW_MS: u64 = 1_700_000_000_000;
    const BODY: &str = r#"[{"eventId":1,"subscriptionId":2,"portalId":3,"occurredAt":1699999999000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM"}]"#;

    fn signature(body: &str, timestamp: &str, secret: &str) -> String {
        let message = format!("POST{URL}{body}{timestamp}");
        MacEncoding::Base64.encode(&Algorithm::Sha256.mac(secret.as_bytes(), &[message.as_bytes()]))
    }

    #[test]
    fn the_documented_v3_message_verifies() {
        let hubspot = source(r#"{"kind":"hubspot"}"#);
        let sent = signature(BODY, "1700000000000", SECRET);
        let headers = [
            ("x-hubspot-signature-v3", sent.as_str()),
            ("x-hubspot-request-timestamp", "1700000000000"),
        ];
        let prepared = event(run(
            &hubspot,
            &headers,
            BODY.as_bytes(),
            SECRET,
            NOW_MS / 1000,
        ));
        assert_eq!(
            (prepared.event_id.as_str(), prepared.event_type.as_str()),
            ("1", "contact.creation")
        );
        let envelope = envelope(&prepared);
        assert_eq!(
            envelope.occurred_at.as_deref(),
            Some("2023-11-14T22:13:19Z")
        );
        let view = EventView {
            event_type: "contact.creation",
            payload: envelope.inline_payload().unwrap(),
        };
        assert_eq!(Hubspot::object(&view).map(|o| o.id), Some("123".into()));
        assert_eq!(
            refused(run(
                &hubspot,
                &headers,
                BODY.as_bytes(),
                SECRET,
                NOW_MS / 1000 + 301
            )),
            "timestamp_out_of_tolerance"
        );
        assert_eq!(
            refused(run(
                &hubspot,
                &headers,
                BODY.as_bytes(),
                "other",
                NOW_MS / 1000
            )),
            "signature_mismatch"
        );
        assert_eq!(
            refused(run(
                &hubspot,
                &headers[..1],
                BODY.as_bytes(),
                SECRET,
                NOW_MS / 1000
            )),
            "signature_missing"
        );
    }

    #[test]
    fn a_mixed_batch_falls_back_to_the_digest_and_default_type() {
        let hubspot = source(r#"{"kind":"hubspot","default_type":"hubspot.batch"}"#);
        let body = r#"[{"eventId":1,"subscriptionType":"contact.creation"},{"eventId":2,"subscriptionType":"deal.deletion"}]"#;
        let sent = signature(body, "1700000000000", SECRET);
        let headers = [
            ("x-hubspot-signature-v3", sent.as_str()),
            ("x-hubspot-request-timestamp", "1700000000000"),
        ];
        let prepared = event(run(
            &hubspot,
            &headers,
            body.as_bytes(),
            SECRET,
            NOW_MS / 1000,
        ));
        assert_eq!(prepared.event_type, "hubspot.batch");
        assert_eq!(prepared.event_id.len(), 64);
    }

    /// The URI of HubSpot's example, as it arrives and as HubSpot signs it.
    const ENCODED: &str = "https://hubspot.com/some-path?name=%3A%2F%3F%40%21%24%27%28%29%2A%2C%3B";
    const DECODED: &str = "https://hubspot.com/some-path?name=:/?@!$'()*,;";

    fn headers_for(url: &str, body: &str) -> [(&'static str, String); 2] {
        let message = format!("POST{url}{body}1700000000000");
        let mac = Algorithm::Sha256.mac(SECRET.as_bytes(), &[message.as_bytes()]);
        [
            ("x-hubspot-signature-v3", MacEncoding::Base64.encode(&mac)),
            ("x-hubspot-request-timestamp", "1700000000000".to_owned()),
        ]
    }

    fn verify_at(url: &str, headers: &[(&'static str, String); 2]) -> Result<(), VerifyError> {
        let hubspot = source(r#"{"kind":"hubspot"}"#);
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let headers = hookbridge_testkit::header_map(&pairs);
        let request = Request {
            method: &http::Method::POST,
            url,
            headers: &headers,
            body: BODY.as_bytes(),
            form: None,
        };
        let now = std::time::UNIX_EPOCH + std::time::Duration::from_millis(NOW_MS);
        hubspot
            .provider()
            .verify(&request, None, &SecretSet::parse(SECRET), now)
    }

    #[test]
    fn every_documented_escape_is_decoded_before_signing() {
        assert_eq!(signed_uri(ENCODED), DECODED);
        for (escape, decoded) in SIGNED_ESCAPES {
            assert_eq!(
                signed_uri(&format!("https://h/p?a={escape}b")),
                format!("https://h/p?a={decoded}b")
            );
        }
    }

    #[test]
    fn a_request_signed_over_the_decoded_uri_verifies_on_the_encoded_one() {
        assert_eq!(verify_at(ENCODED, &headers_for(DECODED, BODY)), Ok(()));
        assert_eq!(verify_at(DECODED, &headers_for(DECODED, BODY)), Ok(()));
    }

    #[test]
    fn a_signature_over_the_undecoded_uri_does_not_verify() {
        assert_eq!(
            verify_at(ENCODED, &headers_for(ENCODED, BODY)),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn escapes_outside_the_list_stay_encoded() {
        // Space, `&`, `=`, `#`, `+`, `%` and `~`: HubSpot signs them encoded.
        let encoded = "https://hubspot.com/p?q=a%20b%26c%3Dd%23e%2Bf%25g%7E";
        assert_eq!(signed_uri(encoded), encoded);
        assert_eq!(verify_at(encoded, &headers_for(encoded, BODY)), Ok(()));
        let decoded = "https://hubspot.com/p?q=a b&c=d#e+f%g~";
        assert_eq!(
            verify_at(encoded, &headers_for(decoded, BODY)),
            Err(VerifyError::NoMatch)
        );
    }

    #[test]
    fn lower_case_double_and_truncated_escapes_are_left_alone() {
        for (uri, signed) in [
            ("https://h/p?a=%3a%2f", "https://h/p?a=%3a%2f"),
            ("https://h/p?a=%253A", "https://h/p?a=%253A"),
            ("https://h/p?a=%3", "https://h/p?a=%3"),
            ("https://h/p?a=%", "https://h/p?a=%"),
            ("https://h/p?a=%%3A", "https://h/p?a=%:"),
            ("https://h/p?a=%E2%82%AC%3A", "https://h/p?a=%E2%82%AC:"),
        ] {
            assert_eq!(signed_uri(uri), signed, "{uri}");
        }
        // `%25` is not in the list: a double escape is never decoded, not even once.
        let double = "https://hubspot.com/p?a=%253A";
        assert_eq!(
            verify_at(double, &headers_for("https://hubspot.com/p?a=%3A", BODY)),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify_at(double, &headers_for("https://hubspot.com/p?a=:", BODY)),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(verify_at(double, &headers_for(double, BODY)), Ok(()));
    }

    #[test]
    fn sign_signs_the_decoded_uri() {
        let hubspot = source(r#"{"kind":"hubspot"}"#);
        let outgoing = Outgoing {
            id: "",
            event_type: None,
            timestamp: 1_700_000_000,
            url: ENCODED,
            body: BODY.as_bytes(),
        };
        let signed = hubspot.provider().sign(SECRET, &outgoing).unwrap().headers;
        let signed: [(&'static str, String); 2] = [
            ("x-hubspot-signature-v3", signed[0].1.clone()),
            ("x-hubspot-request-timestamp", signed[1].1.clone()),
        ];
        assert_eq!(verify_at(ENCODED, &signed), Ok(()));
        assert_eq!(signed, headers_for(DECODED, BODY));
    }
}
