//! The saved plan (`.stackr/plans/<stack>.plan.json`): the program apply runs, and what it was made against.
//!
//! Each step carries everything apply needs to execute it without the stack: its action and order, its inputs
//! as typed values (what only apply will know is a [`crate::value::Pending`] naming the outputs it is computed
//! from), what the state records of it, and where its code paths are relative to. Stack outputs travel the same
//! way. What the plan was made against: the state's lineage and serial, and a digest of every file it read
//! (stack and included files, `fn::readFile` files, Lambda code). Apply refuses the plan, naming what moved,
//! when the state moved or a file that is still there changed; a stack file may be gone (the plan carries what
//! it said), code the plan deploys may not.
//!
//! Secret values are sealed (encrypted under the stack's secrets key, each bound to its place in the file), and
//! a plan holding any is authenticated under the same key (`mac`): an edited plan is refused, not applied.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use super::{Action, Plan, ReplaceOrder};
use crate::value::Value;
use stackr_state::secrets::{self, SecretsCodec, SecretsConfig, SecretsError};

/// 3: the plan is the program (typed inputs with pending values, sealed secrets, stack outputs, the target it
/// deploys to); config values are no longer digested (the plan carries them). 4: authenticated whenever a
/// secrets key is open (every plan of a stack whose state records one), the target names `allowPaths`.
/// Older files are refused: plan again.
pub const FORMAT_VERSION: u32 = 4;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanFile {
    pub format_version: u32,
    pub stack: String,
    /// The stack file the plan was made from, as given on the command line (for hints: apply does not read it).
    pub stack_file: PathBuf,
    /// Where the plan deploys and keeps its state.
    pub target: Target,
    pub lineage: Option<String>,
    pub serial: u64,
    pub destroy: bool,
    pub targets: Vec<String>,
    /// SHA-256 over every input digest.
    pub inputs_hash: String,
    /// Each file the plan read, by name (`stack:stacks/dev.yaml`, `file:…`, `code:functions/chat`), and its digest.
    pub inputs: BTreeMap<String, String>,
    /// In apply order: creates, updates and replaces in dependency order, then deletes in reverse order.
    pub steps: Vec<PlannedStep>,
    /// The stack's outputs, as values (pending where they depend on what apply creates).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub outputs: BTreeMap<String, Json>,
    /// The secrets key the plan's secrets are sealed under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_key: Option<PlanKey>,
    /// Resources the plan's refresh found deleted outside stackr: apply records their removal from the state
    /// before it runs the steps (which recreate them when the stack still declares them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gone: Vec<GoneResource>,
    /// HMAC-SHA256 under the secrets key over the file without this field: present when the plan was saved with
    /// a key open (always when it holds secrets, or when the stack's state records a key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<String>,
}

/// Where a plan deploys: what apply connects to and keeps the state in, recorded when planning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Target {
    /// The AWS region the plan was made for (`None`: the standard chain decides, as it did when planning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The stack's `backend:` URL (`None`: `.stackr/` in the working directory).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The stack's `secretsProvider:` (`None`: the passphrase).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets_provider: Option<String>,
    /// The directories outside the project root the stack's `allowPaths` lets it read (absolute): where its
    /// code and a local backend may be.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow_paths: Vec<PathBuf>,
}

/// The secrets key a saved plan's secrets are sealed under.
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
#[serde(deny_unknown_fields)]
pub struct GoneResource {
    pub name: String,
    /// The physical id the state records; the removal applies only while the state still records this one.
    pub id: String,
}

/// One step of the program.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlannedStep {
    pub name: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replace_order: Option<ReplaceOrder>,
    pub data_loss: bool,
    pub retain: bool,
    /// What the step waits for (creates, updates, replaces; what the state records as its dependencies), or what
    /// waits for it (deletes run after them).
    pub dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior_id: Option<String>,
    /// For updates: the top-level properties that change.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    /// The inputs to send (creates, updates, replaces), as [`Value::to_json`] writes them: `{"@unknown": …}`
    /// where apply computes a value, `{"@secret": …}` sealed as `{"@encrypted": …}` in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inputs: Option<Json>,
    /// The stack's `protect` for this resource, recorded in the state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    /// The stack's `retainOnDelete`, recorded in the state.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_on_delete: bool,
    /// The directory the resource's code paths are relative to (its declaring file's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_dir: Option<PathBuf>,
}

