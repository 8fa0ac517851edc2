//! Loading a stack: the root file and its includes, merged, then every name, config value and reference
//! checked. All problems are collected; the result is a [`Stack`] or every diagnostic at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::document::{
    self, bool_of, describe, join_path, map_entries, record_positions, string_list, string_of, to_expr, FileScope,
    MapReader, RawFile,
};
use super::expr::{Expr, Reference};
use super::yaml::{Key, Node, NodeKind};
use super::{
    Resource, ResourceOptions, SourceFile, Stack, BUILTINS, OPTION_KEYS, PARAMETER_KEYS, PARAMETER_TYPES, RESOURCE_KEYS,
};
use crate::diagnostic::{suggest, Diagnostic, Diagnostics, Location, Pos};
use crate::eval::{Builtins, Evaluator, NothingKnown};
use crate::graph::DependencyGraph;
use crate::provider::Registry;
use crate::value::{PathSegment, Value};

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

/// Most files one stack may include, directly or not.
const MAX_FILES: usize = 256;

struct LoadedFile {
    scope: FileScope,
    raw: RawFile,
}

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
/// values are found now rather than at plan time. Resources that already have problems are skipped: their
/// errors would only repeat.
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
        if diags.iter().any(|d| d.path.starts_with(&prefix)) {
            continue;
        }
        if let Some(schema) = registry.schema(&resource.type_name) {
            match evaluator.resource_inputs(resource, schema) {
                Ok(inputs) => names.check(resource, schema, &inputs, &mut found),
                Err(d) => found.extend(d),
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

/// Where the include walk is: the project root paths must stay in, and the include path for loop detection.
struct Walk {
    root: Option<PathBuf>,
    /// What the stack's files may still expand to, together.
    budget: super::yaml::Budget,
    /// The stack file's `allowPaths`, absolute.
    allowed: Vec<PathBuf>,
    chain: Vec<PathBuf>,
}

impl Walk {
    fn confinement(&self) -> Option<super::confine::Confinement<'_>> {
        self.root.as_deref().map(|root| super::confine::Confinement { root, allowed: &self.allowed })
    }
}

/// Depth-first over includes.
fn load_tree(
    path: &Path,
    included_from: Option<(&FileScope, Pos, &str)>,
    walk: &mut Walk,
    files: &mut Vec<LoadedFile>,
    sources: &mut Vec<SourceFile>,
    unreadable: &mut bool,
    diags: &mut Diagnostics,
) {
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let chain = &mut walk.chain;
    if let Some(start) = chain.iter().position(|p| p == &canonical) {
        if let Some((scope, pos, doc_path)) = included_from {
            let cycle: Vec<String> =
                chain[start..].iter().chain(std::iter::once(&canonical)).map(|p| p.display().to_string()).collect();
            diags.push(scope.error(pos, doc_path, format!("include loop: {}", cycle.join(" → "))));
            *unreadable = true;
        }
        return;
    }
    if sources.iter().any(|s| std::fs::canonicalize(&s.path).ok().as_ref() == Some(&canonical)) {
        // Included twice along different paths: the first inclusion already merged it.
        return;
    }
    if files.len() >= MAX_FILES {
        if let Some((scope, pos, doc_path)) = included_from {
            diags.push(scope.error(pos, doc_path, format!("more than {MAX_FILES} files included")));
        }
        return;
    }
    let before = diags.len();
    let Some((node, text)) = document::parse_file(path, &mut walk.budget, diags) else {
        *unreadable = true;
        if let (Some((scope, pos, doc_path)), true) = (included_from, diags.len() > before) {
            diags.push(scope.error(pos, doc_path, format!("included file {} could not be loaded", path.display())));
        }
        return;
    };
    let scope = FileScope::new(path);
    let raw = document::read_file(&scope, node, included_from.is_some(), diags);
    sources.push(SourceFile { path: path.to_path_buf(), sha256: hex::encode(Sha256::digest(text.as_bytes())) });
    walk.chain.push(canonical);
    if included_from.is_none() {
        if let Some(root) = walk.root.clone() {
            walk.allowed = raw
                .allow_paths
                .iter()
                .map(|(entry, _)| super::confine::allowed_dir(&root, &scope.dir(), entry))
                .collect();
        }
    }
    let includes = raw.includes.clone();
    files.push(LoadedFile { scope: scope.clone(), raw });
    for (i, (include, pos)) in includes.iter().enumerate() {
        let doc_path = format!("include[{i}]");
        let target = match super::confine::resolve(walk.confinement(), &scope.dir(), include) {
            Ok(target) => target,
            Err(message) => {
                diags.push(scope.error(*pos, &doc_path, message).with_hint(CONFINED_HINT));
                *unreadable = true;
                continue;
            }
        };
        load_tree(&target, Some((&scope, *pos, &doc_path)), walk, files, sources, unreadable, diags);
    }
    walk.chain.pop();
}

/// A declaration with the file it came from.
struct Declared {
    scope: FileScope,
    key: Key,
    node: Node,
}

fn merge_section(
    files: &mut [LoadedFile],
    section: &str,
    take: impl Fn(&mut RawFile) -> Vec<(Key, Node)>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, Declared> {
    let mut merged: BTreeMap<String, Declared> = BTreeMap::new();
    for file in files.iter_mut() {
        for (key, node) in take(&mut file.raw) {
            if let Some(first) = merged.get(&key.name) {
                diags.push(
                    file.scope
                        .error(key.pos, join_path(section, &key.name), format!("`{}` is declared twice", key.name))
                        .with_hint(format!("first declared at {}", first.scope.at(first.key.pos))),
                );
                continue;
            }
            merged.insert(key.name.clone(), Declared { scope: file.scope.clone(), key, node });
        }
    }
    merged
}

fn assemble(
    mut files: Vec<LoadedFile>,
    sources: Vec<SourceFile>,
    registry: &Registry,
    env: &dyn Environment,
    diags: &mut Diagnostics,
) -> Option<Stack> {
    let root_scope = files[0].scope.clone();
    let name = match files[0].raw.name.take() {
        Some((name, pos)) => {
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                diags.push(
                    root_scope
                        .error(pos, "name", format!("invalid stack name {name:?}"))
                        .with_hint("use letters, digits, `-` and `_`; the name keys the state"),
                );
            }
            name
        }
        None => {
            diags.push(
                root_scope
                    .error(Pos { line: 1, col: 1 }, "name", "the stack has no `name`")
                    .with_hint("add `name: my-stack` at the top; it is the key under which state is stored"),
            );
            String::new()
        }
    };
    let description = files[0].raw.description.take();
    let region = files[0].raw.region.take().map(|(r, _)| r);
    let backend = files[0].raw.backend.take();
    if let Some((url, pos)) = &backend {
        if !(url.starts_with("file://") || url.starts_with("s3://")) {
            diags.push(
                root_scope
                    .error(*pos, "backend", format!("unsupported backend {url:?}"))
                    .with_hint("use file://DIR or s3://BUCKET/PREFIX?region=R"),
            );
        }
    }
    let secrets_provider = files[0].raw.secrets_provider.take();
    if let Some((provider, pos)) = &secrets_provider {
        if provider != "passphrase" && !provider.starts_with("awskms://") {
            diags.push(
                root_scope
                    .error(*pos, "secretsProvider", format!("unknown secrets provider {provider:?}"))
                    .with_hint("use `passphrase` or `awskms://alias/NAME`"),
            );
        }
    }
    let config_entries = std::mem::take(&mut files[0].raw.config);
    let default_tags_node = files[0].raw.default_tags.take();

    let parameters = merge_section(&mut files, "parameters", |f| std::mem::take(&mut f.parameters), diags);
    let variables = merge_section(&mut files, "variables", |f| std::mem::take(&mut f.variables), diags);
    let resources = merge_section(&mut files, "resources", |f| std::mem::take(&mut f.resources), diags);
    let outputs = merge_section(&mut files, "outputs", |f| std::mem::take(&mut f.outputs), diags);

    check_name_clashes(&parameters, &variables, &resources, diags);
    let config = resolve_config(&root_scope, config_entries, &parameters, env, diags);

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
        if let Some(resource) = read_resource(&name, declared, registry, &config, diags) {
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

    let scope_names = Names { config: &config, variables: &variables, resources: &stack_resources, registry };
    let variable_dependencies = check_variables(&scope_names, diags);
    if let Some(tags) = &default_tags {
        tags.for_each_reference(&mut |r| {
            if scope_names.check_reference(r, diags) == RefTarget::Resource {
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
            scope_names.check_reference(r, diags);
        });
    }
    let mut dependencies: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for resource in stack_resources.values() {
        let mut found = BTreeSet::new();
        for expr in resource.properties.values() {
            expr.for_each_reference(&mut |r| match scope_names.check_reference(r, diags) {
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
            if stack_resources.contains_key(depends_on) && depends_on != &resource.name {
                found.insert(depends_on.clone());
            } else {
                diags.push(
                    Diagnostic::new(
                        resource.location.clone(),
                        format!("resources.{}.options.dependsOn", resource.name),
                        format!("`{depends_on}` is not a resource of this stack"),
                    )
                    .with_suggestion(depends_on, stack_resources.keys().map(String::as_str)),
                );
            }
        }
        dependencies.insert(resource.name.clone(), found);
    }
    for (name, found) in dependencies {
        if let Some(resource) = stack_resources.get_mut(&name) {
            resource.dependencies = found;
        }
    }

    Some(Stack {
        name,
        description,
        region,
        backend: backend.map(|(b, _)| b),
        secrets_provider: secrets_provider.map(|(s, _)| s),
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

fn check_name_clashes(
    parameters: &BTreeMap<String, Declared>,
    variables: &BTreeMap<String, Declared>,
    resources: &BTreeMap<String, Declared>,
    diags: &mut Diagnostics,
) {
    let sections: [(&str, &BTreeMap<String, Declared>); 3] =
        [("parameters", parameters), ("variables", variables), ("resources", resources)];
    for (i, (section, declared)) in sections.iter().enumerate() {
        for (name, d) in declared.iter() {
            if name == "stackr" {
                diags.push(d.scope.error(d.key.pos, join_path(section, name), "`stackr` is a reserved name"));
            }
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') || name.is_empty() {
                diags.push(d.scope.error(
                    d.key.pos,
                    join_path(section, name),
                    format!("invalid name {name:?}: use letters, digits, `_` and `-`"),
                ));
            }
            for (other_section, other) in sections.iter().skip(i + 1) {
                if let Some(o) = other.get(name) {
                    diags.push(
                        o.scope
                            .error(
                                o.key.pos,
                                join_path(other_section, name),
                                format!("`{name}` is already declared in {section}"),
                            )
                            .with_hint(format!(
                                "references are by name, so parameters, variables and resources need distinct names (see {})",
                                d.scope.at(d.key.pos)
                            )),
                    );
                }
            }
        }
    }
}

/// A parameter's declaration.
struct Parameter {
    ty: String,
    default: Option<Value>,
    allowed: Vec<Value>,
    secret: bool,
}

fn read_parameter(name: &str, d: &Declared, diags: &mut Diagnostics) -> Option<Parameter> {
    let path = format!("parameters.{name}");
    let entries = map_entries(&d.scope, d.node.clone(), &path, diags);
    let mut reader = MapReader::new(entries);
    let ty = match reader.take("type") {
        Some(node) => {
            let ty = string_of(&d.scope, &node, &join_path(&path, "type"), diags)?;
            if !PARAMETER_TYPES.contains(&ty.as_str()) {
                diags.push(
                    d.scope
                        .error(node.pos, join_path(&path, "type"), format!("unknown parameter type `{ty}`"))
                        .with_suggestion(&ty, PARAMETER_TYPES.iter().copied()),
                );
                return None;
            }
            ty
        }
        None => "string".to_string(),
    };
    let default = reader.take("default").map(|node| literal_value(&node));
    let allowed = match reader.take("allowed") {
        Some(Node { kind: NodeKind::Seq(items), .. }) => items.iter().map(literal_value).collect(),
        Some(node) => {
            diags.push(d.scope.error(node.pos, join_path(&path, "allowed"), "expected a list of values"));
            Vec::new()
        }
        None => Vec::new(),
    };
    if let Some(node) = reader.take("description") {
        string_of(&d.scope, &node, &join_path(&path, "description"), diags);
    }
    let secret = reader.take("secret").and_then(|n| bool_of(&d.scope, &n, &join_path(&path, "secret"), diags));
    reader.finish(&d.scope, &path, PARAMETER_KEYS, diags);
    if let Some(default) = &default {
        if let Err(message) = check_parameter_value(&ty, &allowed, default) {
            diags.push(d.scope.error(d.key.pos, join_path(&path, "default"), message));
        }
    }
    Some(Parameter { ty, default, allowed, secret: secret.unwrap_or(false) })
}

/// A node without expressions, as a value (parameter defaults, allowed lists, config).
fn literal_value(node: &Node) -> Value {
    match &node.kind {
        NodeKind::Null => Value::Null,
        NodeKind::Bool(b) => Value::Bool(*b),
        NodeKind::Int(i) => Value::from(*i),
        NodeKind::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number).unwrap_or(Value::Null),
        NodeKind::Str(s) => Value::String(s.clone()),
        NodeKind::Seq(items) => Value::List(items.iter().map(literal_value).collect()),
        NodeKind::Map(entries) => Value::Map(entries.iter().map(|(k, v)| (k.name.clone(), literal_value(v))).collect()),
    }
}

fn check_parameter_value(ty: &str, allowed: &[Value], value: &Value) -> Result<(), String> {
    let plain = match value {
        Value::Secret(inner) => inner.as_ref(),
        other => other,
    };
    let ok = match ty {
        "string" => matches!(plain, Value::String(_)),
        "integer" => plain.as_i64().is_some(),
        "number" => matches!(plain, Value::Number(_)),
        "boolean" => matches!(plain, Value::Bool(_)),
        "list" => matches!(plain, Value::List(_)),
        "map" => matches!(plain, Value::Map(_)),
        _ => false,
    };
    if !ok {
        let found = if value.has_secret() { plain.kind().to_string() } else { format!("{} ({value})", plain.kind()) };
        return Err(format!("expected a value of type {ty}, found {found}"));
    }
    if !allowed.is_empty() && !allowed.contains(plain) {
        let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
        let shown = if value.has_secret() { "the value".to_string() } else { value.to_string() };
        return Err(format!("{shown} is not one of the allowed values: {}", list.join(", ")));
    }
    Ok(())
}

fn resolve_config(
    root: &FileScope,
    entries: Vec<(Key, Node)>,
    parameters: &BTreeMap<String, Declared>,
    env: &dyn Environment,
    diags: &mut Diagnostics,
) -> BTreeMap<String, Value> {
    let declared: BTreeMap<&str, Option<Parameter>> =
        parameters.iter().map(|(name, d)| (name.as_str(), read_parameter(name, d, diags))).collect();
    let mut given: BTreeMap<String, (Pos, Value)> = BTreeMap::new();
    for (key, node) in entries {
        let path = format!("config.{}", key.name);
        if !declared.contains_key(key.name.as_str()) {
            diags.push(
                root.error(key.pos, &path, format!("`{}` is not a declared parameter", key.name))
                    .with_suggestion(&key.name, declared.keys().copied())
                    .with_hint_if_none(format!("declare it under `parameters:` ({} known)", declared.len())),
            );
            continue;
        }
        let value = match &node.kind {
            NodeKind::Map(entries) if entries.iter().any(|(k, _)| k.name == "fromEnv") => {
                let mut reader = MapReader::new(entries.clone());
                let var_node = reader.take("fromEnv");
                let secret = reader.take("secret").and_then(|n| bool_of(root, &n, &join_path(&path, "secret"), diags));
                reader.finish(root, &path, &["fromEnv", "secret"], diags);
                let Some(var) = var_node.and_then(|n| string_of(root, &n, &join_path(&path, "fromEnv"), diags)) else {
                    continue;
                };
                if super::credentials::is_credential(&var) {
                    diags.push(
                        root.error(node.pos, join_path(&path, "fromEnv"), format!("a stack may not read {var}"))
                            .with_hint(
                                "it holds credentials stackr or AWS act with; pass the value in another variable",
                            ),
                    );
                    continue;
                }
                match env.var(&var) {
                    Some(text) => {
                        let ty = declared.get(key.name.as_str()).and_then(|p| p.as_ref()).map(|p| p.ty.as_str());
                        let value = typed_env_value(ty.unwrap_or("string"), text);
                        if secret.unwrap_or(false) {
                            value.into_secret()
                        } else {
                            value
                        }
                    }
                    None => {
                        diags.push(
                            root.error(node.pos, &path, format!("environment variable {var} is not set"))
                                .with_hint(format!("export {var}=... before running stackr")),
                        );
                        continue;
                    }
                }
            }
            _ => literal_value(&node),
        };
        given.insert(key.name.clone(), (node.pos, value));
    }
    let mut config = BTreeMap::new();
    for (name, parameter) in declared {
        let Some(parameter) = parameter else { continue };
        let decl = &parameters[name];
        let value = match given.remove(name) {
            Some((pos, value)) => {
                if let Err(message) = check_parameter_value(&parameter.ty, &parameter.allowed, &value) {
                    diags.push(root.error(pos, format!("config.{name}"), message));
                    continue;
                }
                value
            }
            None => match &parameter.default {
                Some(default) => default.clone(),
                None => {
                    diags.push(
                        decl.scope
                            .error(
                                decl.key.pos,
                                format!("parameters.{name}"),
                                format!("no value for parameter `{name}`"),
                            )
                            .with_hint(format!("set `config: {{{name}: ...}}` in the stack file or give it a default")),
                    );
                    continue;
                }
            },
        };
        let value = if parameter.secret { value.into_secret() } else { value };
        config.insert(name.to_string(), value);
    }
    config
}

fn typed_env_value(ty: &str, text: String) -> Value {
    match ty {
        "integer" => text.trim().parse::<i64>().map(Value::from).unwrap_or(Value::String(text)),
        "number" => text
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or(Value::String(text)),
        "boolean" => match text.trim() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::String(text),
        },
        _ => Value::String(text),
    }
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

fn read_resource(
    name: &str,
    d: Declared,
    registry: &Registry,
    config: &BTreeMap<String, Value>,
    diags: &mut Diagnostics,
) -> Option<Resource> {
    let path = format!("resources.{name}");
    let location = d.scope.at(d.key.pos);
    let entries = match d.node.kind {
        NodeKind::Map(entries) => entries,
        _ => {
            diags.push(d.scope.error(
                d.node.pos,
                &path,
                format!("expected a map with `type` and `properties`, found {}", describe(&d.node)),
            ));
            return None;
        }
    };
    let mut reader = MapReader::new(entries);
    let type_node = reader.take("type");
    let properties_node = reader.take("properties");
    let options_node = reader.take("options");
    reader.finish(&d.scope, &path, RESOURCE_KEYS, diags);

    let Some(type_node) = type_node else {
        diags.push(
            d.scope.error(d.key.pos, &path, "the resource has no `type`").with_hint("e.g. `type: aws:dynamodb:Table`"),
        );
        return None;
    };
    let type_name = string_of(&d.scope, &type_node, &join_path(&path, "type"), diags)?;
    let Some(schema) = registry.schema(&type_name) else {
        diags.push(
            d.scope
                .error(type_node.pos, join_path(&path, "type"), format!("unknown resource type `{type_name}`"))
                .with_suggestion(&type_name, registry.type_names()),
        );
        return None;
    };

    let properties_path = join_path(&path, "properties");
    let mut positions = BTreeMap::new();
    let mut properties = BTreeMap::new();
    if let Some(node) = properties_node {
        record_positions(&node, "", &mut positions);
        for (key, value) in map_entries(&d.scope, node, &properties_path, diags) {
            let property_path = join_path(&properties_path, &key.name);
            if schema.find_property(&key.name).is_none() {
                diags.push(
                    d.scope
                        .error(key.pos, &property_path, format!("`{}` is not a property of {type_name}", key.name))
                        .with_suggestion(&key.name, schema.properties.iter().map(|p| p.name)),
                );
                continue;
            }
            properties.insert(key.name.clone(), to_expr(&d.scope, &value, &property_path, diags));
        }
    }
    for property in schema.properties.iter().filter(|p| p.required) {
        if !properties.contains_key(property.name) {
            diags.push(
                d.scope
                    .error(d.key.pos, &properties_path, format!("missing required property `{}`", property.name))
                    .with_hint(format!("{type_name} needs `{}` ({})", property.name, property.ty.describe())),
            );
        }
    }

    let options =
        options_node.map(|node| read_options(&d.scope, &path, node, schema, config, diags)).unwrap_or_default();
    Some(Resource {
        name: name.to_string(),
        type_name,
        properties,
        options,
        dependencies: BTreeSet::new(),
        location,
        positions,
    })
}

fn read_options(
    scope: &FileScope,
    resource_path: &str,
    node: Node,
    schema: &crate::schema::ResourceSchema,
    config: &BTreeMap<String, Value>,
    diags: &mut Diagnostics,
) -> ResourceOptions {
    let path = join_path(resource_path, "options");
    let mut reader = MapReader::new(map_entries(scope, node, &path, diags));
    let mut options = ResourceOptions::default();
    // A flag is `true`/`false`, or `${parameter}` naming a boolean parameter (so environments can differ).
    let flag = |reader: &mut MapReader, key: &str, diags: &mut Diagnostics| {
        let node = reader.take(key)?;
        let key_path = join_path(&path, key);
        if let NodeKind::Str(text) = &node.kind {
            if let Some(name) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}')).map(str::trim) {
                return match config.get(name).and_then(Value::as_bool) {
                    Some(b) => Some(b),
                    None => {
                        diags.push(
                            scope
                                .error(node.pos, key_path, format!("`{name}` is not a boolean parameter"))
                                .with_suggestion(name, config.keys().map(String::as_str))
                                .with_hint_if_none("options may refer to boolean parameters only".into()),
                        );
                        None
                    }
                };
            }
        }
        bool_of(scope, &node, &key_path, diags)
    };
    let flag = |reader: &mut MapReader, key: &str, diags: &mut Diagnostics| flag(reader, key, diags).unwrap_or(false);
    options.protect = flag(&mut reader, "protect", diags);
    options.retain_on_delete = flag(&mut reader, "retainOnDelete", diags);
    options.delete_before_replace = flag(&mut reader, "deleteBeforeReplace", diags);
    if let Some(n) = reader.take("dependsOn") {
        options.depends_on =
            string_list(scope, &n, &join_path(&path, "dependsOn"), diags).into_iter().map(|(s, _)| s).collect();
    }
    if let Some(n) = reader.take("ignoreChanges") {
        let ignore_path = join_path(&path, "ignoreChanges");
        for (i, (entry, pos)) in string_list(scope, &n, &ignore_path, diags).into_iter().enumerate() {
            let first = entry.split(['.', '[']).next().unwrap_or_default();
            if schema.find_property(first).is_none() {
                diags.push(
                    scope
                        .error(
                            pos,
                            format!("{ignore_path}[{i}]"),
                            format!("`{first}` is not a property of {}", schema.type_name),
                        )
                        .with_suggestion(first, schema.properties.iter().map(|p| p.name)),
                );
            }
            options.ignore_changes.push(entry);
        }
    }
    reader.finish(scope, &path, OPTION_KEYS, diags);
    options
}

/// What a reference's root names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RefTarget {
    Builtin,
    Config,
    Variable,
    Resource,
    Invalid,
}

struct Names<'a> {
    config: &'a BTreeMap<String, Value>,
    variables: &'a BTreeMap<String, (FileScope, Pos, Expr)>,
    resources: &'a BTreeMap<String, Resource>,
    registry: &'a Registry,
}

impl Names<'_> {
    fn check_reference(&self, r: &Reference, diags: &mut Diagnostics) -> RefTarget {
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
fn check_variables(names: &Names<'_>, diags: &mut Diagnostics) -> BTreeMap<String, BTreeSet<String>> {
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
