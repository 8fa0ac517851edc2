//! `aws:ssm:Parameter`: a Parameter Store parameter. Its id is its name.
//!
//! The value is secret whatever the type (as Terraform treats it): never printed, encrypted in the state; a
//! `SecureString` is also encrypted by SSM with `keyId` (or the account's `alias/aws/ssm`). Value, description,
//! key and tier are updated in place (PutParameter with Overwrite); name and type force a replacement.

use serde::Deserialize;
use stackr_engine::schema::{Property, ResourceSchema};
use stackr_engine::value::Value;

const TYPES: &[&str] = &["String", "StringList", "SecureString"];
const TIERS: &[&str] = &["Standard", "Advanced", "Intelligent-Tiering"];

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:ssm:Parameter", "A Systems Manager Parameter Store parameter")
        .property(Property::string("name").required().forces_replacement().describe("`/app/db-url` or `name`"))
        .property(Property::string("type").default("String").allowed(TYPES).forces_replacement())
        .property(Property::string("value").required().secret().describe("Secret: never shown in plans"))
        .property(Property::string("description").default(""))
        .property(Property::string("keyId").describe("KMS key for a SecureString (default alias/aws/ssm)"))
        .property(Property::string("tier").default("Standard").allowed(TIERS))
        .property(Property::tags())
        .output("arn", "The parameter's ARN")
        .volatile_output("version", "The parameter's version, one more on every change of its value")
        .unique_name("name")
        .rules(rules)
}

