//! Apply: executes a plan's steps through the providers, recording each in the journal.
//!
//! The plan decided everything (actions, replacement order, what depends on what); apply only executes:
//! 1. creates, updates and the create half of replacements, each as soon as its dependencies are done, at most
//!    `parallelism` at once, with inputs evaluated against the real outputs of what ran before (and checked
//!    against what the plan showed);
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
mod step;

pub use failure::StepCause;
pub use operation::Operation;
pub use preflight::{guard, verify_saved};
pub use step::{new_token, provider_view};
use step::{prepare, StepOutcome};

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use stackr_state::journal::{JournalRecord, JournalWriter};
use stackr_state::{ResourceState, StateFile};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

use crate::eval::{Builtins, Evaluator, ResourceValues};
use crate::plan::file::{GoneResource, PlannedStep};
use crate::plan::Action;
use crate::provider::{LockCheck, Registry};
use crate::stack::Stack;
use crate::value::Value;

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
    #[error("the plan names `{0}`, which is not in the stack")]
    UnknownResource(String),
    /// A saved plan whose steps do not follow from the stack and the state it was made against: written by
    /// something other than `stackr plan`, or edited since.
    #[error("the saved plan does not follow from the stack and its state: `{name}` {why}")]
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
    pub stack: &'a Stack,
    pub steps: &'a [PlannedStep],
    pub state: StateFile,
    pub registry: &'a Registry,
    pub builtins: &'a Builtins,
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

/// Reads attributes from the state as it is now: what apply evaluates later steps against.
pub struct StateValues<'a>(pub &'a StateFile);

impl ResourceValues for StateValues<'_> {
    fn attribute(&self, resource: &str, attribute: &str) -> Value {
        let Some(r) = self.0.resources.get(resource) else { return Value::Unknown };
        if attribute == "id" {
            return Value::String(r.id.clone());
        }
        let outputs = Value::from_json(&r.outputs);
        if let Some(v) = outputs.as_map().and_then(|m| m.get(attribute)) {
            return v.clone();
        }
        Value::from_json(&r.inputs).as_map().and_then(|m| m.get(attribute)).cloned().unwrap_or(Value::Null)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Running,
    Done,
    Failed,
    Skipped,
}

/// A unit the scheduler runs.
struct Job {
    name: String,
    operation: Operation,
    /// Names of jobs of the same phase that must be done first.
    after: Vec<String>,
    step: Option<PlannedStep>,
    /// For deletes: the resource as recorded.
    prior: Option<ResourceState>,
}

