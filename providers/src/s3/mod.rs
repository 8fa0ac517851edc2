//! S3 (the resource types; the state store is `s3_state`).

pub mod bucket;
