//! Secrets Manager.

pub mod secret;
