//! What apply checks before its first call: the data-loss and protection guard, and that a saved plan's steps
//! follow from the state it was made against.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use stackr_state::{ResourceState, StateFile};

use super::{shape, ApplyError, ApplyOptions};
use crate::diff::diff_inputs;
use crate::graph::DependencyGraph;
use crate::plan::file::{PlanFile, PlannedStep};
use crate::plan::Action;
use crate::provider::Registry;
use crate::schema::PropType;
use crate::stack::confine::{self, Confinement};
use crate::value::Value;

/// Refuses data loss without `--allow-data-loss`, and protected resources whatever the plan says. [`apply`]
/// checks it first; a caller checks it before opening a journal, so that a refused run leaves nothing behind.
pub fn guard(steps: &[PlannedStep], state: &StateFile, options: ApplyOptions) -> Result<(), ApplyError> {
    let data_loss: Vec<String> = steps.iter().filter(|s| s.data_loss).map(|s| s.name.clone()).collect();
    if !data_loss.is_empty() && !options.allow_data_loss {
        return Err(ApplyError::DataLoss { resources: data_loss });
    }
    for step in steps {
        let protected = state.resources.get(&step.name).is_some_and(|r| r.protect);
        if protected && matches!(step.action, Action::Replace | Action::Delete) {
            let action = if step.action == Action::Replace { "replace" } else { "delete" };
            return Err(ApplyError::Protected { name: step.name.clone(), action });
        }
    }
    Ok(())
}

/// Checks that a saved plan follows from the state it was made against, so that a damaged or edited plan cannot
/// act on what it does not name, nor leave the stack where no later run can take it:
/// - each step names a type stackr knows, and each resource once;
/// - an update, replacement or delete acts on the resource the state records under that name, with the id the
///   plan names (and, but for a replacement, the same type); a create names what the state does not hold (or
///   holds as `gone`: found deleted outside stackr, forgotten before the steps run);
/// - what a step sends has the shape of its type's schema; an update changes nothing that forces a
///   replacement (compared with what the state records: had AWS changed such a property outside stackr,
///   `stackr refresh` records it first);
/// - a delete forgets (leaves in AWS) exactly when the state records `retainOnDelete`;
/// - what a step waits for is a step of the plan or in the state, and the steps wait for each other in no
///   cycle;
/// - code a step deploys lies inside the project root (`root`) or the plan's `allowPaths`, and is an input
///   of the plan with the digest the step names (so the stale check reads it again);
/// - what loses data is decided from the schemas, not from the file's own `dataLoss` flags.
pub fn verify_saved(
    file: &PlanFile,
    state: &StateFile,
    registry: &Registry,
    options: ApplyOptions,
    root: Option<&Path>,
) -> Result<(), ApplyError> {
    let steps = &file.steps;
    let mut seen = BTreeSet::new();
    let mut data_loss = Vec::new();
    for step in steps {
        let not_from = |why: String| ApplyError::NotFromThisStack { name: step.name.clone(), why };
        if !seen.insert(step.name.as_str()) {
            return Err(not_from("has more than one step".into()));
        }
        let Some(schema) = registry.schema(&step.type_name) else {
            return Err(not_from(format!("has type {}, which stackr does not know", step.type_name)));
        };
        let forgotten = |r: &&ResourceState| file.gone.iter().any(|g| g.name == step.name && g.id == r.id);
        let recorded = state.resources.get(&step.name).filter(|r| !forgotten(r));
        match (step.action, recorded) {
            (Action::Create, None) => {}
            (Action::Create, Some(r)) => return Err(not_from(format!("is already in the state ({})", r.id))),
            (_, None) => return Err(not_from("is not in the state".into())),
            (_, Some(r)) if step.prior_id.as_deref() != Some(r.id.as_str()) => {
                return Err(not_from(format!(
                    "is {} in the state, not {}",
                    r.id,
                    step.prior_id.as_deref().unwrap_or("(none)")
                )))
            }
            (Action::Update | Action::Delete, Some(r)) if r.type_name != step.type_name => {
                return Err(not_from(format!(
                    "is a {} in the state, but the plan says {}",
                    r.type_name, step.type_name
                )))
            }
            (Action::Delete, Some(r)) if r.retain_on_delete != step.retain => {
                return Err(not_from(if r.retain_on_delete {
                    "is retainOnDelete in the state, but the plan deletes it from AWS".into()
                } else {
                    "is not retainOnDelete in the state, but the plan leaves it in AWS".into()
                }))
            }
            _ => {}
        }
        if step.action != Action::Delete {
            let inputs = step.input_values().ok_or_else(|| not_from("has no inputs to send".into()))?;
            if let Some(why) = shape::mismatch(schema, &inputs) {
                return Err(not_from(why));
            }
            if let (Action::Update, Some(r)) = (step.action, recorded) {
                let diff = diff_inputs(schema, &Value::from_json(&r.inputs), &inputs);
                if let Some(forcing) = diff.iter().find(|c| c.forces_replacement) {
                    return Err(not_from(format!("changes `{}` in place, which forces a replacement", forcing.path)));
                }
            }
            code_checked(file, step, schema, root).map_err(not_from)?;
        }
        let holds_data = |type_name: &str| registry.schema(type_name).is_some_and(|s| s.holds_data);
        let loses = match (step.action, recorded) {
            (Action::Replace, Some(r)) => holds_data(&r.type_name) || holds_data(&step.type_name),
            (Action::Delete, Some(r)) => holds_data(&r.type_name) && !r.retain_on_delete,
            _ => false,
        };
        if loses {
            data_loss.push(step.name.clone());
        }
    }
    waits_checked(steps, state)?;
    if !data_loss.is_empty() && !options.allow_data_loss {
        return Err(ApplyError::DataLoss { resources: data_loss });
    }
    Ok(())
}

