//! `hookbridge policy`: the attempts SNS makes under a delivery policy (the
//! default one, or one read from a file) and the `DeliveryPolicy` JSON to
//! give the subscription.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use hookbridge_core::delivery_policy::{DeliveryPolicy, MAX_POLICY_SECONDS, Phase};
use serde::Serialize;

#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    /// A DeliveryPolicy JSON file (SNS's own shape) [default: hookbridge's
    /// default policy].
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Print one JSON document (the schedule and the policy) instead of a table.
    #[arg(long)]
    pub json: bool,
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
}

pub fn run(args: PolicyArgs) -> Result<(), PolicyError> {
    let policy = match &args.file {
        Some(path) => load(path)?,
        None => DeliveryPolicy::default(),
    };
    if args.json {
        println!("{}", schedule_json(&policy));
    } else {
        print!("{}", schedule_table(&policy));
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

fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Initial => "initial",
        Phase::NoDelay => "immediate",
        Phase::PreBackoff => "pre-backoff",
        Phase::Backoff => "backoff",
        Phase::PostBackoff => "post-backoff",
    }
}

fn human(duration: Duration) -> String {
    if duration.is_zero() {
        "0s".to_owned()
    } else {
        humantime::format_duration(duration).to_string()
    }
}

/// The schedule as a table, then the policy JSON for SNS.
pub fn schedule_table(policy: &DeliveryPolicy) -> String {
    let schedule = policy.schedule();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} attempts over {} (SNS stops retrying after {})\n",
        schedule.len(),
        human(policy.total_duration()),
        human(Duration::from_secs(MAX_POLICY_SECONDS)),
    );
    let _ = writeln!(
        out,
        "{:>7}  {:<12}  {:>8}  {:>10}",
        "attempt", "phase", "delay", "elapsed"
    );
    for attempt in &schedule {
        let _ = writeln!(
            out,
            "{:>7}  {:<12}  {:>8}  {:>10}",
            attempt.number,
            phase_name(attempt.phase),
            human(attempt.delay),
            human(attempt.elapsed),
        );
    }
    let _ = writeln!(
        out,
        "\nSNS subscription DeliveryPolicy:\n{}",
        policy.to_json()
    );
    out
}

#[derive(Serialize)]
struct ScheduleDocument<'a> {
    attempts: Vec<AttemptRow>,
    total_seconds: u64,
    delivery_policy: &'a DeliveryPolicy,
}

#[derive(Serialize)]
struct AttemptRow {
    attempt: u32,
    phase: &'static str,
    delay_seconds: u64,
    elapsed_seconds: u64,
}

/// The schedule and the policy as one JSON document, for scripts.
pub fn schedule_json(policy: &DeliveryPolicy) -> String {
    let document = ScheduleDocument {
        attempts: policy
            .schedule()
            .iter()
            .map(|attempt| AttemptRow {
                attempt: attempt.number,
                phase: phase_name(attempt.phase),
                delay_seconds: attempt.delay.as_secs(),
                elapsed_seconds: attempt.elapsed.as_secs(),
            })
            .collect(),
        total_seconds: policy.total_duration().as_secs(),
        delivery_policy: policy,
    };
    serde_json::to_string_pretty(&document).expect("a schedule always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_table_shows_twelve_attempts_in_four_phases() {
        let table = schedule_table(&DeliveryPolicy::default());
        assert!(table.starts_with("12 attempts over "), "{table}");
        for phase in [
            "initial",
            "immediate",
            "pre-backoff",
            "backoff",
            "post-backoff",
        ] {
            assert!(table.contains(phase), "{phase} missing from\n{table}");
        }
        let rows = table
            .lines()
            .filter(|line| {
                line.split_whitespace()
                    .next()
                    .is_some_and(|n| n.parse::<u32>().is_ok())
            })
            .filter(|line| !line.contains("attempts over"))
            .count();
        assert_eq!(rows, 12);
        assert!(
            table
                .trim_end()
                .ends_with(&DeliveryPolicy::default().to_json())
        );
    }

    #[test]
    fn json_document_matches_the_policy_schedule() {
        let policy = DeliveryPolicy::default();
        let document: serde_json::Value = serde_json::from_str(&schedule_json(&policy)).unwrap();
        let attempts = document["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), policy.schedule().len());
        assert_eq!(attempts[0]["phase"], "initial");
        assert_eq!(attempts[2]["delay_seconds"], 120);
        assert_eq!(document["total_seconds"], policy.total_duration().as_secs());
        let round_trip: DeliveryPolicy =
            serde_json::from_value(document["delivery_policy"].clone()).unwrap();
        assert_eq!(round_trip, policy);
    }

    #[test]
    fn a_policy_file_is_read_and_validated() {
        let dir = std::env::temp_dir().join(format!("hookbridge-policy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let valid = dir.join("valid.json");
        std::fs::write(
            &valid,
            r#"{"healthyRetryPolicy":{"minDelayTarget":10,"maxDelayTarget":20,"numRetries":3,
                "numNoDelayRetries":0,"numMinDelayRetries":1,"numMaxDelayRetries":1,
                "backoffFunction":"linear"}}"#,
        )
        .unwrap();
        assert_eq!(load(&valid).unwrap().schedule().len(), 4);

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
}
