//! Saved plans applied exactly or refused when stale; locks, the data-loss guard, state commands, import and
//! output from the command line; a corrupt state file refused and left alone.

use support::{ok, stackr, status};

use crate::support;

const SMALL: &str = "name: lifecycle\nregion: us-east-1\nresources:\n  key:\n    type: aws:kms:Key\n    properties: {description: lifecycle key}\n  topic:\n    type: aws:sns:Topic\n    properties: {name: lifecycle-topic, kmsMasterKeyId: \"${key.arn}\"}\noutputs:\n  topicArn: ${topic.arn}\n";

#[tokio::test(flavor = "multi_thread")]
async fn saved_plans_locks_guards_and_state_commands() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let write = |text: &str| std::fs::write(d.join("stack.yaml"), text).unwrap();
    write(SMALL);

    // A saved plan whose stack file changed afterwards is refused, naming what moved; nothing is written.
    ok(&stackr(d, &["plan", "stack.yaml"]));
    write(&SMALL.replace("lifecycle key", "lifecycle key v2"));
    let (code, text) = status(&stackr(d, &["apply"]));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("is stale: file:stack.yaml changed"), "{text}");
    assert!(!d.join(".stackr/lifecycle.state.json").exists(), "a refused plan writes nothing");

    // Planned again, it applies exactly; the plan file is consumed.
    ok(&stackr(d, &["plan", "stack.yaml"]));
    let applied = ok(&stackr(d, &["apply"]));
    assert!(applied.contains("Apply complete: 2 created, 0 updated, 0 replaced, 0 deleted."), "{applied}");
    assert!(!d.join(".stackr/plans/lifecycle.plan.json").exists());
    let (code, text) = status(&stackr(d, &["apply"]));
    assert_eq!(code, Some(1));
    assert!(text.contains("there is no saved plan"), "{text}");

    // A plan made before someone else applied is refused: the serial moved.
    write(&SMALL.replace("lifecycle key", "lifecycle key v3"));
    ok(&stackr(d, &["plan", "stack.yaml", "-o", "old.plan.json"]));
    ok(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    let (code, text) = status(&stackr(d, &["apply", "old.plan.json"]));
    assert_eq!(code, Some(1));
    assert!(text.contains("the state moved from serial 1 to 2"), "{text}");

    // Without a terminal and without --auto-approve, apply refuses.
    write(&SMALL.replace("lifecycle key", "lifecycle key v4"));
    let (code, text) = status(&stackr(d, &["apply", "stack.yaml"]));
    assert_eq!(code, Some(1));
    assert!(text.contains("refusing to apply without confirmation"), "{text}");

    // A held lock (this test process holds the OS lock): a second run fails at once naming the holder, and
    // `state unlock` refuses to remove a live lock.
    let held = stackr_state::lock::LocalLock::acquire(&d.join(".stackr/lifecycle.lock"), "apply").unwrap();
    let started = std::time::Instant::now();
    let (code, text) = status(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(1));
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "fails fast");
    assert!(text.contains(&format!("the stack is locked by {}", held.info().user)), "{text}");
    assert!(text.contains(&format!("(pid {}, `apply`", std::process::id())), "{text}");
    assert!(!text.contains("stale"), "{text}");
    let (code, text) = status(&stackr(d, &["state", "unlock", "stack.yaml"]));
    assert_eq!(code, Some(1), "a live lock is not removed: {text}");
    assert!(text.contains("that run is still going"), "{text}");
    held.release().unwrap();
    // A lock file nobody holds (its process is gone, whatever pid or host it names) is taken over, with a note.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default();
    let info = serde_json::json!({"id": "feedface", "user": "alice", "host": host, "pid": std::process::id(), "operation": "apply", "started": 1_900_000_000u64, "leaseSeconds": 3600});
    std::fs::write(d.join(".stackr/lifecycle.lock"), info.to_string()).unwrap();
    let (code, text) = status(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("note: took over the lock of a run that is gone: alice@"), "{text}");

    // The data-loss guard: replacing the key needs --allow-data-loss.
    write(&SMALL.replace(
        "description: lifecycle key}",
        "description: lifecycle key, keyUsage: GENERATE_VERIFY_MAC, keySpec: HMAC_256}",
    ));
    let (code, text) = status(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(1));
    assert!(text.contains("the plan destroys data (key); apply refuses without --allow-data-loss"), "{text}");
    assert!(!d.join(".stackr/lifecycle.journal").exists(), "a refused run leaves no journal behind");
    let replaced = ok(&stackr(d, &["apply", "stack.yaml", "--auto-approve", "--allow-data-loss"]));
    assert!(replaced.contains("1 replaced"), "{replaced}");

    // state list / show / rm, then import brings it back; output --json.
    let listed = ok(&stackr(d, &["state", "list", "stack.yaml"]));
    assert!(listed.contains("topic  aws:sns:Topic  arn:aws:sns:us-east-1:"), "{listed}");
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&stackr(d, &["state", "show", "stack.yaml", "topic"]))).unwrap();
    assert_eq!(shown["inputs"]["name"], "lifecycle-topic");
    let topic_arn = shown["id"].as_str().unwrap().to_string();
    ok(&stackr(d, &["state", "rm", "stack.yaml", "topic"]));
    let plan = stackr(d, &["plan", "stack.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(2), "a forgotten resource is planned for creation");
    let imported = ok(&stackr(d, &["import", "stack.yaml", "topic", &topic_arn]));
    assert!(imported.starts_with(&format!("Imported {topic_arn} as `topic`")), "{imported}");
    let plan = stackr(d, &["plan", "stack.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));
    let outputs: serde_json::Value =
        serde_json::from_str(&ok(&stackr(d, &["output", "stack.yaml", "--json"]))).unwrap();
    assert_eq!(outputs["topicArn"], topic_arn.as_str());

    // A corrupt state file is refused and left byte-identical.
    let path = d.join(".stackr/lifecycle.state.json");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.truncate(bytes.len() / 2);
    std::fs::write(&path, &bytes).unwrap();
    for args in [&["plan", "stack.yaml"][..], &["apply", "stack.yaml", "--auto-approve"][..]] {
        let (code, text) = status(&stackr(d, args));
        assert_eq!(code, Some(1));
        assert!(text.contains("is unusable: it is not valid state JSON"), "{text}");
        assert!(text.contains("never overwrites a state file it cannot read"), "{text}");
    }
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
}
