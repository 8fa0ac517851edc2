//! How failures reach the user: `error: …`, the chain of causes, and a hint saying what to do.

use stackr_engine::diagnostic::Diagnostics;
use stackr_engine::render::shown_lines;

use crate::printer::Printer;

/// Something that stops a command.
#[derive(Debug)]
pub enum Failure {
    /// Problems in the stack, each located.
    Invalid(Diagnostics),
    /// Any other error, with an optional hint.
    Error { error: anyhow::Error, hint: Option<String> },
}

impl Failure {
    pub fn hint(error: impl Into<anyhow::Error>, hint: impl Into<String>) -> Failure {
        Failure::Error { error: error.into(), hint: Some(hint.into()) }
    }
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(error: E) -> Failure {
        Failure::Error { error: error.into(), hint: None }
    }
}

/// A failure in one line: its message and hint (for a note about something that did not stop the command).
pub fn summary(failure: &Failure) -> String {
    let text = match failure {
        Failure::Invalid(diagnostics) => format!("{} problems in the stack", diagnostics.len()),
        Failure::Error { error, hint: Some(hint) } => format!("{error}; {hint}"),
        Failure::Error { error, hint: None } => error.to_string(),
    };
    shown_lines(&text).replace('\n', " ")
}

pub fn print(printer: &Printer, failure: &Failure) {
    let style = printer.stderr_style;
    let label = style.red(&style.bold("error"));
    match failure {
        Failure::Invalid(diagnostics) => {
            for d in diagnostics.iter() {
                // Paths, messages and hints quote the stack (keys, values): its control characters are escaped,
                // as in plans, so a stack cannot rewrite a terminal or a CI log.
                let mut line = format!("{}: ", d.location);
                if !d.path.is_empty() {
                    line.push_str(&d.path);
                    line.push_str(": ");
                }
                line.push_str(&d.message);
                printer.err_line(&format!("{label}: {}", shown_lines(&line)));
                if let Some(hint) = &d.hint {
                    printer.err_line(&format!("  {}: {}", style.bold("hint"), shown_lines(hint)));
                }
            }
            let n = diagnostics.len();
            printer
                .err_line(&format!("{label}: found {n} {} in the stack", if n == 1 { "problem" } else { "problems" }));
        }
        Failure::Error { error, hint } => {
            // Errors quote files, stacks and AWS: their control characters are escaped.
            let mut said = error.to_string();
            printer.err_line(&format!("{label}: {}", shown_lines(&said)));
            for cause in error.chain().skip(1).map(|c| c.to_string()) {
                // A cause the message already quotes (a wrapped error's text) is not said twice.
                if !said.contains(&cause) {
                    printer.err_line(&format!("  Caused by: {}", shown_lines(&cause)));
                    said.push_str(&cause);
                }
            }
            if let Some(hint) = hint {
                printer.err_line(&format!("  {}: {}", style.bold("hint"), shown_lines(hint)));
            }
        }
    }
}

/// Reports a panic (an internal failure, or the Rust runtime itself failing: no random numbers from the OS for
/// its hash maps, no memory) as an `error:` line with a hint, not a backtrace. Set once, before any command runs.
pub fn on_internal_failure() {
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown cause".to_string());
        let place = info.location().map(|l| format!(" ({}:{})", l.file(), l.line())).unwrap_or_default();
        let printer = crate::printer::Printer::from_environment();
        printer.err_line(&format!(
            "{}: stackr stopped on an internal failure: {message}{place}",
            printer.stderr_style.red("error")
        ));
        printer.err_line(
            "  hint: what an apply recorded stays in its journal, and the next run continues from it; if this repeats, report it with the command that failed",
        );
    }));
}
