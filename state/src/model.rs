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
    pub fn generate() -> Lineage {
        let mut bytes = [0u8; 16];
        fill_random(&mut bytes);
        let h: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        Lineage(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]))
    }
}

impl std::fmt::Display for Lineage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Fills `out` from the OS's random source; falls back to time and process id mixing, which is unique enough
/// for a lineage even where /dev/urandom is missing.
pub fn fill_random(out: &mut [u8]) {
    use std::io::Read;
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        if f.read_exact(out).is_ok() {
            return;
        }
    }
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let mut x = nanos ^ (u128::from(std::process::id()) << 64);
    for b in out.iter_mut() {
        x = x.wrapping_mul(0x2545_F491_4F6C_DD1D_2545_F491_4F6C_DD1D).wrapping_add(0x9E37_79B9);
        *b = (x >> 64) as u8;
    }
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
}

impl StateFile {
    pub fn new(stack: &str) -> StateFile {
        StateFile {
            format_version: crate::FORMAT_VERSION,
            lineage: Lineage::generate(),
            serial: 0,
            stack: stack.to_string(),
            resources: BTreeMap::new(),
            outputs: BTreeMap::new(),
            pending: Vec::new(),
            secrets: None,
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
}

/// A provider call that was started: recorded before the call, cleared when its result is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingOperation {
    pub resource: String,
    #[serde(rename = "type")]
    pub type_name: String,
    /// `create`, `update` or `delete`.
    pub operation: String,
    /// For creates: the token the provider tagged the new resource with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_token: Option<String>,
    /// For updates and deletes: the physical id being changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub inputs: serde_json::Value,
}
