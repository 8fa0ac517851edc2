//! Golden tests of validation: each fixture holds one kind of mistake; every problem must be reported in one
//! run, with file, line:column, document path, what was expected and, for misspellings, the nearest name.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::Path;

use stackr_engine::stack;

/// What `stackr validate` reports for a fixture, as text.
fn validate(name: &str) -> String {
    let path = Path::new("tests/fixtures/invalid").join(name);
    let env: BTreeMap<String, String> = BTreeMap::new();
    match stack::load(&path, &stackr_providers::catalog::registry(), &env) {
        Ok(_) => "valid".to_string(),
        Err(diagnostics) => diagnostics.to_string(),
    }
}

/// What `stackr validate` reports for a stack file of `text`, as text.
fn validate_text(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.yaml");
    std::fs::write(&path, text).unwrap();
    let env: BTreeMap<String, String> = BTreeMap::new();
    match stack::load(&path, &stackr_providers::catalog::registry(), &env) {
        Ok(_) => "valid".to_string(),
        Err(diagnostics) => diagnostics.to_string(),
    }
}

#[test]
fn misspelt_names_get_suggestions() {
    let out = validate("misspellings.yaml");
    for expected in [
        "did you mean `aws:dynamodb:Table`?",
        "did you mean `hashKey`?",
        "did you mean `environment`?",
        "did you mean `table`?",
        "did you mean `name`?",
        "did you mean `fn::toJSON`?",
        "did you mean `tags`?",
        "did you mean `streamArn`?",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    insta::assert_snapshot!(out);
}

#[test]
fn wrong_types_are_reported_with_what_was_expected() {
    let out = validate("types.yaml");
    assert!(
        out.contains(
            "tests/fixtures/invalid/types.yaml:6:7: resources.table.properties.name: expected a string, found a list"
        ),
        "{out}"
    );
    insta::assert_snapshot!(out);
}

#[test]
fn config_problems_are_all_reported() {
    let out = validate("config.yaml");
    assert!(out.contains("environment variable STACKR_TEST_VARIABLE_THAT_IS_NOT_SET is not set"), "{out}");
    assert!(out.contains("\"qa\" is not one of the allowed values"), "{out}");
    assert!(out.contains("no value for parameter `retention`"), "{out}");
    insta::assert_snapshot!(out);
}

#[test]
fn cycles_list_their_members_in_order() {
    insta::assert_snapshot!(validate("cycle.yaml"), @r"
    tests/fixtures/invalid/cycle.yaml:3:3: resources.a: dependency cycle: a → b → c → a
      hint: break the cycle: remove a reference or a dependsOn entry
    ");
}

#[test]
fn include_loops_are_errors() {
    let out = validate("loop-a.yaml");
    assert!(out.contains("include loop:"), "{out}");
    assert!(out.contains("loop-a.yaml → ") && out.contains("loop-b.yaml → "), "{out}");
}

#[test]
fn duplicate_names_across_files_are_errors() {
    insta::assert_snapshot!(validate("duplicates.yaml"));
}

#[test]
fn unreadable_documents_are_errors_not_panics() {
    insta::assert_snapshot!("tabs", validate("tabs.yaml"));
    insta::assert_snapshot!("empty", validate("empty.yaml"));
    insta::assert_snapshot!("garbage", validate("garbage.yaml"));
    insta::assert_snapshot!("missing", validate("no-such-file.yaml"));
}

#[test]
fn bad_references_are_located() {
    insta::assert_snapshot!(validate("references.yaml"));
}

#[test]
fn a_huge_deeply_nested_document_is_refused_quickly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.yaml");
    // About 5 MB: a flow sequence nested far deeper than any stack needs.
    let mut text = String::from("name: deep\nresources:\n  a:\n    type: aws:sns:Topic\n    properties:\n      name: ");
    text.push_str(&"[".repeat(2_500_000));
    text.push_str(&"]".repeat(2_500_000));
    std::fs::write(&path, text).unwrap();
    let env: BTreeMap<String, String> = BTreeMap::new();
    let err = stack::load(&path, &stackr_providers::catalog::registry(), &env).unwrap_err().to_string();
    assert!(err.contains("recursion limit") || err.contains("nests deeper"), "{err}");
}

#[test]
fn a_physical_name_belongs_to_one_resource_and_is_never_secret() {
    let path = Path::new("tests/fixtures/invalid/names.yaml");
    let env = BTreeMap::from([("STACKR_TEST_NAMES_SECRET".to_string(), "hidden-queue".to_string())]);
    let out = match stack::load(path, &stackr_providers::catalog::registry(), &env) {
        Ok(_) => "valid".to_string(),
        Err(diagnostics) => diagnostics.to_string(),
    };
    assert!(
        out.contains(
            "tests/fixtures/invalid/names.yaml:12:7: resources.moreAlerts.properties.name: aws:sns:Topic `alerts` is already resource `alerts` (tests/fixtures/invalid/names.yaml:8:18): two resources would be one aws:sns:Topic in AWS"
        ),
        "{out}"
    );
    assert!(
        out.contains("resources.hidden.properties.name: `name` is secret, but a name cannot be kept secret"),
        "{out}"
    );
    assert!(out.contains("resources.table.properties.billingMode: the secret value is not an allowed value"), "{out}");
    assert!(out.contains("resources.table.properties.ttl.enabled: expected a boolean, found a string"), "{out}");
    assert!(!out.contains("hidden-queue"), "the secret is never quoted: {out}");
    assert!(!out.contains("sameNameOtherType"), "a name is unique per type: {out}");
    insta::assert_snapshot!(out);
}

#[test]
fn a_stack_cannot_read_credentials_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stack.yaml");
    std::fs::write(
        &path,
        "name: creds\nparameters:\n  a: {type: string}\n  b: {type: string}\n  c: {type: string}\n  d: {type: string}\nconfig:\n  a: {fromEnv: STACKR_PASSPHRASE}\n  b: {fromEnv: AWS_SECRET_ACCESS_KEY, secret: true}\n  c: {fromEnv: aws_session_token}\n  d: {fromEnv: OPENAI_API_KEY}\nresources: {}\n",
    )
    .unwrap();
    let env = BTreeMap::from([
        ("STACKR_PASSPHRASE".to_string(), "PASSPHRASE-marker".to_string()),
        ("AWS_SECRET_ACCESS_KEY".to_string(), "AWS-marker".to_string()),
        ("aws_session_token".to_string(), "SESSION-marker".to_string()),
        ("OPENAI_API_KEY".to_string(), "sk-fine".to_string()),
    ]);
    let out = match stack::load(&path, &stackr_providers::catalog::registry(), &env) {
        Ok(_) => "valid".to_string(),
        Err(diagnostics) => diagnostics.to_string(),
    };
    for (var, line) in [("STACKR_PASSPHRASE", 8), ("AWS_SECRET_ACCESS_KEY", 9), ("aws_session_token", 10)] {
        let expected =
            format!("stack.yaml:{line}:6: config.{}.fromEnv: a stack may not read {var}", ["a", "b", "c"][line - 8]);
        assert!(out.contains(&expected), "missing {expected:?} in:\n{out}");
    }
    assert!(out.contains("hint: it holds credentials stackr or AWS act with"), "{out}");
    assert!(!out.contains("config.d"), "an ordinary variable is read: {out}");
    assert!(!out.contains("marker"), "{out}");
}

