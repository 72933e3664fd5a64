//! `hookbridge sign`: signs a payload the way a provider would and prints
//! the headers and a ready curl command, to test a source without the
//! provider (as `stripe trigger` does).
//!
//! Signing goes through the core's own `sign` helpers and source
//! configuration, so what this prints is exactly what ingest verifies.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use hookbridge_core::config::{ConfigError, SourceConfig, Sources};
use hookbridge_core::providers::{self, Kind, Outgoing, Signed};

use crate::output;

/// Reads `--source`: one of the core's kinds.
fn parse_kind(name: &str) -> Result<Kind, String> {
    Kind::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = Kind::ALL.iter().map(|kind| kind.name()).collect();
        format!("use one of {}", names.join(", "))
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Encoding {
    Hex,
    Base64,
}

#[derive(Debug, clap::Args)]
pub struct SignArgs {
    /// The provider kind to sign as (stripe, github, slack, …).
    #[arg(long = "source", value_parser = parse_kind)]
    pub kind: Kind,
    /// The source's signing secret (moneybutton: the shared secret that goes
    /// into the body's `secret` field; discord: the hex Ed25519 seed whose
    /// public key the source verifies with).
    #[arg(long)]
    pub secret: String,
    /// The payload to sign: JSON, or a form body for form senders (twilio).
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
    #[arg(long)]
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
    #[error("{0}")]
    InvalidSource(#[from] ConfigError),
    #[error("{0}")]
    Provider(#[from] providers::SignError),
    #[error("--{0} must be visible ASCII text without control characters")]
    InvalidHeaderValue(&'static str),
    #[error("the payload must be a JSON object or array: {0}")]
    NotJson(String),
}

/// What varies per request besides the payload and the secret.
#[derive(Debug, Clone, Copy)]
pub struct RequestParts<'a> {
    pub id: &'a str,
    pub event_type: Option<&'a str>,
    pub timestamp: i64,
    /// The URL the webhook is sent to, for schemes that sign it.
    pub url: &'a str,
}

pub fn run(args: SignArgs) -> Result<(), SignError> {
    let body = std::fs::read(&args.file).map_err(|source| SignError::ReadPayload {
        path: args.file.clone(),
        source,
    })?;
    let name = args.name.as_deref().unwrap_or(args.kind.name());
    let config = source_config(&args, name)?;
    let id = match &args.id {
        Some(id) => id.clone(),
        None if matches!(args.kind, Kind::Standard | Kind::Svix) => {
            format!("msg_{}", uuid::Uuid::new_v4().simple())
        }
        None => uuid::Uuid::new_v4().to_string(),
    };
    let timestamp = args.timestamp.unwrap_or_else(unix_now);
    let url = format!("{}/webhooks/{name}", args.url.trim_end_matches('/'));
    let parts = RequestParts {
        id: &id,
        event_type: args.event_type.as_deref(),
        timestamp,
        url: &url,
    };
    let signed = sign_webhook(&config, &args.secret, &body, parts)?;
    output::write(&render(&url, &signed, &args.file));
    Ok(())
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs() as i64)
}

/// The source as ingest would configure it, through the core's own parser so
/// an option ingest refuses is refused here too.
fn source_config(args: &SignArgs, name: &str) -> Result<SourceConfig, SignError> {
    let mut options = serde_json::json!({ "kind": args.kind.name() });
    if args.kind == Kind::Hmac {
        let encoding = match args.encoding {
            Encoding::Hex => "hex",
            Encoding::Base64 => "base64",
        };
        if let Some(header) = &args.header {
            options["header"] = header.clone().into();
        }
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
    Ok(sources
        .get(name)
        .expect("the configuration just parsed holds its one source")
        .clone())
}

/// Signs `body` for a source configured as `config`: the headers (and body)
/// its provider would send, with a JSON content type unless the body is a
/// form the provider sends as one.
pub fn sign_webhook(
    config: &SourceConfig,
    secret: &str,
    body: &[u8],
    parts: RequestParts<'_>,
) -> Result<Signed, SignError> {
    header_value("id", parts.id)?;
    if let Some(event_type) = parts.event_type {
        header_value("event-type", event_type)?;
    }
    let outgoing = Outgoing {
        id: parts.id,
        event_type: parts.event_type,
        timestamp: parts.timestamp,
        url: parts.url,
        body,
    };
    let mut signed = config.provider().sign(secret, &outgoing)?;
    let declares_type = signed
        .headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("content-type"));
    if !declares_type {
        match serde_json::from_slice::<serde_json::Value>(body) {
            Ok(serde_json::Value::Object(_) | serde_json::Value::Array(_)) => {}
            Ok(_) => return Err(SignError::NotJson("not an object or array".into())),
            Err(error) => return Err(SignError::NotJson(error.to_string())),
        }
        signed.headers.insert(
            0,
            ("Content-Type".to_owned(), "application/json".to_owned()),
        );
    }
    Ok(signed)
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
pub fn render(url: &str, signed: &Signed, file: &std::path::Path) -> String {
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

    use hookbridge_core::ingest::{IngestError, Ingested, Prepared, Webhook, prepare};
    use hookbridge_core::secret::SecretSet;

    use super::*;

    const NOW: i64 = 1_795_478_400;
    const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    fn parts(event_type: Option<&str>) -> RequestParts<'_> {
        RequestParts {
            id: "evt_cli_1",
            event_type,
            timestamp: NOW,
            url: URL,
        }
    }

    const URL: &str = "http://127.0.0.1:3000/webhooks/s";

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
        signed: &Signed,
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
            method: &http::Method::POST,
            url: URL,
            headers: &headers,
            body,
        };
        let now = UNIX_EPOCH + Duration::from_secs(NOW as u64);
        match prepare(&webhook, &SecretSet::parse(secret), now, "corr-1", "local")? {
            Ingested::Event(prepared) => Ok(prepared),
            Ingested::Handshake(handshake) => panic!("{handshake:?}"),
        }
    }

    fn kind_of(source: &str) -> SourceConfig {
        sources().get(source).unwrap().clone()
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
        assert!(matches!(
            result,
            Err(SignError::Provider(
                providers::SignError::MissingEventType { .. }
            ))
        ));
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
        assert!(matches!(
            result,
            Err(SignError::Provider(providers::SignError::InvalidSecret(_)))
        ));
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
        assert!(matches!(
            result,
            Err(SignError::Provider(
                providers::SignError::FieldAlreadyInPayload("secret")
            ))
        ));
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
        for body in [&b"1"[..], b"not json", b""] {
            let result = sign_webhook(&kind_of("stripe"), "whsec_x", body, parts(None));
            assert!(matches!(result, Err(SignError::NotJson(_))), "{body:?}");
        }
    }

    #[test]
    fn header_values_with_control_characters_are_refused() {
        let parts = RequestParts {
            id: "evt\r\nX-Injected: 1",
            event_type: Some("push"),
            timestamp: NOW,
            url: URL,
        };
        let result = sign_webhook(&kind_of("github"), "gh", b"{}", parts);
        assert!(matches!(result, Err(SignError::InvalidHeaderValue("id"))));
    }

    #[test]
    fn curl_command_sends_every_header_and_the_file() {
        let signed = Signed {
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
        let signed = Signed {
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
            source_config(&args, "hmac"),
            Err(SignError::InvalidSource(_))
        ));
    }

    #[test]
    fn every_kind_but_sendgrid_signs_what_ingest_accepts() {
        let body = br#"{"id":"evt_1","event_id":"e1","type":"t","event":"t","signature":null}"#;
        for kind in Kind::ALL {
            let mut options = serde_json::json!({ "kind": kind.name() });
            if *kind == Kind::Hmac {
                options["header"] = "X-Sig".into();
            }
            let sources =
                Sources::from_json(&serde_json::json!({ "s": options }).to_string()).unwrap();
            let config = sources.get("s").unwrap();
            let (secret, verifying, body): (&str, &str, &[u8]) = match kind {
                Kind::Standard | Kind::Svix => (STANDARD_SECRET, STANDARD_SECRET, body),
                Kind::Discord => (
                    "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                    "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                    body,
                ),
                Kind::Twilio => ("tw", "tw", b"MessageSid=SM1&MessageStatus=sent"),
                Kind::MoneyButton => ("mb", "mb", br#"{"payment":{"id":"1","status":"PENDING"}}"#),
                Kind::Mailgun | Kind::Linear => {
                    ("k", "k", br#"{"webhookTimestamp":1795478400000}"#)
                }
                Kind::Hubspot => ("k", "k", br#"[{"eventId":1}]"#),
                _ => ("k", "k", body),
            };
            let signed = match sign_webhook(config, secret, body, parts(Some("push"))) {
                Ok(signed) => signed,
                Err(SignError::Provider(providers::SignError::Unsupported(_)))
                    if *kind == Kind::Sendgrid =>
                {
                    continue;
                }
                Err(error) => panic!("{kind}: {error}"),
            };
            let mut headers = http::HeaderMap::new();
            for (name, value) in &signed.headers {
                headers.insert(
                    http::HeaderName::try_from(name.as_str()).unwrap(),
                    http::HeaderValue::try_from(value.as_str()).unwrap(),
                );
            }
            let sent = signed.rewritten_body.as_deref().map_or(body, str::as_bytes);
            let webhook = Webhook {
                source: "s",
                config,
                method: &http::Method::POST,
                url: URL,
                headers: &headers,
                body: sent,
            };
            let now = UNIX_EPOCH + Duration::from_secs(NOW as u64);
            let result = prepare(&webhook, &SecretSet::parse(verifying), now, "corr", "local");
            assert!(result.is_ok(), "{kind}: {result:?}");
        }
    }
}
