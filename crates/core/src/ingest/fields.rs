//! What each provider's webhook says about itself: the event id, type and
//! time, read from its headers and payload.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

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
pub(super) struct Fields<'a> {
    pub id: String,
    pub event_type: String,
    pub occurred_at: Option<String>,
    pub payload: Payload<'a>,
}

/// The payload as received, or rewritten when a field had to be removed.
#[derive(Debug)]
pub(super) enum Payload<'a> {
    AsReceived(&'a RawValue),
    Rewritten(Box<RawValue>),
}

impl Payload<'_> {
    pub fn as_raw(&self) -> &RawValue {
        match self {
            Self::AsReceived(raw) => raw,
            Self::Rewritten(raw) => raw,
        }
    }
}

fn invalid(field: &'static str, reason: impl Into<String>) -> PayloadError {
    PayloadError::InvalidField {
        field,
        reason: reason.into(),
    }
}

/// Deserialises the fields of `payload` hookbridge reads; serde's errors
/// (wrong type, duplicate key) become 400s naming the problem.
fn head<'a, T: Deserialize<'a>>(payload: &'a RawValue) -> Result<T, PayloadError> {
    serde_json::from_str(payload.get()).map_err(|e| invalid("payload", e.to_string()))
}

fn required<'a>(
    field: &'static str,
    value: Option<Cow<'a, str>>,
) -> Result<Cow<'a, str>, PayloadError> {
    value.ok_or(PayloadError::MissingField(field))
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

pub(super) fn stripe(payload: &RawValue) -> Result<Fields<'_>, PayloadError> {
    #[derive(Deserialize)]
    struct StripeHead<'a> {
        #[serde(borrow)]
        id: Option<Cow<'a, str>>,
        #[serde(borrow, rename = "type")]
        event_type: Option<Cow<'a, str>>,
        created: Option<i64>,
    }
    let head: StripeHead = head(payload)?;
    Ok(Fields {
        id: event_id("id", &required("id", head.id)?)?,
        event_type: event_type("type", &required("type", head.event_type)?)?,
        occurred_at: head
            .created
            .map(|c| unix_seconds("created", c))
            .transpose()?,
        payload: Payload::AsReceived(payload),
    })
}

pub(super) const GITHUB_EVENT_HEADER: &str = "x-github-event";
pub(super) const GITHUB_DELIVERY_HEADER: &str = "x-github-delivery";

/// GitHub: the type is `X-GitHub-Event`, refined by the payload's `action`
/// (`pull_request.opened`); the id is `X-GitHub-Delivery`.
pub(super) fn github<'a>(
    headers: &http::HeaderMap,
    body: &[u8],
    payload: &'a RawValue,
) -> Result<Fields<'a>, PayloadError> {
    #[derive(Deserialize)]
    struct GithubHead<'a> {
        #[serde(borrow)]
        action: Option<Cow<'a, str>>,
    }
    let event = header_text(headers, GITHUB_EVENT_HEADER, "X-GitHub-Event")?
        .ok_or(PayloadError::MissingField("X-GitHub-Event"))?;
    let head: GithubHead = head(payload)?;
    let full_type = match head.action {
        Some(action) => format!("{event}.{action}"),
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
        payload: Payload::AsReceived(payload),
    })
}

/// Standard Webhooks: the id is `webhook-id`, the type the payload's `type`,
/// the time its `timestamp` (else `webhook-timestamp`).
pub(super) fn standard<'a>(
    headers: &http::HeaderMap,
    payload: &'a RawValue,
) -> Result<Fields<'a>, PayloadError> {
    #[derive(Deserialize)]
    struct StandardHead<'a> {
        #[serde(borrow, rename = "type")]
        event_type: Option<Cow<'a, str>>,
        #[serde(borrow)]
        timestamp: Option<Cow<'a, str>>,
    }
    // Verification already proved these headers present and well-formed.
    let message = MessageHeaders::from_headers(headers)
        .map_err(|_| PayloadError::MissingField("webhook-id"))?;
    let head: StandardHead = head(payload)?;
    let occurred_at = match head.timestamp {
        Some(text) => rfc3339(
            humantime::parse_rfc3339_weak(&text)
                .map_err(|_| invalid("timestamp", "is not an RFC 3339 time"))?,
        ),
        None => unix_seconds("webhook-timestamp", message.timestamp)?,
    };
    Ok(Fields {
        id: event_id("webhook-id", message.id)?,
        event_type: event_type("type", &required("type", head.event_type)?)?,
        occurred_at: Some(occurred_at),
        payload: Payload::AsReceived(payload),
    })
}

