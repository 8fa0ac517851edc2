//! Team state on S3 against moto: apply and plan with the state, lock and journal in a bucket; a write from a
//! stale base refused; a concurrent apply refused naming the holder; a killed run replayed from the S3 journal;
//! `state migrate` S3 → file → S3 with nothing lost (same lineage, serial and resources).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

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
    let (code, text) = status(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("note: replaying"), "the S3 journal was replayed: {text}");
    assert!(text.contains("note: took over the lock of a run that is gone"), "{text}");
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
