//! The dev server's configuration: `hookbridge.toml` (or built-in
//! development sources), overridden by flags.
//!
//! A source is configured with the same options as `HOOKBRIDGE_SOURCES`
//! (parsed by the core), plus `secrets`: the list of secrets it verifies
//! with (several during a rotation). A destination likewise takes the keys
//! of `HOOKBRIDGE_DESTINATIONS` plus `secrets`: the outbound secrets it is
//! signed with (the shared `outbound_secrets` when absent).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hookbridge_core::config::{ConfigError, Sources};
use hookbridge_core::destinations::{DEFAULT_DESTINATION, Destinations, DestinationsError};
use hookbridge_core::secret::{Secret, SecretSet};
use serde::Deserialize;

use super::schedule::{InvalidTimeScale, TimeScale};

/// The file read when `--config` is not given, if it exists.
pub const DEFAULT_CONFIG_FILE: &str = "hookbridge.toml";

/// The development sources, their secrets and the outbound key: the
/// repository's `dev-sources.toml`, which the scripts and tests read too.
const DEVELOPMENT_CONFIG: &str = include_str!("../../../../dev-sources.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid configuration: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{path}: {source}")]
    Sources { path: PathBuf, source: ConfigError },
    #[error("{path}: source `{source_name}` needs at least one entry in `secrets`")]
    MissingSecrets { path: PathBuf, source_name: String },
    #[error("{path}: `outbound_secrets` must hold at least one secret")]
    EmptyOutbound { path: PathBuf },
    #[error("{path}: {source}")]
    Destinations {
        path: PathBuf,
        source: DestinationsError,
    },
    #[error(
        "{path}: `target` and `[destinations.{DEFAULT_DESTINATION}]` both declare the destination `{DEFAULT_DESTINATION}`: keep one"
    )]
    DefaultDeclaredTwice { path: PathBuf },
    #[error("{path}: {source}")]
    TimeScale {
        path: PathBuf,
        source: InvalidTimeScale,
    },
}

/// `hookbridge.toml` as written; every key is optional and unknown keys are
/// errors that name the key.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    host: Option<String>,
    port: Option<u16>,
    data_dir: Option<PathBuf>,
    target: Option<String>,
    time_scale: Option<f64>,
    retention_hours: Option<u32>,
    outbound_secrets: Option<Vec<String>>,
    sources: Option<toml::Table>,
    destinations: Option<toml::Table>,
}

/// Sources with their secrets, ready for the ingest handler.
#[derive(Debug, Clone)]
pub struct SourceSetup {
    pub sources: Sources,
    /// Secrets per source name; empty in `--aws` mode (SSM holds them).
    pub secrets: HashMap<String, Arc<SecretSet>>,
    /// True when the built-in development sources are used.
    pub built_in: bool,
}

/// Destinations with their own outbound secrets, ready for the deliver
/// routes.
#[derive(Debug, Clone, Default)]
pub struct DestinationSetup {
    pub destinations: Destinations,
    /// The declarations as written (without `secrets`), so that `--target`
    /// can replace the `default` one.
    specs: serde_json::Map<String, serde_json::Value>,
    /// Each destination's own outbound secrets; one absent here signs with
    /// the shared outbound secrets.
    pub secrets: HashMap<String, Arc<SecretSet>>,
}

impl DestinationSetup {
    /// The declared destinations, with `target` (if any) as the `default`
    /// destination taking every event, replacing a declared `default`.
    pub fn with_target(mut self, target: Option<&str>) -> Result<Self, DestinationsError> {
        let Some(url) = target else {
            return Ok(self);
        };
        self.specs.insert(
            DEFAULT_DESTINATION.to_owned(),
            serde_json::json!({ "url": url }),
        );
        self.secrets.remove(DEFAULT_DESTINATION);
        self.destinations = Destinations::from_map(self.specs.clone())?;
        Ok(self)
    }

    /// The outbound secrets of every destination: its own, else `shared`.
    pub fn outbound_secrets(&self, shared: &Arc<SecretSet>) -> HashMap<String, Arc<SecretSet>> {
        self.destinations
            .iter()
            .map(|destination| {
                let name = destination.name.as_str();
                let secrets = self.secrets.get(name).unwrap_or(shared);
                (name.to_owned(), Arc::clone(secrets))
            })
            .collect()
    }

