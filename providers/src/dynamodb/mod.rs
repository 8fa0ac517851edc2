//! DynamoDB.

pub mod table;
