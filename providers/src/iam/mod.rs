//! IAM.

pub mod policy;
pub mod role;
