//! `hookbridge policy`: every attempt of a destination's delivery if each
//! one fails: SNS's DeliveryPolicy (the default one, or one read from a
//! file), then hookbridge's tier 2 up to the destination's horizon; and the
//! `DeliveryPolicy` JSON to give the subscription.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hookbridge_core::delivery_policy::{DeliveryPolicy, MAX_POLICY_SECONDS, Phase};
use hookbridge_core::destinations::{DEFAULT_DESTINATION, MAX_HORIZON_HOURS};
use hookbridge_core::horizon::{
    DeliverySchedule, Horizon, HorizonOutOfRange, ScheduledAttempt, TIER2_FIRST_DELAY,
    TIER2_MAX_DELAY, Tier,
};
use serde::Serialize;

use crate::dev::config::{ConfigFileError, Settings};
use crate::output;

#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    /// A DeliveryPolicy JSON file (SNS's own subscription shape) [default:
    /// hookbridge's default policy].
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Print one JSON document (the schedule and the policy) instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The schedule of this destination of the dev configuration (its
    /// `horizon_hours`) [default: the default horizon].
    #[arg(long, value_name = "NAME", conflicts_with = "horizon_hours")]
    pub destination: Option<String>,
    /// The configuration file `--destination` is read from [default:
    /// ./hookbridge.toml].
    #[arg(long, value_name = "PATH", requires = "destination")]
    pub config: Option<PathBuf>,
    /// Attempts continue until this many hours after receipt (1 to 168).
    #[arg(long, value_name = "N")]
    pub horizon_hours: Option<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid delivery policy: {source}")]
    Invalid {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error(transparent)]
    Config(#[from] ConfigFileError),
    #[error("no destination `{name}` is configured (configured: {configured})")]
    UnknownDestination { name: String, configured: String },
    #[error("--horizon-hours must be between 1 and {MAX_HORIZON_HOURS}, got {}", .0.0)]
    Horizon(#[from] HorizonOutOfRange),
}

pub fn run(args: PolicyArgs) -> Result<(), PolicyError> {
    let policy = match &args.file {
        Some(path) => load(path)?,
        None => DeliveryPolicy::default(),
    };
    let horizon = match (&args.destination, args.horizon_hours) {
        (Some(name), _) => destination_horizon(name, args.config.as_deref())?,
        (None, Some(hours)) => Horizon::from_hours(hours)?,
        (None, None) => Horizon::default(),
    };
    let schedule = DeliverySchedule::new(policy, horizon);
    if args.json {
        output::line(schedule_json(&schedule));
    } else {
        output::write(&schedule_table(&schedule));
    }
    Ok(())
}

fn load(path: &PathBuf) -> Result<DeliveryPolicy, PolicyError> {
    let text = std::fs::read_to_string(path).map_err(|source| PolicyError::Read {
        path: path.clone(),
        source,
    })?;
    serde_json::from_str(&text).map_err(|source| PolicyError::Invalid {
        path: path.clone(),
        source,
    })
}

/// The horizon of destination `name` as `hookbridge dev` would read it;
/// `default` without a declaration is the `target` shortcut, which always
/// has the default horizon.
fn destination_horizon(name: &str, config: Option<&Path>) -> Result<Horizon, PolicyError> {
    let settings = Settings::load(config, false)?;
    let destinations = &settings.destinations.destinations;
    match destinations.get(name) {
        Some(destination) => Ok(destination.horizon()),
        None if name == DEFAULT_DESTINATION => Ok(Horizon::default()),
        None => Err(PolicyError::UnknownDestination {
            name: name.to_owned(),
            configured: if destinations.is_empty() {
                "none".to_owned()
            } else {
                destinations
                    .iter()
                    .map(|destination| destination.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        }),
    }
}

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Initial => "initial",
        Phase::NoDelay => "immediate",
        Phase::PreBackoff => "pre-backoff",
        Phase::Backoff => "backoff",
        Phase::PostBackoff => "post-backoff",
    }
}

fn tier_name(tier: Tier) -> &'static str {
    match tier {
        Tier::Sns => "sns",
        Tier::Horizon => "horizon",
    }
}

/// A whole-second duration as `2d 20h 36m 17s` (humantime's `2days 20h`
/// reads oddly in a column).
fn human(duration: Duration) -> String {
    let seconds = duration.as_secs();
    let parts = [
        (seconds / 86_400, "d"),
        (seconds / 3_600 % 24, "h"),
        (seconds / 60 % 60, "m"),
        (seconds % 60, "s"),
    ];
    let text: Vec<String> = parts
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, unit)| format!("{count}{unit}"))
        .collect();
    if text.is_empty() {
        "0s".to_owned()
    } else {
        text.join(" ")
    }
}

