//! The scimd binary: parse the command line, dispatch, exit with the command's status.

use std::process::ExitCode;

use clap::Parser;

// glibc's malloc spent a sixth of a loaded server's CPU in allocation and kept freed memory
// in per-thread arenas; musl's (the static container build) is slower still.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = scimd::cli::Cli::parse();
    scimd::cli::init_tracing();
    scimd::cli::run(cli)
}
