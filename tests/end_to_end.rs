//! End to end, the real `stackr` binary against moto:
//! - `stackr apply stacks/dev.yaml` deploys the whole seed infrastructure, checked here through the AWS SDK (not
//!   through stackr's own state); a second plan has no changes; `stackr destroy` leaves nothing behind; the
//!   passphrase and AWS keys in the environment appear in nothing printed or written for any fixture stack;
//! - `saved_plans`: saved plans are applied exactly or refused when stale; locks, the data-loss guard, state
//!   commands, import and output work from the command line; a corrupt state file is refused and left alone;
//! - `interrupts`: Ctrl-C and SIGKILL during an apply;
//! - `secrets`: redaction everywhere, KMS-encrypted state, fingerprints of secret config in saved plans.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::path::Path;

use support::{copy_tree, ok};

#[path = "end_to_end/interrupts.rs"]
mod interrupts;
#[path = "end_to_end/saved_plans.rs"]
mod saved_plans;
#[path = "end_to_end/secrets.rs"]
mod secrets;

#[tokio::test(flavor = "multi_thread")]
async fn the_dev_stack_deploys_the_whole_seed_infrastructure() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    copy_tree(&root.join("stacks"), &dir.path().join("stacks"));
    copy_tree(&root.join("functions"), &dir.path().join("functions"));
    let config = stackr_providers::moto::sdk_config().await;
    // Every run has the passphrase and AWS keys set to recognisable markers, looked for in everything printed or
    // written at the end.
    let printed = std::cell::RefCell::new(String::new());
    let stackr = |args: &[&str]| {
        let mut command = support::command(dir.path());
        for (name, value) in MARKERS {
            command.env(name, value);
        }
        let out = command.args(args).output().unwrap();
        printed.borrow_mut().push_str(&String::from_utf8_lossy(&out.stdout));
        printed.borrow_mut().push_str(&String::from_utf8_lossy(&out.stderr));
        out
    };
    // The staging and production stacks validate and plan (nothing of theirs exists yet).
    for env in ["staging", "prod"] {
        let stack = format!("stacks/{env}.yaml");
        ok(&stackr(&["validate", &stack]));
        let plan = ok(&stackr(&["plan", &stack, "--out", &format!(".stackr/{env}.plan")]));
        assert!(plan.contains("Plan: 22 to create, 0 to update, 0 to replace, 0 to delete."), "{plan}");
    }

    let applied = ok(&stackr(&["apply", "stacks/dev.yaml", "--auto-approve"]));
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
    let plan = stackr(&["plan", "stacks/dev.yaml", "--detailed-exitcode"]);
    assert_eq!(plan.status.code(), Some(0), "{}", String::from_utf8_lossy(&plan.stdout));

    // Destroy: nothing is left.
    let destroyed = ok(&stackr(&["destroy", "stacks/dev.yaml", "--auto-approve"]));
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
    let listed = ok(&stackr(&["state", "list", "stacks/dev.yaml"]));
    assert_eq!(listed, "Stack chatbot-dev has no resources in its state.\n");
    assert_unmarked(&printed.into_inner(), dir.path());
}

/// The passphrase and AWS keys the tests that look for leaks put in stackr's environment.
const MARKERS: [(&str, &str); 3] = [
    ("STACKR_PASSPHRASE", "PASSPHRASE-marker-91b2e4"),
    ("AWS_ACCESS_KEY_ID", "AKIAMARKER4F1E2D3C4B5A"),
    ("AWS_SECRET_ACCESS_KEY", "aws-secret-marker-5c7d9e0f"),
];

/// No marker (nor any of `more`) is in `printed` or in any file under `dir`'s `.stackr` (state, backups,
/// journals, locks, saved plans).
fn assert_unmarked_with(printed: &str, dir: &Path, more: &[&str]) {
    let markers: Vec<&str> = MARKERS.iter().map(|(_, value)| *value).chain(more.iter().copied()).collect();
    for marker in &markers {
        assert!(!printed.contains(marker), "{marker} was printed:\n{printed}");
    }
    let written: Vec<_> = files_under(dir).into_iter().filter(|p| p.starts_with(dir.join(".stackr"))).collect();
    assert!(written.iter().any(|p| p.to_string_lossy().ends_with(".state.json")), "a state was written");
    for file in written {
        let bytes = std::fs::read(&file).unwrap();
        for marker in &markers {
            assert!(!String::from_utf8_lossy(&bytes).contains(marker), "{} holds {marker}", file.display());
        }
    }
}

fn assert_unmarked(printed: &str, dir: &Path) {
    assert_unmarked_with(printed, dir, &[]);
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