/// What each create, update and replacement waits for is a step before it or a resource in the state (a value
/// it computes from another resource names one of them), and the steps wait in no cycle.
fn waits_checked(steps: &[PlannedStep], state: &StateFile) -> Result<(), ApplyError> {
    let forward: BTreeMap<&str, &PlannedStep> =
        steps.iter().filter(|s| s.action != Action::Delete).map(|s| (s.name.as_str(), s)).collect();
    let deleted: BTreeSet<&str> =
        steps.iter().filter(|s| s.action == Action::Delete).map(|s| s.name.as_str()).collect();
    let mut edges: Vec<(&str, BTreeSet<String>)> = Vec::new();
    for step in forward.values() {
        let not_from = |why: String| ApplyError::NotFromThisStack { name: step.name.clone(), why };
        let exists =
            |name: &str| forward.contains_key(name) || (state.resources.contains_key(name) && !deleted.contains(name));
        if let Some(missing) = step.dependencies.iter().find(|d| !exists(d)) {
            return Err(not_from(format!(
                "waits for `{missing}`, which is neither a step of the plan nor in the state"
            )));
        }
        let mut computed = Vec::new();
        if let Some(inputs) = step.input_values() {
            inputs.waits_for(&mut computed);
        }
        for source in &computed {
            let Some((resource, _)) = source.split_once('.') else { continue };
            if resource == "stackr" {
                continue;
            }
            let waited = step.dependencies.iter().any(|d| d == resource);
            if !waited && (forward.contains_key(resource) || !state.resources.contains_key(resource)) {
                return Err(not_from(format!("computes a value from `{source}` without waiting for `{resource}`")));
            }
        }
        let within: BTreeSet<String> =
            step.dependencies.iter().filter(|d| forward.contains_key(d.as_str())).cloned().collect();
        edges.push((step.name.as_str(), within));
    }
    let graph = DependencyGraph::new(edges.iter().map(|(name, deps)| (*name, deps)));
    graph.order().map_err(|cycle| ApplyError::NotFromThisStack {
        name: cycle.members.first().cloned().unwrap_or_default(),
        why: format!("waits for itself: {cycle}"),
    })?;
    Ok(())
}

/// The code a step deploys: inside the confinement, and an input of the plan with the digest the step names.
fn code_checked(
    file: &PlanFile,
    step: &PlannedStep,
    schema: &crate::schema::ResourceSchema,
    root: Option<&Path>,
) -> Result<(), String> {
    let Some(Value::Map(inputs)) = step.input_values() else { return Ok(()) };
    let base_dir = step.base_dir.clone().unwrap_or_default();
    let confined = root.map(|root| Confinement { root, allowed: &file.target.allow_paths });
    for property in schema.properties.iter().filter(|p| p.ty == PropType::Asset) {
        let Some(Value::Map(asset)) = inputs.get(property.name) else { continue };
        let (Some(Value::String(path)), Some(Value::String(sha256))) = (asset.get("path"), asset.get("sha256")) else {
            continue;
        };
        let full = confine::resolve_tree(confined, &base_dir, path)
            .map_err(|message| format!("deploys code from outside: {message}"))?;
        let key = format!("code:{}", confine::lexical(&full).display());
        match file.inputs.get(&key) {
            Some(digest) if digest == sha256 => {}
            Some(_) => return Err(format!("deploys {key} with another digest than the plan's inputs record")),
            None => return Err(format!("deploys {key}, which is not an input of the plan")),
        }
    }
    Ok(())
}
