//! `aws:sqs:Queue`: a standard or FIFO queue. Its id is its URL.
//!
//! Every attribute but the queue type is updated in place (SetQueueAttributes); `name` and `fifoQueue` force a
//! replacement. A queue holds messages: deleting it loses them, so it needs `--allow-data-loss`. CreateQueue
//! answers a queue of the same name and attributes with that queue's URL instead of an error, so the layer looks
//! the name up first and refuses to take over a queue the stack did not make (`create_overwrites`).

use serde::Deserialize;
use stackr_engine::schema::{Property, ResourceSchema};
use stackr_engine::value::Value;

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:sqs:Queue", "An SQS queue, standard or FIFO")
        .property(Property::string("name").required().forces_replacement().describe("A FIFO queue's ends in .fifo"))
        .property(Property::boolean("fifoQueue").default(false).forces_replacement())
        .property(Property::boolean("contentBasedDeduplication").default(false).describe("FIFO queues only"))
        .property(Property::integer("visibilityTimeout").default(30).range(0, 43200).describe("Seconds"))
        .property(Property::integer("messageRetentionPeriod").default(345600).range(60, 1209600).describe("Seconds"))
        .property(Property::integer("delaySeconds").default(0).range(0, 900))
        .property(
            Property::integer("maximumMessageSize").range(1024, 1048576).describe("Bytes; AWS's default when absent"),
        )
        .property(Property::integer("receiveMessageWaitTimeSeconds").default(0).range(0, 20))
        .property(Property::object(
            "redrivePolicy",
            vec![
                Property::string("deadLetterTargetArn").required().describe("ARN of the dead-letter queue"),
                Property::integer("maxReceiveCount").required().range(1, 1000),
            ],
        ))
        .property(Property::string("kmsMasterKeyId").describe("KMS key (id, ARN or alias) for SSE-KMS"))
        .property(Property::json("policy").describe("The queue's access policy"))
        .property(Property::tags())
        .output("url", "The queue's URL (its id)")
        .output("arn", "The queue's ARN")
        .unique_name("name")
        .create_overwrites()
        .holds_data()
        .rules(rules)
}

