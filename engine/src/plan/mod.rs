//! Plans: what apply will do, every decision recorded. The planner ([`planner`]) is pure and synchronous;
//! renderers live in `crate::render`.

pub mod file;
pub mod planner;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::diff::PropertyChange;
use crate::value::Value;

pub use planner::{plan, PlanError, PlanRequest};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    Create,
    Update,
    Replace,
    Delete,
}

impl Action {
    /// The diff symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace => "-/+",
            Action::Delete => "-",
        }
    }

    /// The stable JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Update => "update",
            Action::Replace => "replace",
            Action::Delete => "delete",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.symbol())
    }
}

/// How a replacement runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReplaceOrder {
    /// The default: the new resource exists before the old one goes.
    CreateBeforeDelete,
    /// `deleteBeforeReplace`, or a unique name that stays the same.
    DeleteBeforeCreate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceChange {
    pub name: String,
    pub type_name: String,
    pub action: Action,
    pub reasons: Vec<String>,
    pub diff: Vec<PropertyChange>,
    pub replace_order: Option<ReplaceOrder>,
    /// Deleting or replacing a resource that holds data.
    pub data_loss: bool,
    /// For deletes: forget the resource but leave it in AWS.
    pub retain: bool,
    /// Resources this step waits for (creates and updates) or that wait for it (deletes run after them).
    pub dependencies: Vec<String>,
    /// The desired inputs (creates, updates, replaces); may hold unknowns that apply resolves.
    pub inputs: Option<Value>,
    /// The physical id being changed (updates, replaces, deletes).
    pub prior_id: Option<String>,
    /// What the state records of the resource beside its inputs (creates, updates, replaces).
    pub recorded: Recorded,
    /// Changes of the options the state records (`options.protect`, `options.retainOnDelete`): shown with the
    /// diff, made without a call to AWS.
    pub options: Vec<PropertyChange>,
}

/// What apply records of a resource beside its inputs, from the stack: its options, and the directory its code
/// paths are relative to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recorded {
    pub protect: bool,
    pub retain_on_delete: bool,
    pub base_dir: Option<PathBuf>,
}

/// A difference between the state and what AWS reports, found by refresh.
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    pub name: String,
    pub type_name: String,
    /// The resource no longer exists.
    pub gone: bool,
    pub diff: Vec<PropertyChange>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    pub unchanged: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub stack: String,
    /// `None` for a stack with no state yet.
    pub lineage: Option<String>,
    pub serial: u64,
    pub destroy: bool,
    pub targets: Vec<String>,
    /// In apply order: creates, updates and replaces in dependency order, then deletes in reverse order.
    pub changes: Vec<ResourceChange>,
    pub unchanged: Vec<String>,
    pub drift: Vec<Drift>,
    /// Files `fn::readFile` read: inputs of the saved plan.
    pub files_read: BTreeSet<PathBuf>,
    /// Code the plan deploys (Lambda code trees): inputs of the saved plan, read again by apply.
    pub code_read: BTreeSet<PathBuf>,
    /// The stack's outputs, pending where they depend on what apply creates (empty for a destroy).
    pub outputs: BTreeMap<String, Value>,
    /// Directories outside the project root the stack's `allowPaths` lets it read: every rendering shows them.
    pub allowed_paths: Vec<String>,
    /// The stack names another secrets provider than the one the state's secrets are encrypted with: apply
    /// re-encrypts them (and needs both keys).
    pub secrets_change: Option<SecretsChange>,
}

/// A change of the key the state's secrets are encrypted under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsChange {
    pub from: String,
    pub to: String,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut summary = Summary { unchanged: self.unchanged.len(), ..Summary::default() };
        for change in &self.changes {
            match change.action {
                Action::Create => summary.create += 1,
                Action::Update => summary.update += 1,
                Action::Replace => summary.replace += 1,
                Action::Delete => summary.delete += 1,
            }
        }
        summary
    }

    pub fn has_changes(&self) -> bool {
        !self.changes.is_empty() || self.secrets_change.is_some()
    }

    /// Changes sorted by name: the order people read them in.
    pub fn changes_by_name(&self) -> Vec<&ResourceChange> {
        let mut changes: Vec<&ResourceChange> = self.changes.iter().collect();
        changes.sort_by(|a, b| a.name.cmp(&b.name));
        changes
    }

    pub fn data_loss(&self) -> impl Iterator<Item = &ResourceChange> {
        self.changes.iter().filter(|c| c.data_loss)
    }
}
