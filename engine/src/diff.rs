//! Per-property diffs between prior inputs and desired inputs.
//!
//! Objects (`ttl`, `serverSideEncryption`) are diffed field by field so the plan names `ttl.enabled`; lists,
//! maps and JSON documents are compared whole, as values, so key order and whitespace never cause a diff.
//! A value and the same value marked secret are equal; an unknown value always differs.

use crate::schema::{PropType, Property, ResourceSchema};
use crate::value::{PathSegment, Value};

#[derive(Debug, Clone, PartialEq)]
pub struct PropertyChange {
    /// `timeout`, `ttl.enabled`.
    pub path: String,
    /// `None`: the property was absent.
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub forces_replacement: bool,
}

/// Every changed property of `desired` against `prior`, in schema order.
pub fn diff_inputs(schema: &ResourceSchema, prior: &Value, desired: &Value) -> Vec<PropertyChange> {
    let mut changes = Vec::new();
    diff_properties(&schema.properties, prior, desired, "", false, &mut changes);
    changes
}

fn diff_properties(
    properties: &[Property],
    prior: &Value,
    desired: &Value,
    prefix: &str,
    parent_forces: bool,
    out: &mut Vec<PropertyChange>,
) {
    for property in properties {
        let path = if prefix.is_empty() { property.name.to_string() } else { format!("{prefix}.{}", property.name) };
        let before = field(prior, property.name);
        let after = field(desired, property.name);
        let forces = parent_forces || property.forces_replacement;
        if let (PropType::Object(fields), Some(Value::Map(_)), Some(Value::Map(_))) = (&property.ty, before, after) {
            if let (Some(b), Some(a)) = (before, after) {
                diff_properties(fields, b, a, &path, forces, out);
            }
            continue;
        }
        if let (PropType::Map(_), Some(Value::Map(b)), Some(Value::Map(a))) = (&property.ty, before, after) {
            // String maps (tags, environment variables) are diffed per key, so the plan names `tags.Owner`.
            let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            for key in keys {
                let (old, new) = (b.get(key), a.get(key));
                if !same(old, new) {
                    out.push(PropertyChange {
                        path: format!("{path}.{key}"),
                        before: old.cloned(),
                        after: new.cloned(),
                        forces_replacement: forces,
                    });
                }
            }
            continue;
        }
        if !same(before, after) {
            out.push(PropertyChange {
                path,
                before: before.cloned(),
                after: after.cloned(),
                forces_replacement: forces,
            });
        }
    }
}

fn field<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    match value {
        Value::Map(map) => map.get(name).filter(|v| !matches!(v, Value::Null)),
        Value::Secret(inner) => field(inner, name),
        _ => None,
    }
}

fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => equal(a, b),
        _ => false,
    }
}

/// Value equality for diffs: secret wrappers ignored, numbers compared numerically, unknown never equal.
pub fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Unknown(_), _) | (_, Value::Unknown(_)) => false,
        (Value::Secret(a), b) => equal(a, b),
        (a, Value::Secret(b)) => equal(a, b),
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::List(x), Value::List(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| equal(a, b)),
        (Value::Map(x), Value::Map(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|((ka, va), (kb, vb))| ka == kb && equal(va, vb))
        }
        (a, b) => a == b,
    }
}

/// Parses `a.b[0].c` into segments.
pub fn parse_path(path: &str) -> Vec<PathSegment> {
    let mut segments = Vec::new();
    for part in path.split('.') {
        let mut rest = part;
        if let Some(open) = rest.find('[') {
            if open > 0 {
                segments.push(PathSegment::Key(rest[..open].to_string()));
            }
            rest = &rest[open..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let close = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(i) = stripped[..close].parse() {
                    segments.push(PathSegment::Index(i));
                }
                rest = stripped.get(close + 1..).unwrap_or("");
            }
        } else if !rest.is_empty() {
            segments.push(PathSegment::Key(rest.to_string()));
        }
    }
    segments
}

/// `ignoreChanges`: the desired value at each path becomes the prior one (or absent when it was absent).
pub fn apply_ignore_changes(desired: &mut Value, prior: &Value, paths: &[String]) {
    for path in paths {
        let segments = parse_path(path);
        let old = prior.get_path(&segments).cloned();
        set_path(desired, &segments, old);
    }
}

