//! Golden tests of the planner and its renderers: a stack and a prior state in, a rendered plan out.
//!
//! `converge` stands in for a successful apply (ids and outputs fabricated from names), so scenarios start from
//! the state a real apply would leave.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use stackr_engine::apply::StateValues;
use stackr_engine::eval::Builtins;
use stackr_engine::plan::{self, Action, Drift, Plan, PlanError, PlanRequest};
use stackr_engine::render::{self, Style};
use stackr_engine::stack::{self, Stack};
use stackr_engine::value::Value;
use stackr_state::{Lineage, ResourceState, StateFile};

const SECRETS: [&str; 2] = ["hunter2-DO-NOT-PRINT", "sk-live-DO-NOT-PRINT"];

/// A copy of the fixture in a temporary directory, edited by `edit`.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new(edit: impl FnOnce(String) -> String) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/plan");
        std::fs::create_dir_all(dir.path().join("code")).unwrap();
        std::fs::copy(source.join("code/handler.py"), dir.path().join("code/handler.py")).unwrap();
        let text = std::fs::read_to_string(source.join("stack.yaml")).unwrap();
        std::fs::write(dir.path().join("stack.yaml"), edit(text)).unwrap();
        Fixture { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("stack.yaml")
    }

    /// The loaded stack, which keeps the directory alive (planning reads the Lambda code again).
    fn load(self) -> Loaded {
        let env: BTreeMap<String, String> = BTreeMap::new();
        let stack =
            stack::load(&self.path(), &stackr_providers::catalog::registry(), &env).unwrap_or_else(|d| panic!("{d}"));
        Loaded { _dir: self.dir, stack }
    }
}

struct Loaded {
    _dir: tempfile::TempDir,
    stack: Stack,
}

impl std::ops::Deref for Loaded {
    type Target = Stack;
    fn deref(&self) -> &Stack {
        &self.stack
    }
}

fn builtins() -> Builtins {
    Builtins { stack: "demo".into(), region: Some("us-east-1".into()), account_id: Some("123456789012".into()) }
}

fn plan_with(stack: &Stack, state: Option<&StateFile>, targets: &[String], destroy: bool) -> Result<Plan, PlanError> {
    plan::plan(PlanRequest {
        stack,
        state,
        registry: &stackr_providers::catalog::registry(),
        builtins: &builtins(),
        targets,
        destroy,
        drift: Vec::new(),
    })
}

/// The state a successful apply of `stack` would leave (starting from `prior`).
fn converge(stack: &Stack, prior: Option<StateFile>) -> StateFile {
    let registry = stackr_providers::catalog::registry();
    let mut state = prior.unwrap_or_else(|| {
        let mut s = StateFile::new(&stack.name);
        s.lineage = Lineage("11111111-2222-3333-4444-555555555555".into());
        s
    });
    let plan = plan_with(stack, Some(&state), &[], false).unwrap();
    for change in &plan.changes {
        if change.action == Action::Delete {
            state.resources.remove(&change.name);
            continue;
        }
        let resource = &stack.resources[&change.name];
        let schema = registry.schema(&resource.type_name).unwrap();
        // What apply does: the planned inputs, pending parts computed from the state as it is now.
        let values = StateValues { state: &state, region: None };
        let inputs = change.inputs.as_ref().unwrap().resolve(&values).unwrap();
        assert!(!inputs.has_unknown(), "{} still has unknowns", change.name);
        let outputs: serde_json::Map<String, serde_json::Value> = schema
            .outputs
            .iter()
            .map(|o| (o.name.to_string(), serde_json::Value::String(format!("{}:{}", o.name, change.name))))
            .collect();
        state.resources.insert(
            change.name.clone(),
            ResourceState {
                type_name: resource.type_name.clone(),
                id: format!("id-{}", change.name),
                inputs: inputs.to_json(),
                outputs: serde_json::Value::Object(outputs),
                dependencies: resource.dependencies.iter().cloned().collect(),
                protect: resource.options.protect,
                retain_on_delete: resource.options.retain_on_delete,
                create_token: None,
            },
        );
    }
    state.serial += 1;
    state
}

fn text(plan: &Plan) -> String {
    let out = render::text::render(plan, Style::PLAIN);
    assert_no_secrets(&out);
    out
}

fn assert_no_secrets(out: &str) {
    for secret in SECRETS {
        assert!(!out.contains(secret), "secret value leaked into:\n{out}");
    }
}

