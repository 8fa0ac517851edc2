//! The plan as text, for terminals and logs.

use std::fmt::Write;

use super::{line_diff, value_lines, Style};
use crate::diff::PropertyChange;
use crate::plan::{Action, Drift, Plan, ReplaceOrder, ResourceChange, SecretsChange};

pub fn render(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    if !plan.allowed_paths.is_empty() {
        let _ = writeln!(
            out,
            "{}\n",
            style.bold(&format!(
                "This stack reads files outside the project root: {}",
                plan.allowed_paths.iter().map(|p| super::shown(p)).collect::<Vec<_>>().join(", ")
            ))
        );
    }
    if !plan.drift.is_empty() {
        render_drift(&mut out, &plan.drift, style);
    }
    let summary = plan.summary();
    if plan.has_changes() {
        let _ = writeln!(out, "{}", style.bold(&format!("Stack {}: stackr will make these changes:", plan.stack)));
        let _ = writeln!(out);
        for change in plan.changes_by_name() {
            render_change_into(&mut out, change, style);
            let _ = writeln!(out);
        }
        if let Some(secrets) = &plan.secrets_change {
            let _ = writeln!(out, "{}", style.yellow(&secrets_line(secrets)));
            let _ = writeln!(out);
        }
        let data_loss: Vec<&str> = plan.data_loss().map(|c| c.name.as_str()).collect();
        if !data_loss.is_empty() {
            let _ = writeln!(
                out,
                "{}",
                style.red(&format!(
                    "DATA LOSS: this plan destroys the data of {}. Apply needs --allow-data-loss.",
                    data_loss.join(", ")
                ))
            );
        }
    } else {
        let _ = writeln!(out, "Stack {}: no changes. The infrastructure matches the stack.", plan.stack);
    }
    if summary.unchanged > 0 {
        let _ = writeln!(
            out,
            "{} unchanged {}.",
            summary.unchanged,
            if summary.unchanged == 1 { "resource" } else { "resources" }
        );
    }
    let _ = writeln!(
        out,
        "{}",
        style.bold(&format!(
            "Plan: {} to create, {} to update, {} to replace, {} to delete.",
            summary.create, summary.update, summary.replace, summary.delete
        ))
    );
    out
}

/// The line every rendering shows for a change of the secrets key.
pub fn secrets_line(change: &SecretsChange) -> String {
    format!(
        "~ secrets: the state's secrets will be re-encrypted from {} to {} (apply needs both keys)",
        super::shown(&change.from),
        super::shown(&change.to)
    )
}

fn headline(change: &ResourceChange) -> String {
    let what = match (change.action, change.replace_order) {
        (Action::Create, _) => "will be created".to_string(),
        (Action::Update, _) => "will be updated in place".to_string(),
        (Action::Replace, Some(ReplaceOrder::DeleteBeforeCreate)) => {
            "will be replaced (delete, then create)".to_string()
        }
        (Action::Replace, _) => "will be replaced (create, then delete)".to_string(),
        (Action::Delete, _) if change.retain => "will be forgotten (retainOnDelete: it stays in AWS)".to_string(),
        (Action::Delete, _) => "will be deleted".to_string(),
    };
    format!("{} {} ({}) {what}", change.action.symbol(), change.name, change.type_name)
}

fn paint_action(style: Style, action: Action, text: &str) -> String {
    match action {
        Action::Create => style.green(text),
        Action::Update => style.yellow(text),
        Action::Replace | Action::Delete => style.red(text),
    }
}

/// One resource's block (headline, warnings, property diffs).
pub fn render_change_into(out: &mut String, change: &ResourceChange, style: Style) {
    let _ = writeln!(out, "{}", paint_action(style, change.action, &headline(change)));
    if change.data_loss {
        let verb = if change.action == Action::Delete { "deleting" } else { "replacing" };
        let _ = writeln!(out, "    {}", style.red(&format!("! DATA LOSS: {verb} this resource destroys its data")));
    }
    if change.action == Action::Replace {
        for reason in change.reasons.iter().filter(|r| r.contains("forces") || r.contains("type changed")) {
            let _ = writeln!(out, "    {}", style.dim(&format!("# {}", super::shown(reason))));
        }
    }
    for property in change.diff.iter().chain(&change.options) {
        render_property(out, change.action, property, style);
    }
}

