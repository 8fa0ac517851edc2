//! The seam between the engine and the clouds it manages: the [`Provider`] trait one resource type
//! implements, and the [`Registry`] of types the engine knows.
//!
//! A registry is made knowing every schema (the provider crate's `catalog`, which needs no AWS code), so
//! `validate` and `plan` work without any AWS call; implementations are attached by type name. Applying a type
//! without an implementation is an error, never a silent success.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;

use crate::schema::ResourceSchema;
use crate::value::Value;

/// What a provider call knows about where it runs.
#[derive(Debug, Clone)]
pub struct CallContext {
    pub stack: String,
    /// The logical name of the resource in the stack.
    pub resource: String,
    /// A token unique to this create attempt. Providers tag what they create with it where AWS allows, so a run
    /// that died between the call and recording its result can find and adopt the resource.
    pub create_token: Option<String>,
    /// For a create: told the id as soon as AWS has assigned it, before the calls that complete the resource.
    pub made: Option<MadeRecorder>,
}

/// Records the id of a resource a create has made, before its configuration calls: apply journals it, so that a
/// run killed in between knows the resource by its id and never needs to search for it.
#[async_trait]
pub trait RecordMade: Send + Sync {
    async fn made(&self, id: &str) -> Result<(), String>;
}

#[derive(Clone)]
pub struct MadeRecorder(pub Arc<dyn RecordMade>);

impl std::fmt::Debug for MadeRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MadeRecorder")
    }
}

/// A resource that now exists.
#[derive(Debug, Clone, PartialEq)]
pub struct Created {
    pub id: String,
    pub outputs: Value,
}

/// What AWS says a resource looks like now, in the user's form (normalised so that an unchanged resource
/// reads back equal to its inputs).
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub id: String,
    pub inputs: Value,
    pub outputs: Value,
    /// The create token the resource carries (a `stackr:create-token` tag), where the type can carry one: how
    /// `find` tells the resource an interrupted or failed create made from another of the same name.
    pub create_token: Option<String>,
}

pub use crate::provider_error::{ErrorClass, ProviderError};

#[async_trait]
pub trait Provider: Send + Sync {
    fn schema(&self) -> &ResourceSchema;

    /// Pure: puts desired inputs in canonical form before they are diffed (e.g. an ARN where AWS accepts an
    /// id). The default keeps them as written.
    fn normalize(&self, inputs: Value) -> Value {
        inputs
    }

    async fn create(&self, cx: &CallContext, inputs: &Value) -> Result<Created, ProviderError>;

    /// `Ok(None)` when the resource is gone.
    async fn read(&self, cx: &CallContext, id: &str, prior_inputs: &Value) -> Result<Option<Observed>, ProviderError>;

    /// Applies in place the properties named in `changed` (top-level names); returns the new outputs.
    async fn update(
        &self,
        cx: &CallContext,
        id: &str,
        prior: &Value,
        desired: &Value,
        changed: &[String],
    ) -> Result<Value, ProviderError>;

    async fn delete(&self, cx: &CallContext, id: &str, prior: &Value) -> Result<(), ProviderError>;

    /// Looks a resource up by the id, ARN or name a user gives to `stackr import`.
    async fn import(&self, cx: &CallContext, id: &str) -> Result<Option<Observed>, ProviderError>;

    /// Finds what an interrupted create may have made, by name or by its create token.
    async fn find(&self, cx: &CallContext, inputs: &Value, token: &str) -> Result<Option<Observed>, ProviderError>;
}

/// Where the configured credentials act: every provider call goes to this account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub account: String,
    pub region: String,
}

/// Who the providers act as. Refresh asks before it reads: in another account or region every read would
/// report the stack's resources gone, and the next apply would create them all again there.
#[async_trait]
pub trait Identity: Send + Sync {
    async fn caller(&self) -> Result<Caller, ProviderError>;
}

/// Whether this run still holds the stack's lock, asked right before every provider call that changes AWS. A
/// remote lock can be lost while its holder is paused or cut off (and then removed by `stackr state unlock`): a
/// run that resumes must not act on a stack someone else may hold by now.
#[async_trait]
pub trait LockCheck: Send + Sync {
    /// `Err` (saying why) once the lock is no longer this run's.
    async fn still_held(&self) -> Result<(), String>;
}

/// One resource type the engine knows: its schema and, when this build has one, its implementation.
#[derive(Clone)]
pub struct RegisteredType {
    pub schema: Arc<ResourceSchema>,
    pub provider: Option<Arc<dyn Provider>>,
}

/// Every resource type, by name (`aws:dynamodb:Table`).
#[derive(Clone, Default)]
pub struct Registry {
    types: BTreeMap<String, RegisteredType>,
    identity: Option<Arc<dyn Identity>>,
}

impl Registry {
    pub fn add_schema(&mut self, schema: ResourceSchema) {
        self.types.insert(schema.type_name.to_string(), RegisteredType { schema: Arc::new(schema), provider: None });
    }

    /// Registers an implementation; its schema replaces any schema-only entry of the same type.
    pub fn add_provider(&mut self, provider: Arc<dyn Provider>) {
        let schema = Arc::new(provider.schema().clone());
        self.types.insert(schema.type_name.to_string(), RegisteredType { schema, provider: Some(provider) });
    }

    /// Sets who the providers act as (the AWS account and region of their configuration).
    pub fn set_identity(&mut self, identity: Arc<dyn Identity>) {
        self.identity = Some(identity);
    }

    pub fn identity(&self) -> Option<&Arc<dyn Identity>> {
        self.identity.as_ref()
    }

    pub fn get(&self, type_name: &str) -> Option<&RegisteredType> {
        self.types.get(type_name)
    }

    pub fn schema(&self, type_name: &str) -> Option<&ResourceSchema> {
        self.types.get(type_name).map(|t| t.schema.as_ref())
    }

    pub fn type_names(&self) -> impl Iterator<Item = &str> {
        self.types.keys().map(String::as_str)
    }

    pub fn provider(&self, type_name: &str) -> Result<Arc<dyn Provider>, ProviderError> {
        self.types
            .get(type_name)
            .and_then(|t| t.provider.clone())
            .ok_or_else(|| ProviderError::Unsupported { type_name: type_name.to_string() })
    }
}
