//! What each provider's webhook says about itself: the event id, type and
//! time, read from its headers and payload.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::payload::{JsonObject, Text, parse_raw};
use crate::config::HmacScheme;
use crate::verify::standard::MessageHeaders;

/// EventBridge caps `DetailType` at 128 characters.
const MAX_TYPE_LEN: usize = 128;
/// Ids become DynamoDB keys and HTTP headers; 256 bytes covers every
/// provider's ids with room to spare.
const MAX_ID_LEN: usize = 256;

/// Why a payload cannot be accepted (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("required field `{0}` is missing")]
    MissingField(&'static str),
    #[error("field `{field}` is invalid: {reason}")]
    InvalidField { field: &'static str, reason: String },
}

impl PayloadError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotJson(_) | Self::NotAnObject => "invalid_json",
            Self::MissingField(_) => "missing_field",
            Self::InvalidField { .. } => "invalid_field",
        }
    }
}

/// The envelope's provider-derived fields.
#[derive(Debug)]
pub(super) struct Fields {
    pub id: String,
    pub event_type: String,
    pub occurred_at: Option<String>,
    /// The payload when it differs from the body (a removed secret).
    pub rewritten_payload: Option<String>,
}

fn invalid(field: &'static str, reason: impl Into<String>) -> PayloadError {
    PayloadError::InvalidField {
        field,
        reason: reason.into(),
    }
}

fn required_text<'a>(
    object: &JsonObject<'a>,
    field: &'static str,
) -> Result<Text<'a>, PayloadError> {
    object
        .field::<Text>(field)?
        .ok_or(PayloadError::MissingField(field))
}

fn event_id(field: &'static str, id: &str) -> Result<String, PayloadError> {
    checked_text(field, id, MAX_ID_LEN)
}

fn event_type(field: &'static str, event_type: &str) -> Result<String, PayloadError> {
    checked_text(field, event_type, MAX_TYPE_LEN)
}

fn checked_text(field: &'static str, text: &str, max_len: usize) -> Result<String, PayloadError> {
    if text.is_empty() {
        Err(invalid(field, "must not be empty"))
    } else if text.len() > max_len {
        Err(invalid(field, format!("must be at most {max_len} bytes")))
    } else if text.chars().any(char::is_control) {
        Err(invalid(field, "must not contain control characters"))
    } else {
        Ok(text.to_owned())
    }
}

/// The text of a header hookbridge reads for an id or a type.
fn header_text<'h>(
    headers: &'h http::HeaderMap,
    name: &str,
    field: &'static str,
) -> Result<Option<&'h str>, PayloadError> {
    headers
        .get(name)
        .map(|value| value.to_str().map_err(|_| invalid(field, "is not text")))
        .transpose()
}

/// RFC 3339 UTC, to the second when that is all the time says, else to the
/// millisecond.
fn rfc3339(time: SystemTime) -> String {
    let whole_seconds = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos() == 0)
        .unwrap_or(true);
    if whole_seconds {
        humantime::format_rfc3339_seconds(time).to_string()
    } else {
        humantime::format_rfc3339_millis(time).to_string()
    }
}

fn unix_seconds(field: &'static str, seconds: i64) -> Result<String, PayloadError> {
    // Beyond year 9999 RFC 3339 has no form; humantime would panic.
    const MAX: i64 = 253_402_300_799;
    if (0..=MAX).contains(&seconds) {
        Ok(rfc3339(UNIX_EPOCH + Duration::from_secs(seconds as u64)))
    } else {
        Err(invalid(field, "is not a valid unix time"))
    }
}

