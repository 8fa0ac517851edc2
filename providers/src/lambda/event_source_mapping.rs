//! `aws:lambda:EventSourceMapping`: a function reading an SQS queue or a DynamoDB stream. Its id is the mapping's
//! UUID; a source and a function have at most one mapping, which is how an interrupted create is found.
//!
//! The function, batch size, batching window, filters and `enabled` are updated in place (each change waited for
//! until the mapping settles); the source and the starting position force a replacement.

use serde::Deserialize;
use stackr_engine::schema::{PropType, Property, ResourceSchema};

const POSITIONS: &[&str] = &["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP"];

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:lambda:EventSourceMapping", "A Lambda function reading a queue or a stream")
        .property(Property::string("eventSourceArn").required().forces_replacement().describe("Queue or stream ARN"))
        .property(Property::string("functionName").required().describe("Function name or ARN"))
        .property(Property::integer("batchSize").range(1, 10000).describe("AWS's default: 10 (SQS), 100 (streams)"))
        .property(Property::integer("maximumBatchingWindowInSeconds").range(0, 300))
        .property(Property::string("startingPosition").allowed(POSITIONS).forces_replacement().describe("Streams only"))
        .property(Property::boolean("enabled").default(true))
        .property(Property::object(
            "filterCriteria",
            vec![Property::list("filters", PropType::Object(vec![Property::json("pattern").required()]))],
        ))
        .output("uuid", "The mapping's id")
        .output("functionArn", "The function's ARN")
        .identified_by(&["eventSourceArn", "functionName"])
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct MappingInputs {
    event_source_arn: String,
    function_name: String,
    batch_size: Option<i32>,
    maximum_batching_window_in_seconds: Option<i32>,
    starting_position: Option<String>,
    enabled: bool,
    filter_criteria: Option<Criteria>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct Criteria {
    #[serde(default)]
    filters: Vec<Pattern>,
}

#[derive(Debug, Deserialize)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct Pattern {
    pattern: serde_json::Value,
}

#[cfg(feature = "aws")]
pub use calls::EventSourceMapping;

#[cfg(feature = "aws")]
mod calls {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use crate::prelude::*;
    use aws_sdk_lambda::types::{EventSourcePosition, Filter, FilterCriteria};
    use aws_sdk_lambda::Client;

    use super::{Criteria, MappingInputs};
    use crate::inputs::{document_text, document_value};
    use crate::wait::{until_ready, Poll};

    sdk_type!(EventSourceMapping, Client);

    /// How long a change waits for the mapping to settle (Creating, Updating, Enabling, Disabling).
    const SETTLE: Duration = Duration::from_secs(300);

    fn criteria(criteria: &Option<Criteria>) -> Option<FilterCriteria> {
        let filters = criteria.as_ref()?.filters.iter().map(|f| Filter::builder().pattern(document_text(&f.pattern)));
        Some(FilterCriteria::builder().set_filters(Some(filters.map(|f| f.build()).collect())).build())
    }

    /// The function as the prior named it (a name, or its ARN) when AWS's ARN is that function; its name when
    /// nothing was recorded (an import).
    fn function_as_prior(prior: &Value, arn: &str) -> Value {
        match prior_field(prior, "functionName").and_then(Value::as_str) {
            Some(p) if p == arn || arn.ends_with(&format!(":function:{p}")) => Value::string(p),
            Some(_) => Value::string(arn),
            None => Value::string(arn.rsplit(":function:").next().unwrap_or(arn)),
        }
    }

    impl EventSourceMapping {
        async fn settle(&self, uuid: &str) -> Result<(), ProviderError> {
            until_ready(&format!("event source mapping {uuid}"), SETTLE, || async {
                let out = self.client.get_event_source_mapping().uuid(uuid).send().await;
                let state = out.call("GetEventSourceMapping")?.state.unwrap_or_default();
                Ok(match state.as_str() {
                    "Creating" | "Updating" | "Enabling" | "Disabling" => Poll::NotYet,
                    _ => Poll::Ready,
                })
            })
            .await
        }
    }

    #[async_trait]
    impl Resource for EventSourceMapping {
        type Inputs = MappingInputs;

