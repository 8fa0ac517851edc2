//! `aws:sns:TopicPolicy`: a topic's access policy (who may publish and subscribe), as CloudFormation's
//! `AWS::SNS::TopicPolicy` does it. The id is the topic ARN; the topic forces replacement, the policy changes in
//! place. Every topic has a policy: deleting this resource puts the default one back (the topic owner's
//! account only), and a topic whose policy is that default has no `TopicPolicy` (it reads as gone).

use serde::Deserialize;
use stackr_engine::schema::{Property, ResourceSchema};

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:sns:TopicPolicy", "The access policy of an SNS topic")
        .property(Property::string("topic").required().forces_replacement().describe("Topic ARN"))
        .property(Property::json("policy").required().describe("The policy document"))
        .identified_by(&["topic"])
        .rules(rules)
}

/// The topic is named by its ARN (`${topic.arn}`), as SetTopicAttributes needs it.
fn rules(inputs: &stackr_engine::value::Value) -> Vec<(String, String)> {
    match inputs.as_map().and_then(|m| m.get("topic")).and_then(|t| t.as_str()) {
        Some(topic) if !topic.starts_with("arn:") => {
            vec![("topic".into(), "the topic is its ARN (`${TOPIC.arn}`), not its name".into())]
        }
        _ => Vec::new(),
    }
}

#[derive(Debug, Deserialize)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct TopicPolicyInputs {
    topic: String,
    policy: serde_json::Value,
}

/// The policy SNS gives a new topic: every action, for the owner's account only. Its `Id` marks it.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
fn default_policy(topic: &str) -> serde_json::Value {
    let account = topic.split(':').nth(4).unwrap_or_default();
    serde_json::json!({
        "Version": "2008-10-17",
        "Id": DEFAULT_ID,
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission", "SNS:RemovePermission",
                "SNS:DeleteTopic", "SNS:Subscribe", "SNS:ListSubscriptionsByTopic", "SNS:Publish"
            ],
            "Resource": topic,
            "Condition": {"StringEquals": {"AWS:SourceOwner": account}},
        }],
    })
}

const DEFAULT_ID: &str = "__default_policy_ID";

/// SNS's own policy: its `Id` and its one default statement. A policy extending it (more statements, the `Id`
/// kept, as copying the default and adding to it gives) is the stack's.
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
fn is_default(policy: &stackr_engine::value::Value) -> bool {
    let json = policy.to_json();
    let statements = json["Statement"].as_array().map(Vec::as_slice).unwrap_or_default();
    json["Id"] == DEFAULT_ID && statements.len() == 1 && statements[0]["Sid"] == "__default_statement_ID"
}

#[cfg(feature = "aws")]
pub use calls::TopicPolicy;

#[cfg(feature = "aws")]
mod calls {
    use super::{default_policy, is_default, TopicPolicyInputs};
    use crate::inputs::{document_text, document_value};
    use crate::prelude::*;

    sdk_type!(TopicPolicy, aws_sdk_sns::Client);

    impl TopicPolicy {
        async fn set(&self, topic: &str, policy: &serde_json::Value) -> Result<(), ProviderError> {
            let request = self.client.set_topic_attributes().topic_arn(topic).attribute_name("Policy");
            request.attribute_value(document_text(policy)).send().await.call("SetTopicAttributes").map(drop)
        }
    }

    #[async_trait]
    impl Resource for TopicPolicy {
        type Inputs = TopicPolicyInputs;

        async fn describe(&self, topic: &str, _: &Value) -> Result<Option<Live>, ProviderError> {
            let out = self.client.get_topic_attributes().topic_arn(topic).send().await;
            let attributes = out.call("GetTopicAttributes")?.attributes.unwrap_or_default();
            let Some(policy) = attributes.get("Policy").and_then(|p| document_value(p)) else { return Ok(None) };
            if is_default(&policy) {
                return Ok(None);
            }
            let inputs = [("topic".to_string(), Value::string(topic)), ("policy".to_string(), policy)];
            Ok(Some(Live {
                id: topic.to_string(),
                inputs: inputs.into(),
                outputs: Value::Map(Default::default()),
                tags: None,
            }))
        }

        async fn create(&self, input: &TopicPolicyInputs, _: &Tags) -> Result<Made, ProviderError> {
            self.set(&input.topic, &input.policy).await?;
            Ok(Made { id: input.topic.clone(), outputs: Some(Value::Map(Default::default())) })
        }

        async fn update(&self, topic: &str, change: Update<'_, TopicPolicyInputs>) -> Result<(), ProviderError> {
            if change.any(&["policy"]) {
                self.set(topic, &change.new.policy).await?;
            }
            Ok(())
        }

        async fn delete(&self, topic: &str, _: Option<&TopicPolicyInputs>) -> Result<(), ProviderError> {
            self.set(topic, &default_policy(topic)).await
        }

        /// A create cut short either set the policy (the topic has it now) or did not.
        async fn locate(&self, input: &TopicPolicyInputs, _: &str) -> Result<Option<String>, ProviderError> {
            Ok(self.describe(&input.topic, &Value::Null).await?.map(|live| live.id))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn the_default_policy_names_the_topic_and_its_owner() {
        let policy = super::default_policy("arn:aws:sns:us-east-1:123456789012:orders");
        assert_eq!(policy["Statement"][0]["Resource"], "arn:aws:sns:us-east-1:123456789012:orders");
        assert_eq!(policy["Statement"][0]["Condition"]["StringEquals"]["AWS:SourceOwner"], "123456789012");
        assert_eq!(policy["Id"], super::DEFAULT_ID);
        let value = stackr_engine::value::Value::from_json(&policy);
        assert!(super::is_default(&value));
        let mut extended = policy.clone();
        extended["Statement"].as_array_mut().unwrap().push(serde_json::json!({"Sid": "events", "Effect": "Allow"}));
        assert!(!super::is_default(&stackr_engine::value::Value::from_json(&extended)), "extending it makes it ours");
    }
}
