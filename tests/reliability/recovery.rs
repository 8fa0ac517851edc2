//! Never lose track of a resource (issue "Never lose track"): each defect found, reproduced through the real
//! binary against moto (each test in its own moto account, through the fault proxy).

use super::support::faults::{self, kill_when_held, proxy, run, sdk, spawn, Fault};
use super::support::{self, ok, status};

const TOPIC: &str = "name: gone\nregion: us-east-1\nresources:\n  topic:\n    type: aws:sns:Topic\n    properties: {name: gone-topic}\n  alarmsTopic:\n    type: aws:sns:Topic\n    properties: {name: gone-alarms}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_resource_deleted_outside_stackr_is_recreated_by_both_apply_paths() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("stack.yaml"), TOPIC).unwrap();
    let proxy = proxy("210000000001", faults::every(), usize::MAX, Fault::ServerError).await;
    let e = proxy.endpoint.clone();
    ok(&run(d, &e, &["apply", "stack.yaml", "--auto-approve"]));
    let sns = aws_sdk_sns::Client::new(&sdk(&e).await);
    let arn = |name: &str| format!("arn:aws:sns:us-east-1:210000000001:{name}");

    // Deleted outside stackr: plan shows a create; the saved plan applies it (it used to refuse, forever).
    sns.delete_topic().topic_arn(arn("gone-topic")).send().await.unwrap();
    let plan = ok(&run(d, &e, &["plan", "stack.yaml"]));
    assert!(plan.contains("+ topic"), "{plan}");
    let applied = run(d, &e, &["apply"]);
    let (code, text) = status(&applied);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("1 created"), "{text}");
    sns.get_topic_attributes().topic_arn(arn("gone-topic")).send().await.unwrap();

    // The same through `apply STACK --auto-approve`.
    sns.delete_topic().topic_arn(arn("gone-alarms")).send().await.unwrap();
    let (code, text) = status(&run(d, &e, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("1 created"), "{text}");
    sns.get_topic_attributes().topic_arn(arn("gone-alarms")).send().await.unwrap();
    let (code, text) = status(&run(d, &e, &["plan", "stack.yaml", "--detailed-exitcode"]));
    assert_eq!(code, Some(0), "converged: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refresh_that_cannot_read_aws_fails_naming_what_it_could_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("stack.yaml"), TOPIC).unwrap();
    let proxy = proxy("210000000002", faults::every(), usize::MAX, Fault::ServerError).await;
    ok(&run(d, &proxy.endpoint, &["apply", "stack.yaml", "--auto-approve"]));

    // Nothing listens on port 9 of loopback: every read fails to connect.
    let unreachable = "http://127.0.0.1:9";
    for args in [
        &["plan", "stack.yaml", "--detailed-exitcode"][..],
        &["apply", "stack.yaml", "--auto-approve"][..],
        &["refresh", "stack.yaml"][..],
    ] {
        let (code, text) = status(&run(d, unreachable, args));
        assert_eq!(code, Some(1), "{args:?} must fail, not report a blind plan: {text}");
        assert!(!text.contains("no changes") && !text.contains("No changes"), "{text}");
        assert!(text.contains("refresh could not read 2 of 2 resources (alarmsTopic, topic)"), "{text}");
        // One readable line per AWS error, never the SDK's Debug dump.
        assert!(text.contains("cannot connect to the AWS endpoint"), "{text}");
        assert!(!text.contains("DispatchFailure") && !text.contains("ConnectorError"), "{text}");
        assert!(text.contains("--refresh=false"), "the hint names the way out: {text}");
    }
    // Only an explicit --refresh=false plans without reading.
    let (code, text) = status(&run(d, unreachable, &["plan", "stack.yaml", "--refresh=false", "--detailed-exitcode"]));
    assert_eq!(code, Some(0), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn missing_credentials_are_named_in_one_line_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("stack.yaml"), TOPIC).unwrap();
    let out = support::command(d)
        .args(["apply", "stack.yaml", "--auto-approve"])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env("HOME", d)
        .env("AWS_CONFIG_FILE", d.join("none"))
        .env("AWS_SHARED_CREDENTIALS_FILE", d.join("none"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .unwrap();
    let (code, text) = status(&out);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("no AWS credentials found: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
        "{text}"
    );
    assert!(!text.contains("DispatchFailure") && !text.contains("{ source:"), "{text}");
    for line in text.lines().filter(|l| l.starts_with("error")) {
        assert!(line.len() < 400, "one readable line: {line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_first_run_killed_before_any_state_continues_with_its_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("stack.yaml"),
        "name: firstrun\nregion: us-east-1\nresources:\n  secret:\n    type: aws:secretsmanager:Secret\n    properties: {name: firstrun-secret, secretString: {fn::secret: hunter2}}\n  topic:\n    type: aws:sns:Topic\n    properties: {name: firstrun-topic}\n    options: {dependsOn: [secret]}\n",
    )
    .unwrap();
    // Creating the secret (the first call that changes AWS) takes effect; stackr dies before it hears back.
    let proxy = proxy("210000000003", std::sync::Arc::new(|w: &str| w.contains("CreateSecret")), 0, Fault::Hold).await;
    let child = spawn(d, &proxy.endpoint, &["apply", "stack.yaml", "--auto-approve", "--parallelism", "1"]);
    assert!(kill_when_held(child, &proxy), "killed just after the create");
    assert!(!d.join(".stackr/firstrun.state.json").exists(), "no state file yet");
    proxy.disarm();
    let (code, text) = status(&run(d, &proxy.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(0), "the next run continues the first: {text}");
    assert!(text.contains("adopted"), "{text}");
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk(&proxy.endpoint).await);
    let listed = secrets.list_secrets().send().await.unwrap();
    assert_eq!(listed.secret_list().len(), 1, "exactly one secret");
    let (code, text) = status(&run(d, &proxy.endpoint, &["plan", "stack.yaml", "--detailed-exitcode"]));
    assert_eq!(code, Some(0), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn read_only_commands_never_touch_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("stack.yaml"), TOPIC).unwrap();
    let proxy = proxy("210000000004", faults::every(), usize::MAX, Fault::ServerError).await;
    ok(&run(d, &proxy.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    // A journal already compacted into the state (its run died before removing it): base serial one behind.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join(".stackr/gone.state.json")).unwrap()).unwrap();
    let serial = state["serial"].as_u64().unwrap();
    let journal = d.join(".stackr/gone.journal");
    let begin =
        serde_json::json!({"record": "begin", "lineage": state["lineage"], "serial": serial - 1, "operation": "apply"});
    std::fs::write(&journal, format!("{begin}\n")).unwrap();
    ok(&run(d, &proxy.endpoint, &["plan", "stack.yaml"]));
    ok(&run(d, &proxy.endpoint, &["state", "list", "stack.yaml"]));
    assert!(journal.exists(), "plan and state list leave it to the lock holder");
    ok(&run(d, &proxy.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    assert!(!journal.exists(), "the lock holder removes it");

    // A journal without its Begin record is reported, not ignored.
    let intent = serde_json::json!({"record": "intent", "resource": "x", "type": "aws:sns:Topic", "operation": "create", "createToken": "t", "inputs": {}});
    std::fs::write(&journal, format!("{intent}\n")).unwrap();
    let (code, text) = status(&run(d, &proxy.endpoint, &["plan", "stack.yaml"]));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("has no Begin record"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_foreign_key_that_denies_its_tags_does_not_stop_reconciling() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("stack.yaml"),
        "name: foreign\nregion: us-east-1\nresources:\n  key:\n    type: aws:kms:Key\n    properties: {description: ours}\n",
    )
    .unwrap();
    let account = "210000000005";
    let kill =
        proxy(account, std::sync::Arc::new(|w: &str| w.contains("TrentService.CreateKey")), 0, Fault::Hold).await;
    kill.disarm();
    let kms = aws_sdk_kms::Client::new(&sdk(&kill.endpoint).await);
    kms.create_key().description("another team's").send().await.unwrap();
    kill.arm();
    // Our key is created; stackr dies before hearing back.
    let child = spawn(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve"]);
    assert!(kill_when_held(child, &kill), "killed just after CreateKey");
    // The next run looks for it by its token among all keys; one of them denies us its tags.
    let denied =
        proxy(account, std::sync::Arc::new(|w: &str| w.contains("TrentService.ListResourceTags")), 0, Fault::Refuse)
            .await;
    let (code, text) = status(&run(d, &denied.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    assert!(denied.fired(), "a ListResourceTags was refused");
    assert_eq!(code, Some(0), "{text}");
    let mut ours = 0;
    for key in kms.list_keys().send().await.unwrap().keys() {
        let described = kms.describe_key().key_id(key.key_id().unwrap()).send().await.unwrap();
        if described.key_metadata().unwrap().description() == Some("ours") {
            ours += 1;
        }
    }
    assert_eq!(ours, 1, "adopted, not created twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn state_migrate_carries_what_an_interrupted_run_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("stack.yaml"),
        "name: migrating\nregion: us-east-1\nresources:\n  first:\n    type: aws:sns:Topic\n    properties: {name: migrating-first}\n  second:\n    type: aws:sns:Topic\n    properties: {name: migrating-second}\n    options: {dependsOn: [first]}\n",
    )
    .unwrap();
    // Killed just after the second topic was created: no state file, a journal recording both.
    let filter: faults::Filter = std::sync::Arc::new(|w: &str| w.ends_with(" CreateTopic"));
    let kill = proxy("210000000006", filter, 1, Fault::Hold).await;
    let child = spawn(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve", "--parallelism", "1"]);
    assert!(kill_when_held(child, &kill), "killed after the second CreateTopic");
    kill.disarm();
    assert!(d.join(".stackr/migrating.journal").exists());
    let (code, text) = status(&run(d, &kill.endpoint, &["state", "migrate", "stack.yaml", "--to", "file://moved"]));
    assert_eq!(code, Some(0), "{text}");
    let copied: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join("moved/migrating.state.json")).unwrap()).unwrap();
    let names: Vec<&String> = copied["resources"].as_object().unwrap().keys().collect();
    assert_eq!(names, ["first", "second"], "the copy holds what the journal recorded, the adopted create too");
    assert!(!d.join(".stackr/migrating.journal").exists(), "no journal left behind on the old backend");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_replacement_deletes_its_old_half_in_the_recovery_run() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let table = |name: &str| {
        format!("name: renamed\nregion: us-east-1\nresources:\n  orders:\n    type: aws:dynamodb:Table\n    properties: {{name: {name}, billingMode: PAY_PER_REQUEST, hashKey: id, attributes: [{{name: id, type: S}}]}}\n")
    };
    std::fs::write(d.join("stack.yaml"), table("orders-v1")).unwrap();
    let kill = proxy("210000000007", std::sync::Arc::new(|w: &str| w.contains("CreateTable")), 1, Fault::Hold).await;
    ok(&run(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    // Renamed: a create-before-delete replacement, killed just after the new table was created.
    std::fs::write(d.join("stack.yaml"), table("orders-v2")).unwrap();
    let child = spawn(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve", "--allow-data-loss"]);
    assert!(kill_when_held(child, &kill), "killed just after the new CreateTable");
    kill.disarm();
    let (code, text) = status(&run(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve", "--allow-data-loss"]));
    assert_eq!(code, Some(0), "{text}");
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk(&kill.endpoint).await);
    let tables = dynamodb.list_tables().send().await.unwrap();
    assert_eq!(tables.table_names(), ["orders-v2"], "the old half is deleted by the recovery run: {text}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join(".stackr/renamed.state.json")).unwrap()).unwrap();
    assert_eq!(state["pending"], serde_json::json!([]), "nothing is left pending to delete a name later");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rest_api_update_killed_half_way_is_rebuilt_by_the_next_apply() {
    // Killed between a preflight's method and its integration response, the API used to fail every read
    // (GetIntegrationResponse: NotFound), so no plan, apply or destroy could ever run again.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::create_dir_all(d.join("code")).unwrap();
    std::fs::write(d.join("code/app.py"), "def handler(event, context):\n    return {}\n").unwrap();
    let stack = |paths: &[&str]| {
        let routes: Vec<String> =
            paths.iter().map(|p| format!("{{path: {p}, method: GET, function: \"${{function.arn}}\"}}")).collect();
        format!(
            "name: halfapi\nregion: us-east-1\nresources:\n  role:\n    type: aws:iam:Role\n    properties:\n      name: halfapi-role\n      assumeRolePolicy: {{Version: \"2012-10-17\", Statement: [{{Effect: Allow, Principal: {{Service: lambda.amazonaws.com}}, Action: \"sts:AssumeRole\"}}]}}\n  function:\n    type: aws:lambda:Function\n    properties: {{name: halfapi-fn, runtime: python3.12, handler: app.handler, role: \"${{role.arn}}\", code: ./code}}\n  api:\n    type: aws:apigateway:RestApi\n    properties:\n      name: halfapi\n      routes: [{}]\n      cors: {{allowOrigins: [\"*\"]}}\n",
            routes.join(", ")
        )
    };
    std::fs::write(d.join("stack.yaml"), stack(&["/h"])).unwrap();
    let filter: faults::Filter =
        std::sync::Arc::new(|w: &str| w.starts_with("PUT") && w.contains("/integration/responses"));
    let kill = proxy("210000000011", filter, 0, Fault::Hold).await;
    kill.disarm();
    ok(&run(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    std::fs::write(d.join("stack.yaml"), stack(&["/h", "/i", "/j"])).unwrap();
    kill.arm();
    let child = spawn(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve"]);
    assert!(kill_when_held(child, &kill), "killed with a preflight half written");
    kill.disarm();
    for args in [&["apply", "stack.yaml", "--auto-approve"][..], &["plan", "stack.yaml", "--detailed-exitcode"][..]] {
        let (code, text) = status(&run(d, &kill.endpoint, args));
        assert_eq!(code, Some(0), "{args:?}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_killed_after_re_keying_the_state_is_continued_under_the_new_key() {
    // The plan changes the secrets provider (passphrase → KMS) and a dashboard; the run is killed while the
    // dashboard's update is in flight. Its journal was written under the new key, the stored state is still under
    // the old one: the next apply reads both, finishes the change, and the state ends under the new key only.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stack = |provider: &str, markdown: &str| {
        format!("name: rekeykill\nregion: us-east-1\nsecretsProvider: {provider}\nresources:\n  secret:\n    type: aws:secretsmanager:Secret\n    properties: {{name: rekeykill/token, secretString: {{fn::secret: rekey-canary-value}}, recoveryWindowInDays: 0}}\n  dashboard:\n    type: aws:cloudwatch:Dashboard\n    properties: {{dashboardName: rekeykill, dashboardBody: {{widgets: [{{type: text, x: 0, y: 0, width: 3, height: 3, properties: {{markdown: {markdown}}}}}]}}}}\n")
    };
    let state = || std::fs::read_to_string(d.join(".stackr/rekeykill.state.json")).unwrap();
    // The first PutDashboard (the create) passes; the second (the update) is held and the run killed.
    let proxy = proxy("240000000001", std::sync::Arc::new(|w: &str| w.contains("PutDashboard")), 1, Fault::Hold).await;
    std::fs::write(d.join("stack.yaml"), stack("passphrase", "first")).unwrap();
    ok(&run(d, &proxy.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    assert!(state().contains("\"provider\": \"passphrase\""));
    let kms = aws_sdk_kms::Client::new(&sdk(&proxy.endpoint).await);
    let key = kms.create_key().description("rekeykill state key").send().await.unwrap();
    let key_id = key.key_metadata().unwrap().key_id().to_string();
    kms.create_alias().alias_name("alias/rekeykill").target_key_id(&key_id).send().await.unwrap();

    std::fs::write(d.join("stack.yaml"), stack("awskms://alias/rekeykill", "second")).unwrap();
    let child = spawn(d, &proxy.endpoint, &["apply", "stack.yaml", "--auto-approve"]);
    assert!(kill_when_held(child, &proxy), "killed while the dashboard's update was in flight");
    assert!(d.join(".stackr/rekeykill.journal").exists(), "the killed run left its journal");
    assert!(state().contains("\"provider\": \"passphrase\""), "the stored state is still under the old key");
    proxy.disarm();

    let (code, text) = status(&run(d, &proxy.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(0), "the next run continues the killed one: {text}");
    assert!(text.contains("replaying"), "{text}");
    let written = state();
    assert!(
        written.contains("\"provider\": \"awskms://alias/rekeykill\"") && written.contains("\"encryptedKey\""),
        "the state is under the new key: {written}"
    );
    assert!(written.contains("@encrypted") && !written.contains("rekey-canary-value"), "{written}");
    assert!(!d.join(".stackr/rekeykill.journal").exists(), "the journal was committed and removed");
    // The passphrase is no longer needed, and nothing is left to do.
    let plan = faults::command(d, &proxy.endpoint)
        .env_remove("STACKR_PASSPHRASE")
        .args(["plan", "stack.yaml", "--detailed-exitcode"])
        .output()
        .unwrap();
    let (code, text) = status(&plan);
    assert_eq!(code, Some(0), "{text}");
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk(&proxy.endpoint).await);
    let body = cloudwatch.get_dashboard().dashboard_name("rekeykill").send().await.unwrap();
    assert!(body.dashboard_body().unwrap_or_default().contains("second"), "{body:?}");
}