fn render_property(out: &mut String, action: Action, change: &PropertyChange, style: Style) {
    let marker = if change.forces_replacement && action == Action::Replace { "  # forces replacement" } else { "" };
    // A path holds map keys the stack wrote (tags, variables): shown escaped, as values are.
    let path = super::shown(&change.path);
    let before = change.before.as_ref().map(value_lines);
    let after = change.after.as_ref().map(value_lines);
    match (before, after) {
        (None, Some(after)) => {
            if after.len() == 1 {
                let _ = writeln!(out, "    {}{}", style.green(&format!("+ {}: {}", path, after[0])), style.dim(marker));
            } else {
                let _ = writeln!(out, "    {}{}", style.green(&format!("+ {}:", path)), style.dim(marker));
                for line in after {
                    let _ = writeln!(out, "        {}", style.green(&line));
                }
            }
        }
        (Some(before), None) => {
            if before.len() == 1 {
                let _ = writeln!(out, "    {}{}", style.red(&format!("- {}: {}", path, before[0])), style.dim(marker));
            } else {
                let _ = writeln!(out, "    {}{}", style.red(&format!("- {}:", path)), style.dim(marker));
                for line in before {
                    let _ = writeln!(out, "        {}", style.red(&line));
                }
            }
        }
        (Some(before), Some(after)) if before.len() == 1 && after.len() == 1 => {
            let _ = writeln!(
                out,
                "    {}{}",
                style.yellow(&format!("~ {}: {} → {}", path, before[0], after[0])),
                style.dim(marker)
            );
        }
        (Some(before), Some(after)) => {
            let _ = writeln!(out, "    {}{}", style.yellow(&format!("~ {}:", path)), style.dim(marker));
            for (sign, line) in line_diff(&before, &after) {
                let text = format!("{sign} {line}");
                let painted = match sign {
                    '-' => style.red(&text),
                    '+' => style.green(&text),
                    _ => text,
                };
                let _ = writeln!(out, "      {painted}");
            }
        }
        (None, None) => {}
    }
}

/// The drift section alone: what `stackr refresh` reports.
pub fn drift_report(drift: &[Drift], style: Style) -> String {
    let mut out = String::new();
    render_drift(&mut out, drift, style);
    out
}

fn render_drift(out: &mut String, drift: &[Drift], style: Style) {
    let _ = writeln!(out, "{}", style.bold("Changes made outside stackr (found by refresh):"));
    let _ = writeln!(out);
    for entry in drift {
        if entry.gone {
            let _ = writeln!(out, "{}", style.red(&format!("  {} ({}) no longer exists", entry.name, entry.type_name)));
            continue;
        }
        let _ = writeln!(out, "{}", style.yellow(&format!("  {} ({}) was changed", entry.name, entry.type_name)));
        for property in &entry.diff {
            render_property(out, Action::Update, property, style);
        }
    }
    let _ = writeln!(out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Value;

    #[test]
    fn paths_and_long_values_show_control_characters_escaped() {
        let long: std::collections::BTreeMap<String, Value> =
            (0..8).map(|i| (format!("key{i}"), Value::string(format!("v\u{7f}\u{9b}31m{i:0>20}")))).collect();
        let mut out = String::new();
        let change = |path: &str, after: Value| PropertyChange {
            path: path.to_string(),
            before: Some(Value::string("x")),
            after: Some(after),
            forces_replacement: false,
        };
        render_property(
            &mut out,
            Action::Update,
            &change("tags.k\u{1b}]52;c;eA==\u{7}", Value::string("y")),
            Style::PLAIN,
        );
        render_property(&mut out, Action::Update, &change("tags", Value::Map(long)), Style::PLAIN);
        assert!(out.chars().all(|c| !c.is_control() || c == '\n'), "{out:?}");
        assert!(out.contains(r"tags.k\u{1b}]52;c;eA==\u{7}") && out.contains(r"v\u007f\u009b31m"), "{out}");
    }
}
