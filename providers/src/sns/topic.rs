//! `aws:sns:Topic`. Display name and KMS key change through SetTopicAttributes, tags in place; the name forces
//! replacement. The id is the topic ARN.

use stackr_engine::schema::{Property, ResourceSchema};

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:sns:Topic", "An SNS topic")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("displayName").default(""))
        .property(Property::string("kmsMasterKeyId").describe("KMS key id, ARN or alias"))
        .property(Property::tags())
        .output("arn", "The topic's ARN")
        .unique_name("name")
        .create_overwrites()
}

#[cfg(feature = "aws")]
pub use calls::TopicProvider;

/// The AWS calls (feature `aws`).
#[cfg(feature = "aws")]
mod calls {
    use std::collections::BTreeMap;

    use async_trait::async_trait;
    use aws_sdk_sns::types::Tag;
    use aws_sdk_sns::Client;
    use serde::Deserialize;
    use stackr_engine::provider::{CallContext, Created, Observed, Provider, ProviderError};
    use stackr_engine::schema::ResourceSchema;
    use stackr_engine::value::Value;

    use crate::aws::{api_error, gone_is_done, is_not_found};
    use crate::inputs::{outputs, parse, prior_field, same_key, tag_changes, tags_value};

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct TopicInputs {
        name: String,
        #[serde(default)]
        display_name: String,
        kms_master_key_id: Option<String>,
        #[serde(default)]
        tags: BTreeMap<String, String>,
    }

    pub struct TopicProvider {
        schema: ResourceSchema,
        client: Client,
    }

    fn tag(k: &str, v: &str) -> Result<Tag, ProviderError> {
        Tag::builder().key(k).value(v).build().map_err(|e| ProviderError::Invalid(e.to_string()))
    }

    impl TopicProvider {
        pub fn new(config: &aws_config::SdkConfig) -> TopicProvider {
            TopicProvider::with_client(Client::new(config))
        }

        /// A provider on a given client (tests use mocked clients).
        pub fn with_client(client: Client) -> TopicProvider {
            TopicProvider { schema: super::schema(), client }
        }

        async fn observe(&self, arn: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            let attributes = match self.client.get_topic_attributes().topic_arn(arn).send().await {
                Ok(out) => out.attributes.unwrap_or_default(),
                Err(e) => {
                    let error = api_error("GetTopicAttributes", e);
                    return if is_not_found(&error) { Ok(None) } else { Err(error) };
                }
            };
            let tags_out = self
                .client
                .list_tags_for_resource()
                .resource_arn(arn)
                .send()
                .await
                .map_err(|e| api_error("ListTagsForResource", e))?;
            let mut tags: BTreeMap<String, String> =
                tags_out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            let create_token = crate::inputs::split_stackr_tags(&mut tags);
            let name = arn.rsplit(':').next().unwrap_or(arn);
            let mut inputs = BTreeMap::from([
                ("name".to_string(), Value::string(name)),
                (
                    "displayName".to_string(),
                    Value::string(attributes.get("DisplayName").map(String::as_str).unwrap_or("")),
                ),
            ]);
            if let Some(reported) = attributes.get("KmsMasterKeyId").filter(|k| !k.is_empty()) {
                let key = match prior_field(prior, "kmsMasterKeyId").and_then(Value::as_str) {
                    Some(p) if same_key(p, reported) => p.to_string(),
                    _ => reported.clone(),
                };
                inputs.insert("kmsMasterKeyId".into(), Value::String(key));
            }
            if let Some(tags) = tags_value(tags) {
                inputs.insert("tags".into(), tags);
            }
            Ok(Some(Observed {
                create_token,
                id: arn.to_string(),
                inputs: Value::Map(inputs),
                outputs: outputs([("arn", Some(arn.to_string()))]),
            }))
        }

