//! One step of apply: the planned inputs with what the plan left pending computed from the state as it is now,
//! then one journaled intent → call → outcome (create, update or delete), returned to the scheduler as a
//! [`StepOutcome`].

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use stackr_state::journal::{JournalRecord, JournalWriter};
use stackr_state::{Change, ResourceState, StateFile};

use super::schedule::Job;
use super::{append, create, Operation, StateValues, StepCause, StepContext};
use crate::plan::{Action, ReplaceOrder};
use crate::provider::{CallContext, LockCheck, MadeRecorder, Provider, ProviderError, RecordMade};
use crate::schema::{PropType, ResourceSchema};
use crate::value::Value;

/// What a running step returns to the scheduler.
pub(super) struct StepOutcome {
    pub(super) name: String,
    pub(super) operation: Operation,
    pub(super) result: Result<Option<ResourceState>, StepCause>,
    pub(super) retired: Option<ResourceState>,
    pub(super) elapsed: Duration,
    /// The outcome record, not yet durable: the scheduler commits it off the step's slot, and only then does
    /// the step count as done (and its dependents start).
    pub(super) commit: Option<JournalRecord>,
    /// The resource exists and is recorded, but its creation reported this error: the step fails.
    pub(super) incomplete: Option<StepCause>,
    /// A create whose outcome is unknown: kept pending in the state this run commits.
    pub(super) pending: Option<stackr_state::PendingOperation>,
    /// A delete-before-create replacement deleted the old resource (recorded) before the step failed.
    pub(super) deleted_first: bool,
}

pub(super) type StepFuture = std::pin::Pin<Box<dyn std::future::Future<Output = StepOutcome> + Send>>;

