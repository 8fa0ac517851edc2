//! Team state on S3 against moto: apply and plan with the state, lock and journal in a bucket; a write from a
//! stale base refused; a concurrent apply refused naming the holder; a killed run replayed from the S3 journal;
//! `state migrate` S3 → file → S3 with nothing lost (same lineage, serial and resources).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use support::faults::{self, proxy, run, sdk, Fault};
use support::{ok, stackr, status};

const BUCKET: &str = "stackr-team-state";

fn stack(backend: &str, count: usize) -> String {
    let mut yaml = format!("name: team\nregion: us-east-1\nbackend: {backend}\nresources:\n");
    for i in 0..count {
        yaml.push_str(&format!(
            "  logs{i:02}:\n    type: aws:cloudwatch:LogGroup\n    properties: {{name: /team/{i:02}}}\n"
        ));
    }
    yaml
}

async fn s3() -> aws_sdk_s3::Client {
    let config = stackr_providers::moto::sdk_config().await;
    let client =
        aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    let _ = client.create_bucket().bucket(BUCKET).send().await;
    client
}

async fn object(client: &aws_sdk_s3::Client, key: &str) -> Option<Vec<u8>> {
    let out = client.get_object().bucket(BUCKET).key(key).send().await.ok()?;
    Some(out.body.collect().await.unwrap().into_bytes().to_vec())
}

#[tokio::test(flavor = "multi_thread")]
async fn state_lock_and_journal_live_in_s3() {
    let client = s3().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let url = format!("s3://{BUCKET}/teams/a?region=us-east-1");
    std::fs::write(d.join("stack.yaml"), stack(&url, 30)).unwrap();

    // A killed run leaves its journal in S3; the next run replays it and converges.
    let mut child =
        support::command(d).args(["apply", "stack.yaml", "--auto-approve", "--parallelism", "1"]).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let listed = client.list_objects_v2().bucket(BUCKET).prefix("teams/a/team.journal/").send().await.unwrap();
        if listed.key_count().unwrap_or(0) >= 3 || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // An S3 lock is never taken over automatically: its holder's machine cannot be seen from here.
    let (code, text) = status(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("the stack is locked by") && text.contains("state unlock"), "{text}");
    // Its lease is current, so `state unlock` wants to be told the run is gone.
    let (code, text) = status(&stackr(d, &["state", "unlock", "stack.yaml"]));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("--force"), "{text}");
    let unlocked = ok(&stackr(d, &["state", "unlock", "stack.yaml", "--force"]));
    assert!(unlocked.starts_with("Removed the lock held by"), "{unlocked}");
    let (code, text) = status(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("note: replaying"), "the S3 journal was replayed: {text}");
    let state: serde_json::Value =
        serde_json::from_slice(&object(&client, "teams/a/team.state.json").await.unwrap()).unwrap();
    assert_eq!(state["resources"].as_object().unwrap().len(), 30);
    assert!(object(&client, "teams/a/team.lock").await.is_none(), "the lock is released");
    assert!(
        client
            .list_objects_v2()
            .bucket(BUCKET)
            .prefix("teams/a/team.journal/")
            .send()
            .await
            .unwrap()
            .key_count()
            .unwrap_or(0)
            == 0,
        "the journal is compacted"
    );
    assert!(!d.join(".stackr/team.state.json").exists(), "nothing local");
    let plan = stackr(d, &["plan", "stack.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));

    // A second writer is refused while the first holds the lock.
    std::fs::write(d.join("stack.yaml"), stack(&url, 40)).unwrap();
    let first = support::command(d)
        .args(["apply", "stack.yaml", "--auto-approve", "--parallelism", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while object(&client, "teams/a/team.lock").await.is_none() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    let (code, text) = status(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("the stack is locked by") && text.contains(&format!("(pid {}, `apply`", first.id())),
        "{text}"
    );
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));

    // A write from a stale base is refused.
    let config = stackr_providers::moto::sdk_config().await;
    let store = stackr_providers::s3_state::S3Store::from_url(&url, &config).unwrap();
    let bytes = store.load("team").await.unwrap().unwrap();
    let mut theirs = bytes.clone();
    theirs.extend_from_slice(b"\n"); // another writer's version (a different ETag)
    client.put_object().bucket(BUCKET).key("teams/a/team.state.json").body(theirs.clone().into()).send().await.unwrap();
    let refused = store.persist("team", bytes.clone()).await.unwrap_err().to_string();
    assert!(refused.contains("changed since it was read (another writer)"), "{refused}");
    assert_eq!(object(&client, "teams/a/team.state.json").await.unwrap(), theirs, "left as the other writer wrote it");

    // Migrate S3 → file → S3: same lineage, serial and resources.
    let before: serde_json::Value =
        serde_json::from_slice(&object(&client, "teams/a/team.state.json").await.unwrap()).unwrap();
    ok(&stackr(d, &["state", "migrate", "stack.yaml", "--to", "file://local-state"]));
    let local: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("local-state/team.state.json")).unwrap()).unwrap();
    std::fs::write(d.join("stack.yaml"), stack("file://local-state", 40)).unwrap();
    ok(&stackr(d, &["state", "migrate", "stack.yaml", "--to", &format!("s3://{BUCKET}/teams/b?region=us-east-1")]));
    let after: serde_json::Value =
        serde_json::from_slice(&object(&client, "teams/b/team.state.json").await.unwrap()).unwrap();
    for copy in [&local, &after] {
        assert_eq!(copy["lineage"], before["lineage"]);
        assert_eq!(copy["serial"], before["serial"]);
        assert_eq!(copy["resources"], before["resources"]);
    }
    std::fs::write(d.join("stack.yaml"), stack(&format!("s3://{BUCKET}/teams/b?region=us-east-1"), 40)).unwrap();
    let plan = stackr(d, &["plan", "stack.yaml", "--detailed-exitcode"]);
    assert_eq!(
        plan.status.code(),
        Some(0),
        "the migrated state is the stack's: {}",
        String::from_utf8_lossy(&plan.stdout)
    );
}

