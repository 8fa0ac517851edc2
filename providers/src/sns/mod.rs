//! SNS: topics, their policies and subscriptions.

pub mod subscription;
pub mod topic;
pub mod topic_policy;
