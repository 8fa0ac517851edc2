//! Apply: executes a plan's steps through the providers, recording each in the journal.
//!
//! The plan decided everything (actions, replacement order, what depends on what); apply only executes:
//! 1. creates, updates and the create half of replacements, each as soon as its dependencies are done, at most
//!    `parallelism` at once, with what the plan left pending computed from the real outputs of what ran before
//!    (the stack is not read again: the plan is the program);
//! 2. then deletes and the old halves of replacements, in reverse dependency order.
//!
//! A failed step stops what depends on it while independent steps finish; every error is reported at the end.
//! Each provider call is preceded by an intent record and followed by its outcome in the journal, so a run that
//! dies can be reconciled by the next (see [`reconcile`]). Cancelling (the first Ctrl-C) stops scheduling, waits
//! for the steps in flight and returns what was done.

pub mod create;
mod failure;
mod operation;
mod preflight;
pub mod reconcile;
pub mod refresh;
mod schedule;
mod shape;
mod step;

pub use failure::StepCause;
pub use operation::Operation;
pub use preflight::{guard, verify_saved};
use schedule::{delete_jobs, forward_jobs, schedule, Phase};
pub use step::{new_token, provider_view};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use stackr_state::journal::{JournalRecord, JournalWriter};
use stackr_state::{ResourceState, StateFile};
use tokio::sync::mpsc::UnboundedSender;

use crate::plan::file::{GoneResource, PlannedStep};
use crate::provider::{LockCheck, Registry};
use crate::value::{Known, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyOptions {
    pub parallelism: usize,
    pub allow_data_loss: bool,
}

impl Default for ApplyOptions {
    fn default() -> ApplyOptions {
        ApplyOptions { parallelism: 10, allow_data_loss: false }
    }
}

/// What the progress display hears.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyEvent {
    Started { name: String, operation: Operation },
    Finished { name: String, operation: Operation, elapsed: Duration },
    Failed { name: String, operation: Operation, error: String },
    Skipped { name: String, operation: Operation, reason: String },
}

/// A step that failed: the resource, what it was doing, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct StepError {
    pub name: String,
    pub operation: Operation,
    pub cause: StepCause,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub created: usize,
    pub updated: usize,
    pub replaced: usize,
    pub deleted: usize,
}

#[derive(Debug)]
pub struct ApplyReport {
    /// The state after the run (serial not yet incremented; the caller persists it).
    pub state: StateFile,
    pub counts: Counts,
    pub errors: Vec<StepError>,
    pub skipped: Vec<(String, String)>,
    pub interrupted: bool,
    /// A step ended abnormally (a panic): the run must not be compacted.
    pub aborted: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the plan destroys data ({}); apply refuses without --allow-data-loss", .resources.join(", "))]
    DataLoss { resources: Vec<String> },
    #[error("the plan would {action} protected resource `{name}`")]
    Protected { name: String, action: &'static str },
    #[error("cannot record progress in the journal: {0}")]
    Journal(#[from] stackr_state::StateError),
    /// A journal write failed mid-run: scheduling stopped, and the journal must stay as it is (not compacted,
    /// not removed) for the next run to replay and reconcile, so nothing a provider call created is lost.
    #[error("the run cannot be recorded completely ({0}); it stopped after the steps in flight")]
    JournalBroken(String),
    /// A saved plan whose steps do not follow from the state it was made against: written by something other
    /// than `stackr plan`, or edited since.
    #[error("the saved plan does not follow from the stack's state: `{name}` {why}")]
    NotFromThisStack { name: String, why: String },
}

/// Stops scheduling new steps; steps in flight finish.
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

pub struct ApplyRun<'a> {
    pub steps: &'a [PlannedStep],
    /// The stack's outputs as the plan computed them, pending parts computed once the steps have run.
    pub outputs: &'a BTreeMap<String, Value>,
    pub state: StateFile,
    pub registry: &'a Registry,
    /// The region `${stackr.region}` stands for, where the plan left it pending.
    pub region: Option<String>,
    pub options: ApplyOptions,
    pub journal: JournalWriter,
    pub events: Option<UnboundedSender<ApplyEvent>>,
    pub cancel: CancelFlag,
    /// Name of the operation in the journal (`apply`, `destroy`).
    pub operation: &'a str,
    /// Resources the plan's refresh found deleted outside stackr; their removal is recorded first.
    pub gone: &'a [GoneResource],
    /// Asked before every call that changes AWS, when the lock can be lost while the run goes on (S3).
    pub lock: Option<Arc<dyn LockCheck>>,
}

/// What apply computes pending values from: the state as it is now (a resource's outputs, then its inputs, and
/// `id`), and the account and region the run acts in.
pub struct StateValues<'a> {
    pub state: &'a StateFile,
    pub region: Option<&'a str>,
}