    /// Whether some destination signs with the shared outbound secrets.
    pub fn uses_shared_secrets(&self) -> bool {
        self.destinations
            .iter()
            .any(|destination| !self.secrets.contains_key(destination.name.as_str()))
    }
}

/// What the configuration file says, with nothing resolved against flags.
#[derive(Debug, Clone)]
pub struct Settings {
    pub host: Option<String>,
    pub port: Option<u16>,
    pub data_dir: Option<PathBuf>,
    pub target: Option<String>,
    pub time_scale: Option<TimeScale>,
    /// How long the store keeps finished events, in hours (at least 1).
    pub retention_hours: Option<u32>,
    /// `None` when the file names none: the development key is used.
    pub outbound_secrets: Option<Arc<SecretSet>>,
    /// `None` when the file configures no source.
    pub sources: Option<SourceSetup>,
    /// The `[destinations.<name>]` tables (none: empty).
    pub destinations: DestinationSetup,
}

impl Settings {
    /// No file: every value comes from flags or defaults.
    pub fn empty() -> Self {
        Self {
            host: None,
            port: None,
            data_dir: None,
            target: None,
            time_scale: None,
            retention_hours: None,
            outbound_secrets: None,
            sources: None,
            destinations: DestinationSetup::default(),
        }
    }

    /// Reads `explicit` if given, else [`DEFAULT_CONFIG_FILE`] if it exists.
    pub fn load(explicit: Option<&Path>, secrets_required: bool) -> Result<Self, ConfigFileError> {
        let path = match explicit {
            Some(path) => path.to_path_buf(),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => PathBuf::from(DEFAULT_CONFIG_FILE),
            None => return Ok(Self::empty()),
        };
        let text = std::fs::read_to_string(&path).map_err(|source| ConfigFileError::Read {
            path: path.clone(),
            source,
        })?;
        Self::parse(&text, &path, secrets_required)
    }

    /// Parses a configuration file's text; `path` only names it in errors.
    /// With `secrets_required` (local mode) every source needs `secrets`.
    pub fn parse(text: &str, path: &Path, secrets_required: bool) -> Result<Self, ConfigFileError> {
        let invalid = |message: String| ConfigFileError::Invalid {
            path: path.to_path_buf(),
            message,
        };
        let file: FileConfig = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let time_scale = file
            .time_scale
            .map(TimeScale::new)
            .transpose()
            .map_err(|source| ConfigFileError::TimeScale {
                path: path.to_path_buf(),
                source,
            })?;
        if file.retention_hours == Some(0) {
            return Err(invalid(
                "retention_hours must be at least 1 (hours the store keeps finished events)"
                    .to_owned(),
            ));
        }
        let outbound_secrets = match file.outbound_secrets {
            Some(list) => {
                let set = secret_set(&list);
                if set.is_empty() {
                    return Err(ConfigFileError::EmptyOutbound {
                        path: path.to_path_buf(),
                    });
                }
                Some(Arc::new(set))
            }
            None => None,
        };
        let sources = file
            .sources
            .map(|table| source_setup(table, path, secrets_required))
            .transpose()?;
        let destinations = file
            .destinations
            .map(|table| destination_setup(table, path))
            .transpose()?
            .unwrap_or_default();
        if file.target.is_some() && destinations.destinations.get(DEFAULT_DESTINATION).is_some() {
            return Err(ConfigFileError::DefaultDeclaredTwice {
                path: path.to_path_buf(),
            });
        }
        Ok(Self {
            host: file.host,
            port: file.port,
            data_dir: file.data_dir,
            target: file.target,
            time_scale,
            retention_hours: file.retention_hours,
            outbound_secrets,
            sources,
            destinations,
        })
    }
}

/// The built-in development sources and their secrets.
pub fn built_in_sources() -> SourceSetup {
    let setup = development_settings()
        .sources
        .expect("dev-sources.toml configures sources");
    SourceSetup {
        built_in: true,
        ..setup
    }
}

/// The development outbound signing key.
pub fn built_in_outbound() -> Arc<SecretSet> {
    development_settings()
        .outbound_secrets
        .expect("dev-sources.toml holds the outbound secret")
}

fn development_settings() -> Settings {
    Settings::parse(DEVELOPMENT_CONFIG, Path::new("dev-sources.toml"), true)
        .expect("dev-sources.toml is a valid configuration")
}

