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
