//! The engine's value: JSON plus two markers the planner needs, `Secret` (never printed) and `Unknown`
//! (what only apply will know, and how it computes it: [`pending`]). Maps are `BTreeMap`s so every iteration
//! order is deterministic.

pub mod pending;
mod shown;

pub use pending::{Known, OpError, Pending, UNKNOWN_KEY};

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Number;

/// The JSON key under which a secret value is wrapped when values cross into plain JSON (state, provider calls).
pub const SECRET_KEY: &str = "@secret";

/// What `(known after apply)` stands for.
pub const UNKNOWN_TEXT: &str = "(known after apply)";
/// What every secret value prints as.
pub const SECRET_TEXT: &str = "(secret)";

#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
    /// A value that must never be shown; compared by its content.
    Secret(Box<Value>),
    /// Not known until apply (an output of a resource that does not exist yet), and how apply computes it.
    Unknown(Box<Pending>),
}

impl Value {
    pub fn string(s: impl Into<String>) -> Value {
        Value::String(s.into())
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "null",
            Value::Bool(_) => "a boolean",
            Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::List(_) => "a list",
            Value::Map(_) => "a map",
            Value::Secret(inner) => inner.kind(),
            Value::Unknown(_) => "an unknown value",
        }
    }

    /// True when any part of the value is unknown.
    pub fn has_unknown(&self) -> bool {
        match self {
            Value::Unknown(_) => true,
            Value::List(items) => items.iter().any(Value::has_unknown),
            Value::Map(map) => map.values().any(Value::has_unknown),
            Value::Secret(inner) => inner.has_unknown(),
            _ => false,
        }
    }

    /// True when any part of the value is secret.
    pub fn has_secret(&self) -> bool {
        match self {
            Value::Secret(_) => true,
            Value::Unknown(pending) => pending.parts().any(Value::has_secret),
            Value::List(items) => items.iter().any(Value::has_secret),
            Value::Map(map) => map.values().any(Value::has_secret),
            _ => false,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            Value::Secret(inner) => inner.as_str(),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Secret(inner) => inner.as_bool(),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Number(n) => n.as_i64(),
            Value::Secret(inner) => inner.as_i64(),
            _ => None,
        }
    }

    pub fn as_map(&self) -> Option<&BTreeMap<String, Value>> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// Wraps the value as secret (idempotent). A pending value stays secret once apply knows it.
    pub fn into_secret(self) -> Value {
        match self {
            Value::Secret(_) => self,
            other => Value::Secret(Box::new(other)),
        }
    }

    /// The value with every secret marker removed: what a provider sends to AWS.
    /// The text of every scalar inside a secret (to keep it out of messages that may quote it).
    pub fn secret_texts(&self) -> Vec<String> {
        fn walk(value: &Value, inside: bool, out: &mut Vec<String>) {
            match value {
                Value::Secret(inner) => walk(inner, true, out),
                Value::Map(map) => map.values().for_each(|v| walk(v, inside, out)),
                Value::List(items) => items.iter().for_each(|v| walk(v, inside, out)),
                Value::String(s) if inside && !s.is_empty() => out.push(s.clone()),
                other if inside => match other.to_json() {
                    serde_json::Value::Null => {}
                    json => out.push(json.to_string()),
                },
                _ => {}
            }
        }
        let mut out = Vec::new();
        walk(self, false, &mut out);
        out
    }

    pub fn reveal(&self) -> Value {
        match self {
            Value::Secret(inner) => inner.reveal(),
            Value::List(items) => Value::List(items.iter().map(Value::reveal).collect()),
            Value::Map(map) => Value::Map(map.iter().map(|(k, v)| (k.clone(), v.reveal())).collect()),
            other => other.clone(),
        }
    }

    /// Follows a path of map keys and list indexes.
    pub fn get_path(&self, path: &[PathSegment]) -> Option<&Value> {
        let mut current = self;
        for segment in path {
            current = match (current, segment) {
                (Value::Secret(inner), _) => return inner.get_path(std::slice::from_ref(segment)),
                (Value::Map(map), PathSegment::Key(key)) => map.get(key)?,
                (Value::List(items), PathSegment::Index(i)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// JSON with secrets kept as `{"@secret": …}` and unknowns as `{"@unknown": …}`: the form stored in state
    /// (where nothing is unknown any more) and in saved plans.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Unknown(pending) => {
                serde_json::json!({ UNKNOWN_KEY: pending.encode(&Value::to_json) })
            }
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Number(n) => serde_json::Value::Number(n.clone()),
            Value::String(s) => serde_json::Value::String(s.clone()),
            Value::List(items) => serde_json::Value::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(map) => serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect()),
            Value::Secret(inner) => {
                let mut wrapper = serde_json::Map::new();
                wrapper.insert(SECRET_KEY.to_string(), inner.to_json());
                serde_json::Value::Object(wrapper)
            }
        }
    }

    /// JSON fit to print (`--format json`): secrets become `(secret)`; unknowns stay typed, `{"@unknown": …}`,
    /// with what they wait for (redacted too).
    pub fn to_redacted_json(&self) -> serde_json::Value {
        match self {
            Value::Unknown(pending) => serde_json::json!({ UNKNOWN_KEY: pending.encode(&Value::to_redacted_json) }),
            Value::Secret(_) => serde_json::Value::String(SECRET_TEXT.to_string()),
            Value::List(items) => serde_json::Value::Array(items.iter().map(Value::to_redacted_json).collect()),
            Value::Map(map) => {
                serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), v.to_redacted_json())).collect())
            }
            other => other.to_json(),
        }
    }

    /// The inverse of [`Value::to_json`]: `{"@secret": …}` becomes a secret again.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => Value::Number(n.clone()),
            serde_json::Value::String(s) => Value::String(s.clone()),
            serde_json::Value::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(map) => {
                if map.len() == 1 {
                    if let Some(inner) = map.get(SECRET_KEY) {
                        return Value::Secret(Box::new(Value::from_json(inner)));
                    }
                    if let Some(pending) = map.get(UNKNOWN_KEY).and_then(Pending::decode) {
                        return pending.value();
                    }
                }
                Value::Map(map.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect())
            }
        }
    }

    /// The value with every part marked secret that is secret in `like` at the same place: what AWS reports
    /// back of a secret input (a tag, a description, a policy built from a secret) is no less secret.
    pub fn marked_like(self, like: &Value) -> Value {
        match (self, like) {
            (value @ Value::Secret(_), _) => value,
            (value, Value::Secret(_)) => value.into_secret(),
            (Value::Map(map), Value::Map(other)) => Value::Map(
                map.into_iter()
                    .map(|(k, v)| {
                        let v = match other.get(&k) {
                            Some(o) => v.marked_like(o),
                            None => v,
                        };
                        (k, v)
                    })
                    .collect(),
            ),
            (Value::List(items), Value::List(other)) => Value::List(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| match other.get(i) {
                        Some(o) => v.marked_like(o),
                        None => v,
                    })
                    .collect(),
            ),
            (value, _) => value,
        }
    }

    /// Text used when the value is interpolated into a string (`"prefix-${x}"`).
    pub fn interpolate(&self) -> Option<String> {
        match self {
            Value::Null => Some(String::new()),
            Value::Bool(b) => Some(b.to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::String(s) => Some(s.clone()),
            Value::List(_) | Value::Map(_) => serde_json::to_string(&self.to_json()).ok(),
            Value::Secret(inner) => inner.interpolate(),
            Value::Unknown(_) => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.to_string())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(n.into())
    }
}

