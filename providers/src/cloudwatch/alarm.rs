//! `aws:cloudwatch:MetricAlarm`. PutMetricAlarm creates and updates every property in place; tags change
//! through TagResource/UntagResource. Replace: name.

use std::collections::BTreeMap;

use serde::Deserialize;
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct AlarmInputs {
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
}

fn sum() -> String {
    "Sum".into()
}

fn missing() -> String {
    "missing".into()
}

#[cfg(feature = "aws")]
pub use calls::Alarm;

#[cfg(feature = "aws")]
mod calls {
    use std::collections::BTreeMap;

    use crate::prelude::*;
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic, Tag};
    use aws_sdk_cloudwatch::Client;

    use super::AlarmInputs;

    /// A number as the stack would write it: `5`, not `5.0`, when it is whole.
    fn number(n: f64) -> Value {
        if n.fract() == 0.0 && n.abs() < 9e15 {
            Value::from(n as i64)
        } else {
            serde_json::Number::from_f64(n).map(Value::Number).unwrap_or(Value::Null)
        }
    }

    fn strings(v: &[String]) -> Value {
        Value::List(v.iter().map(Value::string).collect())
    }

    sdk_type!(Alarm, Client);

    impl Alarm {
        /// PutMetricAlarm with every property; `tags` count only on create (AWS ignores them on an update).
        async fn put(&self, input: &AlarmInputs, tags: &Tags) -> Result<(), ProviderError> {
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
            for (k, v) in tags {
                request = request.tags(Tag::builder().key(k).value(v).build());
            }
            request.send().await.call("PutMetricAlarm").map(drop)
        }
    }

    #[async_trait]
    impl Resource for Alarm {
        type Inputs = AlarmInputs;

        async fn describe(&self, name: &str, _: &Value) -> Result<Option<Live>, ProviderError> {
            let out = self.client.describe_alarms().alarm_names(name).send().await;
            let out = out.call("DescribeAlarms")?;
            let Some(alarm) = out.metric_alarms().iter().find(|a| a.alarm_name() == Some(name)) else {
                return Ok(None);
            };
            let arn = alarm.alarm_arn().unwrap_or_default().to_string();
            let listed = self.client.list_tags_for_resource().resource_arn(&arn).send().await;
            let listed = listed.call("ListTagsForResource")?;
            let tags =
                listed.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect();
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
            let dimensions: BTreeMap<String, Value> = alarm
                .dimensions()
                .iter()
                .filter_map(|d| Some((d.name()?.to_string(), Value::string(d.value()?))))
                .collect();
            if !dimensions.is_empty() {
                inputs.insert("dimensions".into(), Value::Map(dimensions));
            }
            if !alarm.alarm_actions().is_empty() {
                inputs.insert("alarmActions".into(), strings(alarm.alarm_actions()));
            }
            if !alarm.ok_actions().is_empty() {
                inputs.insert("okActions".into(), strings(alarm.ok_actions()));
            }
            Ok(Some(Live { id: name.to_string(), inputs, outputs: outputs([("arn", Some(arn))]), tags: Some(tags) }))
        }

        async fn create(&self, input: &AlarmInputs, tags: &Tags) -> Result<Made, ProviderError> {
            self.put(input, tags).await?;
            Ok(input.name.clone().into())
        }

        async fn update(&self, _: &str, change: Update<'_, AlarmInputs>) -> Result<(), ProviderError> {
            self.put(change.new, &Tags::new()).await
        }

        async fn tag(&self, _: &str, outputs: &Value, set: &Tags) -> Result<(), ProviderError> {
            let arn = output_str(outputs, "arn");
            let tags = set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
            let request = self.client.tag_resource().resource_arn(arn).set_tags(Some(tags));
            request.send().await.call("TagResource").map(drop)
        }

        async fn untag(&self, _: &str, outputs: &Value, keys: &[String]) -> Result<(), ProviderError> {
            let arn = output_str(outputs, "arn");
            let request = self.client.untag_resource().resource_arn(arn).set_tag_keys(Some(keys.to_vec()));
            request.send().await.call("UntagResource").map(drop)
        }

        async fn delete(&self, name: &str, _: Option<&AlarmInputs>) -> Result<(), ProviderError> {
            self.client.delete_alarms().alarm_names(name).send().await.call("DeleteAlarms").map(drop)
        }

        async fn locate(&self, input: &AlarmInputs, _: &str) -> Result<Option<String>, ProviderError> {
            Ok(Some(input.name.clone()))
        }

        async fn import_id(&self, given: &str) -> Result<Option<String>, ProviderError> {
            Ok(Some(given.rsplit(":alarm:").next().unwrap_or(given).to_string()))
        }
    }
}
