//! IAM.

pub mod role;
