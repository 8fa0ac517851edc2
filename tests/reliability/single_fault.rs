//! The exhaustive single-fault test: a representative stack (a KMS key, a table, a secret, a role, a function, a
//! topic) is applied from nothing with exactly one fault injected at request k, for every k of the run's AWS calls
//! (and, on the S3 backend, its state-store calls), then applied again without faults. Every k must converge:
//! each resource exists exactly once in AWS, the state names each once, the next plan is empty.
//!
//! Position k gets one fault kind, rotating over the three: the call answered 500 (the SDK retries it), the
//! answer lost after the call took effect (the SDK retries a call that already happened), and stackr killed with
//! SIGKILL just after the call took effect. Runs use `--parallelism 1`, so the request at position k is the same
//! in every run and a failure reproduces. Local-backend state writes are not HTTP requests: a kill just after
//! each AWS call lands before that call's outcome is journaled, which is the position that matters there.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use super::support::faults::{self, kill_when_held, proxy, run, sdk, spawn, Fault};
use super::support::status;

const STACK: &str = r#"name: faults
region: us-east-1
BACKEND
resources:
  key:
    type: aws:kms:Key
    properties: {description: faults-key, enableKeyRotation: true}
  table:
    type: aws:dynamodb:Table
    properties:
      name: faults-table
      billingMode: PAY_PER_REQUEST
      hashKey: id
      attributes: [{name: id, type: S}]
      ttl: {attributeName: expiresAt, enabled: true}
      serverSideEncryption: {enabled: true, kmsKeyArn: "${key.arn}"}
  secret:
    type: aws:secretsmanager:Secret
    properties: {name: faults-secret, kmsKeyId: "${key.arn}", secretString: {fn::secret: s3cr3t}}
  role:
    type: aws:iam:Role
    properties:
      name: faults-role
      assumeRolePolicy: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: "sts:AssumeRole"}]}
      inlinePolicies: [{name: logs, policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "logs:CreateLogGroup", Resource: "*"}]}}]
  function:
    type: aws:lambda:Function
    properties: {name: faults-function, runtime: python3.12, handler: app.handler, role: "${role.arn}", code: ./code}
  topic:
    type: aws:sns:Topic
    properties: {name: faults-topic, kmsMasterKeyId: "${key.arn}"}
"#;

const KINDS: [Fault; 3] = [Fault::Hold, Fault::LoseResponse, Fault::ServerError];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Backend {
    Local,
    S3,
}

fn setup(d: &Path, backend: Backend, bucket: &str) {
    let line = match backend {
        Backend::Local => String::new(),
        Backend::S3 => format!("backend: s3://{bucket}/state?region=us-east-1"),
    };
    std::fs::write(d.join("stack.yaml"), STACK.replace("BACKEND", &line)).unwrap();
    std::fs::create_dir_all(d.join("code")).unwrap();
    std::fs::write(d.join("code/app.py"), "def handler(event, context):\n    return {}\n").unwrap();
}

