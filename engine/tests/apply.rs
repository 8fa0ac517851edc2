//! Apply lifecycle tests with an in-test fake provider that records calls and can fail, hang or slow down
//! chosen steps: ordering, the parallelism bound, failure isolation, replacement order, deletes, guards,
//! cancellation, and an interrupted run that the next run reconciles without creating anything twice.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use stackr_engine::apply::{self, ApplyOptions, ApplyReport, ApplyRun, CancelFlag};
use stackr_engine::eval::Builtins;
use stackr_engine::plan::file::PlanFile;
use stackr_engine::plan::{self, Action, Plan, PlanRequest};
use stackr_engine::provider::{CallContext, Created, Observed, Provider, ProviderError, Registry};
use stackr_engine::schema::{Property, ResourceSchema};
use stackr_engine::stack::{self, Stack};
use stackr_engine::value::Value;
use stackr_state::journal::{self, JournalWriter};
use stackr_state::StateFile;

#[path = "apply/saved_plans.rs"]
mod saved_plans;

#[derive(Default)]
struct Cloud {
    /// id → (type, logical name, create token, inputs)
    resources: Mutex<BTreeMap<String, (String, String, String, Value)>>,
    calls: Mutex<Vec<String>>,
    next_id: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    fail: Mutex<BTreeSet<String>>,
    /// Resources whose create takes effect in the cloud but whose call never returns.
    hang_after_create: Mutex<BTreeSet<String>>,
    latency: Mutex<Duration>,
}

impl Cloud {
    fn log(&self, entry: String) {
        self.calls.lock().unwrap().push(entry);
    }
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
    fn count(&self, name: &str) -> usize {
        self.resources.lock().unwrap().values().filter(|r| r.1 == name).count()
    }
    async fn enter(&self, name: &str, what: &str) -> Result<(), ProviderError> {
        self.enter_quoting(name, what, "").await
    }