impl Known for StateValues<'_> {
    fn output(&self, resource: &str, attribute: &str) -> Option<Value> {
        let r = self.state.resources.get(resource)?;
        if attribute == "id" {
            return Some(Value::String(r.id.clone()));
        }
        let outputs = Value::from_json(&r.outputs);
        if let Some(v) = outputs.as_map().and_then(|m| m.get(attribute)) {
            return Some(v.clone());
        }
        Some(Value::from_json(&r.inputs).as_map().and_then(|m| m.get(attribute)).cloned().unwrap_or(Value::Null))
    }

    fn builtin(&self, name: &str) -> Option<Value> {
        match name {
            "accountId" => self.state.place.as_ref().map(|p| Value::String(p.account.clone())),
            "region" => self.region.map(Value::string),
            _ => None,
        }
    }
}

pub async fn apply(run: ApplyRun<'_>) -> Result<ApplyReport, ApplyError> {
    let ApplyRun {
        steps,
        outputs: planned_outputs,
        mut state,
        registry,
        region,
        options,
        journal,
        events,
        cancel,
        operation,
        gone,
        lock,
    } = run;
    guard(steps, &state, options)?;
    append(
        &journal,
        JournalRecord::Begin {
            lineage: state.lineage.0.clone(),
            serial: state.serial,
            operation: operation.to_string(),
            secrets: state.secrets.clone(),
            place: state.place.clone(),
        },
    )
    .await?;
    forget_gone(&journal, &mut state, gone).await?;
    let emit = |event: ApplyEvent| {
        if let Some(events) = &events {
            let _ = events.send(event);
        }
    };
    let mut report = ApplyReport {
        state: StateFile::new(&state.stack),
        counts: Counts::default(),
        errors: Vec::new(),
        skipped: Vec::new(),
        interrupted: false,
        aborted: None,
    };

    // Phase 1: creates, updates, replacements.
    let mut retired: Vec<(String, ResourceState)> = Vec::new();
    let context = StepContext { registry, region: region.as_deref(), journal: &journal, lock };
    let mut phase =
        Phase { state: &mut state, context: &context, options, cancel: &cancel, emit: &emit, report: &mut report };
    let first = schedule(forward_jobs(steps), &mut phase, &mut retired).await?;

    // Phase 2: deletes and retired halves, dependents first. Skipped when anything failed or was cancelled.
    let phase_two = delete_jobs(steps, phase.state, retired);
    if first && !cancel.is_cancelled() {
        schedule(phase_two, &mut phase, &mut Vec::new()).await?;
    } else {
        for job in phase_two {
            let reason = if cancel.is_cancelled() { "interrupted" } else { "not attempted: earlier steps failed" };
            if job.operation == Operation::DeleteRetired {
                // Keep the old half on record so the next run deletes it.
                if let Some(old) = &job.prior {
                    state.pending.push(stackr_state::PendingOperation::delete_retired(&job.name, old));
                }
            }
            emit(ApplyEvent::Skipped { name: job.name.clone(), operation: job.operation, reason: reason.into() });
            report.skipped.push((job.name, reason.into()));
        }
    }

    if report.errors.is_empty() && !cancel.is_cancelled() {
        let values = StateValues { state: &state, region: region.as_deref() };
        let mut outputs = BTreeMap::new();
        for (name, value) in planned_outputs {
            // An output that depends on a resource this run did not reach (`--target`) stays unset.
            if let Ok(value) = value.resolve(&values) {
                outputs.insert(name.clone(), value.to_json());
            }
        }
        append(&journal, JournalRecord::Outputs { outputs: outputs.clone() }).await?;
        state.outputs = outputs;
    }
    if let Some(why) = &report.aborted {
        return Err(ApplyError::JournalBroken(format!("a step ended abnormally: {why}")));
    }
    if journal.is_poisoned() {
        let first = report
            .errors
            .iter()
            .find(|e| e.cause.is_journal())
            .map(|e| format!("{}: {}", e.name, e.cause))
            .unwrap_or_else(|| "a journal write failed".into());
        return Err(ApplyError::JournalBroken(first));
    }
    report.interrupted = cancel.is_cancelled();
    report.state = state;
    Ok(report)
}

/// Records the removal of resources that refresh found deleted outside stackr, while the state still records
/// them with the id the plan saw (the plan was made against this very state: lineage and serial are checked).
async fn forget_gone(journal: &JournalWriter, state: &mut StateFile, gone: &[GoneResource]) -> Result<(), ApplyError> {
    for resource in gone {
        if state.resources.get(&resource.name).is_none_or(|r| r.id != resource.id) {
            continue;
        }
        append(
            journal,
            JournalRecord::Done {
                resource: resource.name.clone(),
                operation: stackr_state::Change::Refresh,
                state: None,
                retired: None,
            },
        )
        .await?;
        state.resources.remove(&resource.name);
        for other in state.resources.values_mut() {
            other.dependencies.retain(|d| d != &resource.name);
        }
    }
    Ok(())
}

async fn append(journal: &JournalWriter, record: JournalRecord) -> Result<(), stackr_state::StateError> {
    let journal = journal.clone();
    match tokio::task::spawn_blocking(move || journal.append(record)).await {
        Ok(result) => result,
        Err(e) => Err(stackr_state::StateError::Io {
            action: "append to",
            path: "journal".into(),
            source: std::io::Error::other(e.to_string()),
        }),
    }
}

struct StepContext<'a> {
    registry: &'a Registry,
    region: Option<&'a str>,
    journal: &'a JournalWriter,
    lock: Option<Arc<dyn LockCheck>>,
}
