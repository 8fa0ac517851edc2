//! End to end, the real `stackr` binary against moto:
//! - `stackr apply stacks/dev.yaml` deploys the whole seed infrastructure, checked here through the AWS SDK (not
//!   through stackr's own state); a second plan has no changes; `stackr destroy` leaves nothing behind;
//! - saved plans are applied exactly or refused when stale; locks, the data-loss guard, state commands, import
//!   and output work from the command line; a corrupt state file is refused and left alone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;
use std::process::Command;

use support::{copy_tree, ok, stackr, status};

#[tokio::test(flavor = "multi_thread")]
async fn the_dev_stack_deploys_the_whole_seed_infrastructure() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_tree(&root.join("stacks"), &dir.path().join("stacks"));
    copy_tree(&root.join("functions"), &dir.path().join("functions"));
    let config = stackr_providers::moto::sdk_config().await;

    let applied = ok(&stackr(dir.path(), &["apply", "stacks/dev.yaml", "--auto-approve"]));
    assert!(applied.contains("Apply complete: 22 created, 0 updated, 0 replaced, 0 deleted."), "{applied}");

    // KMS: a customer-managed key with rotation, and its alias.
    let kms = aws_sdk_kms::Client::new(&config);
    let alias = kms
        .list_aliases()
        .send()
        .await
        .unwrap()
        .aliases()
        .iter()
        .find(|a| a.alias_name() == Some("alias/chatbot-dev-data"))
        .cloned()
        .unwrap();
    let key_id = alias.target_key_id().unwrap().to_string();
    let key_arn =
        kms.describe_key().key_id(&key_id).send().await.unwrap().key_metadata().unwrap().arn().unwrap().to_string();
    assert!(kms.get_key_rotation_status().key_id(&key_id).send().await.unwrap().key_rotation_enabled());

    // DynamoDB: three tables, keys, TTL, the GSI, encryption with the key; tags on everything taggable.
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let expected = [
        ("chatbot-dev-sessions", "sessionId", None, Some("expiresAt")),
        ("chatbot-dev-cache", "key", None, Some("ttl")),
        ("chatbot-dev-chat-history", "sessionId", Some("timestamp"), None),
    ];
    let mut table_arns = Vec::new();
    for (name, hash, range, ttl) in expected {
        let table = ddb.describe_table().table_name(name).send().await.unwrap().table.unwrap();
        let keys: Vec<(&str, &str)> =
            table.key_schema().iter().map(|k| (k.attribute_name(), k.key_type().as_str())).collect();
        assert_eq!(keys[0], (hash, "HASH"), "{name}");
        assert_eq!(keys.get(1).map(|k| k.0), range, "{name}");
        assert_eq!(table.sse_description().and_then(|s| s.kms_master_key_arn()), Some(key_arn.as_str()), "{name}");
        if let Some(attribute) = ttl {
            let described = ddb.describe_time_to_live().table_name(name).send().await.unwrap();
            assert_eq!(described.time_to_live_description().and_then(|d| d.attribute_name()), Some(attribute));
        }
        let tags = ddb.list_tags_of_resource().resource_arn(table.table_arn().unwrap()).send().await.unwrap();
        let tags: Vec<(&str, &str)> = tags.tags().iter().map(|t| (t.key(), t.value())).collect();
        for expected in [("Environment", "dev"), ("Project", "chatbot"), ("CostCenter", "chatbot-platform")] {
            assert!(tags.contains(&expected), "{name}: {tags:?}");
        }
        table_arns.push(table.table_arn().unwrap().to_string());
    }
    let history = ddb.describe_table().table_name("chatbot-dev-chat-history").send().await.unwrap().table.unwrap();
    assert_eq!(history.global_secondary_indexes()[0].index_name(), Some("UserSessionIndex"));

    // Secrets Manager: three secrets, encrypted with the key; the JWT secret generated.
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let mut secret_arns = Vec::new();
    for name in ["chatbot-dev/salesforce-credentials", "chatbot-dev/openai-credentials", "chatbot-dev/jwt-secret"] {
        let secret = sm.describe_secret().secret_id(name).send().await.unwrap();
        assert_eq!(secret.kms_key_id(), Some(key_arn.as_str()), "{name}");
        secret_arns.push(secret.arn().unwrap().to_string());
    }
    let jwt = sm.get_secret_value().secret_id("chatbot-dev/jwt-secret").send().await.unwrap();
    assert_eq!(jwt.secret_string().unwrap().len(), 64);
    let state = std::fs::read_to_string(dir.path().join(".stackr/chatbot-dev.state.json")).unwrap();
    assert!(
        !state.contains(jwt.secret_string().unwrap()) && !state.contains("\"@secret\""),
        "no secret in the state in plaintext"
    );

    // Lambda and IAM: two functions with least-privilege roles scoped to the exact tables, index, secrets, key.
    let lambda = aws_sdk_lambda::Client::new(&config);
    let iam = aws_sdk_iam::Client::new(&config);
    let chat = lambda.get_function_configuration().function_name("chatbot-dev-chat").send().await.unwrap();
    assert_eq!(chat.environment().unwrap().variables().unwrap()["CHAT_HISTORY_TABLE"], "chatbot-dev-chat-history");
    assert!(chat.role().unwrap().ends_with("role/chatbot-dev-chat"));
    let policy = iam.get_role_policy().role_name("chatbot-dev-chat").policy_name("data").send().await.unwrap();
    let policy = policy.policy_document().to_string();
    let policy = if policy.starts_with('%') {
        policy
            .replace("%22", "\"")
            .replace("%3A", ":")
            .replace("%2F", "/")
            .replace("%2A", "*")
            .replace("%7B", "{")
            .replace("%7D", "}")
            .replace("%5B", "[")
            .replace("%5D", "]")
            .replace("%2C", ",")
            .replace("%20", " ")
    } else {
        policy
    };
    for arn in table_arns.iter().chain(secret_arns.iter()).chain(std::iter::once(&key_arn)) {
        assert!(policy.contains(arn.as_str()), "the chat role's policy names {arn}: {policy}");
    }
    assert!(policy.contains(&format!("{}/index/UserSessionIndex", table_arns[2])));
    assert!(!policy.contains("\"Resource\":\"*\"") && !policy.contains("\"Resource\": \"*\""), "no wildcard resources");
    lambda.get_function_configuration().function_name("chatbot-dev-health").send().await.unwrap();

    // Logs: per-environment retention.
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let groups = logs.describe_log_groups().log_group_name_prefix("/aws/lambda/chatbot-dev").send().await.unwrap();
    assert_eq!(groups.log_groups().len(), 2);
    assert!(groups.log_groups().iter().all(|g| g.retention_in_days() == Some(7)));

    // API Gateway: routes to the functions, CORS preflight, the dev stage.
    let apigw = aws_sdk_apigateway::Client::new(&config);
    let apis = apigw.get_rest_apis().send().await.unwrap();
    let api = apis.items().iter().find(|a| a.name() == Some("chatbot-dev-api")).unwrap();
    let resources = apigw.get_resources().rest_api_id(api.id().unwrap()).send().await.unwrap();
    let chat_resource = resources.items().iter().find(|r| r.path() == Some("/chat")).unwrap();
    let methods: Vec<&String> = chat_resource.resource_methods().unwrap().keys().collect();
    assert!(methods.iter().any(|m| *m == "POST") && methods.iter().any(|m| *m == "OPTIONS"), "{methods:?}");
    apigw.get_stage().rest_api_id(api.id().unwrap()).stage_name("dev").send().await.unwrap();
    let permission = lambda.get_policy().function_name("chatbot-dev-chat").send().await.unwrap();
    assert!(permission.policy().unwrap().contains("apigateway.amazonaws.com"));

    // CloudWatch: a dashboard with API Gateway, Lambda and DynamoDB widgets; alarms notifying the topic.
    let cw = aws_sdk_cloudwatch::Client::new(&config);
    let body = cw.get_dashboard().dashboard_name("chatbot-dev").send().await.unwrap();
    let body = body.dashboard_body().unwrap();
    for namespace in ["AWS/ApiGateway", "AWS/Lambda", "AWS/DynamoDB"] {
        assert!(body.contains(namespace), "{namespace} widget");
    }
    let sns = aws_sdk_sns::Client::new(&config);
    let topic = sns
        .list_topics()
        .send()
        .await
        .unwrap()
        .topics()
        .iter()
        .filter_map(|t| t.topic_arn())
        .find(|a| a.ends_with(":chatbot-dev-alerts"))
        .unwrap()
        .to_string();
    let alarms = cw.describe_alarms().alarm_name_prefix("chatbot-dev-").send().await.unwrap();
    assert_eq!(alarms.metric_alarms().len(), 2);
    assert!(alarms.metric_alarms().iter().all(|a| a.alarm_actions() == [topic.clone()]));
    let subscriptions = sns.list_subscriptions_by_topic().topic_arn(&topic).send().await.unwrap();
    assert_eq!(subscriptions.subscriptions()[0].protocol(), Some("email"));

    // A second plan has no changes.
    let plan = stackr(dir.path(), &["plan", "stacks/dev.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));

    // Destroy: nothing is left.
    let destroyed = ok(&stackr(dir.path(), &["destroy", "stacks/dev.yaml", "--auto-approve"]));
    assert!(destroyed.contains("Apply complete: 0 created, 0 updated, 0 replaced, 22 deleted."), "{destroyed}");
    assert!(ddb.list_tables().send().await.unwrap().table_names().iter().all(|t| !t.starts_with("chatbot-dev")));
    assert!(lambda
        .list_functions()
        .send()
        .await
        .unwrap()
        .functions()
        .iter()
        .all(|f| !f.function_name().unwrap_or("").starts_with("chatbot-dev")));
    assert!(iam.get_role().role_name("chatbot-dev-chat").send().await.is_err());
    assert!(apigw.get_rest_apis().send().await.unwrap().items().iter().all(|a| a.name() != Some("chatbot-dev-api")));
    assert!(cw.describe_alarms().alarm_name_prefix("chatbot-dev-").send().await.unwrap().metric_alarms().is_empty());
    assert!(logs
        .describe_log_groups()
        .log_group_name_prefix("/aws/lambda/chatbot-dev")
        .send()
        .await
        .unwrap()
        .log_groups()
        .is_empty());
    assert!(sns.get_topic_attributes().topic_arn(&topic).send().await.is_err());
    let key = kms.describe_key().key_id(&key_id).send().await.unwrap();
    assert_eq!(key.key_metadata().unwrap().key_state().map(|s| s.as_str()), Some("PendingDeletion"));
    let listed = ok(&stackr(dir.path(), &["state", "list", "stacks/dev.yaml"]));
    assert_eq!(listed, "Stack chatbot-dev has no resources in its state.\n");
}

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

/// Starts `stackr apply` and sends it `signal` (`INT`, `KILL`) once it has started creating resources.
fn interrupted_apply(dir: &Path, signal: &str) -> (Option<i32>, String) {
    let child = support::command(dir)
        .args(["apply", "stack.yaml", "--auto-approve", "--parallelism", "1"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait until the run has started creating (its journal exists), then interrupt.
    let journal = dir.join(".stackr/interrupts.journal");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !journal.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::thread::sleep(std::time::Duration::from_millis(150));
    Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().unwrap();
    let out = child.wait_with_output().unwrap();
    status(&out)
}

#[tokio::test(flavor = "multi_thread")]
async fn interrupted_applies_keep_what_finished_and_the_next_run_converges() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut yaml = String::from("name: interrupts\nregion: us-east-1\nresources:\n");
    for i in 0..80 {
        yaml.push_str(&format!("  logs{i:02}:\n    type: aws:cloudwatch:LogGroup\n    properties: {{name: /interrupts/{i:02}, retentionInDays: 7}}\n"));
    }
    std::fs::write(d.join("stack.yaml"), yaml).unwrap();
    let config = stackr_providers::moto::sdk_config().await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&config);
    let count = || async {
        let mut names = Vec::new();
        let mut token = None;
        loop {
            let page = logs
                .describe_log_groups()
                .log_group_name_prefix("/interrupts/")
                .set_next_token(token)
                .send()
                .await
                .unwrap();
            names.extend(page.log_groups().iter().filter_map(|g| g.log_group_name().map(str::to_string)));
            token = page.next_token().map(str::to_string);
            if token.is_none() {
                break;
            }
        }
        let unique: std::collections::BTreeSet<_> = names.iter().cloned().collect();
        assert_eq!(unique.len(), names.len(), "no duplicates");
        names.len()
    };

    // One Ctrl-C: scheduling stops, the step in flight finishes, everything finished is saved.
    let (code, text) = interrupted_apply(d, "INT");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("Interrupted: finishing the steps in flight"), "{text}");
    assert!(text.contains("Apply interrupted:"), "{text}");
    let recorded = ok(&stackr(d, &["state", "list", "stack.yaml"])).lines().count();
    let existing = count().await;
    assert!(recorded > 0 && recorded < 80, "some, not all, were created: {recorded}");
    assert_eq!(recorded, existing, "the state lists exactly what exists");
    assert!(!d.join(".stackr/interrupts.journal").exists(), "an orderly stop compacts the journal");

    // Killed outright (as a second Ctrl-C exits at once): the journal stays behind, and the next run replays it
    // and reconciles what was in flight instead of creating it again.
    let (code, _) = interrupted_apply(d, "KILL");
    assert_eq!(code, None, "killed by a signal");
    assert!(d.join(".stackr/interrupts.journal").exists(), "a killed run leaves its journal");
    let converged = ok(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    assert!(converged.contains("Apply complete:"), "{converged}");
    assert_eq!(count().await, 80, "every log group exists exactly once");
    assert_eq!(ok(&stackr(d, &["state", "list", "stack.yaml"])).lines().count(), 80);
    let plan = stackr(d, &["plan", "stack.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));
}

/// Every file under a directory, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                pending.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_never_appears_in_anything_stackr_prints_or_writes() {
    const SECRET: &str = "S3CR3T-canary-7f3a9c1e";
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("code")).unwrap();
    std::fs::write(d.join("code/handler.py"), "def handler(e, c):\n    return 1\n").unwrap();
    let stack = |description: &str| {
        format!(
            "name: redaction\nregion: us-east-1\nparameters:\n  apiKey: {{type: string}}\nconfig:\n  apiKey: {{fromEnv: REDACTION_API_KEY, secret: true}}\nresources:\n  secret:\n    type: aws:secretsmanager:Secret\n    properties: {{name: redaction/api-key, description: {description}, secretString: \"${{apiKey}}\", recoveryWindowInDays: 0}}\n  role:\n    type: aws:iam:Role\n    properties:\n      name: redaction-fn\n      assumeRolePolicy: {{Version: \"2012-10-17\", Statement: [{{Effect: Allow, Principal: {{Service: lambda.amazonaws.com}}, Action: \"sts:AssumeRole\"}}]}}\n  fn:\n    type: aws:lambda:Function\n    properties:\n      name: redaction-fn\n      runtime: python3.12\n      handler: handler.handler\n      role: ${{role.arn}}\n      code: code\n      environment: {{variables: {{API_KEY: \"${{apiKey}}\", TOKEN: {{fn::secret: \"{SECRET}-inline\"}}}}}}\noutputs:\n  key: ${{apiKey}}\n"
        )
    };
    std::fs::write(d.join("stack.yaml"), stack("first")).unwrap();
    // The passphrase and the AWS keys are secrets too, and a hostile stack may try to read them (the process's
    // environment holds them): recognisable markers, looked for everywhere below.
    const PASSPHRASE: &str = "PASSPHRASE-marker-91b2e4";
    const AWS_KEY_ID: &str = "AKIAMARKER4F1E2D3C4B5A";
    const AWS_SECRET: &str = "aws-secret-marker-5c7d9e0f";
    let printed = std::cell::RefCell::new(String::new());
    let run_via = |endpoint: &str, args: &[&str]| {
        let out = support::command_via(d, endpoint)
            .env("REDACTION_API_KEY", SECRET)
            .env("STACKR_PASSPHRASE", PASSPHRASE)
            .env("AWS_ACCESS_KEY_ID", AWS_KEY_ID)
            .env("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
            .args(args)
            .output()
            .unwrap();
        printed.borrow_mut().push_str(&String::from_utf8_lossy(&out.stdout));
        printed.borrow_mut().push_str(&String::from_utf8_lossy(&out.stderr));
        out
    };
    let moto = stackr_providers::moto::moto().endpoint.clone();
    let run = |args: &[&str]| run_via(&moto, args);
    for format in ["text", "markdown", "json"] {
        run(&["plan", "stack.yaml", "--format", format]);
    }
    assert!(run(&["apply"]).status.success(), "{}", printed.borrow());
    std::fs::write(d.join("stack.yaml"), stack("second")).unwrap();
    assert!(run(&["apply", "stack.yaml", "--auto-approve"]).status.success(), "{}", printed.borrow());
    for args in [
        &["refresh", "stack.yaml"][..],
        &["output", "stack.yaml"],
        &["output", "stack.yaml", "--json"],
        &["output", "stack.yaml", "key"],
        &["state", "show", "stack.yaml", "secret"],
        &["state", "show", "stack.yaml", "fn"],
        &["validate", "stack.yaml"],
        &["plan", "stack.yaml", "--destroy", "--format", "json"],
    ] {
        run(args);
    }
    // An error that involves the secret's property: a wrong type for the config value.
    std::fs::write(d.join("stack.yaml"), stack("third").replace("{type: string}", "{type: integer}")).unwrap();
    run(&["plan", "stack.yaml"]);
    // A hostile stack reading the environment (which holds every marker) into a description: refused.
    std::fs::write(d.join("stack.yaml"), stack("{fn::readFile: /proc/self/environ}")).unwrap();
    run(&["validate", "stack.yaml"]);
    run(&["plan", "stack.yaml", "--format", "json"]);
    std::fs::write(d.join("stack.yaml"), stack("{fn::readFile: ../../../../../../../../proc/self/environ}")).unwrap();
    run(&["plan", "stack.yaml", "--format", "markdown"]);
    // Error paths: AWS unreachable, a wrong passphrase.
    std::fs::write(d.join("stack.yaml"), stack("third")).unwrap();
    run_via("http://127.0.0.1:9", &["plan", "stack.yaml"]);
    let wrong = support::command(d)
        .env("REDACTION_API_KEY", SECRET)
        .env("STACKR_PASSPHRASE", "not-the-passphrase")
        .args(["plan", "stack.yaml"])
        .output()
        .unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    printed.borrow_mut().push_str(&String::from_utf8_lossy(&wrong.stderr));
    std::fs::write(d.join("stack.yaml"), stack("third")).unwrap();
    assert!(run(&["destroy", "stack.yaml", "--auto-approve"]).status.success(), "{}", printed.borrow());

    let printed = printed.into_inner();
    assert!(printed.contains("(secret)"), "secrets are shown as (secret)");
    assert!(printed.contains("leads outside the project root") && printed.contains("is an absolute path"));
    for marker in [SECRET, PASSPHRASE, AWS_KEY_ID, AWS_SECRET] {
        assert!(!printed.contains(marker), "{marker} was printed:\n{printed}");
    }
    let written = files_under(d);
    assert!(written.iter().any(|p| p.to_string_lossy().ends_with("redaction.state.json")));
    for file in written.iter().filter(|p| p.starts_with(d.join(".stackr"))) {
        let bytes = std::fs::read(file).unwrap();
        for marker in [SECRET, PASSPHRASE, AWS_KEY_ID, AWS_SECRET] {
            assert!(!String::from_utf8_lossy(&bytes).contains(marker), "{} holds {marker}", file.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn kms_encrypted_state_needs_the_key_and_a_new_provider_re_encrypts() {
    let config = stackr_providers::moto::sdk_config().await;
    let kms = aws_sdk_kms::Client::new(&config);
    let key = kms.create_key().description("stackr state key").send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    kms.create_alias().alias_name("alias/stackr-state-e2e").target_key_id(&key_id).send().await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stack = |provider: &str, description: &str| {
        format!("name: kmsstate\nregion: us-east-1\nsecretsProvider: {provider}\nresources:\n  secret:\n    type: aws:secretsmanager:Secret\n    properties: {{name: kmsstate/token, description: {description}, secretString: {{fn::secret: kms-canary-value}}, recoveryWindowInDays: 0}}\n")
    };
    let state = || std::fs::read_to_string(d.join(".stackr/kmsstate.state.json")).unwrap();
    std::fs::write(d.join("stack.yaml"), stack("passphrase", "first")).unwrap();
    ok(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    assert!(state().contains("\"provider\": \"passphrase\""));

    // A new provider: the next write re-encrypts with a KMS data key; the passphrase is no longer needed.
    std::fs::write(d.join("stack.yaml"), stack("awskms://alias/stackr-state-e2e", "second")).unwrap();
    ok(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    let written = state();
    assert!(
        written.contains("\"provider\": \"awskms://alias/stackr-state-e2e\"") && written.contains("\"encryptedKey\""),
        "{written}"
    );
    assert!(written.contains("@encrypted") && !written.contains("kms-canary-value"));
    // The data key is bound to this state: KMS decrypts it only with the context {stack, lineage}.
    let recorded: serde_json::Value = serde_json::from_str(&written).unwrap();
    let context = &recorded["secrets"]["keyContext"];
    assert_eq!(context["stack"], "kmsstate");
    assert_eq!(context["lineage"], recorded["lineage"]);
    use base64::Engine as _;
    let blob = base64::engine::general_purpose::STANDARD
        .decode(recorded["secrets"]["encryptedKey"].as_str().unwrap())
        .unwrap();
    let unbound = kms.decrypt().ciphertext_blob(aws_sdk_kms::primitives::Blob::new(blob.clone())).send().await;
    assert!(unbound.is_err(), "without its context the data key does not decrypt");
    let mut other = kms.decrypt().ciphertext_blob(aws_sdk_kms::primitives::Blob::new(blob.clone()));
    other = other.encryption_context("stack", "kmsstate").encryption_context("lineage", "another-state");
    assert!(other.send().await.is_err(), "nor with another state's lineage");
    let plan = support::command(d)
        .env_remove("STACKR_PASSPHRASE")
        .args(["plan", "stack.yaml", "--detailed-exitcode"])
        .output()
        .unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stderr));

    // Without KMS (an endpoint that does not answer), the state's secrets cannot be read.
    let unreachable = support::command_via(d, "http://127.0.0.1:9")
        .env_remove("STACKR_PASSPHRASE")
        .args(["plan", "stack.yaml"])
        .output()
        .unwrap();
    let (code, text) = status(&unreachable);
    assert_eq!(code, Some(1));
    assert!(text.contains("Decrypt failed"), "{text}");
    assert!(!text.contains("kms-canary-value"));
    ok(&stackr(d, &["destroy", "stack.yaml", "--auto-approve"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn saved_plans_fingerprint_secret_config_under_the_secrets_key() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("stack.yaml"),
        "name: fingerprint\nregion: us-east-1\nparameters:\n  apiKey: {type: string}\nconfig:\n  apiKey: {fromEnv: FINGERPRINT_KEY, secret: true}\nresources:\n  secret:\n    type: aws:secretsmanager:Secret\n    properties: {name: fingerprint/api-key, secretString: \"${apiKey}\", recoveryWindowInDays: 0}\n",
    )
    .unwrap();
    let run = |key: &str, args: &[&str]| {
        status(&support::command(d).env("FINGERPRINT_KEY", key).args(args).output().unwrap())
    };
    let saved = || -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(d.join(".stackr/plans/fingerprint.plan.json")).unwrap()).unwrap()
    };

    // A new stack: the plan makes the secrets key and carries its record (salt and parameters), without the
    // check value, which would let anyone test passphrase guesses offline.
    let (code, text) = run("hunter2", &["plan", "stack.yaml"]);
    assert_eq!(code, Some(0), "{text}");
    let plan = saved();
    assert_eq!(plan["formatVersion"], 2);
    assert_eq!(plan["secretsKey"]["source"], "new", "{plan}");
    let key: stackr_state::secrets::SecretsConfig =
        serde_json::from_value(plan["secretsKey"]["record"].clone()).unwrap();
    assert_eq!(key.provider, "passphrase");
    assert_eq!(key.check, "", "no check value in a plan");
    let print = plan["inputs"]["config:(secret values)"].as_str().unwrap().to_string();
    // The print is an HMAC under the passphrase's key: reproducible with the passphrase, and with nothing else
    // (a plain or salted SHA-256 of a guess does not match it).
    use stackr_state::secrets::SecretsCodec as _;
    let codec = stackr_state::secrets::KeyCodec::open_unverified("end-to-end", &key).unwrap();
    let guessed = b"apiKey\0\"hunter2\"\0";
    assert_eq!(codec.fingerprint(guessed).unwrap(), print);
    let other = stackr_state::secrets::KeyCodec::open_unverified("a guess", &key).unwrap();
    assert_ne!(other.fingerprint(guessed).unwrap(), print);
    use sha2::Digest as _;
    for salt in ["", "fingerprint"] {
        let plain = hex::encode(sha2::Sha256::digest([salt.as_bytes(), guessed].concat()));
        assert_ne!(plain, print);
    }
    assert!(!std::fs::read_to_string(d.join(".stackr/plans/fingerprint.plan.json")).unwrap().contains("hunter2"));

    // A record whose Argon2 parameters were edited (to exhaust memory or time) is refused before any derivation.
    let mut tampered = plan.clone();
    tampered["secretsKey"]["record"]["kdf"]["memoryKib"] = 4_294_967_295u64.into();
    std::fs::write(d.join("tampered.plan.json"), serde_json::to_vec(&tampered).unwrap()).unwrap();
    let (code, text) = run("hunter2", &["apply", "tampered.plan.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("cannot open the secrets key the plan was made with"), "{text}");
    assert!(text.contains("Argon2id parameters stackr does not use"), "{text}");
    // A wrong passphrase at apply does not match the print: refused as stale, saying why it may be.
    let (code, text) = status(
        &support::command(d)
            .env("FINGERPRINT_KEY", "hunter2")
            .env("STACKR_PASSPHRASE", "another")
            .args(["apply"])
            .output()
            .unwrap(),
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("or STACKR_PASSPHRASE is not the one the plan was made with"), "{text}");

    // The secret changed between plan and apply: refused, naming the secret values and not showing them.
    let (code, text) = run("hunter3", &["apply"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("is stale: config:(secret values) changed"), "{text}");
    assert!(!text.contains("hunter"), "{text}");
    // Unchanged, it applies; the next plan fingerprints under the key the state now records.
    let (code, text) = run("hunter2", &["apply"]);
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = run("hunter2", &["plan", "stack.yaml"]);
    assert_eq!(code, Some(0), "{text}");
    assert_eq!(saved()["secretsKey"], serde_json::json!({"source": "state"}));
    // A stack file that names another secrets provider (a pull request choosing a key it can open) does not
    // choose the key: a state that records one fingerprints under it.
    let text = std::fs::read_to_string(d.join("stack.yaml")).unwrap();
    std::fs::write(
        d.join("pr.yaml"),
        text.replace("region: us-east-1\n", "region: us-east-1\nsecretsProvider: awskms://alias/theirs\n"),
    )
    .unwrap();
    let (code, text) = run("hunter2", &["plan", "pr.yaml", "--refresh=false", "-o", "pr.plan.json"]);
    assert_eq!(code, Some(0), "{text}");
    let pr: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("pr.plan.json")).unwrap()).unwrap();
    assert_eq!(pr["secretsKey"], serde_json::json!({"source": "state"}));
    assert_eq!(pr["inputs"]["config:(secret values)"], saved()["inputs"]["config:(secret values)"]);

    // A plan file of the old format (a salted SHA-256 beside its salt) is refused: plan again.
    let mut old = saved();
    old["formatVersion"] = 1.into();
    old.as_object_mut().unwrap().remove("secretsKey");
    std::fs::write(d.join("old.plan.json"), serde_json::to_vec(&old).unwrap()).unwrap();
    let (code, text) = run("hunter2", &["apply", "old.plan.json"]);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("written by an older stackr (format version 1)") && text.contains("plan again"), "{text}");
    assert!(text.contains("hint: make a new plan: `stackr plan stack.yaml`"), "{text}");
    // A version that is not a number, and inputs edited without their hash, are refused as damaged.
    let mut odd = saved();
    odd["formatVersion"] = "2".into();
    std::fs::write(d.join("odd.plan.json"), serde_json::to_vec(&odd).unwrap()).unwrap();
    let (_, text) = run("hunter2", &["apply", "odd.plan.json"]);
    assert!(text.contains("`formatVersion` must be a whole number, not \"2\""), "{text}");
    let mut edited = saved();
    edited["inputs"]["file:stack.yaml"] = "0".repeat(64).into();
    std::fs::write(d.join("edited.plan.json"), serde_json::to_vec(&edited).unwrap()).unwrap();
    let (_, text) = run("hunter2", &["apply", "edited.plan.json"]);
    assert!(text.contains("`inputsHash` does not match `inputs`"), "{text}");

    // Without the passphrase a stack with secret config cannot be planned: there is no key to fingerprint under.
    let mut plan = support::command(d);
    plan.env("FINGERPRINT_KEY", "hunter2").env_remove("STACKR_PASSPHRASE");
    let (code, text) = status(&plan.args(["plan", "stack.yaml", "--refresh=false"]).output().unwrap());
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("STACKR_PASSPHRASE"), "{text}");
    let (code, text) = run("hunter2", &["destroy", "stack.yaml", "--auto-approve"]);
    assert_eq!(code, Some(0), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_kms_stack_with_secret_config_plans_and_applies_its_saved_plan() {
    let config = stackr_providers::moto::sdk_config().await;
    let kms = aws_sdk_kms::Client::new(&config);
    let key = kms.create_key().description("stackr plan key").send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    kms.create_alias().alias_name("alias/stackr-plan-e2e").target_key_id(&key_id).send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("stack.yaml"),
        "name: kmsplan\nregion: us-east-1\nsecretsProvider: awskms://alias/stackr-plan-e2e\nparameters:\n  apiKey: {type: string}\nconfig:\n  apiKey: {fromEnv: KMSPLAN_KEY, secret: true}\nresources:\n  secret:\n    type: aws:secretsmanager:Secret\n    properties: {name: kmsplan/api-key, secretString: \"${apiKey}\", recoveryWindowInDays: 0}\n",
    )
    .unwrap();
    let run = |args: &[&str]| {
        status(
            &support::command(d)
                .env("KMSPLAN_KEY", "kms-plan-canary")
                .env_remove("STACKR_PASSPHRASE")
                .args(args)
                .output()
                .unwrap(),
        )
    };
    let (code, text) = run(&["plan", "stack.yaml"]);
    assert_eq!(code, Some(0), "{text}");
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join(".stackr/plans/kmsplan.plan.json")).unwrap()).unwrap();
    assert_eq!(plan["secretsKey"]["record"]["provider"], "awskms://alias/stackr-plan-e2e");
    assert!(plan["secretsKey"]["record"]["encryptedKey"].is_string(), "{plan}");
    // Apply opens the plan's data key (bound to the lineage it was planned with) and finds nothing moved.
    let (code, text) = run(&["apply"]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("Apply complete: 1 created"), "{text}");
    let (code, text) = run(&["destroy", "stack.yaml", "--auto-approve"]);
    assert_eq!(code, Some(0), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edited_plan_file_applies_nothing_no_plan_showed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stack = |display: &str| {
        format!("name: edited\nregion: us-east-1\nresources:\n  topic:\n    type: aws:sns:Topic\n    properties: {{name: edited-topic, displayName: {display}}}\n  table:\n    type: aws:dynamodb:Table\n    properties: {{name: edited-table, hashKey: id, attributes: [{{name: id, type: S}}]}}\n")
    };
    std::fs::write(d.join("stack.yaml"), stack("one")).unwrap();
    ok(&stackr(d, &["apply", "stack.yaml", "--auto-approve"]));
    std::fs::write(d.join("stack.yaml"), stack("two")).unwrap();
    ok(&stackr(d, &["plan", "stack.yaml", "-o", "real.plan.json"]));
    let real: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("real.plan.json")).unwrap()).unwrap();
    let table_id = {
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.join(".stackr/edited.state.json")).unwrap()).unwrap();
        state["resources"]["table"]["id"].as_str().unwrap().to_string()
    };
    let edited = |name: &str, edit: &dyn Fn(&mut serde_json::Value)| {
        let mut plan = real.clone();
        edit(&mut plan);
        let path = d.join(format!("{name}.plan.json"));
        std::fs::write(&path, serde_json::to_vec(&plan).unwrap()).unwrap();
        path.display().to_string()
    };
    let delete_table = serde_json::json!({"name": "table", "type": "aws:dynamodb:Table", "action": "delete",
        "dataLoss": false, "retain": false, "dependencies": [], "priorId": table_id});
    let cases: Vec<(String, &str)> = vec![
        (
            edited("gone", &|p| p["gone"] = serde_json::json!([{"name": "table", "id": table_id}])),
            "the saved plan says `table` was deleted outside stackr, but it exists",
        ),
        (
            edited("delete", &|p| p["steps"].as_array_mut().unwrap().push(delete_table.clone())),
            "`table` is declared by the stack, and only a destroy plan deletes it",
        ),
        (
            edited("loss", &|p| {
                p["destroy"] = true.into();
                p["steps"].as_array_mut().unwrap().push(delete_table.clone());
            }),
            "the plan destroys data (table)",
        ),
        (
            edited("type", &|p| p["steps"][0]["type"] = "aws:sqs:Queue".into()),
            "`topic` is a aws:sns:Topic, but the plan says aws:sqs:Queue",
        ),
    ];
    for (path, expected) in cases {
        let (code, text) = status(&stackr(d, &["apply", &path]));
        assert_eq!(code, Some(1), "{path}: {text}");
        assert!(text.contains(expected), "{path}: {text}");
    }
    // Nothing of it happened: the table is still recorded, and exists.
    let (code, text) = status(&stackr(d, &["state", "list", "stack.yaml"]));
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("table"), "{text}");
    let config = stackr_providers::moto::sdk_config().await;
    aws_sdk_dynamodb::Client::new(&config).describe_table().table_name("edited-table").send().await.unwrap();
    // The real plan still applies.
    ok(&stackr(d, &["apply", "real.plan.json"]));
    ok(&stackr(d, &["destroy", "stack.yaml", "--auto-approve"]));
}