#[test]
fn new_stack_creates_everything_in_dependency_order() {
    let stack = Fixture::new(|s| s).load();
    let plan = plan_with(&stack, None, &[], false).unwrap();
    let order: Vec<&str> = plan.changes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(order, ["key", "secret", "table", "role", "fn", "topic"]);
    insta::assert_snapshot!("new_stack_text", text(&plan));
    let json = render::json::render(&plan);
    assert_no_secrets(&json);
    insta::assert_snapshot!("new_stack_json", json);
    let markdown = render::markdown::render(&plan);
    assert_no_secrets(&markdown);
    insta::assert_snapshot!("new_stack_markdown", markdown);
}

#[test]
fn converged_stack_has_no_changes() {
    let stack = Fixture::new(|s| s).load();
    let state = converge(&stack, None);
    let plan = plan_with(&stack, Some(&state), &[], false).unwrap();
    assert!(!plan.has_changes(), "{}", text(&plan));
    assert_eq!(plan.summary().unchanged, 6);
    insta::assert_snapshot!("no_change_text", text(&plan));
    insta::assert_snapshot!("no_change_markdown", render::markdown::render(&plan));
}

#[test]
fn property_changes_update_in_place() {
    let state = converge(&Fixture::new(|s| s).load(), None);
    let stack = Fixture::new(|s| {
        s.replace("timeout: {type: integer, default: 10}", "timeout: {type: integer, default: 30}")
            .replace("Project: demo", "Project: demo-2")
            .replace("enableKeyRotation: true", "enableKeyRotation: false")
    })
    .load();
    let plan = plan_with(&stack, Some(&state), &[], false).unwrap();
    let actions: Vec<(&str, Action)> = plan.changes.iter().map(|c| (c.name.as_str(), c.action)).collect();
    assert!(actions.iter().all(|(_, a)| *a == Action::Update), "{actions:?}");
    insta::assert_snapshot!("update_text", text(&plan));
    insta::assert_snapshot!("update_json", render::json::render(&plan));
}

#[test]
fn multi_line_documents_diff_line_by_line() {
    let state = converge(&Fixture::new(|s| s).load(), None);
    let stack =
        Fixture::new(|s| s.replace("[dynamodb:GetItem, dynamodb:PutItem]", "[dynamodb:GetItem, dynamodb:Query]"))
            .load();
    let plan = plan_with(&stack, Some(&state), &[], false).unwrap();
    let out = text(&plan);
    assert!(out.contains("-             \"dynamodb:PutItem\""), "{out}");
    assert!(out.contains("+             \"dynamodb:Query\""), "{out}");
    insta::assert_snapshot!("policy_line_diff_text", out);
}

#[test]
fn forcing_property_replaces_and_marks_data_loss() {
    let state = converge(&Fixture::new(|s| s).load(), None);
    let stack = Fixture::new(|s| {
        s.replace("hashKey: sessionId", "hashKey: id").replace("{name: sessionId, type: S}", "{name: id, type: S}")
    })
    .load();
    let plan = plan_with(&stack, Some(&state), &[], false).unwrap();
    let table = plan.changes.iter().find(|c| c.name == "table").unwrap();
    assert_eq!(table.action, Action::Replace);
    assert!(table.data_loss);
    assert_eq!(table.replace_order, Some(plan::ReplaceOrder::DeleteBeforeCreate), "the table name stays the same");
    // The role's policy refers to the table's ARN, which a replacement makes unknown.
    let role = plan.changes.iter().find(|c| c.name == "role").unwrap();
    assert_eq!(role.action, Action::Update);
    insta::assert_snapshot!("replace_text", text(&plan));
    insta::assert_snapshot!("replace_markdown", render::markdown::render(&plan));
    insta::assert_snapshot!("replace_json", render::json::render(&plan));
}

#[test]
fn renamed_unique_name_replaces_create_before_delete() {
    let state = converge(&Fixture::new(|s| s).load(), None);
    let stack = Fixture::new(|s| s.replace("name: ${prefix}-alerts", "name: ${prefix}-alarms")).load();
    let plan = plan_with(&stack, Some(&state), &[], false).unwrap();
    let topic = plan.changes.iter().find(|c| c.name == "topic").unwrap();
    assert_eq!((topic.action, topic.replace_order), (Action::Replace, Some(plan::ReplaceOrder::CreateBeforeDelete)));
    assert_eq!(topic.reasons, ["`name` forces replacement"]);
    assert!(!topic.data_loss);
}

