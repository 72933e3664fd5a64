//! The ingest rule: from a raw webhook to an event ready for the bus.
//!
//! [`prepare`] is pure: the caller fetches the source's secrets and passes
//! `now` and a correlation id. Every way a webhook can be refused is an
//! [`IngestError`], whose status and code are the public contract.

mod fields;
mod payload;

use std::time::SystemTime;

use crate::config::{SourceConfig, SourceKind};
use crate::entry::{MAX_ENTRY_SIZE, entry_size};
use crate::envelope::{EnvelopeRef, bus_source};
use crate::ports::BusEvent;
use crate::secret::SecretSet;
use crate::verify::{self, VerifyError};

pub use fields::PayloadError;
pub use payload::MAX_NESTING;

use payload::JsonObject;

/// Why a webhook was not accepted. Display texts are safe to return to the
/// sender and to log: none carries a secret or a signature.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("no source named `{0}` is configured")]
    UnknownSource(String),
    #[error("only POST is accepted")]
    MethodNotAllowed,
    #[error("the event is {size} bytes; the event bus carries at most {MAX_ENTRY_SIZE}")]
    TooLarge { size: usize },
    #[error("signature verification failed: {0}")]
    Unverified(#[source] VerifyError),
    #[error("invalid payload: {0}")]
    InvalidPayload(#[from] PayloadError),
    #[error("the source's secrets are unavailable; retry later")]
    SecretsUnavailable,
    #[error("the event bus is unavailable; retry later")]
    BusUnavailable,
}

impl From<VerifyError> for IngestError {
    fn from(error: VerifyError) -> Self {
        Self::Unverified(error)
    }
}

impl IngestError {
    /// The HTTP status of the ingest contract.
    pub fn status(&self) -> u16 {
        match self {
            Self::InvalidPayload(_) => 400,
            Self::Unverified(VerifyError::InvalidSecret) => 503,
            Self::Unverified(_) => 401,
            Self::UnknownSource(_) => 404,
            Self::MethodNotAllowed => 405,
            Self::TooLarge { .. } => 413,
            Self::SecretsUnavailable | Self::BusUnavailable => 503,
        }
    }

    /// The stable snake_case code of the error body.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownSource(_) => "unknown_source",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::TooLarge { .. } => "payload_too_large",
            Self::Unverified(error) => error.code(),
            Self::InvalidPayload(error) => error.code(),
            Self::SecretsUnavailable => "secrets_unavailable",
            Self::BusUnavailable => "bus_unavailable",
        }
    }
}

/// Refuses a body that cannot fit on the bus before any secret is fetched or
/// MAC computed over it.
pub fn check_body_size(body: &[u8]) -> Result<(), IngestError> {
    if body.len() > MAX_ENTRY_SIZE {
        Err(IngestError::TooLarge { size: body.len() })
    } else {
        Ok(())
    }
}

/// A verified webhook as one bus event, and what identifies it in logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub event_id: String,
    pub event_type: String,
    pub bus_event: BusEvent,
}

/// What arrived, for one configured source.
#[derive(Debug, Clone, Copy)]
pub struct Webhook<'a> {
    pub source: &'a str,
    pub config: &'a SourceConfig,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

/// Verifies `webhook` with `secrets` at `now`, validates its payload and
/// builds the bus event. Signatures are checked over the exact raw bytes
/// before the body is parsed, so unauthenticated input costs one MAC.
pub fn prepare(
    webhook: &Webhook<'_>,
    secrets: &SecretSet,
    now: SystemTime,
    correlation_id: &str,
) -> Result<Prepared, IngestError> {
    check_body_size(webhook.body)?;
    let headers = webhook.headers;
    let body = webhook.body;
    let object;
    let fields = match &webhook.config.kind {
        SourceKind::Stripe { tolerance } => {
            verify::stripe::verify(headers, body, secrets, now, *tolerance)?;
            object = JsonObject::parse(body)?;
            fields::stripe(&object)?
        }
        SourceKind::Github => {
            verify::github::verify(headers, body, secrets)?;
            object = JsonObject::parse(body)?;
            fields::github(headers, body, &object)?
        }
        SourceKind::Standard { tolerance } => {
            verify::standard::verify(headers, body, secrets, now, *tolerance)?;
            object = JsonObject::parse(body)?;
            fields::standard(headers, &object)?
        }
        SourceKind::Hmac(scheme) => {
            verify::hmac_header::verify(scheme, headers, body, secrets)?;
            object = JsonObject::parse(body)?;
            fields::hmac(scheme, headers, body, &object)?
        }
        SourceKind::MoneyButton => {
            // The secret is inside the body: it must be parsed first.
            object = JsonObject::parse(body)?;
            let payment = fields::MoneyButtonBody::parse(&object)?;
            verify::moneybutton::verify(payment.secret(), secrets)?;
            payment.into_fields()?
        }
    };
    let received_at = humantime::format_rfc3339_millis(now).to_string();
    let envelope = EnvelopeRef {
        id: &fields.id,
        source: webhook.source,
        event_type: &fields.event_type,
        received_at: &received_at,
        occurred_at: fields.occurred_at.as_deref(),
        correlation_id,
        payload: fields
            .rewritten_payload
            .as_deref()
            .unwrap_or_else(|| object.text()),
    };
    let detail = envelope.to_json();
    let bus_event = BusEvent {
        source: bus_source(webhook.source),
        detail_type: fields.event_type.clone(),
        detail,
    };
    let size = entry_size(&bus_event);
    if size > MAX_ENTRY_SIZE {
        return Err(IngestError::TooLarge { size });
    }
    Ok(Prepared {
        event_id: fields.id,
        event_type: fields.event_type,
        bus_event,
    })
}