fn secret_set(list: &[String]) -> SecretSet {
    list.iter()
        .map(|secret| secret.trim())
        .filter(|secret| !secret.is_empty())
        .map(Secret::new)
        .collect()
}

/// Splits each source's `secrets` from its options and hands the options to
/// the core's parser, so a source reads exactly like `HOOKBRIDGE_SOURCES`.
fn source_setup(
    table: toml::Table,
    path: &Path,
    secrets_required: bool,
) -> Result<SourceSetup, ConfigFileError> {
    let invalid = |message: String| ConfigFileError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let mut options = serde_json::Map::new();
    let mut secrets = HashMap::new();
    for (name, value) in table {
        let toml::Value::Table(mut source) = value else {
            return Err(invalid(format!("`sources.{name}` must be a table")));
        };
        let list = take_secrets(&mut source, &format!("sources.{name}"))
            .map_err(invalid)?
            .unwrap_or_default();
        let set = secret_set(&list);
        if set.is_empty() && secrets_required {
            return Err(ConfigFileError::MissingSecrets {
                path: path.to_path_buf(),
                source_name: name,
            });
        }
        let json =
            serde_json::to_value(&source).map_err(|e| invalid(format!("`sources.{name}`: {e}")))?;
        options.insert(name.clone(), json);
        secrets.insert(name, Arc::new(set));
    }
    let sources =
        Sources::from_json(&serde_json::Value::Object(options).to_string()).map_err(|source| {
            ConfigFileError::Sources {
                path: path.to_path_buf(),
                source,
            }
        })?;
    // A key in the wrong form fails the start, naming the source and the
    // secret's position (never the secret), not the first webhook.
    for (name, config) in sources.iter() {
        if let Some(set) = secrets.get(name) {
            config
                .check_secrets(set)
                .map_err(|problem| invalid(format!("`sources.{name}.{problem}`")))?;
        }
    }
    Ok(SourceSetup {
        sources,
        secrets,
        built_in: false,
    })
}

/// Removes the `secrets` list of the table at `key`, if it has one.
fn take_secrets(table: &mut toml::Table, key: &str) -> Result<Option<Vec<String>>, String> {
    let not_a_list = || format!("`{key}.secrets` must be a list of strings");
    match table.remove("secrets") {
        Some(toml::Value::Array(items)) => items
            .into_iter()
            .map(|item| match item {
                toml::Value::String(secret) => Ok(secret),
                _ => Err(not_a_list()),
            })
            .collect::<Result<_, _>>()
            .map(Some),
        Some(_) => Err(not_a_list()),
        None => Ok(None),
    }
}

