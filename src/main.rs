//! The scimd binary: parse the command line, dispatch, exit with the command's status.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = scimd::cli::Cli::parse();
    scimd::cli::init_tracing();
    scimd::cli::run(cli)
}
