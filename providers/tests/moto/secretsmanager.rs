//! aws:secretsmanager:Secret against moto.

use stackr_engine::provider::CallContext;
use stackr_engine::value::Value;

use crate::support::{actions, Env};

fn yaml(description: &str, value: &str, team: &str) -> String {
    format!(
        "resources:\n  key:\n    type: aws:kms:Key\n    properties: {{description: secrets key}}\n  api:\n    type: aws:secretsmanager:Secret\n    properties:\n      name: sm-test/api-key\n      description: {description}\n      kmsKeyId: ${{key.arn}}\n      secretString: {{fn::secret: {value}}}\n      recoveryWindowInDays: 7\n      tags: {{Team: {team}}}\n  jwt:\n    type: aws:secretsmanager:Secret\n    properties:\n      name: sm-test/jwt\n      generateSecretString: {{length: 48, excludePunctuation: true}}\n      recoveryWindowInDays: 0\n"
    )
}

#[tokio::test]
async fn secret_lifecycle() {
    let mut env = Env::new("sm-lifecycle").await;
    let sm = aws_sdk_secretsmanager::Client::new(&env.config);
    let stack = env.stack(&yaml("first", "s3cr3t-value-1", "a"));
    env.converge(&stack).await;

    let api = sm.describe_secret().secret_id("sm-test/api-key").send().await.unwrap();
    assert_eq!(api.description(), Some("first"));
    assert_eq!(api.kms_key_id(), Some(env.output("key", "arn").as_str()));
    assert_eq!(api.arn().unwrap(), env.output("api", "arn"));
    let value = sm.get_secret_value().secret_id("sm-test/api-key").send().await.unwrap();
    assert_eq!(value.secret_string(), Some("s3cr3t-value-1"));
    let generated = sm.get_secret_value().secret_id("sm-test/jwt").send().await.unwrap();
    let generated = generated.secret_string().unwrap().to_string();
    assert_eq!(generated.len(), 48);
    assert!(generated.chars().all(|c| c.is_ascii_alphanumeric()), "no punctuation: {generated}");
    // The generated value is nowhere in the state.
    assert!(!serde_json::to_string(&env.state).unwrap().contains(&generated));
    env.assert_no_changes(&stack).await;

    // Update: value, description, tags in place; the generated secret keeps its value.
    let stack = env.stack(&yaml("second", "s3cr3t-value-2", "b"));
    let plan = env.converge(&stack).await;
    assert_eq!(actions(&plan), [("api".to_string(), "update")]);
    let value = sm.get_secret_value().secret_id("sm-test/api-key").send().await.unwrap();
    assert_eq!(value.secret_string(), Some("s3cr3t-value-2"));
    let api = sm.describe_secret().secret_id("sm-test/api-key").send().await.unwrap();
    assert_eq!(api.description(), Some("second"));
    assert_eq!(api.tags().iter().find(|t| t.key() == Some("Team")).and_then(|t| t.value()), Some("b"));
    let again = sm.get_secret_value().secret_id("sm-test/jwt").send().await.unwrap();
    assert_eq!(again.secret_string(), Some(generated.as_str()));
    env.assert_no_changes(&stack).await;

    // Drift: the value changed by hand shows as a change of a secret, without the value.
    sm.put_secret_value().secret_id("sm-test/api-key").secret_string("changed-by-hand").send().await.unwrap();
    let plan = env.plan(&stack).await;
    assert_eq!(plan.drift.len(), 1);
    let text = stackr_engine::render::text::render(&plan, stackr_engine::render::Style::PLAIN);
    assert!(text.contains("secretString: (secret) → (secret)"), "{text}");
    assert!(!text.contains("changed-by-hand") && !text.contains("s3cr3t-value-2"), "{text}");
    env.apply_plan(&plan).await;
    let value = sm.get_secret_value().secret_id("sm-test/api-key").send().await.unwrap();
    assert_eq!(value.secret_string(), Some("s3cr3t-value-2"));

    // Replace: a new name.
    let renamed = yaml("second", "s3cr3t-value-2", "b").replace("sm-test/api-key", "sm-test/api-key-2");
    let renamed = env.stack(&renamed);
    let plan = env.converge(&renamed).await;
    assert_eq!(actions(&plan), [("api".to_string(), "replace")]);
    let old = sm.describe_secret().secret_id("sm-test/api-key").send().await.unwrap();
    assert!(old.deleted_date().is_some(), "the old secret is scheduled for deletion");

    // Import by name.
    let provider = env.registry.provider("aws:secretsmanager:Secret").unwrap();
    let cx = CallContext { stack: env.name.clone(), resource: "x".into(), create_token: None, made: None };
    let observed = provider.import(&cx, "sm-test/api-key-2").await.unwrap().unwrap();
    assert_eq!(observed.id, env.id("api"));

    // Delete: the generated secret with no recovery window is gone at once.
    let only_key = env.stack("resources:\n  key:\n    type: aws:kms:Key\n    properties: {description: secrets key}\n");
    env.converge(&only_key).await;
    let gone = sm.describe_secret().secret_id("sm-test/jwt").send().await;
    assert!(gone.is_err(), "force-deleted");
    assert!(provider.read(&cx, &observed.id, &Value::Null).await.unwrap().is_none());
}
