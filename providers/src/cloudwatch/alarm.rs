//! `aws:cloudwatch:MetricAlarm`. PutMetricAlarm creates and updates every property in place; tags change
//! through TagResource/UntagResource. Replace: name.

use stackr_engine::schema::{PropType, Property, ResourceSchema};

const STATISTICS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];
const COMPARISONS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
];
const MISSING_DATA: &[&str] = &["missing", "ignore", "breaching", "notBreaching"];

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:cloudwatch:MetricAlarm", "A CloudWatch metric alarm")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("description").default(""))
        .property(Property::string("namespace").required())
        .property(Property::string("metricName").required())
        .property(Property::string_map("dimensions"))
        .property(Property::string("statistic").default("Sum").allowed(STATISTICS))
        .property(Property::integer("period").required().range(10, 86400))
        .property(Property::integer("evaluationPeriods").required().range(1, 100))
        .property(Property::number("threshold").required())
        .property(Property::string("comparisonOperator").required().allowed(COMPARISONS))
        .property(Property::string("treatMissingData").default("missing").allowed(MISSING_DATA))
        .property(Property::list("alarmActions", PropType::String))
        .property(Property::list("okActions", PropType::String))
        .property(Property::tags())
        .output("arn", "The alarm's ARN")
        .unique_name("name")
        .create_overwrites()
}

#[cfg(feature = "aws")]
pub use calls::AlarmProvider;

/// The AWS calls (feature `aws`).
#[cfg(feature = "aws")]
mod calls {
    use std::collections::BTreeMap;