/// Computes a job's pending inputs from the state as it is now and returns the future that runs it.
pub(super) fn prepare(job: &Job, state: &StateFile, context: &StepContext<'_>) -> Result<StepFuture, StepCause> {
    let journal = context.journal.clone();
    let lock = context.lock.clone();
    let name = job.name.clone();
    let operation = job.operation;
    let cx = CallContext { stack: state.stack.clone(), resource: name.clone(), create_token: None, made: None };

    if matches!(operation, Operation::Delete | Operation::DeleteRetired | Operation::Forget) {
        let Some(prior) = job.prior.clone() else {
            // Already gone from the state (deleted by an earlier, interrupted run): nothing to do.
            return Ok(Box::pin(async move {
                StepOutcome {
                    name,
                    operation,
                    result: Ok(None),
                    retired: None,
                    elapsed: Duration::ZERO,
                    commit: None,
                    incomplete: None,
                    pending: None,
                    deleted_first: false,
                }
            }));
        };
        let provider =
            if operation == Operation::Forget { None } else { Some(context.registry.provider(&prior.type_name)?) };
        return Ok(Box::pin(async move {
            let started = Instant::now();
            let (result, commit) = match run_delete(&journal, lock.as_deref(), provider, &cx, &prior, operation).await {
                Ok(done) => (Ok(None), Some(done)),
                Err(e) => (Err(e), None),
            };
            StepOutcome {
                name,
                operation,
                result,
                retired: None,
                elapsed: started.elapsed(),
                commit,
                incomplete: None,
                pending: None,
                deleted_first: false,
            }
        }));
    }

    let prepare = |message: String| StepCause::Prepare(message);
    let step = job.step.clone().ok_or_else(|| prepare("internal: a create or update without its step".into()))?;
    let registered =
        context.registry.get(&step.type_name).ok_or_else(|| prepare(format!("unknown type {}", step.type_name)))?;
    let provider = context.registry.provider(&step.type_name)?;
    let prior = state.resources.get(&name).cloned();
    if step.action == Action::Create {
        if let Some(existing) = &prior {
            // Apply decides nothing: a create of something the state already holds means the plan is out of date.
            return Err(prepare(format!(
                "the plan creates `{name}`, but the state already records it ({}); plan again",
                existing.id
            )));
        }
    }
    let planned = step.input_values().ok_or_else(|| prepare("internal: a create or update without inputs".into()))?;
    let values = StateValues { state, region: context.region };
    let resolved = planned.resolve(&values).map_err(|e| match e.hint {
        Some(hint) => prepare(format!("{} ({hint})", e.message)),
        None => prepare(e.message),
    })?;
    // Normalised again: a value only now known is put in the form the planned ones were.
    let desired = provider.normalize(resolved);
    let base_dir = step.base_dir.clone().unwrap_or_default();
    let call_inputs = provider_view(&desired, &registered.schema, &base_dir);
    let record = ResourceState {
        type_name: step.type_name.clone(),
        id: String::new(),
        inputs: desired.to_json(),
        outputs: serde_json::Value::Null,
        dependencies: step.dependencies.clone(),
        protect: step.protect,
        retain_on_delete: step.retain_on_delete,
        create_token: None,
    };
    let delete_first = step.action == Action::Replace && step.replace_order == Some(ReplaceOrder::DeleteBeforeCreate);
    let prior_provider = match (&prior, delete_first) {
        (Some(old), true) => Some((old.clone(), context.registry.provider(&old.type_name)?)),
        _ => None,
    };
    Ok(Box::pin(async move {
        let started = Instant::now();
        let mut retired = None;
        let mut commit = None;
        let mut incomplete = None;
        let mut pending = None;
        let mut deleted_first = false;
        let result: Result<Option<ResourceState>, StepCause> = async {
            match operation {
                Operation::Update => {
                    let prior =
                        prior.ok_or_else(|| StepCause::Prepare("the resource is no longer in the state".into()))?;
                    let call = Call { journal: &journal, lock: lock.as_deref(), provider: provider.as_ref() };
                    let (new, done) = run_update(call, &cx, &prior, record, &call_inputs, &step.changed).await?;
                    commit = Some(done);
                    Ok(Some(new))
                }
                _ => {
                    if delete_first {
                        if let Some((old, old_provider)) = &prior_provider {
                            // The old resource must be recorded gone before its replacement is created, by the
                            // provider of its own type (a replacement may change the type).
                            let done = run_delete(
                                &journal,
                                lock.as_deref(),
                                Some(Arc::clone(old_provider)),
                                &cx,
                                old,
                                Operation::Delete,
                            )
                            .await?;
                            self::record(&journal, done).await?;
                            deleted_first = true;
                        }
                    }
                    let old = if delete_first { None } else { prior };
                    let call = Call { journal: &journal, lock: lock.as_deref(), provider: provider.as_ref() };
                    let created = run_create(call, cx, record, &call_inputs, old).await.map_err(|failure| {
                        pending = failure.pending;
                        failure.cause
                    })?;
                    retired = created.old;
                    commit = Some(created.done);
                    incomplete = created.incomplete;
                    Ok(Some(created.new))
                }
            }
        }
        .await;
        StepOutcome {
            name,
            operation,
            result,
            retired,
            elapsed: started.elapsed(),
            commit,
            incomplete,
            pending,
            deleted_first,
        }
    }))
}

async fn record(journal: &JournalWriter, record: JournalRecord) -> Result<(), StepCause> {
    append(journal, record).await.map_err(|e| StepCause::Journal(e.to_string()))
}

/// What a call that changes AWS needs: the journal its intent and outcome go to, the lock it must still hold
/// when it is made, and the provider that makes it.
#[derive(Clone, Copy)]
struct Call<'a> {
    journal: &'a JournalWriter,
    lock: Option<&'a dyn LockCheck>,
    provider: &'a dyn Provider,
}

/// Right before a call that changes AWS (its intent already durable): the run must still hold its lock.
async fn still_held(lock: Option<&dyn LockCheck>) -> Result<(), StepCause> {
    match lock {
        Some(lock) => lock.still_held().await.map_err(StepCause::Lock),
        None => Ok(()),
    }
}

/// A create's result: the new resource, the old half of a replacement, the outcome record, and, when the
/// resource exists but its creation reported an error, that error.
struct Created {
    new: ResourceState,
    old: Option<ResourceState>,
    done: JournalRecord,
    incomplete: Option<StepCause>,
}

