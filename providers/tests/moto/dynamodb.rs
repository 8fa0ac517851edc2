//! aws:dynamodb:Table against moto.

use aws_sdk_dynamodb::types::{PointInTimeRecoverySpecification, TimeToLiveStatus};
use stackr_engine::provider::CallContext;

use crate::support::{actions, Env};

const KEY: &str = "  key:\n    type: aws:kms:Key\n    properties: {description: table key}\n";

fn table(extra: &str) -> String {
    format!(
        "defaultTags: {{Project: tables}}\nresources:\n{KEY}  history:\n    type: aws:dynamodb:Table\n    properties:\n      name: ddb-test-history\n      hashKey: sessionId\n      rangeKey: timestamp\n      serverSideEncryption: {{enabled: true, kmsKeyArn: \"${{key.arn}}\"}}\n      ttl: {{attributeName: expiresAt, enabled: true}}\n{extra}"
    )
}

const V1: &str = "      attributes:\n        - {name: sessionId, type: S}\n        - {name: timestamp, type: N}\n        - {name: userId, type: S}\n      globalSecondaryIndexes:\n        - {name: UserSessionIndex, hashKey: userId, rangeKey: timestamp}\n      pointInTimeRecovery: {enabled: false}\n";
const V2: &str = "      attributes:\n        - {name: sessionId, type: S}\n        - {name: timestamp, type: N}\n        - {name: userId, type: S}\n        - {name: channel, type: S}\n      globalSecondaryIndexes:\n        - {name: UserSessionIndex, hashKey: userId, rangeKey: timestamp}\n        - {name: ChannelIndex, hashKey: channel, projectionType: KEYS_ONLY}\n      pointInTimeRecovery: {enabled: true}\n      deletionProtectionEnabled: true\n      tags: {Owner: data}\n";

#[tokio::test]
async fn table_lifecycle() {
    let mut env = Env::new("ddb-lifecycle").await;
    let ddb = aws_sdk_dynamodb::Client::new(&env.config);
    let stack = env.stack(&table(V1));
    env.converge(&stack).await;

    let described = ddb.describe_table().table_name("ddb-test-history").send().await.unwrap();
    let t = described.table().unwrap();
    assert_eq!(t.table_arn().unwrap(), env.output("history", "arn"));
    assert_eq!(t.billing_mode_summary().and_then(|b| b.billing_mode()).map(|b| b.as_str()), Some("PAY_PER_REQUEST"));
    assert_eq!(t.key_schema().len(), 2);
    assert_eq!(t.global_secondary_indexes()[0].index_name(), Some("UserSessionIndex"));
    assert_eq!(t.sse_description().and_then(|s| s.kms_master_key_arn()), Some(env.output("key", "arn").as_str()));
    let ttl = ddb.describe_time_to_live().table_name("ddb-test-history").send().await.unwrap();
    assert_eq!(ttl.time_to_live_description().and_then(|d| d.time_to_live_status()), Some(&TimeToLiveStatus::Enabled));
    let tags = ddb.list_tags_of_resource().resource_arn(t.table_arn().unwrap()).send().await.unwrap();
    assert!(tags.tags().iter().any(|t| t.key() == "Project" && t.value() == "tables"));
    env.assert_no_changes(&stack).await;

    // Update in place: a GSI added (with its attribute), PITR on, deletion protection on, a tag.
    let stack = env.stack(&table(V2));
    let plan = env.converge(&stack).await;
    assert_eq!(actions(&plan), [("history".to_string(), "update")]);
    let t = ddb.describe_table().table_name("ddb-test-history").send().await.unwrap().table.unwrap();
    let mut indexes: Vec<&str> = t.global_secondary_indexes().iter().filter_map(|i| i.index_name()).collect();
    indexes.sort();
    assert_eq!(indexes, ["ChannelIndex", "UserSessionIndex"]);
    assert_eq!(t.attribute_definitions().len(), 4, "the full attribute list was sent");
    assert_eq!(t.deletion_protection_enabled(), Some(true));
    let backups = ddb.describe_continuous_backups().table_name("ddb-test-history").send().await.unwrap();
    let status = backups.continuous_backups_description().unwrap().point_in_time_recovery_description().unwrap();
    assert_eq!(status.point_in_time_recovery_status().map(|s| s.as_str()), Some("ENABLED"));
    env.assert_no_changes(&stack).await;

    // Drift: PITR turned off by hand is found and turned back on.
    let spec = PointInTimeRecoverySpecification::builder().point_in_time_recovery_enabled(false).build().unwrap();
    ddb.update_continuous_backups()
        .table_name("ddb-test-history")
        .point_in_time_recovery_specification(spec)
        .send()
        .await
        .unwrap();
    let plan = env.plan(&stack).await;
    assert_eq!(plan.drift.len(), 1);
    assert_eq!(plan.drift[0].diff[0].path, "pointInTimeRecovery.enabled");
    env.apply_plan(&plan).await;
    env.assert_no_changes(&stack).await;

    // Deletion protection is honoured: AWS refuses, and the error names the operation and code.
    let provider = env.registry.provider("aws:dynamodb:Table").unwrap();
    let cx = CallContext { stack: env.name.clone(), resource: "history".into(), create_token: None, made: None };
    let refused = provider.delete(&cx, "ddb-test-history", &stackr_engine::value::Value::Null).await.unwrap_err();
    assert!(refused.to_string().starts_with("DeleteTable failed: ValidationException:"), "{refused}");

    // Replace: a new hash key (protection off first; the same name means delete, then create).
    let stack = env.stack(&table(&V2.replace("deletionProtectionEnabled: true", "deletionProtectionEnabled: false")));
    env.converge(&stack).await;
    let rekeyed = table(&V2.replace("deletionProtectionEnabled: true", "deletionProtectionEnabled: false"))
        .replace("hashKey: sessionId", "hashKey: userId")
        .replace("        - {name: sessionId, type: S}\n", "");
    let rekeyed = env.stack(&rekeyed);
    let plan = env.converge(&rekeyed).await;
    assert_eq!(actions(&plan), [("history".to_string(), "replace")]);
    assert_eq!(plan.changes[0].replace_order, Some(stackr_engine::plan::ReplaceOrder::DeleteBeforeCreate));
    let t = ddb.describe_table().table_name("ddb-test-history").send().await.unwrap().table.unwrap();
    assert_eq!(t.key_schema()[0].attribute_name(), "userId");
    env.assert_no_changes(&rekeyed).await;

    // Import by name or ARN.
    let arn = env.output("history", "arn");
    assert_eq!(provider.import(&cx, &arn).await.unwrap().unwrap().id, "ddb-test-history");

    // Delete.
    let only_key = env.stack(&format!("resources:\n{KEY}"));
    env.converge(&only_key).await;
    assert!(ddb.describe_table().table_name("ddb-test-history").send().await.is_err());
    assert!(provider.read(&cx, "ddb-test-history", &stackr_engine::value::Value::Null).await.unwrap().is_none());
}
