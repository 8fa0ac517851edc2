//! `aws:kms:Alias`: a name for a key. The alias name is its id and is unique; `targetKeyId` is updated in place
//! (UpdateAlias). A target given as an ARN and reported by AWS as a key id is the same target.

use serde::Deserialize;
use stackr_engine::schema::{Property, ResourceSchema};

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:kms:Alias", "A friendly name for a KMS key")
        .property(Property::string("name").required().forces_replacement().describe("alias/..."))
        .property(Property::string("targetKeyId").required().describe("Key id or ARN the alias points at"))
        .output("arn", "The alias's ARN")
        .unique_name("name")
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct AliasInputs {
    name: String,
    target_key_id: String,
}

#[cfg(feature = "aws")]
pub use calls::Alias;

#[cfg(feature = "aws")]
mod calls {
    use super::AliasInputs;
    use crate::inputs::key_as_prior;
    use crate::prelude::*;

    sdk_type!(Alias, aws_sdk_kms::Client);

    #[async_trait]
    impl Resource for Alias {
        type Inputs = AliasInputs;

        async fn describe(&self, name: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
            let mut pages = self.client.list_aliases().into_paginator().items().send();
            while let Some(entry) = pages.next().await {
                let entry = entry.call("ListAliases")?;
                if entry.alias_name() != Some(name) {
                    continue;
                }
                let reported = entry.target_key_id().unwrap_or_default();
                // Keep the prior's form (ARN or id) when it names the same key.
                let target = key_as_prior(prior, "targetKeyId", reported);
                return Ok(Some(Live {
                    id: name.to_string(),
                    inputs: [("name".into(), Value::string(name)), ("targetKeyId".into(), target)].into(),
                    outputs: outputs([("arn", entry.alias_arn().map(str::to_string))]),
                    tags: None,
                }));
            }
            Ok(None)
        }

        async fn create(&self, input: &AliasInputs, _: &Tags) -> Result<Made, ProviderError> {
            let request = self.client.create_alias().alias_name(&input.name).target_key_id(&input.target_key_id);
            request.send().await.call("CreateAlias")?;
            Ok(input.name.clone().into())
        }

        async fn update(&self, id: &str, change: Update<'_, AliasInputs>) -> Result<(), ProviderError> {
            let request = self.client.update_alias().alias_name(id).target_key_id(&change.new.target_key_id);
            request.send().await.call("UpdateAlias").map(drop)
        }

        async fn delete(&self, id: &str, _: Option<&AliasInputs>) -> Result<(), ProviderError> {
            self.client.delete_alias().alias_name(id).send().await.call("DeleteAlias").map(drop)
        }

        async fn locate(&self, input: &AliasInputs, _: &str) -> Result<Option<String>, ProviderError> {
            Ok(Some(input.name.clone()))
        }
    }
}
