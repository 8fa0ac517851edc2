//! Values only apply will know, and how apply computes them.
//!
//! Planning evaluates every expression as far as it can. Where a part depends on an output that does not exist
//! yet (a new function's ARN), the result is [`Value::Unknown`] holding a [`Pending`]: the rest of the
//! expression, with everything planning knew filled in and the missing outputs left as references. The saved
//! plan carries it; apply computes it ([`Value::resolve`]) from the outputs of the steps it waited for, with
//! the same operations ([`select`], [`text`], [`join`], [`to_json`]) the evaluator used, so a value means the
//! same whether it was known when planning or only when applying.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use super::{format_path, PathSegment, Value};

/// The key under which an unknown value is written in JSON: `{"@unknown": {"output": "fn", "attribute": "arn"}}`.
pub const UNKNOWN_KEY: &str = "@unknown";

/// The longest text one template or `fn::join` may build.
pub const MAX_VALUE_BYTES: usize = 4 * 1024 * 1024;

/// The rest of an expression, to compute once the outputs it names exist.
#[derive(Debug, Clone, PartialEq)]
pub enum Pending {
    /// `${resource.attribute}` of a resource apply has not reached yet.
    Output { resource: String, attribute: String },
    /// `${stackr.NAME}` that planning did not know (the account id, planned without asking STS).
    Builtin(String),
    /// A part of a value known later: `${x.items[0].name}` where `x` is.
    Select { from: Value, path: Vec<PathSegment> },
    /// A template: its parts interpolated into one string.
    Text(Vec<Value>),
    /// `fn::join: [SEPARATOR, ITEMS]`.
    Join { separator: Value, items: Value },
    /// `fn::toJSON: VALUE`.
    ToJson(Value),
}

/// Why an operation on values failed: the message, and a hint when there is a likely fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpError {
    pub message: String,
    pub hint: Option<String>,
}

impl OpError {
    fn new(message: impl Into<String>) -> OpError {
        OpError { message: message.into(), hint: None }
    }

