//! The state file's JSON form: versioned, checked on every read and before every write.
//!
//! A file is refused, never "repaired", when it is not JSON, lacks required fields, comes from a newer stackr
//! or fails the consistency checks; the caller then leaves it byte-identical.

use crate::model::StateFile;

/// The format this build reads and writes.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("it is not valid state JSON: {0}")]
    Syntax(String),
    #[error("it was written by a newer stackr (format version {found}; this build reads up to {supported})")]
    Newer { found: u64, supported: u32 },
    #[error("it has no `formatVersion`; it is not a stackr state file")]
    NoVersion,
    #[error("it is inconsistent: {0}")]
    Inconsistent(String),
}

/// Parses and checks a state file.
pub fn decode(bytes: &[u8]) -> Result<StateFile, FormatError> {
    let raw: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| FormatError::Syntax(e.to_string()))?;
    let version = raw.get("formatVersion").and_then(serde_json::Value::as_u64).ok_or(FormatError::NoVersion)?;
    if version > u64::from(FORMAT_VERSION) {
        return Err(FormatError::Newer { found: version, supported: FORMAT_VERSION });
    }
    let state: StateFile = serde_json::from_value(raw).map_err(|e| FormatError::Syntax(e.to_string()))?;
    check(&state)?;
    Ok(state)
}

/// Serialises a state file after checking it: a state that would not read back is never written.
pub fn encode(state: &StateFile) -> Result<Vec<u8>, FormatError> {
    check(state)?;
    let mut bytes = serde_json::to_vec_pretty(state).map_err(|e| FormatError::Syntax(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Consistency rules every state obeys.
pub fn check(state: &StateFile) -> Result<(), FormatError> {
    if state.lineage.0.is_empty() {
        return Err(FormatError::Inconsistent("the lineage is empty".into()));
    }
    if state.stack.is_empty() {
        return Err(FormatError::Inconsistent("the stack name is empty".into()));
    }
    for (name, resource) in &state.resources {
        if resource.id.is_empty() {
            return Err(FormatError::Inconsistent(format!("resource `{name}` has an empty physical id")));
        }
        if resource.type_name.is_empty() {
            return Err(FormatError::Inconsistent(format!("resource `{name}` has no type")));
        }
        for dependency in &resource.dependencies {
            if !state.resources.contains_key(dependency) {
                return Err(FormatError::Inconsistent(format!(
                    "resource `{name}` depends on `{dependency}`, which is not in the state"
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Lineage, ResourceState};

    fn sample() -> StateFile {
        let mut state = StateFile::new("demo");
        state.lineage = Lineage("00000000-0000-0000-0000-000000000001".into());
        state.serial = 3;
        state.resources.insert(
            "key".into(),
            ResourceState {
                type_name: "aws:kms:Key".into(),
                id: "1234".into(),
                inputs: serde_json::json!({"description": "k", "enableKeyRotation": true}),
                outputs: serde_json::json!({"arn": "arn:aws:kms:us-east-1:123456789012:key/1234"}),
                dependencies: vec![],
                protect: true,
                retain_on_delete: false,
                create_token: None,
            },
        );
        state
    }

    #[test]
    fn round_trips_byte_identically() {
        let bytes = encode(&sample()).unwrap_or_default();
        let decoded = decode(&bytes);
        assert_eq!(decoded.as_ref().ok(), Some(&sample()));
        let again = decoded.map(|d| encode(&d).unwrap_or_default()).unwrap_or_default();
        assert_eq!(again, bytes);
        insta::assert_snapshot!(String::from_utf8_lossy(&bytes));
    }

    #[test]
    fn refuses_newer_versions() {
        let err = decode(br#"{"formatVersion": 7, "lineage": "x", "serial": 1, "stack": "s"}"#);
        assert_eq!(err, Err(FormatError::Newer { found: 7, supported: 1 }));
    }

    #[test]
    fn refuses_garbage_and_truncation() {
        let bytes = encode(&sample()).unwrap_or_default();
        for cut in [0, 1, bytes.len() / 2, bytes.len() - 3] {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(decode(b"{}"), Err(FormatError::NoVersion));
    }

    #[test]
    fn refuses_dangling_dependencies() {
        let mut state = sample();
        if let Some(r) = state.resources.get_mut("key") {
            r.dependencies.push("ghost".into());
        }
        assert!(matches!(encode(&state), Err(FormatError::Inconsistent(_))));
    }
}
