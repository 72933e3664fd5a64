//! Source configuration: which webhook senders exist and how each is verified.
//!
//! Read once at cold start from `HOOKBRIDGE_SOURCES`; an invalid configuration
//! fails the start with an error naming the source and field at fault, rather
//! than failing every webhook later.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::providers::{self, Kind, Options, Preset, Provider};
use crate::secret::SecretSet;

/// How far a signed timestamp may be from now, either way, when a provider
/// documents no other window: the one Stripe and Standard Webhooks use.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// The type of an event whose provider says none.
pub const DEFAULT_TYPE: &str = "webhook";

/// Every configured source, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources(BTreeMap<String, SourceConfig>);

/// One source: its provider and the options every kind takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    pub preset: Preset,
    /// JSON pointer to the provider object's id inside the payload; it
    /// replaces the kind's own rule, or gives one to kinds without.
    pub object_pointer: Option<String>,
    /// The event type when the webhook names none.
    pub default_type: String,
    /// The URL the provider calls, for schemes that sign it, when it differs
    /// from the one the request arrives on (a proxy, a custom domain).
    pub public_url: Option<String>,
}

impl SourceConfig {
    pub fn kind(&self) -> Kind {
        self.preset.kind()
    }

    pub fn provider(&self) -> &dyn Provider {
        self.preset.provider()
    }

    /// Whether every secret has the form the provider needs (a public key,
    /// a `whsec_` key); the error names the secret's position, never it.
    pub fn check_secrets(&self, secrets: &SecretSet) -> Result<(), String> {
        providers::check_secrets(self.provider(), secrets)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("HOOKBRIDGE_SOURCES is not a JSON object of sources: {0}")]
    NotAnObject(String),
    #[error("HOOKBRIDGE_SOURCES defines no source")]
    Empty,
    #[error(
        "source name `{0}` is invalid: use 1-64 of a-z, 0-9, '-' and '_', starting with a letter or digit"
    )]
    InvalidName(String),
    #[error("source `{source_name}`: {message}")]
    InvalidSource {
        source_name: String,
        message: String,
    },
}

