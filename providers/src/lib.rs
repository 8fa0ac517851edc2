//! stackr-providers: the AWS resource types, one module per service and one file per type. A type's file holds
//! all of it: its schema, its typed inputs and (feature `aws`) its calls on the official `aws-sdk-*` crates.
//!
//! [`catalog::registry`] knows every type's schema and needs no AWS code (`validate`, `plan --refresh=false`,
//! the engine's tests). [`attach`] registers the implementations on one SDK configuration (standard credential
//! chain; the stack's region wins).

pub mod apigateway;
#[cfg(feature = "aws")]
pub mod aws;
pub mod catalog;
pub mod cloudwatch;
pub mod dynamodb;
pub mod iam;
pub mod inputs;
pub mod kms;
pub mod lambda;
pub mod logs;
#[cfg(all(test, feature = "aws"))]
mod mocked;
#[cfg(feature = "moto")]
pub mod moto;
pub mod resource;
#[cfg(feature = "aws")]
pub mod s3_fence;
#[cfg(feature = "aws")]
pub mod s3_state;
pub mod secretsmanager;
pub mod sns;

#[cfg(feature = "aws")]
use std::sync::Arc;

#[cfg(feature = "aws")]
use stackr_engine::provider::Registry;

/// The tag that carries a create token on resources without a unique name, so an interrupted create is found
/// and adopted rather than made twice. Tags under `stackr:` are never reported as drift.
pub const TOKEN_TAG: &str = "stackr:create-token";

/// Registers every implemented provider, built on one SDK configuration.
#[cfg(feature = "aws")]
pub fn attach(registry: &mut Registry, config: &aws_config::SdkConfig) {
    registry.set_identity(Arc::new(aws::StsIdentity::new(config)));
    registry.add_provider(Arc::new(kms::key::KeyProvider::new(config)));
    registry.add_provider(Arc::new(kms::alias::AliasProvider::new(config)));
    registry.add_provider(Arc::new(secretsmanager::secret::SecretProvider::new(config)));
    registry.add_provider(Arc::new(dynamodb::table::TableProvider::new(config)));
    registry.add_provider(Arc::new(iam::role::RoleProvider::new(config)));
    registry.add_provider(Arc::new(logs::log_group::LogGroupProvider::new(config)));
    registry.add_provider(Arc::new(lambda::function::FunctionProvider::new(config)));
    registry.add_provider(Arc::new(lambda::permission::PermissionProvider::new(config)));
    registry.add_provider(Arc::new(apigateway::rest_api::RestApiProvider::new(config)));
    registry.add_provider(Arc::new(cloudwatch::dashboard::DashboardProvider::new(config)));
    registry.add_provider(Arc::new(cloudwatch::alarm::AlarmProvider::new(config)));
    registry.add_provider(Arc::new(sns::topic::TopicProvider::new(config)));
    registry.add_provider(Arc::new(sns::subscription::SubscriptionProvider::new(config)));
}