async fn run_create(
    call: Call<'_>,
    mut cx: CallContext,
    mut new: ResourceState,
    call_inputs: &Value,
    old: Option<ResourceState>,
) -> Result<Created, StepFailure> {
    let Call { journal, lock, provider } = call;
    let token = new_token().map_err(|e| StepCause::Prepare(e.to_string()))?;
    cx.create_token = Some(token.clone());
    let journal_operation = if old.is_some() { Operation::Replace } else { Operation::Create };
    cx.made = Some(MadeRecorder(Arc::new(JournalMade {
        journal: journal.clone(),
        resource: cx.resource.clone(),
        operation: journal_operation.change(),
    })));
    record(
        journal,
        JournalRecord::Intent {
            resource: cx.resource.clone(),
            type_name: new.type_name.clone(),
            operation: journal_operation.change(),
            create_token: Some(token.clone()),
            id: None,
            inputs: new.inputs.clone(),
            dependencies: new.dependencies.clone(),
            protect: new.protect,
            retain_on_delete: new.retain_on_delete,
        },
    )
    .await?;
    still_held(lock).await?;
    // AWS quotes values it refuses: no secret input comes back through an error.
    let secrets = call_inputs.secret_texts();
    let (created, error) = match create::create_at_most_once(provider, &cx, call_inputs, &token).await {
        create::CreateOutcome::Created(created) => (created, None),
        create::CreateOutcome::Incomplete(created, error) => (created, Some(error.redacted(&secrets))),
        create::CreateOutcome::Unresolved(e) => {
            let e = e.redacted(&secrets);
            // No outcome record: the intent stays pending, in the journal and in the state this run commits, and
            // the next run reconciles it.
            let pending = stackr_state::PendingOperation {
                resource: cx.resource.clone(),
                type_name: new.type_name.clone(),
                operation: journal_operation.change(),
                create_token: Some(token),
                id: None,
                inputs: new.inputs.clone(),
                dependencies: new.dependencies.clone(),
                protect: new.protect,
                retain_on_delete: new.retain_on_delete,
            };
            return Err(StepFailure { cause: StepCause::Unresolved(e), pending: Some(pending) });
        }
        create::CreateOutcome::Failed(e) => {
            let e = e.redacted(&secrets);
            record(
                journal,
                JournalRecord::Failed {
                    resource: cx.resource.clone(),
                    operation: journal_operation.change(),
                    error: e.to_string(),
                },
            )
            .await?;
            return Err(StepCause::Call(e).into());
        }
    };
    new.id = created.id;
    new.outputs = created.outputs.to_json();
    // Recorded where the resource carries it (a tag): how a later delete knows it is still this resource.
    new.create_token = provider.schema().has_tags().then(|| token.clone());
    let done = JournalRecord::Done {
        resource: cx.resource.clone(),
        operation: journal_operation.change(),
        state: Some(Box::new(new.clone())),
        retired: old.clone().map(Box::new),
    };
    // Created, but its creation reported an error: recorded, and the step fails naming it.
    let incomplete = error.map(|error| StepCause::Incomplete { error, id: new.id.clone() });
    Ok(Created { new, old, done, incomplete })
}

/// Journals a create's id as soon as the provider reports it, before the calls that complete the resource: a
/// run killed in between leaves the create pending with its id (reconcile reads it, never searches).
struct JournalMade {
    journal: JournalWriter,
    resource: String,
    operation: Change,
}

#[async_trait::async_trait]
impl RecordMade for JournalMade {
    async fn made(&self, id: &str) -> Result<(), String> {
        let made = JournalRecord::Made { resource: self.resource.clone(), operation: self.operation, id: id.into() };
        record(&self.journal, made).await.map_err(|e| e.to_string())
    }
}

/// Why a create failed, and, when whether it took effect is unknown, the operation left pending.
struct StepFailure {
    cause: StepCause,
    pending: Option<stackr_state::PendingOperation>,
}

impl From<StepCause> for StepFailure {
    fn from(cause: StepCause) -> StepFailure {
        StepFailure { cause, pending: None }
    }
}

