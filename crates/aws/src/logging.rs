//! The one log setup of the Lambda functions.
//!
//! As Lambda's advanced logging controls ask: JSON lines when
//! `AWS_LAMBDA_LOG_FORMAT=JSON`, the level from `AWS_LAMBDA_LOG_LEVEL`, else
//! `RUST_LOG`, else INFO. Unlike the lambda crates' default subscriber, text
//! lines carry ANSI colour codes only on a terminal: CloudWatch, CI logs and
//! files get plain text.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

pub const FORMAT_VARIABLE: &str = "AWS_LAMBDA_LOG_FORMAT";
pub const LEVEL_VARIABLE: &str = "AWS_LAMBDA_LOG_LEVEL";
const RUST_LOG_VARIABLE: &str = "RUST_LOG";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text { ansi: bool },
}

impl LogFormat {
    /// The format for the value of [`FORMAT_VARIABLE`] when the output
    /// is (or is not) a terminal.
    pub fn choose(format_variable: Option<&str>, output_is_terminal: bool) -> Self {
        match format_variable {
            Some(format) if format.eq_ignore_ascii_case("json") => Self::Json,
            _ => Self::Text {
                ansi: output_is_terminal,
            },
        }
    }
}

/// What is logged: `RUST_LOG`'s `target=level` directives for their
/// targets (a directive that does not parse is skipped), and for every
/// other target the level named by [`LEVEL_VARIABLE`], else `RUST_LOG`'s
/// bare level (`debug`, or `warn` in `warn,ingest=debug`), else INFO; a
/// name that is not a level counts as none. Per-target levels only,
/// without `EnvFilter`'s span and field directives, whose regex engine
/// would be most of the filter's size in every function binary.
pub fn targets(lookup: impl Fn(&str) -> Option<String>) -> Targets {
    let mut targets = Targets::new();
    let mut rust_log_level = None;
    let rust_log = lookup(RUST_LOG_VARIABLE).unwrap_or_default();
    let directives = rust_log.split(',').map(str::trim).filter(|d| !d.is_empty());
    for directive in directives {
        let Ok(parsed) = directive.parse::<Targets>() else {
            continue;
        };
        rust_log_level = parsed.default_level().or(rust_log_level);
        targets.extend(parsed);
    }
    let lambda_level = lookup(LEVEL_VARIABLE).and_then(|level| LevelFilter::from_str(&level).ok());
    targets.with_default(lambda_level.or(rust_log_level).unwrap_or(LevelFilter::INFO))
}

/// Installs the subscriber writing to stdout, where Lambda collects logs.
pub fn init() {
    let lookup = |name: &str| std::env::var(name).ok();
    let format = LogFormat::choose(
        lookup(FORMAT_VARIABLE).as_deref(),
        std::io::stdout().is_terminal(),
    );
    let collector = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        // The builder's own filter (INFO by default) lets everything pass:
        // `targets` alone decides what is logged.
        .with_max_level(LevelFilter::TRACE)
        .with_writer(std::io::stdout);
    let targets = targets(lookup);
    match format {
        // Each span's fields once, in `spans` (outermost first): the default
        // also repeats the innermost span as `span`, serialising it twice.
        LogFormat::Json => collector
            .json()
            .with_current_span(false)
            .finish()
            .with(targets)
            .init(),
        LogFormat::Text { ansi } => collector.with_ansi(ansi).finish().with(targets).init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_when_lambda_asks_for_it_whatever_the_output() {
        for terminal in [false, true] {
            assert_eq!(LogFormat::choose(Some("JSON"), terminal), LogFormat::Json);
            assert_eq!(LogFormat::choose(Some("json"), terminal), LogFormat::Json);
        }
    }

    #[test]
    fn text_has_colours_only_on_a_terminal() {
        for format in [None, Some("Text"), Some("")] {
            assert_eq!(
                LogFormat::choose(format, false),
                LogFormat::Text { ansi: false }
            );
            assert_eq!(
                LogFormat::choose(format, true),
                LogFormat::Text { ansi: true }
            );
        }
    }

    /// The filter the variables in `pairs` make.
    fn targets_from(pairs: &'static [(&'static str, &'static str)]) -> Targets {
        targets(|name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
    }

    fn default_of(pairs: &'static [(&'static str, &'static str)]) -> Option<LevelFilter> {
        targets_from(pairs).default_level()
    }

    #[test]
    fn the_lambda_level_wins_over_rust_log_and_info_is_the_default() {
        assert_eq!(default_of(&[]), Some(LevelFilter::INFO));
        assert_eq!(
            default_of(&[("RUST_LOG", "debug")]),
            Some(LevelFilter::DEBUG)
        );
        assert_eq!(
            default_of(&[("AWS_LAMBDA_LOG_LEVEL", "WARN"), ("RUST_LOG", "debug")]),
            Some(LevelFilter::WARN)
        );
        assert_eq!(
            default_of(&[("AWS_LAMBDA_LOG_LEVEL", "loud")]),
            Some(LevelFilter::INFO)
        );
    }

    #[test]
    fn rust_log_sets_levels_per_target_and_a_broken_directive_is_skipped() {
        let targets = targets_from(&[("RUST_LOG", "warn,ingest=debug,aws_smithy_runtime=error")]);
        assert_eq!(targets.default_level(), Some(LevelFilter::WARN));
        assert!(targets.would_enable("ingest", &tracing::Level::DEBUG));
        assert!(!targets.would_enable("aws_smithy_runtime", &tracing::Level::WARN));
        assert!(!targets.would_enable("hyper", &tracing::Level::INFO));

        let targets = targets_from(&[("RUST_LOG", "ingest=loud,=,ingest::handler=trace")]);
        assert!(targets.would_enable("ingest::handler", &tracing::Level::TRACE));
        assert!(!targets.would_enable("ingest", &tracing::Level::DEBUG));
        assert_eq!(targets.default_level(), Some(LevelFilter::INFO));
    }

    #[test]
    fn the_lambda_level_is_the_default_whatever_rust_log_says() {
        let targets = targets_from(&[
            ("AWS_LAMBDA_LOG_LEVEL", "ERROR"),
            ("RUST_LOG", "debug,ingest=trace"),
        ]);
        assert_eq!(targets.default_level(), Some(LevelFilter::ERROR));
        assert!(targets.would_enable("ingest", &tracing::Level::TRACE));
        assert!(!targets.would_enable("hyper", &tracing::Level::WARN));
    }
}
