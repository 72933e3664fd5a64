//! Webhooks as each provider signs them, for the built-in sources of
//! `hookbridge dev` (signed with the development secrets of dev-sources.toml).

use std::time::{SystemTime, UNIX_EPOCH};

use hookbridge_core::providers::{github, standard, stripe};
use hookbridge_core::secret::Secret;
use hookbridge_core::verify::mac::{Algorithm, MacEncoding};

// `STRIPE_SECRET`, `GITHUB_SECRET`, `STANDARD_SECRET`, `MONEYBUTTON_SECRET`,
// `SHOPIFY_SECRET`, `OUTBOUND_SECRET` (the key `hookbridge dev` signs its
// deliveries with) and `DEVELOPMENT_SECRETS` (all of them), from
// dev-sources.toml (tests/build.rs).
include!(concat!(env!("OUT_DIR"), "/dev_sources.rs"));

/// A well-formed secret no source is configured with (a valid `whsec_` key,
/// so Standard Webhooks signing accepts it).
pub const WRONG_SECRET: &str = "whsec_bm90LXRoZS1jb25maWd1cmVkLXNlY3JldA==";

/// The built-in development sources of `hookbridge dev`, one per kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Stripe,
    Github,
    Standard,
    MoneyButton,
    Shopify,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Stripe,
        Kind::Github,
        Kind::Standard,
        Kind::MoneyButton,
        Kind::Shopify,
    ];

    /// The source name, as in `POST /webhooks/{source}`.
    pub fn source(self) -> &'static str {
        match self {
            Kind::Stripe => "stripe",
            Kind::Github => "github",
            Kind::Standard => "standard",
            Kind::MoneyButton => "moneybutton",
            Kind::Shopify => "shopify",
        }
    }

    pub fn dev_secret(self) -> &'static str {
        match self {
            Kind::Stripe => STRIPE_SECRET,
            Kind::Github => GITHUB_SECRET,
            Kind::Standard => STANDARD_SECRET,
            Kind::MoneyButton => MONEYBUTTON_SECRET,
            Kind::Shopify => SHOPIFY_SECRET,
        }
    }

    /// The event type hookbridge derives from [`Webhook::new`]'s webhook.
    pub fn event_type(self) -> &'static str {
        match self {
            Kind::Stripe => "payment_intent.succeeded",
            Kind::Github => "pull_request.opened",
            Kind::Standard => "invoice.paid",
            Kind::MoneyButton => "payment.completed",
            Kind::Shopify => "orders/create",
        }
    }
}

/// A webhook ready to POST, and what hookbridge must make of it.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub kind: Kind,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The event id hookbridge must answer and deliver with.
    pub event_id: String,
    /// The payload the target must receive, byte for byte.
    pub delivered_body: Vec<u8>,
}

impl Webhook {
    /// A webhook of `kind` whose event id is derived from `id` (Money
    /// Button's id is `<payment id>:<status>`), signed with the source's
    /// development secret.
    pub fn new(kind: Kind, id: &str) -> Self {
        Self::signed_with(kind, id, kind.dev_secret())
    }