#[test]
fn removed_resources_are_deleted_after_everything_else() {
    let state = converge(&Fixture::new(|s| s).load(), None);
    let stack = Fixture::new(|s| {
        let start = s.find("  topic:").unwrap();
        let end = s.find("outputs:").unwrap();
        format!("{}{}", &s[..start], &s[end..])
            .replace("timeout: {type: integer, default: 10}", "timeout: {type: integer, default: 12}")
    })
    .load();
    let plan = plan_with(&stack, Some(&state), &[], false).unwrap();
    let order: Vec<(&str, Action)> = plan.changes.iter().map(|c| (c.name.as_str(), c.action)).collect();
    assert_eq!(order, [("fn", Action::Update), ("topic", Action::Delete)]);
    insta::assert_snapshot!("delete_text", text(&plan));
}

#[test]
fn protected_resources_refuse_replacement_and_deletion() {
    let base = Fixture::new(|s| {
        s.replace(
            "  table:\n    type: aws:dynamodb:Table\n",
            "  table:\n    type: aws:dynamodb:Table\n    options: {protect: true}\n",
        )
    })
    .load();
    let state = converge(&base, None);
    assert!(state.resources["table"].protect);
    let replace = Fixture::new(|s| {
        s.replace(
            "  table:\n    type: aws:dynamodb:Table\n",
            "  table:\n    type: aws:dynamodb:Table\n    options: {protect: true}\n",
        )
        .replace("hashKey: sessionId", "hashKey: pk")
    })
    .load();
    let err = plan_with(&replace, Some(&state), &[], false).unwrap_err();
    assert_eq!(err.to_string(), "the plan would replace protected resource: table (replace)");
    // Removing the resource from the stack does not lift the protection recorded in the state.
    let destroy = plan_with(&base, Some(&state), &[], true).unwrap_err();
    assert_eq!(destroy.to_string(), "the plan would delete protected resource: table (delete)");
}

#[test]
fn targets_plan_only_the_named_resources_and_their_dependencies() {
    let stack = Fixture::new(|s| s).load();
    let plan = plan_with(&stack, None, &["role".to_string()], false).unwrap();
    let names: Vec<&str> = plan.changes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["key", "table", "role"]);
    let err = plan_with(&stack, None, &["rol".to_string()], false).unwrap_err();
    assert_eq!(err.to_string(), "--target rol: no such resource in the stack or its state (did you mean `role`?)");
    insta::assert_snapshot!("targeted_text", text(&plan));
}

#[test]
fn destroy_deletes_in_reverse_dependency_order() {
    let stack = Fixture::new(|s| s).load();
    let state = converge(&stack, None);
    let plan = plan_with(&stack, Some(&state), &[], true).unwrap();
    let order: Vec<&str> = plan.changes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(order, ["topic", "fn", "role", "table", "secret", "key"]);
    assert!(plan.changes.iter().all(|c| c.action == Action::Delete));
    let targeted = plan_with(&stack, Some(&state), &["table".to_string()], true).unwrap();
    let order: Vec<&str> = targeted.changes.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(order, ["fn", "role", "table"], "a destroyed target takes what depends on it along");
    insta::assert_snapshot!("destroy_text", text(&plan));
}

#[test]
fn ignore_changes_hides_changes_to_the_named_paths() {
    let state = converge(&Fixture::new(|s| s).load(), None);
    let stack = Fixture::new(|s| {
        s.replace("hunter2-DO-NOT-PRINT", "rotated-DO-NOT-PRINT").replace(
            "      kmsKeyId: ${key.arn}\n",
            "      kmsKeyId: ${key.arn}\n    options: {ignoreChanges: [secretString]}\n",
        )
    })
    .load();
    let plan = plan_with(&stack, Some(&state), &[], false).unwrap();
    assert!(!plan.has_changes(), "{}", text(&plan));
}

#[test]
fn secret_changes_show_only_that_they_changed() {
    let state = converge(&Fixture::new(|s| s).load(), None);
    let stack = Fixture::new(|s| {
        s.replace("hunter2-DO-NOT-PRINT", "rotated-DO-NOT-PRINT").replace("sk-live-DO-NOT-PRINT", "sk-new-DO-NOT-PRINT")
    })
    .load();
    let plan = plan_with(&stack, Some(&state), &[], false).unwrap();
    let out = text(&plan);
    for s in ["rotated-DO-NOT-PRINT", "sk-new-DO-NOT-PRINT"] {
        assert!(!out.contains(s));
        assert!(!render::json::render(&plan).contains(s));
        assert!(!render::markdown::render(&plan).contains(s));
    }
    insta::assert_snapshot!("secrets_text", out);
}

