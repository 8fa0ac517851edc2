//! Conforming a resource's evaluated values to its schema: defaults, types, allowed values and ranges, JSON
//! documents, assets (paths confined and hashed), secrets checked without being quoted.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::asset;
use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::schema::{PropType, Property};
use crate::stack::Resource;
use crate::value::Value;

/// Checks and normalises one resource's values against its schema.
pub(super) struct Conform<'a, 'd> {
    pub(super) resource: &'a Resource,
    pub(super) base_dir: &'a Path,
    /// Where paths must stay.
    pub(super) confined: Option<crate::stack::confine::Confinement<'a>>,
    /// Where the code trees assets name are collected.
    pub(super) code_read: &'a RefCell<BTreeSet<PathBuf>>,
    pub(super) diags: &'d mut Diagnostics,
    /// Checking the inside of a secret: messages name what was found, never quote it.
    pub(super) inside_secret: bool,
}

impl Conform<'_, '_> {
    fn error(&mut self, path: &str, message: String) -> Option<Value> {
        self.diags.push(Diagnostic::new(self.location(path), self.resource.doc_path(path), message));
        None
    }

    fn location(&self, path: &str) -> Location {
        self.resource.location_of(path)
    }

    /// `None` when the property is absent (and has no default) or invalid (a diagnostic was pushed).
    pub(super) fn property(&mut self, property: &Property, value: Value, path: &str) -> Option<Value> {
        let value = match value {
            Value::Null => property.default.clone()?,
            other => other,
        };
        let value = self.value(&property.ty, value, path)?;
        if let Some(v) = plain(&value) {
            if !property.allowed.is_empty() {
                let text = match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    _ => None,
                };
                let secret = value.has_secret() || self.inside_secret;
                if let Some(text) = text {
                    if !property.allowed.contains(&text.as_str()) {
                        let shown = if secret { "the secret value".to_string() } else { v.to_string() };
                        let mut d = Diagnostic::new(
                            self.location(path),
                            self.resource.doc_path(path),
                            format!("{shown} is not an allowed value; expected one of {}", property.allowed.join(", ")),
                        );
                        // A suggestion close to a secret would tell what it resembles.
                        let best = crate::diagnostic::suggest(&text, property.allowed.iter().copied());
                        if let (Some(best), false) = (best, secret) {
                            d = d.with_hint(format!("did you mean `{best}`?"));
                        }
                        self.diags.push(d);
                        return None;
                    }
                }
            }
            if let (Some((min, max)), Some(n)) = (property.range, v.as_i64()) {
                if n < min || n > max {
                    let secret = value.has_secret() || self.inside_secret;
                    let shown = if secret { "the secret value".to_string() } else { n.to_string() };
                    return self.error(path, format!("{shown} is out of range; expected {min} to {max}"));
                }
            }
        }
        Some(if property.secret { value.into_secret() } else { value })
    }

    fn value(&mut self, ty: &PropType, value: Value, path: &str) -> Option<Value> {
        match value {
            unknown @ Value::Unknown(_) => return Some(unknown),
            Value::Secret(inner) => {
                let outer = std::mem::replace(&mut self.inside_secret, true);
                let checked = self.value(ty, *inner, path).map(Value::into_secret);
                self.inside_secret = outer;
                return checked;
            }
            _ => {}
        }
        let quote = !self.inside_secret;
        let found = |v: &Value| match v {
            Value::String(s) if quote && s.chars().count() <= 40 => format!("the string {s:?}"),
            Value::Bool(b) if quote => format!("`{b}`"),
            other => other.kind().to_string(),
        };
        match (ty, value) {
            (PropType::String, Value::String(s)) => Some(Value::String(s)),
            (PropType::String, Value::Number(n)) => Some(Value::String(n.to_string())),
            (PropType::String, Value::Bool(b)) => Some(Value::String(b.to_string())),
            (PropType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => Some(Value::Number(n)),
            (PropType::Integer, Value::Number(n)) if n.as_f64().is_some_and(|f| f.fract() == 0.0 && f.abs() < 9e15) => {
                n.as_f64().map(|f| Value::from(f as i64))
            }
            (PropType::Number, Value::Number(n)) => Some(Value::Number(n)),
            (PropType::Boolean, Value::Bool(b)) => Some(Value::Bool(b)),
            (PropType::List(item), Value::List(items)) => {
                let mut out = Vec::with_capacity(items.len());
                let mut ok = true;
                for (i, v) in items.into_iter().enumerate() {
                    match self.value(item, v, &format!("{path}[{i}]")) {
                        Some(v) => out.push(v),
                        None => ok = false,
                    }
                }
                ok.then_some(Value::List(out))
            }
            (PropType::Map(item), Value::Map(map)) => {
                let mut out = BTreeMap::new();
                let mut ok = true;
                for (k, v) in map {
                    match self.value(item, v, &format!("{path}.{k}")) {
                        Some(v) => {
                            out.insert(k, v);
                        }
                        None => ok = false,
                    }
                }
                ok.then_some(Value::Map(out))
            }
            (PropType::Object(fields), Value::Map(mut map)) => {
                let mut out = BTreeMap::new();
                let mut ok = true;
                for field in fields {
                    let field_path = format!("{path}.{}", field.name);
                    let given = map.remove(field.name);
                    if given.is_none() && field.required {
                        self.error(path, format!("missing required field `{}` ({})", field.name, field.ty.describe()));
                        ok = false;
                        continue;
                    }
                    let before = self.diags.len();
                    if let Some(v) = self.property(field, given.unwrap_or(Value::Null), &field_path) {
                        out.insert(field.name.to_string(), v);
                    } else if self.diags.len() > before {
                        ok = false;
                    }
                }
                for unknown in map.keys() {
                    let mut d = Diagnostic::new(
                        self.location(&format!("{path}.{unknown}")),
                        self.resource.doc_path(&format!("{path}.{unknown}")),
                        format!("unknown field `{unknown}`"),
                    );
                    if let Some(best) = crate::diagnostic::suggest(unknown, fields.iter().map(|f| f.name)) {
                        d = d.with_hint(format!("did you mean `{best}`?"));
                    } else {
                        let names: Vec<&str> = fields.iter().map(|f| f.name).collect();
                        d = d.with_hint(format!("fields are: {}", names.join(", ")));
                    }
                    self.diags.push(d);
                    ok = false;
                }
                ok.then_some(Value::Map(out))
            }
            (PropType::Json, Value::String(text)) => match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(json @ (serde_json::Value::Object(_) | serde_json::Value::Array(_))) => {
                    Some(Value::from_json(&json))
                }
                _ => self.error(path, "expected a JSON document (a map, or a string holding JSON)".to_string()),
            },
            (PropType::Json, v @ (Value::Map(_) | Value::List(_))) => Some(v),
            (PropType::Asset, Value::String(_)) if self.inside_secret => {
                self.error(path, "the path is secret, but a path cannot be kept secret".to_string())
            }
            (PropType::Asset, Value::String(relative)) => {
                let full = match crate::stack::confine::resolve_tree(self.confined, self.base_dir, &relative) {
                    Ok(full) => crate::stack::confine::lexical(&full),
                    Err(message) => return self.error(path, message),
                };
                match asset::content_hash(&full) {
                    Ok(sha256) => {
                        self.code_read.borrow_mut().insert(full);
                        Some(Value::Map(BTreeMap::from([
                            ("path".to_string(), Value::String(relative)),
                            ("sha256".to_string(), Value::String(sha256)),
                        ])))
                    }
                    Err(e) => self.error(path, format!("cannot read {}: {e}", full.display())),
                }
            }
            (ty, v) => {
                let message = format!("expected {}, found {}", ty.describe(), found(&v));
                self.error(path, message)
            }
        }
    }
}

/// The value without its secret wrapper, unless unknown.
fn plain(value: &Value) -> Option<&Value> {
    match value {
        Value::Unknown(_) => None,
        Value::Secret(inner) => plain(inner),
        other => Some(other),
    }
}
