//! EventBridge.

pub mod rule;
