//! KMS: customer-managed keys and their aliases.

pub mod alias;
pub mod data_key;
pub mod key;
