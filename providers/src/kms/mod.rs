//! KMS: customer-managed keys and their aliases.

pub mod alias;
#[cfg(feature = "aws")]
pub mod data_key;
pub mod key;
