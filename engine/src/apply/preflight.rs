//! What apply checks before its first call: the data-loss and protection guard, and that a saved plan's steps
//! follow from the stack and the state it was made against.

use stackr_state::StateFile;

use super::{ApplyError, ApplyOptions};
use crate::plan::file::PlannedStep;
use crate::plan::Action;
use crate::provider::Registry;
use crate::stack::Stack;

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

/// Checks that a saved plan's steps are what `stackr plan` would have written for this stack and state, so that
/// an edited plan file cannot apply what no plan showed: each step's type is the stack's (or, for a delete, the
/// state's), only a destroy plan deletes what the stack declares, and what loses data is decided from the
/// schemas, not from the file's own `dataLoss` flags.
pub fn verify_saved(
    steps: &[PlannedStep],
    destroy: bool,
    stack: &Stack,
    state: &StateFile,
    registry: &Registry,
    options: ApplyOptions,
) -> Result<(), ApplyError> {
    let mut data_loss = Vec::new();
    for step in steps {
        let not_from = |why: String| ApplyError::NotFromThisStack { name: step.name.clone(), why };
        let declared = stack.resources.get(&step.name).map(|r| r.type_name.as_str());
        let recorded = state.resources.get(&step.name);
        let expected = match step.action {
            Action::Delete => recorded.map(|r| r.type_name.as_str()),
            _ => declared,
        };
        match expected {
            Some(type_name) if type_name == step.type_name => {}
            Some(type_name) => return Err(not_from(format!("is a {type_name}, but the plan says {}", step.type_name))),
            None if step.action == Action::Delete => return Err(not_from("is not in the state".into())),
            None => return Err(not_from("is not in the stack".into())),
        }
        if step.action == Action::Delete && declared.is_some() && !destroy {
            return Err(not_from("is declared by the stack, and only a destroy plan deletes it".into()));
        }
        let holds_data = registry.schema(&step.type_name).is_some_and(|s| s.holds_data);
        let loses = match step.action {
            Action::Replace => holds_data,
            Action::Delete => holds_data && !recorded.is_some_and(|r| r.retain_on_delete),
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
