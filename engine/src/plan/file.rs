//! The saved plan (`.stackr/plans/<stack>.plan.json`): the plan's decisions plus what they were made against,
//! the state's lineage and serial and a digest of every input (stack and included files, files read by
//! `fn::readFile`, Lambda code, config values, built-ins). Apply recomputes the digests and refuses the plan,
//! naming what moved, when any differs.
//!
//! Secret values never appear: planned inputs are stored redacted, and secret config values contribute to one
//! keyed fingerprint only (HMAC under the secrets key the plan records in `secretsKey`), so a plan artifact
//! allows no offline guessing of a weak secret.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Action, Plan, ReplaceOrder};
use crate::eval::Builtins;
use crate::stack::Stack;
use stackr_state::secrets::{SecretsCodec, SecretsConfig, SecretsError};

/// 2: secret config values are fingerprinted under the secrets key (`secretsKey`), not hashed with a salt that
/// sits beside the hash. Files of version 1 are refused: plan again.
pub const FORMAT_VERSION: u32 = 2;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanFile {
    pub format_version: u32,
    pub stack: String,
    /// The stack file the plan was made from, as given on the command line.
    pub stack_file: PathBuf,
    pub lineage: Option<String>,
    pub serial: u64,
    pub destroy: bool,
    pub targets: Vec<String>,
    /// SHA-256 over every input digest.
    pub inputs_hash: String,
    /// Each input by name (`file:stacks/dev.yaml`, `config:environment`, `builtin:region`).
    pub inputs: BTreeMap<String, String>,
    pub steps: Vec<PlannedStep>,
    /// The secrets key the secret config values were fingerprinted under. Apply opens it to recompute the
    /// fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_key: Option<PlanKey>,
    /// Resources the plan's refresh found deleted outside stackr: apply records their removal from the state
    /// before it runs the steps (which recreate them when the stack still declares them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gone: Vec<GoneResource>,
}

/// The secrets key a saved plan's fingerprint of the secret config values was made under.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "camelCase")]
pub enum PlanKey {
    /// The state's own key: the state's record says how to open it (and a state that moved makes the plan
    /// stale anyway).
    State,
    /// A key made for this plan, for a stack whose state records none yet: its record without the check value
    /// (the Argon2id salt, or the data key as KMS encrypted it), so the file allows no offline test of a
    /// passphrase guess.
    New { record: SecretsConfig },
}

/// A resource recorded in the state that no longer exists in AWS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoneResource {
    pub name: String,
    /// The physical id the state records; the removal applies only while the state still records this one.
    pub id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedStep {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_order: Option<ReplaceOrder>,
    pub data_loss: bool,
    pub retain: bool,
    pub dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_id: Option<String>,
    /// For updates: the top-level properties that change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// The planned inputs, redacted: `(secret)` and `(known after apply)` in place of such values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanFileError {
    #[error("the plan file is not valid: {0}")]
    Syntax(String),
    #[error("the plan file was written by a newer stackr (format version {0})")]
    Newer(u64),
    #[error("the plan file was written by an older stackr (format version {0}), whose plans this one does not apply; plan again")]
    Older(u64),
}

#[derive(Debug, thiserror::Error)]
pub enum DigestError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error("the stack has secret config values, and a saved plan fingerprints them under the secrets key, which is not open")]
    NoSecretsKey,
    #[error("cannot fingerprint the secret config values: {0}")]
    Secrets(#[from] SecretsError),
}

