//! What apply checks before its first call: the data-loss and protection guard, and that a saved plan's steps
//! follow from the state it was made against.

use stackr_state::StateFile;

use super::{ApplyError, ApplyOptions};
use crate::plan::file::{GoneResource, PlannedStep};
use crate::plan::Action;
use crate::provider::Registry;

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

/// Checks that a saved plan's steps follow from the state it was made against, so that a damaged or edited plan
/// cannot act on what it does not name: each step's type is one stackr knows; an update, replacement or delete
/// acts on the resource the state records under that name, with the id the plan names (and, but for a
/// replacement, the same type); a create names what the state does not hold (or holds as `gone`: found deleted
/// outside stackr, forgotten before the steps run). What loses data is decided from the schemas, not from the
/// file's own `dataLoss` flags.
pub fn verify_saved(
    steps: &[PlannedStep],
    gone: &[GoneResource],
    state: &StateFile,
    registry: &Registry,
    options: ApplyOptions,
) -> Result<(), ApplyError> {
    let mut data_loss = Vec::new();
    for step in steps {
        let not_from = |why: String| ApplyError::NotFromThisStack { name: step.name.clone(), why };
        if registry.get(&step.type_name).is_none() {
            return Err(not_from(format!("has type {}, which stackr does not know", step.type_name)));
        }
        let forgotten = |r: &&stackr_state::ResourceState| gone.iter().any(|g| g.name == step.name && g.id == r.id);
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
            _ => {}
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
    if !data_loss.is_empty() && !options.allow_data_loss {
        return Err(ApplyError::DataLoss { resources: data_loss });
    }
    Ok(())
}