fn set_path(target: &mut Value, path: &[PathSegment], value: Option<Value>) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut current = target;
    for segment in parents {
        current = match (current, segment) {
            (Value::Map(map), PathSegment::Key(k)) => match map.get_mut(k) {
                Some(v) => v,
                None => return,
            },
            (Value::List(items), PathSegment::Index(i)) => match items.get_mut(*i) {
                Some(v) => v,
                None => return,
            },
            _ => return,
        };
    }
    match (current, last, value) {
        (Value::Map(map), PathSegment::Key(k), Some(v)) => {
            map.insert(k.clone(), v);
        }
        (Value::Map(map), PathSegment::Key(k), None) => {
            map.remove(k);
        }
        (Value::List(items), PathSegment::Index(i), Some(v)) if *i < items.len() => items[*i] = v,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{Property, ResourceSchema};
    use serde_json::json;

    /// A type with a replacing key, a nested object, tags and a JSON document.
    fn schema() -> ResourceSchema {
        ResourceSchema::new("test:Thing", "A thing")
            .property(Property::string("name").required().forces_replacement())
            .property(Property::string("hashKey").required().forces_replacement())
            .property(Property::object(
                "ttl",
                vec![Property::string("attributeName").required(), Property::boolean("enabled").default(true)],
            ))
            .property(Property::json("assumeRolePolicy"))
            .property(Property::tags())
    }

    fn v(j: serde_json::Value) -> Value {
        Value::from_json(&j)
    }

    #[test]
    fn diffs_nested_objects_by_field_and_marks_replacement() {
        let schema = schema();
        let prior = v(json!({"name": "t", "hashKey": "id", "ttl": {"attributeName": "exp", "enabled": true}}));
        let desired = v(json!({"name": "t", "hashKey": "pk", "ttl": {"attributeName": "exp", "enabled": false}}));
        let changes = diff_inputs(&schema, &prior, &desired);
        let summary: Vec<(&str, bool)> = changes.iter().map(|c| (c.path.as_str(), c.forces_replacement)).collect();
        assert_eq!(summary, vec![("hashKey", true), ("ttl.enabled", false)]);
    }

    #[test]
    fn string_maps_diff_per_key() {
        let schema = schema();
        let prior = v(json!({"name": "t", "tags": {"Owner": "a", "Gone": "x"}}));
        let desired = v(json!({"name": "t", "tags": {"Owner": "b", "New": "y"}}));
        let paths: Vec<String> = diff_inputs(&schema, &prior, &desired).into_iter().map(|c| c.path).collect();
        assert_eq!(paths, ["tags.Gone", "tags.New", "tags.Owner"]);
    }

    #[test]
    fn json_documents_compare_as_values() {
        let schema = schema();
        let prior = v(json!({"name": "r", "assumeRolePolicy": {"Version": "2012-10-17", "Statement": []}}));
        let desired = v(json!({"assumeRolePolicy": {"Statement": [], "Version": "2012-10-17"}, "name": "r"}));
        assert!(diff_inputs(&schema, &prior, &desired).is_empty());
    }

    #[test]
    fn unknown_always_differs_and_secrets_compare_by_content() {
        let unknown = crate::eval::unknown_output("f", "arn");
        assert!(!equal(&unknown, &unknown));
        assert!(equal(&Value::string("x").into_secret(), &Value::string("x")));
        assert!(equal(&Value::from(1), &v(json!(1.0))));
    }

    #[test]
    fn ignore_changes_keeps_prior_values() {
        let prior = v(json!({"tags": {"a": "1"}, "secretString": "old", "ttl": {"enabled": true}}));
        let mut desired = v(json!({"tags": {"a": "2"}, "secretString": "new", "ttl": {"enabled": false}}));
        apply_ignore_changes(
            &mut desired,
            &prior,
            &["tags".into(), "ttl.enabled".into(), "secretString".into(), "missing".into()],
        );
        assert_eq!(desired, prior);
        assert_eq!(
            parse_path("a.b[2].c"),
            vec![
                PathSegment::Key("a".into()),
                PathSegment::Key("b".into()),
                PathSegment::Index(2),
                PathSegment::Key("c".into())
            ]
        );
    }
}
