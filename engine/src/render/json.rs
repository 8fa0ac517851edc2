//! The plan as JSON (`--format json`, SPEC §4): stable field names, secrets redacted, unknowns typed
//! (`{"@unknown": …}`, what apply computes them from). `formatVersion` 2: values of version 1 showed unknowns
//! as the string `"(known after apply)"`.

use serde_json::{json, Value as Json};

use crate::diff::PropertyChange;
use crate::plan::{Drift, Plan};

pub const FORMAT_VERSION: u32 = 2;

pub fn to_json(plan: &Plan) -> Json {
    let summary = plan.summary();
    let mut json = json!({
        "formatVersion": FORMAT_VERSION,
        "stack": plan.stack,
        "lineage": plan.lineage,
        "serial": plan.serial,
        "changes": plan.changes_by_name().into_iter().map(|c| json!({
            "name": c.name,
            "type": c.type_name,
            "action": c.action.name(),
            "reasons": c.reasons,
            "dataLoss": c.data_loss,
            "diff": c.diff.iter().chain(&c.options).map(property).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "drift": plan.drift.iter().map(drift).collect::<Vec<_>>(),
        "summary": {
            "create": summary.create,
            "update": summary.update,
            "replace": summary.replace,
            "delete": summary.delete,
            "unchanged": summary.unchanged,
        },
    });
    // Only when used: plans of stacks without `allowPaths` stay as they were.
    if let (false, Some(map)) = (plan.allowed_paths.is_empty(), json.as_object_mut()) {
        map.insert("allowedPaths".into(), json!(plan.allowed_paths));
    }
    if let (Some(secrets), Some(map)) = (&plan.secrets_change, json.as_object_mut()) {
        map.insert("secretsProvider".into(), json!({"from": secrets.from, "to": secrets.to}));
    }
    json
}

pub fn render(plan: &Plan) -> String {
    let text = serde_json::to_string_pretty(&to_json(plan)).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"));
    let mut text = super::json_shown(&text);
    text.push('\n');
    text
}

fn property(change: &PropertyChange) -> Json {
    json!({
        "path": change.path,
        "before": change.before.as_ref().map(|v| v.to_redacted_json()),
        "after": change.after.as_ref().map(|v| v.to_redacted_json()),
        "forcesReplacement": change.forces_replacement,
    })
}

fn drift(entry: &Drift) -> Json {
    json!({
        "name": entry.name,
        "type": entry.type_name,
        "gone": entry.gone,
        "diff": entry.diff.iter().map(property).collect::<Vec<_>>(),
    })
}