/// One listed attempt with the name of its phase: SNS's phases in tier 1;
/// in tier 2 `growing` while the delay doubles, then `steady`, and `last`
/// for the one that lands on the horizon after a shorter delay.
struct Row {
    number: u32,
    tier: Tier,
    phase: &'static str,
    delay: Duration,
    elapsed: Duration,
}

fn rows(schedule: &DeliverySchedule) -> Vec<Row> {
    let sns_phases = schedule.tier1().schedule();
    schedule
        .attempts()
        .into_iter()
        .map(|attempt| {
            let phase = match attempt.tier {
                Tier::Sns => sns_phases
                    .get(attempt.number as usize - 1)
                    .map_or("initial", |sns| phase_name(sns.phase)),
                Tier::Horizon
                    if attempt.elapsed == schedule.horizon().duration()
                        && attempt.delay
                            < schedule.tier2_delay(tier2_number(schedule, &attempt)) =>
                {
                    "last"
                }
                Tier::Horizon if attempt.delay < TIER2_MAX_DELAY => "growing",
                Tier::Horizon => "steady",
            };
            Row {
                number: attempt.number,
                tier: attempt.tier,
                phase,
                delay: attempt.delay,
                elapsed: attempt.elapsed,
            }
        })
        .collect()
}

/// The attempt's place in tier 2 (1 for the first after SNS's).
fn tier2_number(schedule: &DeliverySchedule, attempt: &ScheduledAttempt) -> u32 {
    attempt.number.saturating_sub(schedule.tier1_attempts())
}

/// Both tiers as a table, then the policy JSON for SNS.
pub fn schedule_table(schedule: &DeliverySchedule) -> String {
    let rows = rows(schedule);
    let tier2: Vec<&Row> = rows
        .iter()
        .filter(|row| row.tier == Tier::Horizon)
        .collect();
    let last = rows.last().map_or(Duration::ZERO, |row| row.elapsed);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} attempts over {} (SNS stops retrying after {})",
        schedule.tier1_attempts(),
        human(schedule.tier1_duration()),
        human(Duration::from_secs(MAX_POLICY_SECONDS)),
    );
    let _ = writeln!(
        out,
        "then {} attempts by hookbridge, {} apart doubling up to {}, until the {} h horizon: \
         {} attempts in all, the last {} after receipt\n",
        tier2.len(),
        human(TIER2_FIRST_DELAY),
        human(TIER2_MAX_DELAY),
        schedule.horizon().hours(),
        rows.len(),
        human(last),
    );
    let _ = writeln!(
        out,
        "{:>7}  {:<7}  {:<12}  {:>8}  {:>16}",
        "attempt", "tier", "phase", "delay", "elapsed"
    );
    for row in &rows {
        let _ = writeln!(
            out,
            "{:>7}  {:<7}  {:<12}  {:>8}  {:>16}",
            row.number,
            tier_name(row.tier),
            row.phase,
            human(row.delay),
            human(row.elapsed),
        );
    }
    let _ = writeln!(
        out,
        "\nSNS subscription DeliveryPolicy:\n{}",
        schedule.tier1().to_json()
    );
    out
}

