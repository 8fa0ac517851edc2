//! stackr: declarative infrastructure for serverless backends on AWS.
//!
//! The binary is thin: it parses arguments (`cli`), wires the engine to state and providers (`workspace`),
//! runs one command (`commands`) and prints through one `printer`. Failures are reported by `report`.

mod cli;
mod commands;
mod printer;
mod progress;
mod report;
mod secrets_key;
mod session;
mod store;
mod workspace;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let printer = printer::Printer::from_environment();
    report::on_internal_failure();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| commands::run(cli.command, &printer)));
    match outcome {
        Ok(Ok(code)) => ExitCode::from(code),
        Ok(Err(failure)) => {
            report::print(&printer, &failure);
            ExitCode::from(1)
        }
        // Reported by the hook; whatever was journaled stays for the next run.
        Err(_) => ExitCode::from(1),
    }
}
