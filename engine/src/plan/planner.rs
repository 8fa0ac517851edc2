//! The planner: desired stack + prior state → [`Plan`]. Pure and synchronous: no network, no clock, no
//! randomness, so the same inputs always give the same plan.

use std::collections::{BTreeMap, BTreeSet};

use stackr_state::StateFile;

use super::{Action, Drift, Plan, Recorded, ReplaceOrder, ResourceChange};
use crate::diagnostic::{suggest, Diagnostics};
use crate::diff::{apply_ignore_changes, diff_inputs, PropertyChange};
use crate::eval::{unknown_output, Builtins, Evaluator, ResourceValues};
use crate::graph::{CycleError, DependencyGraph};
use crate::provider::Registry;
use crate::schema::ResourceSchema;
use crate::stack::Stack;
use crate::value::Value;

pub struct PlanRequest<'a> {
    pub stack: &'a Stack,
    /// The prior state; `None` for a stack never applied.
    pub state: Option<&'a StateFile>,
    pub registry: &'a Registry,
    pub builtins: &'a Builtins,
    /// `--target`: only these resources and what they depend on.
    pub targets: &'a [String],
    /// `--destroy`: delete everything in the state.
    pub destroy: bool,
    /// Drift found by refresh, shown above the plan.
    pub drift: Vec<Drift>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("the stack is invalid:\n{0}")]
    Invalid(Diagnostics),
    #[error(transparent)]
    Cycle(#[from] CycleError),
    #[error("the plan would {} protected {}: {}", verbs(.resources), if .resources.len() == 1 { "resource" } else { "resources" }, .resources.iter().map(|(n, a)| format!("{n} ({})", a.name())).collect::<Vec<_>>().join(", "))]
    Protected { resources: Vec<(String, Action)> },
    #[error("--target {name}: no such resource in the stack or its state{}", .suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownTarget { name: String, suggestion: Option<String> },
}

fn verbs(resources: &[(String, Action)]) -> &'static str {
    let replaces = resources.iter().any(|(_, a)| *a == Action::Replace);
    let deletes = resources.iter().any(|(_, a)| *a == Action::Delete);
    match (replaces, deletes) {
        (true, true) => "replace or delete",
        (true, false) => "replace",
        _ => "delete",
    }
}

/// What later resources see of one already planned.
struct PlannedView {
    id: Value,
    inputs: Value,
    outputs: Value,
}

struct PlannedValues<'a> {
    planned: &'a BTreeMap<String, PlannedView>,
}

impl ResourceValues for PlannedValues<'_> {
    fn attribute(&self, resource: &str, attribute: &str) -> Value {
        let Some(view) = self.planned.get(resource) else { return unknown_output(resource, attribute) };
        if attribute == "id" {
            return view.id.clone();
        }
        if let Some(v) = view.outputs.as_map().and_then(|m| m.get(attribute)) {
            return v.clone();
        }
        view.inputs.as_map().and_then(|m| m.get(attribute)).cloned().unwrap_or(Value::Null)
    }
}

