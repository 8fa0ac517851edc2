//! Lambda: functions (with deterministic code packages) and invoke permissions.

pub mod function;
pub mod package;
pub mod permission;