/// A key encrypts only a SecureString.
fn rules(inputs: &Value) -> Vec<(String, String)> {
    let field = |k: &str| inputs.as_map().and_then(|m| m.get(k));
    match (field("type").and_then(Value::as_str), field("keyId")) {
        (Some(kind), Some(_)) if kind != "SecureString" => {
            vec![("keyId".into(), format!("a {kind} parameter is not encrypted: keyId is for type SecureString"))]
        }
        _ => Vec::new(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct ParameterInputs {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    value: String,
    #[serde(default)]
    description: String,
    key_id: Option<String>,
    tier: String,
}

#[cfg(feature = "aws")]
pub use calls::Parameter;

#[cfg(feature = "aws")]
mod calls {
    use std::collections::BTreeMap;

    use crate::prelude::*;
    use aws_sdk_ssm::types::{ParameterStringFilter, ParameterTier, ParameterType, ResourceTypeForTagging, Tag};
    use aws_sdk_ssm::Client;

    use super::ParameterInputs;
    use crate::inputs::key_as_prior;

    sdk_type!(Parameter, Client);

    impl Parameter {
        /// PutParameter: a create (`overwrite` false, with the tags) or an update.
        async fn put(&self, input: &ParameterInputs, overwrite: bool, tags: &Tags) -> Result<(), ProviderError> {
            let request = self.client.put_parameter().name(&input.name).value(&input.value);
            let request = request.r#type(ParameterType::from(input.kind.as_str())).overwrite(overwrite);
            let request = request.description(&input.description).tier(ParameterTier::from(input.tier.as_str()));
            // A SecureString with no `keyId` uses SSM's own key, also when the stack dropped a custom one.
            let key = input.key_id.clone().unwrap_or_else(|| "alias/aws/ssm".to_string());
            let mut request = request.set_key_id(Some(key).filter(|_| input.kind == "SecureString"));
            for (k, v) in tags {
                request = request.tags(built(Tag::builder().key(k).value(v).build())?);
            }
            request.send().await.call("PutParameter").map(drop)
        }
    }

    #[async_trait]
    impl Resource for Parameter {
        type Inputs = ParameterInputs;

        async fn describe(&self, name: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
            let request = self.client.get_parameter().name(name).with_decryption(true);
            let Some(parameter) = found(request.send().await.call("GetParameter"))?.and_then(|o| o.parameter) else {
                return Ok(None);
            };
            let filter = ParameterStringFilter::builder().key("Name").option("Equals").values(name).build();
            let request = self.client.describe_parameters().parameter_filters(built(filter)?);
            let described = request.send().await.call("DescribeParameters")?;
            let metadata = described.parameters().first();
            let kind = parameter.r#type().map(|t| t.as_str()).unwrap_or("String");
            let mut inputs = BTreeMap::from([
                ("name".to_string(), Value::string(parameter.name().unwrap_or(name))),
                ("type".to_string(), Value::string(kind)),
                ("value".to_string(), Value::string(parameter.value().unwrap_or_default()).into_secret()),
                ("description".to_string(), Value::string(metadata.and_then(|m| m.description()).unwrap_or(""))),
                (
                    "tier".to_string(),
                    Value::string(metadata.and_then(|m| m.tier()).map(|t| t.as_str()).unwrap_or("Standard")),
                ),
            ]);
            // The key is reported for a SecureString only, and only compared when the stack names one.
            if let (Some(key), true) = (metadata.and_then(|m| m.key_id()), prior_field(prior, "keyId").is_some()) {
                inputs.insert("keyId".into(), key_as_prior(prior, "keyId", key));
            }
            let request = self.client.list_tags_for_resource().resource_type(ResourceTypeForTagging::Parameter);
            let listed = request.resource_id(name).send().await.call("ListTagsForResource")?;
            let tags = listed.tag_list().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            let outputs = Value::Map(BTreeMap::from([
                ("arn".to_string(), parameter.arn().map(Value::string).unwrap_or(Value::Null)),
                ("version".to_string(), Value::from(parameter.version())),
            ]));
            Ok(Some(Live { id: name.to_string(), inputs, outputs, tags: Some(tags) }))
        }

        async fn create(&self, input: &ParameterInputs, tags: &Tags) -> Result<Made, ProviderError> {
            self.put(input, false, tags).await?;
            Ok(input.name.clone().into())
        }

        async fn update(&self, _: &str, change: Update<'_, ParameterInputs>) -> Result<(), ProviderError> {
            self.put(change.new, true, &Tags::new()).await
        }

        async fn tag(&self, name: &str, _: &Value, set: &Tags) -> Result<(), ProviderError> {
            let tags = set.iter().map(|(k, v)| built(Tag::builder().key(k).value(v).build()));
            let tags = tags.collect::<Result<Vec<_>, _>>()?;
            let request = self.client.add_tags_to_resource().resource_type(ResourceTypeForTagging::Parameter);
            request.resource_id(name).set_tags(Some(tags)).send().await.call("AddTagsToResource").map(drop)
        }

        async fn untag(&self, name: &str, _: &Value, keys: &[String]) -> Result<(), ProviderError> {
            let request = self.client.remove_tags_from_resource().resource_type(ResourceTypeForTagging::Parameter);
            let request = request.resource_id(name).set_tag_keys(Some(keys.to_vec()));
            request.send().await.call("RemoveTagsFromResource").map(drop)
        }

        async fn delete(&self, name: &str, _: Option<&ParameterInputs>) -> Result<(), ProviderError> {
            self.client.delete_parameter().name(name).send().await.call("DeleteParameter").map(drop)
        }

        async fn locate(&self, input: &ParameterInputs, _: &str) -> Result<Option<String>, ProviderError> {
            Ok(Some(input.name.clone()))
        }

        /// A name, or an ARN (`…:parameter/app/url` names `/app/url`; `…:parameter/url` names `url` or `/url`).
        async fn import_id(&self, given: &str) -> Result<Option<String>, ProviderError> {
            let Some((_, path)) = given.split_once(":parameter/").filter(|_| given.starts_with("arn:")) else {
                return Ok(Some(given.to_string()));
            };
            // The ARN of `x` and of `/x` is the same: with both there, only the name tells which is meant.
            let mut named = Vec::new();
            for name in [format!("/{path}"), path.to_string()] {
                let out = self.client.get_parameter().name(&name).send().await.call("GetParameter");
                if found(out)?.is_some() {
                    named.push(name);
                }
            }
            if named.len() > 1 {
                return Err(ProviderError::Invalid(format!(
                    "{given} is the ARN of both `{}` and `{}`: import by name",
                    named[0], named[1]
                )));
            }
            Ok(named.pop())
        }
    }
}
