//! `hookbridge sign`: signs a payload the way a provider would and prints
//! the headers and a ready curl command, to test a source without the
//! provider (as `stripe trigger` does).
//!
//! Signing goes through the core's own `sign` helpers and source
//! configuration, so what this prints is exactly what ingest verifies.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use hookbridge_core::config::{ConfigError, SourceKind, Sources};
use hookbridge_core::secret::Secret;
use hookbridge_core::verify::{github, hmac_header, standard, stripe};

/// The provider kinds a payload can be signed for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    Stripe,
    Github,
    Standard,
    #[value(name = "moneybutton")]
    MoneyButton,
    Hmac,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Stripe => "stripe",
            Self::Github => "github",
            Self::Standard => "standard",
            Self::MoneyButton => "moneybutton",
            Self::Hmac => "hmac",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    Hex,
    Base64,
}

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The provider kind to sign as.
    #[arg(long = "source", value_enum)]
    pub kind: Kind,
    /// The source's signing secret (for moneybutton: the shared secret that
    /// goes into the body's `secret` field).
    #[arg(long)]
    pub secret: String,
    /// The JSON payload to sign.
    #[arg(long)]
    pub file: PathBuf,
    /// The source name in the URL path [default: the kind].
    #[arg(long)]
    pub name: Option<String>,
    /// Where hookbridge listens.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    pub url: String,
    /// The event id sent in a header: `X-GitHub-Delivery`, `webhook-id`, or
    /// the hmac `--id-header` [default: a random one].
    #[arg(long)]
    pub id: Option<String>,
    /// The event type sent in a header: `X-GitHub-Event` (required for
    /// github) or the hmac `--type-header`.
    #[arg(long)]
    pub event_type: Option<String>,
    /// Signing time in Unix seconds [default: now].
    #[arg(long, allow_negative_numbers = true)]
    pub timestamp: Option<i64>,
    /// hmac: the header carrying the signature.
    #[arg(long, required_if_eq("kind", "hmac"))]
    pub header: Option<String>,
    /// hmac: the text before the encoded MAC, e.g. `sha256=`.
    #[arg(long, default_value = "")]
    pub prefix: String,
    /// hmac: how the MAC is encoded.
    #[arg(long, value_enum, default_value = "hex")]
    pub encoding: Encoding,
    /// hmac: the header carrying the event id.
    #[arg(long)]
    pub id_header: Option<String>,
    /// hmac: the header carrying the event type.
    #[arg(long)]
    pub type_header: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum SignError {
    #[error("cannot read {path}: {source}")]
    ReadPayload {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the payload must be a JSON object: {0}")]
    NotAJsonObject(String),
    #[error("{0}")]
    InvalidSource(#[from] ConfigError),
    #[error("github webhooks need --event-type (the X-GitHub-Event header, e.g. `push`)")]
    MissingEventType,
    #[error("the payload already has a `secret` field; Money Button puts the secret there")]
    SecretAlreadyInPayload,
    #[error("a Standard Webhooks secret is `whsec_` followed by base64")]
    InvalidStandardSecret,
    #[error("--{0} must be visible ASCII text without control characters")]
    InvalidHeaderValue(&'static str),
}

/// What varies per request besides the payload and the secret.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    pub id: &'a str,
    pub event_type: Option<&'a str>,
    pub timestamp: i64,
}

/// A signed webhook: the headers to send and, when signing changed it (Money
/// Button), the body to send instead of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedWebhook {
    pub headers: Vec<(String, String)>,
    pub rewritten_body: Option<String>,
}

pub fn run(args: SignArgs) -> Result<(), SignError> {
    let body = std::fs::read(&args.file).map_err(|source| SignError::ReadPayload {
        path: args.file.clone(),
        source,
    })?;
    let name = args.name.as_deref().unwrap_or(args.kind.as_str());
    let kind = source_kind(&args, name)?;
    let id = match &args.id {
        Some(id) => id.clone(),
        None if args.kind == Kind::Standard => format!("msg_{}", uuid::Uuid::new_v4().simple()),
        None => uuid::Uuid::new_v4().to_string(),
    };
    let timestamp = args.timestamp.unwrap_or_else(unix_now);
    let parts = RequestParts {
        id: &id,
        event_type: args.event_type.as_deref(),
        timestamp,
    };
    let signed = sign_webhook(&kind, &args.secret, &body, parts)?;
    let url = format!("{}/webhooks/{name}", args.url.trim_end_matches('/'));
    print!("{}", render(&url, &signed, &args.file));
    Ok(())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64)
}