    /// As AWS does, the error quotes what it refused (`detail`).
    async fn enter_quoting(&self, name: &str, what: &str, detail: &str) -> Result<(), ProviderError> {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let latency = *self.latency.lock().unwrap();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        self.log(format!("{what} {name}"));
        if self.fail.lock().unwrap().contains(name) {
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            return Err(ProviderError::Api {
                operation: what.into(),
                code: "ValidationException".into(),
                message: format!("{name} is broken{detail}"),
                retryable: false,
            });
        }
        Ok(())
    }
    fn leave(&self) {
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Fake {
    schema: ResourceSchema,
    cloud: Arc<Cloud>,
}

#[async_trait]
impl Provider for Fake {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    async fn create(&self, cx: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
        self.cloud.enter_quoting(&cx.resource, "create", &format!(": refused {}", inputs.reveal())).await?;
        let id = format!("{}-{}", cx.resource, self.cloud.next_id.fetch_add(1, Ordering::SeqCst));
        self.cloud.resources.lock().unwrap().insert(
            id.clone(),
            (
                self.schema.type_name.to_string(),
                cx.resource.clone(),
                cx.create_token.clone().unwrap_or_default(),
                inputs.clone(),
            ),
        );
        if self.cloud.hang_after_create.lock().unwrap().contains(&cx.resource) {
            std::future::pending::<()>().await;
        }
        self.cloud.leave();
        Ok(Created {
            id: id.clone(),
            outputs: Value::Map(BTreeMap::from([("arn".into(), Value::String(format!("arn:{id}")))])),
        })
    }

    async fn read(&self, _: &CallContext, id: &str, _: &Value) -> Result<Option<Observed>, ProviderError> {
        Ok(self.cloud.resources.lock().unwrap().get(id).map(|(_, _, _, inputs)| Observed {
            create_token: None,
            id: id.into(),
            inputs: inputs.clone(),
            outputs: Value::Map(BTreeMap::from([("arn".into(), Value::String(format!("arn:{id}")))])),
        }))
    }

    async fn update(
        &self,
        cx: &CallContext,
        id: &str,
        _: &Value,
        desired: &Value,
        changed: &[String],
    ) -> Result<Value, ProviderError> {
        self.cloud.enter(&cx.resource, &format!("update({})", changed.join(","))).await?;
        if let Some(r) = self.cloud.resources.lock().unwrap().get_mut(id) {
            r.3 = desired.clone();
        }
        self.cloud.leave();
        Ok(Value::Map(BTreeMap::from([("arn".into(), Value::String(format!("arn:{id}")))])))
    }

    async fn delete(&self, cx: &CallContext, id: &str, _: &Value) -> Result<(), ProviderError> {
        let kind = self.cloud.resources.lock().unwrap().get(id).map(|r| r.0.clone());
        if kind.is_some_and(|k| k != self.schema.type_name) {
            // As AWS would: a table's DeleteTable on a role's name deletes someone else's table, or fails.
            return Err(ProviderError::Other(format!(
                "{} cannot delete {id}, which is not one",
                self.schema.type_name
            )));
        }
        self.cloud.enter(&cx.resource, &format!("delete {id} of")).await?;
        self.cloud.resources.lock().unwrap().remove(id);
        self.cloud.leave();
        Ok(())
    }

    async fn import(&self, cx: &CallContext, id: &str) -> Result<Option<Observed>, ProviderError> {
        self.read(cx, id, &Value::Null).await
    }

    async fn find(&self, _: &CallContext, _: &Value, token: &str) -> Result<Option<Observed>, ProviderError> {
        let found = self
            .cloud
            .resources
            .lock()
            .unwrap()
            .iter()
            .find(|r| r.1 .2 == token)
            .map(|(id, r)| (id.clone(), r.3.clone()));
        Ok(found.map(|(id, inputs)| Observed {
            create_token: None,
            id: id.clone(),
            inputs,
            outputs: Value::Map(BTreeMap::from([("arn".into(), Value::String(format!("arn:{id}")))])),
        }))
    }
}

fn registry(cloud: &Arc<Cloud>) -> Registry {
    let thing = ResourceSchema::new("test:fake:Thing", "a thing")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("value").default(""))
        .property(Property::string("ref"))
        .output("arn", "arn")
        .unique_name("name");
    let store = ResourceSchema::new("test:fake:Store", "holds data")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("kind").forces_replacement())
        .output("arn", "arn")
        .holds_data();
    let tagged = ResourceSchema::new("test:fake:Tagged", "carries tags, so its create token")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("value").default(""))
        .property(Property::tags())
        .output("arn", "arn")
        .unique_name("name");
    let mut registry = Registry::default();
    registry.add_provider(Arc::new(Fake { schema: tagged, cloud: Arc::clone(cloud) }));
    registry.add_provider(Arc::new(Fake { schema: thing, cloud: Arc::clone(cloud) }));
    registry.add_provider(Arc::new(Fake { schema: store, cloud: Arc::clone(cloud) }));
    registry
}

struct Harness {
    dir: tempfile::TempDir,
    cloud: Arc<Cloud>,
    registry: Registry,
    state: StateFile,
    /// The journal's secrets codec, for stacks with secrets (a journal never holds one in plaintext).
    codec: Option<Arc<dyn stackr_state::secrets::SecretsCodec>>,
}

impl Harness {
    fn new() -> Harness {
        let cloud = Arc::new(Cloud::default());
        let registry = registry(&cloud);
        Harness { dir: tempfile::tempdir().unwrap(), cloud, registry, state: StateFile::new("t"), codec: None }
    }

    fn stack(&self, resources: &str) -> Stack {
        let path = self.dir.path().join("stack.yaml");
        std::fs::write(&path, format!("name: t\nresources:\n{resources}")).unwrap();
        let env: BTreeMap<String, String> = BTreeMap::new();
        stack::load(&path, &self.registry, &env).unwrap_or_else(|d| panic!("{d}"))
    }

    fn plan(&self, stack: &Stack, destroy: bool) -> Plan {
        let builtins = Builtins { stack: "t".into(), region: None, account_id: None };
        plan::plan(PlanRequest {
            stack,
            state: Some(&self.state),
            registry: &self.registry,
            builtins: &builtins,
            targets: &[],
            destroy,
            drift: vec![],
        })
        .unwrap()
    }

    fn journal_path(&self) -> PathBuf {
        self.dir.path().join("t.journal")
    }

    async fn apply_with(
        &mut self,
        plan: &Plan,
        options: ApplyOptions,
        cancel: CancelFlag,
    ) -> Result<ApplyReport, apply::ApplyError> {
        let file = saved(plan, self.codec.as_deref());
        self.apply_file(&file, options, cancel).await
    }