#[test]
fn drift_is_shown_above_the_plan() {
    let stack = Fixture::new(|s| s).load();
    let state = converge(&stack, None);
    let mut plan = plan_with(&stack, Some(&state), &[], false).unwrap();
    plan.drift = vec![
        Drift {
            name: "fn".into(),
            type_name: "aws:lambda:Function".into(),
            gone: false,
            diff: vec![stackr_engine::diff::PropertyChange {
                path: "timeout".into(),
                before: Some(Value::from(10)),
                after: Some(Value::from(60)),
                forces_replacement: false,
            }],
        },
        Drift { name: "topic".into(), type_name: "aws:sns:Topic".into(), gone: true, diff: vec![] },
    ];
    insta::assert_snapshot!("drift_text", text(&plan));
    insta::assert_snapshot!("drift_json", render::json::render(&plan));
}

fn large_stack(resources: usize) -> (tempfile::TempDir, Stack) {
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from("name: large\nresources:\n");
    for i in 0..resources {
        yaml.push_str(&format!(
            "  topic{i:04}:\n    type: aws:sns:Topic\n    properties:\n      name: topic-{i:04}\n      tags: {{Owner: team-{}, Index: \"{i}\"}}\n",
            i % 7
        ));
        if i > 0 {
            yaml.push_str(&format!("      displayName: after ${{topic{:04}.name}}\n", i - 1));
        }
    }
    std::fs::write(dir.path().join("large.yaml"), yaml).unwrap();
    let env: BTreeMap<String, String> = BTreeMap::new();
    let stack = stack::load(&dir.path().join("large.yaml"), &stackr_providers::catalog::registry(), &env).unwrap();
    (dir, stack)
}

#[test]
fn large_plans_render_identically_and_fit_a_pull_request_comment() {
    let (_dir, stack) = large_stack(2_000);
    let first = plan_with(&stack, None, &[], false).unwrap();
    let second = plan_with(&stack, None, &[], false).unwrap();
    assert_eq!(text(&first), text(&second));
    assert_eq!(render::json::render(&first), render::json::render(&second));
    let markdown = render::markdown::render(&first);
    assert_eq!(markdown, render::markdown::render(&second));
    assert!(markdown.len() <= render::markdown::GITHUB_COMMENT_LIMIT, "{} bytes", markdown.len());
    assert!(markdown.starts_with(
        "### stackr plan for `large`\n\n**Plan: 2000 to create, 0 to update, 0 to replace, 0 to delete.**"
    ));
    assert!(markdown.contains("not shown in full"), "a 2,000-resource plan must be summarised");
    let head: String = markdown.lines().take(8).collect::<Vec<_>>().join("\n");
    let tail: String =
        markdown.lines().rev().take(3).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n");
    insta::assert_snapshot!("large_markdown_head_and_tail", format!("{head}\n[…]\n{tail}"));
}

#[test]
fn unknown_outputs_show_as_known_after_apply() {
    let stack = Fixture::new(|s| s).load();
    let plan = plan_with(&stack, None, &[], false).unwrap();
    let role = plan.changes.iter().find(|c| c.name == "role").unwrap();
    let inputs = role.inputs.as_ref().unwrap();
    assert!(inputs.has_unknown());
    // Bare, never quoted like a real string, inside JSON values too.
    let text = text(&plan);
    assert!(text.contains("(known after apply)"));
    assert!(!text.contains("\"(known after apply)\""), "{text}");
}

