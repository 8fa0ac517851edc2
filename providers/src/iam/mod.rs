//! IAM.

pub mod policy;
pub mod role;

/// An IAM tag: roles and policies take the same type.
#[cfg(feature = "aws")]
fn tag(k: &str, v: &str) -> Result<aws_sdk_iam::types::Tag, stackr_engine::provider::ProviderError> {
    crate::aws::built(aws_sdk_iam::types::Tag::builder().key(k).value(v).build())
}
