//! `aws:cloudwatch:LogGroup`.
//!
//! Create: CreateLogGroup (with KMS key and tags), then the retention policy. Update in place: retention
//! (put or deleted: never expire) and tags. Replace: name, and kmsKeyId (changing the key of an existing group
//! is not offered: AssociateKmsKey is missing from moto, and a new group is the honest equivalent). Holds data.
//! The `arn` output is the log group ARN without the trailing `:*`.

use serde::Deserialize;
use stackr_engine::schema::{Property, ResourceSchema};

const RETENTION_DAYS: &[&str] = &[
    "1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545", "731", "1096", "1827",
    "2192", "2557", "2922", "3288", "3653",
];

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:cloudwatch:LogGroup", "A CloudWatch Logs log group")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::integer("retentionInDays").allowed(RETENTION_DAYS).describe("Absent: never expire"))
        .property(Property::string("kmsKeyId").forces_replacement().describe("KMS key ARN for the log data"))
        .property(Property::tags())
        .output("arn", "The log group's ARN (without the trailing :*)")
        .holds_data()
        .unique_name("name")
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct LogGroupInputs {
    name: String,
    retention_in_days: Option<i32>,
    kms_key_id: Option<String>,
}

#[cfg(feature = "aws")]
pub use calls::LogGroup;

#[cfg(feature = "aws")]
mod calls {
    use crate::prelude::*;
    use aws_sdk_cloudwatchlogs::Client;

    use super::LogGroupInputs;
    use crate::inputs::key_as_prior;

    sdk_type!(LogGroup, Client);

    impl LogGroup {
        async fn set_retention(&self, name: &str, days: Option<i32>) -> Result<(), ProviderError> {
            match days {
                Some(days) => {
                    let request = self.client.put_retention_policy().log_group_name(name).retention_in_days(days);
                    request.send().await.call("PutRetentionPolicy")?;
                }
                None => {
                    let request = self.client.delete_retention_policy().log_group_name(name);
                    request.send().await.call("DeleteRetentionPolicy")?;
                }
            }
            Ok(())
        }
    }

    #[async_trait]
    impl Resource for LogGroup {
        type Inputs = LogGroupInputs;

        async fn describe(&self, name: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
            let out = self.client.describe_log_groups().log_group_name_prefix(name).send().await;
            let groups = out.call("DescribeLogGroups")?.log_groups.unwrap_or_default();
            let Some(group) = groups.into_iter().find(|g| g.log_group_name() == Some(name)) else { return Ok(None) };
            let arn = group
                .log_group_arn()
                .map(str::to_string)
                .or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_string()))
                .unwrap_or_default();
            let listed = self.client.list_tags_for_resource().resource_arn(&arn).send().await;
            let tags = listed.call("ListTagsForResource")?.tags.unwrap_or_default();
            let mut inputs: std::collections::BTreeMap<String, Value> = [("name".into(), Value::string(name))].into();
            if let Some(days) = group.retention_in_days() {
                inputs.insert("retentionInDays".into(), Value::from(i64::from(days)));
            }
            if let Some(reported) = group.kms_key_id() {
                let key = key_as_prior(prior, "kmsKeyId", reported);
                inputs.insert("kmsKeyId".into(), key);
            }
            let outputs = outputs([("arn", Some(arn))]);
            Ok(Some(Live { id: name.to_string(), inputs, outputs, tags: Some(tags.into_iter().collect()) }))
        }

        async fn create(&self, input: &LogGroupInputs, tags: &Tags) -> Result<Made, ProviderError> {
            let request =
                self.client.create_log_group().log_group_name(&input.name).set_kms_key_id(input.kms_key_id.clone());
            let request = request.set_tags(Some(tags.clone().into_iter().collect()));
            request.send().await.call("CreateLogGroup")?;
            Ok(input.name.clone().into())
        }

        async fn configure(&self, name: &str, input: &LogGroupInputs) -> Result<(), ProviderError> {
            match input.retention_in_days {
                Some(days) => self.set_retention(name, Some(days)).await,
                None => Ok(()),
            }
        }

        async fn update(&self, name: &str, change: Update<'_, LogGroupInputs>) -> Result<(), ProviderError> {
            if change.any(&["retentionInDays"]) {
                self.set_retention(name, change.new.retention_in_days).await?;
            }
            Ok(())
        }

        async fn tag(&self, _: &str, outputs: &Value, set: &Tags) -> Result<(), ProviderError> {
            let arn = output_str(outputs, "arn");
            let request =
                self.client.tag_resource().resource_arn(arn).set_tags(Some(set.clone().into_iter().collect()));
            request.send().await.call("TagResource").map(drop)
        }

        async fn untag(&self, _: &str, outputs: &Value, keys: &[String]) -> Result<(), ProviderError> {
            let arn = output_str(outputs, "arn");
            let request = self.client.untag_resource().resource_arn(arn).set_tag_keys(Some(keys.to_vec()));
            request.send().await.call("UntagResource").map(drop)
        }

        async fn delete(&self, name: &str, _: Option<&LogGroupInputs>) -> Result<(), ProviderError> {
            self.client.delete_log_group().log_group_name(name).send().await.call("DeleteLogGroup").map(drop)
        }

        async fn locate(&self, input: &LogGroupInputs, _: &str) -> Result<Option<String>, ProviderError> {
            Ok(Some(input.name.clone()))
        }

        async fn import_id(&self, given: &str) -> Result<Option<String>, ProviderError> {
            // arn:aws:logs:REGION:ACCOUNT:log-group:NAME[:*]
            let name = match given.strip_prefix("arn:") {
                Some(_) => given.trim_end_matches(":*").rsplit(":log-group:").next().unwrap_or(given),
                None => given,
            };
            Ok(Some(name.to_string()))
        }
    }
}