/// The source as ingest would configure it, through the core's own parser so
/// an option ingest refuses is refused here too.
fn source_kind(args: &SignArgs, name: &str) -> Result<SourceKind, SignError> {
    let mut options = serde_json::json!({ "kind": args.kind.as_str() });
    if args.kind == Kind::Hmac {
        let encoding = match args.encoding {
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
        };
        options["header"] = args.header.clone().into();
        options["prefix"] = args.prefix.clone().into();
        options["encoding"] = encoding.into();
        if let Some(id_header) = &args.id_header {
            options["id_header"] = id_header.clone().into();
        }
        if let Some(type_header) = &args.type_header {
            options["type_header"] = type_header.clone().into();
        }
    }
    let sources = Sources::from_json(&serde_json::json!({ name: options }).to_string())?;
    let config = sources
        .get(name)
        .expect("the configuration just parsed holds its one source");
    Ok(config.kind.clone())
}

/// Signs `body` for a source of `kind`: the headers a provider would send.
pub fn sign_webhook(
    kind: &SourceKind,
    secret: &str,
    body: &[u8],
    parts: RequestParts<'_>,
) -> Result<SignedWebhook, SignError> {
    let payload: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(body)
        .map_err(|error| SignError::NotAJsonObject(error.to_string()))?;
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    let mut rewritten_body = None;
    match kind {
        SourceKind::Stripe { .. } => headers.push((
            "Stripe-Signature".into(),
            stripe::sign(secret, parts.timestamp, body),
        )),
        SourceKind::Github => {
            let event_type = parts.event_type.ok_or(SignError::MissingEventType)?;
            headers.push((
                "X-GitHub-Event".into(),
                header_value("event-type", event_type)?,
            ));
            headers.push(("X-GitHub-Delivery".into(), header_value("id", parts.id)?));
            headers.push(("X-Hub-Signature-256".into(), github::sign(secret, body)));
        }
        SourceKind::Standard { .. } => {
            let signature = standard::sign(&Secret::new(secret), parts.id, parts.timestamp, body)
                .map_err(|_| SignError::InvalidStandardSecret)?;
            headers.push(("webhook-id".into(), header_value("id", parts.id)?));
            headers.push(("webhook-timestamp".into(), parts.timestamp.to_string()));
            headers.push(("webhook-signature".into(), signature));
        }
        SourceKind::Hmac(scheme) => {
            if let Some(id_header) = &scheme.id_header {
                headers.push((id_header.clone(), header_value("id", parts.id)?));
            }
            if let (Some(type_header), Some(event_type)) = (&scheme.type_header, parts.event_type) {
                headers.push((type_header.clone(), header_value("event-type", event_type)?));
            }
            headers.push((
                scheme.header.clone(),
                hmac_header::sign(scheme, secret, body),
            ));
        }
        SourceKind::MoneyButton => {
            if payload.contains_key("secret") {
                return Err(SignError::SecretAlreadyInPayload);
            }
            let text = std::str::from_utf8(body)
                .map_err(|error| SignError::NotAJsonObject(error.to_string()))?;
            rewritten_body = Some(with_secret_field(text, secret, payload.is_empty()));
        }
    }
    Ok(SignedWebhook {
        headers,
        rewritten_body,
    })
}

/// Inserts `"secret": <secret>` as the first member of the JSON object
/// `object`, leaving every other byte as it was.
fn with_secret_field(object: &str, secret: &str, is_empty: bool) -> String {
    let open = object
        .find('{')
        .expect("a parsed JSON object has an opening brace");
    let field = serde_json::json!(secret).to_string();
    let separator = if is_empty { "" } else { "," };
    format!(
        "{}{{\"secret\":{field}{separator}{}",
        &object[..open],
        &object[open + 1..]
    )
}

fn header_value(flag: &'static str, value: &str) -> Result<String, SignError> {
    if !value.is_empty()
        && value
            .bytes()
            .all(|byte| byte.is_ascii_graphic() || byte == b' ')
    {
        Ok(value.to_owned())
    } else {
        Err(SignError::InvalidHeaderValue(flag))
    }
}

/// The headers, then a curl command that sends the signed webhook.
pub fn render(url: &str, signed: &SignedWebhook, file: &std::path::Path) -> String {
    let mut out = String::new();
    for (name, value) in &signed.headers {
        out.push_str(&format!("{name}: {value}\n"));
    }
    out.push_str(&format!("\ncurl -sS -X POST {}", shell_quote(url)));
    for (name, value) in &signed.headers {
        out.push_str(&format!(
            " \\\n  -H {}",
            shell_quote(&format!("{name}: {value}"))
        ));
    }
    let data = match &signed.rewritten_body {
        Some(body) => shell_quote(body),
        None => format!("@{}", shell_quote(&file.to_string_lossy())),
    };
    out.push_str(&format!(" \\\n  --data-binary {data}\n"));
    out
}

