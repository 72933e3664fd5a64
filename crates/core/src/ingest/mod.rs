//! The ingest rule: from a raw webhook to an event ready for the bus.
//!
//! [`prepare`] is pure: the caller fetches the source's secrets and passes
//! `now` and a correlation id. Every way a webhook can be refused is an
//! [`IngestError`], whose status and code are the public contract.

mod fields;
mod payload;

use std::time::SystemTime;

use crate::config::{SourceConfig, SourceKind};
use crate::entry::entry_size;
use crate::envelope::{BodyRef, EnvelopeRef, bus_source};
use crate::payload_ref::{MAX_BODY_SIZE, MAX_INLINE_EVENT_SIZE, PayloadRef};
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
    #[error("the body is {size} bytes; hookbridge accepts at most {MAX_BODY_SIZE} bytes")]
    TooLarge { size: usize },
    #[error("signature verification failed: {0}")]
    Unverified(#[source] VerifyError),
    #[error("invalid payload: {0}")]
    InvalidPayload(#[from] PayloadError),
    #[error("the source's secrets are unavailable; retry later")]
    SecretsUnavailable,
    #[error("the event bus is unavailable; retry later")]
    BusUnavailable,
    #[error("the payload store is unavailable; retry later")]
    PayloadStoreUnavailable,
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
            Self::SecretsUnavailable | Self::BusUnavailable | Self::PayloadStoreUnavailable => 503,
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
            Self::PayloadStoreUnavailable => "payload_store_unavailable",
        }
    }
}

/// Refuses a body larger than hookbridge carries before any secret is
/// fetched or MAC computed over it.
pub fn check_body_size(body: &[u8]) -> Result<(), IngestError> {
    if body.len() > MAX_BODY_SIZE {
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
    /// The payload to store before the event is published, when it is too
    /// large to travel inline (the event then carries its reference).
    pub stored_payload: Option<StoredPayload>,
}

/// A payload that travels by reference: exactly the bytes deliver will POST.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredPayload {
    pub reference: PayloadRef,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for StoredPayload {
    /// Leaves out the bytes: megabytes of payload in a log line help nobody.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredPayload")
            .field("reference", &self.reference)
            .finish_non_exhaustive()
    }
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
/// before the body is parsed, so unauthenticated input costs one MAC. A
/// payload too large to travel inline is referenced in `payload_bucket`.
pub fn prepare(
    webhook: &Webhook<'_>,
    secrets: &SecretSet,
    now: SystemTime,
    correlation_id: &str,
    payload_bucket: &str,
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
    let payload = fields
        .rewritten_payload
        .as_deref()
        .unwrap_or_else(|| object.text());
    let mut envelope = EnvelopeRef {
        id: &fields.id,
        source: webhook.source,
        event_type: &fields.event_type,
        received_at: &received_at,
        occurred_at: fields.occurred_at.as_deref(),
        correlation_id,
        payload: BodyRef::Inline(payload),
    };
    let bus_event = |envelope: &EnvelopeRef<'_>| BusEvent {
        source: bus_source(webhook.source),
        detail_type: fields.event_type.clone(),
        detail: envelope.to_json(),
    };
    // A payload this large never fits inline: it is not written out twice.
    if payload.len() < MAX_INLINE_EVENT_SIZE {
        let inline = bus_event(&envelope);
        if entry_size(&inline) <= MAX_INLINE_EVENT_SIZE {
            return Ok(Prepared {
                event_id: fields.id,
                event_type: fields.event_type,
                bus_event: inline,
                stored_payload: None,
            });
        }
    }
    // The id and type are bounded (see `fields`): without its payload the
    // envelope is far below the limit.
    let reference = PayloadRef::of(payload_bucket, webhook.source, payload.as_bytes());
    envelope.payload = BodyRef::Stored(&reference);
    let referencing = bus_event(&envelope);
    let bytes = payload.as_bytes().to_vec();
    Ok(Prepared {
        event_id: fields.id,
        event_type: fields.event_type,
        bus_event: referencing,
        stored_payload: Some(StoredPayload { reference, bytes }),
    })
}