fn body_digest(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

pub(super) fn stripe(object: &JsonObject<'_>) -> Result<Fields, PayloadError> {
    Ok(Fields {
        id: event_id("id", required_text(object, "id")?.as_str())?,
        event_type: event_type("type", required_text(object, "type")?.as_str())?,
        occurred_at: object
            .field::<i64>("created")?
            .map(|created| unix_seconds("created", created))
            .transpose()?,
        rewritten_payload: None,
    })
}

pub(super) const GITHUB_EVENT_HEADER: &str = "x-github-event";
pub(super) const GITHUB_DELIVERY_HEADER: &str = "x-github-delivery";

/// GitHub: the type is `X-GitHub-Event`, refined by the payload's `action`
/// (`pull_request.opened`); the id is `X-GitHub-Delivery`.
pub(super) fn github(
    headers: &http::HeaderMap,
    body: &[u8],
    object: &JsonObject<'_>,
) -> Result<Fields, PayloadError> {
    let event = header_text(headers, GITHUB_EVENT_HEADER, "X-GitHub-Event")?
        .ok_or(PayloadError::MissingField("X-GitHub-Event"))?;
    let full_type = match object.field::<Text>("action")? {
        Some(action) => format!("{event}.{}", action.as_str()),
        None => event.to_owned(),
    };
    let id = match header_text(headers, GITHUB_DELIVERY_HEADER, "X-GitHub-Delivery")? {
        Some(delivery) => event_id("X-GitHub-Delivery", delivery)?,
        None => body_digest(body),
    };
    Ok(Fields {
        id,
        event_type: event_type("X-GitHub-Event", &full_type)?,
        occurred_at: None,
        rewritten_payload: None,
    })
}

/// Standard Webhooks: the id is `webhook-id`, the type the payload's `type`,
/// the time its `timestamp` (else `webhook-timestamp`).
pub(super) fn standard(
    headers: &http::HeaderMap,
    object: &JsonObject<'_>,
) -> Result<Fields, PayloadError> {
    // Verification already proved these headers present and well-formed.
    let message = MessageHeaders::from_headers(headers)
        .map_err(|_| PayloadError::MissingField("webhook-id"))?;
    let occurred_at = match object.field::<Text>("timestamp")? {
        Some(text) => rfc3339(
            humantime::parse_rfc3339_weak(text.as_str())
                .map_err(|_| invalid("timestamp", "is not an RFC 3339 time"))?,
        ),
        None => unix_seconds("webhook-timestamp", message.timestamp)?,
    };
    Ok(Fields {
        id: event_id("webhook-id", message.id)?,
        event_type: event_type("type", required_text(object, "type")?.as_str())?,
        occurred_at: Some(occurred_at),
        rewritten_payload: None,
    })
}

/// Generic HMAC senders: id and type from configured headers, else the body
/// digest and the configured JSON pointer.
pub(super) fn hmac(
    scheme: &HmacScheme,
    headers: &http::HeaderMap,
    body: &[u8],
    object: &JsonObject<'_>,
) -> Result<Fields, PayloadError> {
    let id = match scheme.id_header.as_deref() {
        Some(name) => header_text(headers, name, "id header")?.map(|id| event_id("id header", id)),
        None => None,
    }
    .transpose()?
    .unwrap_or_else(|| body_digest(body));
    let header_type = match scheme.type_header.as_deref() {
        Some(name) => header_text(headers, name, "type header")?,
        None => None,
    };
    let event_type = match header_type {
        Some(text) => event_type("type header", text)?,
        None => {
            let text = object
                .pointer_text(&scheme.type_pointer)?
                .ok_or(PayloadError::MissingField("type"))?;
            event_type("type", &text)?
        }
    };
    Ok(Fields {
        id,
        event_type,
        occurred_at: None,
        rewritten_payload: None,
    })
}

/// A Money Button webhook body: `{"secret": "...", "payment": {...}}`.
pub(super) struct MoneyButtonBody<'o, 'a> {
    object: &'o JsonObject<'a>,
    /// Absent or empty is a missing signature (401), not a bad payload.
    secret: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct MoneyButtonPayment<'a> {
    id: Option<PaymentId>,
    #[serde(borrow)]
    status: Option<Text<'a>>,
    #[serde(borrow, rename = "updatedAt")]
    updated_at: Option<Text<'a>>,
    #[serde(borrow, rename = "createdAt")]
    created_at: Option<Text<'a>>,
}

/// Money Button payment ids have been sent both as strings and numbers.
#[derive(Deserialize)]
#[serde(untagged)]
enum PaymentId {
    Text(String),
    Number(u64),
}

impl<'o, 'a> MoneyButtonBody<'o, 'a> {
    /// Reads only the secret, so an unauthenticated body is refused (401)
    /// before anything else in it is judged.
    pub fn parse(object: &'o JsonObject<'a>) -> Result<Self, PayloadError> {
        let secret = object
            .member("secret")?
            .map(|raw| parse_raw::<Text>("secret", raw))
            .transpose()
            .map_err(|_| invalid("secret", "must be a string"))?;
        Ok(Self { object, secret })
    }

    /// The secret sent, empty when there is none.
    pub fn secret(&self) -> &str {
        self.secret.as_ref().map_or("", Text::as_str)
    }

    /// The fields, and the payload rewritten without the secret: member by
    /// member from the raw text, so every other byte is kept.
    pub fn into_fields(self) -> Result<Fields, PayloadError> {
        let payment = self
            .object
            .member("payment")?
            .ok_or(PayloadError::MissingField("payment"))?;
        let payment: MoneyButtonPayment = parse_raw("payment", payment)?;
        let payment_id = match payment.id.ok_or(PayloadError::MissingField("payment.id"))? {
            PaymentId::Text(id) => id,
            PaymentId::Number(id) => id.to_string(),
        };
        let status = payment
            .status
            .ok_or(PayloadError::MissingField("payment.status"))?;
        let status = status.as_str();
        if status.is_empty() || !status.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_') {
            return Err(invalid(
                "payment.status",
                "must be a status name such as COMPLETED",
            ));
        }
        let status = status.to_ascii_lowercase();
        let occurred_at = payment
            .updated_at
            .or(payment.created_at)
            .and_then(|text| humantime::parse_rfc3339_weak(text.as_str()).ok())
            .map(rfc3339);
        let mut payload = String::with_capacity(self.object.text().len());
        for (key, value) in self.object.members().filter(|(key, _)| *key != "secret") {
            payload.push(if payload.is_empty() { '{' } else { ',' });
            payload.push_str(&serde_json::to_string(key).expect("a string serialises"));
            payload.push(':');
            payload.push_str(value.get());
        }
        if payload.is_empty() {
            payload.push('{');
        }
        payload.push('}');
        Ok(Fields {
            id: event_id("payment.id", &format!("{payment_id}:{status}"))?,
            event_type: event_type("payment.status", &format!("payment.{status}"))?,
            occurred_at,
            rewritten_payload: Some(payload),
        })
    }
}