    /// Runs a saved plan's program as it is (tests edit it first), without the checks of `verify_saved`.
    async fn apply_file(
        &mut self,
        file: &PlanFile,
        options: ApplyOptions,
        cancel: CancelFlag,
    ) -> Result<ApplyReport, apply::ApplyError> {
        let journal = JournalWriter::open(&self.journal_path(), self.codec.clone()).unwrap();
        let report = apply::apply(ApplyRun {
            steps: &file.steps,
            outputs: &file.output_values(),
            state: self.state.clone(),
            registry: &self.registry,
            region: None,
            options,
            journal,
            events: None,
            cancel,
            operation: "apply",
            gone: &[],
            lock: None,
        })
        .await?;
        self.state = report.state.clone();
        self.state.serial += 1;
        std::fs::remove_file(self.journal_path()).ok();
        Ok(report)
    }

    async fn converge(&mut self, stack: &Stack) -> ApplyReport {
        let plan = self.plan(stack, false);
        self.apply_with(&plan, ApplyOptions { parallelism: 10, allow_data_loss: true }, CancelFlag::default())
            .await
            .unwrap()
    }
}

fn thing(name: &str, extra: &str) -> String {
    format!("  {name}:\n    type: test:fake:Thing\n    properties:\n      name: {name}\n{extra}")
}

#[tokio::test]
async fn creates_run_after_their_dependencies_and_a_second_plan_is_empty() {
    let mut h = Harness::new();
    let stack = h.stack(
        &[thing("c", "      ref: ${b.arn}\n"), thing("b", "      ref: ${a.arn}\n"), thing("a", ""), thing("d", "")]
            .concat(),
    );
    let report = h.converge(&stack).await;
    assert_eq!(report.counts.created, 4);
    assert!(report.errors.is_empty());
    let calls = h.cloud.calls();
    let at = |s: &str| calls.iter().position(|c| c == s).unwrap();
    assert!(at("create a") < at("create b") && at("create b") < at("create c"), "{calls:?}");
    assert_eq!(h.state.resources["c"].inputs["ref"], format!("arn:{}", h.state.resources["b"].id));
    assert!(!h.plan(&stack, false).has_changes());
}

#[tokio::test]
async fn parallelism_bounds_the_steps_in_flight() {
    let mut h = Harness::new();
    *h.cloud.latency.lock().unwrap() = Duration::from_millis(20);
    let stack = h.stack(&(0..24).map(|i| thing(&format!("t{i:02}"), "")).collect::<String>());
    let plan = h.plan(&stack, false);
    h.apply_with(&plan, ApplyOptions { parallelism: 4, allow_data_loss: false }, CancelFlag::default()).await.unwrap();
    assert_eq!(h.cloud.max_in_flight.load(Ordering::SeqCst), 4);
    assert_eq!(h.state.resources.len(), 24);
}

#[tokio::test]
async fn a_failed_step_stops_its_dependents_while_independent_steps_finish() {
    let mut h = Harness::new();
    h.cloud.fail.lock().unwrap().insert("a".into());
    let stack = h.stack(&[thing("a", ""), thing("b", "      ref: ${a.arn}\n"), thing("c", "")].concat());
    let plan = h.plan(&stack, false);
    let report = h.apply_with(&plan, ApplyOptions::default(), CancelFlag::default()).await.unwrap();
    assert_eq!(report.errors.len(), 1);
    assert_eq!(report.errors[0].name, "a");
    assert!(
        report.errors[0].cause.to_string().contains("ValidationException: a is broken"),
        "{}",
        report.errors[0].cause
    );
    assert_eq!(report.errors[0].cause.class(), Some(stackr_engine::provider::ErrorClass::Invalid), "typed to the end");
    assert_eq!(report.skipped, vec![("b".to_string(), "`a` did not complete".to_string())]);
    let names: Vec<&String> = h.state.resources.keys().collect();
    assert_eq!(names, ["c"]);
    // The next run picks up where this one stopped.
    h.cloud.fail.lock().unwrap().clear();
    let report = h.converge(&stack).await;
    assert_eq!(report.counts.created, 2);
}

