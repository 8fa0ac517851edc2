//! One module per command: arguments → an engine operation → rendered output.

mod apply;
mod graph;
mod import;
mod output;
mod plan;
pub(crate) mod planning;
mod refresh;
mod state;
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
        Command::Apply(args) => apply::run(&args, printer),
        Command::Destroy(args) => apply::destroy(&args, printer),
        Command::Refresh { stack } => refresh::run(&stack, printer),
        Command::Import { stack, name, id } => import::run(&stack, &name, &id, printer),
        Command::Output { stack, name, json } => output::run(&stack, name.as_deref(), json, printer),
        Command::State(command) => state::run(&command, printer),
    }
}