/// Splits each destination's `secrets` from its keys and hands the keys to
/// the core's parser, so a destination reads exactly like
/// `HOOKBRIDGE_DESTINATIONS` and every error names it and the field.
fn destination_setup(table: toml::Table, path: &Path) -> Result<DestinationSetup, ConfigFileError> {
    let invalid = |message: String| ConfigFileError::Invalid {
        path: path.to_path_buf(),
        message,
    };
    let mut specs = serde_json::Map::new();
    let mut secrets = HashMap::new();
    for (name, value) in table {
        let toml::Value::Table(mut destination) = value else {
            return Err(invalid(format!("`destinations.{name}` must be a table")));
        };
        let key = format!("destinations.{name}");
        if let Some(list) = take_secrets(&mut destination, &key).map_err(invalid)? {
            let set = secret_set(&list);
            if set.is_empty() {
                return Err(invalid(format!(
                    "`{key}.secrets` must hold at least one secret (leave it out to sign with `outbound_secrets`)"
                )));
            }
            secrets.insert(name.clone(), Arc::new(set));
        }
        let json =
            serde_json::to_value(&destination).map_err(|e| invalid(format!("`{key}`: {e}")))?;
        specs.insert(name, json);
    }
    let destinations =
        Destinations::from_map(specs.clone()).map_err(|source| ConfigFileError::Destinations {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(DestinationSetup {
        destinations,
        specs,
        secrets,
    })
}

/// Why the `--source` / `--secret` flags could not be applied. Messages
/// never repeat a secret.
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    #[error("--source `{0}` must be NAME=KIND or NAME={{JSON options}}")]
    SourceNotAPair(String),
    #[error("--source {name}: the options are not a JSON object: {reason}")]
    SourceOptions { name: String, reason: String },
    #[error("--source: {0}")]
    Sources(ConfigError),
    #[error("--secret must be SOURCE=SECRET")]
    SecretNotAPair,
    #[error("--secret names `{0}`, which is not a configured source")]
    SecretForUnknownSource(String),
    #[error("source `{0}` has no secret: add --secret {0}=<secret>")]
    MissingSecret(String),
    #[error("--secret for source `{source_name}`: {problem}")]
    UnusableSecret {
        source_name: String,
        problem: String,
    },
}

/// Sources given with `--source` (replacing the file's or the built-in
/// ones) as `NAME=KIND`, or `NAME={...}` with the options of
/// `HOOKBRIDGE_SOURCES` for kinds that take some.
pub fn sources_from_flags(flags: &[String]) -> Result<Sources, FlagError> {
    let mut options = serde_json::Map::new();
    for flag in flags {
        let (name, spec) = flag
            .split_once('=')
            .ok_or_else(|| FlagError::SourceNotAPair(flag.clone()))?;
        let value = if spec.trim_start().starts_with('{') {
            serde_json::from_str(spec).map_err(|error| FlagError::SourceOptions {
                name: name.to_owned(),
                reason: error.to_string(),
            })?
        } else {
            serde_json::json!({ "kind": spec })
        };
        options.insert(name.to_owned(), value);
    }
    Sources::from_json(&serde_json::Value::Object(options).to_string()).map_err(FlagError::Sources)
}

/// Applies `--source` and `--secret` over `setup`: flag sources replace the
/// configured ones, and each source named by `--secret` (repeat it for a
/// rotation) verifies with those secrets only. Every source must end with a
/// secret.
pub fn apply_flags(
    setup: SourceSetup,
    source_flags: &[String],
    secret_flags: &[String],
) -> Result<SourceSetup, FlagError> {
    let mut setup = if source_flags.is_empty() {
        setup
    } else {
        SourceSetup {
            sources: sources_from_flags(source_flags)?,
            secrets: HashMap::new(),
            built_in: false,
        }
    };
    let mut given: HashMap<String, Vec<String>> = HashMap::new();
    for flag in secret_flags {
        let (name, secret) = flag.split_once('=').ok_or(FlagError::SecretNotAPair)?;
        if setup.sources.get(name).is_none() {
            return Err(FlagError::SecretForUnknownSource(name.to_owned()));
        }
        given
            .entry(name.to_owned())
            .or_default()
            .push(secret.to_owned());
    }
    if !given.is_empty() {
        // Secrets from the command line may be real: the banner must not
        // print any of them.
        setup.built_in = false;
    }
    for (name, list) in given {
        setup.secrets.insert(name, Arc::new(secret_set(&list)));
    }
    for (name, config) in setup.sources.iter() {
        let Some(secrets) = setup.secrets.get(name).filter(|set| !set.is_empty()) else {
            return Err(FlagError::MissingSecret(name.to_owned()));
        };
        config
            .check_secrets(secrets)
            .map_err(|problem| FlagError::UnusableSecret {
                source_name: name.to_owned(),
                problem,
            })?;
    }
    Ok(setup)
}

/// The outbound signing secrets given with `--outbound-secret`, if any.
pub fn outbound_from_flags(flags: &[String]) -> Option<Arc<SecretSet>> {
    let set = secret_set(flags);
    (!set.is_empty()).then(|| Arc::new(set))
}

#[cfg(test)]
mod tests {
    use hookbridge_core::providers::{Kind, Preset};

    use super::*;

    fn parse(text: &str) -> Result<Settings, ConfigFileError> {
        Settings::parse(text, Path::new("hookbridge.toml"), true)
    }

    #[test]
    fn the_committed_example_parses() {
        let example = include_str!("../../../../hookbridge.example.toml");
        let settings = parse(example).unwrap();
        let setup = settings.sources.unwrap();
        assert!(setup.sources.get("stripe").is_some());
        assert!(setup.sources.get("shopify").is_some());
        assert_eq!(setup.secrets["stripe"].len(), 2, "rotation: two secrets");
        assert!(settings.outbound_secrets.is_some());
    }

    /// The example's destination tables are commented out (a copy must not
    /// deliver anywhere unasked); uncommented, they parse.
    #[test]
    fn the_committed_example_destinations_parse_once_uncommented() {
        let example = include_str!("../../../../hookbridge.example.toml");
        let tables = &example[example
            .find("# [destinations.billing]")
            .expect("destination examples")..];
        let uncommented: String = tables
            .lines()
            .map(|line| line.strip_prefix("# ").unwrap_or(line))
            .map(|line| line.replace("whsec_…", "whsec_ZXhhbXBsZQ=="))
            .collect::<Vec<_>>()
            .join("\n");
        let setup = parse(&uncommented).unwrap().destinations;
        let billing = setup.destinations.get("billing").unwrap();
        assert_eq!(billing.rate_per_second, Some(20));
        assert!(billing.wants("stripe", "invoice.paid"));
        assert!(setup.secrets.contains_key("billing"));
        assert!(setup.destinations.get("crm").is_some());
    }

    #[test]
    fn a_source_reads_like_hookbridge_sources() {
        let settings = parse(
            r#"
            target = "http://127.0.0.1:4000/hook"
            time_scale = 60
            retention_hours = 48
            [sources.shop]
            kind = "hmac"
            header = "X-Shop-Signature"
            encoding = "base64"
            object_pointer = "/order/id"
            secrets = ["one", " two "]
            "#,
        )
        .unwrap();
        assert_eq!(
            settings.target.as_deref(),
            Some("http://127.0.0.1:4000/hook")
        );
        assert_eq!(settings.time_scale, Some(TimeScale::new(60.0).unwrap()));
        assert_eq!(settings.retention_hours, Some(48));
        let setup = settings.sources.unwrap();
        let shop = setup.sources.get("shop").unwrap();
        let Preset::Hmac(hmac) = &shop.preset else {
            panic!("hmac expected");
        };
        assert_eq!(hmac.scheme.header, "x-shop-signature");
        assert_eq!(shop.object_pointer.as_deref(), Some("/order/id"));
        let secrets: Vec<&str> = setup.secrets["shop"].iter().map(Secret::expose).collect();
        assert_eq!(secrets, ["one", "two"]);
        assert!(!setup.built_in);
    }

    #[test]
    fn a_bad_public_key_fails_the_start_naming_the_source_and_position() {
        let error = parse("[sources.bot]\nkind = \"discord\"\nsecrets = [\"not-a-key\"]")
            .unwrap_err()
            .to_string();
        assert!(error.contains("sources.bot.secrets[0]"), "{error}");
        assert!(!error.contains("not-a-key"), "{error}");
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let top = parse("prot = 3000").unwrap_err().to_string();
        assert!(top.contains("prot"), "{top}");
        let nested = parse(
            r#"[sources.stripe]
            kind = "stripe"
            secrets = ["s"]
            tolerence_seconds = 10"#,
        )
        .unwrap_err()
        .to_string();
        assert!(nested.contains("tolerence_seconds"), "{nested}");
        assert!(nested.contains("stripe"), "{nested}");
    }

    #[test]
    fn invalid_files_are_errors() {
        let cases = [
            ("port = \"x\"", "port"),
            ("time_scale = 0", "time scale"),
            ("retention_hours = 0", "retention_hours must be at least 1"),
            ("outbound_secrets = []", "outbound_secrets"),
            ("[sources.stripe]\nkind = \"stripe\"", "secrets"),
            (
                "[sources.stripe]\nkind = \"stripe\"\nsecrets = \"s\"",
                "list",
            ),
            (
                "[sources.stripe]\nkind = \"strype\"\nsecrets = [\"s\"]",
                "strype",
            ),
            ("[sources.Bad]\nkind = \"github\"\nsecrets = [\"s\"]", "Bad"),
            ("sources = { stripe = 1 }", "table"),
            ("not toml at all", "hookbridge.toml"),
        ];
        for (text, expected) in cases {
            let message = parse(text).unwrap_err().to_string();
            assert!(message.contains(expected), "{text:?}: {message}");
        }
    }

    const THREE_DESTINATIONS: &str = r#"
        outbound_secrets = ["whsec_c2hhcmVk"]
        [destinations.billing]
        url = "http://127.0.0.1:4000/billing"
        sources = ["stripe"]
        secrets = ["whsec_YmlsbGluZw==", "whsec_bmV4dA=="]
        [destinations.prs]
        url = "http://127.0.0.1:4000/prs"
        types = ["pull_request.*"]
        rate_per_second = 5
        timeout_seconds = 3
        [destinations.everything]
        url = "https://hooks.example/in"
        "#;

    #[test]
    fn destinations_read_like_hookbridge_destinations_with_their_secrets() {
        let settings = parse(THREE_DESTINATIONS).unwrap();
        let setup = &settings.destinations;
        let names: Vec<&str> = setup.destinations.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["billing", "everything", "prs"]);
        let prs = setup.destinations.get("prs").unwrap();
        assert_eq!(prs.rate_per_second, Some(5));
        assert_eq!(prs.timeout, Some(std::time::Duration::from_secs(3)));
        assert!(prs.wants("github", "pull_request.opened"));
        assert!(!prs.wants("github", "push"));
        let billing = setup.destinations.get("billing").unwrap();
        assert!(billing.wants("stripe", "invoice.paid"));
        assert!(!billing.wants("github", "invoice.paid"));

        let shared = settings.outbound_secrets.unwrap();
        let secrets = setup.outbound_secrets(&shared);
        assert_eq!(secrets["billing"].len(), 2, "its own rotation");
        for name in ["prs", "everything"] {
            assert!(
                Arc::ptr_eq(&secrets[name], &shared),
                "{name} signs with the shared secret"
            );
        }
        assert!(setup.uses_shared_secrets());
    }

    #[test]
    fn a_target_is_the_default_destination_beside_the_others() {
        let settings = parse(THREE_DESTINATIONS).unwrap();
        let setup = settings
            .destinations
            .with_target(Some("http://127.0.0.1:5000/all"))
            .unwrap();
        let default = setup.destinations.get(DEFAULT_DESTINATION).unwrap();
        assert_eq!(default.url, "http://127.0.0.1:5000/all");
        assert!(default.wants("anything", "at.all"));
        assert_eq!(setup.destinations.len(), 4);

        let declared = parse(
            r#"[destinations.default]
            url = "http://127.0.0.1:4000/old"
            types = ["push"]
            secrets = ["whsec_b2xk"]"#,
        )
        .unwrap();
        let replaced = declared
            .destinations
            .with_target(Some("http://127.0.0.1:5000/new"))
            .unwrap();
        let default = replaced.destinations.get(DEFAULT_DESTINATION).unwrap();
        assert_eq!(default.url, "http://127.0.0.1:5000/new");
        assert!(
            default.wants("stripe", "invoice.paid"),
            "--target takes everything"
        );
        assert!(
            replaced.secrets.is_empty(),
            "and signs with the shared secret"
        );

        let twice = parse("target = \"http://127.0.0.1:1/\"\n[destinations.default]\nurl = \"http://127.0.0.1:2/\"")
            .unwrap_err()
            .to_string();
        assert!(twice.contains("both declare"), "{twice}");
    }

    #[test]
    fn invalid_destinations_are_errors_naming_the_destination_and_the_field() {
        let cases = [
            ("[destinations.crm]\nurl = \"ftp://x/\"", ["crm", "url"]),
            ("[destinations.crm]\nsources = [\"stripe\"]", ["crm", "url"]),
            (
                "[destinations.crm]\nurl = \"http://x/\"\ntimeout_seconds = 30",
                ["crm", "timeout_seconds"],
            ),
            (
                "[destinations.crm]\nurl = \"http://x/\"\nhorizon_hours = 0",
                ["crm", "horizon_hours"],
            ),
            (
                "[destinations.crm]\nurl = \"http://x/\"\nrate_per_second = 0",
                ["crm", "rate_per_second"],
            ),
            (
                "[destinations.crm]\nurl = \"http://x/\"\ntypo = 1",
                ["crm", "typo"],
            ),
            (
                "[destinations.crm]\nurl = \"http://x/\"\nsecrets = \"s\"",
                ["destinations.crm.secrets", "list"],
            ),
            (
                "[destinations.crm]\nurl = \"http://x/\"\nsecrets = []",
                ["destinations.crm.secrets", "at least one"],
            ),
            ("[destinations.Bad]\nurl = \"http://x/\"", ["Bad", "name"]),
            ("destinations = { crm = 1 }", ["destinations.crm", "table"]),
        ];
        for (text, expected) in cases {
            let message = parse(text).unwrap_err().to_string();
            for part in expected {
                assert!(message.contains(part), "{text:?}: {message}");
            }
        }
    }

    #[test]
    fn aws_mode_needs_no_secrets() {
        let settings = Settings::parse(
            "[sources.github]\nkind = \"github\"",
            Path::new("x.toml"),
            false,
        )
        .unwrap();
        assert!(settings.sources.unwrap().secrets["github"].is_empty());
    }

    #[test]
    fn the_built_in_sources_have_one_per_kind_with_secrets() {
        let setup = built_in_sources();
        assert!(setup.built_in);
        let names: Vec<&str> = setup.sources.iter().map(|(name, _)| name).collect();
        let mut kinds: Vec<_> = setup
            .sources
            .iter()
            .map(|(_, source)| source.kind())
            .collect();
        kinds.sort();
        kinds.dedup();
        assert_eq!(kinds, hookbridge_core::providers::Kind::ALL);
        for name in names {
            assert_eq!(setup.secrets[name].len(), 1, "{name}");
        }
        assert_eq!(built_in_outbound().len(), 1);
    }

    /// A default deploy configures the sources `hookbridge dev` starts with,
    /// so the samples of events/ and the docs hold for both.
    #[test]
    fn the_template_default_sources_are_the_development_sources() {
        let template: serde_yaml::Value =
            serde_yaml::from_str(include_str!("../../../../template.yaml"))
                .expect("template.yaml is YAML");
        let default = template["Parameters"]["Sources"]["Default"]
            .as_str()
            .expect("template.yaml has a default `Sources` parameter");
        let deployed = Sources::from_json(default).expect("the default `Sources` parse");
        assert_eq!(
            deployed,
            built_in_sources().sources,
            "template.yaml's default `Sources` must configure the sources of dev-sources.toml"
        );
    }

    #[test]
    fn an_explicit_file_that_does_not_exist_is_an_error() {
        let error =
            Settings::load(Some(Path::new("/nonexistent/hookbridge.toml")), true).unwrap_err();
        assert!(matches!(error, ConfigFileError::Read { .. }));
    }

    fn flags(values: &[&str]) -> Vec<String> {
        values.iter().map(|value| (*value).to_owned()).collect()
    }

    #[test]
    fn flag_sources_replace_the_configured_ones() {
        let setup = apply_flags(
            built_in_sources(),
            &flags(&["acme=stripe", r#"shop={"kind":"hmac","header":"X-Sig"}"#]),
            &flags(&["acme=whsec_a", "acme=whsec_b", "shop=s3cr3t-shop"]),
        )
        .unwrap();
        let names: Vec<_> = setup.sources.iter().map(|(name, _)| name).collect();
        assert_eq!(names, ["acme", "shop"]);
        assert_eq!(setup.secrets["acme"].len(), 2);
        assert_eq!(setup.sources.get("shop").unwrap().kind(), Kind::Hmac);
        assert!(!setup.built_in);
    }

    #[test]
    fn a_secret_flag_overrides_one_source_and_hides_the_banner_secrets() {
        let setup = apply_flags(built_in_sources(), &[], &flags(&["stripe=whsec_mine"])).unwrap();
        assert_eq!(
            setup.secrets["stripe"].iter().next().unwrap().expose(),
            "whsec_mine"
        );
        assert_eq!(setup.secrets["github"].len(), 1);
        assert!(!setup.built_in, "a command-line secret must not be printed");
    }

    #[test]
    fn flag_errors_name_the_problem_without_the_secret() {
        let cases = [
            (flags(&["acme"]), vec![], "must be NAME=KIND"),
            (flags(&["acme=paypal"]), vec![], "kind `paypal` is unknown"),
            (flags(&["acme={nope"]), vec![], "not a JSON object"),
            (
                flags(&["acme=github"]),
                vec![],
                "add --secret acme=<secret>",
            ),
            (
                vec![],
                flags(&["nobody=hunter2-secret"]),
                "`nobody`, which is not",
            ),
            (vec![], flags(&["hunter2-secret"]), "must be SOURCE=SECRET"),
        ];
        for (sources, secrets, expected) in cases {
            let error = apply_flags(built_in_sources(), &sources, &secrets)
                .unwrap_err()
                .to_string();
            assert!(error.contains(expected), "{error}");
            assert!(!error.contains("hunter2"), "{error}");
        }
    }

    #[test]
    fn outbound_flags_make_a_rotation_set() {
        assert!(outbound_from_flags(&[]).is_none());
        let set = outbound_from_flags(&flags(&["whsec_a", "whsec_b"])).unwrap();
        assert_eq!(set.len(), 2);
    }
}