impl PlannedStep {
    /// The inputs as values (pending parts still pending).
    pub fn input_values(&self) -> Option<Value> {
        self.inputs.as_ref().map(Value::from_json)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PlanFileError {
    #[error("the plan file is not valid: {0}")]
    Syntax(String),
    #[error("the plan file was written by a newer stackr (format version {0})")]
    Newer(u64),
    #[error("the plan file was written by an older stackr (format version {0}), whose plans this one does not apply; plan again")]
    Older(u64),
    #[error("the plan holds secret values, and they are saved only sealed under the secrets key, which is not open")]
    NoSecretsKey,
    #[error("the plan file was changed after `stackr plan` wrote it (its authentication does not match)")]
    Edited,
    #[error("cannot seal or open the plan's secrets: {0}")]
    Secrets(#[from] SecretsError),
}

impl PlanFile {
    /// The saved form of `plan`: `stack_file` for hints, `target` where it deploys, `inputs` the digests of
    /// the files it read, `secrets_key` how the key its secrets are sealed under is opened.
    pub fn new(
        plan: &Plan,
        stack_file: &Path,
        target: Target,
        inputs: BTreeMap<String, String>,
        secrets_key: Option<PlanKey>,
        gone: Vec<GoneResource>,
    ) -> PlanFile {
        PlanFile {
            format_version: FORMAT_VERSION,
            stack: plan.stack.clone(),
            stack_file: stack_file.to_path_buf(),
            target,
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
                    inputs: c.inputs.as_ref().map(Value::to_json),
                    protect: c.recorded.protect,
                    retain_on_delete: c.recorded.retain_on_delete,
                    base_dir: c.recorded.base_dir.clone(),
                })
                .collect(),
            outputs: plan.outputs.iter().map(|(k, v)| (k.clone(), v.to_json())).collect(),
            secrets_key,
            gone,
            mac: None,
        }
    }

    /// Whether any step's inputs or any output holds a secret (in the clear, or sealed).
    pub fn holds_secrets(&self) -> bool {
        let values = self.steps.iter().filter_map(|s| s.inputs.as_ref()).chain(self.outputs.values());
        values.into_iter().any(|v| secrets::find_plain(v) || secrets::find_sealed(v))
    }

    /// The file's bytes: secrets sealed under `codec` and the whole authenticated with it. A plan holding secrets
    /// needs the codec; with one, any plan is authenticated.
    pub fn to_bytes(&self, codec: Option<&dyn SecretsCodec>) -> Result<Vec<u8>, PlanFileError> {
        let mut sealed = self.clone();
        sealed.mac = None;
        if self.holds_secrets() && codec.is_none() {
            return Err(PlanFileError::NoSecretsKey);
        }
        if let Some(codec) = codec {
            sealed.each_value(|json, context| secrets::seal(json, codec, context))?;
            sealed.mac = Some(codec.fingerprint(&sealed.canonical()?)?);
        }
        let mut bytes = serde_json::to_vec_pretty(&sealed).map_err(|e| PlanFileError::Syntax(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Reads a saved plan, its secrets still sealed: [`PlanFile::open`] checks it and opens them.
    pub fn from_bytes(bytes: &[u8]) -> Result<PlanFile, PlanFileError> {
        let raw: Json = serde_json::from_slice(bytes).map_err(|e| PlanFileError::Syntax(e.to_string()))?;
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
        // What keys the state and reaches AWS is held to the stack file's rules: a name is never a path.
        if !crate::stack::names::is_stack_name(&file.stack) {
            return Err(PlanFileError::Syntax(format!("`stack` is not a stack name: {:?}", file.stack)));
        }
        if let Some(region) = file.target.region.as_deref().filter(|r| !crate::stack::names::is_region(r)) {
            return Err(PlanFileError::Syntax(format!("`target.region` is not a region: {region:?}")));
        }
        if combined_hash(&file.inputs) != file.inputs_hash {
            return Err(PlanFileError::Syntax("`inputsHash` does not match `inputs`: the file was edited".into()));
        }
        let plain = file.steps.iter().filter_map(|s| s.inputs.as_ref()).chain(file.outputs.values());
        if plain.into_iter().any(secrets::find_plain) {
            return Err(PlanFileError::Syntax("it holds a secret in the clear; `stackr plan` never writes one".into()));
        }
        if (file.holds_secrets() || file.secrets_key.is_some()) && file.mac.is_none() {
            return Err(PlanFileError::Edited);
        }
        Ok(file)
    }

    /// Checks the authentication of a plan read by [`PlanFile::from_bytes`] and opens its secrets with `codec`
    /// (needed when it holds any).
    pub fn open(&mut self, codec: Option<&dyn SecretsCodec>) -> Result<(), PlanFileError> {
        let Some(mac) = self.mac.take() else { return Ok(()) };
        let codec = codec.ok_or(PlanFileError::NoSecretsKey)?;
        if codec.fingerprint(&self.canonical()?)? != mac {
            self.mac = Some(mac);
            return Err(PlanFileError::Edited);
        }
        self.each_value(|json, context| secrets::unseal(json, codec, context))
    }

    /// The bytes the authentication covers: the file as written, without `mac`.
    fn canonical(&self) -> Result<Vec<u8>, PlanFileError> {
        let mut copy = self.clone();
        copy.mac = None;
        serde_json::to_vec(&copy).map_err(|e| PlanFileError::Syntax(e.to_string()))
    }

    /// Every value that may hold a secret, with the place a sealed secret is bound to.
    fn each_value(
        &mut self,
        mut visit: impl FnMut(&mut Json, &str) -> Result<(), SecretsError>,
    ) -> Result<(), PlanFileError> {
        for step in &mut self.steps {
            if let Some(inputs) = &mut step.inputs {
                visit(inputs, &format!("plan.steps.{}.{}", step.name, step.action.name()))?;
            }
        }
        for (name, value) in &mut self.outputs {
            visit(value, &format!("plan.outputs.{name}"))?;
        }
        Ok(())
    }

    /// The stack's outputs as values.
    pub fn output_values(&self) -> BTreeMap<String, Value> {
        self.outputs.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()
    }

    /// What moved among the files the plan read, in words: a file that changed, or code that is missing (apply
    /// deploys it). A stack or `fn::readFile` file that is gone moved nothing: the plan carries what it said.
    /// Only files inside the project `root` (or the plan's `allowPaths`) are read, and only regular files and
    /// code directories: a plan naming another path (a device, a pipe, a file elsewhere) is refused unread.
    pub fn moved_inputs(&self, root: &Path) -> Result<Vec<String>, std::io::Error> {
        let mut moved = Vec::new();
        let confined = crate::stack::confine::Confinement { root, allowed: &self.target.allow_paths };
        for (name, digest) in &self.inputs {
            let Some((kind, named)) = name.split_once(':') else {
                moved.push(format!("{name} is not an input stackr knows"));
                continue;
            };
            if let Err(message) = crate::stack::confine::resolve(Some(confined), Path::new(""), named) {
                moved.push(format!("{name}: {message}"));
                continue;
            }
            let path = Path::new(named);
            let readable = |m: &std::fs::Metadata| m.is_file() || (kind == "code" && m.is_dir());
            if std::fs::metadata(path).is_ok_and(|m| !readable(&m)) {
                moved.push(format!("{name} is not a file stackr reads"));
                continue;
            }
            if !path.exists() {
                // Code the plan deploys is read again; a stack file or a file read into a value is not.
                if kind == "code" && digest != MISSING {
                    moved.push(format!("{name} is missing"));
                }
                continue;
            }
            let now = match kind {
                "stack" => hex::encode(Sha256::digest(std::fs::read(path)?)),
                "file" | "code" => crate::asset::content_hash(path)?,
                _ => {
                    moved.push(format!("{name} is not an input stackr knows"));
                    continue;
                }
            };
            if &now != digest {
                moved.push(format!("{name} changed"));
            }
        }
        Ok(moved)
    }
}

/// The digest of a file that did not exist when planning.
const MISSING: &str = "missing";

/// Top-level property names an update changes (`ttl.enabled` → `ttl`), sorted and unique.
fn changed_properties(change: &super::ResourceChange) -> Vec<String> {
    if change.action != Action::Update {
        return Vec::new();
    }
    let names: std::collections::BTreeSet<String> =
        change.diff.iter().map(|d| d.path.split(['.', '[']).next().unwrap_or_default().to_string()).collect();
    names.into_iter().collect()
}

/// `inputsHash`: SHA-256 over every input's name and digest.
pub fn combined_hash(inputs: &BTreeMap<String, String>) -> String {
    let mut hasher = Sha256::new();
    for (name, digest) in inputs {
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(digest.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

/// The digest of every file a plan read: the stack's own files (`stack:`, SHA-256 of the text it was planned
/// from), `fn::readFile` files (`file:`) and the code it deploys (`code:`).
pub fn input_digests(
    plan: &Plan,
    stack_files: &[(PathBuf, String)],
) -> Result<BTreeMap<String, String>, std::io::Error> {
    let mut inputs = BTreeMap::new();
    for (path, sha256) in stack_files {
        inputs.insert(format!("stack:{}", path.display()), sha256.clone());
    }
    let digest = |path: &Path| -> Result<String, std::io::Error> {
        if path.is_dir() || path.is_file() {
            crate::asset::content_hash(path)
        } else {
            Ok(MISSING.to_string())
        }
    };
    for path in &plan.files_read {
        inputs.insert(format!("file:{}", path.display()), digest(path)?);
    }
    for path in &plan.code_read {
        inputs.insert(format!("code:{}", path.display()), digest(path)?);
    }
    Ok(inputs)
}