#[tokio::test]
async fn replacements_create_first_unless_the_name_must_be_freed() {
    let mut h = Harness::new();
    let v1 = h.stack(
        &[
            "  store:\n    type: test:fake:Store\n    properties: {name: s, kind: a}\n".to_string(),
            thing("x", "      value: one\n"),
        ]
        .concat(),
    );
    h.converge(&v1).await;
    let old_store = h.state.resources["store"].id.clone();
    let old_x = h.state.resources["x"].id.clone();
    h.cloud.calls.lock().unwrap().clear();
    // Store has no unique name, and x's unique name changes (x → x2): both can be created before the old
    // one is deleted.
    let v2 = h.stack(
        &[
            "  store:\n    type: test:fake:Store\n    properties: {name: s, kind: b}\n".to_string(),
            "  x:\n    type: test:fake:Thing\n    properties:\n      name: x2\n      value: one\n".to_string(),
        ]
        .concat(),
    );
    let plan = h.plan(&v2, false);
    assert!(plan.changes.iter().all(|c| c.action == Action::Replace));
    let refused = h.apply_with(&plan, ApplyOptions::default(), CancelFlag::default()).await.unwrap_err();
    assert_eq!(refused.to_string(), "the plan destroys data (store); apply refuses without --allow-data-loss");
    assert!(h.cloud.calls().is_empty(), "nothing ran");
    let report = h
        .apply_with(&plan, ApplyOptions { parallelism: 10, allow_data_loss: true }, CancelFlag::default())
        .await
        .unwrap();
    assert_eq!(report.counts.replaced, 2);
    let calls = h.cloud.calls();
    let at = |s: &str| calls.iter().position(|c| c == s).unwrap_or_else(|| panic!("{s} not in {calls:?}"));
    assert!(at("create store") < at(&format!("delete {old_store} of store")), "{calls:?}");
    assert!(at("create x") < at(&format!("delete {old_x} of x")), "{calls:?}");
    assert_eq!(h.cloud.count("store"), 1);

    // Same unique name, different value that forces replacement: the old one must be deleted first.
    h.cloud.calls.lock().unwrap().clear();
    let before = h.state.resources["store"].id.clone();
    let v3 = h.stack(&[
        "  store:\n    type: test:fake:Store\n    properties: {name: s, kind: c}\n    options: {deleteBeforeReplace: true}\n".to_string(),
        "  x:\n    type: test:fake:Thing\n    properties:\n      name: x2\n      value: one\n".to_string(),
    ].concat());
    let plan = h.plan(&v3, false);
    let report = h
        .apply_with(&plan, ApplyOptions { parallelism: 10, allow_data_loss: true }, CancelFlag::default())
        .await
        .unwrap();
    assert_eq!(h.cloud.calls(), vec![format!("delete {before} of store"), "create store".to_string()]);
    assert_eq!((report.counts.replaced, report.counts.created), (1, 0), "a delete-first replacement is a replacement");
}

#[tokio::test]
async fn deletes_run_last_in_reverse_dependency_order() {
    let mut h = Harness::new();
    let full = h.stack(
        &[
            thing("a", ""),
            thing("b", "      ref: ${a.arn}\n"),
            thing("c", "      ref: ${b.arn}\n"),
            thing("keep", "      value: v1\n"),
        ]
        .concat(),
    );
    h.converge(&full).await;
    h.cloud.calls.lock().unwrap().clear();
    let smaller = h.stack(&thing("keep", "      value: v2\n"));
    let report = h.converge(&smaller).await;
    assert_eq!((report.counts.updated, report.counts.deleted), (1, 3));
    let calls: Vec<String> = h
        .cloud
        .calls()
        .into_iter()
        .map(|c| c.split(' ').next().unwrap().to_string() + " " + c.rsplit(' ').next().unwrap())
        .collect();
    assert_eq!(calls, ["update(value) keep", "delete c", "delete b", "delete a"]);
    assert_eq!(h.state.resources.keys().collect::<Vec<_>>(), ["keep"]);
}

#[tokio::test]
async fn protected_resources_are_refused_even_when_a_plan_says_otherwise() {
    let mut h = Harness::new();
    let stack = h.stack(&thing("p", "    options: {protect: true}\n"));
    h.converge(&stack).await;
    // A hand-made plan that deletes it (the planner itself refuses to make one).
    let mut plan = h.plan(&stack, false);
    plan.changes.push(stackr_engine::plan::ResourceChange {
        name: "p".into(),
        type_name: "test:fake:Thing".into(),
        action: Action::Delete,
        reasons: vec![],
        diff: vec![],
        replace_order: None,
        data_loss: false,
        retain: false,
        dependencies: vec![],
        inputs: None,
        prior_id: Some(h.state.resources["p"].id.clone()),
        recorded: Default::default(),
        options: vec![],
    });
    let err = h.apply_with(&plan, ApplyOptions::default(), CancelFlag::default()).await.unwrap_err();
    assert_eq!(err.to_string(), "the plan would delete protected resource `p`");
}

