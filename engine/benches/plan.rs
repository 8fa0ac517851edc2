//! Benchmark: validate (load + check) and plan (empty state, no refresh) of generated stacks.
//!
//! `cargo bench -p stackr-engine --bench plan` runs 1,000, 10,000 and 50,000 resources, each size in a fresh
//! child process so that its peak memory (VmHWM) is its own. `-- 10000` runs one size in this process.
//! Figures are recorded in docs/PERFORMANCE.md.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Instant;

use stackr_engine::eval::Builtins;
use stackr_engine::plan::{self, PlanRequest};
use stackr_engine::render::{self, Style};
use stackr_engine::stack;

/// A stack of `n` resources in groups of five: a table, a topic, a role whose policy names the table, an alarm
/// notifying the topic, a log group. Every group also refers to the previous group's table.
fn generate(n: usize) -> String {
    let mut out = String::with_capacity(n * 400);
    out.push_str("name: bench\nregion: us-east-1\nparameters:\n  env: {type: string, default: bench}\n");
    out.push_str("defaultTags: {Project: bench, Environment: \"${env}\"}\nresources:\n");
    for i in 0..n {
        let g = i / 5;
        let _ = match i % 5 {
            0 => write!(
                out,
                "  table{g}:\n    type: aws:dynamodb:Table\n    properties:\n      name: t-{g}\n      hashKey: id\n      attributes: [{{name: id, type: S}}]\n      ttl: {{attributeName: exp, enabled: true}}\n"
            ),
            1 => write!(out, "  topic{g}:\n    type: aws:sns:Topic\n    properties:\n      name: topic-{g}\n"),
            2 => {
                let previous = if g > 0 { format!(", \"${{table{}.arn}}\"", g - 1) } else { String::new() };
                write!(
                    out,
                    "  role{g}:\n    type: aws:iam:Role\n    properties:\n      name: role-{g}\n      assumeRolePolicy: {{Version: \"2012-10-17\", Statement: [{{Effect: Allow, Principal: {{Service: lambda.amazonaws.com}}, Action: sts:AssumeRole}}]}}\n      inlinePolicies:\n        - name: data\n          policy: {{Version: \"2012-10-17\", Statement: [{{Effect: Allow, Action: [dynamodb:GetItem], Resource: [\"${{table{g}.arn}}\"{previous}]}}]}}\n"
                )
            }
            3 => write!(
                out,
                "  alarm{g}:\n    type: aws:cloudwatch:MetricAlarm\n    properties:\n      name: alarm-{g}\n      namespace: AWS/DynamoDB\n      metricName: ThrottledRequests\n      dimensions: {{TableName: \"${{table{g}.name}}\"}}\n      period: 300\n      evaluationPeriods: 1\n      threshold: 1\n      comparisonOperator: GreaterThanThreshold\n      alarmActions: [\"${{topic{g}.arn}}\"]\n"
            ),
            _ => write!(
                out,
                "  logs{g}:\n    type: aws:cloudwatch:LogGroup\n    properties:\n      name: /bench/{g}\n      retentionInDays: 7\n"
            ),
        };
    }
    out
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn run_one(n: usize) {
    let dir = std::env::temp_dir().join(format!("stackr-bench-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bench.yaml");
    std::fs::write(&path, generate(n)).unwrap();
    let registry = stackr_providers::catalog::registry();
    let env: BTreeMap<String, String> = BTreeMap::new();

    let start = Instant::now();
    let stack = stack::load(&path, &registry, &env).unwrap_or_else(|d| panic!("{d}"));
    let validate = start.elapsed();

    let start = Instant::now();
    let builtins = Builtins { stack: stack.name.clone(), region: stack.region.clone(), account_id: None };
    let plan = plan::plan(PlanRequest {
        stack: &stack,
        state: None,
        registry: &registry,
        builtins: &builtins,
        targets: &[],
        destroy: false,
        drift: Vec::new(),
    })
    .unwrap();
    let planning = start.elapsed();
    let start = Instant::now();
    let text = render::text::render(&plan, Style::PLAIN);
    let rendering = start.elapsed();
    assert_eq!(plan.summary().create, n);
    println!(
        "| {n:>6} | {:>9.1} ms | {:>9.1} ms | {:>9.1} ms | {:>9.1} ms | {:>7.0} MiB | {:>5.1} MB |",
        validate.as_secs_f64() * 1e3,
        planning.as_secs_f64() * 1e3,
        (validate + planning).as_secs_f64() * 1e3,
        rendering.as_secs_f64() * 1e3,
        peak_rss_mib(),
        text.len() as f64 / 1e6,
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn main() {
    let sizes: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    if let [n] = sizes.as_slice() {
        run_one(*n);
        return;
    }
    println!("| resources | validate | plan | validate + plan | render text | peak RSS | text size |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let exe = std::env::current_exe().unwrap();
    for n in if sizes.is_empty() { vec![1_000, 10_000, 50_000] } else { sizes } {
        let status = std::process::Command::new(&exe).arg(n.to_string()).status().unwrap();
        assert!(status.success());
    }
}
