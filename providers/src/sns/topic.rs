//! `aws:sns:Topic`. Display name and KMS key change through SetTopicAttributes, tags in place; the name forces
//! replacement. The id is the topic ARN.

use serde::Deserialize;
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct TopicInputs {
    name: String,
    #[serde(default)]
    display_name: String,
    kms_master_key_id: Option<String>,
}

#[cfg(feature = "aws")]
pub use calls::Topic;

#[cfg(feature = "aws")]
mod calls {
    use crate::prelude::*;
    use aws_sdk_sns::types::Tag;
    use aws_sdk_sns::Client;

    use super::TopicInputs;
    use crate::inputs::key_as_prior;

    sdk_type!(Topic, Client);

    fn tag(k: &str, v: &str) -> Result<Tag, ProviderError> {
        built(Tag::builder().key(k).value(v).build())
    }

    impl Topic {
        async fn by_name(&self, name: &str) -> Result<Option<String>, ProviderError> {
            let mut pages = self.client.list_topics().into_paginator().items().send();
            while let Some(topic) = pages.next().await {
                let arn = topic.call("ListTopics")?.topic_arn.unwrap_or_default();
                if arn.rsplit(':').next() == Some(name) {
                    return Ok(Some(arn));
                }
            }
            Ok(None)
        }

        async fn set_attribute(&self, arn: &str, name: &str, value: &str) -> Result<(), ProviderError> {
            let request = self.client.set_topic_attributes().topic_arn(arn).attribute_name(name).attribute_value(value);
            request.send().await.call("SetTopicAttributes").map(drop)
        }
    }

    #[async_trait]
    impl Resource for Topic {
        type Inputs = TopicInputs;

        async fn describe(&self, arn: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
            let out = self.client.get_topic_attributes().topic_arn(arn).send().await;
            let attributes = out.call("GetTopicAttributes")?.attributes.unwrap_or_default();
            let listed = self.client.list_tags_for_resource().resource_arn(arn).send().await;
            let listed = listed.call("ListTagsForResource")?;
            let tags = listed.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            let display = attributes.get("DisplayName").map(String::as_str).unwrap_or("");
            let mut inputs = [
                ("name".to_string(), Value::string(arn.rsplit(':').next().unwrap_or(arn))),
                ("displayName".to_string(), Value::string(display)),
            ]
            .into_iter()
            .collect::<std::collections::BTreeMap<_, _>>();
            if let Some(reported) = attributes.get("KmsMasterKeyId").filter(|k| !k.is_empty()) {
                let key = key_as_prior(prior, "kmsMasterKeyId", reported);
                inputs.insert("kmsMasterKeyId".into(), key);
            }
            let outputs = outputs([("arn", Some(arn.to_string()))]);
            Ok(Some(Live { id: arn.to_string(), inputs, outputs, tags: Some(tags) }))
        }

        async fn create(&self, input: &TopicInputs, tags: &Tags) -> Result<Made, ProviderError> {
            let mut request = self.client.create_topic().name(&input.name);
            if !input.display_name.is_empty() {
                request = request.attributes("DisplayName", &input.display_name);
            }
            if let Some(key) = &input.kms_master_key_id {
                request = request.attributes("KmsMasterKeyId", key);
            }
            for (k, v) in tags {
                request = request.tags(tag(k, v)?);
            }
            let created = request.send().await.call("CreateTopic")?;
            let arn = created.topic_arn().unwrap_or_default().to_string();
            Ok(Made { outputs: Some(outputs([("arn", Some(arn.clone()))])), id: arn })
        }

        async fn update(&self, arn: &str, change: Update<'_, TopicInputs>) -> Result<(), ProviderError> {
            if change.any(&["displayName"]) {
                self.set_attribute(arn, "DisplayName", &change.new.display_name).await?;
            }
            if change.any(&["kmsMasterKeyId"]) {
                self.set_attribute(arn, "KmsMasterKeyId", change.new.kms_master_key_id.as_deref().unwrap_or_default())
                    .await?;
            }
            Ok(())
        }

        async fn tag(&self, arn: &str, _: &Value, set: &Tags) -> Result<(), ProviderError> {
            let tags = set.iter().map(|(k, v)| tag(k, v)).collect::<Result<Vec<_>, _>>()?;
            let request = self.client.tag_resource().resource_arn(arn).set_tags(Some(tags));
            request.send().await.call("TagResource").map(drop)
        }

        async fn untag(&self, arn: &str, _: &Value, keys: &[String]) -> Result<(), ProviderError> {
            let request = self.client.untag_resource().resource_arn(arn).set_tag_keys(Some(keys.to_vec()));
            request.send().await.call("UntagResource").map(drop)
        }

        async fn delete(&self, arn: &str, _: Option<&TopicInputs>) -> Result<(), ProviderError> {
            self.client.delete_topic().topic_arn(arn).send().await.call("DeleteTopic").map(drop)
        }

        async fn locate(&self, input: &TopicInputs, _: &str) -> Result<Option<String>, ProviderError> {
            self.by_name(&input.name).await
        }

        async fn import_id(&self, given: &str) -> Result<Option<String>, ProviderError> {
            if given.starts_with("arn:") {
                return Ok(Some(given.to_string()));
            }
            self.by_name(given).await
        }
    }
}
