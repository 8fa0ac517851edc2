//! References: what each `${...}` names (a built-in, a parameter, a variable, a resource's attribute), the
//! variables' dependencies (cycles among them are errors), and each resource's dependencies from its references
//! and `dependsOn`.

use std::collections::{BTreeMap, BTreeSet};

use super::HintIfNone;
use crate::diagnostic::{suggest, Diagnostic, Diagnostics, Location, Pos};
use crate::provider::Registry;
use crate::stack::document::FileScope;
use crate::stack::expr::{Expr, Reference};
use crate::stack::{Resource, BUILTINS};
use crate::value::{PathSegment, Value};

/// What a reference's root names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RefTarget {
    Builtin,
    Config,
    Variable,
    Resource,
    Invalid,
}

pub(super) struct Names<'a> {
    pub(super) config: &'a BTreeMap<String, Value>,
    pub(super) variables: &'a BTreeMap<String, (FileScope, Pos, Expr)>,
    pub(super) resources: &'a BTreeMap<String, Resource>,
    pub(super) registry: &'a Registry,
}

impl Names<'_> {
    pub(super) fn check_reference(&self, r: &Reference, diags: &mut Diagnostics) -> RefTarget {
        let error = |message: String| Diagnostic::new(r.location.clone(), r.doc_path.clone(), message);
        if r.root == "stackr" {
            return match r.path.as_slice() {
                [PathSegment::Key(k)] if BUILTINS.contains(&k.as_str()) => RefTarget::Builtin,
                [PathSegment::Key(k), ..] => {
                    diags.push(
                        error(format!("`stackr.{k}` is not a built-in value"))
                            .with_suggestion(k, BUILTINS.iter().copied())
                            .with_hint_if_none("built-ins are stackr.stack, stackr.region and stackr.accountId".into()),
                    );
                    RefTarget::Invalid
                }
                _ => {
                    diags.push(error("`stackr` needs a built-in name: stack, region or accountId".into()));
                    RefTarget::Invalid
                }
            };
        }
        if self.config.contains_key(&r.root) {
            return RefTarget::Config;
        }
        if self.variables.contains_key(&r.root) {
            return RefTarget::Variable;
        }
        if let Some(resource) = self.resources.get(&r.root) {
            let Some(schema) = self.registry.schema(&resource.type_name) else { return RefTarget::Invalid };
            match r.attribute() {
                Some(attribute) => {
                    if !schema.attribute_names().any(|a| a == attribute) {
                        diags.push(
                            error(format!(
                                "{} has no attribute `{attribute}` (in `${{{}}}`)",
                                resource.type_name,
                                r.text()
                            ))
                            .with_suggestion(attribute, schema.attribute_names())
                            .with_hint_if_none(format!(
                                "its outputs are: id, {}",
                                schema.outputs.iter().map(|o| o.name).collect::<Vec<_>>().join(", ")
                            )),
                        );
                        return RefTarget::Invalid;
                    }
                }
                None => {
                    diags.push(
                        error(format!("`${{{}}}` names a resource but not which of its attributes", r.text()))
                            .with_hint(format!("e.g. `${{{}.id}}` or `${{{}.arn}}`", r.root, r.root)),
                    );
                    return RefTarget::Invalid;
                }
            }
            return RefTarget::Resource;
        }
        let candidates = self
            .config
            .keys()
            .chain(self.variables.keys())
            .chain(self.resources.keys())
            .map(String::as_str)
            .chain(std::iter::once("stackr"));
        let mut d = error(format!("`{}` is not a parameter, variable or resource (in `${{{}}}`)", r.root, r.text()));
        if let Some(best) = suggest(&r.root, candidates) {
            d = d.with_hint(format!("did you mean `{best}`?"));
        }
        diags.push(d);
        RefTarget::Invalid
    }
}

