//! Reconciling what an interrupted run left in flight: the pending operations of the state (intents without an
//! outcome, replayed from the journal).
//!
//! - a pending create or replacement: read it by the id its create recorded (a `made` record, written before
//!   the calls that complete it) or else ask the provider to `find` it by its create token (or unique name), and
//!   adopt it, so it is never created twice; not found means the call never took effect;
//! - a pending update: forget it; the next plan compares the recorded inputs with the stack again;
//! - a pending delete: read the resource; if it is gone, drop it from the state;
//! - the retired half of a replacement: delete it now (the plan that replaced it decided so), if it is still the
//!   resource that was replaced (it carries the create token recorded for it).
//!
//! Only provider reads happen, except for retired halves, which this deletes.

use std::time::Duration;

use stackr_state::{Change, PendingOperation, ResourceState, StateFile};

use crate::provider::{CallContext, Registry};
use crate::value::Value;

/// What reconciling did, one line per pending operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconciled {
    pub notes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot reconcile the interrupted {operation} of `{resource}`: {message}")]
pub struct ReconcileError {
    pub resource: String,
    pub operation: Change,
    pub message: String,
}

/// How long to wait, by default, before concluding that an interrupted create never took effect: a request sent
/// just before the process died can still be in flight, and land after the next run has started.
pub const SETTLE: Duration = Duration::from_secs(2);

/// Resolves every pending operation of `state`. With `delete_retired` false (planning), retired halves are
/// kept pending instead of deleted.
pub async fn reconcile(
    state: &mut StateFile,
    registry: &Registry,
    delete_retired: bool,
    settle: Duration,
) -> Result<Reconciled, ReconcileError> {
    let mut reconciled = reconcile_pass(state, registry, delete_retired, settle).await?;
    if delete_retired && state.pending.iter().any(|p| p.operation == Change::DeleteRetired) {
        // An interrupted replacement adopted above leaves its old half pending: delete it now, in this run,
        // rather than leave a pending delete of a name that something else may take later.
        let again = reconcile_pass(state, registry, delete_retired, settle).await?;
        reconciled.notes.extend(again.notes);
    }
    Ok(reconciled)
}

