//! The scimd binary: parse the command line, dispatch, exit with the command's status.

use std::process::ExitCode;

use clap::Parser;

// One allocator on every target, and one that frees cheaply what another thread allocated:
// request threads build the request log's entries and the log's writer thread frees them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = scimd::cli::Cli::parse();
    scimd::cli::init_tracing();
    scimd::cli::run(cli)
}
