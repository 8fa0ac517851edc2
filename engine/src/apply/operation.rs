//! The kind of call a step of apply makes, as progress and counts name it, and the journal's [`Change`] it is.

use stackr_state::Change;

/// One provider-facing operation of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operation {
    Create,
    Update,
    /// Create the new half of a replacement (before the old half is deleted, or, delete first, after).
    Replace,
    Delete,
    /// Delete the old half of a replacement.
    DeleteRetired,
    /// Forget a `retainOnDelete` resource.
    Forget,
}

impl Operation {
    /// What the journal and the state call it.
    pub fn change(self) -> Change {
        match self {
            Operation::Create => Change::Create,
            Operation::Update => Change::Update,
            Operation::Replace => Change::Replace,
            Operation::Delete | Operation::Forget => Change::Delete,
            Operation::DeleteRetired => Change::DeleteRetired,
        }
    }

    /// Present participle for progress lines.
    pub fn doing(self) -> &'static str {
        match self {
            Operation::Create => "creating",
            Operation::Replace => "replacing",
            Operation::Update => "updating",
            Operation::Delete | Operation::DeleteRetired => "deleting",
            Operation::Forget => "forgetting",
        }
    }

    pub fn done(self) -> &'static str {
        match self {
            Operation::Create => "created",
            Operation::Replace => "replaced",
            Operation::Update => "updated",
            Operation::Delete | Operation::DeleteRetired => "deleted",
            Operation::Forget => "forgotten (left in AWS)",
        }
    }
}