    /// The same webhook signed with `secret` (for Money Button: carrying it).
    pub fn signed_with(kind: Kind, id: &str, secret: &str) -> Self {
        let quoted_id = serde_json::to_string(id).expect("a string serialises");
        match kind {
            Kind::Stripe => {
                let body = format!(
                    r#"{{"id":{quoted_id},"object":"event","type":"payment_intent.succeeded","created":{},"data":{{"object":{{"id":"pi_1","object":"payment_intent","status":"succeeded"}}}}}}"#,
                    unix_now()
                );
                Self::stripe_with_body(id, body.into_bytes(), secret)
            }
            Kind::Github => {
                let title = serde_json::to_string(&format!("Café {id}")).expect("serialises");
                let body = format!(
                    r#"{{"action":"opened","number":7,"pull_request":{{"title":{title}}}}}"#
                );
                Self::github_with_body(id, body.into_bytes(), secret)
            }
            Kind::Standard => {
                let body = format!(
                    r#"{{"type":"invoice.paid","timestamp":"2026-11-24T00:00:00Z","data":{{"invoice":{quoted_id}}}}}"#
                );
                Self::standard_with_body(id, body.into_bytes(), secret)
            }
            Kind::MoneyButton => {
                let payment = format!(
                    r#"{{"id":{quoted_id},"status":"COMPLETED","amount":"1.00","currency":"USD"}}"#
                );
                let quoted_secret = serde_json::to_string(secret).expect("a string serialises");
                Self {
                    kind,
                    headers: vec![json_content_type()],
                    body: format!(r#"{{"secret":{quoted_secret},"payment":{payment}}}"#)
                        .into_bytes(),
                    event_id: format!("{id}:completed"),
                    delivered_body: format!(r#"{{"payment":{payment}}}"#).into_bytes(),
                }
            }
            Kind::Shopify => Self::shopify_with_body(
                id,
                format!(r#"{{"id":820982911946154508,"note":{quoted_id}}}"#).into_bytes(),
                secret,
            ),
        }
    }

    /// A Stripe webhook with any body, signed now (its id is in the body).
    pub fn stripe_with_body(id: &str, body: Vec<u8>, secret: &str) -> Self {
        let signature = stripe::sign(secret, unix_now(), &body);
        Self {
            kind: Kind::Stripe,
            headers: vec![json_content_type(), ("stripe-signature".into(), signature)],
            event_id: id.to_owned(),
            delivered_body: body.clone(),
            body,
        }
    }

    /// A GitHub `pull_request` webhook with any body (its id is the
    /// `X-GitHub-Delivery` header).
    pub fn github_with_body(delivery: &str, body: Vec<u8>, secret: &str) -> Self {
        Self {
            kind: Kind::Github,
            headers: vec![
                json_content_type(),
                ("x-github-event".into(), "pull_request".into()),
                ("x-github-delivery".into(), delivery.to_owned()),
                (github::SIGNATURE_HEADER.into(), github::sign(secret, &body)),
            ],
            event_id: delivery.to_owned(),
            delivered_body: body.clone(),
            body,
        }
    }

    /// A Standard Webhooks message with any body, signed now.
    pub fn standard_with_body(id: &str, body: Vec<u8>, secret: &str) -> Self {
        let timestamp = unix_now();
        let signature = standard::sign(&Secret::new(secret), id, timestamp, &body)
            .expect("the secret is a whsec_ key");
        Self {
            kind: Kind::Standard,
            headers: vec![
                json_content_type(),
                (standard::ID_HEADER.into(), id.to_owned()),
                (standard::TIMESTAMP_HEADER.into(), timestamp.to_string()),
                (standard::SIGNATURE_HEADER.into(), signature),
            ],
            event_id: id.to_owned(),
            delivered_body: body.clone(),
            body,
        }
    }

    /// A Shopify `orders/create` webhook with any body.
    pub fn shopify_with_body(webhook_id: &str, body: Vec<u8>, secret: &str) -> Self {
        Self {
            kind: Kind::Shopify,
            headers: vec![
                json_content_type(),
                ("x-shopify-topic".into(), "orders/create".into()),
                ("x-shopify-webhook-id".into(), webhook_id.to_owned()),
                (
                    "x-shopify-hmac-sha256".into(),
                    MacEncoding::Base64.encode(&Algorithm::Sha256.mac(secret.as_bytes(), &[&body])),
                ),
            ],
            event_id: webhook_id.to_owned(),
            delivered_body: body.clone(),
            body,
        }
    }

    /// The source name to POST to.
    pub fn source(&self) -> &'static str {
        self.kind.source()
    }

    /// `POST /webhooks/{source}`.
    pub fn path(&self) -> String {
        format!("/webhooks/{}", self.source())
    }

    /// The value of the header `name` this webhook carries.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Shopify's scheme as the built-in `shopify` source is configured.
fn json_content_type() -> (String, String) {
    ("content-type".into(), "application/json".into())
}

fn unix_now() -> i64 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs();
    i64::try_from(seconds).expect("seconds fit i64")
}

/// An id no other test or run uses: `<prefix>_<32 hex digits>`.
pub fn unique_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}
