//! Whether a saved step's inputs have the shape its type's schema gives them. `stackr plan` writes them
//! conformed (defaults filled in, types checked, secret properties sealed); a plan file that says otherwise was
//! written by something else, and sending its inputs could make AWS and the state disagree (a create without a
//! property its read-back needs can never be reconciled).

use crate::schema::{PropType, Property, ResourceSchema};
use crate::value::Value;

/// The first way `inputs` does not conform to `schema`, in words naming the property path.
pub fn mismatch(schema: &ResourceSchema, inputs: &Value) -> Option<String> {
    let Value::Map(map) = inputs else { return Some("has inputs that are not a map".into()) };
    fields(&schema.properties, map, "")
}

fn fields(properties: &[Property], map: &std::collections::BTreeMap<String, Value>, at: &str) -> Option<String> {
    let path = |name: &str| if at.is_empty() { name.to_string() } else { format!("{at}.{name}") };
    if let Some(unknown) = map.keys().find(|k| !properties.iter().any(|p| p.name == k.as_str())) {
        return Some(format!("has a property `{}` its type does not have", path(unknown)));
    }
    for property in properties {
        match map.get(property.name) {
            None | Some(Value::Null) if property.required => {
                return Some(format!("lacks the required property `{}`", path(property.name)))
            }
            None | Some(Value::Null) => {}
            Some(value) => {
                if property.secret && !value.has_secret() {
                    return Some(format!("holds `{}` in the clear, a secret property", path(property.name)));
                }
                if let Some(why) = of_type(&property.ty, value, &path(property.name)) {
                    return Some(why);
                }
            }
        }
    }
    None
}

fn of_type(ty: &PropType, value: &Value, path: &str) -> Option<String> {
    let wrong = || Some(format!("holds {} at `{path}`, where its type has {}", value.kind(), ty.describe()));
    match (ty, value) {
        // Computed by apply, or sealed: what it holds is checked where it is made.
        (_, Value::Unknown(_)) => None,
        (_, Value::Secret(inner)) => of_type(ty, inner, path),
        (PropType::String, Value::String(_)) | (PropType::Boolean, Value::Bool(_)) => None,
        (PropType::Integer, Value::Number(n)) if n.is_i64() || n.is_u64() => None,
        (PropType::Number, Value::Number(_)) => None,
        (PropType::Json, Value::Map(_) | Value::List(_)) => None,
        (PropType::List(item), Value::List(items)) => {
            items.iter().enumerate().find_map(|(i, v)| of_type(item, v, &format!("{path}[{i}]")))
        }
        (PropType::Map(item), Value::Map(map)) => {
            map.iter().find_map(|(k, v)| of_type(item, v, &format!("{path}.{k}")))
        }
        (PropType::Object(properties), Value::Map(map)) => fields(properties, map, path),
        (PropType::Asset, Value::Map(asset)) => match (asset.get("path"), asset.get("sha256"), asset.len()) {
            (Some(Value::String(_)), Some(Value::String(_)), 2) => None,
            _ => Some(format!("holds a code asset at `{path}` that is not a path and its digest")),
        },
        _ => wrong(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Property;

    fn schema() -> ResourceSchema {
        ResourceSchema::new("test:T", "")
            .property(Property::string("name").required())
            .property(Property::integer("size"))
            .property(Property::string("password").secret())
            .property(Property::object("ttl", vec![Property::boolean("enabled").required()]))
    }

    fn inputs(json: serde_json::Value) -> Value {
        Value::from_json(&json)
    }

    #[test]
    fn conformed_inputs_pass_and_each_misshape_is_named() {
        let schema = schema();
        assert_eq!(mismatch(&schema, &inputs(serde_json::json!({"name": "a", "size": 3}))), None);
        let unknown = serde_json::json!({"name": {"@unknown": {"output": "r", "attribute": "a"}}});
        assert_eq!(mismatch(&schema, &inputs(unknown)), None);
        let cases = [
            (serde_json::json!({"size": 3}), "lacks the required property `name`"),
            (serde_json::json!({"name": "a", "colour": 1}), "has a property `colour` its type does not have"),
            (
                serde_json::json!({"name": "a", "size": "big"}),
                "holds a string at `size`, where its type has an integer",
            ),
            (serde_json::json!({"name": "a", "password": "p"}), "holds `password` in the clear, a secret property"),
            (serde_json::json!({"name": "a", "ttl": {}}), "lacks the required property `ttl.enabled`"),
            (serde_json::json!(["a"]), "has inputs that are not a map"),
        ];
        for (json, expected) in cases {
            assert_eq!(mismatch(&schema, &inputs(json.clone())).as_deref(), Some(expected), "{json}");
        }
    }
}