    /// The error of a path into an output that apply computed, naming the reference: `${fn.layers[3]}: …`.
    fn within(self, from: &Value, path: &[PathSegment]) -> OpError {
        let Value::Unknown(pending) = from else { return self };
        let Pending::Output { resource, attribute } = pending.as_ref() else { return self };
        let rest = crate::value::format_path(path);
        let dot = if rest.starts_with('[') || rest.is_empty() { "" } else { "." };
        OpError { message: format!("`${{{resource}.{attribute}{dot}{rest}}}`: {}", self.message), hint: self.hint }
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// What apply knows when it computes a pending value.
pub trait Known {
    /// An attribute of a resource (its outputs, then its inputs, `id`); `None` while it does not exist.
    fn output(&self, resource: &str, attribute: &str) -> Option<Value>;
    /// A `${stackr.*}` value.
    fn builtin(&self, name: &str) -> Option<Value>;
}

impl Pending {
    /// An unknown value standing for `self`.
    pub fn value(self) -> Value {
        Value::Unknown(Box::new(self))
    }

    /// The values it is computed from.
    pub fn parts(&self) -> impl Iterator<Item = &Value> {
        let parts: Vec<&Value> = match self {
            Pending::Output { .. } | Pending::Builtin(_) => Vec::new(),
            Pending::Select { from, .. } | Pending::ToJson(from) => vec![from],
            Pending::Text(parts) => parts.iter().collect(),
            Pending::Join { separator, items } => vec![separator, items],
        };
        parts.into_iter()
    }

    /// The outputs it waits for, as `resource.attribute`.
    pub fn waits_for(&self, out: &mut Vec<String>) {
        match self {
            Pending::Output { resource, attribute } => out.push(format!("{resource}.{attribute}")),
            Pending::Builtin(name) => out.push(format!("stackr.{name}")),
            other => other.parts().for_each(|p| p.waits_for(out)),
        }
    }

    fn resolve(&self, known: &dyn Known) -> Result<Value, OpError> {
        match self {
            Pending::Output { resource, attribute } => known.output(resource, attribute).ok_or_else(|| {
                OpError::new(format!("`${{{resource}.{attribute}}}` is still unknown after `{resource}` was applied"))
            }),
            Pending::Builtin(name) => known
                .builtin(name)
                .ok_or_else(|| OpError::new(format!("`${{stackr.{name}}}` is not known when applying"))),
            Pending::Select { from, path } => select(from.resolve(known)?, path).map_err(|e| e.within(from, path)),
            Pending::Text(parts) => text(parts.iter().map(|p| p.resolve(known)).collect::<Result<_, _>>()?),
            Pending::Join { separator, items } => join(separator.resolve(known)?, items.resolve(known)?),
            Pending::ToJson(inner) => to_json(inner.resolve(known)?),
        }
    }

    /// The JSON form (inside `{"@unknown": …}`), each value in it encoded by `encode`.
    pub(super) fn encode(&self, encode: &dyn Fn(&Value) -> Json) -> Json {
        match self {
            Pending::Output { resource, attribute } => json!({ "output": resource, "attribute": attribute }),
            Pending::Builtin(name) => json!({ "builtin": name }),
            Pending::Select { from, path } => json!({ "select": encode(from), "path": encode_path(path) }),
            Pending::Text(parts) => json!({ "text": parts.iter().map(encode).collect::<Vec<_>>() }),
            Pending::Join { separator, items } => json!({ "join": [encode(separator), encode(items)] }),
            Pending::ToJson(inner) => json!({ "toJSON": encode(inner) }),
        }
    }

    /// The inverse of [`Pending::encode`] with [`Value::to_json`]; `None` when `json` is not one.
    pub(super) fn decode(json: &Json) -> Option<Pending> {
        let map = json.as_object()?;
        let text = |key: &str| map.get(key).and_then(Json::as_str).map(str::to_string);
        let pending = if let (Some(resource), Some(attribute)) = (text("output"), text("attribute")) {
            Pending::Output { resource, attribute }
        } else if let Some(name) = text("builtin") {
            Pending::Builtin(name)
        } else if let (Some(from), Some(path)) = (map.get("select"), map.get("path")) {
            Pending::Select { from: Value::from_json(from), path: decode_path(path)? }
        } else if let Some(Json::Array(parts)) = map.get("text") {
            Pending::Text(parts.iter().map(Value::from_json).collect())
        } else if let Some(Json::Array(pair)) = map.get("join") {
            match pair.as_slice() {
                [separator, items] => {
                    Pending::Join { separator: Value::from_json(separator), items: Value::from_json(items) }
                }
                _ => return None,
            }
        } else if let Some(inner) = map.get("toJSON") {
            Pending::ToJson(Value::from_json(inner))
        } else {
            return None;
        };
        Some(pending)
    }
}

fn encode_path(path: &[PathSegment]) -> Json {
    Json::Array(
        path.iter()
            .map(|s| match s {
                PathSegment::Key(k) => Json::String(k.clone()),
                PathSegment::Index(i) => Json::from(*i),
            })
            .collect(),
    )
}

fn decode_path(json: &Json) -> Option<Vec<PathSegment>> {
    json.as_array()?
        .iter()
        .map(|s| match s {
            Json::String(k) => Some(PathSegment::Key(k.clone())),
            Json::Number(n) => n.as_u64().and_then(|i| usize::try_from(i).ok()).map(PathSegment::Index),
            _ => None,
        })
        .collect()
}

impl Value {
    /// Every pending part computed from what `known` holds: the value apply sends. Fails when something is
    /// still unknown, or a computed value does not fit where it goes (a path into it that is not there).
    pub fn resolve(&self, known: &dyn Known) -> Result<Value, OpError> {
        match self {
            Value::Unknown(pending) => pending.resolve(known),
            Value::Secret(inner) => Ok(inner.resolve(known)?.into_secret()),
            Value::List(items) => items.iter().map(|v| v.resolve(known)).collect::<Result<_, _>>().map(Value::List),
            Value::Map(map) => map
                .iter()
                .map(|(k, v)| v.resolve(known).map(|v| (k.clone(), v)))
                .collect::<Result<_, _>>()
                .map(Value::Map),
            other => Ok(other.clone()),
        }
    }

    /// The outputs the value waits for, as `resource.attribute`.
    pub fn waits_for(&self, out: &mut Vec<String>) {
        match self {
            Value::Unknown(pending) => pending.waits_for(out),
            Value::Secret(inner) => inner.waits_for(out),
            Value::List(items) => items.iter().for_each(|v| v.waits_for(out)),
            Value::Map(map) => map.values().for_each(|v| v.waits_for(out)),
            _ => {}
        }
    }
}

/// `${x.path}`: the part of `base` at `path`. Secret when `base` is; pending from the first unknown part on.
pub fn select(base: Value, path: &[PathSegment]) -> Result<Value, OpError> {
    let secret = base.has_secret();
    let mark = |v: Value| if secret { v.into_secret() } else { v };
    let mut current = &base;
    for (i, segment) in path.iter().enumerate() {
        if let Value::Secret(inner) = current {
            current = inner;
        }
        if let Value::Unknown(_) = current {
            return Ok(mark(Pending::Select { from: current.clone(), path: path[i..].to_vec() }.value()));
        }
        current = match (current, segment) {
            (Value::Map(map), PathSegment::Key(k)) => match map.get(k) {
                Some(v) => v,
                None => {
                    let hint = crate::diagnostic::suggest(k, map.keys().map(String::as_str))
                        .map(|best| format!("did you mean `{best}`?"));
                    return Err(OpError { message: format!("there is no `{k}` here"), hint });
                }
            },
            (Value::List(items), PathSegment::Index(n)) => match items.get(*n) {
                Some(v) => v,
                None => {
                    return Err(OpError::new(format!("index {n} is out of range (the list has {} items)", items.len())))
                }
            },
            (other, _) => {
                let done = format_path(&path[..i]);
                let at = if done.is_empty() { String::new() } else { format!(" (at `{done}`)") };
                return Err(OpError::new(format!("cannot look inside {}{at}", other.kind())));
            }
        };
    }
    Ok(mark(current.clone()))
}

/// A template's parts interpolated into one string; secret when any part is.
pub fn text(parts: Vec<Value>) -> Result<Value, OpError> {
    if parts.iter().any(Value::has_unknown) {
        return Ok(Pending::Text(parts).value());
    }
    let mut out = String::new();
    for part in &parts {
        let piece = part.interpolate().unwrap_or_default();
        grows(out.len() + piece.len())?;
        out.push_str(&piece);
    }
    Ok(secret_if(parts.iter().any(Value::has_secret), Value::String(out)))
}

/// `fn::join`: the items' text between separators; secret when the separator or any item is.
pub fn join(separator: Value, items: Value) -> Result<Value, OpError> {
    if separator.has_unknown() || items.has_unknown() {
        return Ok(Pending::Join { separator, items }.value());
    }
    let Some(separator_text) = separator.as_str() else {
        return Err(OpError::new(format!("fn::join: the separator must be a string, found {}", separator.kind())));
    };
    let list = match &items {
        Value::List(list) => list,
        Value::Secret(inner) => match inner.as_ref() {
            Value::List(list) => list,
            other => return Err(OpError::new(format!("fn::join: expected a list, found {}", other.kind()))),
        },
        other => return Err(OpError::new(format!("fn::join: expected a list, found {}", other.kind()))),
    };
    let mut parts = Vec::with_capacity(list.len());
    for item in list {
        match item {
            Value::List(_) | Value::Map(_) => {
                return Err(OpError::new(format!("fn::join: items must be text, found {}", item.kind())))
            }
            _ => parts.push(item.interpolate().unwrap_or_default()),
        }
    }
    grows(parts.iter().map(String::len).sum::<usize>() + separator_text.len() * parts.len().saturating_sub(1))?;
    let secret = separator.has_secret() || items.has_secret();
    Ok(secret_if(secret, Value::String(parts.join(separator_text))))
}

/// `fn::toJSON`: the value as compact JSON text; secret when any part is.
pub fn to_json(value: Value) -> Result<Value, OpError> {
    if value.has_unknown() {
        return Ok(Pending::ToJson(value).value());
    }
    let text = serde_json::to_string(&value.reveal().to_json()).map_err(|e| OpError::new(e.to_string()))?;
    Ok(secret_if(value.has_secret(), Value::String(text)))
}

fn secret_if(secret: bool, value: Value) -> Value {
    if secret {
        value.into_secret()
    } else {
        value
    }
}

fn grows(length: usize) -> Result<(), OpError> {
    if length > MAX_VALUE_BYTES {
        return Err(OpError::new(format!(
            "the value grows past {} MiB, the most a value may hold",
            MAX_VALUE_BYTES >> 20
        )));
    }
    Ok(())
}

/// What apply looks values up in, for tests and callers that hold outputs in a map.
impl Known for BTreeMap<String, Value> {
    fn output(&self, resource: &str, attribute: &str) -> Option<Value> {
        self.get(resource).and_then(|v| v.as_map()).and_then(|m| m.get(attribute)).cloned()
    }
    fn builtin(&self, _: &str) -> Option<Value> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(resource: &str, attribute: &str) -> Value {
        Pending::Output { resource: resource.into(), attribute: attribute.into() }.value()
    }

    fn known() -> BTreeMap<String, Value> {
        BTreeMap::from([(
            "fn".to_string(),
            Value::from_json(&json!({"arn": "arn:aws:lambda:f", "layers": [{"name": "a"}]})),
        )])
    }

    #[test]
    fn a_pending_value_round_trips_through_json_and_resolves_as_planning_would_have() -> Result<(), OpError> {
        let value = text(vec![Value::string("uri/"), output("fn", "arn"), Value::string("/invocations")])?;
        let json = value.to_json();
        assert_eq!(
            json,
            json!({"@unknown": {"text": ["uri/", {"@unknown": {"output": "fn", "attribute": "arn"}}, "/invocations"]}})
        );
        let back = Value::from_json(&json);
        assert_eq!(back, value);
        assert_eq!(back.resolve(&known())?, Value::string("uri/arn:aws:lambda:f/invocations"));
        Ok(())
    }

    #[test]
    fn select_join_and_to_json_wait_and_then_compute() -> Result<(), OpError> {
        let name = select(output("fn", "layers"), &[PathSegment::Index(0), PathSegment::Key("name".into())])?;
        let joined = join(Value::string(","), Value::List(vec![name.clone(), Value::string("b")]))?;
        let document = to_json(Value::Map(BTreeMap::from([("n".to_string(), name)])))?;
        let mut waits = Vec::new();
        joined.waits_for(&mut waits);
        assert_eq!(waits, ["fn.layers"]);
        assert_eq!(Value::from_json(&joined.to_json()), joined);
        assert_eq!(joined.resolve(&known())?, Value::string("a,b"));
        assert_eq!(document.resolve(&known())?, Value::string(r#"{"n":"a"}"#));
        Ok(())
    }

    #[test]
    fn a_secret_pending_value_stays_secret_once_known() -> Result<(), OpError> {
        let value = output("fn", "arn").into_secret();
        assert!(value.has_secret() && value.has_unknown());
        assert_eq!(value.resolve(&known())?, Value::string("arn:aws:lambda:f").into_secret());
        Ok(())
    }

    #[test]
    fn what_is_still_unknown_or_not_there_is_an_error() {
        let missing = output("other", "arn").resolve(&known()).err().map(|e| e.message);
        assert_eq!(missing.as_deref(), Some("`${other.arn}` is still unknown after `other` was applied"));
        let absent = select(output("fn", "layers"), &[PathSegment::Index(3)])
            .and_then(|v| v.resolve(&known()))
            .err()
            .map(|e| e.message);
        assert_eq!(absent.as_deref(), Some("`${fn.layers[3]}`: index 3 is out of range (the list has 1 items)"));
        let key = select(output("fn", "layers"), &[PathSegment::Index(0), PathSegment::Key("nmae".into())])
            .and_then(|v| v.resolve(&known()))
            .err();
        let (message, hint) = key.map(|e| (e.message, e.hint)).unwrap_or_default();
        assert_eq!(message, "`${fn.layers[0].nmae}`: there is no `nmae` here");
        assert_eq!(hint.as_deref(), Some("did you mean `name`?"));
    }
}
