//! Systems Manager.

pub mod parameter;