/// Quotes `text` for a POSIX shell: inside single quotes nothing is special
/// but the single quote itself.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hookbridge_core::ingest::{IngestError, Prepared, Webhook, prepare};
    use hookbridge_core::secret::SecretSet;

    use super::*;

    const NOW: i64 = 1_795_478_400;
    const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn parts(event_type: Option<&str>) -> RequestParts<'_> {
        RequestParts {
            id: "evt_cli_1",
            event_type,
            timestamp: NOW,
        }
    }

    fn sources() -> Sources {
        Sources::from_json(
            r#"{"stripe":{"kind":"stripe"},"github":{"kind":"github"},
                "standard":{"kind":"standard"},"moneybutton":{"kind":"moneybutton"},
                "shopify":{"kind":"hmac","header":"X-Shopify-Hmac-Sha256","encoding":"base64",
                           "id_header":"X-Shopify-Webhook-Id","type_header":"X-Shopify-Topic"}}"#,
        )
        .unwrap()
    }

    /// Runs what `sign` produced through ingest's own rule, as the server would.
    fn ingest(
        source: &str,
        secret: &str,
        signed: &SignedWebhook,
        body: &[u8],
    ) -> Result<Prepared, IngestError> {
        let sources = sources();
        let mut headers = http::HeaderMap::new();
        for (name, value) in &signed.headers {
            headers.insert(
                http::HeaderName::try_from(name.as_str()).unwrap(),
                http::HeaderValue::try_from(value.as_str()).unwrap(),
            );
        }
        let body = signed.rewritten_body.as_deref().map_or(body, str::as_bytes);
        let webhook = Webhook {
            source,
            config: sources.get(source).unwrap(),
            headers: &headers,
            body,
        };
        let now = UNIX_EPOCH + Duration::from_secs(NOW as u64);
        prepare(&webhook, &SecretSet::parse(secret), now, "corr-1", "local")
    }

    fn kind_of(source: &str) -> SourceKind {
        sources().get(source).unwrap().kind.clone()
    }

    #[test]
    fn signed_stripe_webhook_is_accepted_by_ingest() {
        let body = br#"{"id":"evt_1","type":"payment_intent.succeeded","created":1795478399}"#;
        let signed = sign_webhook(&kind_of("stripe"), "whsec_x", body, parts(None)).unwrap();
        let prepared = ingest("stripe", "whsec_x", &signed, body).unwrap();
        assert_eq!(prepared.event_id, "evt_1");
    }

    #[test]
    fn signed_github_webhook_carries_the_id_and_event_headers() {
        let body = br#"{"action":"opened","number":1}"#;
        let signed =
            sign_webhook(&kind_of("github"), "gh", body, parts(Some("pull_request"))).unwrap();
        let prepared = ingest("github", "gh", &signed, body).unwrap();
        assert_eq!(prepared.event_id, "evt_cli_1");
        assert_eq!(prepared.event_type, "pull_request.opened");
    }

    #[test]
    fn github_needs_an_event_type() {
        let result = sign_webhook(&kind_of("github"), "gh", b"{}", parts(None));
        assert!(matches!(result, Err(SignError::MissingEventType)));
    }

    #[test]
    fn signed_standard_webhook_is_accepted_by_ingest() {
        let body = br#"{"type":"invoice.paid","data":{}}"#;
        let signed =
            sign_webhook(&kind_of("standard"), STANDARD_SECRET, body, parts(None)).unwrap();
        let prepared = ingest("standard", STANDARD_SECRET, &signed, body).unwrap();
        assert_eq!(prepared.event_id, "evt_cli_1");
    }

    #[test]
    fn standard_refuses_a_secret_that_is_not_whsec_base64() {
        let result = sign_webhook(&kind_of("standard"), "not-a-key!", b"{}", parts(None));
        assert!(matches!(result, Err(SignError::InvalidStandardSecret)));
    }

    #[test]
    fn signed_hmac_webhook_sets_the_configured_id_and_type_headers() {
        let body = br#"{"id":820982911946154508}"#;
        let signed = sign_webhook(
            &kind_of("shopify"),
            "shp",
            body,
            parts(Some("orders/create")),
        )
        .unwrap();
        let prepared = ingest("shopify", "shp", &signed, body).unwrap();
        assert_eq!(prepared.event_id, "evt_cli_1");
        assert_eq!(prepared.event_type, "orders/create");
    }

    #[test]
    fn money_button_secret_goes_into_the_body_and_is_removed_by_ingest() {
        let body = br#" {"payment":{"id":"1","status":"COMPLETED"}}"#;
        let signed = sign_webhook(&kind_of("moneybutton"), "mb", body, parts(None)).unwrap();
        let rewritten = signed.rewritten_body.as_deref().unwrap();
        assert_eq!(
            rewritten,
            r#" {"secret":"mb","payment":{"id":"1","status":"COMPLETED"}}"#
        );
        let prepared = ingest("moneybutton", "mb", &signed, body).unwrap();
        assert!(!prepared.bus_event.detail.contains("\"mb\""));
    }

    #[test]
    fn money_button_secret_is_json_escaped_and_fits_an_empty_object() {
        let signed = sign_webhook(&kind_of("moneybutton"), "a\"b", b"{}", parts(None)).unwrap();
        let body: serde_json::Value =
            serde_json::from_str(signed.rewritten_body.as_deref().unwrap()).unwrap();
        assert_eq!(body, serde_json::json!({"secret": "a\"b"}));
    }

    #[test]
    fn money_button_payload_with_a_secret_is_refused() {
        let result = sign_webhook(
            &kind_of("moneybutton"),
            "mb",
            br#"{"secret":"x"}"#,
            parts(None),
        );
        assert!(matches!(result, Err(SignError::SecretAlreadyInPayload)));
    }

    #[test]
    fn a_signature_does_not_verify_another_body() {
        let body = br#"{"id":"evt_1","type":"charge.succeeded"}"#;
        let signed = sign_webhook(&kind_of("stripe"), "whsec_x", body, parts(None)).unwrap();
        let tampered = br#"{"id":"evt_2","type":"charge.succeeded"}"#;
        let error = ingest("stripe", "whsec_x", &signed, tampered).unwrap_err();
        assert_eq!(error.status(), 401);
    }

    #[test]
    fn payloads_that_are_not_json_objects_are_refused() {
        for body in [&b"[1]"[..], b"not json", b""] {
            let result = sign_webhook(&kind_of("stripe"), "whsec_x", body, parts(None));
            assert!(
                matches!(result, Err(SignError::NotAJsonObject(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn header_values_with_control_characters_are_refused() {
        let parts = RequestParts {
            id: "evt\r\nX-Injected: 1",
            event_type: Some("push"),
            timestamp: NOW,
        };
        let result = sign_webhook(&kind_of("github"), "gh", b"{}", parts);
        assert!(matches!(result, Err(SignError::InvalidHeaderValue("id"))));
    }

    #[test]
    fn curl_command_sends_every_header_and_the_file() {
        let signed = SignedWebhook {
            headers: vec![("Stripe-Signature".into(), "t=1,v1=ab".into())],
            rewritten_body: None,
        };
        let rendered = render(
            "http://127.0.0.1:3000/webhooks/stripe",
            &signed,
            std::path::Path::new("it's.json"),
        );
        assert_eq!(
            rendered,
            "Stripe-Signature: t=1,v1=ab\n\n\
             curl -sS -X POST 'http://127.0.0.1:3000/webhooks/stripe' \\\n  \
             -H 'Stripe-Signature: t=1,v1=ab' \\\n  \
             --data-binary @'it'\\''s.json'\n"
        );
    }

    #[test]
    fn curl_command_inlines_a_rewritten_body() {
        let signed = SignedWebhook {
            headers: vec![],
            rewritten_body: Some(r#"{"secret":"it's"}"#.into()),
        };
        let rendered = render("http://h/webhooks/moneybutton", &signed, "p.json".as_ref());
        assert!(rendered.ends_with("--data-binary '{\"secret\":\"it'\\''s\"}'\n"));
    }

    #[test]
    fn hmac_options_are_checked_by_the_source_parser() {
        let args = SignArgs {
            kind: Kind::Hmac,
            secret: "s".into(),
            file: "p.json".into(),
            name: None,
            url: "http://127.0.0.1:3000".into(),
            id: None,
            event_type: None,
            timestamp: None,
            header: Some("bad header".into()),
            prefix: String::new(),
            encoding: Encoding::Hex,
            id_header: None,
            type_header: None,
        };
        assert!(matches!(
            source_kind(&args, "hmac"),
            Err(SignError::InvalidSource(_))
        ));
    }
}
