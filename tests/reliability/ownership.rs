//! What stackr records is what it made, in the account it made it in: a create never takes over a resource of the
//! same name, refresh never reads another account or region as "everything is gone", the old half of a
//! replacement is deleted only while it is still that resource, and one AWS resource is never two of the stack's.

use super::support::faults::{self, kill_when_held, proxy, run, sdk, spawn, Fault};
use super::support::{ok, status};

const TAKEN: &str = "name: taken\nregion: us-east-1\nresources:\n  alarm:\n    type: aws:cloudwatch:MetricAlarm\n    properties: {name: taken-alarm, namespace: AWS/Lambda, metricName: Errors, period: 60, evaluationPeriods: 1, threshold: 5, comparisonOperator: GreaterThanThreshold}\n  dashboard:\n    type: aws:cloudwatch:Dashboard\n    properties: {dashboardName: taken-dashboard, dashboardBody: {widgets: []}}\n  topic:\n    type: aws:sns:Topic\n    properties: {name: taken-topic, displayName: ours}\n";

const THEIR_DASHBOARD: &str =
    r#"{"widgets":[{"type":"text","x":0,"y":0,"width":3,"height":3,"properties":{"markdown":"theirs"}}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_create_never_takes_over_a_resource_of_the_same_name() {
    // PutMetricAlarm, PutDashboard and CreateTopic succeed on a name that is taken, overwriting (or returning)
    // what is there: an apply used to adopt someone else's alarm, dashboard and topic, and destroy deleted them.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("stack.yaml"), TAKEN).unwrap();
    let proxy = proxy("230000000001", faults::every(), usize::MAX, Fault::ServerError).await;
    let e = proxy.endpoint.clone();
    let config = sdk(&e).await;
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&config);
    let sns = aws_sdk_sns::Client::new(&config);
    cloudwatch
        .put_metric_alarm()
        .alarm_name("taken-alarm")
        .namespace("AWS/Lambda")
        .metric_name("Throttles")
        .statistic(aws_sdk_cloudwatch::types::Statistic::Sum)
        .period(300)
        .evaluation_periods(3)
        .threshold(99.0)
        .comparison_operator(aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap();
    cloudwatch.put_dashboard().dashboard_name("taken-dashboard").dashboard_body(THEIR_DASHBOARD).send().await.unwrap();
    let topic = sns.create_topic().name("taken-topic").attributes("DisplayName", "theirs").send().await.unwrap();
    let topic_arn = topic.topic_arn().unwrap().to_string();

    let (code, text) = status(&run(d, &e, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(1), "{text}");
    for (type_name, name) in [
        ("aws:cloudwatch:MetricAlarm", "taken-alarm"),
        ("aws:cloudwatch:Dashboard", "taken-dashboard"),
        ("aws:sns:Topic", "taken-topic"),
    ] {
        assert!(
            text.contains(&format!("{type_name} `{name}` already exists and this stack's state does not record it")),
            "{name}: {text}"
        );
    }
    assert!(text.contains("adopt it with `stackr import`"), "{text}");

    // Theirs, untouched.
    let alarms = cloudwatch.describe_alarms().alarm_names("taken-alarm").send().await.unwrap();
    let alarm = &alarms.metric_alarms()[0];
    assert_eq!((alarm.threshold(), alarm.metric_name()), (Some(99.0), Some("Throttles")));
    let dashboard = cloudwatch.get_dashboard().dashboard_name("taken-dashboard").send().await.unwrap();
    assert_eq!(dashboard.dashboard_body(), Some(THEIR_DASHBOARD));
    let attributes = sns.get_topic_attributes().topic_arn(&topic_arn).send().await.unwrap();
    assert_eq!(attributes.attributes().unwrap().get("DisplayName").map(String::as_str), Some("theirs"));
    let tags = sns.list_tags_for_resource().resource_arn(&topic_arn).send().await.unwrap();
    assert!(tags.tags().is_empty(), "not even tagged as ours: {:?}", tags.tags());
    let state = std::fs::read(d.join(".stackr/taken.state.json")).unwrap_or_default();
    let state: serde_json::Value = serde_json::from_slice(&state).unwrap_or_default();
    assert!(state["resources"].as_object().is_none_or(|r| r.is_empty()), "nothing recorded: {state}");

    // Adopting one is a decision a person makes: `stackr import`, after which the plan updates it.
    ok(&run(d, &e, &["import", "stack.yaml", "alarm", "taken-alarm"]));
    let plan = ok(&run(d, &e, &["plan", "stack.yaml", "--target", "alarm"]));
    assert!(plan.contains("~ alarm"), "{plan}");
}

const PLACED: &str = "name: placed\nresources:\n  topic:\n    type: aws:sns:Topic\n    properties: {name: placed-topic}\n  table:\n    type: aws:dynamodb:Table\n    properties: {name: placed-table, hashKey: id, attributes: [{name: id, type: S}]}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_in_another_account_or_region_refuses_instead_of_finding_everything_gone() {
    // With another account's credentials, every read said "gone", and apply created the whole stack again there.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("stack.yaml"), PLACED).unwrap();
    let home = proxy("230000000002", faults::every(), usize::MAX, Fault::ServerError).await;
    let elsewhere = proxy("230000000003", faults::every(), usize::MAX, Fault::ServerError).await;
    ok(&run(d, &home.endpoint, &["apply", "stack.yaml", "--auto-approve"]));

    for args in [
        &["plan", "stack.yaml", "--detailed-exitcode"][..],
        &["apply", "stack.yaml", "--auto-approve"][..],
        &["refresh", "stack.yaml"][..],
    ] {
        let (code, text) = status(&run(d, &elsewhere.endpoint, args));
        assert_eq!(code, Some(1), "{args:?}: {text}");
        assert!(
            text.contains("the state records this stack's resources in account 230000000002 (us-east-1), but the AWS credentials act in account 230000000003 (us-east-1)"),
            "{args:?}: {text}"
        );
        assert!(text.contains("hint: use the credentials and region this stack was deployed with"), "{text}");
    }
    let sns = aws_sdk_sns::Client::new(&sdk(&elsewhere.endpoint).await);
    assert!(sns.list_topics().send().await.unwrap().topics().is_empty(), "nothing created in the other account");

    // The same stack read in another region.
    let out = tokio::task::block_in_place(|| {
        super::support::command_via(d, &home.endpoint)
            .args(["plan", "stack.yaml"])
            .env("AWS_REGION", "eu-west-1")
            .output()
            .unwrap()
    });
    let (code, text) = status(&out);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "account 230000000002 (us-east-1), but the AWS credentials act in account 230000000002 (eu-west-1)"
        ),
        "{text}"
    );

    // A plan that reads nothing (`--refresh=false`) is no way round it: the apply refuses before any call (it used
    // to update the other account's log group and record its ARN beside ours).
    let changed = PLACED.replace("{name: placed-topic}", "{name: placed-topic, displayName: changed}");
    std::fs::write(d.join("stack.yaml"), &changed).unwrap();
    ok(&run(d, &elsewhere.endpoint, &["plan", "stack.yaml", "--refresh=false"]));
    let (code, text) = status(&run(d, &elsewhere.endpoint, &["apply"]));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("but the AWS credentials act in account 230000000003"), "{text}");
    std::fs::write(d.join("stack.yaml"), PLACED).unwrap();

    // At home, nothing changed.
    let (code, text) = status(&run(d, &home.endpoint, &["plan", "stack.yaml", "--detailed-exitcode"]));
    assert_eq!(code, Some(0), "{text}");

    // A stack whose resources carry no ARN that names the account (a REST API), or no region (a dashboard): the
    // state records where it was applied.
    let other = tempfile::tempdir().unwrap();
    let o = other.path();
    std::fs::write(
        o.join("stack.yaml"),
        "name: unplaced\nregion: us-east-1\nresources:\n  api:\n    type: aws:apigateway:RestApi\n    properties: {name: unplaced-api}\n  dash:\n    type: aws:cloudwatch:Dashboard\n    properties: {dashboardName: unplaced, dashboardBody: {widgets: []}}\n",
    )
    .unwrap();
    ok(&run(o, &home.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    let (code, text) = status(&run(o, &elsewhere.endpoint, &["plan", "stack.yaml"]));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("in account 230000000002 (us-east-1), but the AWS credentials act in account 230000000003"),
        "{text}"
    );
    let moved =
        std::fs::read_to_string(o.join("stack.yaml")).unwrap().replace("region: us-east-1", "region: eu-west-1");
    std::fs::write(o.join("stack.yaml"), moved).unwrap();
    let (code, text) = status(&run(o, &home.endpoint, &["plan", "stack.yaml"]));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("but the AWS credentials act in account 230000000002 (eu-west-1)"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_old_half_of_a_replacement_is_deleted_only_while_it_is_still_that_resource() {
    // A replacement killed after its new half was created leaves the old half to delete. If that name was taken
    // by another table in the meantime, the recovery run must leave the newcomer alone.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let table = |name: &str| {
        format!("name: retired\nregion: us-east-1\nresources:\n  orders:\n    type: aws:dynamodb:Table\n    properties: {{name: {name}, billingMode: PAY_PER_REQUEST, hashKey: id, attributes: [{{name: id, type: S}}]}}\n")
    };
    std::fs::write(d.join("stack.yaml"), table("retired-v1")).unwrap();
    let kill = proxy("230000000004", std::sync::Arc::new(|w: &str| w.contains("CreateTable")), 1, Fault::Hold).await;
    ok(&run(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    std::fs::write(d.join("stack.yaml"), table("retired-v2")).unwrap();
    let child = spawn(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve", "--allow-data-loss"]);
    assert!(kill_when_held(child, &kill), "killed just after the new CreateTable");
    kill.disarm();

    // Someone deletes the old table and makes another of that name.
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk(&kill.endpoint).await);
    dynamodb.delete_table().table_name("retired-v1").send().await.unwrap();
    use aws_sdk_dynamodb::types::{AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType};
    dynamodb
        .create_table()
        .table_name("retired-v1")
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder().attribute_name("pk").attribute_type(ScalarAttributeType::S).build().unwrap(),
        )
        .key_schema(KeySchemaElement::builder().attribute_name("pk").key_type(KeyType::Hash).build().unwrap())
        .send()
        .await
        .unwrap();

    let (code, text) = status(&run(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve", "--allow-data-loss"]));
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("retired-v1 is no longer the replaced resource"), "{text}");
    let mut tables = dynamodb.list_tables().send().await.unwrap().table_names().to_vec();
    tables.sort();
    assert_eq!(tables, ["retired-v1", "retired-v2"], "the newcomer stays: {text}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join(".stackr/retired.state.json")).unwrap()).unwrap();
    assert_eq!(state["pending"], serde_json::json!([]), "nothing left pending to delete that name later");
    assert_eq!(state["resources"]["orders"]["id"], "retired-v2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_aws_resource_cannot_be_imported_under_a_second_name() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("stack.yaml"),
        "name: twins\nregion: us-east-1\nresources:\n  first:\n    type: aws:sns:Topic\n    properties: {name: twins-a}\n  second:\n    type: aws:sns:Topic\n    properties: {name: twins-b}\n",
    )
    .unwrap();
    let proxy = proxy("230000000005", faults::every(), usize::MAX, Fault::ServerError).await;
    let e = proxy.endpoint.clone();
    ok(&run(d, &e, &["plan", "stack.yaml", "--target", "first"]));
    ok(&run(d, &e, &["apply"]));
    let arn = "arn:aws:sns:us-east-1:230000000005:twins-a";
    let (code, text) = status(&run(d, &e, &["import", "stack.yaml", "second", arn]));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains(&format!("{arn} is already managed as `first`")), "{text}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(d.join(".stackr/twins.state.json")).unwrap()).unwrap();
    assert_eq!(state["resources"].as_object().unwrap().keys().collect::<Vec<_>>(), ["first"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_secret_scheduled_for_deletion_outside_stackr_is_named_with_the_way_out() {
    // Deleted with a recovery window, the secret reads as gone but keeps its name: the recreate used to fail with
    // a bare "already exists" and no way forward.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("stack.yaml"),
        "name: pending\nregion: us-east-1\nresources:\n  secret:\n    type: aws:secretsmanager:Secret\n    properties: {name: pending-secret, secretString: {fn::secret: hunter2}}\n",
    )
    .unwrap();
    let proxy = proxy("230000000006", faults::every(), usize::MAX, Fault::ServerError).await;
    let e = proxy.endpoint.clone();
    ok(&run(d, &e, &["apply", "stack.yaml", "--auto-approve"]));
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk(&e).await);
    secrets.delete_secret().secret_id("pending-secret").recovery_window_in_days(7).send().await.unwrap();

    let (code, text) = status(&run(d, &e, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("secret `pending-secret` was scheduled for deletion outside stackr"), "{text}");
    assert!(text.contains("aws secretsmanager restore-secret --secret-id pending-secret"), "{text}");
    assert!(text.contains("--force-delete-without-recovery"), "{text}");
    assert!(!text.contains("hunter2"), "{text}");

    // The way out works: restore, import, and the stack is whole again.
    secrets.restore_secret().secret_id("pending-secret").send().await.unwrap();
    ok(&run(d, &e, &["import", "stack.yaml", "secret", "pending-secret"]));
    let (code, text) = status(&run(d, &e, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(0), "{text}");
    let (code, text) = status(&run(d, &e, &["plan", "stack.yaml", "--detailed-exitcode"]));
    assert_eq!(code, Some(0), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_journal_of_nothing_but_a_torn_fragment_is_removed_by_the_lock_holder() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("stack.yaml"), "name: torn\nregion: us-east-1\nresources:\n  topic:\n    type: aws:sns:Topic\n    properties: {name: torn-topic}\n").unwrap();
    let proxy = proxy("230000000007", faults::every(), usize::MAX, Fault::ServerError).await;
    ok(&run(d, &proxy.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    std::fs::write(d.join(".stackr/torn.journal"), "{\"record\":\"beg").unwrap();
    ok(&run(d, &proxy.endpoint, &["plan", "stack.yaml"]));
    assert!(d.join(".stackr/torn.journal").exists(), "a plan does not hold the lock: it leaves it");
    ok(&run(d, &proxy.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    assert!(!d.join(".stackr/torn.journal").exists(), "the apply with nothing to do removed it");
}

/// Runs stackr through `endpoint` with `AWS_REGION` set to `region`.
fn run_in(d: &std::path::Path, endpoint: &str, region: &str, args: &[&str]) -> std::process::Output {
    tokio::task::block_in_place(|| {
        let mut command = super::support::command_via(d, endpoint);
        command.env("AWS_REGION", region).env("STACKR_RECONCILE_SETTLE_MS", "100").args(args).output().unwrap()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_interrupted_run_is_continued_only_in_its_own_account() {
    // A first run killed before its first state file: its journal's Begin record names where it acted. Continued
    // with another account's credentials, it used to be replayed and reconciled there, and the stack built again;
    // `state migrate` committed what that reconcile concluded.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("stack.yaml"),
        "name: firstplace\nregion: us-east-1\nresources:\n  api:\n    type: aws:apigateway:RestApi\n    properties: {name: firstplace-api}\n  dash:\n    type: aws:cloudwatch:Dashboard\n    properties: {dashboardName: firstplace, dashboardBody: {widgets: []}}\n    options: {dependsOn: [api]}\n",
    )
    .unwrap();
    let home = proxy("230000000008", std::sync::Arc::new(|w: &str| w.contains("PutDashboard")), 0, Fault::Hold).await;
    let elsewhere = proxy("230000000009", faults::every(), usize::MAX, Fault::ServerError).await;
    let child = spawn(d, &home.endpoint, &["apply", "stack.yaml", "--auto-approve", "--parallelism", "1"]);
    assert!(kill_when_held(child, &home), "killed just after PutDashboard");
    home.disarm();
    for args in [
        &["apply", "stack.yaml", "--auto-approve"][..],
        &["state", "migrate", "stack.yaml", "--to", "file://moved"][..],
    ] {
        let (code, text) = status(&run(d, &elsewhere.endpoint, args));
        assert_eq!(code, Some(1), "{args:?}: {text}");
        assert!(
            text.contains("in account 230000000008 (us-east-1), but the AWS credentials act in account 230000000009"),
            "{text}"
        );
    }
    let apis = aws_sdk_apigateway::Client::new(&sdk(&elsewhere.endpoint).await).get_rest_apis().send().await.unwrap();
    assert!(apis.items().is_empty(), "nothing built in the other account");
    // At home the run is continued: the API adopted, the dashboard made.
    let (code, text) = status(&run(d, &home.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(0), "{text}");
    let apis = aws_sdk_apigateway::Client::new(&sdk(&home.endpoint).await).get_rest_apis().send().await.unwrap();
    assert_eq!(apis.items().len(), 1, "{text}");
    let (code, text) = status(&run(d, &home.endpoint, &["plan", "stack.yaml", "--detailed-exitcode"]));
    assert_eq!(code, Some(0), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_untagged_resource_is_adopted_only_if_it_is_what_the_create_asked_for() {
    // Killed just after PutDashboard; someone puts their own dashboard under the name before the next run. It
    // used to be adopted (and overwritten with ours) because a dashboard cannot carry a create token.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("stack.yaml"), "name: adopt\nregion: us-east-1\nresources:\n  dash:\n    type: aws:cloudwatch:Dashboard\n    properties: {dashboardName: adopt-dash, dashboardBody: {widgets: []}}\n").unwrap();
    let kill = proxy("230000000010", std::sync::Arc::new(|w: &str| w.contains("PutDashboard")), 0, Fault::Hold).await;
    let child = spawn(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve"]);
    assert!(kill_when_held(child, &kill), "killed just after PutDashboard");
    kill.disarm();
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk(&kill.endpoint).await);
    cloudwatch.put_dashboard().dashboard_name("adopt-dash").dashboard_body(THEIR_DASHBOARD).send().await.unwrap();
    let (code, text) = status(&run(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("aws:cloudwatch:Dashboard `adopt-dash` already exists and this stack's state does not record it"),
        "{text}"
    );
    let dashboard = cloudwatch.get_dashboard().dashboard_name("adopt-dash").send().await.unwrap();
    assert_eq!(dashboard.dashboard_body(), Some(THEIR_DASHBOARD), "theirs, untouched");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_old_state_whose_arns_name_no_region_does_not_forget_resources_in_another_region() {
    // A state from before places were recorded, of resources whose ARNs carry no region (an IAM role, a
    // dashboard): refreshed in another region, the dashboard read as gone and was forgotten, and that region was
    // recorded for good.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("stack.yaml"),
        "name: oldplace\nresources:\n  role:\n    type: aws:iam:Role\n    properties: {name: oldplace-role, assumeRolePolicy: {Version: \"2012-10-17\", Statement: []}}\n  dash:\n    type: aws:cloudwatch:Dashboard\n    properties: {dashboardName: oldplace, dashboardBody: {widgets: []}}\n",
    )
    .unwrap();
    let e = proxy("230000000011", faults::every(), usize::MAX, Fault::ServerError).await.endpoint;
    ok(&run_in(d, &e, "us-east-1", &["apply", "stack.yaml", "--auto-approve"]));
    let path = d.join(".stackr/oldplace.state.json");
    let mut state: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(state["place"]["region"], "us-east-1", "a new state records its place");
    state.as_object_mut().unwrap().remove("place");
    std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();

    let (code, text) = status(&run_in(d, &e, "eu-west-1", &["refresh", "stack.yaml"]));
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains(
            "it reads as gone, but nothing confirms that the stack was applied in account 230000000011 (eu-west-1)"
        ),
        "{text}"
    );
    let kept: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert!(
        kept["resources"]["dash"].is_object() && kept.get("place").is_none(),
        "nothing forgotten or recorded: {kept}"
    );
    // Where it lives, nothing reads as gone. Neither ARN names a region, so nothing confirms one to record.
    ok(&run_in(d, &e, "us-east-1", &["refresh", "stack.yaml"]));
    let (code, text) = status(&run_in(d, &e, "us-east-1", &["plan", "stack.yaml", "--detailed-exitcode"]));
    assert_eq!(code, Some(0), "{text}");
    // A regional resource read back where it lives confirms the place, which is then recorded.
    let yaml = std::fs::read_to_string(d.join("stack.yaml")).unwrap()
        + "  topic:\n    type: aws:sns:Topic\n    properties: {name: oldplace-topic}\n";
    std::fs::write(d.join("stack.yaml"), yaml).unwrap();
    ok(&run_in(d, &e, "us-east-1", &["apply", "stack.yaml", "--auto-approve"]));
    let mut state: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    state.as_object_mut().unwrap().remove("place");
    std::fs::write(&path, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    ok(&run_in(d, &e, "us-east-1", &["refresh", "stack.yaml"]));
    let placed: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(placed["place"]["region"], "us-east-1", "{placed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_drifted_untagged_old_half_is_still_deleted_by_name() {
    // An alias renamed (create the new, then delete the old), killed after CreateAlias; the old alias had been
    // pointed elsewhere outside stackr. It cannot carry a token, the name was ours: the recovery run deletes it
    // rather than forget it in AWS.
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stack = |alias: &str| {
        format!("name: drifted\nregion: us-east-1\nresources:\n  key:\n    type: aws:kms:Key\n    properties: {{description: drifted}}\n  alias:\n    type: aws:kms:Alias\n    properties: {{name: {alias}, targetKeyId: \"${{key.keyId}}\"}}\n")
    };
    std::fs::write(d.join("stack.yaml"), stack("alias/drifted-a")).unwrap();
    let kill = proxy("230000000012", std::sync::Arc::new(|w: &str| w.contains("CreateAlias")), 1, Fault::Hold).await;
    ok(&run(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    let kms = aws_sdk_kms::Client::new(&sdk(&kill.endpoint).await);
    let other = kms.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_string();
    kms.update_alias().alias_name("alias/drifted-a").target_key_id(&other).send().await.unwrap();
    std::fs::write(d.join("stack.yaml"), stack("alias/drifted-b")).unwrap();
    let child = spawn(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve"]);
    assert!(kill_when_held(child, &kill), "killed just after the new CreateAlias");
    kill.disarm();
    let (code, text) = status(&run(d, &kill.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(0), "{text}");
    let aliases = kms.list_aliases().send().await.unwrap();
    let ours: Vec<&str> =
        aliases.aliases().iter().filter_map(|a| a.alias_name()).filter(|n| n.starts_with("alias/drifted-")).collect();
    assert_eq!(ours, ["alias/drifted-b"], "the old alias is deleted, not orphaned: {text}");
    let (code, text) = status(&run(d, &kill.endpoint, &["plan", "stack.yaml", "--detailed-exitcode"]));
    assert_eq!(code, Some(0), "{text}");
}
