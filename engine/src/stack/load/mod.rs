//! Loading a stack: the root file and its includes, merged, then every name, config value and reference
//! checked. All problems are collected; the result is a [`Stack`] or every diagnostic at once.
//!
//! `files` walks the includes and merges their sections, `header` reads the stack file's header, `parameters`
//! types the config, `resources` reads each resource against its schema, `references` resolves every `${...}`
//! and the dependencies it makes.

mod files;
mod header;
mod parameters;
mod references;
mod resources;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::document::{describe, to_expr, FileScope};
use super::expr::Expr;
use super::yaml::NodeKind;
use super::{Resource, SourceFile, Stack};
use crate::diagnostic::Pos;
use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::eval::{Builtins, Evaluator, NothingKnown};
use crate::graph::DependencyGraph;
use crate::provider::Registry;
use files::{check_name_clashes, load_tree, merge_section, LoadedFile, Walk};

/// Where `{fromEnv: NAME}` config values come from.
pub trait Environment {
    fn var(&self, name: &str) -> Option<String>;
    /// The project root every path a stack names must stay inside (see `confine`); `None` confines nothing.
    fn project_root(&self) -> Option<PathBuf> {
        None
    }
}

/// The process environment.
pub struct ProcessEnvironment;

impl Environment for ProcessEnvironment {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    /// The directory stackr runs in, where `.stackr/` lives.
    fn project_root(&self) -> Option<PathBuf> {
        std::env::current_dir().ok()
    }
}

impl Environment for BTreeMap<String, String> {
    fn var(&self, name: &str) -> Option<String> {
        self.get(name).cloned()
    }
}

/// How to fix a path that leaves the project root.
pub const CONFINED_HINT: &str =
    "run stackr from the project's root directory, and keep included files, read files and code inside it";

/// Loads, merges and checks a stack. The registry supplies the schemas properties are checked against.
pub fn load(path: &Path, registry: &Registry, env: &dyn Environment) -> Result<Stack, Diagnostics> {
    let mut diags = Diagnostics::default();
    let mut files: Vec<LoadedFile> = Vec::new();
    let mut sources: Vec<SourceFile> = Vec::new();
    let mut unreadable = false;
    let mut walk =
        Walk { root: env.project_root(), budget: Default::default(), allowed: Vec::new(), chain: Vec::new() };
    load_tree(path, None, &mut walk, &mut files, &mut sources, &mut unreadable, &mut diags);
    if files.is_empty() || unreadable {
        // A file that could not be read or parsed makes every later check guess; report the files first.
        return Err(diags.finish());
    }
    let mut stack = assemble(files, sources, registry, env, &mut diags);
    if let Some(stack) = &mut stack {
        stack.allowed_paths = walk.allowed;
    }
    if let Some(stack) = &stack {
        check_values(stack, registry, &mut diags);
        check_graph(stack, &mut diags);
    }
    match stack {
        Some(stack) if diags.is_empty() => Ok(stack),
        _ => Err(diags.finish()),
    }
}

/// Evaluates every resource with other resources' attributes unknown, so type errors in literal and config
/// values are found now rather than at plan time. What is found at a property that already has a problem (or
/// inside it) is dropped: it would only repeat it; the resource's other properties are still checked (one
/// misspelt property must not hide another's wrong value).
fn check_values(stack: &Stack, registry: &Registry, diags: &mut Diagnostics) {
    if diags.iter().any(|d| d.path.starts_with("variables.") || d.path.starts_with("defaultTags")) {
        return;
    }
    let builtins = Builtins { stack: stack.name.clone(), region: stack.region.clone(), account_id: None };
    let evaluator = Evaluator::new(stack, &builtins, &NothingKnown);
    let mut found = Diagnostics::default();
    let mut names = super::names::PhysicalNames::default();
    for resource in stack.resources.values() {
        let prefix = format!("resources.{}.", resource.name);
        let properties = format!("{prefix}properties");
        // Problems of single properties; one of the resource as a whole (a missing required property) hides
        // nothing.
        let known: Vec<&str> = diags
            .iter()
            .map(|d| d.path.as_str())
            .filter(|p| p.starts_with(&prefix) && *p != properties && !p.starts_with(&format!("{prefix}options")))
            .collect();
        let repeats = |path: &str| {
            known.iter().any(|k| path == *k || path.strip_prefix(k).is_some_and(|r| r.starts_with(['.', '['])))
        };
        if let Some(schema) = registry.schema(&resource.type_name) {
            let mut own = Diagnostics::default();
            match evaluator.resource_inputs(resource, schema) {
                Ok(inputs) => names.check(resource, schema, &inputs, &mut own),
                Err(d) => own.extend(d),
            }
            for d in own.iter().filter(|d| !repeats(&d.path)) {
                found.push(d.clone());
            }
        }
    }
    for expr in stack.outputs.values() {
        let mut broken = false;
        expr.for_each_reference(&mut |r| broken |= diags.iter().any(|d| d.location == r.location));
        if !broken {
            if let Err(d) = evaluator.eval(expr) {
                found.push(d);
            }
        }
    }
    diags.extend(found);
}

