//! Lambda: functions (with deterministic code packages) and invoke permissions.

pub mod event_source_mapping;
pub mod function;
#[cfg(feature = "aws")]
pub mod package;
pub mod permission;
