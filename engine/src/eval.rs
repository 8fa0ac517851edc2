//! Evaluation: expressions → values, and a resource's expressions → its inputs, conformed to its schema.
//!
//! The evaluator is pure apart from reading files (`fn::readFile`, Lambda code). What other resources'
//! attributes are comes from a [`ResourceValues`]: an attribute that only apply will know is
//! `Value::Unknown`, and what depends on it stays pending ([`crate::value::pending`]): the saved plan carries
//! it, and apply computes it with the same operations.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::schema::ResourceSchema;
use crate::stack::expr::{Call, Expr, Function, Reference, TemplatePart};
use crate::stack::{Resource, Stack};
use crate::value::pending::{self, Pending};
use crate::value::{PathSegment, Value};
use conform::Conform;

mod conform;

/// The most `fn::readFile` reads into a value (the limit of a stack file, too).
const MAX_READ_FILE: u64 = 8 * 1024 * 1024;
/// The most all of a stack's templates and joins may build together (one may build `MAX_VALUE_BYTES`): a chain
/// of variables each repeating the one before would otherwise grow without bound.
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

/// `${resource.attribute}` not known yet.
pub fn unknown_output(resource: &str, attribute: &str) -> Value {
    Pending::Output { resource: resource.to_string(), attribute: attribute.to_string() }.value()
}

/// Knows nothing: every resource attribute is unknown (what `validate` checks with).
pub struct NothingKnown;

impl ResourceValues for NothingKnown {
    fn attribute(&self, resource: &str, attribute: &str) -> Value {
        unknown_output(resource, attribute)
    }
}

fn builtin(name: &str) -> Value {
    Pending::Builtin(name.to_string()).value()
}

pub struct Evaluator<'a> {
    stack: &'a Stack,
    builtins: &'a Builtins,
    resources: &'a dyn ResourceValues,
    variables: RefCell<BTreeMap<String, Result<Value, Diagnostic>>>,
    files_read: RefCell<BTreeSet<PathBuf>>,
    /// Code trees assets named (Lambda code), apart: apply reads them again.
    code_read: RefCell<BTreeSet<PathBuf>>,
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
            code_read: RefCell::new(BTreeSet::new()),
            built: std::cell::Cell::new(0),
        }
    }

    /// Accounts for a built text `value`: refused once all built text passes `MAX_TOTAL_BYTES`.
    fn charge(&self, value: &Value, error: impl FnOnce(String) -> Diagnostic) -> Result<(), Diagnostic> {
        let added = value.as_str().map_or(0, str::len);
        let built = self.built.get().saturating_add(added);
        self.built.set(built);
        if built > MAX_TOTAL_BYTES {
            return Err(error(format!("the stack's values grow past {} MiB together", MAX_TOTAL_BYTES >> 20)));
        }
        Ok(())
    }

    /// Files read by `fn::readFile` so far (they are inputs of the plan).
    pub fn files_read(&self) -> BTreeSet<PathBuf> {
        self.files_read.borrow().clone()
    }

    /// Code trees assets named so far (inputs of the plan that apply reads again).
    pub fn code_read(&self) -> BTreeSet<PathBuf> {
        self.code_read.borrow().clone()
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
                let mut parts = Vec::with_capacity(template.parts.len());
                let mut first = None;
                for part in &template.parts {
                    parts.push(match part {
                        TemplatePart::Text(t) => Value::String(t.clone()),
                        TemplatePart::Ref(r) => {
                            first = first.or(Some(r));
                            self.reference(r)?
                        }
                    });
                }
                // A template holds at least one reference (or it would have been parsed as a plain string).
                let error = |m: String| match first {
                    Some(r) => Diagnostic::new(r.location.clone(), r.doc_path.clone(), m),
                    None => Diagnostic::new(crate::diagnostic::Location::file_only(""), String::new(), m),
                };
                let value = pending::text(parts).map_err(|e| error(e.message))?;
                self.charge(&value, error)?;
                Ok(value)
            }
            Expr::Call(call) => self.call(call),
        }
    }

    fn reference(&self, r: &Reference) -> Result<Value, Diagnostic> {
        let error = |message: String| Diagnostic::new(r.location.clone(), r.doc_path.clone(), message);
        let (base, path): (Value, &[PathSegment]) = if r.root == "stackr" {
            let value = match r.attribute() {
                Some("stack") => Value::String(self.builtins.stack.clone()),
                Some("region") => self.builtins.region.clone().map(Value::String).unwrap_or(builtin("region")),
                Some("accountId") => {
                    self.builtins.account_id.clone().map(Value::String).unwrap_or(builtin("accountId"))
                }
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
        pending::select(base, path).map_err(|e| {
            let d = error(format!("`${{{}}}`: {}", r.text(), e.message));
            match e.hint {
                Some(hint) => d.with_hint(hint),
                None => d,
            }
        })
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
            Function::ToJson(inner) => pending::to_json(self.eval(inner)?).map_err(|e| error(e.message)),
            Function::Join { separator, items } => {
                let value = pending::join(self.eval(separator)?, self.eval(items)?).map_err(|e| error(e.message))?;
                self.charge(&value, error)?;
                Ok(value)
            }
            Function::ReadFile { path, base_dir } => {
                let value = self.eval(path)?;
                if value.has_unknown() {
                    // The file is read when planning and its content is part of the plan: its path must be known.
                    let mut waits = Vec::new();
                    value.waits_for(&mut waits);
                    return Err(error(format!(
                        "fn::readFile: the path depends on `{}`, which only apply knows; a file the plan reads must be named when planning",
                        waits.join("`, `")
                    )));
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
                code_read: &self.code_read,
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
            other => return Ok(other),
        }
        Ok(if merged.is_empty() { Value::Null } else { Value::Map(merged) })
    }
}
