//! stackr-state: what stackr remembers about a stack between runs.
//!
//! - [`model`]: the state document (lineage, serial, resources, pending operations).
//! - [`format`]: its versioned JSON form, refusing corrupt or newer files.
//! - [`backend`]: where it lives (a local directory by default) with atomic, durable writes.
//!
//! This crate knows nothing of stacks, plans or providers: resource inputs and outputs are opaque JSON.

pub mod backend;
pub mod format;
pub mod journal;
pub mod lock;
pub mod model;
pub mod secrets;

pub use backend::{Backend, LocalBackend};
pub use format::{FormatError, FORMAT_VERSION};
pub use model::{Change, Lineage, PendingOperation, Place, ResourceState, StateFile};

/// Everything that can go wrong reading or writing state.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {action} {path}: {source}")]
    Io { action: &'static str, path: std::path::PathBuf, source: std::io::Error },
    #[error("state file {path} is unusable: {error}")]
    Format { path: std::path::PathBuf, error: FormatError },
    #[error("unsupported backend URL {url:?}: {why}")]
    BackendUrl { url: String, why: String },
    #[error("refusing to write {path}: it would hold a secret value in plaintext")]
    PlaintextSecret { path: std::path::PathBuf },
    #[error(transparent)]
    Random(#[from] model::RandomError),
}