/// One scenario: a fresh moto account, the fault at `position` (or none: `None` counts the requests).
async fn scenario(backend: Backend, account: u64, position: Option<usize>) -> Result<usize, String> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let bucket = format!("faults-state-{account}");
    setup(d, backend, &bucket);
    let kind = position.map_or(Fault::ServerError, |k| KINDS[k % 3]);
    let proxy = proxy(&account.to_string(), faults::every(), position.unwrap_or(usize::MAX), kind).await;
    let e = proxy.endpoint.clone();
    let config = sdk(&e).await;
    if backend == Backend::S3 {
        proxy.disarm();
        let s3 =
            aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
        s3.create_bucket().bucket(&bucket).send().await.map_err(|e| format!("bucket: {e}"))?;
        proxy.arm();
    }
    let apply = ["apply", "stack.yaml", "--auto-approve", "--parallelism", "1"];
    if kind == Fault::Hold && position.is_some() {
        let child = spawn(d, &e, &apply);
        kill_when_held(child, &proxy);
    } else {
        let out = run(d, &e, &apply);
        if position.is_none() && !out.status.success() {
            return Err(format!("the clean run failed: {}", status(&out).1));
        }
    }
    let requests = proxy.matched();
    proxy.disarm();
    if backend == Backend::S3 && kind == Fault::Hold && position.is_some() {
        // An S3 lock is never taken over automatically (the killed run's machine cannot be seen from here): the
        // operator removes it, as the error's hint says.
        let (code, text) = status(&run(d, &e, &["state", "unlock", "stack.yaml", "--force"]));
        if code != Some(0) {
            return Err(format!("state unlock failed: {text}"));
        }
    }
    let at =
        || format!("fault {kind:?} at request {position:?} ({:?})", position.and_then(|k| proxy.log().get(k).cloned()));
    let (code, text) = status(&run(d, &e, &["apply", "stack.yaml", "--auto-approve"]));
    if code != Some(0) {
        return Err(format!("{}: the clean apply failed: {text}", at()));
    }
    let (code, text) = status(&run(d, &e, &["plan", "stack.yaml", "--detailed-exitcode"]));
    if code != Some(0) {
        return Err(format!("{}: the next plan is not empty: {text}", at()));
    }
    // Exactly once in AWS, and the state names exactly those.
    let listed = String::from_utf8_lossy(&run(d, &e, &["state", "list", "stack.yaml"]).stdout).into_owned();
    let journal_left = match backend {
        Backend::Local => d.join(".stackr/faults.journal").exists(),
        Backend::S3 => {
            let s3 = aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build(),
            );
            let listed = s3.list_objects_v2().bucket(&bucket).prefix("state/faults.journal/").send().await;
            listed.map_err(|e| e.to_string())?.key_count().unwrap_or(0) > 0
        }
    };
    if journal_left {
        return Err(format!("{}: the journal was left behind after a clean apply", at()));
    }
    let recorded: BTreeMap<String, String> = listed
        .lines()
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            Some((parts.next()?.to_string(), parts.nth(1)?.to_string()))
        })
        .collect();
    if recorded.len() != 6 {
        return Err(format!("{}: the state lists {} resources: {listed}", at(), recorded.len()));
    }
    let kms = aws_sdk_kms::Client::new(&config);
    let mut live = Vec::new();
    for key in kms.list_keys().send().await.map_err(|e| e.to_string())?.keys() {
        let id = key.key_id().unwrap_or_default();
        let described = kms.describe_key().key_id(id).send().await.map_err(|e| e.to_string())?;
        let metadata = described.key_metadata().cloned().unwrap();
        if metadata.key_state().map(|s| s.as_str()) != Some("PendingDeletion") {
            live.push(id.to_string());
        }
    }
    if live.len() != 1 || recorded.get("key") != Some(&live[0]) {
        return Err(format!("{}: live keys {live:?}, the state records {:?}", at(), recorded.get("key")));
    }
    let tables = aws_sdk_dynamodb::Client::new(&config).list_tables().send().await.map_err(|e| e.to_string())?;
    let secrets =
        aws_sdk_secretsmanager::Client::new(&config).list_secrets().send().await.map_err(|e| e.to_string())?;
    let roles = aws_sdk_iam::Client::new(&config).list_roles().send().await.map_err(|e| e.to_string())?;
    let functions = aws_sdk_lambda::Client::new(&config).list_functions().send().await.map_err(|e| e.to_string())?;
    let topics = aws_sdk_sns::Client::new(&config).list_topics().send().await.map_err(|e| e.to_string())?;
    let counts = [
        ("tables", tables.table_names().len()),
        ("secrets", secrets.secret_list().len()),
        ("roles", roles.roles().iter().filter(|r| r.role_name() == "faults-role").count()),
        ("functions", functions.functions().len()),
        ("topics", topics.topics().len()),
    ];
    if counts.iter().any(|(_, n)| *n != 1) {
        return Err(format!("{}: each resource once, found {counts:?}", at()));
    }
    Ok(requests)
}

