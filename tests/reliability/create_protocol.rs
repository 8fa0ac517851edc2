//! The create protocol (issue "One resource type, one place", item 3): a create made of several calls whose
//! configuration call AWS refuses records the resource it made (the step fails naming the call), never an orphan,
//! never a second copy; the next apply completes the configuration, reading AWS. One case per configuration
//! call of each multi-call type, each in its own moto account.

use super::support::faults::{self, proxy, run, sdk, Fault};
use super::support::status;

const TABLE: &str = "  table:\n    type: aws:dynamodb:Table\n    properties: {name: cp-table, billingMode: PAY_PER_REQUEST, hashKey: id, attributes: [{name: id, type: S}], ttl: {attributeName: exp, enabled: true}, pointInTimeRecovery: {enabled: true}}\n";

/// A bucket with every configuration, named `name` (bucket names are global: one per case).
fn bucket(name: &str) -> String {
    format!("  q:\n    type: aws:sqs:Queue\n    properties: {{name: cp-events}}\n  bucket:\n    type: aws:s3:Bucket\n    properties:\n      bucketName: {name}\n      versioning: {{enabled: true}}\n      serverSideEncryption: {{algorithm: AES256}}\n      publicAccessBlock: {{}}\n      lifecycleRules: [{{id: expire, expirationDays: 30}}]\n      policy: {{Version: \"2012-10-17\", Statement: [{{Effect: Deny, Principal: \"*\", Action: \"s3:*\", Resource: \"arn:aws:s3:::{name}/*\", Condition: {{Bool: {{\"aws:SecureTransport\": \"false\"}}}}}}]}}\n      corsRules: [{{allowedMethods: [GET], allowedOrigins: [\"*\"]}}]\n      notifications: {{queues: [{{queueArn: \"${{q.arn}}\", events: [\"s3:ObjectCreated:*\"]}}]}}\n      tags: {{Team: data}}\n")
}

const ROLE_TRUST: &str = r#"{Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: "sts:AssumeRole"}]}"#;

struct Case {
    name: &'static str,
    /// The resources, under `resources:`.
    yaml: String,
    /// The configuration call refused (a part of the request summary: `TARGET`, `Action`, or a path).
    call: &'static str,
    kind: Kind,
}

