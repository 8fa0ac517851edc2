//! The state document: every resource stackr manages in one stack, as last recorded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Identity of one stack's history: random at creation, never changed afterwards. A state file from another
/// lineage is another stack's, whatever its name says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Lineage(pub String);

impl Lineage {
    /// A fresh random lineage (128 bits from the OS, as a UUID-shaped string).
    pub fn generate() -> Result<Lineage, RandomError> {
        let mut bytes = [0u8; 16];
        fill_random(&mut bytes)?;
        let h = hex(&bytes);
        Ok(Lineage(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32])))
    }
}

impl std::fmt::Display for Lineage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The OS's random source failed. stackr never falls back to anything weaker: lineages, lock ids, create
/// tokens, salts and nonces all come from it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number source failed: {0}")]
pub struct RandomError(pub String);

/// Fills `out` from the OS's random source (getrandom(2)), or fails.
pub fn fill_random(out: &mut [u8]) -> Result<(), RandomError> {
    getrandom::getrandom(out).map_err(|e| RandomError(e.to_string()))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StateFile {
    pub format_version: u32,
    pub lineage: Lineage,
    /// Up by one with every write.
    pub serial: u64,
    pub stack: String,
    #[serde(default)]
    pub resources: BTreeMap<String, ResourceState>,
    /// The stack's outputs after the last apply.
    #[serde(default)]
    pub outputs: BTreeMap<String, serde_json::Value>,
    /// Provider calls started but not known to have finished: reconciled before the next plan.
    #[serde(default)]
    pub pending: Vec<PendingOperation>,
    /// How secret values are encrypted, once the stack has any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<crate::secrets::SecretsConfig>,
    /// The AWS account and region the stack's resources live in, recorded by the first run that called AWS: a
    /// later run whose credentials act elsewhere is refused before it reads or changes anything.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<Place>,
}

/// An AWS account and region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Place {
    pub account: String,
    pub region: String,
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account {} ({})", self.account, self.region)
    }
}

impl StateFile {
    /// The state of a new stack, with a fresh lineage.
    pub fn create(stack: &str) -> Result<StateFile, RandomError> {
        let mut state = StateFile::new(stack);
        state.lineage = Lineage::generate()?;
        Ok(state)
    }

    /// An empty placeholder with no lineage (planning against nothing, a report's starting value). The format
    /// check refuses to write it: a state that is written always comes from [`StateFile::create`] or a file.
    pub fn new(stack: &str) -> StateFile {
        StateFile {
            format_version: crate::FORMAT_VERSION,
            lineage: Lineage(String::new()),
            serial: 0,
            stack: stack.to_string(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            pending: Vec::new(),
            secrets: None,
            place: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceState {
    #[serde(rename = "type")]
    pub type_name: String,
    /// The physical id AWS knows the resource by.
    pub id: String,
    pub inputs: serde_json::Value,
    pub outputs: serde_json::Value,
    #[serde(default)]
    pub dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_on_delete: bool,
    /// The token of the create that made it, where the resource carries it (a tag): a delete decided long before
    /// it runs (the old half of a replacement left pending) checks that the resource is still that one, not a
    /// newer one that took its name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_token: Option<String>,
}

impl PendingOperation {
    /// The old half of a create-before-delete replacement of `resource`, still to be deleted.
    pub fn delete_retired(resource: &str, old: &ResourceState) -> PendingOperation {
        PendingOperation {
            resource: resource.to_string(),
            type_name: old.type_name.clone(),
            operation: Change::DeleteRetired,
            create_token: old.create_token.clone(),
            id: Some(old.id.clone()),
            inputs: old.inputs.clone(),
            dependencies: Vec::new(),
            protect: false,
            retain_on_delete: false,
        }
    }
}

/// The kind of change a journal record or a pending operation is about: the one vocabulary the journal, the
/// state and apply share. Written as before (`create`, `update`, `replace`, `delete`, `delete-retired`,
/// `refresh`), so journals and states of earlier versions read unchanged; any other name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Create,
    Update,
    /// The new half of a replacement.
    Replace,
    Delete,
    /// The old half of a replacement.
    DeleteRetired,
    /// A resource the plan's refresh found deleted outside stackr, forgotten (no call).
    Refresh,
}

impl Change {
    pub fn name(self) -> &'static str {
        match self {
            Change::Create => "create",
            Change::Update => "update",
            Change::Replace => "replace",
            Change::Delete => "delete",
            Change::DeleteRetired => "delete-retired",
            Change::Refresh => "refresh",
        }
    }
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A provider call that was started: recorded before the call, cleared when its result is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingOperation {
    pub resource: String,
    #[serde(rename = "type")]
    pub type_name: String,
    pub operation: Change,
    /// For creates: the token the provider tagged the new resource with. For the old half of a replacement: the
    /// token it was created with, if recorded (it is deleted only while it still carries it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_token: Option<String>,
    /// For updates and deletes: the physical id being changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub inputs: serde_json::Value,
    /// What the resource is recorded with once adopted: an interrupted create keeps its edges and options.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_on_delete: bool,
}
