//! The moto harness: the shared `moto_server` (stackr_providers::moto) and a small driver that plans and applies stacks through the real engine
//! and the real providers, as `stackr` does.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use aws_config::SdkConfig;
use stackr_engine::apply::{self, ApplyOptions, ApplyReport, ApplyRun, CancelFlag};
use stackr_engine::eval::Builtins;
use stackr_engine::plan::file::PlanFile;
use stackr_engine::plan::{self, Plan, PlanRequest};
use stackr_engine::provider::Registry;
use stackr_engine::stack::{self, Stack};
use stackr_state::journal::JournalWriter;
use stackr_state::StateFile;

pub use stackr_providers::moto::sdk_config;

/// A stack under test: its directory, the registry with real providers, and its state.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub registry: Registry,
    pub config: SdkConfig,
    pub state: StateFile,
    pub name: String,
}

impl Env {
    pub async fn new(name: &str) -> Env {
        let config = sdk_config().await;
        let mut registry = stackr_providers::catalog::registry();
        stackr_providers::attach(&mut registry, &config);
        Env { dir: tempfile::tempdir().unwrap(), registry, config, state: StateFile::new(name), name: name.to_string() }
    }

    pub fn write(&self, relative: &str, contents: &str) {
        let path = self.dir.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    /// Loads the stack `name: <env name>` with these resources (and optional extra top-level YAML).
    pub fn stack(&self, body: &str) -> Stack {
        let path = self.dir.path().join("stack.yaml");
        std::fs::write(&path, format!("name: {}\nregion: us-east-1\n{body}", self.name)).unwrap();
        let env: BTreeMap<String, String> = BTreeMap::new();
        stack::load(&path, &self.registry, &env).unwrap_or_else(|d| panic!("{d}"))
    }

    fn builtins(&self) -> Builtins {
        Builtins { stack: self.name.clone(), region: Some("us-east-1".into()), account_id: Some("123456789012".into()) }
    }

    /// Refreshes (in place) and plans, as `stackr plan` does.
    pub async fn plan(&mut self, stack: &Stack) -> Plan {
        let refreshed =
            apply::refresh::refresh(&mut self.state, &self.registry, 8).await.expect("refresh in the stack's place");
        assert!(refreshed.unread.is_empty(), "{:?}", refreshed.unread);
        let b = self.builtins();
        let state = (!self.state.resources.is_empty() || self.state.serial > 0).then_some(&self.state);
        plan::plan(PlanRequest {
            stack,
            state,
            registry: &self.registry,
            builtins: &b,
            targets: &[],
            destroy: false,
            drift: refreshed.drift,
        })
        .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn apply_plan(&mut self, plan: &Plan) -> ApplyReport {
        let (codec, _) = stackr_state::secrets::PassphraseCodec::create("moto tests").unwrap();
        let codec: std::sync::Arc<dyn stackr_state::secrets::SecretsCodec> = std::sync::Arc::new(codec);
        // Saved and read back: apply runs the program from its serialised form, as `stackr apply` does.
        let file = PlanFile::new(plan, Path::new("stack.yaml"), Default::default(), BTreeMap::new(), None, Vec::new());
        let mut file = PlanFile::from_bytes(&file.to_bytes(Some(codec.as_ref())).unwrap()).unwrap();
        file.open(Some(codec.as_ref())).unwrap();
        let outputs = file.output_values();
        let journal = JournalWriter::open(&self.dir.path().join("journal"), Some(codec)).unwrap();
        let report = apply::apply(ApplyRun {
            steps: &file.steps,
            outputs: &outputs,
            state: self.state.clone(),
            registry: &self.registry,
            region: Some("us-east-1".into()),
            options: ApplyOptions { parallelism: 8, allow_data_loss: true },
            journal,
            events: None,
            cancel: CancelFlag::default(),
            operation: "apply",
            gone: &[],
            lock: None,
        })
        .await
        .unwrap();
        std::fs::remove_file(self.dir.path().join("journal")).ok();
        self.state = report.state.clone();
        self.state.serial += 1;
        assert!(report.errors.is_empty(), "apply failed: {:?}", report.errors);
        report
    }

    /// Plans and applies; returns the plan that was applied.
    pub async fn converge(&mut self, stack: &Stack) -> Plan {
        let plan = self.plan(stack).await;
        self.apply_plan(&plan).await;
        plan
    }

    /// A fresh plan must be empty: nothing AWS reports differs from the stack.
    pub async fn assert_no_changes(&mut self, stack: &Stack) {
        let plan = self.plan(stack).await;
        assert!(
            !plan.has_changes() && plan.drift.is_empty(),
            "expected no changes:\n{}",
            stackr_engine::render::text::render(&plan, stackr_engine::render::Style::PLAIN)
        );
    }

    pub fn id(&self, name: &str) -> String {
        self.state.resources.get(name).unwrap_or_else(|| panic!("{name} not in state")).id.clone()
    }

    pub fn output(&self, name: &str, output: &str) -> String {
        self.state.resources[name].outputs[output].as_str().unwrap_or_default().to_string()
    }
}

/// `(name, action)` of every change, in apply order.
pub fn actions(plan: &Plan) -> Vec<(String, &'static str)> {
    plan.changes.iter().map(|c| (c.name.clone(), c.action.name())).collect()
}
