use std::process::ExitCode;

use clap::Parser;
use hookbridge::Cli;

fn main() -> ExitCode {
    hookbridge::run(Cli::parse())
}
