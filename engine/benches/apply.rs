//! Benchmarks of the apply engine with an in-process fake provider (no AWS):
//! (a) 10,000 steps with no latency, journal on (fsync per group commit): engine overhead;
//! (b) 1,000 steps of 20 ms simulated latency on a wide graph at parallelism 10, against N·L/P;
//! (c) durability cost per step: the journal vs rewriting the whole state file per step, at 1,000 and 10,000
//!     resources.
//! `cargo bench -p stackr-engine --bench apply`; figures are recorded in docs/PERFORMANCE.md.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use stackr_engine::apply::{self, ApplyOptions, ApplyRun, CancelFlag};
use stackr_engine::eval::Builtins;
use stackr_engine::plan::file::PlanFile;
use stackr_engine::plan::{self, PlanRequest};
use stackr_engine::provider::{CallContext, Created, Observed, Provider, ProviderError, Registry};
use stackr_engine::schema::{Property, ResourceSchema};
use stackr_engine::stack;
use stackr_engine::value::Value;
use stackr_state::journal::{JournalRecord, JournalWriter};
use stackr_state::{Backend, LocalBackend, ResourceState, StateFile};

struct Fake {
    schema: ResourceSchema,
    latency: Duration,
    next: AtomicUsize,
}

#[async_trait]
impl Provider for Fake {
    fn schema(&self) -> &ResourceSchema {
        &self.schema
    }
    async fn create(&self, _: &CallContext, _: &Value) -> Result<Created, ProviderError> {
        if !self.latency.is_zero() {
            // A precise sleep: tokio's timer rounds up to whole milliseconds (20 ms would take ~21), which would
            // charge the timer's granularity to the engine.
            let latency = self.latency;
            let _ = tokio::task::spawn_blocking(move || std::thread::sleep(latency)).await;
        }
        let id = format!("id-{}", self.next.fetch_add(1, Ordering::Relaxed));
        Ok(Created { outputs: Value::Map(BTreeMap::from([("arn".into(), Value::String(format!("arn:{id}")))])), id })
    }
    async fn read(&self, _: &CallContext, _: &str, _: &Value) -> Result<Option<Observed>, ProviderError> {
        Ok(None)
    }
    async fn update(
        &self,
        _: &CallContext,
        _: &str,
        _: &Value,
        _: &Value,
        _: &[String],
    ) -> Result<Value, ProviderError> {
        Ok(Value::Null)
    }
    async fn delete(&self, _: &CallContext, _: &str, _: &Value) -> Result<(), ProviderError> {
        Ok(())
    }
    async fn import(&self, _: &CallContext, _: &str) -> Result<Option<Observed>, ProviderError> {
        Ok(None)
    }
    async fn find(&self, _: &CallContext, _: &Value, _: &str) -> Result<Option<Observed>, ProviderError> {
        Ok(None)
    }
}

fn registry(latency: Duration) -> Registry {
    let schema = ResourceSchema::new("bench:fake:Thing", "a thing")
        .property(Property::string("name").required())
        .property(Property::string("ref"))
        .output("arn", "arn");
    let mut registry = Registry::default();
    registry.add_provider(Arc::new(Fake { schema, latency, next: AtomicUsize::new(0) }));
    registry
}

/// `n` resources; every resource after the first `width` refers to one `width` places before it, so the graph
/// is `width` chains wide.
fn stack_yaml(n: usize, width: usize) -> String {
    let mut out = String::from("name: bench\nresources:\n");
    for i in 0..n {
        out.push_str(&format!("  r{i}:\n    type: bench:fake:Thing\n    properties:\n      name: r{i}\n"));
        if i >= width {
            out.push_str(&format!("      ref: ${{r{}.arn}}\n", i - width));
        }
    }
    out
}

