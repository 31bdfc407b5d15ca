//! The scimd binary: parse the command line, dispatch, exit with the command's status.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc gives freed memory back to the system after a short delay, where glibc's malloc
/// keeps large freed blocks (an argon2 workspace is 19 MiB) cached in each thread's arena for
/// the life of the process; it is also faster on the many small allocations of a request.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = scimd::cli::Cli::parse();
    scimd::cli::init_tracing();
    scimd::cli::run(cli)
}