/// A FIFO queue's name ends in `.fifo`, and only a FIFO queue's does; deduplication is for FIFO queues.
fn rules(inputs: &Value) -> Vec<(String, String)> {
    let field = |k: &str| inputs.as_map().and_then(|m| m.get(k));
    let (Some(Value::String(name)), Some(Value::Bool(fifo))) = (field("name"), field("fifoQueue")) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    match (*fifo, name.ends_with(".fifo")) {
        (true, false) => problems.push(("name".into(), format!("a FIFO queue's name ends in .fifo: `{name}.fifo`"))),
        (false, true) => {
            problems.push(("fifoQueue".into(), format!("`{name}` is a FIFO queue's name: set fifoQueue: true")))
        }
        _ => {}
    }
    if !fifo && field("contentBasedDeduplication") == Some(&Value::Bool(true)) {
        problems.push(("contentBasedDeduplication".into(), "only a FIFO queue deduplicates by content".into()));
    }
    problems
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct QueueInputs {
    name: String,
    #[serde(default)]
    fifo_queue: bool,
    #[serde(default)]
    content_based_deduplication: bool,
    visibility_timeout: i64,
    message_retention_period: i64,
    delay_seconds: i64,
    maximum_message_size: Option<i64>,
    receive_message_wait_time_seconds: i64,
    redrive_policy: Option<Redrive>,
    kms_master_key_id: Option<String>,
    policy: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct Redrive {
    dead_letter_target_arn: String,
    max_receive_count: i64,
}

#[cfg(feature = "aws")]
pub use calls::Queue;

#[cfg(feature = "aws")]
mod calls {
    use std::collections::{BTreeMap, HashMap};

    use crate::prelude::*;
    use aws_sdk_sqs::types::QueueAttributeName as A;
    use aws_sdk_sqs::Client;

    use super::{QueueInputs, Redrive};
    use crate::inputs::{document_text, document_value, key_as_prior};

    sdk_type!(Queue, Client);

    /// The attributes a queue is created or updated with. The queue type is only sent on create (AWS refuses it
    /// on SetQueueAttributes), and deduplication only for FIFO queues.
    fn attributes(input: &QueueInputs, creating: bool) -> HashMap<A, String> {
        let mut attributes = HashMap::from([
            (A::VisibilityTimeout, input.visibility_timeout.to_string()),
            (A::MessageRetentionPeriod, input.message_retention_period.to_string()),
            (A::DelaySeconds, input.delay_seconds.to_string()),
            (A::ReceiveMessageWaitTimeSeconds, input.receive_message_wait_time_seconds.to_string()),
            (A::KmsMasterKeyId, input.kms_master_key_id.clone().unwrap_or_default()),
            (A::Policy, input.policy.as_ref().map(document_text).unwrap_or_default()),
        ]);
        if let Some(size) = input.maximum_message_size {
            attributes.insert(A::MaximumMessageSize, size.to_string());
        }
        let redrive = input.redrive_policy.as_ref().map(|r| {
            serde_json::json!({"deadLetterTargetArn": r.dead_letter_target_arn, "maxReceiveCount": r.max_receive_count})
        });
        attributes.insert(A::RedrivePolicy, redrive.map(|r| r.to_string()).unwrap_or_default());
        if input.fifo_queue {
            attributes.insert(A::ContentBasedDeduplication, input.content_based_deduplication.to_string());
            if creating {
                attributes.insert(A::FifoQueue, "true".into());
            }
        }
        if creating {
            // An empty value is "not set" on update; on create it is simply left out.
            attributes.retain(|_, v| !v.is_empty());
        }
        attributes
    }

    impl Queue {
        async fn by_name(&self, name: &str) -> Result<Option<String>, ProviderError> {
            let out = self.client.get_queue_url().queue_name(name).send().await.call("GetQueueUrl");
            Ok(found(out)?.and_then(|o| o.queue_url))
        }
    }

    #[async_trait]
    impl Resource for Queue {
        type Inputs = QueueInputs;

        async fn describe(&self, url: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
            let request = self.client.get_queue_attributes().queue_url(url).attribute_names(A::All);
            let Some(out) = found(request.send().await.call("GetQueueAttributes"))? else { return Ok(None) };
            let attributes = out.attributes.unwrap_or_default();
            let get = |name: A| attributes.get(&name).map(String::as_str).filter(|v| !v.is_empty());
            let number = |name: A, default: i64| Value::from(get(name).and_then(|v| v.parse().ok()).unwrap_or(default));
            let fifo = get(A::FifoQueue) == Some("true");
            let mut inputs = BTreeMap::from([
                ("name".to_string(), Value::string(url.rsplit('/').next().unwrap_or(url))),
                ("fifoQueue".to_string(), Value::Bool(fifo)),
                (
                    "contentBasedDeduplication".to_string(),
                    Value::Bool(get(A::ContentBasedDeduplication) == Some("true")),
                ),
                ("visibilityTimeout".to_string(), number(A::VisibilityTimeout, 30)),
                ("messageRetentionPeriod".to_string(), number(A::MessageRetentionPeriod, 345600)),
                ("delaySeconds".to_string(), number(A::DelaySeconds, 0)),
                ("receiveMessageWaitTimeSeconds".to_string(), number(A::ReceiveMessageWaitTimeSeconds, 0)),
            ]);
            // AWS's default size has changed over the years: compared only when the stack sets one.
            if prior_field(prior, "maximumMessageSize").is_some() {
                inputs.insert("maximumMessageSize".into(), number(A::MaximumMessageSize, 262144));
            }
            if let Some(redrive) = get(A::RedrivePolicy).and_then(|r| serde_json::from_str::<Redrive>(r).ok()) {
                let redrive = [
                    ("deadLetterTargetArn".to_string(), Value::String(redrive.dead_letter_target_arn)),
                    ("maxReceiveCount".to_string(), Value::from(redrive.max_receive_count)),
                ];
                inputs.insert("redrivePolicy".into(), Value::Map(redrive.into()));
            }
            if let Some(key) = get(A::KmsMasterKeyId) {
                inputs.insert("kmsMasterKeyId".into(), key_as_prior(prior, "kmsMasterKeyId", key));
            }
            if let Some(policy) = get(A::Policy).and_then(document_value) {
                inputs.insert("policy".into(), policy);
            }
            let listed = self.client.list_queue_tags().queue_url(url).send().await.call("ListQueueTags")?;
            let tags = listed.tags.unwrap_or_default().into_iter().collect();
            let outputs = outputs([("url", Some(url.to_string())), ("arn", get(A::QueueArn).map(str::to_string))]);
            Ok(Some(Live { id: url.to_string(), inputs, outputs, tags: Some(tags) }))
        }

        async fn create(&self, input: &QueueInputs, tags: &Tags) -> Result<Made, ProviderError> {
            let request = self.client.create_queue().queue_name(&input.name);
            let request = request.set_attributes(Some(attributes(input, true)));
            let request = request.set_tags(Some(tags.clone().into_iter().collect()));
            let created = request.send().await.call("CreateQueue")?;
            let url = created.queue_url.ok_or_else(|| ProviderError::Other("CreateQueue returned no URL".into()))?;
            Ok(url.into())
        }

        async fn update(&self, url: &str, change: Update<'_, QueueInputs>) -> Result<(), ProviderError> {
            let request = self.client.set_queue_attributes().queue_url(url);
            let request = request.set_attributes(Some(attributes(change.new, false)));
            request.send().await.call("SetQueueAttributes").map(drop)
        }

        async fn tag(&self, url: &str, _: &Value, set: &Tags) -> Result<(), ProviderError> {
            let request = self.client.tag_queue().queue_url(url).set_tags(Some(set.clone().into_iter().collect()));
            request.send().await.call("TagQueue").map(drop)
        }

        async fn untag(&self, url: &str, _: &Value, keys: &[String]) -> Result<(), ProviderError> {
            let request = self.client.untag_queue().queue_url(url).set_tag_keys(Some(keys.to_vec()));
            request.send().await.call("UntagQueue").map(drop)
        }

        async fn delete(&self, url: &str, _: Option<&QueueInputs>) -> Result<(), ProviderError> {
            self.client.delete_queue().queue_url(url).send().await.call("DeleteQueue").map(drop)
        }

        async fn locate(&self, input: &QueueInputs, _: &str) -> Result<Option<String>, ProviderError> {
            self.by_name(&input.name).await
        }

        async fn import_id(&self, given: &str) -> Result<Option<String>, ProviderError> {
            if given.starts_with("https://") || given.starts_with("http://") {
                return Ok(Some(given.to_string()));
            }
            // An ARN's last part is the queue's name.
            self.by_name(given.rsplit(':').next().unwrap_or(given)).await
        }
    }
}