async fn run(n: usize, width: usize, latency: Duration, parallelism: usize) -> (Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.yaml");
    std::fs::write(&path, stack_yaml(n, width)).unwrap();
    let registry = registry(latency);
    let env: BTreeMap<String, String> = BTreeMap::new();
    let stack = stack::load(&path, &registry, &env).unwrap();
    let builtins = Builtins { stack: "bench".into(), region: None, account_id: None };
    let plan = plan::plan(PlanRequest {
        stack: &stack,
        state: None,
        registry: &registry,
        builtins: &builtins,
        targets: &[],
        destroy: false,
        drift: vec![],
    })
    .unwrap();
    let file = PlanFile::new(&plan, &path, Default::default(), BTreeMap::new(), None, Vec::new());
    let outputs = file.output_values();
    let journal = JournalWriter::open(&dir.path().join("bench.journal"), None).unwrap();
    let started = Instant::now();
    let report = apply::apply(ApplyRun {
        steps: &file.steps,
        outputs: &outputs,
        state: StateFile::new("bench"),
        registry: &registry,
        region: None,
        options: ApplyOptions { parallelism, allow_data_loss: false },
        journal,
        events: None,
        cancel: CancelFlag::default(),
        operation: "apply",
        gone: &[],
        lock: None,
    })
    .await
    .unwrap();
    let applied = started.elapsed();
    assert_eq!(report.counts.created, n);
    assert!(report.errors.is_empty());
    let started = Instant::now();
    LocalBackend::new(dir.path()).persist(&report.state).unwrap();
    (applied, started.elapsed())
}

/// Durability per step: append a Done record to the journal, or rewrite the whole state file.
fn durability(n: usize) -> (Duration, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let writer = JournalWriter::open(&dir.path().join("j"), None).unwrap();
    let resource = |i: usize| ResourceState {
        type_name: "bench:fake:Thing".into(),
        id: format!("id-{i}"),
        inputs: serde_json::json!({"name": format!("r{i}"), "ref": format!("arn:id-{}", i.saturating_sub(1))}),
        outputs: serde_json::json!({"arn": format!("arn:id-{i}")}),
        dependencies: vec![],
        protect: false,
        retain_on_delete: false,
        create_token: None,
    };
    let started = Instant::now();
    for i in 0..n {
        writer
            .append(JournalRecord::Done {
                resource: format!("r{i}"),
                operation: stackr_state::Change::Create,
                state: Some(Box::new(resource(i))),
                retired: None,
            })
            .unwrap();
    }
    let journal = started.elapsed();
    let backend = LocalBackend::new(dir.path());
    let mut state = StateFile::new("bench");
    let started = Instant::now();
    for i in 0..n {
        state.resources.insert(format!("r{i}"), resource(i));
        state.serial += 1;
        backend.persist(&state).unwrap();
    }
    (journal, started.elapsed())
}

#[tokio::main]
async fn main() {
    println!("(a) 10,000 steps, no provider latency, journal fsynced (group commit), parallelism 10, 100 chains:");
    let (applied, persisted) = run(10_000, 100, Duration::ZERO, 10).await;
    println!(
        "    apply {:.0} ms ({:.3} ms a step) + final state write {:.0} ms",
        applied.as_secs_f64() * 1e3,
        applied.as_secs_f64() * 1e3 / 10_000.0,
        persisted.as_secs_f64() * 1e3
    );

    println!("(b) 1,000 steps of 20 ms on a wide graph (1,000 independent resources), parallelism 10:");
    let (applied, _) = run(1_000, 1_000, Duration::from_millis(20), 10).await;
    let (no_latency, _) = run(1_000, 1_000, Duration::ZERO, 10).await;
    println!(
        "    (the same 1,000 steps with no latency take {:.2} s: the engine's own share)",
        no_latency.as_secs_f64()
    );
    let ideal = 1_000.0 * 0.020 / 10.0;
    println!(
        "    wall {:.2} s; N·L/P = {ideal:.2} s; overhead {:+.1}%",
        applied.as_secs_f64(),
        (applied.as_secs_f64() / ideal - 1.0) * 100.0
    );

    println!("(c) durability per step: journal append vs rewriting the whole state file");
    println!("    | resources | journal (total) | per step | rewrite state (total) | per step |");
    for n in [1_000usize, 10_000] {
        let (journal, rewrite) = durability(n);
        println!(
            "    | {n:>6} | {:>9.0} ms | {:.3} ms | {:>9.0} ms | {:.3} ms |",
            journal.as_secs_f64() * 1e3,
            journal.as_secs_f64() * 1e3 / n as f64,
            rewrite.as_secs_f64() * 1e3,
            rewrite.as_secs_f64() * 1e3 / n as f64
        );
    }
}
