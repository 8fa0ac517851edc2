//! A saved plan is the program apply runs: what apply checks of it before the first call (a plan stackr did
//! not write, or one edited since, is refused naming the step), and the options a plan records without a call.

use super::*;
use stackr_engine::plan::file::PlannedStep;

#[tokio::test]
async fn a_change_of_options_is_planned_shown_and_recorded_without_a_call() {
    let mut h = Harness::new();
    h.converge(&h.stack(&thing("p", ""))).await;
    let calls_before = h.cloud.calls().len();
    let protected = h.stack(&thing("p", "    options: {protect: true, retainOnDelete: true}\n"));
    let plan = h.plan(&protected, false);
    assert_eq!(plan.changes.len(), 1, "{:?}", plan.changes);
    let change = &plan.changes[0];
    assert_eq!((change.action, change.diff.len()), (Action::Update, 0));
    let shown: Vec<String> = change
        .options
        .iter()
        .map(|c| format!("{}: {:?} → {:?}", c.path, c.before.as_ref().unwrap(), c.after.as_ref().unwrap()))
        .collect();
    assert_eq!(
        shown,
        ["options.protect: Bool(false) → Bool(true)", "options.retainOnDelete: Bool(false) → Bool(true)"]
    );
    let text = stackr_engine::render::text::render(&plan, stackr_engine::render::Style::PLAIN);
    assert!(text.contains("~ options.protect: false → true"), "{text}");
    let report = h.apply_with(&plan, ApplyOptions::default(), CancelFlag::default()).await.unwrap();
    assert_eq!(report.counts.updated, 1);
    assert_eq!(h.cloud.calls().len(), calls_before, "no call to AWS: {:?}", h.cloud.calls());
    assert!(h.state.resources["p"].protect && h.state.resources["p"].retain_on_delete);
    assert!(!h.plan(&protected, false).has_changes());
    // What the state now records protects it, even from a stack that no longer declares it.
    let planned = plan::plan(PlanRequest {
        stack: &h.stack(&thing("other", "")),
        state: Some(&h.state),
        registry: &h.registry,
        builtins: &Builtins { stack: "t".into(), region: None, account_id: None },
        targets: &[],
        destroy: false,
        drift: vec![],
    });
    let err = planned.err().map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(err, "the plan would delete protected resource: p (delete)");
}

/// Each edit of a real saved plan, and what apply says of it before anything runs.
#[tokio::test]
async fn a_plan_that_does_not_follow_from_the_state_is_refused_naming_why() {
    let mut h = Harness::new();
    h.converge(&h.stack(&[thing("a", ""), thing("kept", "    options: {retainOnDelete: true}\n")].concat())).await;
    let stack = h.stack(
        &[
            thing("a", "      value: changed\n"),
            thing("b", "      ref: ${a.arn}\n"),
            thing("c", "      ref: ${b.arn}\n"),
        ]
        .concat(),
    );
    let real = saved(&h.plan(&stack, false), None);
    let names: Vec<(&str, Action)> = real.steps.iter().map(|s| (s.name.as_str(), s.action)).collect();
    assert_eq!(names, [("a", Action::Update), ("b", Action::Create), ("c", Action::Create), ("kept", Action::Delete)]);
    apply::verify_saved(&real, &h.state, &h.registry, ApplyOptions::default(), None).unwrap();

    type Edit = Box<dyn Fn(&mut Vec<PlannedStep>)>;
    fn inputs(s: &mut PlannedStep) -> &mut serde_json::Map<String, serde_json::Value> {
        s.inputs.as_mut().unwrap().as_object_mut().unwrap()
    }
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|s| s.push(s[1].clone())), "`b` has more than one step"),
        (Box::new(|s| s[3].retain = false), "`kept` is retainOnDelete in the state, but the plan deletes it from AWS"),
        (
            Box::new(|s| drop(inputs(&mut s[0]).insert("name".into(), "renamed".into()))),
            "`a` changes `name` in place, which forces a replacement",
        ),
        (Box::new(|s| drop(inputs(&mut s[1]).remove("name"))), "`b` lacks the required property `name`"),
        (
            Box::new(|s| drop(inputs(&mut s[1]).insert("colour".into(), "red".into()))),
            "`b` has a property `colour` its type does not have",
        ),
        (
            Box::new(|s| s[1].dependencies.push("ghost".into())),
            "`b` waits for `ghost`, which is neither a step of the plan nor in the state",
        ),
        (Box::new(|s| s[2].dependencies.clear()), "`c` computes a value from `b.arn` without waiting for `b`"),
        (Box::new(|s| s[1].dependencies.push("c".into())), "`b` waits for itself: dependency cycle: b → c → b"),
    ];
    for (edit, expected) in cases {
        let mut file = real.clone();
        edit(&mut file.steps);
        let err = apply::verify_saved(&file, &h.state, &h.registry, ApplyOptions::default(), None).unwrap_err();
        assert_eq!(err.to_string(), format!("the saved plan does not follow from the stack's state: {expected}"));
    }
}

