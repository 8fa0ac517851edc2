//! Values as people read them: JSON layout (serde_json's compact and pretty forms, byte for byte), with
//! `(secret)` and `(known after apply)` written bare, where a quoted string would read as a real value, and
//! every control character escaped.

use super::{Value, SECRET_TEXT, UNKNOWN_TEXT};

/// The value on one line, as `serde_json::to_string` would lay it out.
pub(super) fn one_line(value: &Value) -> String {
    let mut out = String::new();
    write(value, None, &mut out);
    out
}

/// The value on several lines, as `serde_json::to_string_pretty` would lay it out.
pub(super) fn pretty(value: &Value) -> String {
    let mut out = String::new();
    write(value, Some(0), &mut out);
    out
}

fn write(value: &Value, depth: Option<usize>, out: &mut String) {
    match value {
        Value::Secret(_) => out.push_str(SECRET_TEXT),
        Value::Unknown(_) => out.push_str(UNKNOWN_TEXT),
        Value::List(items) => {
            let items: Vec<(Option<&str>, &Value)> = items.iter().map(|v| (None, v)).collect();
            container(('[', ']'), &items, depth, out);
        }
        Value::Map(map) => {
            let entries: Vec<(Option<&str>, &Value)> = map.iter().map(|(k, v)| (Some(k.as_str()), v)).collect();
            container(('{', '}'), &entries, depth, out);
        }
        scalar => {
            let text = serde_json::to_string(&scalar.to_json()).unwrap_or_default();
            out.push_str(&crate::render::json_shown(&text));
        }
    }
}

fn container(brackets: (char, char), entries: &[(Option<&str>, &Value)], depth: Option<usize>, out: &mut String) {
    out.push(brackets.0);
    if entries.is_empty() {
        out.push(brackets.1);
        return;
    }
    for (i, (key, value)) in entries.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        if let Some(depth) = depth {
            out.push('\n');
            out.push_str(&"  ".repeat(depth + 1));
        }
        if let Some(key) = key {
            let key = serde_json::to_string(key).unwrap_or_default();
            out.push_str(&crate::render::json_shown(&key));
            out.push_str(if depth.is_some() { ": " } else { ":" });
        }
        write(value, depth.map(|d| d + 1), out);
    }
    if let Some(depth) = depth {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    }
    out.push(brackets.1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Pending;

    #[test]
    fn plain_values_lay_out_exactly_as_serde_json_does() -> Result<(), serde_json::Error> {
        let json = serde_json::json!({"a": [1, 2.5, {"b": null, "c": []}], "d": {}, "e\"q": "x\u{1b}y", "f": true});
        let value = Value::from_json(&json);
        assert_eq!(one_line(&value), crate::render::json_shown(&serde_json::to_string(&json)?));
        assert_eq!(pretty(&value), crate::render::json_shown(&serde_json::to_string_pretty(&json)?));
        Ok(())
    }

    #[test]
    fn markers_are_bare() {
        let unknown = Pending::Output { resource: "f".into(), attribute: "arn".into() }.value();
        let value = Value::Map(
            [("function".to_string(), unknown), ("key".to_string(), Value::string("k").into_secret())].into(),
        );
        assert_eq!(pretty(&value), "{\n  \"function\": (known after apply),\n  \"key\": (secret)\n}");
    }
}