    use async_trait::async_trait;
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, MetricAlarm, Statistic, Tag};
    use aws_sdk_cloudwatch::Client;
    use serde::Deserialize;
    use stackr_engine::provider::{CallContext, Created, Observed, Provider, ProviderError};
    use stackr_engine::schema::ResourceSchema;
    use stackr_engine::value::Value;

    use crate::aws::{api_error, still_there};
    use crate::inputs::{outputs, parse, split_stackr_tags, tag_changes, tags_value, with_token};

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct AlarmInputs {
        name: String,
        #[serde(default)]
        description: String,
        namespace: String,
        metric_name: String,
        #[serde(default)]
        dimensions: BTreeMap<String, String>,
        #[serde(default = "sum")]
        statistic: String,
        period: i32,
        evaluation_periods: i32,
        threshold: f64,
        comparison_operator: String,
        #[serde(default = "missing")]
        treat_missing_data: String,
        #[serde(default)]
        alarm_actions: Vec<String>,
        #[serde(default)]
        ok_actions: Vec<String>,
        #[serde(default)]
        tags: BTreeMap<String, String>,
    }

    fn sum() -> String {
        "Sum".into()
    }
    fn missing() -> String {
        "missing".into()
    }

    /// A number as the stack would write it: `5`, not `5.0`, when it is whole.
    fn number(n: f64) -> Value {
        if n.fract() == 0.0 && n.abs() < 9e15 {
            Value::from(n as i64)
        } else {
            serde_json::Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null)
        }
    }

    pub struct AlarmProvider {
        schema: ResourceSchema,
        client: Client,
    }

    impl AlarmProvider {
        pub fn new(config: &aws_config::SdkConfig) -> AlarmProvider {
            AlarmProvider { schema: super::schema(), client: Client::new(config) }
        }

        async fn alarm(&self, name: &str) -> Result<Option<MetricAlarm>, ProviderError> {
            let out = self
                .client
                .describe_alarms()
                .alarm_names(name)
                .send()
                .await
                .map_err(|e| api_error("DescribeAlarms", e))?;
            Ok(out.metric_alarms().iter().find(|a| a.alarm_name() == Some(name)).cloned())
        }

        /// PutMetricAlarm with every property; `tags` (with the create token) only on create.
        async fn put(&self, input: &AlarmInputs, tags: Option<BTreeMap<String, String>>) -> Result<(), ProviderError> {
            let mut request = self
                .client
                .put_metric_alarm()
                .alarm_name(&input.name)
                .alarm_description(&input.description)
                .namespace(&input.namespace)
                .metric_name(&input.metric_name)
                .statistic(Statistic::from(input.statistic.as_str()))
                .period(input.period)
                .evaluation_periods(input.evaluation_periods)
                .threshold(input.threshold)
                .comparison_operator(ComparisonOperator::from(input.comparison_operator.as_str()))
                .treat_missing_data(&input.treat_missing_data)
                .set_alarm_actions(Some(input.alarm_actions.clone()))
                .set_ok_actions(Some(input.ok_actions.clone()));
            for (name, value) in &input.dimensions {
                request = request.dimensions(Dimension::builder().name(name).value(value).build());
            }
            for (k, v) in tags.iter().flatten() {
                request = request.tags(Tag::builder().key(k).value(v).build());
            }
            request.send().await.map_err(|e| api_error("PutMetricAlarm", e))?;
            Ok(())
        }

        async fn observe(&self, name: &str) -> Result<Option<Observed>, ProviderError> {
            let Some(alarm) = self.alarm(name).await? else { return Ok(None) };
            let arn = alarm.alarm_arn().unwrap_or_default().to_string();
            let tags_out = self
                .client
                .list_tags_for_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|e| api_error("ListTagsForResource", e))?;
            let mut tags: BTreeMap<String, String> =
                tags_out.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect();
            let create_token = split_stackr_tags(&mut tags);
            let strings = |v: &[String]| Value::List(v.iter().map(Value::string).collect());
            let mut inputs = BTreeMap::from([
                ("name".to_string(), Value::string(name)),
                ("description".to_string(), Value::string(alarm.alarm_description().unwrap_or(""))),
                ("namespace".to_string(), Value::string(alarm.namespace().unwrap_or(""))),
                ("metricName".to_string(), Value::string(alarm.metric_name().unwrap_or(""))),
                ("statistic".to_string(), Value::string(alarm.statistic().map(|s| s.as_str()).unwrap_or("Sum"))),
                ("period".to_string(), Value::from(i64::from(alarm.period().unwrap_or(0)))),
                ("evaluationPeriods".to_string(), Value::from(i64::from(alarm.evaluation_periods().unwrap_or(0)))),
                ("threshold".to_string(), number(alarm.threshold().unwrap_or(0.0))),
                (
                    "comparisonOperator".to_string(),
                    Value::string(alarm.comparison_operator().map(|c| c.as_str()).unwrap_or("")),
                ),
                ("treatMissingData".to_string(), Value::string(alarm.treat_missing_data().unwrap_or("missing"))),
            ]);
            if !alarm.dimensions().is_empty() {
                inputs.insert(
                    "dimensions".into(),
                    Value::Map(
                        alarm
                            .dimensions()
                            .iter()
                            .filter_map(|d| Some((d.name()?.to_string(), Value::string(d.value()?))))
                            .collect(),
                    ),
                );
            }
            if !alarm.alarm_actions().is_empty() {
                inputs.insert("alarmActions".into(), strings(alarm.alarm_actions()));
            }
            if !alarm.ok_actions().is_empty() {
                inputs.insert("okActions".into(), strings(alarm.ok_actions()));
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
    }

    #[async_trait]
    impl Provider for AlarmProvider {
        fn schema(&self) -> &ResourceSchema {
            &self.schema
        }

        async fn create(&self, cx: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
            let input: AlarmInputs = parse(self.schema.type_name, inputs)?;
            self.put(&input, Some(with_token(&input.tags, cx))).await?;
            let observed = self
                .observe(&input.name)
                .await?
                .ok_or_else(|| ProviderError::Other(format!("alarm {} not found after PutMetricAlarm", input.name)))?;
            Ok(Created { id: input.name, outputs: observed.outputs })
        }

        async fn read(&self, _: &CallContext, id: &str, _: &Value) -> Result<Option<Observed>, ProviderError> {
            self.observe(id).await
        }

        async fn update(
            &self,
            _: &CallContext,
            id: &str,
            prior: &Value,
            desired: &Value,
            changed: &[String],
        ) -> Result<Value, ProviderError> {
            let old: AlarmInputs = parse(self.schema.type_name, prior)?;
            let new: AlarmInputs = parse(self.schema.type_name, desired)?;
            if changed.iter().any(|c| c != "tags") {
                self.put(&new, None).await?;
            }
            let observed = still_there(self.observe(id).await?, "alarm", id)?;
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
                    let tags: Vec<Tag> = set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
                    self.client
                        .tag_resource()
                        .resource_arn(&arn)
                        .set_tags(Some(tags))
                        .send()
                        .await
                        .map_err(|e| api_error("TagResource", e))?;
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
            self.client.delete_alarms().alarm_names(id).send().await.map_err(|e| api_error("DeleteAlarms", e))?;
            Ok(())
        }

        async fn import(&self, _: &CallContext, id: &str) -> Result<Option<Observed>, ProviderError> {
            self.observe(id.rsplit(":alarm:").next().unwrap_or(id)).await
        }

        async fn find(&self, _: &CallContext, inputs: &Value, token: &str) -> Result<Option<Observed>, ProviderError> {
            let input: AlarmInputs = parse(self.schema.type_name, inputs)?;
            // Only what this create made: an alarm of the same name made by anyone else is not adopted.
            Ok(self.observe(&input.name).await?.filter(|o| o.create_token.as_deref() == Some(token)))
        }
    }
}