#[tokio::test]
async fn steps_left_waiting_on_each_other_are_reported_not_run() {
    let mut h = Harness::new();
    let stack = h.stack(&[thing("a", ""), thing("b", "")].concat());
    let mut file = saved(&h.plan(&stack, false), None);
    file.steps[0].dependencies = vec!["b".into()];
    file.steps[1].dependencies = vec!["a".into()];
    let report = h.apply_file(&file, ApplyOptions::default(), CancelFlag::default()).await.unwrap();
    assert_eq!(
        report.skipped,
        [("a".to_string(), "waits in a cycle".to_string()), ("b".into(), "waits in a cycle".into())]
    );
    assert!(h.cloud.calls().is_empty());
}

#[tokio::test]
async fn a_delete_first_replacement_that_changes_the_type_deletes_the_old_with_its_own_type() {
    let mut h = Harness::new();
    h.converge(&h.stack(&thing("x", ""))).await;
    let old = h.state.resources["x"].id.clone();
    let store = h.stack(
        "  x:\n    type: test:fake:Store\n    properties: {name: x}\n    options: {deleteBeforeReplace: true}\n",
    );
    let plan = h.plan(&store, false);
    assert_eq!(plan.changes[0].replace_order, Some(plan::ReplaceOrder::DeleteBeforeCreate));
    let report = h.apply_with(&plan, ApplyOptions { parallelism: 1, allow_data_loss: true }, CancelFlag::default());
    let report = report.await.unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.counts.replaced, 1);
    assert!(!h.cloud.resources.lock().unwrap().contains_key(&old), "the old Thing is deleted");
    assert_eq!(h.state.resources["x"].type_name, "test:fake:Store");
}

#[tokio::test]
async fn replacing_a_data_holding_resource_with_another_type_is_data_loss() {
    let mut h = Harness::new();
    h.converge(&h.stack("  s:\n    type: test:fake:Store\n    properties: {name: s}\n")).await;
    let plan = h.plan(&h.stack(&thing("s", "")), false);
    assert_eq!((plan.changes[0].action, plan.changes[0].data_loss), (Action::Replace, true));
    assert!(plan.changes[0].reasons.contains(&"replacing this test:fake:Store destroys its data".to_string()));
}

/// AWS changed outside stackr to what the stack now says, and the stack also protects the resource: the plan
/// (made against what refresh read) records only the option, and apply takes that plan.
#[tokio::test]
async fn an_option_change_applies_when_aws_drifted_to_what_the_stack_says() {
    let mut h = Harness::new();
    h.converge(&h.stack(&thing("p", "      value: one\n"))).await;
    let mut refreshed = h.state.clone();
    refreshed.resources.get_mut("p").unwrap().inputs["value"] = "two".into();
    let stack = h.stack(&thing("p", "      value: two\n    options: {protect: true}\n"));
    let plan = plan::plan(PlanRequest {
        stack: &stack,
        state: Some(&refreshed),
        registry: &h.registry,
        builtins: &Builtins { stack: "t".into(), region: None, account_id: None },
        targets: &[],
        destroy: false,
        drift: vec![],
    })
    .unwrap();
    let file = saved(&plan, None);
    assert!(file.steps[0].changed.is_empty(), "only the option: {:?}", file.steps[0]);
    apply::verify_saved(&file, &h.state, &h.registry, ApplyOptions::default(), None).unwrap();
    h.apply_with(&plan, ApplyOptions::default(), CancelFlag::default()).await.unwrap();
    assert!(h.state.resources["p"].protect);
    assert_eq!(h.state.resources["p"].inputs["value"], "two", "the state records what AWS has");
}
