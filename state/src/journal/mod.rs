//! The journal: an append-only log of one run's changes, so that every step is durable without rewriting the
//! whole state file per step.
//!
//! The first record (`Begin`) names the state the run started from and how its secrets are encrypted, so a run
//! that dies before its first state file can still be continued. Before each provider call an `Intent` record is
//! written; after it, `Done` (with the resource's new state, or none when it is gone) or `Failed`. Records are
//! JSON lines ([`read`]), written durably by one writer thread with group commit ([`writer`]). When the run ends
//! the journal is compacted into the state file and removed. When a run dies, the next one replays the journal
//! onto the state it started from: intents without an outcome become pending operations to reconcile.

mod read;
mod resume;
mod writer;

pub use read::{complete_len, parse, parse_sealed, read, read_sealed, unseal_records};
pub use resume::{resume, Resume, ResumeError};
pub use writer::{JournalSink, JournalWriter};

use serde::{Deserialize, Serialize};

use crate::model::Change;
use crate::model::{PendingOperation, ResourceState, StateFile};
use crate::secrets::SecretsConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "camelCase")]
pub enum JournalRecord {
    /// First record: the state the run started from, and the secrets configuration its records are sealed with.
    #[serde(rename_all = "camelCase")]
    Begin {
        lineage: String,
        serial: u64,
        operation: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secrets: Option<SecretsConfig>,
        /// Where the run acts (account and region): a first run that dies before its first state file is continued
        /// only there.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        place: Option<crate::model::Place>,
    },
    /// A provider call is about to start.
    #[serde(rename_all = "camelCase")]
    Intent {
        resource: String,
        #[serde(rename = "type")]
        type_name: String,
        operation: Change,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        create_token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        inputs: serde_json::Value,
        /// Recorded with the resource if an interrupted create is adopted.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        dependencies: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        protect: bool,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        retain_on_delete: bool,
    },
    /// The call finished: the resource's state now (`None`: it is gone). For a create-before-delete
    /// replacement, `retired` is the old resource, still to be deleted. Operation `refresh` records a resource
    /// that the plan's refresh found deleted outside stackr.
    #[serde(rename_all = "camelCase")]
    Done {
        resource: String,
        operation: Change,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<Box<ResourceState>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retired: Option<Box<ResourceState>>,
    },
    /// A create's resource exists (AWS assigned it `id`); the calls that complete it follow. A run killed before
    /// the create's outcome is recorded leaves the create pending with this id, which the next run reads
    /// instead of searching for the resource.
    #[serde(rename_all = "camelCase")]
    Made { resource: String, operation: Change, id: String },
    /// The call failed and changed nothing stackr knows of.
    #[serde(rename_all = "camelCase")]
    Failed { resource: String, operation: Change, error: String },
    /// The stack's outputs after the run.
    #[serde(rename_all = "camelCase")]
    Outputs { outputs: std::collections::BTreeMap<String, serde_json::Value> },
}

/// A journal that does not hold together: an outcome with no intent before it. Its `done` record would set or
/// remove a resource that no call of the run was about to change, so the journal is refused rather than trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {number} gives the outcome of the {operation} of `{resource}`, but no intent for it comes before")]
pub struct ReplayError {
    pub number: usize,
    pub resource: String,
    pub operation: Change,
}