/// Generic HMAC senders: id and type from configured headers, else the body
/// digest and the configured JSON pointer.
pub(super) fn hmac<'a>(
    scheme: &HmacScheme,
    headers: &http::HeaderMap,
    body: &[u8],
    payload: &'a RawValue,
) -> Result<Fields<'a>, PayloadError> {
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
            let value: serde_json::Value = head(payload)?;
            let text = value
                .pointer(&scheme.type_pointer)
                .and_then(serde_json::Value::as_str)
                .ok_or(PayloadError::MissingField("type"))?;
            event_type("type", text)?
        }
    };
    Ok(Fields {
        id,
        event_type,
        occurred_at: None,
        payload: Payload::AsReceived(payload),
    })
}

/// A Money Button webhook body: `{"secret": "...", "payment": {...}}`, its
/// top-level members kept in order so the payload can be rewritten without
/// the secret and otherwise unchanged.
pub(super) struct MoneyButtonBody<'a> {
    members: Vec<(String, &'a RawValue)>,
    secret: String,
    payment: MoneyButtonPayment<'a>,
}

#[derive(Deserialize)]
struct MoneyButtonPayment<'a> {
    id: Option<PaymentId<'a>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "updatedAt")]
    updated_at: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "createdAt")]
    created_at: Option<Cow<'a, str>>,
}

/// Money Button payment ids have been sent both as strings and numbers.
#[derive(Deserialize)]
#[serde(untagged)]
enum PaymentId<'a> {
    Text(#[serde(borrow)] Cow<'a, str>),
    Number(u64),
}

struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut members = Vec::with_capacity(map.size_hint().unwrap_or(4));
                while let Some(member) = map.next_entry::<String, &'de RawValue>()? {
                    members.push(member);
                }
                Ok(Members(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

impl<'a> MoneyButtonBody<'a> {
    pub fn parse(payload: &'a RawValue) -> Result<Self, PayloadError> {
        let Members(members) = head(payload)?;
        let only = |name: &'static str| -> Result<&'a RawValue, PayloadError> {
            let mut found = members
                .iter()
                .filter(|(key, _)| key == name)
                .map(|(_, v)| *v);
            let value = found.next().ok_or(PayloadError::MissingField(name))?;
            if found.next().is_some() {
                return Err(invalid(name, "appears more than once"));
            }
            Ok(value)
        };
        let secret: String = serde_json::from_str(only("secret")?.get())
            .map_err(|_| invalid("secret", "must be a string"))?;
        if secret.is_empty() {
            return Err(PayloadError::MissingField("secret"));
        }
        let payment: MoneyButtonPayment = serde_json::from_str(only("payment")?.get())
            .map_err(|e| invalid("payment", e.to_string()))?;
        Ok(Self {
            members,
            secret,
            payment,
        })
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The fields, and the payload without the secret.
    pub fn into_fields(self) -> Result<Fields<'static>, PayloadError> {
        let payment_id = match self
            .payment
            .id
            .ok_or(PayloadError::MissingField("payment.id"))?
        {
            PaymentId::Text(id) => id.into_owned(),
            PaymentId::Number(id) => id.to_string(),
        };
        let status = required("payment.status", self.payment.status)?;
        if status.is_empty() || !status.bytes().all(|b| b.is_ascii_alphabetic() || b == b'_') {
            return Err(invalid(
                "payment.status",
                "must be a status name such as COMPLETED",
            ));
        }
        let status = status.to_ascii_lowercase();
        let occurred_at = self
            .payment
            .updated_at
            .or(self.payment.created_at)
            .and_then(|text| humantime::parse_rfc3339_weak(&text).ok())
            .map(rfc3339);
        let mut payload = String::with_capacity(
            self.members
                .iter()
                .map(|(k, v)| k.len() + v.get().len() + 4)
                .sum::<usize>()
                + 2,
        );
        payload.push('{');
        for (key, value) in self.members.iter().filter(|(key, _)| key != "secret") {
            if payload.len() > 1 {
                payload.push(',');
            }
            payload.push_str(&serde_json::to_string(key).expect("a string serialises"));
            payload.push(':');
            payload.push_str(value.get());
        }
        payload.push('}');
        Ok(Fields {
            id: event_id("payment.id", &format!("{payment_id}:{status}"))?,
            event_type: event_type("payment.status", &format!("payment.{status}"))?,
            occurred_at,
            payload: Payload::Rewritten(
                RawValue::from_string(payload).expect("members of a JSON object form one"),
            ),
        })
    }
}
