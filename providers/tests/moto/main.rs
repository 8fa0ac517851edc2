//! Provider tests against a real AWS API endpoint (moto_server): for every resource type, create → read back
//! through the SDK → no changes → update → replace → drift corrected → import → delete → gone.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod dynamodb;
mod iam_logs;
mod kms;
mod lambda_api;
mod lifecycle;
mod monitoring;
mod removals;
mod s3;
mod secretsmanager;
mod support;
