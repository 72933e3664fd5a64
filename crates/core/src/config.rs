//! Source configuration: which webhook senders exist and how each is verified.
//!
//! Read once at cold start from `HOOKBRIDGE_SOURCES`; an invalid configuration
//! fails the start with an error naming the source and field at fault, rather
//! than failing every webhook later.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

/// How far a signed timestamp may be from now, either way, when a source does
/// not say: the window Stripe and Standard Webhooks use.
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);

/// Upper bound on a configured tolerance: a day-wide window would make a
/// replayed capture useful to an attacker for too long.
const MAX_TOLERANCE_SECONDS: u64 = 86_400;

/// Every configured source, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources(BTreeMap<String, SourceConfig>);

/// One source: its verification scheme and where its provider object id is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceConfig {
    pub kind: SourceKind,
    /// JSON pointer to the provider object's id inside the payload, for
    /// sources whose payload shape hookbridge cannot know (standard, hmac).
    pub object_pointer: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    Stripe { tolerance: Duration },
    Github,
    Standard { tolerance: Duration },
    MoneyButton,
    Hmac(HmacScheme),
}

/// A generic "HMAC-SHA256 of the body in a header" scheme (Shopify and many
/// others).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HmacScheme {
    /// Lower-case header name carrying the signature.
    pub header: String,
    /// Text before the encoded MAC, e.g. `sha256=`; may be empty.
    pub prefix: String,
    pub encoding: MacEncoding,
    /// Lower-case header carrying the event id; else the body's SHA-256.
    pub id_header: Option<String>,
    /// Lower-case header carrying the event type; else `type_pointer`.
    pub type_header: Option<String>,
    /// JSON pointer to the event type in the payload.
    pub type_pointer: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MacEncoding {
    #[default]
    Hex,
    Base64,
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

/// The JSON forms of each kind's options, as operators write them.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TimedSpec {
    tolerance_seconds: Option<u64>,
    object_pointer: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoOptions {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HmacSpec {
    header: String,
    #[serde(default)]
    prefix: String,
    #[serde(default)]
    encoding: MacEncoding,
    id_header: Option<String>,
    type_header: Option<String>,
    type_pointer: Option<String>,
    object_pointer: Option<String>,
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

fn parse_source(mut value: serde_json::Value) -> Result<SourceConfig, String> {
    let options = value
        .as_object_mut()
        .ok_or("must be a JSON object with a `kind`")?;
    let kind = match options.remove("kind") {
        Some(serde_json::Value::String(kind)) => kind,
        Some(_) => return Err("`kind` must be a string".into()),
        None => return Err("missing field `kind`".into()),
    };
    let (kind, object_pointer) = match kind.as_str() {
        "stripe" => {
            let spec: TimedSpec = options_of(value)?;
            if spec.object_pointer.is_some() {
                return Err("object_pointer is fixed for stripe sources".into());
            }
            let tolerance = tolerance(spec.tolerance_seconds)?;
            (SourceKind::Stripe { tolerance }, None)
        }
        "standard" => {
            let spec: TimedSpec = options_of(value)?;
            let tolerance = tolerance(spec.tolerance_seconds)?;
            (SourceKind::Standard { tolerance }, spec.object_pointer)
        }
        "github" => {
            options_of::<NoOptions>(value)?;
            (SourceKind::Github, None)
        }
        "moneybutton" => {
            options_of::<NoOptions>(value)?;
            (SourceKind::MoneyButton, None)
        }
        "hmac" => {
            let spec: HmacSpec = options_of(value)?;
            let scheme = HmacScheme {
                header: header_name("header", spec.header)?,
                prefix: signature_prefix(spec.prefix)?,
                encoding: spec.encoding,
                id_header: spec
                    .id_header
                    .map(|h| header_name("id_header", h))
                    .transpose()?,
                type_header: spec
                    .type_header
                    .map(|h| header_name("type_header", h))
                    .transpose()?,
                type_pointer: json_pointer(
                    "type_pointer",
                    spec.type_pointer.unwrap_or_else(|| "/type".into()),
                )?,
            };
            (SourceKind::Hmac(scheme), spec.object_pointer)
        }
        other => {
            return Err(format!(
                "kind `{other}` is unknown: use stripe, github, standard, moneybutton or hmac"
            ));
        }
    };
    let object_pointer = object_pointer
        .map(|p| json_pointer("object_pointer", p))
        .transpose()?;
    Ok(SourceConfig {
        kind,
        object_pointer,
    })
}

/// Deserialises a kind's options, naming the offending field on error.
fn options_of<T: serde::de::DeserializeOwned>(options: serde_json::Value) -> Result<T, String> {
    serde_path_to_error::deserialize(options).map_err(|e| match e.path().to_string() {
        path if path == "." => e.inner().to_string(),
        path => format!("{path}: {}", e.inner()),
    })
}

fn tolerance(seconds: Option<u64>) -> Result<Duration, String> {
    match seconds {
        None => Ok(DEFAULT_TOLERANCE),
        Some(s) if (1..=MAX_TOLERANCE_SECONDS).contains(&s) => Ok(Duration::from_secs(s)),
        Some(s) => Err(format!(
            "tolerance_seconds must be between 1 and {MAX_TOLERANCE_SECONDS}, got {s}"
        )),
    }
}

/// Header names are matched case-insensitively, so they are stored lower-case.
fn header_name(field: &str, name: String) -> Result<String, String> {
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if valid {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(format!("{field} `{name}` is not a valid HTTP header name"))
    }
}

/// Header values are read as visible ASCII and trimmed, so a prefix with
/// any other character, or starting with a space, could never be matched.
fn signature_prefix(prefix: String) -> Result<String, String> {
    let valid =
        prefix.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) && !prefix.starts_with(' ');
    if valid {
        Ok(prefix)
    } else {
        Err(format!(
            "prefix {prefix:?} can never match a header value: use visible ASCII characters, not starting with a space"
        ))
    }
}

fn json_pointer(field: &str, pointer: String) -> Result<String, String> {
    if pointer.starts_with('/') {
        Ok(pointer)
    } else {
        Err(format!(
            "{field} `{pointer}` is not a JSON pointer (it must start with '/')"
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
        let sources = Sources::from_json(
            r#"{"stripe":{"kind":"stripe"},"github":{"kind":"github"},
                "standard":{"kind":"standard"},"moneybutton":{"kind":"moneybutton"},
                "shopify":{"kind":"hmac","header":"X-Shopify-Hmac-Sha256","encoding":"base64"}}"#,
        )
        .unwrap();
        assert_eq!(
            sources.get("stripe").unwrap().kind,
            SourceKind::Stripe {
                tolerance: DEFAULT_TOLERANCE
            }
        );
        assert_eq!(sources.get("github").unwrap().kind, SourceKind::Github);
        assert_eq!(
            sources.get("moneybutton").unwrap().kind,
            SourceKind::MoneyButton
        );
        assert_eq!(
            sources.get("shopify").unwrap().kind,
            SourceKind::Hmac(HmacScheme {
                header: "x-shopify-hmac-sha256".into(),
                prefix: String::new(),
                encoding: MacEncoding::Base64,
                id_header: None,
                type_header: None,
                type_pointer: "/type".into(),
            })
        );
        assert_eq!(sources.iter().count(), 5);
    }

    #[test]
    fn tolerance_and_pointers_are_read() {
        let config =
            source(r#"{"kind":"standard","tolerance_seconds":60,"object_pointer":"/data/id"}"#)
                .unwrap();
        assert_eq!(
            config.kind,
            SourceKind::Standard {
                tolerance: Duration::from_secs(60)
            }
        );
        assert_eq!(config.object_pointer.as_deref(), Some("/data/id"));
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
