//! Everything a person reads: plans as text, markdown and JSON, and graphs as dot or mermaid. Renderers
//! return strings; only the binary's printer writes to the terminal. The same plan always renders to the same
//! bytes. Secret values print as `(secret)`.

pub mod graph;
pub mod json;
pub mod markdown;
pub mod text;

use crate::value::Value;

/// Colour or not: decided once by the printer (terminal, `NO_COLOR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Style {
    pub color: bool,
}

impl Style {
    pub const PLAIN: Style = Style { color: false };

    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }
    pub fn green(self, text: &str) -> String {
        self.paint("32", text)
    }
    pub fn yellow(self, text: &str) -> String {
        self.paint("33", text)
    }
    pub fn red(self, text: &str) -> String {
        self.paint("31", text)
    }
    pub fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
    pub fn dim(self, text: &str) -> String {
        self.paint("2", text)
    }
}

/// Values whose one-line form is longer than this are shown on several lines and diffed line by line.
const INLINE_WIDTH: usize = 72;

/// A value as lines: one line when short, pretty-printed JSON otherwise; multi-line strings split on newlines.
pub fn value_lines(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) if s.contains('\n') => s.lines().map(shown).collect(),
        Value::List(_) | Value::Map(_) => {
            let one_line = value.to_string();
            if one_line.chars().count() <= INLINE_WIDTH {
                vec![one_line]
            } else {
                value.pretty().lines().map(str::to_string).collect()
            }
        }
        other => vec![other.to_string()],
    }
}

/// A line of text as it may be shown in a terminal or a pull-request comment: control characters (escape
/// sequences that move the cursor or write the clipboard, carriage returns that overwrite a line) are written
/// as `\u{1b}` escapes, never passed through.
pub fn shown(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() && c != '\t' { c.escape_unicode().to_string() } else { c.to_string() })
        .collect()
}

/// JSON text (from serde_json, which escapes only C0 controls) with DEL and C1 controls (U+0080..U+009F, where
/// U+009B starts a terminal escape on some terminals) escaped as `\u00XX` too: still the same JSON, and safe to
/// show. Control characters can only occur inside JSON strings, so every escape lands in one.
pub fn json_shown(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_control() && c != '\n' {
            out.push_str(&format!("\\u{:04x}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// [`shown`] for text of several lines (an error and its causes): newlines kept, every other control character
/// escaped.
pub fn shown_lines(text: &str) -> String {
    text.split('\n').map(shown).collect::<Vec<_>>().join("\n")
}

/// A line-by-line diff of two multi-line values: each line prefixed `-`, `+` or ` `, with three lines of
/// context around changes and `…` between distant hunks.
pub fn line_diff(before: &[String], after: &[String]) -> Vec<(char, String)> {
    let old = before.join("\n") + "\n";
    let new = after.join("\n") + "\n";
    let diff = similar::TextDiff::from_lines(&old, &new);
    let mut out = Vec::new();
    for (i, group) in diff.grouped_ops(3).iter().enumerate() {
        if i > 0 {
            out.push((' ', "…".to_string()));
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let sign = match change.tag() {
                    similar::ChangeTag::Delete => '-',
                    similar::ChangeTag::Insert => '+',
                    similar::ChangeTag::Equal => ' ',
                };
                out.push((sign, change.value().trim_end_matches('\n').to_string()));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_escaped_never_sent_to_the_terminal() {
        let value = Value::string("ok\n\u{1b}[3A\u{1b}[2Khidden\r\u{1b}]52;c;cGFzdGU=\u{7}\tend");
        let lines = value_lines(&value);
        assert_eq!(lines, ["ok", "\\u{1b}[3A\\u{1b}[2Khidden\\u{d}\\u{1b}]52;c;cGFzdGU=\\u{7}\tend"]);
        assert!(lines.iter().all(|l| !l.chars().any(|c| c.is_control() && c != '\t')));
    }
}