async fn reconcile_pass(
    state: &mut StateFile,
    registry: &Registry,
    delete_retired: bool,
    settle: Duration,
) -> Result<Reconciled, ReconcileError> {
    let pending = std::mem::take(&mut state.pending);
    let mut notes = Vec::new();
    let mut settled = false;
    for op in pending {
        let fail = |message: String| ReconcileError { resource: op.resource.clone(), operation: op.operation, message };
        let provider = registry.provider(&op.type_name).map_err(|e| fail(e.to_string()))?;
        let cx = CallContext {
            stack: state.stack.clone(),
            resource: op.resource.clone(),
            create_token: op.create_token.clone(),
            made: None,
        };
        let inputs = Value::from_json(&op.inputs);
        match op.operation {
            Change::Create | Change::Replace => {
                let token = op.create_token.clone().unwrap_or_default();
                let found = match &op.id {
                    // The create recorded the id of what it made before completing it: that resource is ours.
                    Some(id) => provider.read(&cx, id, &inputs).await.map_err(|e| fail(e.to_string()))?,
                    None => {
                        let mut found = provider.find(&cx, &inputs, &token).await.map_err(|e| fail(e.to_string()))?;
                        if found.is_none() && !settled {
                            // Once per reconcile: give a request still in flight time to land, then look again.
                            tokio::time::sleep(settle).await;
                            settled = true;
                            found = provider.find(&cx, &inputs, &token).await.map_err(|e| fail(e.to_string()))?;
                        }
                        // An untagged type's resource found by name is adopted only if it is exactly what was
                        // asked for.
                        found.filter(|f| super::create::made_by(provider.schema(), f, Some(token.as_str()), &inputs))
                    }
                };
                match found {
                    Some(found) => {
                        // The intent records the new resource's edges and options; a replacement's old record
                        // has them too when an older journal did not.
                        let prior = state.resources.get(&op.resource);
                        let dependencies = if op.dependencies.is_empty() {
                            prior.map(|r| r.dependencies.clone()).unwrap_or_default()
                        } else {
                            op.dependencies.clone()
                        };
                        let protect = op.protect || prior.is_some_and(|r| r.protect);
                        let retain_on_delete = op.retain_on_delete || prior.is_some_and(|r| r.retain_on_delete);
                        let previous = state.resources.insert(
                            op.resource.clone(),
                            ResourceState {
                                type_name: op.type_name.clone(),
                                id: found.id.clone(),
                                inputs: op.inputs.clone(),
                                outputs: found.outputs.to_json(),
                                dependencies: dependencies
                                    .into_iter()
                                    .filter(|d| d != &op.resource && state.resources.contains_key(d))
                                    .collect(),
                                protect,
                                retain_on_delete,
                                create_token: found.create_token.clone(),
                            },
                        );
                        notes.push(format!("{}: adopted {} created by an interrupted run", op.resource, found.id));
                        if let (Some(old), Change::Replace) = (previous, op.operation) {
                            state.pending.push(retired(&op, &old));
                        }
                    }
                    None => notes.push(format!("{}: the interrupted {} never took effect", op.resource, op.operation)),
                }
            }
            Change::Update => {
                notes.push(format!("{}: an update was interrupted; the plan compares it again", op.resource))
            }
            Change::Delete => {
                let id = op.id.clone().unwrap_or_default();
                if provider.read(&cx, &id, &inputs).await.map_err(|e| fail(e.to_string()))?.is_none() {
                    state.resources.remove(&op.resource);
                    for other in state.resources.values_mut() {
                        other.dependencies.retain(|d| d != &op.resource);
                    }
                    notes.push(format!("{}: the interrupted delete had finished", op.resource));
                } else {
                    notes
                        .push(format!("{}: the interrupted delete had not finished; it is planned again", op.resource));
                }
            }
            Change::DeleteRetired => {
                let id = op.id.clone().unwrap_or_default();
                let observed = provider.read(&cx, &id, &inputs).await.map_err(|e| fail(e.to_string()))?;
                // The old half may have been deleted since, and its name taken by a newer resource: only the
                // resource that still carries the recorded create token is the one the replacement retired.
                // A tagged resource that carries another create token than the one recorded is not the replaced
                // one (its name was taken by a newer resource). An untagged one cannot say; the name was ours,
                // and a drifted old half must not be left behind unrecorded, so it is deleted by name.
                let someone_elses = provider.schema().has_tags()
                    && observed.as_ref().is_some_and(|found| {
                        !super::create::made_by(provider.schema(), found, op.create_token.as_deref(), &inputs)
                    });
                if observed.is_none() {
                    notes.push(format!("{}: the replaced resource {id} is gone", op.resource));
                } else if someone_elses {
                    notes.push(format!(
                        "{}: {id} is no longer the replaced resource (it carries another create token); left alone",
                        op.resource
                    ));
                } else if delete_retired {
                    provider.delete(&cx, &id, &inputs).await.map_err(|e| fail(e.to_string()))?;
                    notes.push(format!("{}: deleted the replaced resource {id}", op.resource));
                } else {
                    notes.push(format!("{}: the replaced resource {id} is still to be deleted", op.resource));
                    state.pending.push(op.clone());
                }
            }
            // Recorded without a call, so never in flight: a state that says otherwise was edited.
            Change::Refresh => return Err(fail("a refresh is never in flight; the state was edited".into())),
        }
    }
    Ok(Reconciled { notes })
}

fn retired(op: &PendingOperation, old: &ResourceState) -> PendingOperation {
    PendingOperation::delete_retired(&op.resource, old)
}