#[derive(Clone, Copy)]
enum Kind {
    Key,
    Table,
    Role,
    LogGroup,
    RestApi,
    Function,
    /// The bucket, by name.
    Bucket(&'static str),
    Rule,
    Mapping,
}

fn cases() -> Vec<Case> {
    let role = format!("  role:\n    type: aws:iam:Role\n    properties:\n      name: cp-role\n      assumeRolePolicy: {ROLE_TRUST}\n      inlinePolicies: [{{name: logs, policy: {{Version: \"2012-10-17\", Statement: [{{Effect: Allow, Action: \"logs:CreateLogGroup\", Resource: \"*\"}}]}}}}]\n      managedPolicyArns: [arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]\n");
    let function = format!(
        "  role:\n    type: aws:iam:Role\n    properties: {{name: cp-api-role, assumeRolePolicy: {ROLE_TRUST}}}\n  function:\n    type: aws:lambda:Function\n    properties: {{name: cp-api-fn, runtime: python3.12, handler: app.handler, role: \"${{role.arn}}\", code: ./code}}\n"
    );
    // With CORS and throttling: the preflight's four calls and the stage's two updates are configuration too.
    let api = format!("{function}  api:\n    type: aws:apigateway:RestApi\n    properties:\n      name: cp-api\n      routes: [{{path: /hello, method: GET, function: \"${{function.arn}}\"}}]\n      cors: {{allowOrigins: [\"https://example.com\"]}}\n      throttle: {{rateLimit: 10, burstLimit: 20}}\n      stageName: v1\n");
    vec![
        Case {
            name: "key rotation",
            yaml: "  key:\n    type: aws:kms:Key\n    properties: {description: cp-key, enableKeyRotation: true}\n".into(),
            call: "TrentService.EnableKeyRotation",
            kind: Kind::Key,
        },
        Case {
            name: "table TTL",
            yaml: TABLE.into(),
            call: "DynamoDB_20120810.UpdateTimeToLive",
            kind: Kind::Table,
        },
        Case {
            name: "table point-in-time recovery",
            yaml: TABLE.into(),
            call: "DynamoDB_20120810.UpdateContinuousBackups",
            kind: Kind::Table,
        },
        Case {
            name: "role inline policy",
            yaml: role.clone(),
            call: "PutRolePolicy",
            kind: Kind::Role,
        },
        Case {
            name: "role managed policy",
            yaml: role.clone(),
            call: "AttachRolePolicy",
            kind: Kind::Role,
        },
        Case {
            name: "log group retention",
            yaml: "  logs:\n    type: aws:cloudwatch:LogGroup\n    properties: {name: /cp/logs, retentionInDays: 7}\n".into(),
            call: "Logs_20140328.PutRetentionPolicy",
            kind: Kind::LogGroup,
        },
        Case {
            name: "function waited for until Active",
            yaml: format!("  role:\n    type: aws:iam:Role\n    properties: {{name: cp-fn-role, assumeRolePolicy: {ROLE_TRUST}}}\n  function:\n    type: aws:lambda:Function\n    properties: {{name: cp-fn, runtime: python3.12, handler: app.handler, role: \"${{role.arn}}\", code: ./code}}\n"),
            call: "/functions/cp-fn/configuration",
            kind: Kind::Function,
        },
        Case {
            name: "function reserved concurrency",
            yaml: format!("  role:\n    type: aws:iam:Role\n    properties: {{name: cp-fn-role, assumeRolePolicy: {ROLE_TRUST}}}\n  function:\n    type: aws:lambda:Function\n    properties: {{name: cp-fn, runtime: python3.12, handler: app.handler, role: \"${{role.arn}}\", code: ./code, reservedConcurrency: 5}}\n"),
            call: "/functions/cp-fn/concurrency",
            kind: Kind::Function,
        },
        Case {
            name: "REST API deployment",
            yaml: format!("{function}  api:\n    type: aws:apigateway:RestApi\n    properties:\n      name: cp-api\n      routes: [{{path: /hello, method: GET, function: \"${{function.arn}}\"}}]\n      stageName: v1\n"),
            call: "/deployments",
            kind: Kind::RestApi,
        },
        Case { name: "REST API resource", yaml: api.clone(), call: "POST /restapis/", kind: Kind::RestApi },
        Case { name: "REST API integration", yaml: api.clone(), call: "/methods/GET/integration", kind: Kind::RestApi },
        Case { name: "REST API preflight method", yaml: api.clone(), call: "/methods/OPTIONS", kind: Kind::RestApi },
        Case {
            name: "REST API preflight method response",
            yaml: api.clone(),
            call: "/methods/OPTIONS/responses/200",
            kind: Kind::RestApi,
        },
        Case {
            name: "REST API preflight integration response",
            yaml: api.clone(),
            call: "/methods/OPTIONS/integration/responses/200",
            kind: Kind::RestApi,
        },
        Case { name: "REST API stage", yaml: api.clone(), call: "/stages/v1", kind: Kind::RestApi },
        Case { name: "bucket tags", yaml: bucket("cp-tagging"), call: "PUT /cp-tagging/?tagging", kind: Kind::Bucket("cp-tagging") },
        Case { name: "bucket versioning", yaml: bucket("cp-versioning"), call: "PUT /cp-versioning/?versioning", kind: Kind::Bucket("cp-versioning") },
        Case { name: "bucket encryption", yaml: bucket("cp-encryption"), call: "PUT /cp-encryption/?encryption", kind: Kind::Bucket("cp-encryption") },
        Case { name: "bucket public access block", yaml: bucket("cp-publicaccessblock"), call: "PUT /cp-publicaccessblock/?publicAccessBlock", kind: Kind::Bucket("cp-publicaccessblock") },
        Case { name: "bucket lifecycle", yaml: bucket("cp-lifecycle"), call: "PUT /cp-lifecycle/?lifecycle", kind: Kind::Bucket("cp-lifecycle") },
        Case { name: "bucket policy", yaml: bucket("cp-policy"), call: "PUT /cp-policy/?policy", kind: Kind::Bucket("cp-policy") },
        Case { name: "bucket CORS", yaml: bucket("cp-cors"), call: "PUT /cp-cors/?cors", kind: Kind::Bucket("cp-cors") },
        Case { name: "bucket notifications", yaml: bucket("cp-notification"), call: "PUT /cp-notification/?notification", kind: Kind::Bucket("cp-notification") },
        Case {
            name: "rule targets",
            yaml: "  q:\n    type: aws:sqs:Queue\n    properties: {name: cp-rule-target}\n  rule:\n    type: aws:events:Rule\n    properties: {name: cp-rule, scheduleExpression: \"rate(1 hour)\", targets: [{id: q, arn: \"${q.arn}\"}]}\n".into(),
            call: "AWSEvents.PutTargets",
            kind: Kind::Rule,
        },
        Case {
            name: "event source mapping waited for",
            yaml: format!("{function}  q:\n    type: aws:sqs:Queue\n    properties: {{name: cp-mapped}}\n  mapping:\n    type: aws:lambda:EventSourceMapping\n    properties: {{eventSourceArn: \"${{q.arn}}\", functionName: \"${{function.name}}\"}}\n"),
            call: "GET /2015-03-31/event-source-mappings/",
            kind: Kind::Mapping,
        },
        Case {
            name: "REST API route",
            yaml: format!("{function}  api:\n    type: aws:apigateway:RestApi\n    properties:\n      name: cp-api\n      routes: [{{path: /hello, method: GET, function: \"${{function.arn}}\"}}]\n      stageName: v1\n"),
            call: "/methods/GET",
            kind: Kind::RestApi,
        },
    ]
}

/// How many of the case's main resource exist in the account.
async fn count(kind: Kind, config: &aws_config::SdkConfig) -> usize {
    match kind {
        Kind::Key => {
            let kms = aws_sdk_kms::Client::new(config);
            let mut live = 0;
            for key in kms.list_keys().send().await.unwrap().keys() {
                let described = kms.describe_key().key_id(key.key_id().unwrap()).send().await.unwrap();
                if described.key_metadata().unwrap().key_state().map(|s| s.as_str()) != Some("PendingDeletion") {
                    live += 1;
                }
            }
            live
        }
        Kind::Table => aws_sdk_dynamodb::Client::new(config).list_tables().send().await.unwrap().table_names().len(),
        Kind::Role => {
            let roles = aws_sdk_iam::Client::new(config).list_roles().send().await.unwrap();
            roles.roles().iter().filter(|r| r.role_name() == "cp-role").count()
        }
        Kind::LogGroup => {
            let logs = aws_sdk_cloudwatchlogs::Client::new(config);
            logs.describe_log_groups().log_group_name_prefix("/cp/").send().await.unwrap().log_groups().len()
        }
        Kind::RestApi => aws_sdk_apigateway::Client::new(config).get_rest_apis().send().await.unwrap().items().len(),
        Kind::Bucket(name) => {
            let s3 =
                aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(config).force_path_style(true).build());
            let buckets = s3.list_buckets().send().await.unwrap();
            buckets.buckets().iter().filter(|b| b.name() == Some(name)).count()
        }
        Kind::Rule => {
            let events = aws_sdk_eventbridge::Client::new(config);
            let rules = events.list_rules().name_prefix("cp-rule").send().await.unwrap();
            let found = rules.rules().len();
            let targets = events.list_targets_by_rule().rule("cp-rule").send().await.map(|t| t.targets().len());
            if targets.ok() == Some(1) {
                found
            } else {
                0
            }
        }
        Kind::Mapping => {
            let lambda = aws_sdk_lambda::Client::new(config);
            lambda
                .list_event_source_mappings()
                .function_name("cp-api-fn")
                .send()
                .await
                .unwrap()
                .event_source_mappings()
                .len()
        }
        Kind::Function => {
            let functions = aws_sdk_lambda::Client::new(config).list_functions().send().await.unwrap();
            functions.functions().iter().filter(|f| f.function_name() == Some("cp-fn")).count()
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refused_configuration_call_leaves_one_resource_that_the_next_apply_completes() {
    let mut failures = Vec::new();
    for (i, case) in cases().into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("stack.yaml"), format!("name: cp\nregion: us-east-1\nresources:\n{}", case.yaml))
            .unwrap();
        std::fs::create_dir_all(d.join("code")).unwrap();
        std::fs::write(d.join("code/app.py"), "def handler(event, context):\n    return {}\n").unwrap();
        let call = case.call;
        let filter: faults::Filter = std::sync::Arc::new(move |w: &str| w.contains(call));
        let proxy = proxy(&format!("{}", 233_000_000_000u64 + i as u64), filter, 0, Fault::Refuse).await;
        let e = proxy.endpoint.clone();
        let (code, text) = status(&run(d, &e, &["apply", "stack.yaml", "--auto-approve"]));
        if !proxy.fired() {
            failures.push(format!("{}: no `{call}` call was made: {:?}", case.name, proxy.log()));
            continue;
        }
        if code != Some(1) || !text.contains("AccessDenied") {
            failures.push(format!("{}: the refused call must fail the run naming it: {text}", case.name));
        }
        let config = sdk(&e).await;
        let (code, next) = status(&run(d, &e, &["apply", "stack.yaml", "--auto-approve"]));
        if code != Some(0) {
            failures.push(format!("{}: the next apply failed: {next}", case.name));
            continue;
        }
        let (code, text) = status(&run(d, &e, &["plan", "stack.yaml", "--detailed-exitcode"]));
        if code != Some(0) {
            failures.push(format!("{}: not fully configured, the plan is not empty: {text}", case.name));
        }
        let n = count(case.kind, &config).await;
        if n != 1 {
            failures.push(format!("{}: {n} copies exist; the next apply said: {next}", case.name));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// AWS may not show a resource to a read the moment it made it (KMS and IAM are eventually consistent): the read
/// that follows a create is refused once here. The create's own answer says what was made, so the run succeeds
/// with exactly one resource, recorded, and nothing to do afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_read_refused_right_after_a_create_does_not_lose_the_resource() {
    let role =
        format!("  role:\n    type: aws:iam:Role\n    properties: {{name: cp-role, assumeRolePolicy: {ROLE_TRUST}}}\n");
    let cases = [
        (
            "key",
            "  key:\n    type: aws:kms:Key\n    properties: {description: cp-key}\n".to_string(),
            "TrentService.DescribeKey",
            Kind::Key,
        ),
        ("role", role, "GetRole", Kind::Role),
    ];
    let mut failures = Vec::new();
    for (i, (name, yaml, call, kind)) in cases.into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::write(d.join("stack.yaml"), format!("name: cp\nregion: us-east-1\nresources:\n{yaml}")).unwrap();
        let filter: faults::Filter = std::sync::Arc::new(move |w: &str| w.contains(call));
        let proxy = proxy(&format!("{}", 231_000_000_000u64 + i as u64), filter, 0, Fault::Refuse).await;
        let e = proxy.endpoint.clone();
        let (code, text) = status(&run(d, &e, &["apply", "stack.yaml", "--auto-approve"]));
        if !proxy.fired() {
            failures.push(format!("{name}: no `{call}` call was made: {:?}", proxy.log()));
            continue;
        }
        if code != Some(0) {
            failures.push(format!("{name}: the apply failed although the resource was made: {text}"));
        }
        let (code, text) = status(&run(d, &e, &["plan", "stack.yaml", "--detailed-exitcode"]));
        if code != Some(0) {
            failures.push(format!("{name}: the next plan is not empty: {text}"));
        }
        let n = count(kind, &sdk(&e).await).await;
        if n != 1 {
            failures.push(format!("{name}: {n} copies exist"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A run killed while a create completes its resource (KMS key rotation in flight): the create journaled the
/// key's id before that call, so the next run reads the key by its id (no search through every key by token),
/// adopts it and completes the rotation: one key, fully configured.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_killed_while_a_create_completes_its_resource_knows_it_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let stack = "name: cp\nregion: us-east-1\nresources:\n  key:\n    type: aws:kms:Key\n    properties: {description: cp-held, enableKeyRotation: true}\n";
    std::fs::write(d.join("stack.yaml"), stack).unwrap();
    let filter: faults::Filter = std::sync::Arc::new(|w: &str| w.contains("TrentService.EnableKeyRotation"));
    let proxy = proxy("232000000000", filter, 0, Fault::Hold).await;
    let child = faults::spawn(d, &proxy.endpoint, &["apply", "stack.yaml", "--auto-approve"]);
    assert!(faults::kill_when_held(child, &proxy), "killed while EnableKeyRotation was in flight");
    let journal = std::fs::read_to_string(d.join(".stackr/cp.journal")).unwrap();
    let made: Vec<serde_json::Value> = journal
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["record"] == "made")
        .collect();
    assert_eq!(made.len(), 1, "the create's id was journaled before the configuration call: {journal}");
    let key_id = made[0]["id"].as_str().unwrap().to_string();

    proxy.disarm();
    let before = proxy.log().len();
    let (code, text) = status(&run(d, &proxy.endpoint, &["apply", "stack.yaml", "--auto-approve"]));
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains(&format!("adopted {key_id}")), "{text}");
    let calls = proxy.log()[before..].to_vec();
    assert!(!calls.iter().any(|c| c.contains("ListKeys")), "read by id, not searched for: {calls:?}");
    let kms = aws_sdk_kms::Client::new(&sdk(&proxy.endpoint).await);
    assert!(kms.get_key_rotation_status().key_id(&key_id).send().await.unwrap().key_rotation_enabled());
    assert_eq!(count(Kind::Key, &sdk(&proxy.endpoint).await).await, 1);
    let (code, text) = status(&run(d, &proxy.endpoint, &["plan", "stack.yaml", "--detailed-exitcode"]));
    assert_eq!(code, Some(0), "{text}");
}
