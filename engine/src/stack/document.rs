//! Reading one stack file: YAML nodes → the sections of a stack (still raw nodes where later checks need
//! positions), with every structural problem collected as a diagnostic. Also turns property nodes into
//! [`Expr`]s, recognising `${...}` templates and `fn::` functions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::diagnostic::{Diagnostic, Diagnostics, Location, Pos};
use crate::stack::expr::{parse_template, Call, Expr, Function, FUNCTION_NAMES};
use crate::stack::yaml::{self, Key, Node, NodeKind};

pub const ROOT_KEYS: &[&str] = &[
    "name",
    "description",
    "region",
    "backend",
    "secretsProvider",
    "allowPaths",
    "include",
    "config",
    "parameters",
    "defaultTags",
    "variables",
    "resources",
    "outputs",
];
/// What an included file may hold: it contributes declarations, never stack settings.
pub const INCLUDED_KEYS: &[&str] = &["description", "include", "parameters", "variables", "resources", "outputs"];

/// One file's sections, as written.
#[derive(Debug, Default)]
pub struct RawFile {
    pub file: Option<Arc<Path>>,
    pub name: Option<(String, Pos)>,
    pub description: Option<String>,
    pub region: Option<(String, Pos)>,
    pub backend: Option<(String, Pos)>,
    pub secrets_provider: Option<(String, Pos)>,
    pub includes: Vec<(String, Pos)>,
    /// Directories outside the project root the stack may read from (the visible opt-in).
    pub allow_paths: Vec<(String, Pos)>,
    pub config: Vec<(Key, Node)>,
    pub parameters: Vec<(Key, Node)>,
    pub default_tags: Option<Node>,
    pub variables: Vec<(Key, Node)>,
    pub resources: Vec<(Key, Node)>,
    pub outputs: Vec<(Key, Node)>,
}

/// Reports against one file.
#[derive(Clone)]
pub struct FileScope {
    pub file: Arc<Path>,
}

impl FileScope {
    pub fn new(path: &Path) -> FileScope {
        FileScope { file: Arc::from(path.to_path_buf().into_boxed_path()) }
    }

    pub fn at(&self, pos: Pos) -> Location {
        Location::new(&self.file, pos)
    }

    pub fn error(&self, pos: Pos, path: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(self.at(pos), path, message)
    }

    pub fn dir(&self) -> PathBuf {
        self.file.parent().map(Path::to_path_buf).unwrap_or_default()
    }
}

/// The largest stack file (or included file) stackr reads: real stacks are tens of kilobytes.
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Reads and parses a file; `None` (with diagnostics) when it cannot be read or is not YAML.
pub fn parse_file(path: &Path, budget: &mut yaml::Budget, diags: &mut Diagnostics) -> Option<(Node, String)> {
    let scope = FileScope::new(path);
    if let Ok(metadata) = std::fs::metadata(path) {
        if metadata.len() > MAX_FILE_BYTES {
            diags.push(
                scope
                    .error(
                        Pos::default(),
                        "",
                        format!(
                            "the file is {} MiB; stack files are limited to {} MiB",
                            metadata.len() >> 20,
                            MAX_FILE_BYTES >> 20
                        ),
                    )
                    .with_hint("split it with `include:`"),
            );
            return None;
        }
    }
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                "check the path; included files are relative to the file that includes them"
            } else {
                "check the file's permissions"
            };
            diags.push(scope.error(Pos::default(), "", format!("cannot read the file: {e}")).with_hint(hint));
            return None;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let offset = e.utf8_error().valid_up_to();
            diags.push(
                scope
                    .error(Pos::default(), "", format!("the file is not UTF-8 text (invalid byte at offset {offset})"))
                    .with_hint("stack files are YAML text"),
            );
            return None;
        }
    };
    if text.contains('\0') {
        diags.push(scope.error(Pos::default(), "", "the file contains NUL bytes; it is not YAML text"));
        return None;
    }
    match yaml::parse_within(&text, budget) {
        Ok(Some(node)) => Some((node, text)),
        Ok(None) => {
            diags.push(
                scope
                    .error(Pos::default(), "", "the file is empty")
                    .with_hint("a stack needs at least `name:` and `resources:`"),
            );
            None
        }
        Err(e) => {
            let mut d = scope.error(e.pos, "", e.message);
            if let Some(hint) = e.hint {
                d = d.with_hint(hint);
            }
            diags.push(d);
            None
        }
    }
}