        async fn by_name(&self, name: &str) -> Result<Option<String>, ProviderError> {
            let topics: Vec<_> = self
                .client
                .list_topics()
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| api_error("ListTopics", e))?;
            Ok(topics.into_iter().filter_map(|t| t.topic_arn).find(|arn| arn.rsplit(':').next() == Some(name)))
        }
    }

    #[async_trait]
    impl Provider for TopicProvider {
        fn schema(&self) -> &ResourceSchema {
            &self.schema
        }

        async fn create(&self, cx: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
            let input: TopicInputs = parse(self.schema.type_name, inputs)?;
            let mut request = self.client.create_topic().name(&input.name);
            if !input.display_name.is_empty() {
                request = request.attributes("DisplayName", &input.display_name);
            }
            if let Some(key) = &input.kms_master_key_id {
                request = request.attributes("KmsMasterKeyId", key);
            }
            for (k, v) in &crate::inputs::with_token(&input.tags, cx) {
                request = request.tags(tag(k, v)?);
            }
            let created = request.send().await.map_err(|e| api_error("CreateTopic", e))?;
            let arn = created.topic_arn().unwrap_or_default().to_string();
            Ok(Created { id: arn.clone(), outputs: outputs([("arn", Some(arn))]) })
        }

        async fn read(&self, _: &CallContext, id: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            self.observe(id, prior).await
        }

        async fn update(
            &self,
            _: &CallContext,
            id: &str,
            prior: &Value,
            desired: &Value,
            changed: &[String],
        ) -> Result<Value, ProviderError> {
            let old: TopicInputs = parse(self.schema.type_name, prior)?;
            let new: TopicInputs = parse(self.schema.type_name, desired)?;
            if changed.iter().any(|c| c == "displayName") {
                self.client
                    .set_topic_attributes()
                    .topic_arn(id)
                    .attribute_name("DisplayName")
                    .attribute_value(&new.display_name)
                    .send()
                    .await
                    .map_err(|e| api_error("SetTopicAttributes", e))?;
            }
            if changed.iter().any(|c| c == "kmsMasterKeyId") {
                let key = new.kms_master_key_id.clone().unwrap_or_default();
                self.client
                    .set_topic_attributes()
                    .topic_arn(id)
                    .attribute_name("KmsMasterKeyId")
                    .attribute_value(key)
                    .send()
                    .await
                    .map_err(|e| api_error("SetTopicAttributes", e))?;
            }
            if changed.iter().any(|c| c == "tags") {
                let (set, remove) = tag_changes(&old.tags, &new.tags);
                if !set.is_empty() {
                    let tags: Result<Vec<Tag>, _> = set.iter().map(|(k, v)| tag(k, v)).collect();
                    self.client
                        .tag_resource()
                        .resource_arn(id)
                        .set_tags(Some(tags?))
                        .send()
                        .await
                        .map_err(|e| api_error("TagResource", e))?;
                }
                if !remove.is_empty() {
                    self.client
                        .untag_resource()
                        .resource_arn(id)
                        .set_tag_keys(Some(remove))
                        .send()
                        .await
                        .map_err(|e| api_error("UntagResource", e))?;
                }
            }
            Ok(outputs([("arn", Some(id.to_string()))]))
        }

        async fn delete(&self, _: &CallContext, id: &str, _: &Value) -> Result<(), ProviderError> {
            gone_is_done(
                self.client
                    .delete_topic()
                    .topic_arn(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error("DeleteTopic", e)),
            )
        }

        async fn import(&self, _: &CallContext, id: &str) -> Result<Option<Observed>, ProviderError> {
            let arn = if id.starts_with("arn:") { Some(id.to_string()) } else { self.by_name(id).await? };
            match arn {
                Some(arn) => self.observe(&arn, &Value::Null).await,
                None => Ok(None),
            }
        }

        async fn find(&self, _: &CallContext, inputs: &Value, token: &str) -> Result<Option<Observed>, ProviderError> {
            let input: TopicInputs = parse(self.schema.type_name, inputs)?;
            // Only what this create made: a topic of the same name made by anyone else is not adopted.
            match self.by_name(&input.name).await? {
                Some(arn) => Ok(self.observe(&arn, inputs).await?.filter(|o| o.create_token.as_deref() == Some(token))),
                None => Ok(None),
            }
        }
    }
}