/// Applies records to a state in order. Intents without an outcome are left as pending operations.
pub fn replay(state: &mut StateFile, records: &[JournalRecord]) -> Result<(), ReplayError> {
    for (index, record) in records.iter().enumerate() {
        match record {
            JournalRecord::Begin { place, .. } => {
                if state.place.is_none() {
                    state.place.clone_from(place);
                }
            }
            JournalRecord::Intent {
                resource,
                type_name,
                operation,
                create_token,
                id,
                inputs,
                dependencies,
                protect,
                retain_on_delete,
            } => {
                let already = state.pending.iter().any(|p| &p.resource == resource && p.operation == *operation);
                if *operation == Change::DeleteRetired && already {
                    // Recorded when the replacement's new half was created.
                    continue;
                }
                state.pending.push(PendingOperation {
                    resource: resource.clone(),
                    type_name: type_name.clone(),
                    operation: *operation,
                    create_token: create_token.clone(),
                    id: id.clone(),
                    inputs: inputs.clone(),
                    dependencies: dependencies.clone(),
                    protect: *protect,
                    retain_on_delete: *retain_on_delete,
                });
            }
            JournalRecord::Done { resource, operation, state: new_state, retired } => {
                // `refresh` records a resource the plan found deleted outside stackr (no call, so no intent); it
                // removes, never sets.
                let forgotten = *operation == Change::Refresh && new_state.is_none() && retired.is_none();
                if !clear_pending(state, resource, operation) && !forgotten {
                    return Err(ReplayError { number: index + 1, resource: resource.clone(), operation: *operation });
                }
                if *operation == Change::DeleteRetired {
                    // The retired half of a replacement is gone; the resource now under this name stays.
                    continue;
                }
                match new_state {
                    Some(r) => {
                        state.resources.insert(resource.clone(), r.as_ref().clone());
                    }
                    None => {
                        state.resources.remove(resource);
                        for other in state.resources.values_mut() {
                            other.dependencies.retain(|d| d != resource);
                        }
                    }
                }
                if let Some(old) = retired {
                    // The old half of a create-before-delete replacement: it must still be deleted.
                    state.pending.push(PendingOperation::delete_retired(resource, old));
                }
            }
            JournalRecord::Made { resource, operation, id } => {
                match state.pending.iter_mut().rev().find(|p| &p.resource == resource && p.operation == *operation) {
                    Some(pending) => pending.id = Some(id.clone()),
                    None => {
                        return Err(ReplayError {
                            number: index + 1,
                            resource: resource.clone(),
                            operation: *operation,
                        })
                    }
                }
            }
            // A failed delete of a replacement's old half leaves it in AWS: it stays pending, to be deleted.
            JournalRecord::Failed { operation, .. } if *operation == Change::DeleteRetired => {}
            JournalRecord::Failed { resource, operation, .. } => {
                if !clear_pending(state, resource, operation) {
                    return Err(ReplayError { number: index + 1, resource: resource.clone(), operation: *operation });
                }
            }
            JournalRecord::Outputs { outputs } => state.outputs = outputs.clone(),
        }
    }
    Ok(())
}

/// Removes the newest pending operation of `resource` named `operation`; false when there is none.
fn clear_pending(state: &mut StateFile, resource: &str, operation: &Change) -> bool {
    match state.pending.iter().rposition(|p| p.resource == resource && p.operation == *operation) {
        Some(i) => {
            state.pending.remove(i);
            true
        }
        None => false,
    }
}

/// Whether a record holds an encrypted secret (replaying it needs the secrets codec).
pub fn holds_sealed(record: &JournalRecord) -> bool {
    serde_json::to_value(record).is_ok_and(|v| crate::secrets::find_sealed(&v))
}

impl JournalRecord {
    /// Every JSON value of the record that may hold secrets, with the location its secrets are bound to.
    pub(crate) fn values_mut(&mut self) -> Vec<(String, &mut serde_json::Value)> {
        match self {
            JournalRecord::Intent { resource, operation, inputs, .. } => {
                vec![(format!("journal/intent/{resource}/{operation}/inputs"), inputs)]
            }
            JournalRecord::Done { resource, operation, state, retired } => {
                let mut values = Vec::new();
                for (part, r) in [("state", state), ("retired", retired)] {
                    if let Some(r) = r {
                        let r = r.as_mut();
                        values.push((format!("journal/done/{resource}/{operation}/{part}/inputs"), &mut r.inputs));
                        values.push((format!("journal/done/{resource}/{operation}/{part}/outputs"), &mut r.outputs));
                    }
                }
                values
            }
            JournalRecord::Outputs { outputs } => {
                outputs.iter_mut().map(|(name, v)| (format!("journal/outputs/{name}"), v)).collect()
            }
            JournalRecord::Begin { .. } | JournalRecord::Failed { .. } | JournalRecord::Made { .. } => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests;
