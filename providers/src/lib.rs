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
pub mod events;
pub mod iam;
pub mod inputs;
pub mod kms;
pub mod lambda;
pub mod logs;
#[cfg(all(test, feature = "aws"))]
mod mocked;
#[cfg(feature = "moto")]
pub mod moto;
#[cfg(feature = "aws")]
mod prelude;
pub mod resource;
pub mod s3;
#[cfg(feature = "aws")]
pub mod s3_fence;
#[cfg(feature = "aws")]
pub mod s3_state;
pub mod secretsmanager;
pub mod sns;
pub mod sqs;
pub mod ssm;
#[cfg(feature = "aws")]
pub mod wait;

#[cfg(feature = "aws")]
use std::sync::Arc;

#[cfg(feature = "aws")]
use stackr_engine::provider::Registry;

/// The tag that carries a create token on resources without a unique name, so an interrupted create is found
/// and adopted rather than made twice. Tags under `stackr:` are never reported as drift.
pub const TOKEN_TAG: &str = "stackr:create-token";

#[cfg(feature = "aws")]
fn typed<R: resource::Resource>(schema: stackr_engine::schema::ResourceSchema, resource: R) -> Arc<resource::Typed<R>> {
    Arc::new(resource::Typed::new(schema, resource))
}

/// Registers every implemented provider, built on one SDK configuration.
#[cfg(feature = "aws")]
pub fn attach(registry: &mut Registry, config: &aws_config::SdkConfig) {
    registry.set_identity(Arc::new(aws::StsIdentity::new(config)));
    registry.add_provider(typed(kms::key::schema(), kms::key::Key::new(config)));
    registry.add_provider(typed(kms::alias::schema(), kms::alias::Alias::new(config)));
    registry.add_provider(typed(secretsmanager::secret::schema(), secretsmanager::secret::Secret::new(config)));
    registry.add_provider(typed(dynamodb::table::schema(), dynamodb::table::Table::new(config)));
    registry.add_provider(typed(events::rule::schema(), events::rule::Rule::new(config)));
    registry.add_provider(typed(iam::policy::schema(), iam::policy::Policy::new(config)));
    registry.add_provider(typed(iam::role::schema(), iam::role::Role::new(config)));
    registry.add_provider(typed(logs::log_group::schema(), logs::log_group::LogGroup::new(config)));
    registry.add_provider(typed(lambda::function::schema(), lambda::function::Function::new(config)));
    let mapping = lambda::event_source_mapping::EventSourceMapping::new(config);
    registry.add_provider(typed(lambda::event_source_mapping::schema(), mapping));
    registry.add_provider(typed(lambda::permission::schema(), lambda::permission::Permission::new(config)));
    registry.add_provider(typed(apigateway::rest_api::schema(), apigateway::rest_api::RestApi::new(config)));
    registry.add_provider(typed(cloudwatch::dashboard::schema(), cloudwatch::dashboard::Dashboard::new(config)));
    registry.add_provider(typed(cloudwatch::alarm::schema(), cloudwatch::alarm::Alarm::new(config)));
    registry.add_provider(typed(s3::bucket::schema(), s3::bucket::Bucket::new(config)));
    registry.add_provider(typed(sns::topic::schema(), sns::topic::Topic::new(config)));
    registry.add_provider(typed(sns::subscription::schema(), sns::subscription::Subscription::new(config)));
    registry.add_provider(typed(sns::topic_policy::schema(), sns::topic_policy::TopicPolicy::new(config)));
    registry.add_provider(typed(sqs::queue::schema(), sqs::queue::Queue::new(config)));
    registry.add_provider(typed(ssm::parameter::schema(), ssm::parameter::Parameter::new(config)));
}