#[test]
fn names_built_from_planned_properties_are_checked_for_twins() {
    // `${t.name}-alarm` is unknown to validation (another resource's attribute) but known to the plan: two alarms,
    // one AWS alarm. A subscription is one AWS resource per topic, protocol and endpoint; IAM names ignore case.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("twins.yaml");
    let alarm = |name: &str, extra: &str| {
        format!("    type: aws:cloudwatch:MetricAlarm\n    properties: {{name: \"{name}\", namespace: N, metricName: M, period: 60, evaluationPeriods: 1, threshold: 1, comparisonOperator: GreaterThanThreshold}}\n{extra}")
    };
    let role = |name: &str| {
        format!("    type: aws:iam:Role\n    properties: {{name: {name}, assumeRolePolicy: {{Version: \"2012-10-17\", Statement: []}}}}\n")
    };
    let subscription = |endpoint: &str| {
        format!("    type: aws:sns:TopicSubscription\n    properties: {{topic: \"arn:aws:sns:us-east-1:1:twins-topic\", protocol: sqs, endpoint: \"{endpoint}\"}}\n")
    };
    let write = |second_role: &str, second_endpoint: &str| {
        let yaml = format!(
            "name: twins\nresources:\n  t:\n    type: aws:sns:Topic\n    properties: {{name: twins-topic}}\n  al1:\n{}  al2:\n{}  sub1:\n{}  sub2:\n{}  r1:\n{}  r2:\n{}",
            alarm("${t.name}-alarm", ""),
            alarm("twins-topic-alarm", "    options: {dependsOn: [t]}\n"),
            subscription("arn:aws:sqs:us-east-1:1:q"),
            subscription(second_endpoint),
            role("DupRole"),
            role(second_role),
        );
        std::fs::write(&path, yaml).unwrap();
    };
    let env: BTreeMap<String, String> = BTreeMap::new();
    // Validation sees the literal twins: the roles (case aside) and the subscriptions.
    write("duprole", "arn:aws:sqs:us-east-1:1:q");
    let out = stack::load(&path, &stackr_providers::catalog::registry(), &env)
        .err()
        .map(|d| d.to_string())
        .unwrap_or_default();
    assert!(out.contains("aws:iam:Role `duprole` is already resource `r1`"), "{out}");
    assert!(
        out.contains("aws:sns:TopicSubscription `arn:aws:sns:us-east-1:1:twins-topic, sqs, arn:aws:sqs:us-east-1:1:q` is already resource `sub1`"),
        "{out}"
    );
    assert!(!out.contains("twins-topic-alarm"), "validation cannot know `${{t.name}}`: {out}");
    // A permission's statement id defaults to its logical name.
    let yaml = std::fs::read_to_string(&path).unwrap()
        + "  p1:\n    type: aws:lambda:Permission\n    properties: {function: f, principal: sns.amazonaws.com}\n  p2:\n    type: aws:lambda:Permission\n    properties: {function: f, principal: sns.amazonaws.com, statementId: p1}\n";
    std::fs::write(&path, yaml).unwrap();
    let out = stack::load(&path, &stackr_providers::catalog::registry(), &env)
        .err()
        .map(|d| d.to_string())
        .unwrap_or_default();
    assert!(out.contains("aws:lambda:Permission `f, p1` is already resource `p1`"), "{out}");
    // The plan knows the alarm's name.
    write("otherrole", "arn:aws:sqs:us-east-1:1:other");
    let stack = stack::load(&path, &stackr_providers::catalog::registry(), &env).unwrap();
    let Err(PlanError::Invalid(diagnostics)) = plan_with(&stack, None, &[], false) else {
        panic!("the alarm twins are refused")
    };
    let out = diagnostics.to_string();
    assert!(out.contains("aws:cloudwatch:MetricAlarm `twins-topic-alarm` is already resource `al"), "{out}");
    assert_eq!(diagnostics.len(), 1, "{out}");
}

#[test]
fn a_permission_replaced_under_the_same_statement_id_is_deleted_first() {
    // Its function and statement id name it in AWS: a new one cannot exist beside the old, so a replacement that
    // keeps them deletes first (it used to create first, and the create was refused because the name was taken).
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    let env: BTreeMap<String, String> = BTreeMap::new();
    let write = |principal: &str, statement: &str| {
        std::fs::write(
            &path,
            format!("name: perm\nresources:\n  p:\n    type: aws:lambda:Permission\n    properties: {{function: f, principal: {principal}, statementId: {statement}}}\n"),
        )
        .unwrap();
        stack::load(&path, &stackr_providers::catalog::registry(), &env).unwrap()
    };
    let state = converge(&write("sns.amazonaws.com", "s"), None);
    let plan = plan_with(&write("events.amazonaws.com", "s"), Some(&state), &[], false).unwrap();
    assert_eq!(plan.changes[0].action, Action::Replace);
    assert_eq!(plan.changes[0].replace_order, Some(plan::ReplaceOrder::DeleteBeforeCreate));
    let plan = plan_with(&write("events.amazonaws.com", "t"), Some(&state), &[], false).unwrap();
    assert_eq!(plan.changes[0].replace_order, Some(plan::ReplaceOrder::CreateBeforeDelete));
    // The statement id defaults to the logical name: writing the default out, or leaving it out, changes nothing.
    std::fs::write(
        &path,
        "name: perm\nresources:\n  p:\n    type: aws:lambda:Permission\n    properties: {function: f, principal: sns.amazonaws.com}\n",
    )
    .unwrap();
    let implicit = stack::load(&path, &stackr_providers::catalog::registry(), &env).unwrap();
    let state = converge(&implicit, None);
    let plan = plan_with(&write("sns.amazonaws.com", "p"), Some(&state), &[], false).unwrap();
    assert!(!plan.has_changes(), "{}", text(&plan));
}