pub fn plan(request: PlanRequest<'_>) -> Result<Plan, PlanError> {
    let stack = request.stack;
    let empty_state;
    let state = match request.state {
        Some(s) => s,
        None => {
            empty_state = StateFile::new(&stack.name);
            &empty_state
        }
    };
    let graph = DependencyGraph::new(stack.resources.values().map(|r| (r.name.as_str(), &r.dependencies)));
    let order = graph.order()?;

    let selected: Option<BTreeSet<String>> = if request.targets.is_empty() {
        None
    } else {
        for target in request.targets {
            if !stack.resources.contains_key(target) && !state.resources.contains_key(target) {
                let candidates = stack.resources.keys().chain(state.resources.keys()).map(String::as_str);
                return Err(PlanError::UnknownTarget {
                    name: target.clone(),
                    suggestion: suggest(target, candidates).map(str::to_string),
                });
            }
        }
        if request.destroy {
            Some(dependents_in_state(state, request.targets))
        } else {
            let mut set = graph.with_dependencies(request.targets.iter().map(String::as_str));
            set.extend(request.targets.iter().filter(|t| !stack.resources.contains_key(*t)).cloned());
            Some(set)
        }
    };
    let is_selected = |name: &str| selected.as_ref().is_none_or(|s| s.contains(name));

    let mut changes = Vec::new();
    let mut unchanged = Vec::new();
    let mut diags = Diagnostics::default();
    let mut protected: Vec<(String, Action)> = Vec::new();
    let mut planned: BTreeMap<String, PlannedView> = BTreeMap::new();
    let mut files_read = BTreeSet::new();
    let mut code_read = BTreeSet::new();
    // Names built from other resources' planned properties are known only now: checked again here.
    let mut names = crate::stack::names::PhysicalNames::default();

    if !request.destroy {
        for name in &order {
            let resource = &stack.resources[name];
            let prior = state.resources.get(name);
            let Some(registered) = request.registry.get(&resource.type_name) else { continue };
            let schema = registered.schema.as_ref();
            if !is_selected(name) {
                if let Some(prior) = prior {
                    planned.insert(name.clone(), prior_view(prior));
                }
                continue;
            }
            let values = PlannedValues { planned: &planned };
            let evaluator = Evaluator::new(stack, request.builtins, &values);
            let evaluated = desired_inputs(&evaluator, resource, registered, prior);
            files_read.extend(evaluator.files_read());
            code_read.extend(evaluator.code_read());
            let desired = match evaluated {
                Ok(inputs) => inputs,
                Err(d) => {
                    diags.extend(d);
                    continue;
                }
            };
            names.check(resource, schema, &desired, &mut diags);
            let dependencies: Vec<String> = resource.dependencies.iter().cloned().collect();
            let Some(prior) = prior else {
                planned.insert(
                    name.clone(),
                    PlannedView {
                        id: unknown_output(name, "id"),
                        inputs: desired.clone(),
                        outputs: unknown_outputs(name, schema),
                    },
                );
                changes.push(ResourceChange {
                    name: name.clone(),
                    type_name: resource.type_name.clone(),
                    action: Action::Create,
                    reasons: vec!["not in the state yet".into()],
                    diff: creation_diff(schema, &desired),
                    replace_order: None,
                    data_loss: false,
                    retain: false,
                    dependencies,
                    inputs: Some(desired),
                    prior_id: None,
                    recorded: recorded(resource),
                    options: Vec::new(),
                });
                continue;
            };
            let prior_inputs = Value::from_json(&prior.inputs);
            let type_changed = prior.type_name != resource.type_name;
            let diff = if type_changed {
                diff_inputs(schema, &Value::Null, &desired)
            } else {
                diff_inputs(schema, &prior_inputs, &desired)
            };
            let options = option_changes(prior, resource);
            if diff.is_empty() && !type_changed && options.is_empty() {
                planned.insert(name.clone(), prior_view(prior));
                unchanged.push(name.clone());
                continue;
            }
            let forcing: Vec<&str> = diff.iter().filter(|c| c.forces_replacement).map(|c| c.path.as_str()).collect();
            if type_changed || !forcing.is_empty() {
                let mut reasons: Vec<String> = if type_changed {
                    vec![format!("the type changed from {} to {}", prior.type_name, resource.type_name)]
                } else {
                    forcing.iter().map(|p| format!("`{p}` forces replacement")).collect()
                };
                let order = replace_order(schema, resource.options.delete_before_replace, &diff, type_changed);
                if order == ReplaceOrder::DeleteBeforeCreate {
                    reasons.push(if resource.options.delete_before_replace {
                        "deleteBeforeReplace: the old resource is deleted first".into()
                    } else {
                        format!(
                            "`{}` stays the same and must be unique, so the old resource is deleted first",
                            schema.identity_properties().join("`, `")
                        )
                    });
                }
                // A type change loses what the old resource held, whatever the new type holds.
                let old_holds_data =
                    type_changed && request.registry.schema(&prior.type_name).is_some_and(|s| s.holds_data);
                let data_loss = schema.holds_data || old_holds_data;
                if data_loss {
                    let holder = if schema.holds_data { &resource.type_name } else { &prior.type_name };
                    reasons.push(format!("replacing this {holder} destroys its data"));
                }
                planned.insert(
                    name.clone(),
                    PlannedView {
                        id: unknown_output(name, "id"),
                        inputs: desired.clone(),
                        outputs: unknown_outputs(name, schema),
                    },
                );
                changes.push(ResourceChange {
                    name: name.clone(),
                    type_name: resource.type_name.clone(),
                    action: Action::Replace,
                    reasons,
                    diff,
                    replace_order: Some(order),
                    data_loss,
                    retain: false,
                    dependencies,
                    inputs: Some(desired),
                    prior_id: Some(prior.id.clone()),
                    recorded: recorded(resource),
                    options,
                });
                if resource.options.protect || prior.protect {
                    protected.push((name.clone(), Action::Replace));
                }
                continue;
            }
            // Option changes are named beside the properties; an update of options alone calls no AWS API.
            let changed: Vec<&str> = diff.iter().chain(&options).map(|c| c.path.as_str()).collect();
            planned.insert(
                name.clone(),
                PlannedView {
                    id: Value::String(prior.id.clone()),
                    inputs: desired.clone(),
                    outputs: updated_outputs(name, schema, &Value::from_json(&prior.outputs)),
                },
            );
            changes.push(ResourceChange {
                name: name.clone(),
                type_name: resource.type_name.clone(),
                action: Action::Update,
                reasons: vec![format!("changed: {}", changed.join(", "))],
                diff,
                replace_order: None,
                data_loss: false,
                retain: false,
                dependencies,
                inputs: Some(desired),
                prior_id: Some(prior.id.clone()),
                recorded: recorded(resource),
                options,
            });
        }
    }
    if !diags.is_empty() {
        return Err(PlanError::Invalid(diags.finish()));
    }

    // Deletes: resources in the state that the stack no longer has (or all of them, for --destroy), in reverse
    // dependency order of the state.
    let doomed: BTreeMap<&str, BTreeSet<String>> = state
        .resources
        .iter()
        .filter(|(name, _)| request.destroy || !stack.resources.contains_key(*name))
        .filter(|(name, _)| is_selected(name))
        .map(|(name, r)| (name.as_str(), r.dependencies.iter().cloned().collect()))
        .collect();
    let delete_graph = DependencyGraph::new(doomed.iter().map(|(n, d)| (*n, d)));
    let mut delete_order = delete_graph.order()?;
    delete_order.reverse();
    for name in delete_order {
        let prior = &state.resources[&name];
        let holds_data = request.registry.schema(&prior.type_name).is_some_and(|s| s.holds_data);
        let retain = prior.retain_on_delete;
        let mut reasons = vec![if request.destroy {
            "the stack is being destroyed".to_string()
        } else {
            "removed from the stack".to_string()
        }];
        if retain {
            reasons.push("retainOnDelete: forgotten by stackr, left in AWS".into());
        } else if holds_data {
            reasons.push(format!("deleting this {} destroys its data", prior.type_name));
        }
        let protect = prior.protect || stack.resources.get(&name).is_some_and(|r| r.options.protect);
        if protect {
            protected.push((name.clone(), Action::Delete));
        }
        changes.push(ResourceChange {
            name: name.clone(),
            type_name: prior.type_name.clone(),
            action: Action::Delete,
            reasons,
            diff: Vec::new(),
            replace_order: None,
            data_loss: holds_data && !retain,
            retain,
            dependencies: prior.dependencies.clone(),
            inputs: None,
            prior_id: Some(prior.id.clone()),
            recorded: Recorded::default(),
            options: Vec::new(),
        });
    }

    if !protected.is_empty() {
        protected.sort();
        return Err(PlanError::Protected { resources: protected });
    }

    // The stack's outputs, as far as planning knows them: apply computes the rest once the steps have run.
    let mut outputs = BTreeMap::new();
    if !request.destroy {
        let values = PlannedValues { planned: &planned };
        let evaluator = Evaluator::new(stack, request.builtins, &values);
        for (name, expr) in &stack.outputs {
            match evaluator.eval(expr) {
                Ok(value) => {
                    outputs.insert(name.clone(), value);
                }
                Err(d) => diags.push(d),
            }
        }
        files_read.extend(evaluator.files_read());
        if !diags.is_empty() {
            return Err(PlanError::Invalid(diags.finish()));
        }
    }

    Ok(Plan {
        stack: stack.name.clone(),
        lineage: request.state.map(|s| s.lineage.0.clone()),
        serial: request.state.map_or(0, |s| s.serial),
        destroy: request.destroy,
        targets: request.targets.to_vec(),
        changes,
        unchanged,
        drift: request.drift,
        files_read,
        code_read,
        outputs,
        allowed_paths: stack.allowed_paths.iter().map(|p| p.display().to_string()).collect(),
        secrets_change: secrets_change(stack, request.state),
    })
}

