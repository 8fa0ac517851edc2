//! Progress of long work (apply, destroy): on a terminal, a line per finished step plus a live status line of
//! the steps in flight with their elapsed time; otherwise plain timestamped lines.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

use stackr_engine::apply::{ApplyEvent, Operation};
use stackr_engine::render::{shown_lines, Style};

use crate::printer::Printer;
use tokio::sync::mpsc::UnboundedReceiver;

pub struct Progress {
    live: bool,
    style: Style,
    printer: Printer,
}

impl Progress {
    pub fn new(printer: Printer) -> Progress {
        Progress { live: std::io::stderr().is_terminal(), style: printer.stderr_style, printer }
    }

    /// Consumes events until the sender is dropped.
    pub async fn run(self, mut events: UnboundedReceiver<ApplyEvent>, total: usize) {
        let mut in_flight: BTreeMap<String, (Operation, Instant)> = BTreeMap::new();
        let mut finished = 0usize;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                event = events.recv() => {
                    let Some(event) = event else { break };
                    if self.live {
                        self.printer.err("\r\x1b[K");
                    }
                    match event {
                        ApplyEvent::Started { name, operation } => {
                            if !self.live {
                                self.line(&format!("{} {name}: {}…", symbol(operation), operation.doing()));
                            }
                            in_flight.insert(name, (operation, Instant::now()));
                        }
                        ApplyEvent::Finished { name, operation, elapsed } => {
                            in_flight.remove(&name);
                            finished += 1;
                            let text = format!("{} {name}: {} ({:.1}s)", symbol(operation), operation.done(), elapsed.as_secs_f64());
                            self.line(&self.style.green(&text));
                        }
                        ApplyEvent::Failed { name, operation, error } => {
                            in_flight.remove(&name);
                            finished += 1;
                            self.line(&self.style.red(&format!("{} {name}: {} failed: {}", symbol(operation), operation.doing(), shown_lines(&error))));
                        }
                        ApplyEvent::Skipped { name, operation, reason } => {
                            finished += 1;
                            self.line(&self.style.dim(&format!("  {name}: {} skipped: {}", operation.doing(), shown_lines(&reason))));
                        }
                    }
                    self.status(&in_flight, finished, total);
                }
                _ = tick.tick() => self.status(&in_flight, finished, total),
            }
        }
        if self.live {
            self.printer.err("\r\x1b[K");
        }
    }

    fn line(&self, text: &str) {
        if self.live {
            self.printer.err_line(text);
        } else {
            self.printer.err_line(&format!("[{}] {text}", clock()));
        }
    }

    fn status(&self, in_flight: &BTreeMap<String, (Operation, Instant)>, finished: usize, total: usize) {
        if !self.live || in_flight.is_empty() {
            return;
        }
        let mut parts: Vec<String> = in_flight
            .iter()
            .take(4)
            .map(|(name, (op, since))| format!("{name} {} {}s", op.doing(), since.elapsed().as_secs()))
            .collect();
        if in_flight.len() > 4 {
            parts.push(format!("+{} more", in_flight.len() - 4));
        }
        // One physical line: a wrapped status line could not be cleared with `\r` on the next update.
        let width = std::env::var("COLUMNS").ok().and_then(|c| c.parse::<usize>().ok()).unwrap_or(80).max(20);
        let line: String = format!("[{finished}/{total}] {}", parts.join(", ")).chars().take(width - 1).collect();
        self.printer.err(&format!("\r\x1b[K{}", self.style.dim(&line)));
    }
}

fn symbol(operation: Operation) -> &'static str {
    match operation {
        Operation::Create => "+",
        Operation::Update => "~",
        Operation::Replace => "-/+",
        Operation::Delete | Operation::DeleteRetired | Operation::Forget => "-",
    }
}

/// UTC wall-clock time as HH:MM:SS.
fn clock() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format!("{:02}:{:02}:{:02}", (secs / 3600) % 24, (secs / 60) % 60, secs % 60)
}