#[test]
fn what_identifies_a_resource_cannot_be_empty() {
    let out = validate_text(
        "name: empty\nresources:\n  p:\n    type: aws:ssm:Parameter\n    properties: {name: \"\", value: v}\n  m:\n    type: aws:lambda:EventSourceMapping\n    properties: {eventSourceArn: \"\", functionName: f}\n",
    );
    assert!(
        out.contains(
            "resources.p.properties.name: `name` is empty, but it is what identifies the aws:ssm:Parameter in AWS"
        ),
        "{out}"
    );
    assert!(out.contains("resources.m.properties.eventSourceArn: `eventSourceArn` is empty"), "{out}");
}

#[test]
fn a_type_checks_its_properties_together() {
    let out = validate_text(
        "name: rules\nresources:\n  fifo:\n    type: aws:sqs:Queue\n    properties: {name: orders, fifoQueue: true}\n  standard:\n    type: aws:sqs:Queue\n    properties: {name: jobs.fifo, contentBasedDeduplication: true}\n  p:\n    type: aws:ssm:Parameter\n    properties: {name: /p, value: v, keyId: alias/k}\n  r:\n    type: aws:events:Rule\n    properties: {name: r}\n  b:\n    type: aws:s3:Bucket\n    properties:\n      bucketName: Bad_Bucket\n      corsRules: [{allowedMethods: [GET, get], allowedOrigins: [\"*\"]}]\n",
    );
    for expected in [
        "resources.fifo.properties.name: a FIFO queue's name ends in .fifo: `orders.fifo`",
        "resources.standard.properties.fifoQueue: `jobs.fifo` is a FIFO queue's name: set fifoQueue: true",
        "resources.standard.properties.contentBasedDeduplication: only a FIFO queue deduplicates by content",
        "resources.p.properties.keyId: a String parameter is not encrypted",
        "resources.b.properties.bucketName: `Bad_Bucket` is not a bucket name",
        "resources.b.properties.corsRules[0].allowedMethods[1]: `get` is not a CORS method",
        "resources.r.properties: a rule needs a scheduleExpression or an eventPattern",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
    assert!(out.contains("stack.yaml:5:"), "located at the property: {out}");
}

#[test]
fn a_region_is_one_the_sdk_can_send() {
    let out = validate_text(
        "name: regions\nregion: \"us-east-1\\nx\"\nbackend: \"s3://bucket/p?region=a b\"\nresources:\n  t:\n    type: aws:sns:Topic\n    properties: {name: t}\n",
    );
    assert!(out.contains(r#"region: invalid region "us-east-1\nx""#), "{out}");
    assert!(out.contains(r#"backend: invalid region "a b""#), "{out}");
}

#[test]
fn a_misspelt_property_hides_no_other_property_s_wrong_value() {
    let out = validate_text(
        "name: both\nresources:\n  q:\n    type: aws:sqs:Queue\n    properties: {name: q, visibiltyTimeout: 5, delaySeconds: soon}\n",
    );
    assert!(out.contains("`visibiltyTimeout` is not a property of aws:sqs:Queue"), "{out}");
    assert!(out.contains("resources.q.properties.delaySeconds: expected an integer"), "{out}");
}

#[test]
fn a_function_has_one_known_architecture_and_a_topic_policy_names_an_arn() {
    let out = validate_text(
        "name: arch\nresources:\n  fn:\n    type: aws:lambda:Function\n    properties: {name: f, runtime: python3.12, handler: h.h, role: arn:aws:iam::1:role/r, code: ., architectures: [sparc]}\n  pol:\n    type: aws:sns:TopicPolicy\n    properties: {topic: alerts, policy: {Version: \"2012-10-17\", Statement: []}}\n",
    );
    assert!(out.contains("resources.fn.properties.architectures: a function has one architecture"), "{out}");
    assert!(out.contains("resources.pol.properties.topic: the topic is its ARN"), "{out}");
}
