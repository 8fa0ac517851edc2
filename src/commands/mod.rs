//! One module per command: arguments → an engine operation → rendered output.

mod graph;
mod plan;
mod validate;

use crate::cli::Command;
use crate::printer::Printer;
use crate::report::Failure;

/// Runs a command; `Ok` carries the exit code.
pub fn run(command: Command, printer: &Printer) -> Result<u8, Failure> {
    match command {
        Command::Validate { stack } => validate::run(&stack, printer),
        Command::Plan(args) => plan::run(&args, printer),
        Command::Graph { stack, format } => graph::run(&stack, format, printer),
    }
}
