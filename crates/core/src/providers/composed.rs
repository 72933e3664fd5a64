//! The scheme most providers share: an HMAC of a message composed from the
//! request (timestamp, id, method, URL, form fields, body), written after a
//! prefix in one header. The generic `hmac` kind is this scheme configured;
//! presets such as Slack, Zoom, Square and HubSpot fix its settings.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{Outgoing, Request, SignError};
use crate::ingest::form;
use crate::secret::SecretSet;
use crate::verify::mac::{Algorithm, MacEncoding, any_matches};
use crate::verify::{VerifyError, check_signed_time, check_tolerance, single_header};

/// A unix timestamp at or above this is in milliseconds.
const MILLISECONDS_FROM: i64 = 100_000_000_000;

/// A message template such as `v0:{timestamp}:{body}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Segment>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Timestamp,
    Id,
    Method,
    Url,
    Form,
    Body,
}

impl Template {
    /// The body alone: what most senders sign.
    pub fn body() -> Self {
        Self(vec![Segment::Body])
    }

    /// Parses a template: text, and the placeholders `{timestamp}`, `{id}`,
    /// `{method}`, `{url}`, `{form}` (the form fields sorted by name, each
    /// name followed by its value) and `{body}`.
    pub fn parse(template: &str) -> Result<Self, String> {
        let mut segments = Vec::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                segments.push(Segment::Literal(literal(&rest[..open])?));
            }
            let close = rest[open..].find('}').ok_or_else(|| {
                format!(
                    "message: `{{` at byte {} is never closed",
                    template.len() - rest.len() + open
                )
            })?;
            let name = &rest[open + 1..open + close];
            segments.push(match name {
                "timestamp" => Segment::Timestamp,
                "id" => Segment::Id,
                "method" => Segment::Method,
                "url" => Segment::Url,
                "form" => Segment::Form,
                "body" => Segment::Body,
                other => {
                    return Err(format!(
                        "message: `{{{other}}}` is not one of {{timestamp}} {{id}} {{method}} {{url}} {{form}} {{body}}"
                    ));
                }
            });
            rest = &rest[open + close + 1..];
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(literal(rest)?));
        }
        if segments.is_empty() {
            return Err("message: the template is empty".into());
        }
        Ok(Self(segments))
    }

    fn uses(&self, wanted: &Segment) -> bool {
        self.0.iter().any(|segment| segment == wanted)
    }

    pub fn uses_timestamp(&self) -> bool {
        self.uses(&Segment::Timestamp)
    }

    pub fn uses_id(&self) -> bool {
        self.uses(&Segment::Id)
    }

    pub fn uses_url(&self) -> bool {
        self.uses(&Segment::Url)
    }

    pub fn uses_body(&self) -> bool {
        self.uses(&Segment::Body)
    }

    pub fn uses_form(&self) -> bool {
        self.uses(&Segment::Form)
    }

    fn message<'a>(&'a self, values: &'a Values<'a>) -> Vec<&'a [u8]> {
        self.0
            .iter()
            .map(|segment| match segment {
                Segment::Literal(text) => text.as_bytes(),
                Segment::Timestamp => values.timestamp.as_bytes(),
                Segment::Id => values.id.as_bytes(),
                Segment::Method => values.method.as_bytes(),
                Segment::Url => values.url.as_bytes(),
                Segment::Form => values.form.as_bytes(),
                Segment::Body => values.body,
            })
            .collect()
    }
}

/// Text between placeholders, where a `}` can only be a mistake.
fn literal(text: &str) -> Result<String, String> {
    if text.contains('}') {
        Err("message: `}` without a `{`".into())
    } else {
        Ok(text.to_owned())
    }
}

/// What the template's placeholders stand for in one request.
struct Values<'a> {
    timestamp: &'a str,
    id: &'a str,
    method: &'a str,
    url: &'a str,
    form: Cow<'a, str>,
    body: &'a [u8],
}

/// A signed timestamp header and how far from now it may be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timestamp {
    pub header: String,
    pub tolerance: Duration,
}

/// The composed-message HMAC scheme, fully configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposedMac {
    pub algorithm: Algorithm,
    pub message: Template,
    /// Lower-case header carrying the signature.
    pub header: String,
    /// Text before the encoded MAC, e.g. `v0=`; may be empty.
    pub prefix: String,
    pub encoding: MacEncoding,
    pub timestamp: Option<Timestamp>,
    /// Lower-case header whose value is `{id}`.
    pub id_header: Option<String>,
}

impl ComposedMac {
    /// The body's MAC in `header`: the simplest form of the scheme.
    pub fn of_body(
        algorithm: Algorithm,
        header: &str,
        prefix: &str,
        encoding: MacEncoding,
    ) -> Self {
        Self {
            algorithm,
            message: Template::body(),
            header: header.to_owned(),
            prefix: prefix.to_owned(),
            encoding,
            timestamp: None,
            id_header: None,
        }
    }

    /// The MAC of `message` with a signed timestamp in `timestamp_header`.
    pub fn timed(
        algorithm: Algorithm,
        message: &str,
        header: &str,
        prefix: &str,
        encoding: MacEncoding,
        timestamp_header: &str,
        tolerance: Duration,
    ) -> Self {
        Self {
            algorithm,
            message: Template::parse(message).expect("a preset's template is valid"),
            header: header.to_owned(),
            prefix: prefix.to_owned(),
            encoding,
            timestamp: Some(Timestamp {
                header: timestamp_header.to_owned(),
                tolerance,
            }),
            id_header: None,
        }
    }

