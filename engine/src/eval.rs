//! Evaluation: expressions → values, and a resource's expressions → its inputs, conformed to its schema.
//!
//! The evaluator is pure apart from reading files (`fn::readFile`, Lambda code). What other resources'
//! attributes are comes from a [`ResourceValues`]: during planning an attribute that only apply will know is
//! `Unknown`; during apply it is the real output.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::schema::ResourceSchema;
use crate::stack::expr::{Call, Expr, Function, Reference, TemplatePart};
use crate::stack::{Resource, Stack};
use crate::value::{PathSegment, Value};
use conform::Conform;

mod conform;

/// The most `fn::readFile` reads into a value (the limit of a stack file, too).
const MAX_READ_FILE: u64 = 8 * 1024 * 1024;
/// The longest text a template or `fn::join` may build, and the most all of a stack's may build together: a
/// chain of variables each repeating the one before would otherwise grow without bound.
const MAX_VALUE_BYTES: usize = 4 * 1024 * 1024;
const MAX_TOTAL_BYTES: usize = 64 * 1024 * 1024;

/// The `${stackr.*}` values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Builtins {
    pub stack: String,
    pub region: Option<String>,
    /// Unknown until stackr has asked AWS who it is.
    pub account_id: Option<String>,
}

/// What the evaluator may know about other resources.
pub trait ResourceValues {
    /// The value of `${resource.attribute}`: `Value::Unknown` when it is not known yet.
    fn attribute(&self, resource: &str, attribute: &str) -> Value;
}

/// Knows nothing: every resource attribute is unknown (what `validate` checks with).
pub struct NothingKnown;

impl ResourceValues for NothingKnown {
    fn attribute(&self, _: &str, _: &str) -> Value {
        Value::Unknown
    }
}

pub struct Evaluator<'a> {
    stack: &'a Stack,
    builtins: &'a Builtins,
    resources: &'a dyn ResourceValues,
    variables: RefCell<BTreeMap<String, Result<Value, Diagnostic>>>,
    files_read: RefCell<BTreeSet<PathBuf>>,
    /// Bytes of text templates and joins have built so far (bounded by `MAX_TOTAL_BYTES`).
    built: std::cell::Cell<usize>,
}