impl PlanFile {
    /// The saved form of `plan`. `gone` lists the resources refresh found deleted (name and recorded id).
    pub fn new(
        plan: &Plan,
        stack_file: &Path,
        inputs: BTreeMap<String, String>,
        secrets_key: Option<PlanKey>,
        gone: Vec<GoneResource>,
    ) -> PlanFile {
        PlanFile {
            format_version: FORMAT_VERSION,
            stack: plan.stack.clone(),
            stack_file: stack_file.to_path_buf(),
            lineage: plan.lineage.clone(),
            serial: plan.serial,
            destroy: plan.destroy,
            targets: plan.targets.clone(),
            inputs_hash: combined_hash(&inputs),
            inputs,
            steps: plan
                .changes
                .iter()
                .map(|c| PlannedStep {
                    name: c.name.clone(),
                    type_name: c.type_name.clone(),
                    action: c.action,
                    replace_order: c.replace_order,
                    data_loss: c.data_loss,
                    retain: c.retain,
                    dependencies: c.dependencies.clone(),
                    prior_id: c.prior_id.clone(),
                    changed: changed_properties(c),
                    inputs: c.inputs.as_ref().map(|v| v.to_redacted_json()),
                })
                .collect(),
            secrets_key,
            gone,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<PlanFile, PlanFileError> {
        let raw: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| PlanFileError::Syntax(e.to_string()))?;
        let version = match raw.get("formatVersion") {
            None => return Err(PlanFileError::Syntax("it has no `formatVersion`; it is not a stackr plan".into())),
            Some(v) => v
                .as_u64()
                .ok_or_else(|| PlanFileError::Syntax(format!("`formatVersion` must be a whole number, not {v}")))?,
        };
        if version > u64::from(FORMAT_VERSION) {
            return Err(PlanFileError::Newer(version));
        }
        if version < u64::from(FORMAT_VERSION) {
            return Err(PlanFileError::Older(version));
        }
        let file: PlanFile = serde_json::from_value(raw).map_err(|e| PlanFileError::Syntax(e.to_string()))?;
        if combined_hash(&file.inputs) != file.inputs_hash {
            return Err(PlanFileError::Syntax("`inputsHash` does not match `inputs`: the file was edited".into()));
        }
        Ok(file)
    }

    /// What differs between the inputs this plan was made from and `current`, in words.
    pub fn moved_inputs(&self, current: &BTreeMap<String, String>) -> Vec<String> {
        let mut moved = Vec::new();
        for (name, digest) in &self.inputs {
            match current.get(name) {
                Some(now) if now == digest => {}
                Some(_) => moved.push(format!("{name} changed")),
                None => moved.push(format!("{name} is no longer an input")),
            }
        }
        for name in current.keys().filter(|n| !self.inputs.contains_key(*n)) {
            moved.push(format!("{name} is a new input"));
        }
        moved
    }
}

/// Top-level property names an update changes (`ttl.enabled` → `ttl`), sorted and unique.
fn changed_properties(change: &super::ResourceChange) -> Vec<String> {
    if change.action != Action::Update {
        return Vec::new();
    }
    let names: std::collections::BTreeSet<String> =
        change.diff.iter().map(|d| d.path.split(['.', '[']).next().unwrap_or_default().to_string()).collect();
    names.into_iter().collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn combined_hash(inputs: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (name, digest) in inputs {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(digest.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

/// Whether a plan of `stack` fingerprints secret config values, and so needs the secrets key.
pub fn has_secret_config(stack: &Stack) -> bool {
    stack.config.values().any(|v| v.has_secret())
}

/// The digest of every input a plan depends on. Secret config values are fingerprinted together under
/// `secrets` (the key the plan records), so the file carries no plain hash of a secret.
pub fn input_digests(
    stack: &Stack,
    files_read: &[PathBuf],
    builtins: &Builtins,
    secrets: Option<&dyn SecretsCodec>,
) -> Result<BTreeMap<String, String>, DigestError> {
    let mut inputs = BTreeMap::new();
    for file in &stack.files {
        inputs.insert(format!("file:{}", file.path.display()), file.sha256.clone());
    }
    for path in files_read {
        let digest =
            if path.is_dir() || path.is_file() { crate::asset::content_hash(path)? } else { "missing".to_string() };
        inputs.insert(format!("file:{}", path.display()), digest);
    }
    // Plaintext of the secret values: zeroized once fingerprinted.
    let mut secret_text = zeroize::Zeroizing::new(Vec::new());
    for (name, value) in &stack.config {
        if value.has_secret() {
            secret_text.extend_from_slice(name.as_bytes());
            secret_text.push(0);
            secret_text.extend_from_slice(value.reveal().to_json().to_string().as_bytes());
            secret_text.push(0);
        } else {
            inputs.insert(format!("config:{name}"), sha256_hex(value.to_json().to_string().as_bytes()));
        }
    }
    if !secret_text.is_empty() {
        let codec = secrets.ok_or(DigestError::NoSecretsKey)?;
        inputs.insert("config:(secret values)".to_string(), codec.fingerprint(&secret_text)?);
    }
    inputs.insert("builtin:region".to_string(), sha256_hex(builtins.region.clone().unwrap_or_default().as_bytes()));
    Ok(inputs)
}