#[derive(Serialize)]
struct ScheduleDocument<'a> {
    attempts: Vec<AttemptRow>,
    /// SNS's part: from the first attempt to its last.
    total_seconds: u64,
    horizon_hours: u32,
    tier2_first_delay_seconds: u64,
    tier2_max_delay_seconds: u64,
    delivery_policy: &'a DeliveryPolicy,
}

#[derive(Serialize)]
struct AttemptRow {
    attempt: u32,
    tier: &'static str,
    phase: &'static str,
    delay_seconds: u64,
    elapsed_seconds: u64,
}

/// Both tiers and the policy as one JSON document, for scripts.
pub fn schedule_json(schedule: &DeliverySchedule) -> String {
    let document = ScheduleDocument {
        attempts: rows(schedule)
            .iter()
            .map(|row| AttemptRow {
                attempt: row.number,
                tier: tier_name(row.tier),
                phase: row.phase,
                delay_seconds: row.delay.as_secs(),
                elapsed_seconds: row.elapsed.as_secs(),
            })
            .collect(),
        total_seconds: schedule.tier1_duration().as_secs(),
        horizon_hours: schedule.horizon().hours(),
        tier2_first_delay_seconds: TIER2_FIRST_DELAY.as_secs(),
        tier2_max_delay_seconds: TIER2_MAX_DELAY.as_secs(),
        delivery_policy: schedule.tier1(),
    };
    serde_json::to_string_pretty(&document).expect("a schedule always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_schedule() -> DeliverySchedule {
        DeliverySchedule::new(DeliveryPolicy::default(), Horizon::default())
    }

    /// The table's attempt rows: the lines that start with a number.
    fn table_rows(table: &str) -> Vec<&str> {
        table
            .lines()
            .filter(|line| {
                line.split_whitespace()
                    .next()
                    .is_some_and(|n| n.parse::<u32>().is_ok())
            })
            .filter(|line| !line.contains("attempts over"))
            .collect()
    }

    #[test]
    fn default_table_shows_sns_twelve_attempts_then_tier2_to_seventy_two_hours() {
        let table = schedule_table(&default_schedule());
        assert!(table.starts_with("12 attempts over "), "{table}");
        assert!(table.contains("until the 72 h horizon"), "{table}");
        for phase in [
            "initial",
            "immediate",
            "pre-backoff",
            "backoff",
            "post-backoff",
            "growing",
            "steady",
            "last",
        ] {
            assert!(table.contains(phase), "{phase} missing from\n{table}");
        }
        let rows = table_rows(&table);
        assert_eq!(rows.len(), default_schedule().attempts().len());
        assert!(
            rows[..12].iter().all(|row| row.contains(" sns ")),
            "{table}"
        );
        assert!(
            rows[12..].iter().all(|row| row.contains(" horizon ")),
            "{table}"
        );
        assert!(
            table
                .trim_end()
                .ends_with(&DeliveryPolicy::default().to_json())
        );
    }

    #[test]
    fn durations_read_as_days_hours_minutes_and_seconds() {
        assert_eq!(human(Duration::ZERO), "0s");
        assert_eq!(human(Duration::from_secs(128)), "2m 8s");
        assert_eq!(human(Duration::from_secs(6 * 3600)), "6h");
        assert_eq!(human(Duration::from_secs(246_977)), "2d 20h 36m 17s");
    }

    #[test]
    fn a_one_hour_horizon_lists_only_sns() {
        let schedule =
            DeliverySchedule::new(DeliveryPolicy::default(), Horizon::from_hours(1).unwrap());
        let table = schedule_table(&schedule);
        assert_eq!(table_rows(&table).len(), 12, "{table}");
        assert!(table.contains("then 0 attempts by hookbridge"), "{table}");
    }

    #[test]
    fn json_document_lists_both_tiers_and_the_policy() {
        let schedule = default_schedule();
        let policy = DeliveryPolicy::default();
        let document: serde_json::Value = serde_json::from_str(&schedule_json(&schedule)).unwrap();
        let attempts = document["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), schedule.attempts().len());
        assert_eq!(attempts[0]["phase"], "initial");
        assert_eq!(attempts[0]["tier"], "sns");
        assert_eq!(attempts[2]["delay_seconds"], 120);
        assert_eq!(attempts[12]["tier"], "horizon");
        assert_eq!(attempts[12]["delay_seconds"], 900);
        let last = attempts.last().unwrap()["elapsed_seconds"]
            .as_u64()
            .unwrap();
        assert!(last <= 72 * 3_600, "{last}");
        assert_eq!(document["total_seconds"], policy.total_duration().as_secs());
        assert_eq!(document["horizon_hours"], 72);
        let round_trip: DeliveryPolicy =
            serde_json::from_value(document["delivery_policy"].clone()).unwrap();
        assert_eq!(round_trip, policy);
    }

    fn scratch_dir(label: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("hookbridge-policy-{label}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_policy_file_is_read_and_validated() {
        let dir = scratch_dir("file");
        let valid = dir.join("valid.json");
        std::fs::write(
            &valid,
            r#"{"healthyRetryPolicy":{"minDelayTarget":10,"maxDelayTarget":20,"numRetries":3,
                "numNoDelayRetries":0,"numMinDelayRetries":1,"numMaxDelayRetries":1,
                "backoffFunction":"linear"}}"#,
        )
        .unwrap();
        assert_eq!(load(&valid).unwrap().schedule().len(), 4);

        let sns_shape = dir.join("sns-shape.json");
        std::fs::write(
            &sns_shape,
            r#"{"healthyRetryPolicy":{"minDelayTarget":10,"maxDelayTarget":20,"numRetries":3,
                "numNoDelayRetries":0,"numMinDelayRetries":1,"numMaxDelayRetries":1,
                "backoffFunction":"linear"},
                "throttlePolicy":{"maxReceivesPerSecond":5},
                "requestPolicy":{"headerContentType":"application/json"}}"#,
        )
        .unwrap();
        let policy = load(&sns_shape).unwrap();
        assert!(policy.request_policy().is_some());
        assert!(policy.to_json().contains(r#""requestPolicy""#));

        let too_long = dir.join("too-long.json");
        std::fs::write(
            &too_long,
            r#"{"healthyRetryPolicy":{"minDelayTarget":3600,"maxDelayTarget":3600,"numRetries":2,
                "numNoDelayRetries":0,"numMinDelayRetries":2,"numMaxDelayRetries":0,
                "backoffFunction":"linear"}}"#,
        )
        .unwrap();
        let error = load(&too_long).unwrap_err().to_string();
        assert!(error.contains("SNS gives up after 3600 s"), "{error}");

        let missing = dir.join("missing.json");
        assert!(matches!(load(&missing), Err(PolicyError::Read { .. })));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_destination_brings_its_horizon_from_the_dev_configuration() {
        let dir = scratch_dir("destination");
        let config = dir.join("hookbridge.toml");
        std::fs::write(
            &config,
            "[destinations.billing]\nurl = \"http://127.0.0.1:9/\"\nhorizon_hours = 5\n\
             [destinations.crm]\nurl = \"http://127.0.0.1:9/\"\n",
        )
        .unwrap();
        let horizon = |name: &str| destination_horizon(name, Some(&config));
        assert_eq!(horizon("billing").unwrap().hours(), 5);
        assert_eq!(horizon("crm").unwrap(), Horizon::default());
        assert_eq!(horizon(DEFAULT_DESTINATION).unwrap(), Horizon::default());
        let error = horizon("nobody").unwrap_err().to_string();
        assert!(
            error.contains("`nobody`") && error.contains("billing, crm"),
            "{error}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_out_of_range_horizon_is_refused() {
        let error = PolicyError::from(Horizon::from_hours(169).unwrap_err()).to_string();
        assert_eq!(error, "--horizon-hours must be between 1 and 168, got 169");
    }
}
