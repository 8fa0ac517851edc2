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
    assert!(text.contains("is stale: stack:stack.yaml changed"), "{text}");
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
    // Importing a resource of another name is allowed (the id is what was given), and said.
    let config = stackr_providers::moto::sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&config);
    let other = sns.create_topic().name("someone-elses").send().await.unwrap().topic_arn().unwrap().to_string();
    ok(&stackr(d, &["state", "rm", "stack.yaml", "topic"]));
    let (code, text) = status(&stackr(d, &["import", "stack.yaml", "topic", &other]));
    assert_eq!(code, Some(0), "{text}");
    assert!(
        text.contains("is named \"someone-elses\", but the stack declares `topic` with name \"lifecycle-topic\": the next plan replaces it"),
        "{text}"
    );
    ok(&stackr(d, &["state", "rm", "stack.yaml", "topic"]));
    sns.delete_topic().topic_arn(&other).send().await.unwrap();
    ok(&stackr(d, &["import", "stack.yaml", "topic", &topic_arn]));
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

/// The saved plan is the program: apply runs it with the stack's YAML files gone, computing what the plan left
/// pending (an ARN inside a template, a join, a JSON document, an output) from the outputs of the steps before.
/// Code it deploys is still read, and must be what was planned.
#[tokio::test(flavor = "multi_thread")]
async fn a_saved_plan_applies_after_the_stack_files_are_gone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("stacks/parts")).unwrap();
    std::fs::create_dir_all(d.join("functions/hello")).unwrap();
    std::fs::write(d.join("functions/hello/handler.py"), "def handler(event, context):\n    return 1\n").unwrap();
    std::fs::write(
        d.join("stacks/program.yaml"),
        "name: program\nregion: us-east-1\ninclude: [parts/role.yaml]\nresources:\n  fn:\n    type: aws:lambda:Function\n    properties:\n      name: program-fn\n      runtime: python3.12\n      handler: handler.handler\n      role: ${role.arn}\n      code: ../functions/hello\n      environment:\n        variables:\n          ROLE: \"role=${role.arn}\"\n          JOINED: {fn::join: [\",\", [\"${role.name}\", \"${role.arn}\"]]}\n          DOC: {fn::toJSON: {arn: \"${role.arn}\"}}\noutputs:\n  fnArn: ${fn.arn}\n  roleUri: \"uri/${role.arn}/x\"\n",
    )
    .unwrap();
    std::fs::write(
        d.join("stacks/parts/role.yaml"),
        "resources:\n  role:\n    type: aws:iam:Role\n    properties:\n      name: program-role\n      assumeRolePolicy:\n        Version: \"2012-10-17\"\n        Statement:\n          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: \"sts:AssumeRole\"}\n",
    )
    .unwrap();
    let printed = ok(&stackr(d, &["plan", "stacks/program.yaml"]));
    assert!(
        printed.contains("\"ROLE\": (known after apply)") || printed.contains("\"ROLE\":(known after apply)"),
        "{printed}"
    );
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join(".stackr/plans/program.plan.json")).unwrap()).unwrap();
    let role_var = &plan["steps"][1]["inputs"]["environment"]["variables"]["ROLE"];
    assert_eq!(
        role_var,
        &serde_json::json!({"@unknown": {"text": ["role=", {"@unknown": {"output": "role", "attribute": "arn"}}]}}),
        "{plan}"
    );

    // Code that changed after planning makes the plan stale; code that is missing too.
    std::fs::write(d.join("functions/hello/handler.py"), "def handler(event, context):\n    return 2\n").unwrap();
    let (code, text) = status(&stackr(d, &["apply"]));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("is stale: code:") && text.contains("functions/hello changed"), "{text}");
    std::fs::write(d.join("functions/hello/handler.py"), "def handler(event, context):\n    return 1\n").unwrap();

    // A plan that deploys code from elsewhere than it read and digested is refused before anything runs:
    // outside the project root, or code that is not an input of the plan (so nothing checked it).
    let device = |p: &mut serde_json::Value| {
        let mut inputs: std::collections::BTreeMap<String, String> =
            serde_json::from_value(p["inputs"].clone()).unwrap();
        inputs.insert("stack:/dev/zero".into(), "0".repeat(64));
        p["inputsHash"] = stackr_engine::plan::file::combined_hash(&inputs).into();
        p["inputs"] = serde_json::to_value(&inputs).unwrap();
    };
    let edits: [support::PlanEdit; 6] = [
        (
            "pathname",
            &|p| p["stack"] = "../../../tmp/stackr-pwned".into(),
            "`stack` is not a stack name: \"../../../tmp/stackr-pwned\"",
        ),
        (
            "region",
            &|p| p["target"]["region"] = "us-east-1\nx".into(),
            "`target.region` is not a region: \"us-east-1\\nx\"",
        ),
        ("device", &device, "stack:/dev/zero: `/dev/zero` is an absolute path"),
        (
            "outside",
            &|p| p["steps"][1]["baseDir"] = "/".into(),
            "`fn` deploys code from outside: `../functions/hello` leads outside the project root",
        ),
        (
            "unread",
            &|p| p["steps"][1]["inputs"]["code"]["path"] = "../stacks".into(),
            "`fn` deploys code:stacks, which is not an input of the plan",
        ),
        (
            "backend",
            &|p| p["target"]["backend"] = "file:///tmp/stackr-elsewhere".into(),
            "backend: `/tmp/stackr-elsewhere` is an absolute path",
        ),
    ];
    for (name, edit, expected) in edits {
        let mut edited = plan.clone();
        edit(&mut edited);
        let path = d.join(format!("{name}.plan.json"));
        std::fs::write(&path, serde_json::to_vec(&edited).unwrap()).unwrap();
        let (code, text) = status(&stackr(d, &["apply", &path.display().to_string()]));
        assert_eq!(code, Some(1), "{name}: {text}");
        assert!(text.contains(expected), "{name}: {text}");
        std::fs::remove_file(&path).unwrap();
    }
    assert!(!d.join(".stackr/program.state.json").exists(), "a refused plan writes nothing");
    assert!(!std::path::Path::new("/tmp/stackr-elsewhere").exists());
    assert!(!std::path::Path::new("/tmp/stackr-pwned.state.json").exists());

    // The stack files go; the plan still applies, exactly.
    std::fs::remove_dir_all(d.join("stacks")).unwrap();
    let applied = ok(&stackr(d, &["apply"]));
    assert!(applied.contains("Apply complete: 2 created"), "{applied}");
    let config = stackr_providers::moto::sdk_config().await;
    let role = aws_sdk_iam::Client::new(&config).get_role().role_name("program-role").send().await.unwrap();
    let role_arn = role.role().unwrap().arn().to_string();
    let function = aws_sdk_lambda::Client::new(&config)
        .get_function_configuration()
        .function_name("program-fn")
        .send()
        .await
        .unwrap();
    assert_eq!(function.role(), Some(role_arn.as_str()));
    let variables = function.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
    assert_eq!(variables.get("ROLE").map(String::as_str), Some(format!("role={role_arn}").as_str()));
    assert_eq!(variables.get("JOINED").map(String::as_str), Some(format!("program-role,{role_arn}").as_str()));
    assert_eq!(variables.get("DOC").map(String::as_str), Some(format!("{{\"arn\":\"{role_arn}\"}}").as_str()));
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join(".stackr/program.state.json")).unwrap()).unwrap();
    assert_eq!(state["outputs"]["roleUri"], format!("uri/{role_arn}/x"));
    assert_eq!(state["outputs"]["fnArn"], function.function_arn().unwrap());
    assert!(!state.to_string().contains("@unknown"), "nothing pending reaches the state: {state}");
    let (code, text) = status(&stackr(d, &["apply"]));
    assert_eq!(code, Some(1));
    assert!(text.contains("there is no saved plan"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn what_was_deleted_outside_stackr_leaves_the_state_on_the_next_apply_or_destroy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("stack.yaml"),
        "name: vanished\nregion: us-east-1\nresources:\n  topic:\n    type: aws:sns:Topic\n    properties: {name: vanished-topic}\n",
    )
    .unwrap();
    ok(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    let config = stackr_providers::moto::sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&config);
    let listed = sns.list_topics().send().await.unwrap();
    let arn = listed.topics().iter().filter_map(|t| t.topic_arn()).find(|a| a.ends_with(":vanished-topic")).unwrap();
    sns.delete_topic().topic_arn(arn).send().await.unwrap();
    let destroyed = ok(&stackr(d, &["destroy", "stack.yaml", "--auto-approve"]));
    assert!(destroyed.contains("no changes"), "{destroyed}");
    let (code, listed) = status(&stackr(d, &["state", "list", "stack.yaml"]));
    assert_eq!(code, Some(0), "{listed}");
    assert!(!listed.contains("vanished-topic"), "the state no longer records what is gone: {listed}");
}
