//! The S3 lock's lease is renewed while a long apply runs. In a test binary of its own, so that its moto server
//! is not shared: under the load of the other S3 tests, moto stalled the renewals long enough to fail the timing.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

const BUCKET: &str = "stackr-lease";

fn stack(backend: &str, count: usize) -> String {
    let mut yaml = format!("name: lease\nregion: us-east-1\nbackend: {backend}\nresources:\n");
    for i in 0..count {
        yaml.push_str(&format!(
            "  logs{i:03}:\n    type: aws:cloudwatch:LogGroup\n    properties: {{name: /lease/{i:03}}}\n"
        ));
    }
    yaml
}

async fn s3() -> aws_sdk_s3::Client {
    let config = stackr_providers::moto::sdk_config().await;
    let client =
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    client.create_bucket().bucket(BUCKET).send().await.unwrap();
    client
}

async fn object(client: &aws_sdk_s3::Client, key: &str) -> Option<Vec<u8>> {
    let out = client.get_object().bucket(BUCKET).key(key).send().await.ok()?;
    Some(out.body.collect().await.unwrap().into_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_long_apply_renews_its_lease_and_is_never_reported_stale() {
    // A run of 150 log groups, one at a time, holding an S3 lock with a 4 s lease (renewed every second): the lock
    // object, read while the run goes on, is never stale, and its renewal time moves on.
    let client = s3().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = format!("s3://{BUCKET}/teams/lease?region=us-east-1");
    std::fs::write(d.join("stack.yaml"), stack(&url, 150)).unwrap();
    let mut first = support::command(d)
        .args(["apply", "stack.yaml", "--auto-approve", "--parallelism", "1"])
        .env("STACKR_LOCK_LEASE_SECONDS", "4")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut renewals = std::collections::BTreeSet::new();
    let mut longest = 0;
    loop {
        if let Some(bytes) = object(&client, "teams/lease/lease.lock").await {
            let info: stackr_state::lock::LockInfo = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(info.lease_expired(), None, "a running apply's lock is never stale: {info:?}");
            renewals.insert(info.renewed);
            longest = longest.max(info.renewed.saturating_sub(info.started));
        }
        if tokio::task::block_in_place(|| first.try_wait()).unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(first.wait().unwrap().success());
    assert!(longest > 4, "renewed past its first lease ({longest} s after it started; renewals {renewals:?})");
    assert!(object(&client, "teams/lease/lease.lock").await.is_none(), "released");
}

fn keys_stack(backend: &str, count: usize) -> String {
    let mut yaml = format!("name: fenced\nregion: us-east-1\nbackend: {backend}\nresources:\n");
    for i in 0..count {
        yaml.push_str(&format!(
            "  key{i:02}:\n    type: aws:kms:Key\n    properties: {{description: fenced-{i:02}}}\n"
        ));
    }
    yaml
}

/// Descriptions of the live keys whose description starts with `fenced-`, one entry per key.
async fn fenced_keys() -> Vec<String> {
    let kms = aws_sdk_kms::Client::new(&stackr_providers::moto::sdk_config().await);
    let mut found = Vec::new();
    for key in kms.list_keys().limit(1000).send().await.unwrap().keys() {
        let described = kms.describe_key().key_id(key.key_id().unwrap()).send().await.unwrap();
        let metadata = described.key_metadata().unwrap();
        let live = metadata.key_state().map(|s| s.as_str()) != Some("PendingDeletion");
        if let (true, Some(d)) = (live, metadata.description().filter(|d| d.starts_with("fenced-"))) {
            found.push(d.to_string());
        }
    }
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_that_lost_its_lock_while_paused_stops_writing() {
    // A run paused (SIGSTOP) past its lease, its lock removed with `state unlock`, another run applies the stack;
    // resumed, the first run used to go on creating keys (duplicates) and appending journal objects without a
    // Begin record. It must notice that the lock is no longer its own and stop.
    let client = s3().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = format!("s3://{BUCKET}/teams/fenced?region=us-east-1");
    std::fs::write(d.join("stack.yaml"), keys_stack(&url, 40)).unwrap();
    let first = support::command(d)
        .args(["apply", "stack.yaml", "--auto-approve", "--parallelism", "1"])
        .env("STACKR_LOCK_LEASE_SECONDS", "2")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = first.id().to_string();
    let journal = |client: aws_sdk_s3::Client| async move {
        let listed = client.list_objects_v2().bucket(BUCKET).prefix("teams/fenced/fenced.journal/").send().await;
        listed.map(|l| l.key_count().unwrap_or(0)).unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while journal(client.clone()).await < 6 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stopped = std::process::Command::new("kill").args(["-STOP", &pid]).status().unwrap();
    assert!(stopped.success());
    tokio::time::sleep(Duration::from_secs(3)).await;

    let unlocked = support::stackr(d, &["state", "unlock", "stack.yaml"]);
    assert!(unlocked.status.success(), "the lease ran out: {}", String::from_utf8_lossy(&unlocked.stderr));
    let second = support::stackr(d, &["apply", "stack.yaml", "--auto-approve"]);
    let second_says = String::from_utf8_lossy(&second.stderr).into_owned();
    assert!(second.status.success(), "{second_says}");

    let resumed = std::process::Command::new("kill").args(["-CONT", &pid]).status().unwrap();
    assert!(resumed.success());
    let first = tokio::task::block_in_place(|| first.wait_with_output()).unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert_eq!(first.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("this run no longer holds its lock"), "{stderr}");

    // Resumed, the run made no call after its next lock check: the only call that can still land is the one
    // already past its check when the process was stopped. If that one created a key the second run did not
    // adopt, the first run names it (an SDK cannot take a sent request back; see docs/STATE.md).
    let mut keys = fenced_keys().await;
    let described = keys.len();
    keys.dedup();
    let expected: Vec<String> = (0..40).map(|i| format!("fenced-{i:02}")).collect();
    assert_eq!(keys, expected, "every key exists; the first run said:\n{stderr}\nthe second:\n{second_says}");
    assert!(described <= 41, "at most the call in flight at the pause landed late: {described} keys\n{stderr}");
    if described == 41 {
        let state: serde_json::Value =
            serde_json::from_slice(&object(&client, "teams/fenced/fenced.state.json").await.unwrap()).unwrap();
        let recorded: Vec<&str> =
            state["resources"].as_object().unwrap().values().filter_map(|r| r["id"].as_str()).collect();
        let kms = aws_sdk_kms::Client::new(&stackr_providers::moto::sdk_config().await);
        let listed = kms.list_keys().limit(1000).send().await.unwrap();
        let late: Vec<&str> =
            listed.keys().iter().filter_map(|k| k.key_id()).filter(|id| !recorded.contains(id)).collect();
        assert!(
            late.iter().any(|id| stderr.contains(&format!("the call took effect ({id} exists in AWS)"))),
            "the late key {late:?} is named: {stderr}"
        );
    }
    assert_eq!(journal(client.clone()).await, 0, "no journal objects written after the lock was lost");
    let plan = support::stackr(d, &["plan", "stack.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));
}
