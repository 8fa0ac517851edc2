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

pub mod reconcile;
pub mod refresh;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stackr_state::journal::{JournalRecord, JournalWriter};
use stackr_state::{ResourceState, StateFile};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinSet;

use crate::eval::{Builtins, Evaluator, ResourceValues};
use crate::plan::file::PlannedStep;
use crate::plan::{desired_inputs, Action, ReplaceOrder};
use crate::provider::{CallContext, Provider, ProviderError, Registry};
use crate::schema::{PropType, ResourceSchema};
use crate::stack::Stack;
use crate::value::{Value, SECRET_TEXT, UNKNOWN_TEXT};

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

/// One provider-facing operation of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    Create,
    Update,
    /// Create the new half of a create-before-delete replacement.
    Replace,
    Delete,
    /// Delete the old half of a replacement.
    DeleteRetired,
    /// Forget a `retainOnDelete` resource.
    Forget,
}

impl Operation {
    pub fn journal_name(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Replace => "replace",
            Operation::Delete | Operation::Forget => "delete",
            Operation::DeleteRetired => "delete-retired",
        }
    }

    /// Present participle for progress lines.
    pub fn doing(self) -> &'static str {
        match self {
            Operation::Create | Operation::Replace => "creating",
            Operation::Update => "updating",
            Operation::Delete | Operation::DeleteRetired => "deleting",
            Operation::Forget => "forgetting",
        }
    }

    pub fn done(self) -> &'static str {
        match self {
            Operation::Create | Operation::Replace => "created",
            Operation::Update => "updated",
            Operation::Delete | Operation::DeleteRetired => "deleted",
            Operation::Forget => "forgotten (left in AWS)",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepError {
    pub name: String,
    pub operation: Operation,
    pub message: String,
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
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the plan destroys data ({}); apply refuses without --allow-data-loss", .resources.join(", "))]
    DataLoss { resources: Vec<String> },
    #[error("the plan would {action} protected resource `{name}`")]
    Protected { name: String, action: &'static str },
    #[error("cannot record progress in the journal: {0}")]
    Journal(#[from] stackr_state::StateError),
    #[error("the plan names `{0}`, which is not in the stack")]
    UnknownResource(String),
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

/// What a running step returns to the scheduler.
struct StepOutcome {
    name: String,
    operation: Operation,
    result: Result<Option<ResourceState>, String>,
    retired: Option<ResourceState>,
    elapsed: Duration,
    /// The outcome record, not yet durable: the scheduler commits it off the step's slot, and only then does
    /// the step count as done (and its dependents start).
    commit: Option<JournalRecord>,
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
    let ApplyRun { stack, steps, mut state, registry, builtins, options, journal, events, cancel, operation } = run;
    guard(steps, &state, options)?;
    append(
        &journal,
        JournalRecord::Begin {
            lineage: state.lineage.0.clone(),
            serial: state.serial,
            operation: operation.to_string(),
        },
    )
    .await?;
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
                (Action::Replace, Some(ReplaceOrder::DeleteBeforeCreate)) => Operation::Create,
                _ => Operation::Replace,
            },
            after: s.dependencies.iter().filter(|d| forward.contains(d.as_str())).cloned().collect(),
            step: Some(s.clone()),
            prior: None,
        })
        .collect();
    let mut retired: Vec<(String, ResourceState)> = Vec::new();
    let context = StepContext { stack, registry, builtins, journal: &journal };
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
                    state.pending.push(stackr_state::PendingOperation {
                        resource: job.name.clone(),
                        type_name: old.type_name.clone(),
                        operation: Operation::DeleteRetired.journal_name().into(),
                        create_token: None,
                        id: Some(old.id.clone()),
                        inputs: old.inputs.clone(),
                    });
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
    report.interrupted = cancel.is_cancelled();
    report.state = state;
    Ok(report)
}

/// Refuses data loss without `--allow-data-loss`, and protected resources whatever the plan says.
fn guard(steps: &[PlannedStep], state: &StateFile, options: ApplyOptions) -> Result<(), ApplyError> {
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

    // Marks everything downstream of `failed` as skipped.
    let skip_dependents = |failed: usize, status: &mut Vec<Status>, report: &mut ApplyReport| {
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
        while running.len() < parallelism && !cancel.is_cancelled() {
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
                    emit(ApplyEvent::Failed {
                        name: job.name.clone(),
                        operation: job.operation,
                        error: message.clone(),
                    });
                    report.errors.push(StepError { name: job.name.clone(), operation: job.operation, message });
                    status[next] = Status::Failed;
                    all_ok = false;
                    skip_dependents(next, &mut status, report);
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
                            if let Err(e) = append(&journal, record).await {
                                outcome.result = Err(format!("cannot record progress: {e}"));
                            }
                            (index, outcome)
                        });
                        continue;
                    }
                    _ => (index, outcome),
                },
                Err(e) => {
                    // A provider panicked or was aborted: nothing to record but the failure.
                    report.errors.push(StepError { name: "?".into(), operation: Operation::Create, message: e.to_string() });
                    all_ok = false;
                    continue;
                }
            },
            Some(committed) = committing.join_next(), if !committing.is_empty() => match committed {
                Ok(done) => done,
                Err(e) => {
                    report.errors.push(StepError { name: "?".into(), operation: Operation::Create, message: e.to_string() });
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
                emit(ApplyEvent::Failed {
                    name: outcome.name.clone(),
                    operation: outcome.operation,
                    error: message.clone(),
                });
                report.errors.push(StepError { name: outcome.name.clone(), operation: outcome.operation, message });
                status[index] = Status::Failed;
                all_ok = false;
                skip_dependents(index, &mut status, report);
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

type StepFuture = std::pin::Pin<Box<dyn std::future::Future<Output = StepOutcome> + Send>>;

/// Evaluates a job's inputs against the state as it is now and returns the future that runs it.
fn prepare(job: &Job, state: &StateFile, context: &StepContext<'_>) -> Result<StepFuture, String> {
    let journal = context.journal.clone();
    let name = job.name.clone();
    let operation = job.operation;
    let cx = CallContext { stack: context.stack.name.clone(), resource: name.clone(), create_token: None };

    if matches!(operation, Operation::Delete | Operation::DeleteRetired | Operation::Forget) {
        let Some(prior) = job.prior.clone() else {
            // Already gone from the state (deleted by an earlier, interrupted run): nothing to do.
            return Ok(Box::pin(async move {
                StepOutcome { name, operation, result: Ok(None), retired: None, elapsed: Duration::ZERO, commit: None }
            }));
        };
        let provider = if operation == Operation::Forget {
            None
        } else {
            Some(context.registry.provider(&prior.type_name).map_err(|e| e.to_string())?)
        };
        return Ok(Box::pin(async move {
            let started = Instant::now();
            let (result, commit) = match run_delete(&journal, provider, &cx, &prior, operation).await {
                Ok(done) => (Ok(None), Some(done)),
                Err(e) => (Err(e), None),
            };
            StepOutcome { name, operation, result, retired: None, elapsed: started.elapsed(), commit }
        }));
    }

    let step = job.step.clone().ok_or_else(|| "internal: a create or update without its step".to_string())?;
    let resource = context.stack.resources.get(&name).ok_or_else(|| format!("`{name}` is not in the stack"))?;
    let registered =
        context.registry.get(&resource.type_name).ok_or_else(|| format!("unknown type {}", resource.type_name))?;
    let provider = context.registry.provider(&resource.type_name).map_err(|e| e.to_string())?;
    let prior = state.resources.get(&name).cloned();
    if step.action == Action::Create {
        if let Some(existing) = &prior {
            // Apply decides nothing: a create of something the state already holds means the plan is out of date.
            return Err(format!(
                "the plan creates `{name}`, but the state already records it ({}); plan again",
                existing.id
            ));
        }
    }
    let values = StateValues(state);
    let evaluator = Evaluator::new(context.stack, context.builtins, &values);
    let desired = desired_inputs(&evaluator, resource, registered, prior.as_ref()).map_err(|d| d.to_string())?;
    if desired.has_unknown() {
        return Err("some inputs are still unknown after their dependencies were applied".into());
    }
    if let Some(planned) = &step.inputs {
        if let Some(path) = mismatch(planned, &desired.to_redacted_json(), String::new()) {
            return Err(format!("the inputs differ from the plan at `{path}`; plan again"));
        }
    }
    let call_inputs =
        provider_view(&desired, &registered.schema, resource.location.file.parent().unwrap_or(Path::new("")));
    let record = ResourceState {
        type_name: resource.type_name.clone(),
        id: String::new(),
        inputs: desired.to_json(),
        outputs: serde_json::Value::Null,
        dependencies: resource.dependencies.iter().cloned().collect(),
        protect: resource.options.protect,
        retain_on_delete: resource.options.retain_on_delete,
    };
    let delete_first = step.action == Action::Replace && step.replace_order == Some(ReplaceOrder::DeleteBeforeCreate);
    Ok(Box::pin(async move {
        let started = Instant::now();
        let mut retired = None;
        let mut commit = None;
        let result: Result<Option<ResourceState>, String> = async {
            match operation {
                Operation::Update => {
                    let prior = prior.ok_or_else(|| "the resource is no longer in the state".to_string())?;
                    let (new, done) =
                        run_update(&journal, provider.as_ref(), &cx, &prior, record, &call_inputs, &step.changed)
                            .await?;
                    commit = Some(done);
                    Ok(Some(new))
                }
                _ => {
                    if delete_first {
                        if let Some(old) = &prior {
                            // The old resource must be recorded gone before its replacement is created.
                            let done =
                                run_delete(&journal, Some(Arc::clone(&provider)), &cx, old, Operation::Delete).await?;
                            self::record(&journal, done).await?;
                        }
                    }
                    let old = if delete_first { None } else { prior };
                    let (new, old, done) =
                        run_create(&journal, provider.as_ref(), cx, record, &call_inputs, operation, old).await?;
                    retired = old;
                    commit = Some(done);
                    Ok(Some(new))
                }
            }
        }
        .await;
        StepOutcome { name, operation, result, retired, elapsed: started.elapsed(), commit }
    }))
}

async fn record(journal: &JournalWriter, record: JournalRecord) -> Result<(), String> {
    append(journal, record).await.map_err(|e| format!("cannot record progress: {e}"))
}

fn describe(error: &ProviderError) -> String {
    error.to_string()
}

async fn run_create(
    journal: &JournalWriter,
    provider: &dyn Provider,
    mut cx: CallContext,
    mut new: ResourceState,
    call_inputs: &Value,
    operation: Operation,
    old: Option<ResourceState>,
) -> Result<(ResourceState, Option<ResourceState>, JournalRecord), String> {
    let token = new_token();
    cx.create_token = Some(token.clone());
    let journal_operation = if old.is_some() { Operation::Replace } else { Operation::Create };
    let _ = operation;
    record(
        journal,
        JournalRecord::Intent {
            resource: cx.resource.clone(),
            type_name: new.type_name.clone(),
            operation: journal_operation.journal_name().into(),
            create_token: Some(token),
            id: None,
            inputs: new.inputs.clone(),
        },
    )
    .await?;
    match provider.create(&cx, call_inputs).await {
        Ok(created) => {
            new.id = created.id;
            new.outputs = created.outputs.to_json();
            let done = JournalRecord::Done {
                resource: cx.resource.clone(),
                operation: journal_operation.journal_name().into(),
                state: Some(Box::new(new.clone())),
                retired: old.clone().map(Box::new),
            };
            Ok((new, old, done))
        }
        Err(e) => {
            let message = describe(&e);
            record(
                journal,
                JournalRecord::Failed {
                    resource: cx.resource.clone(),
                    operation: journal_operation.journal_name().into(),
                    error: message.clone(),
                },
            )
            .await?;
            Err(message)
        }
    }
}

async fn run_update(
    journal: &JournalWriter,
    provider: &dyn Provider,
    cx: &CallContext,
    prior: &ResourceState,
    mut new: ResourceState,
    call_inputs: &Value,
    changed: &[String],
) -> Result<(ResourceState, JournalRecord), String> {
    record(
        journal,
        JournalRecord::Intent {
            resource: cx.resource.clone(),
            type_name: new.type_name.clone(),
            operation: "update".into(),
            create_token: None,
            id: Some(prior.id.clone()),
            inputs: new.inputs.clone(),
        },
    )
    .await?;
    let prior_inputs = Value::from_json(&prior.inputs);
    match provider.update(cx, &prior.id, &prior_inputs, call_inputs, changed).await {
        Ok(outputs) => {
            new.id = prior.id.clone();
            new.outputs = outputs.to_json();
            let done = JournalRecord::Done {
                resource: cx.resource.clone(),
                operation: "update".into(),
                state: Some(Box::new(new.clone())),
                retired: None,
            };
            Ok((new, done))
        }
        Err(e) => {
            let message = describe(&e);
            record(
                journal,
                JournalRecord::Failed {
                    resource: cx.resource.clone(),
                    operation: "update".into(),
                    error: message.clone(),
                },
            )
            .await?;
            Err(message)
        }
    }
}

async fn run_delete(
    journal: &JournalWriter,
    provider: Option<Arc<dyn Provider>>,
    cx: &CallContext,
    prior: &ResourceState,
    operation: Operation,
) -> Result<JournalRecord, String> {
    let name = operation.journal_name();
    record(
        journal,
        JournalRecord::Intent {
            resource: cx.resource.clone(),
            type_name: prior.type_name.clone(),
            operation: name.into(),
            create_token: None,
            id: Some(prior.id.clone()),
            inputs: prior.inputs.clone(),
        },
    )
    .await?;
    let result = match provider {
        Some(provider) => provider.delete(cx, &prior.id, &Value::from_json(&prior.inputs)).await,
        None => Ok(()),
    };
    match result {
        Ok(()) => Ok(JournalRecord::Done {
            resource: cx.resource.clone(),
            operation: name.into(),
            state: None,
            retired: None,
        }),
        Err(e) => {
            let message = describe(&e);
            record(
                journal,
                JournalRecord::Failed { resource: cx.resource.clone(), operation: name.into(), error: message.clone() },
            )
            .await?;
            Err(message)
        }
    }
}

/// A fresh create token: random, recorded before the call so an interrupted create can be found.
pub fn new_token() -> String {
    let mut bytes = [0u8; 12];
    stackr_state::model::fill_random(&mut bytes);
    format!("stackr-{}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// The inputs as a provider needs them: asset paths made absolute (relative to the declaring file).
pub fn provider_view(inputs: &Value, schema: &ResourceSchema, base_dir: &Path) -> Value {
    let Value::Map(map) = inputs else { return inputs.clone() };
    let mut out = map.clone();
    for property in schema.properties.iter().filter(|p| p.ty == PropType::Asset) {
        if let Some(Value::Map(asset)) = out.get_mut(property.name) {
            if let Some(Value::String(path)) = asset.get("path") {
                let absolute = base_dir.join(path).to_string_lossy().into_owned();
                asset.insert("path".into(), Value::String(absolute));
            }
        }
    }
    Value::Map(out)
}

/// The first path where an applied value disagrees with what the plan showed. `(known after apply)` in the plan
/// matches anything; `(secret)` matches any secret.
fn mismatch(planned: &serde_json::Value, actual: &serde_json::Value, path: String) -> Option<String> {
    use serde_json::Value as J;
    match (planned, actual) {
        (J::String(s), _) if s == UNKNOWN_TEXT => None,
        (J::String(s), J::String(a)) if s == SECRET_TEXT && a == SECRET_TEXT => None,
        (J::Object(p), J::Object(a)) => {
            let keys: BTreeSet<&String> = p.keys().chain(a.keys()).collect();
            keys.into_iter().find_map(|k| match (p.get(k), a.get(k)) {
                (Some(pv), Some(av)) => mismatch(pv, av, join(&path, k)),
                _ => Some(join(&path, k)),
            })
        }
        (J::Array(p), J::Array(a)) if p.len() == a.len() => {
            p.iter().zip(a).enumerate().find_map(|(i, (pv, av))| mismatch(pv, av, format!("{path}[{i}]")))
        }
        (p, a) if p == a => None,
        (J::Number(p), J::Number(a)) if p.as_f64() == a.as_f64() => None,
        _ => Some(if path.is_empty() { "(inputs)".into() } else { path }),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}