/// Checks variable references and returns, per variable, the resources it needs (through other variables too).
/// A cycle among variables is an error naming its members.
pub(super) fn check_variables(names: &Names<'_>, diags: &mut Diagnostics) -> BTreeMap<String, BTreeSet<String>> {
    let mut direct_vars: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut direct_resources: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (name, (_, _, expr)) in names.variables {
        let mut vars = BTreeSet::new();
        let mut resources = BTreeSet::new();
        expr.for_each_reference(&mut |r| match names.check_reference(r, diags) {
            RefTarget::Variable => {
                vars.insert(r.root.as_str());
            }
            RefTarget::Resource => {
                resources.insert(r.root.clone());
            }
            _ => {}
        });
        direct_vars.insert(name, vars);
        direct_resources.insert(name, resources);
    }
    // Depth-first with colours: cycles are reported once, members in order.
    let mut result: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut state: BTreeMap<&str, u8> = BTreeMap::new();
    for start in direct_vars.keys() {
        let mut stack: Vec<(&str, Vec<&str>)> = Vec::new();
        if state.get(start).copied().unwrap_or(0) != 0 {
            continue;
        }
        stack.push((start, direct_vars[start].iter().copied().collect()));
        state.insert(start, 1);
        while let Some((current, pending)) = stack.last_mut() {
            let current = *current;
            if let Some(next) = pending.pop() {
                match state.get(next).copied().unwrap_or(0) {
                    0 => {
                        state.insert(next, 1);
                        let children = direct_vars.get(next).map(|s| s.iter().copied().collect()).unwrap_or_default();
                        stack.push((next, children));
                    }
                    1 => {
                        let members: Vec<&str> = stack.iter().map(|(n, _)| *n).skip_while(|n| *n != next).collect();
                        let (scope, pos, _) = &names.variables[next];
                        let mut cycle = members.join(" → ");
                        cycle.push_str(" → ");
                        cycle.push_str(next);
                        diags.push(Diagnostic::new(
                            Location::new(&scope.file, *pos),
                            format!("variables.{next}"),
                            format!("variables refer to each other in a cycle: {cycle}"),
                        ));
                    }
                    _ => {}
                }
                continue;
            }
            let mut needs = direct_resources.get(current).cloned().unwrap_or_default();
            for var in direct_vars.get(current).into_iter().flatten() {
                if let Some(through) = result.get(*var) {
                    needs.extend(through.iter().cloned());
                }
            }
            result.insert(current.to_string(), needs);
            state.insert(current, 2);
            stack.pop();
        }
    }
    result
}

/// Checks every reference of the default tags, the outputs and the resources, and records each resource's
/// dependencies: the resources its properties name (directly or through variables) and its `dependsOn`.
pub(super) fn resolve(
    names: &Names<'_>,
    default_tags: Option<&Expr>,
    outputs: &BTreeMap<String, Expr>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, BTreeSet<String>> {
    let variable_dependencies = check_variables(names, diags);
    if let Some(tags) = default_tags {
        tags.for_each_reference(&mut |r| {
            if names.check_reference(r, diags) == RefTarget::Resource {
                diags.push(Diagnostic::new(
                    r.location.clone(),
                    r.doc_path.clone(),
                    format!("defaultTags cannot refer to resources (`${{{}}}`)", r.text()),
                ));
            }
        });
    }
    for expr in outputs.values() {
        expr.for_each_reference(&mut |r| {
            names.check_reference(r, diags);
        });
    }
    let mut dependencies: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for resource in names.resources.values() {
        let mut found = BTreeSet::new();
        for expr in resource.properties.values() {
            expr.for_each_reference(&mut |r| match names.check_reference(r, diags) {
                RefTarget::Resource => {
                    if r.root == resource.name {
                        diags.push(Diagnostic::new(
                            r.location.clone(),
                            r.doc_path.clone(),
                            format!("`{}` refers to itself (`${{{}}}`)", resource.name, r.text()),
                        ));
                    } else {
                        found.insert(r.root.clone());
                    }
                }
                RefTarget::Variable => {
                    if let Some(through) = variable_dependencies.get(&r.root) {
                        found.extend(through.iter().filter(|n| **n != resource.name).cloned());
                    }
                }
                RefTarget::Config | RefTarget::Builtin | RefTarget::Invalid => {}
            });
        }
        for depends_on in &resource.options.depends_on {
            if names.resources.contains_key(depends_on) && depends_on != &resource.name {
                found.insert(depends_on.clone());
            } else {
                diags.push(
                    Diagnostic::new(
                        resource.location.clone(),
                        format!("resources.{}.options.dependsOn", resource.name),
                        format!("`{depends_on}` is not a resource of this stack"),
                    )
                    .with_suggestion(depends_on, names.resources.keys().map(String::as_str)),
                );
            }
        }
        dependencies.insert(resource.name.clone(), found);
    }
    dependencies
}
