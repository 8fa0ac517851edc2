//! The kind of call a step of apply makes, as progress, counts and the journal name it.

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
    pub fn journal_name(self) -> &'static str {
        match self {
            Operation::Create => "create",
            Operation::Update => "update",
            Operation::Replace => "replace",
            Operation::Delete | Operation::Forget => "delete",
            Operation::DeleteRetired => "delete-retired",
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
