//! Providers: one module per webhook sender, holding everything about it —
//! its signature scheme, its event id, type and time, the object its events
//! are about, its handshake, and how `hookbridge sign` signs as it.
//!
//! Ingest, the projection and `hookbridge sign` dispatch over [`Preset`];
//! adding a provider is one module implementing [`Provider`], declared
//! below (outside the macro, so rustfmt formats it), plus its line in the
//! registry.

pub mod composed;
pub mod describe;
pub mod handshake;
mod options;
#[cfg(test)]
mod testing;

// One module per provider, each named in `registry!` below.
pub mod calendly;
pub mod discord;
pub mod github;
pub mod gitlab;
pub mod hmac;
pub mod hubspot;
pub mod intercom;
pub mod linear;
pub mod mailgun;
pub mod moneybutton;
pub mod paddle;
pub mod sendgrid;
pub mod shopify;
pub mod slack;
pub mod square;
pub mod standard;
pub mod stripe;
pub mod svix;
pub mod twilio;
pub mod typeform;
pub mod zoom;

use std::fmt;
use std::time::SystemTime;

pub use describe::{Described, Fallback};
pub use options::Options;

use crate::ingest::PayloadError;
use crate::ingest::payload::JsonObject;
use crate::secret::{Secret, SecretSet};
use crate::verify::VerifyError;

macro_rules! registry {
    ($($variant:ident($module:ident::$ty:ident) = $name:literal,)+) => {
        /// Every kind a source can be, by its configuration name.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Kind {
            $($variant,)+
        }

        impl Kind {
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)+];

            /// The name a source's `kind` option spells.
            pub fn name(self) -> &'static str {
                match self {
                    $(Kind::$variant => $name,)+
                }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                match name {
                    $($name => Some(Kind::$variant),)+
                    _ => None,
                }
            }

            /// The provider object a payload is about, by the kind's rule.
            pub fn object(self, event: &EventView<'_>) -> Option<ObjectRef> {
                match self {
                    $(Kind::$variant => <$module::$ty as Provider>::object(event),)+
                }
            }
        }

        /// A configured provider: its kind and the options it was given.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Preset {
            $($variant($module::$ty),)+
        }

        impl Preset {
            pub fn kind(&self) -> Kind {
                match self {
                    $(Self::$variant(_) => Kind::$variant,)+
                }
            }

            pub fn provider(&self) -> &dyn Provider {
                match self {
                    $(Self::$variant(provider) => provider,)+
                }
            }

            pub(crate) fn from_options(kind: Kind, options: &mut Options) -> Result<Self, String> {
                match kind {
                    $(Kind::$variant => $module::$ty::from_options(options).map(Self::$variant),)+
                }
            }
        }
    };
}

registry! {
    Stripe(stripe::Stripe) = "stripe",
    Github(github::Github) = "github",
    Standard(standard::Standard) = "standard",
    MoneyButton(moneybutton::MoneyButton) = "moneybutton",
    Hmac(hmac::Hmac) = "hmac",
    Slack(slack::Slack) = "slack",
    Twilio(twilio::Twilio) = "twilio",
    Square(square::Square) = "square",
    Gitlab(gitlab::Gitlab) = "gitlab",
    Discord(discord::Discord) = "discord",
    Sendgrid(sendgrid::Sendgrid) = "sendgrid",
    Zoom(zoom::Zoom) = "zoom",
    Hubspot(hubspot::Hubspot) = "hubspot",
    Linear(linear::Linear) = "linear",
    Paddle(paddle::Paddle) = "paddle",
    Intercom(intercom::Intercom) = "intercom",
    Mailgun(mailgun::Mailgun) = "mailgun",
    Typeform(typeform::Typeform) = "typeform",
    Calendly(calendly::Calendly) = "calendly",
    Shopify(shopify::Shopify) = "shopify",
    Svix(svix::Svix) = "svix",
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The JSON a body must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyShape {
    Object,
    /// Providers that batch events send a JSON array.
    ObjectOrArray,
}

/// One webhook as the provider sent it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub method: &'a http::Method,
    /// The URL the provider called (the source's `public_url`, else the
    /// request's own), for schemes that sign it.
    pub url: &'a str,
    pub headers: &'a http::HeaderMap,
    /// The exact bytes received.
    pub body: &'a [u8],
    /// The decoded fields of a form-encoded body.
    pub form: Option<&'a [(String, String)]>,
}

/// An answer ingest gives itself, never put on the bus: the provider
/// checking that the endpoint is its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    /// What it answers, for the log (e.g. `slack url_verification`).
    pub name: &'static str,
    pub status: u16,
    /// `None` with an empty body (204).
    pub content_type: Option<&'static str>,
    pub body: String,
}

impl Handshake {
    pub fn json(name: &'static str, body: serde_json::Value) -> Self {
        Self {
            name,
            status: 200,
            content_type: Some("application/json"),
            body: body.to_string(),
        }
    }