/// A resource's desired inputs: evaluated, conformed to its schema, normalised by its provider, and with
/// `ignoreChanges` paths set to their prior values: what the plan records, and so what apply sends (with what
/// was pending computed).
fn desired_inputs(
    evaluator: &Evaluator<'_>,
    resource: &crate::stack::Resource,
    registered: &crate::provider::RegisteredType,
    prior: Option<&stackr_state::ResourceState>,
) -> Result<Value, Diagnostics> {
    let mut desired = evaluator.resource_inputs(resource, &registered.schema)?;
    if let Some(provider) = &registered.provider {
        desired = provider.normalize(desired);
    }
    if let Some(prior) = prior {
        apply_ignore_changes(&mut desired, &Value::from_json(&prior.inputs), &resource.options.ignore_changes);
    }
    Ok(desired)
}

/// Every property of a new resource, shown as added; nothing forces replacement of what does not exist yet.
fn creation_diff(schema: &ResourceSchema, desired: &Value) -> Vec<crate::diff::PropertyChange> {
    let mut diff = diff_inputs(schema, &Value::Null, desired);
    for change in &mut diff {
        change.forces_replacement = false;
    }
    diff
}

fn replace_order(
    schema: &ResourceSchema,
    delete_before_replace: bool,
    diff: &[crate::diff::PropertyChange],
    type_changed: bool,
) -> ReplaceOrder {
    if delete_before_replace {
        return ReplaceOrder::DeleteBeforeCreate;
    }
    // While what names the resource in AWS stays the same (a unique name; a permission's function and statement
    // id), the new one cannot exist beside the old: the old goes first.
    let identity = schema.identity_properties();
    let same_identity = !identity.is_empty() && !diff.iter().any(|c| identity.contains(&c.path.as_str()));
    if same_identity && !type_changed {
        ReplaceOrder::DeleteBeforeCreate
    } else {
        ReplaceOrder::CreateBeforeDelete
    }
}

