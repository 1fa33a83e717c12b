//! `stampede` binary: parse arguments, dispatch, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use stampede::cli::{self, Cli, Outcome};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    stampede::sys::disable_huge_pages();
    stampede::sys::raise_nofile_limit();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { Outcome::BadInput.into() } else { Outcome::Ok.into() };
        }
    };
    match cli::run(cli) {
        Ok(outcome) => outcome.into(),
        Err(e) => {
            eprintln!("error: {e:#}");
            cli::error_outcome(&e).into()
        }
    }
}
