//! aws:kms:Key and aws:kms:Alias against moto.

use aws_sdk_kms::types::KeyState;
use stackr_engine::provider::CallContext;

use crate::support::{actions, Env};

fn key_stack(description: &str, rotation: bool, owner: &str, alias_target: &str) -> String {
    format!(
        "defaultTags: {{Project: test}}\nresources:\n  key:\n    type: aws:kms:Key\n    properties:\n      description: {description}\n      enableKeyRotation: {rotation}\n      deletionWindowInDays: 7\n      tags: {{Owner: {owner}}}\n  other:\n    type: aws:kms:Key\n    properties: {{description: second key}}\n  alias:\n    type: aws:kms:Alias\n    properties:\n      name: alias/kms-test-lifecycle\n      targetKeyId: ${{{alias_target}.keyId}}\n"
    )
}

#[tokio::test]
async fn key_and_alias_lifecycle() {
    let mut env = Env::new("kms-lifecycle").await;
    let kms = aws_sdk_kms::Client::new(&env.config);

    // Create.
    let stack = env.stack(&key_stack("first", true, "alice", "key"));
    let plan = env.converge(&stack).await;
    assert_eq!(plan.summary().create, 3);
    let key_id = env.id("key");
    let described = kms.describe_key().key_id(&key_id).send().await.unwrap();
    let metadata = described.key_metadata().unwrap();
    assert_eq!(metadata.description(), Some("first"));
    assert_eq!(env.output("key", "arn"), metadata.arn().unwrap());
    assert!(kms.get_key_rotation_status().key_id(&key_id).send().await.unwrap().key_rotation_enabled());
    let tags = kms.list_resource_tags().key_id(&key_id).send().await.unwrap();
    let tags: Vec<(String, String)> = tags.tags().iter().map(|t| (t.tag_key().into(), t.tag_value().into())).collect();
    assert!(
        tags.contains(&("Owner".into(), "alice".into())) && tags.contains(&("Project".into(), "test".into())),
        "{tags:?}"
    );
    let aliases = kms.list_aliases().key_id(&key_id).send().await.unwrap();
    assert_eq!(aliases.aliases()[0].alias_name(), Some("alias/kms-test-lifecycle"));
    env.assert_no_changes(&stack).await;

    // Update in place: description, rotation, tags, alias target.
    let stack = env.stack(&key_stack("second", false, "bob", "other"));
    let plan = env.converge(&stack).await;
    assert_eq!(actions(&plan), [("key".to_string(), "update"), ("alias".to_string(), "update")]);
    let metadata = kms.describe_key().key_id(&key_id).send().await.unwrap();
    assert_eq!(metadata.key_metadata().unwrap().description(), Some("second"));
    assert!(!kms.get_key_rotation_status().key_id(&key_id).send().await.unwrap().key_rotation_enabled());
    let aliases = kms.list_aliases().key_id(env.id("other")).send().await.unwrap();
    assert_eq!(aliases.aliases().len(), 1, "the alias moved to the other key");
    env.assert_no_changes(&stack).await;

    // Drift made behind stackr's back is detected, then corrected.
    kms.update_key_description().key_id(&key_id).description("changed by hand").send().await.unwrap();
    let plan = env.plan(&stack).await;
    assert_eq!(plan.drift.len(), 1);
    assert_eq!(plan.drift[0].diff[0].path, "description");
    assert_eq!(actions(&plan), [("key".to_string(), "update")]);
    env.apply_plan(&plan).await;
    assert_eq!(
        kms.describe_key().key_id(&key_id).send().await.unwrap().key_metadata().unwrap().description(),
        Some("second")
    );
    env.assert_no_changes(&stack).await;

    // Replace: keyUsage forces a new key; the old one is scheduled for deletion.
    let stack = env.stack(&key_stack("second", false, "bob", "other").replace(
        "deletionWindowInDays: 7\n",
        "deletionWindowInDays: 7\n      keyUsage: GENERATE_VERIFY_MAC\n      keySpec: HMAC_256\n",
    ));
    let plan = env.converge(&stack).await;
    assert_eq!(actions(&plan), [("key".to_string(), "replace")]);
    assert_ne!(env.id("key"), key_id);
    let old = kms.describe_key().key_id(&key_id).send().await.unwrap();
    assert_eq!(old.key_metadata().unwrap().key_state(), Some(&KeyState::PendingDeletion));
    env.assert_no_changes(&stack).await;

    // Import: a key made outside stackr is adopted under a logical name.
    let outside = kms.create_key().description("made by hand").send().await.unwrap();
    let outside_id = outside.key_metadata().unwrap().key_id().to_string();
    let provider = env.registry.provider("aws:kms:Key").unwrap();
    let cx = CallContext { stack: env.name.clone(), resource: "imported".into(), create_token: None, made: None };
    let observed = provider.import(&cx, &outside_id).await.unwrap().unwrap();
    assert_eq!(observed.id, outside_id);
    assert_eq!(observed.inputs.as_map().unwrap()["description"].as_str(), Some("made by hand"));
    assert!(provider.import(&cx, "00000000-0000-0000-0000-000000000000").await.unwrap().is_none());

    // Delete: removed from the stack → key pending deletion (gone for stackr), alias deleted.
    let alias_gone = env.stack("defaultTags: {Project: test}\nresources:\n  other:\n    type: aws:kms:Key\n    properties: {description: second key}\n");
    let plan = env.converge(&alias_gone).await;
    // Deletes run last; the alias now points at `other`, so it and `key` are independent (reverse name order).
    assert_eq!(actions(&plan), [("key".to_string(), "delete"), ("alias".to_string(), "delete")]);
    let deleted_key = plan.changes.iter().find(|c| c.name == "key").unwrap().prior_id.clone().unwrap();
    let new_key = kms.describe_key().key_id(deleted_key).send().await.unwrap();
    assert_eq!(new_key.key_metadata().unwrap().key_state(), Some(&KeyState::PendingDeletion));
    assert!(kms
        .list_aliases()
        .send()
        .await
        .unwrap()
        .aliases()
        .iter()
        .all(|a| a.alias_name() != Some("alias/kms-test-lifecycle")));
    let read =
        provider.read(&cx, new_key.key_metadata().unwrap().key_id(), &stackr_engine::value::Value::Null).await.unwrap();
    assert!(read.is_none(), "a key pending deletion reads as gone");
}

#[tokio::test]
async fn an_interrupted_key_create_is_found_by_its_token() {
    let env = Env::new("kms-find").await;
    let provider = env.registry.provider("aws:kms:Key").unwrap();
    let token = stackr_engine::apply::new_token().unwrap();
    let cx =
        CallContext { stack: env.name.clone(), resource: "k".into(), create_token: Some(token.clone()), made: None };
    let inputs = stackr_engine::value::Value::from_json(
        &serde_json::json!({"description": "tokened", "keyUsage": "ENCRYPT_DECRYPT", "keySpec": "SYMMETRIC_DEFAULT"}),
    );
    let created = provider.create(&cx, &inputs).await.unwrap();
    let found = provider.find(&cx, &inputs, &token).await.unwrap().unwrap();
    assert_eq!(found.id, created.id);
    assert!(provider.find(&cx, &inputs, "stackr-no-such-token").await.unwrap().is_none());
    let tags = found.inputs.as_map().unwrap().get("tags").cloned();
    assert!(tags.is_none(), "the token tag is not reported as a user tag: {tags:?}");
}