#[tokio::test]
async fn cancelling_stops_scheduling_and_keeps_what_finished() {
    let mut h = Harness::new();
    let stack = h.stack(&[thing("a", ""), thing("b", "      ref: ${a.arn}\n")].concat());
    let plan = h.plan(&stack, false);
    let cancel = CancelFlag::default();
    cancel.cancel();
    let report = h.apply_with(&plan, ApplyOptions::default(), cancel).await.unwrap();
    assert!(report.interrupted);
    assert_eq!(report.counts.created, 0);
    assert_eq!(report.skipped.len(), 2);
}

#[tokio::test]
async fn an_interrupted_create_is_adopted_not_created_twice() {
    let mut h = Harness::new();
    h.cloud.hang_after_create.lock().unwrap().insert("b".into());
    let stack = h.stack(
        &[
            thing("a", ""),
            thing("b", "      ref: ${a.arn}\n    options: {protect: true, retainOnDelete: true}\n"),
            thing("c", "      ref: ${b.arn}\n"),
        ]
        .concat(),
    );
    let plan = h.plan(&stack, false);
    let file = saved(&plan, None);
    let outputs = file.output_values();
    let base = h.state.clone();
    {
        let journal = JournalWriter::open(&h.journal_path(), None).unwrap();
        let run = apply::apply(ApplyRun {
            steps: &file.steps,
            outputs: &outputs,
            state: base.clone(),
            registry: &h.registry,
            region: None,
            options: ApplyOptions::default(),
            journal,
            events: None,
            cancel: CancelFlag::default(),
            operation: "apply",
            gone: &[],
            lock: None,
        });
        // The process "dies" while b's create call is in flight: the future is dropped mid-call.
        let outcome = tokio::time::timeout(Duration::from_millis(300), run).await;
        assert!(outcome.is_err(), "the run hangs on b");
    }
    assert_eq!(h.cloud.count("b"), 1, "b exists in the cloud, but the run never learned its id");

    // The next run: replay the journal onto the state it started from, reconcile, plan.
    let records = journal::read(&h.journal_path(), None).unwrap();
    let mut state = base;
    journal::replay(&mut state, &records).unwrap();
    assert_eq!(state.resources.keys().collect::<Vec<_>>(), ["a"]);
    assert_eq!(state.pending.len(), 1);
    h.cloud.hang_after_create.lock().unwrap().clear();
    let reconciled =
        apply::reconcile::reconcile(&mut state, &h.registry, true, apply::reconcile::SETTLE).await.unwrap();
    assert!(reconciled.notes[0].starts_with("b: adopted b-"), "{:?}", reconciled.notes);
    // Adopted with what its intent recorded: its edges and options (it used to come back unprotected, no edges).
    let adopted = &state.resources["b"];
    assert!(adopted.protect && adopted.retain_on_delete, "{adopted:?}");
    assert_eq!(adopted.dependencies, ["a"]);
    h.state = state;
    std::fs::remove_file(h.journal_path()).unwrap();
    let plan = h.plan(&stack, false);
    let names: Vec<(&str, Action)> = plan.changes.iter().map(|c| (c.name.as_str(), c.action)).collect();
    assert_eq!(names, [("c", Action::Create)], "b is adopted, only c is left");
    h.converge(&stack).await;
    assert_eq!((h.cloud.count("a"), h.cloud.count("b"), h.cloud.count("c")), (1, 1, 1));
    assert!(!h.plan(&stack, false).has_changes());
}

