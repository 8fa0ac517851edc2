//! Expressions in property values: literals, `${...}` templates, and `fn::` functions.
//!
//! A string is parsed once, at load, into text and reference parts. A string that is exactly one reference
//! keeps the referenced value's type; any other string with references is interpolated text. `$${` writes a
//! literal `${`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Number;

use crate::diagnostic::Location;
use crate::value::{format_path, PathSegment};

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Null,
    Bool(bool),
    Number(Number),
    /// A string without references.
    String(String),
    Template(Template),
    List(Vec<Expr>),
    Map(BTreeMap<String, Expr>),
    Call(Box<Call>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    pub parts: Vec<TemplatePart>,
}

impl Template {
    /// The single reference when the template is exactly `${...}`.
    pub fn sole_reference(&self) -> Option<&Reference> {
        match self.parts.as_slice() {
            [TemplatePart::Ref(r)] => Some(r),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum TemplatePart {
    Text(String),
    Ref(Reference),
}

/// `${root.path[0].more}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Reference {
    pub root: String,
    pub path: Vec<PathSegment>,
    pub location: Location,
    /// Where in the document the reference is written (`resources.a.properties.b`).
    pub doc_path: String,
}

impl Reference {
    /// The text between `${` and `}`, rebuilt.
    pub fn text(&self) -> String {
        let mut segments = vec![PathSegment::Key(self.root.clone())];
        segments.extend(self.path.iter().cloned());
        format_path(&segments)
    }

    /// The first path segment when it is a key: the attribute of a resource reference.
    pub fn attribute(&self) -> Option<&str> {
        match self.path.first() {
            Some(PathSegment::Key(k)) => Some(k),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub function: Function,
    pub location: Location,
    pub doc_path: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Function {
    /// `fn::toJSON: VALUE`: the value as compact JSON text.
    ToJson(Expr),
    /// `fn::join: [SEP, LIST]`.
    Join { separator: Expr, items: Expr },
    /// `fn::secret: VALUE`: marks a value secret.
    Secret(Expr),
    /// `fn::readFile: PATH`, relative to the file that says it.
    ReadFile { path: Expr, base_dir: PathBuf },
}

pub const FUNCTION_NAMES: &[&str] = &["fn::toJSON", "fn::join", "fn::secret", "fn::readFile"];

impl Expr {
    /// Visits every reference, in document order.
    pub fn for_each_reference<'a>(&'a self, visit: &mut impl FnMut(&'a Reference)) {
        match self {
            Expr::Template(t) => {
                for part in &t.parts {
                    if let TemplatePart::Ref(r) = part {
                        visit(r);
                    }
                }
            }
            Expr::List(items) => items.iter().for_each(|e| e.for_each_reference(visit)),
            Expr::Map(map) => map.values().for_each(|e| e.for_each_reference(visit)),
            Expr::Call(call) => match &call.function {
                Function::ToJson(e) | Function::Secret(e) => e.for_each_reference(visit),
                Function::Join { separator, items } => {
                    separator.for_each_reference(visit);
                    items.for_each_reference(visit);
                }
                Function::ReadFile { path, .. } => path.for_each_reference(visit),
            },
            Expr::Null | Expr::Bool(_) | Expr::Number(_) | Expr::String(_) => {}
        }
    }

    /// Visits every `fn::readFile` call.
    pub fn for_each_call<'a>(&'a self, visit: &mut impl FnMut(&'a Call)) {
        match self {
            Expr::List(items) => items.iter().for_each(|e| e.for_each_call(visit)),
            Expr::Map(map) => map.values().for_each(|e| e.for_each_call(visit)),
            Expr::Call(call) => {
                visit(call);
                match &call.function {
                    Function::ToJson(e) | Function::Secret(e) => e.for_each_call(visit),
                    Function::Join { separator, items } => {
                        separator.for_each_call(visit);
                        items.for_each_call(visit);
                    }
                    Function::ReadFile { path, .. } => path.for_each_call(visit),
                }
            }
            _ => {}
        }
    }
}

/// Why a template string could not be parsed; the caller adds file and path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub message: String,
    pub hint: Option<String>,
}

/// Parses a string with `${...}` references. Returns `Expr::String` when it holds none.
pub fn parse_template(text: &str, location: &Location, doc_path: &str) -> Result<Expr, TemplateError> {
    if !text.contains("${") {
        return Ok(Expr::String(text.to_string()));
    }
    let mut parts: Vec<TemplatePart> = Vec::new();
    let mut literal = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if start > 0 && rest.as_bytes()[start - 1] == b'$' {
            // `$${` is an escaped, literal `${`.
            literal.push_str(&rest[..start - 1]);
            literal.push_str("${");
            rest = &rest[start + 2..];
            continue;
        }
        literal.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(TemplateError {
                message: format!("unterminated reference in {text:?}: `${{` without a closing `}}`"),
                hint: Some("write `$${` for a literal `${`".into()),
            });
        };
        let reference = parse_reference(after[..end].trim(), location, doc_path)?;
        if !literal.is_empty() {
            parts.push(TemplatePart::Text(std::mem::take(&mut literal)));
        }
        parts.push(TemplatePart::Ref(reference));
        rest = &after[end + 1..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(TemplatePart::Text(literal));
    }
    if parts.iter().all(|p| matches!(p, TemplatePart::Text(_))) {
        let joined: String = parts
            .into_iter()
            .map(|p| match p {
                TemplatePart::Text(t) => t,
                TemplatePart::Ref(_) => String::new(),
            })
            .collect();
        return Ok(Expr::String(joined));
    }
    Ok(Expr::Template(Template { parts }))
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn parse_reference(body: &str, location: &Location, doc_path: &str) -> Result<Reference, TemplateError> {
    let bad = |why: &str| TemplateError {
        message: format!("invalid reference `${{{body}}}`: {why}"),
        hint: Some("references look like `${name}`, `${resource.attribute}` or `${resource.list[0].field}`".into()),
    };
    if body.is_empty() {
        return Err(bad("it is empty"));
    }
    let root_end = body.find(['.', '[']).unwrap_or(body.len());
    let root = &body[..root_end];
    if root.is_empty() || !root.chars().all(is_name_char) {
        return Err(bad("the name must be letters, digits, `_` or `-`"));
    }
    let mut path = Vec::new();
    let mut rest = &body[root_end..];
    while !rest.is_empty() {
        if let Some(after_dot) = rest.strip_prefix('.') {
            let end = after_dot.find(['.', '[']).unwrap_or(after_dot.len());
            let key = &after_dot[..end];
            if key.is_empty() || !key.chars().all(is_name_char) {
                return Err(bad("a `.` must be followed by a name"));
            }
            path.push(PathSegment::Key(key.to_string()));
            rest = &after_dot[end..];
        } else if let Some(after_bracket) = rest.strip_prefix('[') {
            let Some(close) = after_bracket.find(']') else {
                return Err(bad("`[` without `]`"));
            };
            let index: usize = after_bracket[..close].trim().parse().map_err(|_| bad("an index must be a number"))?;
            path.push(PathSegment::Index(index));
            rest = &after_bracket[close + 1..];
        } else {
            return Err(bad("unexpected characters"));
        }
    }
    Ok(Reference { root: root.to_string(), path, location: location.clone(), doc_path: doc_path.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc() -> Location {
        Location::file_only("s.yaml")
    }

    #[test]
    fn plain_strings_stay_strings() {
        assert_eq!(parse_template("hello", &loc(), ""), Ok(Expr::String("hello".into())));
        assert_eq!(parse_template("cost $5 {x}", &loc(), ""), Ok(Expr::String("cost $5 {x}".into())));
    }

    #[test]
    fn escapes_dollar_brace() {
        assert_eq!(parse_template("a $${b} c", &loc(), ""), Ok(Expr::String("a ${b} c".into())));
    }

    #[test]
    fn parses_paths_with_indexes() {
        let Ok(Expr::Template(t)) = parse_template("${table.attributes[0].name}", &loc(), "") else { panic!() };
        let r = t.sole_reference().cloned().unwrap_or_else(|| panic!("one ref"));
        assert_eq!(r.root, "table");
        assert_eq!(r.text(), "table.attributes[0].name");
    }

    #[test]
    fn mixes_text_and_references() {
        let Ok(Expr::Template(t)) = parse_template("arn:${a.arn}/index/*", &loc(), "") else { panic!() };
        assert_eq!(t.parts.len(), 3);
        assert!(t.sole_reference().is_none());
    }

    #[test]
    fn reports_bad_references() {
        for bad in ["${}", "${a.}", "${a[x]}", "${a b}", "x ${a"] {
            assert!(parse_template(bad, &loc(), "").is_err(), "{bad}");
        }
    }
}
