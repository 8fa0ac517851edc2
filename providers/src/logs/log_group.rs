//! `aws:cloudwatch:LogGroup`.
//!
//! Create: CreateLogGroup (with KMS key and tags), then the retention policy. Update in place: retention
//! (put or deleted: never expire) and tags. Replace: name, and kmsKeyId (changing the key of an existing group
//! is not offered: AssociateKmsKey is missing from moto, and a new group is the honest equivalent). Holds data.
//! The `arn` output is the log group ARN without the trailing `:*`.

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

#[cfg(feature = "aws")]
pub use calls::LogGroupProvider;

/// The AWS calls (feature `aws`).
#[cfg(feature = "aws")]
mod calls {
    use std::collections::BTreeMap;

    use async_trait::async_trait;
    use aws_sdk_cloudwatchlogs::types::LogGroup;
    use aws_sdk_cloudwatchlogs::Client;
    use serde::Deserialize;
    use stackr_engine::provider::{CallContext, Created, Observed, Provider, ProviderError};
    use stackr_engine::schema::ResourceSchema;
    use stackr_engine::value::Value;

    use crate::aws::{api_error, is_not_found, still_there};
    use crate::inputs::{outputs, parse, prior_field, same_key, tag_changes, tags_value};

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct LogGroupInputs {
        name: String,
        retention_in_days: Option<i32>,
        kms_key_id: Option<String>,
        #[serde(default)]
        tags: BTreeMap<String, String>,
    }

    pub struct LogGroupProvider {
        schema: ResourceSchema,
        client: Client,
    }

    fn arn_of(group: &LogGroup) -> Option<String> {
        group.log_group_arn().map(str::to_string).or_else(|| group.arn().map(|a| a.trim_end_matches(":*").to_string()))
    }

    impl LogGroupProvider {
        pub fn new(config: &aws_config::SdkConfig) -> LogGroupProvider {
            LogGroupProvider { schema: super::schema(), client: Client::new(config) }
        }

        async fn group(&self, name: &str) -> Result<Option<LogGroup>, ProviderError> {
            let out = self
                .client
                .describe_log_groups()
                .log_group_name_prefix(name)
                .send()
                .await
                .map_err(|e| api_error("DescribeLogGroups", e))?;
            Ok(out.log_groups.unwrap_or_default().into_iter().find(|g| g.log_group_name() == Some(name)))
        }

        async fn observe(&self, name: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            let Some(group) = self.group(name).await? else { return Ok(None) };
            let arn = arn_of(&group).unwrap_or_default();
            let tags_out = self
                .client
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|e| api_error("ListTagsForResource", e))?;
            let mut tags: BTreeMap<String, String> =
                tags_out.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
            let create_token = crate::inputs::split_stackr_tags(&mut tags);
            let mut inputs = BTreeMap::from([("name".to_string(), Value::string(name))]);
            if let Some(days) = group.retention_in_days() {
                inputs.insert("retentionInDays".into(), Value::from(i64::from(days)));
            }
            if let Some(reported) = group.kms_key_id() {
                let key = match prior_field(prior, "kmsKeyId").and_then(Value::as_str) {
                    Some(p) if same_key(p, reported) => p.to_string(),
                    _ => reported.to_string(),
                };
                inputs.insert("kmsKeyId".into(), Value::String(key));
            }
            if let Some(tags) = tags_value(tags) {
                inputs.insert("tags".into(), tags);
            }
            Ok(Some(Observed {
                create_token,
                id: name.to_string(),
                inputs: Value::Map(inputs),
                outputs: outputs([("arn", Some(arn))]),
            }))
        }

        async fn set_retention(&self, name: &str, days: Option<i32>) -> Result<(), ProviderError> {
            match days {
                Some(days) => {
                    self.client
                        .put_retention_policy()
                        .log_group_name(name)
                        .retention_in_days(days)
                        .send()
                        .await
                        .map_err(|e| api_error("PutRetentionPolicy", e))?;
                }
                None => {
                    self.client
                        .delete_retention_policy()
                        .log_group_name(name)
                        .send()
                        .await
                        .map_err(|e| api_error("DeleteRetentionPolicy", e))?;
                }
            }
            Ok(())
        }
    }

    #[async_trait]
    impl Provider for LogGroupProvider {
        fn schema(&self) -> &ResourceSchema {
            &self.schema
        }

        async fn create(&self, cx: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
            let input: LogGroupInputs = parse(self.schema.type_name, inputs)?;
            let mut request = self.client.create_log_group().log_group_name(&input.name);
            if let Some(key) = &input.kms_key_id {
                request = request.kms_key_id(key);
            }
            for (k, v) in &crate::inputs::with_token(&input.tags, cx) {
                request = request.tags(k, v);
            }
            request.send().await.map_err(|e| api_error("CreateLogGroup", e))?;
            if input.retention_in_days.is_some() {
                self.set_retention(&input.name, input.retention_in_days).await?;
            }
            let observed = self
                .observe(&input.name, inputs)
                .await?
                .ok_or_else(|| ProviderError::Other(format!("log group {} not found after creation", input.name)))?;
            Ok(Created { id: input.name, outputs: observed.outputs })
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
            let old: LogGroupInputs = parse(self.schema.type_name, prior)?;
            let new: LogGroupInputs = parse(self.schema.type_name, desired)?;
            if changed.iter().any(|c| c == "retentionInDays") {
                self.set_retention(id, new.retention_in_days).await?;
            }
            let observed = still_there(self.observe(id, desired).await?, "log group", id)?;
            if changed.iter().any(|c| c == "tags") {
                let arn = observed
                    .outputs
                    .as_map()
                    .and_then(|m| m.get("arn"))
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string();
                let (set, remove) = tag_changes(&old.tags, &new.tags);
                if !set.is_empty() {
                    let mut request = self.client.tag_resource().resource_arn(&arn);
                    for (k, v) in &set {
                        request = request.tags(k, v);
                    }
                    request.send().await.map_err(|e| api_error("TagResource", e))?;
                }
                if !remove.is_empty() {
                    self.client
                        .untag_resource()
                        .resource_arn(&arn)
                        .set_tag_keys(Some(remove))
                        .send()
                        .await
                        .map_err(|e| api_error("UntagResource", e))?;
                }
            }
            Ok(observed.outputs)
        }

        async fn delete(&self, _: &CallContext, id: &str, _: &Value) -> Result<(), ProviderError> {
            match self.client.delete_log_group().log_group_name(id).send().await {
                Ok(_) => Ok(()),
                Err(e) => {
                    let error = api_error("DeleteLogGroup", e);
                    if is_not_found(&error)
                        || matches!(&error, ProviderError::Api { code, .. } if code == "ResourceNotFoundException")
                    {
                        Ok(())
                    } else {
                        Err(error)
                    }
                }
            }
        }

        async fn import(&self, _: &CallContext, id: &str) -> Result<Option<Observed>, ProviderError> {
            let name = id
                .strip_prefix("arn:")
                .map(|a| a.trim_end_matches(":*").rsplit(":log-group:").next().unwrap_or(a))
                .unwrap_or(id);
            self.observe(name, &Value::Null).await
        }

        async fn find(&self, _: &CallContext, inputs: &Value, token: &str) -> Result<Option<Observed>, ProviderError> {
            let input: LogGroupInputs = parse(self.schema.type_name, inputs)?;
            // Only what this create made: a log group of the same name made by anyone else is not adopted.
            Ok(self.observe(&input.name, inputs).await?.filter(|o| o.create_token.as_deref() == Some(token)))
        }
    }
}
