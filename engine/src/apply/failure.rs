//! Why a step failed, typed to the end: the provider's error (its class, operation, AWS code and message) or
//! what stopped the step around its call. The scheduler reports it after the resource's name, in one line.

use crate::provider::{ErrorClass, ProviderError};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StepCause {
    /// The call failed, and changed nothing stackr knows of.
    #[error("{0}")]
    Call(ProviderError),
    /// A create whose outcome is unknown (a timeout, a connection lost after sending): left pending for the
    /// next run, which looks for the resource first.
    #[error("{0} (whether it was created is unknown: the next run looks for it before anything else)")]
    Unresolved(ProviderError),
    /// The resource exists and is recorded, but its creation reported this error.
    #[error("{error} (the resource exists and is recorded as {id}; the next plan completes what is missing)")]
    Incomplete { error: ProviderError, id: String },
    /// The step could not start: its inputs (evaluation, a difference from the plan), its type or record.
    #[error("{0}")]
    Prepare(String),
    /// The journal could not record the step: the run stops after the steps in flight.
    #[error("cannot record progress: {0}")]
    Journal(String),
    /// The run no longer holds the stack's lock.
    #[error("{0}")]
    Lock(String),
    /// The step ended abnormally (a panic in its task).
    #[error("the step ended abnormally: {0}")]
    Aborted(String),
}

impl StepCause {
    /// The class of the provider's error, when AWS (or the way to it) had the last word.
    pub fn class(&self) -> Option<ErrorClass> {
        match self {
            StepCause::Call(e) | StepCause::Unresolved(e) | StepCause::Incomplete { error: e, .. } => Some(e.class()),
            _ => None,
        }
    }

    pub fn is_journal(&self) -> bool {
        matches!(self, StepCause::Journal(_))
    }
}

impl From<ProviderError> for StepCause {
    fn from(error: ProviderError) -> StepCause {
        StepCause::Call(error)
    }
}