impl Sources {
    /// Parses and validates the `HOOKBRIDGE_SOURCES` JSON.
    pub fn from_json(json: &str) -> Result<Self, ConfigError> {
        let raw: BTreeMap<String, serde_json::Value> =
            serde_json::from_str(json).map_err(|e| ConfigError::NotAnObject(e.to_string()))?;
        if raw.is_empty() {
            return Err(ConfigError::Empty);
        }
        raw.into_iter()
            .map(|(name, value)| {
                if !is_valid_source_name(&name) {
                    return Err(ConfigError::InvalidName(name));
                }
                let config = parse_source(value).map_err(|message| ConfigError::InvalidSource {
                    source_name: name.clone(),
                    message,
                })?;
                Ok((name, config))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn get(&self, name: &str) -> Option<&SourceConfig> {
        self.0.get(name)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &SourceConfig)> {
        self.0.iter().map(|(name, config)| (name.as_str(), config))
    }
}

/// Source names become part of an EventBridge `Source`, an SSM path and a
/// URL, so they are kept to a charset that is safe in all three.
fn is_valid_source_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (1..=64).contains(&bytes.len())
        && bytes[0].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b'_')
}

fn parse_source(value: serde_json::Value) -> Result<SourceConfig, String> {
    let serde_json::Value::Object(map) = value else {
        return Err("must be a JSON object with a `kind`".into());
    };
    let mut options = Options::new(map);
    let kind = match options.take::<serde_json::Value>("kind")? {
        Some(serde_json::Value::String(kind)) => kind,
        Some(_) => return Err("`kind` must be a string".into()),
        None => return Err("missing field `kind`".into()),
    };
    let kind = Kind::from_name(&kind).ok_or_else(|| {
        let names: Vec<&str> = Kind::ALL.iter().map(|kind| kind.name()).collect();
        format!("kind `{kind}` is unknown: use one of {}", names.join(", "))
    })?;
    let object_pointer = options.pointer("object_pointer")?;
    let default_type = match options.take::<String>("default_type")? {
        Some(default_type) if is_event_type(&default_type) => default_type,
        Some(_) => {
            return Err("default_type must be 1-128 characters without control characters".into());
        }
        None => DEFAULT_TYPE.to_owned(),
    };
    let public_url = options
        .take::<String>("public_url")?
        .map(public_url)
        .transpose()?;
    let preset = Preset::from_options(kind, &mut options)?;
    options.finish()?;
    if public_url.is_some() && !preset.provider().signs_url() {
        return Err(format!("public_url: kind `{kind}` does not sign the URL"));
    }
    Ok(SourceConfig {
        preset,
        object_pointer,
        default_type,
        public_url,
    })
}

fn is_event_type(text: &str) -> bool {
    (1..=128).contains(&text.len()) && !text.chars().any(char::is_control)
}

fn public_url(url: String) -> Result<String, String> {
    let valid = (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(['?', '#'])
        && url.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(url)
    } else {
        Err(format!(
            "public_url `{url}` must be an http(s) URL without a query or fragment"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(json: &str) -> Result<SourceConfig, ConfigError> {
        let sources = Sources::from_json(&format!(r#"{{"s": {json}}}"#))?;
        Ok(sources.get("s").cloned().expect("source s"))
    }

    fn error_of(json: &str) -> String {
        Sources::from_json(json).unwrap_err().to_string()
    }

    #[test]
    fn every_kind_parses_with_defaults() {
        let json: serde_json::Map<String, serde_json::Value> = Kind::ALL
            .iter()
            .map(|kind| {
                let mut options = serde_json::json!({ "kind": kind.name() });
                if *kind == Kind::Hmac {
                    options["header"] = "X-Signature".into();
                }
                (kind.name().to_owned(), options)
            })
            .collect();
        let sources = Sources::from_json(&serde_json::Value::Object(json).to_string()).unwrap();
        assert_eq!(sources.iter().count(), Kind::ALL.len());
        assert!(Kind::ALL.len() >= 20);
        for (name, config) in sources.iter() {
            assert_eq!(config.kind().name(), name);
            assert_eq!(config.default_type, DEFAULT_TYPE);
            assert_eq!(config.public_url, None);
        }
        assert_eq!(
            sources.get("stripe").unwrap().preset,
            Preset::Stripe(providers::stripe::Stripe {
                tolerance: DEFAULT_TOLERANCE
            })
        );
    }

    #[test]
    fn common_options_are_read() {
        let config = source(
            r#"{"kind":"standard","tolerance_seconds":60,"object_pointer":"/data/id","default_type":"clerk.event"}"#,
        )
        .unwrap();
        assert_eq!(
            config.preset,
            Preset::Standard(providers::standard::Standard {
                tolerance: Duration::from_secs(60),
                names: providers::standard::STANDARD_NAMES,
            })
        );
        assert_eq!(config.object_pointer.as_deref(), Some("/data/id"));
        assert_eq!(config.default_type, "clerk.event");
        let twilio =
            source(r#"{"kind":"twilio","public_url":"https://hooks.example.com/twilio"}"#).unwrap();
        assert_eq!(
            twilio.public_url.as_deref(),
            Some("https://hooks.example.com/twilio")
        );
    }

    #[test]
    fn public_url_only_where_the_url_is_signed_and_without_a_query() {
        for (json, says) in [
            (
                r#"{"a":{"kind":"stripe","public_url":"https://x.example"}}"#,
                "does not sign the URL",
            ),
            (
                r#"{"a":{"kind":"square","public_url":"ftp://x.example"}}"#,
                "public_url",
            ),
            (
                r#"{"a":{"kind":"square","public_url":"https://x.example/?a=1"}}"#,
                "query",
            ),
            (
                r#"{"a":{"kind":"stripe","default_type":""}}"#,
                "default_type",
            ),
        ] {
            let message = error_of(json);
            assert!(message.contains(says), "{json}: {message}");
        }
    }

    #[test]
    fn asymmetric_keys_are_checked_naming_the_secret_by_position() {
        let discord = source(r#"{"kind":"discord"}"#).unwrap();
        let public = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
        assert_eq!(discord.check_secrets(&SecretSet::parse(public)), Ok(()));
        let message = discord
            .check_secrets(&SecretSet::parse(&format!("{public},not-a-key")))
            .unwrap_err();
        assert!(message.starts_with("secrets[1]: "), "{message}");
        assert!(!message.contains("not-a-key"), "{message}");
        let stripe = source(r#"{"kind":"stripe"}"#).unwrap();
        assert_eq!(stripe.check_secrets(&SecretSet::parse("anything")), Ok(()));
    }

    #[test]
    fn not_an_object_is_rejected() {
        assert!(matches!(
            Sources::from_json("[]"),
            Err(ConfigError::NotAnObject(_))
        ));
        assert!(matches!(
            Sources::from_json("not json"),
            Err(ConfigError::NotAnObject(_))
        ));
    }

    #[test]
    fn empty_configuration_is_rejected() {
        assert_eq!(Sources::from_json("{}"), Err(ConfigError::Empty));
    }

    #[test]
    fn invalid_source_names_are_rejected() {
        for name in ["", "Stripe", "-x", "a b", "a/b", "a.b", &"x".repeat(65)] {
            let json = format!(r#"{{"{name}":{{"kind":"github"}}}}"#);
            assert_eq!(
                Sources::from_json(&json),
                Err(ConfigError::InvalidName(name.to_string())),
                "{name}"
            );
        }
    }

    #[test]
    fn errors_name_the_source_and_the_field() {
        let cases = [
            (r#"{"a":{"kind":"pigeon"}}"#, "pigeon"),
            (r#"{"a":{"kind":"slack","header":"x"}}"#, "header"),
            (r#"{"a":{}}"#, "kind"),
            (r#"{"a":{"kind":"hmac"}}"#, "header"),
            (r#"{"a":{"kind":"github","secret":"x"}}"#, "secret"),
            (
                r#"{"a":{"kind":"stripe","tolerance_seconds":0}}"#,
                "tolerance_seconds",
            ),
            (
                r#"{"a":{"kind":"stripe","tolerance_seconds":-5}}"#,
                "tolerance_seconds",
            ),
            (
                r#"{"a":{"kind":"hmac","header":"bad header"}}"#,
                "header `bad header`",
            ),
            (
                r#"{"a":{"kind":"hmac","header":"h","encoding":"rot13"}}"#,
                "rot13",
            ),
            (
                r#"{"a":{"kind":"hmac","header":"h","type_pointer":"type"}}"#,
                "type_pointer",
            ),
            (
                r#"{"a":{"kind":"standard","object_pointer":"data.id"}}"#,
                "object_pointer",
            ),
        ];
        for (json, field) in cases {
            let message = error_of(json);
            assert!(message.starts_with("source `a`: "), "{json}: {message}");
            assert!(message.contains(field), "{json}: {message}");
        }
    }

    /// Found by fuzzing (fuzz/regressions/verify_hmac/non-ascii-prefix): a
    /// prefix no header value can carry made the source refuse every webhook.
    #[test]
    fn hmac_prefix_that_no_header_can_carry_is_rejected() {
        for prefix in [r"sha2\u00e16=", " sha256=", r"sha256=\t", r"a\u0001"] {
            let json = format!(r#"{{"a":{{"kind":"hmac","header":"h","prefix":"{prefix}"}}}}"#);
            let message = error_of(&json);
            assert!(
                message.starts_with("source `a`: prefix "),
                "{json}: {message}"
            );
        }
        for prefix in ["", "sha256=", "HMAC-SHA256 ", "v1 = "] {
            let json = format!(r#"{{"kind":"hmac","header":"h","prefix":"{prefix}"}}"#);
            assert!(source(&json).is_ok(), "{prefix:?}");
        }
    }

    #[test]
    fn excessive_tolerance_is_rejected() {
        assert!(source(r#"{"kind":"stripe","tolerance_seconds":86401}"#).is_err());
        assert!(source(r#"{"kind":"stripe","tolerance_seconds":86400}"#).is_ok());
    }
}
