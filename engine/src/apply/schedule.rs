//! The scheduler: runs one phase's jobs in dependency order, `parallelism` at a time, each a step of
//! [`super::step`], and folds their outcomes into the state and the report.

use std::collections::{BTreeMap, BTreeSet};

use stackr_state::journal::JournalRecord;
use stackr_state::{ResourceState, StateFile};
use tokio::task::JoinSet;

use super::step::{prepare, StepOutcome};
use super::{
    append, ApplyError, ApplyEvent, ApplyOptions, ApplyReport, CancelFlag, Operation, StepCause, StepContext, StepError,
};
use crate::plan::file::PlannedStep;
use crate::plan::Action;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Waiting,
    Running,
    Done,
    Failed,
    Skipped,
}

/// A unit the scheduler runs.
pub(super) struct Job {
    pub(super) name: String,
    pub(super) operation: Operation,
    /// Names of jobs of the same phase that must be done first.
    pub(super) after: Vec<String>,
    pub(super) step: Option<PlannedStep>,
    /// For deletes: the resource as recorded.
    pub(super) prior: Option<ResourceState>,
}

/// What both phases of the scheduler work on.
pub(super) struct Phase<'r, 'c, E> {
    pub(super) state: &'r mut StateFile,
    pub(super) context: &'r StepContext<'c>,
    pub(super) options: ApplyOptions,
    pub(super) cancel: &'r CancelFlag,
    pub(super) emit: &'r E,
    pub(super) report: &'r mut ApplyReport,
}

/// Phase one's jobs: creates, updates and replacements, each after the dependencies the phase also changes.
pub(super) fn forward_jobs(steps: &[PlannedStep]) -> Vec<Job> {
    let forward: BTreeSet<&str> =
        steps.iter().filter(|s| s.action != Action::Delete).map(|s| s.name.as_str()).collect();
    steps
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
        .collect()
}

/// Phase two's jobs: deletes and the retired halves of replacements. A delete waits for the deletes of
/// everything that depends on it: each deleted resource's own dependencies are walked once (linear in the
/// number of edges).
pub(super) fn delete_jobs(steps: &[PlannedStep], state: &StateFile, retired: Vec<(String, ResourceState)>) -> Vec<Job> {
    let mut jobs: Vec<Job> = Vec::new();
    for s in steps.iter().filter(|s| s.action == Action::Delete) {
        let prior = state.resources.get(&s.name).cloned();
        jobs.push(Job {
            name: s.name.clone(),
            // What the state records decides (the plan's flag was checked against it before the run).
            operation: if prior.as_ref().is_some_and(|r| r.retain_on_delete) {
                Operation::Forget
            } else {
                Operation::Delete
            },
            after: Vec::new(),
            step: Some(s.clone()),
            prior,
        });
    }
    for (name, old) in retired {
        jobs.push(Job { name, operation: Operation::DeleteRetired, after: Vec::new(), step: None, prior: Some(old) });
    }
    let deleting: BTreeSet<String> =
        jobs.iter().filter(|j| j.operation != Operation::DeleteRetired).map(|j| j.name.clone()).collect();
    let mut dependents: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for name in &deleting {
        for dependency in state.resources.get(name).map(|r| r.dependencies.as_slice()).unwrap_or_default() {
            if deleting.contains(dependency) && dependency != name {
                dependents.entry(dependency.clone()).or_default().push(name.clone());
            }
        }
    }
    for job in &mut jobs {
        if job.operation != Operation::DeleteRetired {
            job.after = dependents.remove(&job.name).unwrap_or_default();
        }
    }
    jobs
}

/// Runs jobs in dependency order, `parallelism` at a time. Returns true when every job succeeded.
///
/// Kahn's algorithm over job indexes: each job counts the dependencies it still waits for; a finished job
/// releases its dependents, a failed or skipped one skips them (transitively). Ready jobs start in plan order.
/// `retired` collects the old halves of the replacements the phase makes, for the deletes' phase.
pub(super) async fn schedule<E: Fn(ApplyEvent)>(
    jobs: Vec<Job>,
    phase: &mut Phase<'_, '_, E>,
    retired: &mut Vec<(String, ResourceState)>,
) -> Result<bool, ApplyError> {
    let (context, options, cancel, emit) = (phase.context, phase.options, phase.cancel, phase.emit);
    let (state, report) = (&mut *phase.state, &mut *phase.report);
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
                    aborted(report, &e);
                    all_ok = false;
                    continue;
                }
            },
            Some(committed) = committing.join_next(), if !committing.is_empty() => match committed {
                Ok(done) => done,
                Err(e) => {
                    aborted(report, &e);
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
    // Left waiting: the run was interrupted, or (a plan stackr did not write) the steps wait for each other.
    let reason =
        if cancel.is_cancelled() || context.journal.is_poisoned() { "interrupted" } else { "waits in a cycle" };
    for (job, s) in jobs.iter().zip(&status) {
        if *s == Status::Waiting {
            all_ok = false;
            emit(ApplyEvent::Skipped { name: job.name.clone(), operation: job.operation, reason: reason.into() });
            report.skipped.push((job.name.clone(), reason.into()));
        }
    }
    Ok(all_ok)
}

/// A step (or the commit of its outcome) that panicked or was aborted: what its call did is unknown, so the run
/// must end without compacting the journal (its intent stays pending there for the next run to reconcile).
fn aborted(report: &mut ApplyReport, error: &tokio::task::JoinError) {
    report.errors.push(StepError {
        name: "?".into(),
        operation: Operation::Create,
        cause: StepCause::Aborted(error.to_string()),
    });
    report.aborted.get_or_insert_with(|| error.to_string());
}