/// A dependency cycle, reported at the first member's declaration.
fn check_graph(stack: &Stack, diags: &mut Diagnostics) {
    let graph = DependencyGraph::new(stack.resources.values().map(|r| (r.name.as_str(), &r.dependencies)));
    if let Err(cycle) = graph.order() {
        let first = cycle.members.first().and_then(|m| stack.resources.get(m));
        let location = first.map(|r| r.location.clone()).unwrap_or_else(|| Location::file_only(""));
        let path = first.map(|r| format!("resources.{}", r.name)).unwrap_or_default();
        diags.push(
            Diagnostic::new(location, path, cycle.to_string())
                .with_hint("break the cycle: remove a reference or a dependsOn entry"),
        );
    }
}

fn assemble(
    mut files: Vec<LoadedFile>,
    sources: Vec<SourceFile>,
    registry: &Registry,
    env: &dyn Environment,
    diags: &mut Diagnostics,
) -> Option<Stack> {
    let root_scope = files[0].scope.clone();
    let header = header::read(&mut files[0].raw, &root_scope, diags);
    let config_entries = std::mem::take(&mut files[0].raw.config);
    let default_tags_node = files[0].raw.default_tags.take();

    let parameters = merge_section(&mut files, "parameters", |f| std::mem::take(&mut f.parameters), diags);
    let variables = merge_section(&mut files, "variables", |f| std::mem::take(&mut f.variables), diags);
    let resources = merge_section(&mut files, "resources", |f| std::mem::take(&mut f.resources), diags);
    let outputs = merge_section(&mut files, "outputs", |f| std::mem::take(&mut f.outputs), diags);

    check_name_clashes(&parameters, &variables, &resources, diags);
    let config = parameters::resolve_config(&root_scope, config_entries, &parameters, env, diags);

    let variables: BTreeMap<String, (FileScope, Pos, Expr)> = variables
        .into_iter()
        .map(|(name, d)| {
            let path = format!("variables.{name}");
            let expr = to_expr(&d.scope, &d.node, &path, diags);
            (name, (d.scope, d.key.pos, expr))
        })
        .collect();
    let default_tags = default_tags_node.map(|node| {
        if !matches!(node.kind, NodeKind::Map(_)) {
            diags.push(root_scope.error(node.pos, "defaultTags", format!("expected a map, found {}", describe(&node))));
        }
        to_expr(&root_scope, &node, "defaultTags", diags)
    });
    let mut stack_resources: BTreeMap<String, Resource> = BTreeMap::new();
    for (name, declared) in resources {
        if let Some(resource) = resources::read_resource(&name, declared, registry, &config, diags) {
            stack_resources.insert(name, resource);
        }
    }
    let outputs: BTreeMap<String, Expr> = outputs
        .into_iter()
        .map(|(name, d)| {
            let path = format!("outputs.{name}");
            (name, to_expr(&d.scope, &d.node, &path, diags))
        })
        .collect();

    let names = references::Names { config: &config, variables: &variables, resources: &stack_resources, registry };
    let dependencies = references::resolve(&names, default_tags.as_ref(), &outputs, diags);
    for (name, found) in dependencies {
        if let Some(resource) = stack_resources.get_mut(&name) {
            resource.dependencies = found;
        }
    }

    Some(Stack {
        name: header.name,
        description: header.description,
        region: header.region,
        backend: header.backend,
        secrets_provider: header.secrets_provider,
        files: sources,
        config,
        variables: variables.into_iter().map(|(name, (_, _, expr))| (name, expr)).collect(),
        default_tags,
        resources: stack_resources,
        outputs,
        root: env.project_root(),
        allowed_paths: Vec::new(),
    })
}

trait HintIfNone {
    fn with_hint_if_none(self, hint: String) -> Self;
}

impl HintIfNone for Diagnostic {
    fn with_hint_if_none(self, hint: String) -> Diagnostic {
        if self.hint.is_some() {
            self
        } else {
            self.with_hint(hint)
        }
    }
}