/// Splits a file's top-level map into its sections.
pub fn read_file(scope: &FileScope, root: Node, included: bool, diags: &mut Diagnostics) -> RawFile {
    let mut raw = RawFile { file: Some(Arc::clone(&scope.file)), ..RawFile::default() };
    let NodeKind::Map(entries) = root.kind else {
        diags.push(scope.error(root.pos, "", format!("expected a map of stack settings, found {}", describe(&root))));
        return raw;
    };
    let allowed = if included { INCLUDED_KEYS } else { ROOT_KEYS };
    for (key, node) in entries {
        let path = key.name.clone();
        if !allowed.contains(&key.name.as_str()) {
            let mut d = if included && ROOT_KEYS.contains(&key.name.as_str()) {
                scope
                    .error(key.pos, &path, format!("`{}` belongs in the stack file, not in an included file", key.name))
                    .with_hint("included files contribute parameters, variables, resources and outputs")
            } else {
                scope.error(key.pos, &path, format!("unknown key `{}`", key.name))
            };
            if d.hint.is_none() {
                d = d.with_suggestion(&key.name, allowed.iter().copied());
            }
            diags.push(d);
            continue;
        }
        match key.name.as_str() {
            "name" => raw.name = string_of(scope, &node, &path, diags).map(|s| (s, node.pos)),
            "description" => raw.description = string_of(scope, &node, &path, diags),
            "region" => raw.region = string_of(scope, &node, &path, diags).map(|s| (s, node.pos)),
            "backend" => raw.backend = string_of(scope, &node, &path, diags).map(|s| (s, node.pos)),
            "secretsProvider" => raw.secrets_provider = string_of(scope, &node, &path, diags).map(|s| (s, node.pos)),
            "include" => match node.kind {
                NodeKind::Seq(items) => {
                    for (i, item) in items.into_iter().enumerate() {
                        let item_path = format!("include[{i}]");
                        if let Some(s) = string_of(scope, &item, &item_path, diags) {
                            raw.includes.push((s, item.pos));
                        }
                    }
                }
                NodeKind::Str(s) => raw.includes.push((s, node.pos)),
                _ => diags.push(scope.error(
                    node.pos,
                    &path,
                    format!("expected a list of file paths, found {}", describe(&node)),
                )),
            },
            "allowPaths" => match node.kind {
                NodeKind::Seq(items) => {
                    for (i, item) in items.into_iter().enumerate() {
                        if let Some(s) = string_of(scope, &item, &format!("allowPaths[{i}]"), diags) {
                            raw.allow_paths.push((s, item.pos));
                        }
                    }
                }
                _ => diags.push(scope.error(
                    node.pos,
                    &path,
                    format!("expected a list of directories, found {}", describe(&node)),
                )),
            },
            "config" => raw.config = map_entries(scope, node, &path, diags),
            "parameters" => raw.parameters = map_entries(scope, node, &path, diags),
            "defaultTags" => raw.default_tags = Some(node),
            "variables" => raw.variables = map_entries(scope, node, &path, diags),
            "resources" => raw.resources = map_entries(scope, node, &path, diags),
            "outputs" => raw.outputs = map_entries(scope, node, &path, diags),
            _ => {}
        }
    }
    raw
}

pub fn describe(node: &Node) -> String {
    match &node.kind {
        NodeKind::Str(s) if s.chars().count() <= 40 => format!("the string {s:?}"),
        NodeKind::Int(i) => format!("the integer {i}"),
        NodeKind::Bool(b) => format!("`{b}`"),
        _ => node.describe().to_string(),
    }
}

pub fn string_of(scope: &FileScope, node: &Node, path: &str, diags: &mut Diagnostics) -> Option<String> {
    match &node.kind {
        NodeKind::Str(s) => Some(s.clone()),
        _ => {
            diags.push(scope.error(node.pos, path, format!("expected a string, found {}", describe(node))));
            None
        }
    }
}

pub fn bool_of(scope: &FileScope, node: &Node, path: &str, diags: &mut Diagnostics) -> Option<bool> {
    match &node.kind {
        NodeKind::Bool(b) => Some(*b),
        _ => {
            diags.push(scope.error(node.pos, path, format!("expected true or false, found {}", describe(node))));
            None
        }
    }
}

pub fn string_list(scope: &FileScope, node: &Node, path: &str, diags: &mut Diagnostics) -> Vec<(String, Pos)> {
    match &node.kind {
        NodeKind::Seq(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| string_of(scope, item, &format!("{path}[{i}]"), diags).map(|s| (s, item.pos)))
            .collect(),
        _ => {
            diags.push(scope.error(node.pos, path, format!("expected a list of strings, found {}", describe(node))));
            Vec::new()
        }
    }
}

pub fn map_entries(scope: &FileScope, node: Node, path: &str, diags: &mut Diagnostics) -> Vec<(Key, Node)> {
    match node.kind {
        NodeKind::Map(entries) => entries,
        NodeKind::Null => Vec::new(),
        _ => {
            diags.push(scope.error(node.pos, path, format!("expected a map, found {}", describe(&node))));
            Vec::new()
        }
    }
}

/// Takes known keys out of a map, reporting unknown ones with the nearest valid name.
pub struct MapReader {
    entries: BTreeMap<String, (Key, Node)>,
}