/// One step of a path into a value: `.key` or `[index]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PathSegment {
    Key(String),
    Index(usize),
}

/// Formats a path as `a.b[0].c`.
pub fn format_path(segments: &[PathSegment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            PathSegment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            PathSegment::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

impl fmt::Display for Value {
    /// A one-line, redacted rendering: strings quoted, secrets `(secret)`, unknowns `(known after apply)`, both
    /// unquoted wherever they sit, so that neither reads as a real string.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shown::one_line(self))
    }
}

impl Value {
    /// The value on several lines, indented by two spaces per level (JSON layout, markers unquoted): how a
    /// long value is shown and diffed.
    pub fn pretty(&self) -> String {
        shown::pretty(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_json_round_trips() {
        let v = Value::Map(BTreeMap::from([("k".to_string(), Value::string("s").into_secret())]));
        let json = v.to_json();
        assert_eq!(json.to_string(), r#"{"k":{"@secret":"s"}}"#);
        assert_eq!(Value::from_json(&json), v);
    }

    #[test]
    fn display_redacts() {
        let unknown = Pending::Output { resource: "f".into(), attribute: "arn".into() }.value();
        let v = Value::List(vec![Value::string("a").into_secret(), unknown, Value::from(3)]);
        assert_eq!(v.to_string(), r#"[(secret),(known after apply),3]"#);
        assert!(v.has_secret());
        assert!(v.has_unknown());
    }

    #[test]
    fn display_escapes_every_control_character() {
        let v = Value::string("a\u{1b}[2Jb\u{7f}c\u{9b}31md");
        assert_eq!(v.to_string(), r#""a\u001b[2Jb\u007fc\u009b31md""#);
        assert!(v.to_string().chars().all(|c| !c.is_control()));
    }

    #[test]
    fn what_aws_reports_of_a_secret_input_stays_secret() {
        let prior = Value::Map(BTreeMap::from([
            ("tags".to_string(), Value::Map(BTreeMap::from([("t".to_string(), Value::string("s").into_secret())]))),
            ("list".to_string(), Value::List(vec![Value::from(1), Value::string("x").into_secret()])),
            ("plain".to_string(), Value::string("p")),
        ]));
        let observed =
            Value::from_json(&serde_json::json!({"tags": {"t": "s", "u": "v"}, "list": [1, "x"], "plain": "p"}));
        let marked = observed.marked_like(&prior);
        assert_eq!(marked.to_string(), r#"{"list":[1,(secret)],"plain":"p","tags":{"t":(secret),"u":"v"}}"#);
    }

    #[test]
    fn paths_format() {
        let p = [PathSegment::Key("a".into()), PathSegment::Index(2), PathSegment::Key("b".into())];
        assert_eq!(format_path(&p), "a[2].b");
    }
}
