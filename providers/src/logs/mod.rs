//! CloudWatch Logs.

pub mod log_group;
