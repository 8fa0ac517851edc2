//! The plan as markdown for a pull-request comment: summary and data-loss warnings first, then one
//! collapsible section per changed resource with a fenced `diff` block. GitHub refuses comments over 65,536
//! characters, so when the full rendering would not fit, diffs are dropped from the end (largest plans first
//! lose detail) and the resources left are listed by name.

use std::fmt::Write;

use super::Style;
use crate::plan::{Plan, ResourceChange};

/// GitHub's limit on a comment body.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;
/// Room kept for the summary and the closing note.
const RESERVE: usize = 4_096;

pub fn render(plan: &Plan) -> String {
    render_with_limit(plan, GITHUB_COMMENT_LIMIT)
}

pub fn render_with_limit(plan: &Plan, limit: usize) -> String {
    let mut out = String::new();
    let summary = plan.summary();
    let _ = writeln!(out, "### stackr plan for `{}`", plan.stack);
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "**Plan: {} to create, {} to update, {} to replace, {} to delete.** {} unchanged.",
        summary.create, summary.update, summary.replace, summary.delete, summary.unchanged
    );
    if !plan.allowed_paths.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "> [!WARNING]");
        let _ = writeln!(
            out,
            "> **Reads outside the project root** (`allowPaths`): {}",
            // Shown as written, but never as markdown: no line break or backtick leaves the warning.
            plan.allowed_paths
                .iter()
                .map(|p| format!("`{}`", super::shown(p).replace('`', "'")))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let data_loss: Vec<&ResourceChange> = plan.data_loss().collect();
    if !data_loss.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(out, "> [!CAUTION]");
        let _ = writeln!(
            out,
            "> **Data loss.** Applying this plan destroys data; `stackr apply` needs `--allow-data-loss`:"
        );
        for change in &data_loss {
            let _ = writeln!(out, "> - `{}` ({}) will be {}d", change.name, change.type_name, change.action.name());
        }
    }
    if let Some(secrets) = &plan.secrets_change {
        let _ = writeln!(out);
        let _ = writeln!(out, "> [!IMPORTANT]");
        let code = |p: &str| format!("`{}`", super::shown(p).replace('`', "'"));
        let _ = writeln!(
            out,
            "> **The state's secrets will be re-encrypted** from {} to {} (apply needs both keys).",
            code(&secrets.from),
            code(&secrets.to)
        );
    }
    if !plan.drift.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "**Changed outside stackr:** {}",
            plan.drift.iter().map(|d| format!("`{}`", d.name)).collect::<Vec<_>>().join(", ")
        );
    }
    if !plan.has_changes() {
        let _ = writeln!(out);
        let _ = writeln!(out, "No changes.");
        return out;
    }
    let _ = writeln!(out);
    let budget = limit.saturating_sub(RESERVE);
    let changes = plan.changes_by_name();
    let mut omitted: Vec<&ResourceChange> = Vec::new();
    for change in &changes {
        let section = section(change);
        if omitted.is_empty() && out.len() + section.len() <= budget {
            out.push_str(&section);
        } else {
            omitted.push(change);
        }
    }
    if !omitted.is_empty() {
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "**{} more {} not shown in full** to stay under GitHub's comment limit; run `stackr plan` for every diff:",
            omitted.len(),
            if omitted.len() == 1 { "change" } else { "changes" }
        );
        let mut listed = 0;
        for change in &omitted {
            let line = format!("- `{} {}` ({})\n", change.action.symbol(), change.name, change.type_name);
            if out.len() + line.len() + 200 > limit {
                break;
            }
            out.push_str(&line);
            listed += 1;
        }
        if listed < omitted.len() {
            let _ = writeln!(out, "- … and {} more", omitted.len() - listed);
        }
    }
    out
}

fn section(change: &ResourceChange) -> String {
    let mut body = String::new();
    super::text::render_change_into(&mut body, change, Style::PLAIN);
    // In a `diff` block, GitHub colours lines by their first character: keep +/-/~ at the start.
    // The headline is already the summary line of the section.
    let body: String = body.lines().skip(1).map(|l| format!("{}\n", l.trim_start())).collect();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<details><summary><code>{} {}</code> ({}){}</summary>",
        change.action.symbol(),
        change.name,
        change.type_name,
        if change.data_loss { " ⚠️ data loss" } else { "" }
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "```diff");
    out.push_str(&body.replace("```", "` ` `"));
    let _ = writeln!(out, "```");
    let _ = writeln!(out);
    let _ = writeln!(out, "</details>");
    out
}
