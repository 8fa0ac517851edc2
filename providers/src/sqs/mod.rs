//! SQS.

pub mod queue;