    /// Verifies the signature, then the timestamp (so a tampered body reports
    /// a mismatch rather than an age).
    pub fn verify(
        &self,
        request: &Request<'_>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError> {
        let value = single_header(request.headers, &self.header)?;
        let malformed = || VerifyError::MalformedHeader(self.header.clone());
        let encoded = value
            .strip_prefix(self.prefix.as_str())
            .ok_or_else(malformed)?;
        let candidate = self
            .encoding
            .decode(encoded, self.algorithm.mac_len())
            .ok_or_else(malformed)?;
        let timestamp = match &self.timestamp {
            Some(timed) => Some((single_header(request.headers, &timed.header)?, timed)),
            None => None,
        };
        let id = match &self.id_header {
            Some(name) if self.message.uses_id() => single_header(request.headers, name)?,
            _ => "",
        };
        let values = Values {
            timestamp: timestamp.map_or("", |(text, _)| text),
            id,
            method: request.method.as_str(),
            url: request.url,
            form: Cow::Owned(
                request
                    .form
                    .map(form::sorted_concatenation)
                    .unwrap_or_default(),
            ),
            body: request.body,
        };
        any_matches(
            self.algorithm,
            secrets,
            &self.message.message(&values),
            [candidate.as_slice()],
        )?;
        if let Some((text, timed)) = timestamp {
            check_timestamp(&timed.header, text, now, timed.tolerance)?;
        }
        Ok(())
    }

    /// The signature header's value for `outgoing`.
    pub fn signature(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<String, SignError> {
        let fields = if self.message.uses(&Segment::Form) {
            form::decode(outgoing.body).map_err(|e| SignError::NotJson(e.to_string()))?
        } else {
            Vec::new()
        };
        let timestamp = outgoing.timestamp.to_string();
        let values = Values {
            timestamp: &timestamp,
            id: outgoing.id,
            method: "POST",
            url: outgoing.url,
            form: Cow::Owned(form::sorted_concatenation(&fields)),
            body: outgoing.body,
        };
        let mac = self
            .algorithm
            .mac(secret.as_bytes(), &self.message.message(&values));
        Ok(format!("{}{}", self.prefix, self.encoding.encode(&mac)))
    }

    /// Every header the scheme sends for `outgoing`: the signature, the
    /// timestamp and the id.
    pub fn headers(
        &self,
        secret: &str,
        outgoing: &Outgoing<'_>,
    ) -> Result<Vec<(String, String)>, SignError> {
        let mut headers = vec![(self.header.clone(), self.signature(secret, outgoing)?)];
        if let Some(timed) = &self.timestamp {
            headers.push((timed.header.clone(), outgoing.timestamp.to_string()));
        }
        if let Some(id_header) = &self.id_header {
            headers.push((id_header.clone(), outgoing.id.to_owned()));
        }
        Ok(headers)
    }
}

/// Whether a signed unix timestamp (seconds, or milliseconds when that
/// large) in header `name` lies within `tolerance` of `now`.
pub fn check_timestamp(
    name: &str,
    text: &str,
    now: SystemTime,
    tolerance: Duration,
) -> Result<(), VerifyError> {
    let number: i64 = text
        .parse()
        .map_err(|_| VerifyError::MalformedHeader(name.to_owned()))?;
    let Ok(unsigned) = u64::try_from(number) else {
        return check_tolerance(number, now, tolerance);
    };
    let signed_at = if number >= MILLISECONDS_FROM {
        Duration::from_millis(unsigned)
    } else {
        Duration::from_secs(unsigned)
    };
    check_signed_time(UNIX_EPOCH + signed_at, now, tolerance)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn templates_parse_placeholders_and_text() {
        let template = Template::parse("v0:{timestamp}:{body}").unwrap();
        assert!(template.uses_timestamp() && !template.uses_id());
        assert_eq!(
            template.0,
            [
                Segment::Literal("v0:".into()),
                Segment::Timestamp,
                Segment::Literal(":".into()),
                Segment::Body
            ]
        );
        assert!(Template::parse("{method}{url}{form}{id}").is_ok());
    }

    #[test]
    fn bad_templates_name_the_problem() {
        for (template, says) in [
            ("{timestamp", "never closed"),
            ("{time}.{body}", "{time}"),
            ("a}b", "`}`"),
            ("a}b{body}", "`}`"),
            ("{url}x}{body}", "`}`"),
            ("", "empty"),
        ] {
            let error = Template::parse(template).unwrap_err();
            assert!(error.contains(says), "{template}: {error}");
        }
    }

    #[test]
    fn timestamps_in_seconds_and_milliseconds_are_checked() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let tolerance = Duration::from_secs(300);
        assert_eq!(check_timestamp("t", "1700000000", now, tolerance), Ok(()));
        assert_eq!(
            check_timestamp("t", "1700000000000", now, tolerance),
            Ok(())
        );
        assert!(matches!(
            check_timestamp("t", "1699999000", now, tolerance),
            Err(VerifyError::OutsideTolerance { .. })
        ));
        assert!(matches!(
            check_timestamp("t", "-5", now, tolerance),
            Err(VerifyError::OutsideTolerance { .. })
        ));
        assert_eq!(
            check_timestamp("t", "soon", now, tolerance),
            Err(VerifyError::MalformedHeader("t".into()))
        );
    }

    proptest! {
        #[test]
        fn any_template_parses_or_is_refused(template in "\\PC{0,40}") {
            if let Ok(parsed) = Template::parse(&template) {
                prop_assert!(!parsed.0.is_empty());
            }
        }
    }
}