        async fn describe(&self, uuid: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
            let out = self.client.get_event_source_mapping().uuid(uuid).send().await.call("GetEventSourceMapping")?;
            let state = out.state().unwrap_or_default();
            if state == "Deleting" {
                return Ok(None);
            }
            let function = out.function_arn().unwrap_or_default();
            let mut inputs = BTreeMap::from([
                ("eventSourceArn".to_string(), Value::string(out.event_source_arn().unwrap_or_default())),
                ("functionName".to_string(), function_as_prior(prior, function)),
                ("enabled".to_string(), Value::Bool(matches!(state, "Enabled" | "Enabling" | "Creating"))),
            ]);
            // AWS fills in its defaults: they are compared only when the stack sets them.
            let numbers = [
                ("batchSize", out.batch_size()),
                ("maximumBatchingWindowInSeconds", out.maximum_batching_window_in_seconds()),
            ];
            for (name, value) in numbers {
                if let (Some(value), true) = (value, prior_field(prior, name).is_some()) {
                    inputs.insert(name.to_string(), Value::from(i64::from(value)));
                }
            }
            if let Some(position) = out.starting_position() {
                inputs.insert("startingPosition".into(), Value::string(position.as_str()));
            }
            let filters: Vec<Value> = out
                .filter_criteria()
                .map(|c| c.filters())
                .unwrap_or_default()
                .iter()
                .filter_map(|f| f.pattern().and_then(document_value))
                .map(|pattern| Value::Map([("pattern".to_string(), pattern)].into()))
                .collect();
            if !filters.is_empty() {
                inputs.insert(
                    "filterCriteria".into(),
                    Value::Map([("filters".to_string(), Value::List(filters))].into()),
                );
            }
            let outputs = outputs([("uuid", Some(uuid.to_string())), ("functionArn", Some(function.to_string()))]);
            Ok(Some(Live { id: uuid.to_string(), inputs, outputs, tags: None }))
        }

        async fn create(&self, input: &MappingInputs, _: &Tags) -> Result<Made, ProviderError> {
            let request = self.client.create_event_source_mapping().event_source_arn(&input.event_source_arn);
            let request = request.function_name(&input.function_name).enabled(input.enabled);
            let request = request
                .set_batch_size(input.batch_size)
                .set_maximum_batching_window_in_seconds(input.maximum_batching_window_in_seconds)
                .set_starting_position(input.starting_position.as_deref().map(EventSourcePosition::from))
                .set_filter_criteria(criteria(&input.filter_criteria));
            let created = request.send().await.call("CreateEventSourceMapping")?;
            let uuid = created.uuid.ok_or_else(|| ProviderError::Other("no mapping UUID in the answer".into()))?;
            Ok(uuid.into())
        }

        /// A new mapping is Creating for a while: it is ready when it settles.
        async fn configure(&self, uuid: &str, _: &MappingInputs) -> Result<(), ProviderError> {
            self.settle(uuid).await
        }

        async fn update(&self, uuid: &str, change: Update<'_, MappingInputs>) -> Result<(), ProviderError> {
            let new = change.new;
            let request = self.client.update_event_source_mapping().uuid(uuid).function_name(&new.function_name);
            // A batch size or window the stack dropped goes back to AWS's default (10 for SQS, 100 for streams; 0 s).
            let default_batch = if new.event_source_arn.starts_with("arn:aws:sqs:") { 10 } else { 100 };
            let request = request
                .enabled(new.enabled)
                .batch_size(new.batch_size.unwrap_or(default_batch))
                .maximum_batching_window_in_seconds(new.maximum_batching_window_in_seconds.unwrap_or(0));
            // No filters is an empty list: leaving them out would keep the old ones.
            let none = || FilterCriteria::builder().set_filters(Some(Vec::new())).build();
            let request = request.filter_criteria(criteria(&new.filter_criteria).unwrap_or_else(none));
            request.send().await.call("UpdateEventSourceMapping")?;
            self.settle(uuid).await
        }

        async fn delete(&self, uuid: &str, _: Option<&MappingInputs>) -> Result<(), ProviderError> {
            let request = self.client.delete_event_source_mapping().uuid(uuid);
            request.send().await.call("DeleteEventSourceMapping").map(drop)
        }

        /// At most one mapping joins a source and a function.
        async fn locate(&self, input: &MappingInputs, _: &str) -> Result<Option<String>, ProviderError> {
            let request = self.client.list_event_source_mappings().event_source_arn(&input.event_source_arn);
            let listed = request.function_name(&input.function_name).send().await.call("ListEventSourceMappings")?;
            Ok(listed.event_source_mappings().iter().find_map(|m| m.uuid().map(str::to_string)))
        }
    }
}