async fn run_update(
    call: Call<'_>,
    cx: &CallContext,
    prior: &ResourceState,
    mut new: ResourceState,
    call_inputs: &Value,
    changed: &[String],
) -> Result<(ResourceState, JournalRecord), StepCause> {
    let Call { journal, lock, provider } = call;
    record(journal, intent_on(cx, &new.type_name, Change::Update, &prior.id, &new.inputs)).await?;
    still_held(lock).await?;
    // The provider computes what to change from the prior: it must be what AWS has now, not what the state
    // last recorded, or a correction of drift (a policy removed outside stackr, a configuration call a killed
    // run never made) would compare equal and change nothing. The plan diffed against the same read.
    let recorded = Value::from_json(&prior.inputs);
    let result = if changed.is_empty() {
        // Only the options the state records change (`protect`, `retainOnDelete`): nothing to tell AWS.
        Ok(Value::from_json(&prior.outputs))
    } else {
        match provider.read(cx, &prior.id, &recorded).await {
            Ok(Some(observed)) => provider.update(cx, &prior.id, &observed.inputs, call_inputs, changed).await,
            Ok(None) => Err(ProviderError::Other(format!("{} no longer exists; plan again to recreate it", prior.id))),
            Err(e) => Err(e),
        }
    };
    let result = result.map_err(|e| e.redacted(&[call_inputs.secret_texts(), recorded.secret_texts()].concat()));
    match result {
        Ok(outputs) => {
            new.id = prior.id.clone();
            new.outputs = outputs.to_json();
            // Still the resource that create made: the token it carries stays recorded.
            new.create_token = prior.create_token.clone();
            let done = JournalRecord::Done {
                resource: cx.resource.clone(),
                operation: Change::Update,
                state: Some(Box::new(new.clone())),
                retired: None,
            };
            Ok((new, done))
        }
        Err(e) => {
            record(
                journal,
                JournalRecord::Failed {
                    resource: cx.resource.clone(),
                    operation: Change::Update,
                    error: e.to_string(),
                },
            )
            .await?;
            Err(StepCause::Call(e))
        }
    }
}

async fn run_delete(
    journal: &JournalWriter,
    lock: Option<&dyn LockCheck>,
    provider: Option<Arc<dyn Provider>>,
    cx: &CallContext,
    prior: &ResourceState,
    operation: Operation,
) -> Result<JournalRecord, StepCause> {
    let name = operation.change();
    record(journal, intent_on(cx, &prior.type_name, name, &prior.id, &prior.inputs)).await?;
    still_held(lock).await?;
    let recorded = Value::from_json(&prior.inputs);
    let result = match provider {
        Some(provider) => {
            provider.delete(cx, &prior.id, &recorded).await.map_err(|e| e.redacted(&recorded.secret_texts()))
        }
        None => Ok(()),
    };
    match result {
        Ok(()) => {
            Ok(JournalRecord::Done { resource: cx.resource.clone(), operation: name, state: None, retired: None })
        }
        Err(e) => {
            record(
                journal,
                JournalRecord::Failed { resource: cx.resource.clone(), operation: name, error: e.to_string() },
            )
            .await?;
            Err(StepCause::Call(e))
        }
    }
}

/// The intent of a call on an existing resource (an update or a delete): its id, no create token.
fn intent_on(
    cx: &CallContext,
    type_name: &str,
    operation: Change,
    id: &str,
    inputs: &serde_json::Value,
) -> JournalRecord {
    JournalRecord::Intent {
        resource: cx.resource.clone(),
        type_name: type_name.to_string(),
        operation,
        create_token: None,
        id: Some(id.to_string()),
        inputs: inputs.clone(),
        dependencies: Vec::new(),
        protect: false,
        retain_on_delete: false,
    }
}

/// A fresh create token: random, recorded before the call so an interrupted create can be found.
pub fn new_token() -> Result<String, stackr_state::model::RandomError> {
    let mut bytes = [0u8; 12];
    stackr_state::model::fill_random(&mut bytes)?;
    Ok(format!("stackr-{}", stackr_state::model::hex(&bytes)))
}

/// The inputs as a provider needs them: asset paths made absolute (relative to the declaring file).
pub fn provider_view(inputs: &Value, schema: &ResourceSchema, base_dir: &Path) -> Value {
    let Value::Map(map) = inputs else { return inputs.clone() };
    let mut out = map.clone();
    for property in schema.properties.iter().filter(|p| p.ty == PropType::Asset) {
        if let Some(Value::Map(asset)) = out.get_mut(property.name) {
            if let Some(Value::String(path)) = asset.get("path") {
                let absolute = crate::stack::confine::lexical(&base_dir.join(path)).to_string_lossy().into_owned();
                asset.insert("path".into(), Value::String(absolute));
            }
        }
    }
    Value::Map(out)
}