const KEYED: &str = "name: keyed\nregion: us-east-1\nbackend: s3://BUCKET/k?region=us-east-1\nresources:\n  key:\n    type: aws:kms:Key\n    properties: {description: keyed}\n  topic:\n    type: aws:sns:Topic\n    properties: {name: keyed-topic}\n    options: {dependsOn: [key]}\n";

/// A scenario in its own moto account with a state bucket, the fault chosen by `filter` and `position`.
async fn keyed(
    account: &str,
    filter: faults::Filter,
    position: usize,
    fault: Fault,
) -> (tempfile::TempDir, faults::FaultProxy) {
    let dir = tempfile::tempdir().unwrap();
    let bucket = format!("keyed-{account}");
    std::fs::write(dir.path().join("stack.yaml"), KEYED.replace("BUCKET", &bucket)).unwrap();
    let proxy = proxy(account, filter, position, fault).await;
    proxy.disarm();
    let config = sdk(&proxy.endpoint).await;
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    proxy.arm();
    (dir, proxy)
}

async fn live_keys(endpoint: &str) -> usize {
    let kms = aws_sdk_kms::Client::new(&sdk(endpoint).await);
    let mut live = 0;
    for key in kms.list_keys().send().await.unwrap().keys() {
        let described = kms.describe_key().key_id(key.key_id().unwrap()).send().await.unwrap();
        if described.key_metadata().unwrap().key_state().map(|s| s.as_str()) != Some("PendingDeletion") {
            live += 1;
        }
    }
    live
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_response_to_a_journal_write_loses_nothing() {
    // The second journal batch lands, its answer is lost, the SDK retries and gets 412: it was ours.
    let filter: faults::Filter = std::sync::Arc::new(|w: &str| w.starts_with("PUT") && w.contains(".journal/"));
    let (dir, proxy) = keyed("220000000001", filter, 1, Fault::LoseResponse).await;
    let d = dir.path();
    let (code, text) =
        status(&run(d, &proxy.endpoint, &["apply", "stack.yaml", "--auto-approve", "--parallelism", "1"]));
    assert!(proxy.fired(), "the fault was injected");
    assert_eq!(code, Some(0), "a retried batch whose stored body is ours is success: {text}");
    proxy.disarm();
    let (code, text) = status(&run(d, &proxy.endpoint, &["plan", "stack.yaml", "--detailed-exitcode"]));
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(live_keys(&proxy.endpoint).await, 1, "no second key");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_response_to_the_lock_write_is_recognised_as_ours() {
    let filter: faults::Filter = std::sync::Arc::new(|w: &str| w.starts_with("PUT") && w.ends_with(".lock"));
    let (dir, proxy) = keyed("220000000002", filter, 0, Fault::LoseResponse).await;
    let (code, text) = status(&run(dir.path(), &proxy.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    assert!(proxy.fired(), "the fault was injected");
    assert_eq!(code, Some(0), "the lock that names us is ours: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn journal_objects_are_numbered_after_the_highest_and_removed_newest_first() {
    use stackr_state::journal::JournalSink;
    let filter: faults::Filter = std::sync::Arc::new(|w: &str| w.starts_with("DELETE") && w.contains(".journal/"));
    let (_dir, proxy) = keyed("220000000004", filter, 1, Fault::Refuse).await;
    proxy.disarm();
    let config = sdk(&proxy.endpoint).await;
    let url = "s3://keyed-220000000004/j?region=us-east-1";
    let store = stackr_providers::s3_state::S3Store::from_url(url, &config).unwrap();
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    let put = |key: &'static str| {
        let s3 = s3.clone();
        async move {
            s3.put_object().bucket("keyed-220000000004").key(key).body(b"{}\n".to_vec().into()).send().await.unwrap()
        }
    };
    put("j/x.journal/000000000000").await;
    put("j/x.journal/000000000005").await;
    let mut sink = store.journal_sink("x").await.unwrap();
    tokio::task::spawn_blocking(move || sink.write_batch(b"{}\n").unwrap()).await.unwrap();
    let keys = |s3: aws_sdk_s3::Client| async move {
        let listed = s3.list_objects_v2().bucket("keyed-220000000004").prefix("j/x.journal/").send().await.unwrap();
        listed.contents().iter().filter_map(|o| o.key().map(str::to_string)).collect::<Vec<_>>()
    };
    assert_eq!(
        keys(s3.clone()).await,
        ["j/x.journal/000000000000", "j/x.journal/000000000005", "j/x.journal/000000000006"],
        "numbered after the highest, not after the count (which would have collided with 000000000002... or worse)"
    );
    // The second delete is refused: what is left must still start with the first object (the Begin record).
    proxy.arm();
    assert!(store.remove_journal("x").await.is_err());
    assert_eq!(keys(s3.clone()).await, ["j/x.journal/000000000000", "j/x.journal/000000000005"], "newest first");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_missing_state_bucket_is_named_once_and_never_read_as_no_state() {
    // A missing bucket used to read as "no state yet" (a plan of the whole stack anew), then fail on the journal
    // with the error printed twice and a hint about a damaged journal.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("stack.yaml"), stack("s3://stackr-no-such-bucket/x?region=us-east-1", 1)).unwrap();
    for args in [&["plan", "stack.yaml"][..], &["apply", "stack.yaml", "--auto-approve"][..]] {
        let (code, text) = status(&stackr(d, args));
        assert_eq!(code, Some(1), "{text}");
        assert!(!text.contains("Plan:") && !text.contains("to create"), "{text}");
        assert!(text.contains("stackr-no-such-bucket"), "{text}");
        assert!(!text.contains(".bak") && !text.contains("damaged"), "{text}");
        let errors: Vec<&str> =
            text.lines().filter(|l| l.contains("NoSuchBucket") || l.contains("does not exist")).collect();
        assert_eq!(errors.len(), 1, "said once: {text}");
    }
}
