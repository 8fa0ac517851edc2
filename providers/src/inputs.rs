//! Moving between the engine's values and typed provider inputs, and the small conversions every provider
//! needs (tags, JSON documents, outputs).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use stackr_engine::provider::ProviderError;
use stackr_engine::value::Value;

/// Typed inputs from the engine's value (secrets revealed: this is what is sent to AWS).
/// A parse error never quotes a secret: serde's messages quote the offending value, so any secret text in one is
/// replaced by `(secret)`.
pub fn parse<T: DeserializeOwned>(type_name: &str, inputs: &Value) -> Result<T, ProviderError> {
    serde_json::from_value(inputs.reveal().to_json()).map_err(|e| {
        let mut message = e.to_string();
        let mut secrets = Vec::new();
        secret_texts(inputs, false, &mut secrets);
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            message = message.replace(secret.as_str(), "(secret)");
        }
        ProviderError::Invalid(format!("{type_name}: {message}"))
    })
}

/// Every scalar inside a secret, as text.
fn secret_texts(value: &Value, inside: bool, out: &mut Vec<String>) {
    match value {
        Value::Secret(inner) => secret_texts(inner, true, out),
        Value::Map(map) => map.values().for_each(|v| secret_texts(v, inside, out)),
        Value::List(items) => items.iter().for_each(|v| secret_texts(v, inside, out)),
        other if inside => {
            let json = other.to_json();
            out.push(json.as_str().map(str::to_string).unwrap_or_else(|| json.to_string()));
        }
        _ => {}
    }
}

/// A map of output values.
pub fn outputs<const N: usize>(pairs: [(&str, Option<String>); N]) -> Value {
    Value::Map(pairs.into_iter().map(|(k, v)| (k.to_string(), v.map(Value::String).unwrap_or(Value::Null))).collect())
}

/// A JSON document as text for AWS (keys sorted, compact).
pub fn document_text(document: &serde_json::Value) -> String {
    serde_json::to_string(document).unwrap_or_default()
}

/// A JSON document from AWS text, URL-decoded first only when it is not JSON as it is (IAM returns documents
/// encoded; a document whose strings hold `%22`, a URL in a dashboard, is JSON as it is and must stay so).
pub fn document_value(text: &str) -> Option<Value> {
    let parsed = serde_json::from_str::<serde_json::Value>(text)
        .or_else(|_| serde_json::from_str::<serde_json::Value>(&percent_decode(text)));
    parsed.ok().map(|j| Value::from_json(&j))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Tags as a value: absent when there are none, like an input that sets none.
/// Takes stackr's own tags (`stackr:*`) out of tags read from AWS: they are never the user's, never drift.
/// Returns the create token among them.
pub fn split_stackr_tags(tags: &mut BTreeMap<String, String>) -> Option<String> {
    let token = tags.remove(crate::TOKEN_TAG);
    tags.retain(|k, _| !k.starts_with("stackr:"));
    token
}

/// The tags to create a resource with: the declared ones and the create token.
pub fn with_token(
    tags: &BTreeMap<String, String>,
    cx: &stackr_engine::provider::CallContext,
) -> BTreeMap<String, String> {
    let mut all = tags.clone();
    if let Some(token) = &cx.create_token {
        all.insert(crate::TOKEN_TAG.to_string(), token.clone());
    }
    all
}

pub fn tags_value(tags: BTreeMap<String, String>) -> Option<Value> {
    (!tags.is_empty()).then(|| Value::Map(tags.into_iter().map(|(k, v)| (k, Value::String(v))).collect()))
}

/// Tags to add or change, and keys to remove, going from `old` to `new`.
pub fn tag_changes(
    old: &BTreeMap<String, String>,
    new: &BTreeMap<String, String>,
) -> (BTreeMap<String, String>, Vec<String>) {
    let set = new.iter().filter(|(k, v)| old.get(*k) != Some(v)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let remove = old.keys().filter(|k| !new.contains_key(*k)).cloned().collect();
    (set, remove)
}

/// The revealed value of a prior input (for comparisons with what AWS reports).
pub fn prior_field<'a>(prior: &'a Value, key: &str) -> Option<&'a Value> {
    prior.as_map().and_then(|m| m.get(key)).filter(|v| !matches!(v, Value::Null))
}

/// The key `reported` by AWS as the prior input `property` named it, when that names the same key (an ARN
/// where AWS reports the id): the same key is no drift.
pub fn key_as_prior(prior: &Value, property: &str, reported: &str) -> Value {
    match prior_field(prior, property) {
        // The prior's own value, a secret one still marked secret.
        Some(p) if p.as_str().is_some_and(|p| same_key(p, reported)) => p.clone(),
        _ => Value::string(reported),
    }
}

/// True when two ways of naming a KMS key (id, ARN, alias, alias ARN) name the same key as far as the text
/// shows: equal, or one is the other's ARN form.
pub fn same_key(a: &str, b: &str) -> bool {
    a == b
        || a.ends_with(&format!("/{b}"))
        || b.ends_with(&format!("/{a}"))
        || a.ends_with(&format!(":{b}"))
        || b.ends_with(&format!(":{a}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_iam_documents() {
        let v = document_value("%7B%22Version%22%3A%222012-10-17%22%7D");
        assert_eq!(v.map(|v| v.to_string()), Some(r#"{"Version":"2012-10-17"}"#.to_string()));
        // JSON as it is stays as it is, even when a string in it holds percent escapes.
        let url = r#"{"markdown":"[logs](https://example.com/search?q=%22error%22)"}"#;
        assert_eq!(document_value(url).map(|v| v.to_string()), Some(url.to_string()));
    }

    #[test]
    fn computes_tag_changes() {
        let old = BTreeMap::from([("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())]);
        let new = BTreeMap::from([("a".to_string(), "1".to_string()), ("c".to_string(), "3".to_string())]);
        let (set, remove) = tag_changes(&old, &new);
        assert_eq!(set.keys().collect::<Vec<_>>(), ["c"]);
        assert_eq!(remove, ["b"]);
    }
}
