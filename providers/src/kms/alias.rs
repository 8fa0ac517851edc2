//! `aws:kms:Alias`: a name for a key. The alias name is its id and is unique; `targetKeyId` is updated in place
//! (UpdateAlias). A target given as an ARN and reported by AWS as a key id is the same target.

use stackr_engine::schema::{Property, ResourceSchema};

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:kms:Alias", "A friendly name for a KMS key")
        .property(Property::string("name").required().forces_replacement().describe("alias/..."))
        .property(Property::string("targetKeyId").required().describe("Key id or ARN the alias points at"))
        .output("arn", "The alias's ARN")
        .unique_name("name")
}

#[cfg(feature = "aws")]
pub use calls::AliasProvider;

/// The AWS calls (feature `aws`).
#[cfg(feature = "aws")]
mod calls {
    use async_trait::async_trait;
    use aws_sdk_kms::types::AliasListEntry;
    use aws_sdk_kms::Client;
    use serde::Deserialize;
    use stackr_engine::provider::{CallContext, Created, Observed, Provider, ProviderError};
    use stackr_engine::schema::ResourceSchema;
    use stackr_engine::value::Value;

    use crate::aws::{api_error, gone_is_done};
    use crate::inputs::{outputs, parse};

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct AliasInputs {
        name: String,
        target_key_id: String,
    }

    pub struct AliasProvider {
        schema: ResourceSchema,
        client: Client,
    }

    impl AliasProvider {
        pub fn new(config: &aws_config::SdkConfig) -> AliasProvider {
            AliasProvider { schema: super::schema(), client: Client::new(config) }
        }

        async fn entry(&self, name: &str) -> Result<Option<AliasListEntry>, ProviderError> {
            let aliases: Vec<AliasListEntry> = self
                .client
                .list_aliases()
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| api_error("ListAliases", e))?;
            Ok(aliases.into_iter().find(|a| a.alias_name() == Some(name)))
        }

        async fn observe(&self, name: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            let Some(entry) = self.entry(name).await? else { return Ok(None) };
            let reported = entry.target_key_id().unwrap_or_default().to_string();
            // Keep the prior's form (ARN or id) when it names the same key.
            let target = match prior.as_map().and_then(|m| m.get("targetKeyId")).and_then(Value::as_str) {
                Some(p) if p == reported || p.ends_with(&format!("/{reported}")) => p.to_string(),
                _ => reported,
            };
            Ok(Some(Observed {
                create_token: None,
                id: name.to_string(),
                inputs: Value::Map(
                    [("name".to_string(), Value::string(name)), ("targetKeyId".to_string(), Value::String(target))]
                        .into(),
                ),
                outputs: outputs([("arn", entry.alias_arn().map(str::to_string))]),
            }))
        }
    }

    #[async_trait]
    impl Provider for AliasProvider {
        fn schema(&self) -> &ResourceSchema {
            &self.schema
        }

        async fn create(&self, _: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
            let input: AliasInputs = parse(self.schema.type_name, inputs)?;
            self.client
                .create_alias()
                .alias_name(&input.name)
                .target_key_id(&input.target_key_id)
                .send()
                .await
                .map_err(|e| api_error("CreateAlias", e))?;
            let observed = self
                .observe(&input.name, inputs)
                .await?
                .ok_or_else(|| ProviderError::Other(format!("alias {} not listed after CreateAlias", input.name)))?;
            Ok(Created { id: input.name, outputs: observed.outputs })
        }

        async fn read(&self, _: &CallContext, id: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            self.observe(id, prior).await
        }

        async fn update(
            &self,
            _: &CallContext,
            id: &str,
            _: &Value,
            desired: &Value,
            _: &[String],
        ) -> Result<Value, ProviderError> {
            let input: AliasInputs = parse(self.schema.type_name, desired)?;
            self.client
                .update_alias()
                .alias_name(id)
                .target_key_id(&input.target_key_id)
                .send()
                .await
                .map_err(|e| api_error("UpdateAlias", e))?;
            Ok(self.observe(id, desired).await?.map(|o| o.outputs).unwrap_or(Value::Null))
        }

        async fn delete(&self, _: &CallContext, id: &str, _: &Value) -> Result<(), ProviderError> {
            gone_is_done(
                self.client
                    .delete_alias()
                    .alias_name(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error("DeleteAlias", e)),
            )
        }

        async fn import(&self, _: &CallContext, id: &str) -> Result<Option<Observed>, ProviderError> {
            self.observe(id, &Value::Null).await
        }

        async fn find(&self, _: &CallContext, inputs: &Value, _: &str) -> Result<Option<Observed>, ProviderError> {
            let input: AliasInputs = parse(self.schema.type_name, inputs)?;
            self.observe(&input.name, inputs).await
        }
    }
}