fn prior_view(prior: &stackr_state::ResourceState) -> PlannedView {
    PlannedView {
        id: Value::String(prior.id.clone()),
        inputs: Value::from_json(&prior.inputs),
        outputs: Value::from_json(&prior.outputs),
    }
}

fn unknown_outputs(name: &str, schema: &ResourceSchema) -> Value {
    Value::Map(schema.outputs.iter().map(|o| (o.name.to_string(), unknown_output(name, o.name))).collect())
}

fn updated_outputs(name: &str, schema: &ResourceSchema, prior: &Value) -> Value {
    let mut outputs = prior.as_map().cloned().unwrap_or_default();
    for output in schema.outputs.iter().filter(|o| o.changes_on_update) {
        outputs.insert(output.name.to_string(), unknown_output(name, output.name));
    }
    Value::Map(outputs)
}

/// What the state will record of `resource` beside its inputs.
fn recorded(resource: &crate::stack::Resource) -> Recorded {
    Recorded {
        protect: resource.options.protect,
        retain_on_delete: resource.options.retain_on_delete,
        base_dir: resource.location.file.parent().map(std::path::Path::to_path_buf),
    }
}

/// The options the state records that the stack now sets otherwise, as `options.NAME` changes.
fn option_changes(prior: &stackr_state::ResourceState, resource: &crate::stack::Resource) -> Vec<PropertyChange> {
    let flags = [
        ("options.protect", prior.protect, resource.options.protect),
        ("options.retainOnDelete", prior.retain_on_delete, resource.options.retain_on_delete),
    ];
    flags
        .into_iter()
        .filter(|(_, before, after)| before != after)
        .map(|(path, before, after)| PropertyChange {
            path: path.to_string(),
            before: Some(Value::Bool(before)),
            after: Some(Value::Bool(after)),
            forces_replacement: false,
        })
        .collect()
}

/// The state's secrets are encrypted under another provider than the stack names: apply re-encrypts them.
fn secrets_change(stack: &Stack, state: Option<&StateFile>) -> Option<super::SecretsChange> {
    let recorded = state?.secrets.as_ref()?;
    let wanted = stack.secrets_provider.as_deref().unwrap_or(stackr_state::secrets::DEFAULT_PROVIDER);
    (recorded.provider != wanted)
        .then(|| super::SecretsChange { from: recorded.provider.clone(), to: wanted.to_string() })
}

/// For `--destroy --target`: the targets and everything in the state that depends on them.
fn dependents_in_state(state: &StateFile, targets: &[String]) -> BTreeSet<String> {
    let mut selected: BTreeSet<String> = targets.iter().cloned().collect();
    loop {
        let before = selected.len();
        for (name, resource) in &state.resources {
            if resource.dependencies.iter().any(|d| selected.contains(d)) {
                selected.insert(name.clone());
            }
        }
        if selected.len() == before {
            return selected;
        }
    }
}