pub async fn apply(run: ApplyRun<'_>) -> Result<ApplyReport, ApplyError> {
    let ApplyRun {
        stack,
        steps,
        mut state,
        registry,
        builtins,
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
        state: StateFile::new(&stack.name),
        counts: Counts::default(),
        errors: Vec::new(),
        skipped: Vec::new(),
        interrupted: false,
        aborted: None,
    };

    // Phase 1: creates, updates, replacements.
    let forward: BTreeSet<&str> =
        steps.iter().filter(|s| s.action != Action::Delete).map(|s| s.name.as_str()).collect();
    let phase_one: Vec<Job> = steps
        .iter()
        .filter(|s| s.action != Action::Delete)
        .map(|s| Job {
            name: s.name.clone(),
            operation: match (s.action, s.replace_order) {
                (Action::Create, _) => Operation::Create,
                (Action::Update, _) => Operation::Update,
                // A replacement in either order (a delete-first one deletes inside its step, as its plan says).
                _ => Operation::Replace,
            },
            after: s.dependencies.iter().filter(|d| forward.contains(d.as_str())).cloned().collect(),
            step: Some(s.clone()),
            prior: None,
        })
        .collect();
    let mut retired: Vec<(String, ResourceState)> = Vec::new();
    let context = StepContext { stack, registry, builtins, journal: &journal, lock };
    let first = schedule(phase_one, &mut state, &context, options, &cancel, &emit, &mut report, &mut retired).await?;

    // Phase 2: deletes and retired halves, dependents first. Skipped when anything failed or was cancelled.
    let mut phase_two: Vec<Job> = Vec::new();
    for s in steps.iter().filter(|s| s.action == Action::Delete) {
        let prior = state.resources.get(&s.name).cloned();
        phase_two.push(Job {
            name: s.name.clone(),
            operation: if s.retain { Operation::Forget } else { Operation::Delete },
            after: Vec::new(),
            step: Some(s.clone()),
            prior,
        });
    }
    for (name, old) in retired {
        phase_two.push(Job {
            name,
            operation: Operation::DeleteRetired,
            after: Vec::new(),
            step: None,
            prior: Some(old),
        });
    }
    // A delete waits for the deletes of everything that depends on it: walk each deleted resource's own
    // dependencies once (linear in the number of edges).
    let deleting: BTreeSet<String> =
        phase_two.iter().filter(|j| j.operation != Operation::DeleteRetired).map(|j| j.name.clone()).collect();
    let mut dependents: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in &deleting {
        for dependency in state.resources.get(name).map(|r| r.dependencies.as_slice()).unwrap_or_default() {
            if deleting.contains(dependency) && dependency != name {
                dependents.entry(dependency.clone()).or_default().push(name.clone());
            }
        }
    }
    for job in &mut phase_two {
        if job.operation != Operation::DeleteRetired {
            job.after = dependents.remove(&job.name).unwrap_or_default();
        }
    }
    if first && !cancel.is_cancelled() {
        schedule(phase_two, &mut state, &context, options, &cancel, &emit, &mut report, &mut Vec::new()).await?;
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
        let values = StateValues(&state);
        let evaluator = Evaluator::new(stack, builtins, &values);
        let mut outputs = BTreeMap::new();
        let destroying = steps.iter().all(|s| s.action == Action::Delete) && state.resources.is_empty();
        if !destroying {
            for (name, expr) in &stack.outputs {
                if let Ok(value) = evaluator.eval(expr) {
                    outputs.insert(name.clone(), value.to_json());
                }
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
                operation: "refresh".into(),
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
    stack: &'a Stack,
    registry: &'a Registry,
    builtins: &'a Builtins,
    journal: &'a JournalWriter,
    lock: Option<Arc<dyn LockCheck>>,
}

/// Runs jobs in dependency order, `parallelism` at a time. Returns true when every job succeeded.
///
/// Kahn's algorithm over job indexes: each job counts the dependencies it still waits for; a finished job
/// releases its dependents, a failed or skipped one skips them (transitively). Ready jobs start in plan order.
#[allow(clippy::too_many_arguments)]
async fn schedule(
    jobs: Vec<Job>,
    state: &mut StateFile,
    context: &StepContext<'_>,
    options: ApplyOptions,
    cancel: &CancelFlag,
    emit: &impl Fn(ApplyEvent),
    report: &mut ApplyReport,
    retired: &mut Vec<(String, ResourceState)>,
) -> Result<bool, ApplyError> {
    let by_name: BTreeMap<&str, usize> = jobs.iter().enumerate().map(|(i, j)| (j.name.as_str(), i)).collect();
    let mut waiting_for: Vec<usize> = vec![0; jobs.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); jobs.len()];
    for (i, job) in jobs.iter().enumerate() {
        for dependency in job.after.iter().filter_map(|a| by_name.get(a.as_str())) {
            waiting_for[i] += 1;
            dependents[*dependency].push(i);
        }
    }
    let mut status = vec![Status::Waiting; jobs.len()];
    let mut ready: BTreeSet<usize> = (0..jobs.len()).filter(|i| waiting_for[*i] == 0).collect();
    let mut running: JoinSet<(usize, StepOutcome)> = JoinSet::new();
    let mut committing: JoinSet<(usize, StepOutcome)> = JoinSet::new();
    let parallelism = options.parallelism.max(1);
    let mut all_ok = true;

    // Marks a step failed (reported, and everything downstream of it skipped).
    let fail = |failed: usize, cause: StepCause, status: &mut Vec<Status>, report: &mut ApplyReport| {
        let job = &jobs[failed];
        emit(ApplyEvent::Failed { name: job.name.clone(), operation: job.operation, error: cause.to_string() });
        report.errors.push(StepError { name: job.name.clone(), operation: job.operation, cause });
        status[failed] = Status::Failed;
        let mut pending = vec![failed];
        while let Some(blocker) = pending.pop() {
            for &dependent in &dependents[blocker] {
                if status[dependent] == Status::Waiting {
                    status[dependent] = Status::Skipped;
                    let job = &jobs[dependent];
                    let reason = format!("`{}` did not complete", jobs[blocker].name);
                    emit(ApplyEvent::Skipped {
                        name: job.name.clone(),
                        operation: job.operation,
                        reason: reason.clone(),
                    });
                    report.skipped.push((job.name.clone(), reason));
                    pending.push(dependent);
                }
            }
        }
    };

    loop {
        // A failed journal write stops scheduling: what runs after it could not be recorded.
        while running.len() < parallelism && !cancel.is_cancelled() && !context.journal.is_poisoned() {
            let Some(next) = ready.pop_first() else { break };
            if status[next] != Status::Waiting {
                continue;
            }
            let job = &jobs[next];
            match prepare(job, state, context) {
                Ok(future) => {
                    emit(ApplyEvent::Started { name: job.name.clone(), operation: job.operation });
                    status[next] = Status::Running;
                    running.spawn(async move { (next, future.await) });
                }
                Err(message) => {
                    fail(next, message, &mut status, report);
                    all_ok = false;
                }
            }
        }
        if running.is_empty() && committing.is_empty() {
            break;
        }
        // A finished provider call frees its slot at once; its outcome record is committed in the background,
        // and only a durable outcome releases the step's dependents.
        let (index, outcome) = tokio::select! {
            Some(joined) = running.join_next(), if !running.is_empty() => match joined {
                Ok((index, mut outcome)) => match (outcome.result.is_ok(), outcome.commit.take()) {
                    (true, Some(record)) => {
                        let journal = context.journal.clone();
                        committing.spawn(async move {
                            // The call took effect: if its outcome cannot be recorded, say what exists in AWS.
                            let made = match &record {
                                JournalRecord::Done { state: Some(resource), .. } => Some(resource.id.clone()),
                                _ => None,
                            };
                            if let Err(e) = append(&journal, record).await {
                                outcome.result = Err(StepCause::Journal(match made {
                                    Some(id) => format!(
                                        "{e}; the call took effect ({id} exists in AWS): if the next run does not adopt it, `stackr import` it or delete it"
                                    ),
                                    None => e.to_string(),
                                }));
                            }
                            (index, outcome)
                        });
                        continue;
                    }
                    _ => (index, outcome),
                },
                Err(e) => {
                    // A step panicked or was aborted: what its call did is unknown, so the run must end without
                    // compacting the journal (its intent stays pending there for the next run to reconcile).
                    report.errors.push(StepError {
                        name: "?".into(),
                        operation: Operation::Create,
                        cause: StepCause::Aborted(e.to_string()),
                    });
                    report.aborted.get_or_insert_with(|| e.to_string());
                    all_ok = false;
                    continue;
                }
            },
            Some(committed) = committing.join_next(), if !committing.is_empty() => match committed {
                Ok(done) => done,
                Err(e) => {
                    report.errors.push(StepError {
                        name: "?".into(),
                        operation: Operation::Create,
                        cause: StepCause::Aborted(e.to_string()),
                    });
                    report.aborted.get_or_insert_with(|| e.to_string());
                    all_ok = false;
                    continue;
                }
            },
        };
        match outcome.result {
            Ok(new_state) => {
                match new_state {
                    Some(resource) => {
                        state.resources.insert(outcome.name.clone(), resource);
                    }
                    None if outcome.operation == Operation::DeleteRetired => {}
                    None => {
                        state.resources.remove(&outcome.name);
                        for other in state.resources.values_mut() {
                            other.dependencies.retain(|d| d != &outcome.name);
                        }
                    }
                }
                if let Some(old) = outcome.retired {
                    retired.push((outcome.name.clone(), old));
                }
                if let Some(cause) = outcome.incomplete {
                    // Recorded, but not done: what depends on it does not start.
                    fail(index, cause, &mut status, report);
                    all_ok = false;
                    continue;
                }
                match outcome.operation {
                    Operation::Create => report.counts.created += 1,
                    Operation::Update => report.counts.updated += 1,
                    Operation::Replace => report.counts.replaced += 1,
                    Operation::Delete | Operation::Forget => report.counts.deleted += 1,
                    Operation::DeleteRetired => {}
                }
                emit(ApplyEvent::Finished {
                    name: outcome.name.clone(),
                    operation: outcome.operation,
                    elapsed: outcome.elapsed,
                });
                status[index] = Status::Done;
                for &dependent in &dependents[index] {
                    waiting_for[dependent] -= 1;
                    if waiting_for[dependent] == 0 {
                        ready.insert(dependent);
                    }
                }
            }
            Err(message) => {
                if let Some(pending) = outcome.pending {
                    state.pending.push(pending);
                }
                if outcome.deleted_first {
                    // The old resource is gone (journaled); the state this run commits must say so too.
                    state.resources.remove(&outcome.name);
                    for other in state.resources.values_mut() {
                        other.dependencies.retain(|d| d != &outcome.name);
                    }
                }
                if outcome.operation == Operation::DeleteRetired {
                    // The old half of a replacement is still there: keep it on record for the next run to delete.
                    if let Some(old) = &jobs[index].prior {
                        state.pending.push(stackr_state::PendingOperation::delete_retired(&outcome.name, old));
                    }
                }
                fail(index, message, &mut status, report);
                all_ok = false;
            }
        }
    }
    for (job, s) in jobs.iter().zip(&status) {
        if *s == Status::Waiting {
            all_ok = false;
            emit(ApplyEvent::Skipped {
                name: job.name.clone(),
                operation: job.operation,
                reason: "interrupted".into(),
            });
            report.skipped.push((job.name.clone(), "interrupted".into()));
        }
    }
    Ok(all_ok)
}