#[tokio::test]
async fn refresh_reports_drift_and_deleted_resources() {
    let mut h = Harness::new();
    let stack = h.stack(&[thing("a", "      value: v\n"), thing("b", "")].concat());
    h.converge(&stack).await;
    let a = h.state.resources["a"].id.clone();
    let b = h.state.resources["b"].id.clone();
    {
        let mut cloud = h.cloud.resources.lock().unwrap();
        if let Some(r) = cloud.get_mut(&a) {
            r.3 = Value::from_json(&serde_json::json!({"name": "a", "value": "changed by hand"}));
        }
        cloud.remove(&b);
    }
    let mut state = h.state.clone();
    let refreshed = apply::refresh::refresh(&mut state, &h.registry, 4).await.unwrap();
    assert_eq!(refreshed.drift.len(), 2);
    assert_eq!(refreshed.drift[0].diff[0].path, "value");
    assert!(refreshed.drift[1].gone);
    h.state = state;
    let plan = h.plan(&stack, false);
    let names: Vec<(&str, Action)> = plan.changes.iter().map(|c| (c.name.as_str(), c.action)).collect();
    assert_eq!(names, [("a", Action::Update), ("b", Action::Create)]);
}

#[tokio::test]
async fn a_type_without_a_provider_fails_its_step_and_skips_its_dependents() {
    let mut h = Harness::new();
    h.registry.add_schema(
        ResourceSchema::new("test:fake:Unimplemented", "no provider")
            .property(Property::string("name"))
            .output("arn", "arn"),
    );
    let stack = h.stack(
        &[
            "  ghost:\n    type: test:fake:Unimplemented\n    properties: {name: g}\n".to_string(),
            thing("child", "      ref: ${ghost.arn}\n"),
            thing("grandchild", "      ref: ${child.arn}\n"),
            thing("free", ""),
        ]
        .concat(),
    );
    let plan = h.plan(&stack, false);
    let report = h.apply_with(&plan, ApplyOptions::default(), CancelFlag::default()).await.unwrap();
    assert_eq!(report.errors.len(), 1);
    assert_eq!(
        report.errors[0].cause.to_string(),
        "stackr cannot manage test:fake:Unimplemented resources yet: this build has no provider for the type"
    );
    assert_eq!(
        report.skipped,
        vec![
            ("child".to_string(), "`ghost` did not complete".to_string()),
            ("grandchild".to_string(), "`child` did not complete".to_string()),
        ]
    );
    assert_eq!(h.state.resources.keys().collect::<Vec<_>>(), ["free"]);
}

#[tokio::test]
async fn an_update_keeps_the_create_token_the_state_records() {
    let mut h = Harness::new();
    let tagged = |value: &str| {
        format!("  t:\n    type: test:fake:Tagged\n    properties:\n      name: t\n      value: {value}\n")
    };
    h.converge(&h.stack(&tagged("one"))).await;
    let token = h.state.resources["t"].create_token.clone();
    assert!(token.is_some(), "a tagged type records its create token");
    let report = h.converge(&h.stack(&tagged("two"))).await;
    assert_eq!(report.counts.updated, 1);
    // The token is how a later delete of a retired half knows it is still this resource: an update keeps it.
    assert_eq!(h.state.resources["t"].create_token, token);
}

#[tokio::test]
async fn an_error_that_quotes_a_secret_input_is_reported_without_it() {
    let mut h = Harness::new();
    h.codec = Some(Arc::new(stackr_state::secrets::KeyCodec::create("p").unwrap().0));
    h.cloud.fail.lock().unwrap().insert("s".into());
    let stack = h.stack(&thing("s", "      value: {fn::secret: hunter2-marker}\n"));
    let plan = h.plan(&stack, false);
    let report = h.apply_with(&plan, ApplyOptions::default(), CancelFlag::default()).await.unwrap();
    let shown = report.errors[0].cause.to_string();
    assert!(shown.contains("s is broken: refused") && shown.contains("(secret)"), "{shown}");
    assert!(!shown.contains("hunter2-marker"), "{shown}");
}

/// The plan as apply gets it: saved (secrets sealed under `codec`), read back and opened, so that every test
/// runs the program from its serialised form, not the planner's structures.
fn saved(plan: &Plan, codec: Option<&dyn stackr_state::secrets::SecretsCodec>) -> PlanFile {
    let file =
        PlanFile::new(plan, std::path::Path::new("stack.yaml"), Default::default(), BTreeMap::new(), None, Vec::new());
    let bytes = file.to_bytes(codec).unwrap_or_else(|e| panic!("{e}"));
    let mut read = PlanFile::from_bytes(&bytes).unwrap_or_else(|e| panic!("{e}"));
    read.open(codec).unwrap_or_else(|e| panic!("{e}"));
    read
}