impl MapReader {
    pub fn new(entries: Vec<(Key, Node)>) -> MapReader {
        MapReader { entries: entries.into_iter().map(|(k, v)| (k.name.clone(), (k, v))).collect() }
    }

    pub fn take(&mut self, name: &str) -> Option<Node> {
        self.entries.remove(name).map(|(_, node)| node)
    }

    pub fn finish(self, scope: &FileScope, path: &str, allowed: &[&str], diags: &mut Diagnostics) {
        for (name, (key, _)) in self.entries {
            diags.push(
                scope
                    .error(key.pos, join_path(path, &name), format!("unknown key `{name}`"))
                    .with_suggestion(&name, allowed.iter().copied()),
            );
        }
    }
}

pub fn join_path(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// Positions of every map key below a node, by document path relative to it (`ttl.enabled`, `routes[0].path`).
pub fn record_positions(node: &Node, prefix: &str, out: &mut BTreeMap<String, Pos>) {
    let mut pending: Vec<(&Node, String)> = vec![(node, prefix.to_string())];
    while let Some((node, path)) = pending.pop() {
        match &node.kind {
            NodeKind::Map(entries) => {
                for (key, value) in entries {
                    let child = join_path(&path, &key.name);
                    out.insert(child.clone(), key.pos);
                    pending.push((value, child));
                }
            }
            NodeKind::Seq(items) => {
                for (i, item) in items.iter().enumerate() {
                    let child = format!("{path}[{i}]");
                    out.insert(child.clone(), item.pos);
                    pending.push((item, child));
                }
            }
            _ => {}
        }
    }
}

/// Converts a property value into an expression. `path` is the document path of `node`.
pub fn to_expr(scope: &FileScope, node: &Node, path: &str, diags: &mut Diagnostics) -> Expr {
    // Iterative over maps and lists would be possible, but nesting is bounded by yaml::MAX_DEPTH.
    match &node.kind {
        NodeKind::Null => Expr::Null,
        NodeKind::Bool(b) => Expr::Bool(*b),
        NodeKind::Int(i) => Expr::Number((*i).into()),
        NodeKind::Float(f) => serde_json::Number::from_f64(*f).map(Expr::Number).unwrap_or(Expr::Null),
        NodeKind::Str(s) => match parse_template(s, &scope.at(node.pos), path) {
            Ok(expr) => expr,
            Err(e) => {
                let mut d = scope.error(node.pos, path, e.message);
                if let Some(hint) = e.hint {
                    d = d.with_hint(hint);
                }
                diags.push(d);
                Expr::Null
            }
        },
        NodeKind::Seq(items) => Expr::List(
            items.iter().enumerate().map(|(i, item)| to_expr(scope, item, &format!("{path}[{i}]"), diags)).collect(),
        ),
        NodeKind::Map(entries) => {
            let function_keys: Vec<&Key> =
                entries.iter().map(|(k, _)| k).filter(|k| k.name.starts_with("fn::")).collect();
            if let Some(first) = function_keys.first() {
                if entries.len() > 1 {
                    diags.push(scope.error(
                        first.pos,
                        join_path(path, &first.name),
                        format!("`{}` must be the only key of its map", first.name),
                    ));
                    return Expr::Null;
                }
                return to_call(scope, &entries[0].0, &entries[0].1, path, diags);
            }
            Expr::Map(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), to_expr(scope, v, &join_path(path, &k.name), diags)))
                    .collect(),
            )
        }
    }
}

fn to_call(scope: &FileScope, key: &Key, arg: &Node, path: &str, diags: &mut Diagnostics) -> Expr {
    let call_path = join_path(path, &key.name);
    let function = match key.name.as_str() {
        "fn::toJSON" => Function::ToJson(to_expr(scope, arg, &call_path, diags)),
        "fn::secret" => Function::Secret(to_expr(scope, arg, &call_path, diags)),
        "fn::readFile" => Function::ReadFile { path: to_expr(scope, arg, &call_path, diags), base_dir: scope.dir() },
        "fn::join" => match &arg.kind {
            NodeKind::Seq(items) if items.len() == 2 => Function::Join {
                separator: to_expr(scope, &items[0], &format!("{call_path}[0]"), diags),
                items: to_expr(scope, &items[1], &format!("{call_path}[1]"), diags),
            },
            _ => {
                diags.push(
                    scope
                        .error(arg.pos, &call_path, format!("expected [SEPARATOR, LIST], found {}", describe(arg)))
                        .with_hint("e.g. `fn::join: [\",\", [a, b]]`"),
                );
                return Expr::Null;
            }
        },
        other => {
            diags.push(
                scope
                    .error(key.pos, &call_path, format!("unknown function `{other}`"))
                    .with_suggestion(other, FUNCTION_NAMES.iter().copied()),
            );
            return Expr::Null;
        }
    };
    Expr::Call(Box::new(Call { function, location: scope.at(key.pos), doc_path: call_path }))
}