impl<'a> Evaluator<'a> {
    pub fn new(stack: &'a Stack, builtins: &'a Builtins, resources: &'a dyn ResourceValues) -> Evaluator<'a> {
        Evaluator {
            stack,
            builtins,
            resources,
            variables: RefCell::new(BTreeMap::new()),
            files_read: RefCell::new(BTreeSet::new()),
            built: std::cell::Cell::new(0),
        }
    }

    /// Accounts for `added` bytes of built text making a value `length` long: refused past the limits.
    fn charge(&self, length: usize, added: usize, error: impl FnOnce(String) -> Diagnostic) -> Result<(), Diagnostic> {
        if length > MAX_VALUE_BYTES {
            return Err(error(format!(
                "the value grows past {} MiB, the most a value may hold",
                MAX_VALUE_BYTES >> 20
            )));
        }
        let built = self.built.get().saturating_add(added);
        self.built.set(built);
        if built > MAX_TOTAL_BYTES {
            return Err(error(format!("the stack's values grow past {} MiB together", MAX_TOTAL_BYTES >> 20)));
        }
        Ok(())
    }

    /// Files read by `fn::readFile` and assets so far (they are inputs of the plan).
    pub fn files_read(&self) -> BTreeSet<PathBuf> {
        self.files_read.borrow().clone()
    }

    pub fn eval(&self, expr: &Expr) -> Result<Value, Diagnostic> {
        match expr {
            Expr::Null => Ok(Value::Null),
            Expr::Bool(b) => Ok(Value::Bool(*b)),
            Expr::Number(n) => Ok(Value::Number(n.clone())),
            Expr::String(s) => Ok(Value::String(s.clone())),
            Expr::List(items) => items.iter().map(|e| self.eval(e)).collect::<Result<_, _>>().map(Value::List),
            Expr::Map(map) => {
                map.iter().map(|(k, e)| self.eval(e).map(|v| (k.clone(), v))).collect::<Result<_, _>>().map(Value::Map)
            }
            Expr::Template(template) => {
                if let Some(reference) = template.sole_reference() {
                    return self.reference(reference);
                }
                let mut text = String::new();
                let mut secret = false;
                for part in &template.parts {
                    match part {
                        TemplatePart::Text(t) => text.push_str(t),
                        TemplatePart::Ref(r) => {
                            let value = self.reference(r)?;
                            secret |= value.has_secret();
                            match value.interpolate() {
                                Some(s) if !value.has_unknown() => {
                                    let error = |m: String| Diagnostic::new(r.location.clone(), r.doc_path.clone(), m);
                                    self.charge(text.len() + s.len(), s.len(), error)?;
                                    text.push_str(&s);
                                }
                                _ => return Ok(Value::Unknown),
                            }
                        }
                    }
                }
                Ok(if secret { Value::String(text).into_secret() } else { Value::String(text) })
            }
            Expr::Call(call) => self.call(call),
        }
    }

    fn reference(&self, r: &Reference) -> Result<Value, Diagnostic> {
        let error = |message: String| Diagnostic::new(r.location.clone(), r.doc_path.clone(), message);
        let (base, path): (Value, &[PathSegment]) = if r.root == "stackr" {
            let value = match r.attribute() {
                Some("stack") => Value::String(self.builtins.stack.clone()),
                Some("region") => self.builtins.region.clone().map(Value::String).unwrap_or(Value::Unknown),
                Some("accountId") => self.builtins.account_id.clone().map(Value::String).unwrap_or(Value::Unknown),
                _ => return Err(error(format!("`${{{}}}` is not a built-in value", r.text()))),
            };
            (value, &r.path[1..])
        } else if let Some(value) = self.stack.config.get(&r.root) {
            (value.clone(), &r.path[..])
        } else if let Some(expr) = self.stack.variables.get(&r.root) {
            (self.variable(&r.root, expr)?, &r.path[..])
        } else if self.stack.resources.contains_key(&r.root) {
            let Some(attribute) = r.attribute() else {
                return Err(error(format!("`${{{}}}` needs an attribute", r.text())));
            };
            (self.resources.attribute(&r.root, attribute), &r.path[1..])
        } else {
            return Err(error(format!("`{}` is not a parameter, variable or resource", r.root)));
        };
        if path.is_empty() {
            return Ok(base);
        }
        let secret = base.has_secret();
        let mut current = &base;
        for (i, segment) in path.iter().enumerate() {
            if let Value::Secret(inner) = current {
                current = inner;
            }
            if matches!(current, Value::Unknown) {
                return Ok(Value::Unknown);
            }
            current = match (current, segment) {
                (Value::Map(map), PathSegment::Key(k)) => match map.get(k) {
                    Some(v) => v,
                    None => {
                        let mut d = error(format!("`${{{}}}`: there is no `{k}` here", r.text()));
                        if let Some(best) = crate::diagnostic::suggest(k, map.keys().map(String::as_str)) {
                            d = d.with_hint(format!("did you mean `{best}`?"));
                        }
                        return Err(d);
                    }
                },
                (Value::List(items), PathSegment::Index(n)) => match items.get(*n) {
                    Some(v) => v,
                    None => {
                        return Err(error(format!(
                            "`${{{}}}`: index {n} is out of range (the list has {} items)",
                            r.text(),
                            items.len()
                        )))
                    }
                },
                (other, _) => {
                    let done = crate::value::format_path(&path[..i]);
                    return Err(error(format!(
                        "`${{{}}}`: cannot look inside {} {}",
                        r.text(),
                        other.kind(),
                        if done.is_empty() { String::new() } else { format!("(at `{done}`)") }
                    )));
                }
            };
        }
        let value = current.clone();
        Ok(if secret { value.into_secret() } else { value })
    }

    fn variable(&self, name: &str, expr: &Expr) -> Result<Value, Diagnostic> {
        if let Some(cached) = self.variables.borrow().get(name) {
            return cached.clone();
        }
        let result = self.eval(expr);
        self.variables.borrow_mut().insert(name.to_string(), result.clone());
        result
    }

    fn call(&self, call: &Call) -> Result<Value, Diagnostic> {
        let error = |message: String| Diagnostic::new(call.location.clone(), call.doc_path.clone(), message);
        match &call.function {
            Function::Secret(inner) => Ok(self.eval(inner)?.into_secret()),
            Function::ToJson(inner) => {
                let value = self.eval(inner)?;
                if value.has_unknown() {
                    return Ok(Value::Unknown);
                }
                let text = serde_json::to_string(&value.reveal().to_json()).map_err(|e| error(e.to_string()))?;
                Ok(if value.has_secret() { Value::String(text).into_secret() } else { Value::String(text) })
            }
            Function::Join { separator, items } => {
                let separator = self.eval(separator)?;
                let items = self.eval(items)?;
                if separator.has_unknown() || items.has_unknown() {
                    return Ok(Value::Unknown);
                }
                let Some(separator_text) = separator.as_str() else {
                    return Err(error(format!("fn::join: the separator must be a string, found {}", separator.kind())));
                };
                let secret = separator.has_secret() || items.has_secret();
                let list = match &items {
                    Value::List(list) => list,
                    Value::Secret(inner) => match inner.as_ref() {
                        Value::List(list) => list,
                        other => return Err(error(format!("fn::join: expected a list, found {}", other.kind()))),
                    },
                    other => return Err(error(format!("fn::join: expected a list, found {}", other.kind()))),
                };
                let mut parts = Vec::with_capacity(list.len());
                for item in list {
                    match item {
                        Value::List(_) | Value::Map(_) => {
                            return Err(error(format!("fn::join: items must be text, found {}", item.kind())))
                        }
                        _ => parts.push(item.interpolate().unwrap_or_default()),
                    }
                }
                let length =
                    parts.iter().map(String::len).sum::<usize>() + separator_text.len() * parts.len().saturating_sub(1);
                self.charge(length, length, error)?;
                let text = parts.join(separator_text);
                Ok(if secret { Value::String(text).into_secret() } else { Value::String(text) })
            }
            Function::ReadFile { path, base_dir } => {
                let value = self.eval(path)?;
                if value.has_unknown() {
                    return Ok(Value::Unknown);
                }
                if value.has_secret() {
                    // A path is shown in errors and recorded as a plan input: it cannot keep a secret.
                    return Err(error("fn::readFile: the path is secret, but a path cannot be kept secret".into()));
                }
                let Some(relative) = value.as_str() else {
                    return Err(error(format!("fn::readFile: expected a path, found {}", value.kind())));
                };
                let full = crate::stack::confine::resolve(self.stack.confinement(), base_dir, relative)
                    .map_err(|message| error(format!("fn::readFile: {message}")))?;
                let size = std::fs::metadata(&full).map(|m| m.len()).unwrap_or(0);
                if size > MAX_READ_FILE {
                    return Err(error(format!(
                        "fn::readFile: {} is {size} bytes, more than the {MAX_READ_FILE} a value may read",
                        full.display()
                    )));
                }
                let text = std::fs::read_to_string(&full)
                    .map_err(|e| error(format!("fn::readFile: cannot read {}: {e}", full.display())))?;
                self.files_read.borrow_mut().insert(full);
                Ok(Value::String(text))
            }
        }
    }

    /// A resource's inputs: every property evaluated, defaults filled in, `defaultTags` merged, each value
    /// checked against the schema. All problems are returned together.
    pub fn resource_inputs(&self, resource: &Resource, schema: &ResourceSchema) -> Result<Value, Diagnostics> {
        let mut diags = Diagnostics::default();
        let mut inputs = BTreeMap::new();
        let base_dir = resource.location.file.parent().map(Path::to_path_buf).unwrap_or_default();
        for property in &schema.properties {
            let value = match resource.properties.get(property.name) {
                Some(expr) => match self.eval(expr) {
                    Ok(value) => value,
                    Err(d) => {
                        diags.push(d);
                        continue;
                    }
                },
                // A property whose default is the resource's logical name (a permission's statement id) is
                // planned with it, so that writing the default out, or leaving it out, changes nothing.
                None if schema.defaults_to_logical_name == Some(property.name) => Value::String(resource.name.clone()),
                None => Value::Null,
            };
            let value = if property.name == "tags" && schema.has_tags() {
                match self.merge_default_tags(value) {
                    Ok(v) => v,
                    Err(d) => {
                        diags.push(d);
                        continue;
                    }
                }
            } else {
                value
            };
            let mut conform = Conform {
                resource,
                base_dir: &base_dir,
                confined: self.stack.confinement(),
                files_read: &self.files_read,
                diags: &mut diags,
                inside_secret: false,
            };
            if let Some(value) = conform.property(property, value, property.name) {
                inputs.insert(property.name.to_string(), value);
            }
        }
        if let (Some(rules), true) = (schema.rules, diags.is_empty()) {
            for (path, message) in rules(&Value::Map(inputs.clone())) {
                diags.push(Diagnostic::new(resource.location_of(&path), resource.doc_path(&path), message));
            }
        }
        if diags.is_empty() {
            Ok(Value::Map(inputs))
        } else {
            Err(diags)
        }
    }

    fn merge_default_tags(&self, own: Value) -> Result<Value, Diagnostic> {
        let Some(default_tags) = &self.stack.default_tags else { return Ok(own) };
        let defaults = self.eval(default_tags)?;
        let mut merged = match defaults {
            Value::Map(map) => map,
            _ => BTreeMap::new(),
        };
        match own {
            Value::Map(map) => merged.extend(map),
            Value::Null => {}
            Value::Unknown => return Ok(Value::Unknown),
            other => return Ok(other),
        }
        Ok(if merged.is_empty() { Value::Null } else { Value::Map(merged) })
    }
}