    pub fn text(name: &'static str, body: String) -> Self {
        Self {
            name,
            status: 200,
            content_type: Some("text/plain; charset=utf-8"),
            body,
        }
    }

    pub fn no_content(name: &'static str) -> Self {
        Self {
            name,
            status: 204,
            content_type: None,
            body: String::new(),
        }
    }
}

/// An envelope's payload and type, for the projection's object rules.
#[derive(Debug, Clone, Copy)]
pub struct EventView<'a> {
    pub event_type: &'a str,
    /// The payload's JSON text.
    pub payload: &'a str,
}

impl EventView<'_> {
    /// The payload parsed, when it is JSON.
    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_str(self.payload).ok()
    }

    /// The id (string or number) at `pointer` in the payload.
    pub fn id_at(&self, pointer: &str) -> Option<ObjectRef> {
        ObjectRef::at(&self.json()?, pointer)
    }
}

/// A provider object: its id, and the rank of the event's state for ties.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub id: String,
    pub rank: u8,
}

impl ObjectRef {
    /// The id (string or number) at `pointer` in `payload`, rank 0.
    pub fn at(payload: &serde_json::Value, pointer: &str) -> Option<Self> {
        let id = match payload.pointer(pointer)? {
            serde_json::Value::String(id) if !id.is_empty() => id.clone(),
            serde_json::Value::Number(id) => id.to_string(),
            _ => return None,
        };
        Some(Self { id, rank: 0 })
    }
}

/// What `hookbridge sign` signs: the request a provider would send.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    pub id: &'a str,
    pub event_type: Option<&'a str>,
    /// Unix seconds.
    pub timestamp: i64,
    pub url: &'a str,
    pub body: &'a [u8],
}

/// The headers a provider would send and, when signing changes it (a secret
/// inside the body), the body to send instead.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Signed {
    pub headers: Vec<(String, String)>,
    pub rewritten_body: Option<String>,
}

impl Signed {
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

/// Why `hookbridge sign` cannot sign a webhook.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the secret is not usable for this kind: {0}")]
    InvalidSecret(String),
    #[error("{kind} webhooks need --event-type ({what})")]
    MissingEventType {
        kind: &'static str,
        what: &'static str,
    },
    #[error("the body must be JSON: {0}")]
    NotJson(String),
    #[error("the payload already has a `{0}` field, where the signature goes")]
    FieldAlreadyInPayload(&'static str),
    #[error("{0}")]
    Unsupported(&'static str),
}

/// One provider's rules. Every method is pure: time, secrets and the request
/// come in as arguments.
pub trait Provider: fmt::Debug + Send + Sync {
    /// Reads the kind's own options (the common ones are already taken).
    fn from_options(options: &mut Options) -> Result<Self, String>
    where
        Self: Sized;

    /// The JSON the body must be (forms are always decoded to an object).
    fn body_shape(&self) -> BodyShape {
        BodyShape::Object
    }

    /// Whether the signature covers the URL (then `public_url` applies).
    fn signs_url(&self) -> bool {
        false
    }

    /// Whether the secret travels inside the body, which must then be read
    /// before it is verified.
    fn secret_in_body(&self) -> bool {
        false
    }

    /// Whether `secret` has the form this provider's secrets take, so a bad
    /// key fails when it is configured, not at the first webhook.
    fn check_secret(&self, secret: &Secret) -> Result<(), String> {
        let _ = secret;
        Ok(())
    }

    /// Verifies the webhook. `document` is the parsed body for providers
    /// with [`Provider::secret_in_body`], else `None`.
    fn verify(
        &self,
        request: &Request<'_>,
        document: Option<&JsonObject<'_>>,
        secrets: &SecretSet,
        now: SystemTime,
    ) -> Result<(), VerifyError>;

    /// The answer to a verified handshake request, which never reaches the bus.
    fn handshake(
        &self,
        request: &Request<'_>,
        document: &JsonObject<'_>,
        secrets: &SecretSet,
    ) -> Option<Handshake> {
        let _ = (request, document, secrets);
        None
    }

    /// Reads the event's id, type and time from a verified webhook.
    fn describe(
        &self,
        request: &Request<'_>,
        document: &JsonObject<'_>,
        described: &mut Described,
    ) -> Result<(), PayloadError>;

    /// The provider object the event is about, if the kind knows where it is.
    fn object(event: &EventView<'_>) -> Option<ObjectRef>
    where
        Self: Sized,
    {
        let _ = event;
        None
    }

    /// The headers (and body) the provider would send for `outgoing`.
    fn sign(&self, secret: &str, outgoing: &Outgoing<'_>) -> Result<Signed, SignError>;
}

/// Whether every secret of a set passes the provider's check; the error
/// names the position, never the secret.
pub fn check_secrets(provider: &dyn Provider, secrets: &SecretSet) -> Result<(), String> {
    for (index, secret) in secrets.iter().enumerate() {
        provider
            .check_secret(secret)
            .map_err(|reason| format!("secrets[{index}]: {reason}"))?;
    }
    Ok(())
}
