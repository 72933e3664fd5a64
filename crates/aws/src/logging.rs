//! The one log setup of the Lambda functions.
//!
//! As Lambda's advanced logging controls ask: JSON lines when
//! `AWS_LAMBDA_LOG_FORMAT=JSON`, the level from `AWS_LAMBDA_LOG_LEVEL`, else
//! `RUST_LOG`, else INFO. Unlike the lambda crates' default subscriber, text
//! lines carry ANSI colour codes only on a terminal: CloudWatch, CI logs and
//! files get plain text.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::LevelFilter;

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

/// The level named by [`LEVEL_VARIABLE`], else by `RUST_LOG`, else INFO; a
/// name that is not a level is INFO too.
pub fn level(lookup: impl Fn(&str) -> Option<String>) -> LevelFilter {
    lookup(LEVEL_VARIABLE)
        .or_else(|| lookup(RUST_LOG_VARIABLE))
        .and_then(|level| LevelFilter::from_str(&level).ok())
        .unwrap_or(LevelFilter::INFO)
}

/// Installs the subscriber writing to stdout, where Lambda collects logs.
/// `RUST_LOG` directives (per target) apply over the level.
pub fn init() {
    let lookup = |name: &str| std::env::var(name).ok();
    let format = LogFormat::choose(
        lookup(FORMAT_VARIABLE).as_deref(),
        std::io::stdout().is_terminal(),
    );
    let collector = tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(
            EnvFilter::builder()
                .with_default_directive(level(lookup).into())
                .from_env_lossy(),
        )
        .with_writer(std::io::stdout);
    match format {
        // Each span's fields once, in `spans` (outermost first): the default
        // also repeats the innermost span as `span`, serialising it twice.
        LogFormat::Json => collector.json().with_current_span(false).init(),
        LogFormat::Text { ansi } => collector.with_ansi(ansi).init(),
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

    #[test]
    fn the_lambda_level_wins_over_rust_log_and_info_is_the_default() {
        let vars = |pairs: &'static [(&str, &str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(key, _)| *key == name)
                    .map(|(_, value)| (*value).to_owned())
            }
        };
        assert_eq!(level(vars(&[])), LevelFilter::INFO);
        assert_eq!(level(vars(&[("RUST_LOG", "debug")])), LevelFilter::DEBUG);
        assert_eq!(
            level(vars(&[
                ("AWS_LAMBDA_LOG_LEVEL", "WARN"),
                ("RUST_LOG", "debug")
            ])),
            LevelFilter::WARN
        );
        assert_eq!(
            level(vars(&[("AWS_LAMBDA_LOG_LEVEL", "loud")])),
            LevelFilter::INFO
        );
    }
}
