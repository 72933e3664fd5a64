//! hookbridge: runs the whole pipeline on a laptop with no AWS account, and
//! helps operate it (sign test webhooks, show the delivery policy, replay
//! dead letters, show an event's deliveries).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod dev;
mod output;
pub mod policy;
pub mod replay;
pub mod sign;
pub mod status;

#[derive(Debug, Parser)]
#[command(name = "hookbridge", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run ingest, the bus, delivery and the consumer in one local process.
    Dev(dev::DevArgs),
    /// Sign a payload as a provider would and print the headers and a curl command.
    Sign(sign::SignArgs),
    /// Show every attempt of a delivery up to the horizon (SNS's policy, then
    /// tier 2) and the SNS DeliveryPolicy JSON.
    Policy(policy::PolicyArgs),
    /// Send dead-lettered deliveries again.
    Replay(replay::ReplayArgs),
    /// Show where an event's delivery stands at every destination.
    Status(status::StatusArgs),
}

/// Runs one command. Each command has its own typed error; it is printed
/// once, here.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Dev(args) => exit_code(dev::run(args)),
        Command::Sign(args) => exit_code(sign::run(args)),
        Command::Policy(args) => exit_code(policy::run(args)),
        Command::Replay(args) => exit_code(replay::run(args)),
        Command::Status(args) => exit_code(status::run(args)),
    }
}

/// An AWS flag given to a hookbridge built without the `aws` feature:
/// refused, never ignored, with how to get it.
#[cfg(not(feature = "aws"))]
#[derive(Debug, thiserror::Error)]
#[error(
    "{0} needs the AWS mode, which this hookbridge was built without: build it with \
     `--features aws` (`cargo run --profile local -p hookbridge --features aws -- …` or \
     `cargo install --path crates/cli --features aws`)"
)]
pub struct AwsModeNotBuilt(pub &'static str);

fn exit_code<E: std::fmt::Display>(result: Result<(), E>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hookbridge: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(all(test, not(feature = "aws")))]
mod tests {
    use super::*;

    /// What the command given by `args` fails with.
    fn refusal(args: &[&str]) -> String {
        match Cli::try_parse_from(args).unwrap().command {
            Command::Dev(args) => dev::run(args).unwrap_err().to_string(),
            Command::Status(args) => status::run(args).unwrap_err().to_string(),
            Command::Replay(args) => replay::run(args).unwrap_err().to_string(),
            other => panic!("not a command with an AWS mode: {other:?}"),
        }
    }

    #[test]
    fn without_the_aws_feature_every_aws_flag_is_refused_with_how_to_build_it_in() {
        let queue = [
            "--queue-url",
            "https://sqs.example/q",
            "--topic-arn",
            "arn:t",
        ];
        for (args, flag) in [
            (vec!["hookbridge", "dev", "--aws"], "dev --aws"),
            (
                vec!["hookbridge", "status", "evt_1", "--aws", "--table", "t"],
                "status --aws",
            ),
            (
                [&["hookbridge", "replay", "--aws"][..], &queue].concat(),
                "replay --aws",
            ),
        ] {
            let message = refusal(&args);
            assert!(
                message.starts_with(&format!("{flag} needs the AWS mode")),
                "{message}"
            );
            assert!(message.contains("--features aws"), "{message}");
        }
    }
}
