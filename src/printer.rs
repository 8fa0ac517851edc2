//! The one place that writes to the terminal. It decides colour (only on a terminal, never with `NO_COLOR`)
//! and swallows broken pipes (`stackr plan | head` is not an error).

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::io::{IsTerminal, Write};

use stackr_engine::render::Style;

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub stdout_style: Style,
    pub stderr_style: Style,
}

impl Printer {
    pub fn from_environment() -> Printer {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Printer {
            stdout_style: Style { color: !no_color && std::io::stdout().is_terminal() },
            stderr_style: Style { color: !no_color && std::io::stderr().is_terminal() },
        }
    }

    /// Writes to standard output as is.
    pub fn out(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(text.as_bytes());
        let _ = stdout.flush();
    }

    /// Writes to standard error as is (a live status line, its `\r` and clear-line escape included).
    pub fn err(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = stderr.write_all(text.as_bytes());
        let _ = stderr.flush();
    }

    /// Writes a line to standard error.
    pub fn err_line(&self, text: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "{text}");
    }
}