/// Prints the figures docs/RELIABILITY.md records (seen with `--nocapture`).
#[allow(clippy::print_stderr)]
async fn every_position(backend: Backend, base: u64) {
    let started = Instant::now();
    let requests = scenario(backend, base, None).await.unwrap();
    assert!(requests > 10, "the clean run makes the stack's calls: {requests}");
    // STACKR_FAULT_POSITIONS=N tries only the first N positions (for a quick local run); CI tries them all.
    let limit = std::env::var("STACKR_FAULT_POSITIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(requests);
    let positions: Vec<usize> = (0..requests.min(limit)).collect();
    let mut failures = Vec::new();
    // Six scenarios at a time: each has its own moto account and directory.
    for chunk in positions.chunks(6) {
        let runs: Vec<_> =
            chunk.iter().map(|&k| tokio::spawn(scenario(backend, base + 1 + k as u64, Some(k)))).collect();
        for joined in runs {
            if let Err(e) = joined.await.unwrap() {
                failures.push(e);
            }
        }
    }
    eprintln!(
        "single faults ({}): {} positions of {requests} requests tried in {:.1} s",
        if backend == Backend::Local { "local backend" } else { "S3 backend" },
        positions.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{} positions did not converge:\n{}", failures.len(), failures.join("\n"));
}

// Scenarios block a worker each while stackr runs; the proxies need workers of their own.
#[tokio::test(flavor = "multi_thread", worker_threads = 12)]
async fn every_single_fault_converges_on_the_local_backend() {
    every_position(Backend::Local, 300_000_000_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 12)]
async fn every_single_fault_converges_on_the_s3_backend() {
    every_position(Backend::S3, 400_000_000_000).await;
}

const REPLACED: &str = "name: replaced\nregion: us-east-1\nresources:\n  orders:\n    type: aws:dynamodb:Table\n    properties: {name: NAME, billingMode: PAY_PER_REQUEST, hashKey: id, attributes: [{name: id, type: S}], ttl: {attributeName: expiresAt, enabled: true}}\n";

/// A create-before-delete replacement (the table renamed) with the fault at `position` of the replacing run
/// (or none: `None` counts its requests), then a clean apply: only the new table is left, nothing pending.
async fn replacement(account: u64, position: Option<usize>) -> Result<usize, String> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("stack.yaml"), REPLACED.replace("NAME", "replaced-v1")).unwrap();
    let kind = position.map_or(Fault::ServerError, |k| KINDS[k % 3]);
    let proxy = proxy(&account.to_string(), faults::every(), position.unwrap_or(usize::MAX), kind).await;
    let e = proxy.endpoint.clone();
    proxy.disarm();
    let (code, text) = status(&run(d, &e, &["apply", "stack.yaml", "--auto-approve"]));
    if code != Some(0) {
        return Err(format!("the first apply failed: {text}"));
    }
    std::fs::write(d.join("stack.yaml"), REPLACED.replace("NAME", "replaced-v2")).unwrap();
    proxy.arm();
    let apply = ["apply", "stack.yaml", "--auto-approve", "--allow-data-loss", "--parallelism", "1"];
    if kind == Fault::Hold && position.is_some() {
        kill_when_held(spawn(d, &e, &apply), &proxy);
    } else {
        let out = run(d, &e, &apply);
        if position.is_none() && !out.status.success() {
            return Err(format!("the clean replacement failed: {}", status(&out).1));
        }
    }
    let requests = proxy.matched();
    proxy.disarm();
    let at =
        || format!("fault {kind:?} at request {position:?} ({:?})", position.and_then(|k| proxy.log().get(k).cloned()));
    let (code, text) = status(&run(d, &e, &["apply", "stack.yaml", "--auto-approve", "--allow-data-loss"]));
    if code != Some(0) {
        return Err(format!("{}: the clean apply failed: {text}", at()));
    }
    let (code, text) = status(&run(d, &e, &["plan", "stack.yaml", "--detailed-exitcode"]));
    if code != Some(0) {
        return Err(format!("{}: the next plan is not empty: {text}", at()));
    }
    let tables = aws_sdk_dynamodb::Client::new(&sdk(&e).await).list_tables().send().await.map_err(|e| e.to_string())?;
    if tables.table_names() != ["replaced-v2"] {
        return Err(format!("{}: tables {:?}", at(), tables.table_names()));
    }
    let state: serde_json::Value = std::fs::read(d.join(".stackr/replaced.state.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if state["pending"] != serde_json::json!([]) || state["resources"]["orders"]["id"] != "replaced-v2" {
        return Err(format!("{}: the state is not settled: {state}", at()));
    }
    Ok(requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 12)]
#[allow(clippy::print_stderr)]
async fn every_single_fault_in_a_replacement_converges() {
    let started = Instant::now();
    let base = 500_000_000_000;
    let requests = replacement(base, None).await.unwrap();
    assert!(requests > 5, "the replacing run reads, creates and deletes: {requests}");
    let mut failures = Vec::new();
    let positions: Vec<usize> = (0..requests).collect();
    for chunk in positions.chunks(6) {
        let runs: Vec<_> = chunk.iter().map(|&k| tokio::spawn(replacement(base + 1 + k as u64, Some(k)))).collect();
        for joined in runs {
            if let Err(e) = joined.await.unwrap() {
                failures.push(e);
            }
        }
    }
    eprintln!(
        "single faults (replacement, local backend): {} positions tried in {:.1} s",
        positions.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{} positions did not converge:\n{}", failures.len(), failures.join("\n"));
}
