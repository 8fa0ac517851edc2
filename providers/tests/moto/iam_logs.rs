//! aws:iam:Role and aws:cloudwatch:LogGroup against moto.

use stackr_engine::provider::CallContext;
use stackr_engine::value::Value;

use crate::support::{actions, Env};

const TRUST: &str = "      assumeRolePolicy:\n        Version: \"2012-10-17\"\n        Statement: [{Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: \"sts:AssumeRole\"}]\n";

fn role(description: &str, actions: &str, managed: &str) -> String {
    format!(
        "defaultTags: {{Project: roles}}\nresources:\n  role:\n    type: aws:iam:Role\n    properties:\n      name: iam-test-role\n      description: {description}\n{TRUST}      inlinePolicies:\n        - name: data\n          policy:\n            Version: \"2012-10-17\"\n            Statement: [{{Effect: Allow, Action: [{actions}], Resource: \"*\"}}]\n      managedPolicyArns: [{managed}]\n"
    )
}

const BASIC: &str = "\"arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole\"";

#[tokio::test]
async fn role_lifecycle() {
    let mut env = Env::new("iam-lifecycle").await;
    let iam = aws_sdk_iam::Client::new(&env.config);
    let stack = env.stack(&role("first", "\"dynamodb:GetItem\"", BASIC));
    env.converge(&stack).await;
    let got = iam.get_role().role_name("iam-test-role").send().await.unwrap();
    assert_eq!(got.role().unwrap().arn(), env.output("role", "arn"));
    assert!(got.role().unwrap().role_id().starts_with("AROA"));
    let inline = iam.get_role_policy().role_name("iam-test-role").policy_name("data").send().await.unwrap();
    assert!(inline.policy_document().contains("GetItem"));
    let attached = iam.list_attached_role_policies().role_name("iam-test-role").send().await.unwrap();
    assert_eq!(attached.attached_policies().len(), 1);
    env.assert_no_changes(&stack).await;

    // Update: policy statement, description, managed policy detached.
    let stack = env.stack(&role("second", "\"dynamodb:GetItem\", \"dynamodb:PutItem\"", ""));
    let plan = env.converge(&stack).await;
    assert_eq!(actions(&plan), [("role".to_string(), "update")]);
    let inline = iam.get_role_policy().role_name("iam-test-role").policy_name("data").send().await.unwrap();
    assert!(inline.policy_document().contains("PutItem"));
    assert!(iam
        .list_attached_role_policies()
        .role_name("iam-test-role")
        .send()
        .await
        .unwrap()
        .attached_policies()
        .is_empty());
    assert_eq!(
        iam.get_role().role_name("iam-test-role").send().await.unwrap().role().unwrap().description(),
        Some("second")
    );
    env.assert_no_changes(&stack).await;

    // Drift: an inline policy added by hand is found and removed.
    iam.put_role_policy()
        .role_name("iam-test-role")
        .policy_name("sneaky")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let plan = env.plan(&stack).await;
    assert_eq!(plan.drift.len(), 1);
    env.apply_plan(&plan).await;
    let names = iam.list_role_policies().role_name("iam-test-role").send().await.unwrap();
    assert_eq!(names.policy_names(), ["data"]);

    // Import by name or ARN.
    let provider = env.registry.provider("aws:iam:Role").unwrap();
    let cx = CallContext { stack: env.name.clone(), resource: "role".into(), create_token: None, made: None };
    assert_eq!(provider.import(&cx, &env.output("role", "arn")).await.unwrap().unwrap().id, "iam-test-role");

    // Delete with an inline and a managed policy attached: both go first.
    let stack = env.stack(&role("second", "\"dynamodb:GetItem\"", BASIC));
    env.converge(&stack).await;
    env.converge(&env.stack("resources: {}\n")).await;
    assert!(iam.get_role().role_name("iam-test-role").send().await.is_err());
    assert!(provider.read(&cx, "iam-test-role", &Value::Null).await.unwrap().is_none());
}

#[tokio::test]
async fn log_group_lifecycle() {
    let mut env = Env::new("logs-lifecycle").await;
    let logs = aws_sdk_cloudwatchlogs::Client::new(&env.config);
    let yaml = |days: u32| {
        format!("resources:\n  logs:\n    type: aws:cloudwatch:LogGroup\n    properties: {{name: /test/lifecycle, retentionInDays: {days}, tags: {{Team: a}}}}\n")
    };
    let stack = env.stack(&yaml(7));
    env.converge(&stack).await;
    let groups = logs.describe_log_groups().log_group_name_prefix("/test/lifecycle").send().await.unwrap();
    let group = &groups.log_groups()[0];
    assert_eq!(group.retention_in_days(), Some(7));
    assert_eq!(env.output("logs", "arn"), group.log_group_arn().unwrap());
    assert!(!env.output("logs", "arn").ends_with(":*"));
    env.assert_no_changes(&stack).await;

    let stack = env.stack(&yaml(14));
    let plan = env.converge(&stack).await;
    assert_eq!(actions(&plan), [("logs".to_string(), "update")]);
    let groups = logs.describe_log_groups().log_group_name_prefix("/test/lifecycle").send().await.unwrap();
    assert_eq!(groups.log_groups()[0].retention_in_days(), Some(14));

    // Drift: retention removed by hand.
    logs.delete_retention_policy().log_group_name("/test/lifecycle").send().await.unwrap();
    let plan = env.plan(&stack).await;
    assert_eq!(plan.drift[0].diff[0].path, "retentionInDays");
    env.apply_plan(&plan).await;
    env.assert_no_changes(&stack).await;

    // Replace on a new name; delete.
    let renamed = env.stack(&yaml(14).replace("/test/lifecycle", "/test/lifecycle-2"));
    let plan = env.converge(&renamed).await;
    assert_eq!(actions(&plan), [("logs".to_string(), "replace")]);
    assert!(logs
        .describe_log_groups()
        .log_group_name_prefix("/test/lifecycle")
        .send()
        .await
        .unwrap()
        .log_groups()
        .iter()
        .all(|g| g.log_group_name() == Some("/test/lifecycle-2")));
    env.converge(&env.stack("resources: {}\n")).await;
    assert!(logs
        .describe_log_groups()
        .log_group_name_prefix("/test/lifecycle")
        .send()
        .await
        .unwrap()
        .log_groups()
        .is_empty());
}
