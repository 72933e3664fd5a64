//! The ingest rule: from a raw webhook to an event ready for the bus.
//!
//! [`prepare`] is pure: the caller fetches the source's secrets and passes
//! `now` and a correlation id. Every way a webhook can be refused is an
//! [`IngestError`], whose status and code are the public contract.

pub mod form;
pub(crate) mod payload;

use std::borrow::Cow;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::config::SourceConfig;
use crate::entry::entry_size;
use crate::envelope::{BodyRef, EnvelopeRef, bus_source};
use crate::payload_ref::{MAX_BODY_SIZE, MAX_INLINE_EVENT_SIZE, PayloadRef};
use crate::ports::BusEvent;
use crate::providers::{BodyShape, Described, Fallback, Handshake, Request};
use crate::secret::SecretSet;
use crate::verify::VerifyError;

pub use payload::MAX_NESTING;

use payload::JsonObject;

/// Why a payload cannot be accepted (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PayloadError {
    #[error("the body is not JSON: {0}")]
    NotJson(String),
    #[error("the body must be a JSON object")]
    NotAnObject,
    #[error("the form body cannot be read: {0}")]
    NotForm(String),
    #[error("required field `{0}` is missing")]
    MissingField(&'static str),
    #[error("field `{field}` is invalid: {reason}")]
    InvalidField { field: &'static str, reason: String },
}

impl PayloadError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::NotJson(_) | Self::NotAnObject => "invalid_json",
            Self::NotForm(_) => "invalid_form",
            Self::MissingField(_) => "missing_field",
            Self::InvalidField { .. } => "invalid_field",
        }
    }
}
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
    /// Metadata that could not be read and fell back, for the log.
    pub fallbacks: Vec<Fallback>,
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

/// What a verified request is: an event for the bus, or a handshake that
/// ingest answers itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    Event(Prepared),
    Handshake(Handshake),
}

/// What arrived, for one configured source.
#[derive(Debug, Clone, Copy)]
pub struct Webhook<'a> {
    pub source: &'a str,
    pub config: &'a SourceConfig,
    pub method: &'a http::Method,
    /// The URL the request arrived on: scheme, host, path and query.
    pub url: &'a str,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

/// The URL the provider signed: the source's `public_url` with the
/// request's query, else the request's own URL.
fn signed_url<'a>(config: &SourceConfig, url: &'a str) -> Cow<'a, str> {
    match &config.public_url {
        None => Cow::Borrowed(url),
        Some(public) => match url.split_once('?') {
            Some((_, query)) => Cow::Owned(format!("{public}?{query}")),
            None => Cow::Owned(public.clone()),
        },
    }
}

/// Verifies `webhook` with `secrets` at `now` and builds its bus event (or
/// its handshake answer). Signatures are checked over the exact raw bytes
/// before the body is parsed (unless the secret is inside it), so
/// unauthenticated input costs one MAC. Once verified, only an unreadable
/// body or a missing promised id refuses it. A payload too large to travel
/// inline is referenced in `payload_bucket`.
pub fn prepare(
    webhook: &Webhook<'_>,
    secrets: &SecretSet,
    now: SystemTime,
    correlation_id: &str,
    payload_bucket: &str,
) -> Result<Ingested, IngestError> {
    check_body_size(webhook.body)?;
    let provider = webhook.config.provider();
    let form_content_type = form::form_content_type(webhook.headers);
    let fields = form_content_type
        .map(|_| form::decode(webhook.body))
        .transpose()?;
    let form_json = fields.as_deref().map(form::to_json);
    let url = signed_url(webhook.config, webhook.url);
    let request = Request {
        method: webhook.method,
        url: &url,
        headers: webhook.headers,
        body: webhook.body,
        form: fields.as_deref(),
    };
    let parse = || match (&form_json, provider.body_shape()) {
        (Some(json), _) => JsonObject::parse(json.as_bytes()),
        (None, BodyShape::Object) => JsonObject::parse(webhook.body),
        (None, BodyShape::ObjectOrArray) => JsonObject::parse_object_or_array(webhook.body),
    };
    let document = if provider.secret_in_body() {
        let document = parse()?;
        provider.verify(&request, Some(&document), secrets, now)?;
        document
    } else {
        provider.verify(&request, None, secrets, now)?;
        parse()?
    };
    if let Some(handshake) = provider.handshake(&request, &document, secrets) {
        return Ok(Ingested::Handshake(handshake));
    }
    let mut described = Described::default();
    provider.describe(&request, &document, &mut described)?;
    let (id, event_type) = described.finish(
        || hex::encode(Sha256::digest(webhook.body)),
        &webhook.config.default_type,
    );
    let received_at = humantime::format_rfc3339_millis(now).to_string();
    let raw_body = match form_content_type {
        // Decoding proved the form UTF-8.
        Some(_) => std::str::from_utf8(webhook.body).ok(),
        None => None,
    };
    let payload = described
        .rewritten_payload
        .as_deref()
        .unwrap_or_else(|| document.text());
    let mut envelope = EnvelopeRef {
        id: &id,
        source: webhook.source,
        event_type: &event_type,
        received_at: &received_at,
        occurred_at: described.occurred_at.as_deref(),
        correlation_id,
        payload: BodyRef::Inline(payload),
        content_type: form_content_type,
        raw_body,
    };
    let bus_event = |envelope: &EnvelopeRef<'_>| BusEvent {
        source: bus_source(webhook.source),
        detail_type: event_type.clone(),
        detail: envelope.to_json(),
    };
    // A payload this large never fits inline: it is not written out twice.
    if payload.len() + raw_body.map_or(0, str::len) < MAX_INLINE_EVENT_SIZE {
        let inline = bus_event(&envelope);
        if entry_size(&inline) <= MAX_INLINE_EVENT_SIZE {
            return Ok(Ingested::Event(Prepared {
                event_id: id,
                event_type,
                bus_event: inline,
                stored_payload: None,
                fallbacks: described.fallbacks,
            }));
        }
    }
    // The id and type are bounded: without its payload the envelope is far
    // below the limit. What is stored is exactly what deliver will POST.
    let delivered = raw_body.unwrap_or(payload);
    let reference = PayloadRef::of(payload_bucket, webhook.source, delivered.as_bytes());
    envelope.payload = BodyRef::Stored(&reference);
    envelope.raw_body = None;
    let referencing = bus_event(&envelope);
    let bytes = delivered.as_bytes().to_vec();
    Ok(Ingested::Event(Prepared {
        event_id: id,
        event_type,
        bus_event: referencing,
        stored_payload: Some(StoredPayload { reference, bytes }),
        fallbacks: described.fallbacks,
    }))
}
