//! Parameters and config: each parameter's declaration (type, default, allowed values, secret) and the config
//! that gives it a value, literal or `{fromEnv: NAME}`.

use std::collections::BTreeMap;

use super::files::Declared;
use super::{Environment, HintIfNone};
use crate::diagnostic::{Diagnostics, Pos};
use crate::stack::document::{bool_of, join_path, map_entries, string_of, FileScope, MapReader};
use crate::stack::yaml::{Key, Node, NodeKind};
use crate::stack::PARAMETER_KEYS;
use crate::value::Value;

/// A parameter's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ParamType {
    String,
    Integer,
    Number,
    Boolean,
    List,
    Map,
}

impl ParamType {
    const ALL: [ParamType; 6] =
        [ParamType::String, ParamType::Integer, ParamType::Number, ParamType::Boolean, ParamType::List, ParamType::Map];

    fn name(self) -> &'static str {
        match self {
            ParamType::String => "string",
            ParamType::Integer => "integer",
            ParamType::Number => "number",
            ParamType::Boolean => "boolean",
            ParamType::List => "list",
            ParamType::Map => "map",
        }
    }

    fn parse(name: &str) -> Option<ParamType> {
        ParamType::ALL.into_iter().find(|t| t.name() == name)
    }

    fn admits(self, value: &Value) -> bool {
        match self {
            ParamType::String => matches!(value, Value::String(_)),
            ParamType::Integer => value.as_i64().is_some(),
            ParamType::Number => matches!(value, Value::Number(_)),
            ParamType::Boolean => matches!(value, Value::Bool(_)),
            ParamType::List => matches!(value, Value::List(_)),
            ParamType::Map => matches!(value, Value::Map(_)),
        }
    }

    /// An environment variable's text as a value of this type (left text when it does not parse, so the type
    /// check names it).
    fn parse_env(self, text: String) -> Value {
        match self {
            ParamType::Integer => text.trim().parse::<i64>().map(Value::from).unwrap_or(Value::String(text)),
            ParamType::Number => text
                .trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or(Value::String(text)),
            ParamType::Boolean => match text.trim() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                _ => Value::String(text),
            },
            _ => Value::String(text),
        }
    }
}

/// A parameter's declaration.
struct Parameter {
    ty: ParamType,
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
            let name = string_of(&d.scope, &node, &join_path(&path, "type"), diags)?;
            let Some(ty) = ParamType::parse(&name) else {
                diags.push(
                    d.scope
                        .error(node.pos, join_path(&path, "type"), format!("unknown parameter type `{name}`"))
                        .with_suggestion(&name, ParamType::ALL.iter().map(|t| t.name())),
                );
                return None;
            };
            ty
        }
        None => ParamType::String,
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
        if let Err(message) = check_parameter_value(ty, &allowed, default) {
            diags.push(d.scope.error(d.key.pos, join_path(&path, "default"), message));
        }
    }
    Some(Parameter { ty, default, allowed, secret: secret.unwrap_or(false) })
}

/// A node without expressions, as a value (parameter defaults, allowed lists, config).
pub(super) fn literal_value(node: &Node) -> Value {
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

fn check_parameter_value(ty: ParamType, allowed: &[Value], value: &Value) -> Result<(), String> {
    let plain = match value {
        Value::Secret(inner) => inner.as_ref(),
        other => other,
    };
    if !ty.admits(plain) {
        let found = if value.has_secret() { plain.kind().to_string() } else { format!("{} ({value})", plain.kind()) };
        return Err(format!("expected a value of type {}, found {found}", ty.name()));
    }
    if !allowed.is_empty() && !allowed.contains(plain) {
        let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
        let shown = if value.has_secret() { "the value".to_string() } else { value.to_string() };
        return Err(format!("{shown} is not one of the allowed values: {}", list.join(", ")));
    }
    Ok(())
}

pub(super) fn resolve_config(
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
                if crate::stack::credentials::is_credential(&var) {
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
                        let ty = declared.get(key.name.as_str()).and_then(|p| p.as_ref()).map(|p| p.ty);
                        let value = ty.unwrap_or(ParamType::String).parse_env(text);
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
                if let Err(message) = check_parameter_value(parameter.ty, &parameter.allowed, &value) {
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
