//! `aws:sns:TopicSubscription`. Every property forces replacement. An email subscription stays "pending
//! confirmation" on AWS until someone clicks the link: that is reported in the `pendingConfirmation` output, and
//! is neither an error nor a reason to wait.

use serde::Deserialize;
use stackr_engine::schema::{Property, ResourceSchema};

const SUBSCRIPTION_PROTOCOLS: &[&str] =
    &["email", "email-json", "http", "https", "sqs", "sms", "lambda", "application", "firehose"];

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:sns:TopicSubscription", "A subscription to an SNS topic")
        .property(Property::string("topic").required().forces_replacement().describe("Topic ARN"))
        .property(Property::string("protocol").required().allowed(SUBSCRIPTION_PROTOCOLS).forces_replacement())
        .property(Property::string("endpoint").required().forces_replacement())
        .output("arn", "The subscription's ARN, or `pending confirmation`")
        .volatile_output("pendingConfirmation", "True until the endpoint confirms (email)")
        .identified_by(&["topic", "protocol", "endpoint"])
}

#[derive(Debug, Deserialize)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct SubscriptionInputs {
    topic: String,
    protocol: String,
    endpoint: String,
}

#[cfg(feature = "aws")]
pub use calls::Subscription;

#[cfg(feature = "aws")]
mod calls {
    use super::SubscriptionInputs;
    use crate::prelude::*;

    sdk_type!(Subscription, aws_sdk_sns::Client);

    #[async_trait]
    impl Resource for Subscription {
        type Inputs = SubscriptionInputs;

        async fn describe(&self, arn: &str, _: &Value) -> Result<Option<Live>, ProviderError> {
            let attributes = match self.client.get_subscription_attributes().subscription_arn(arn).send().await {
                Ok(out) => out.attributes.unwrap_or_default(),
                Err(e) => match api_error("GetSubscriptionAttributes", e) {
                    // SNS answers a malformed or unknown subscription ARN with InvalidParameter.
                    ProviderError::Api { code, .. } if code == "InvalidParameter" => return Ok(None),
                    other => return Err(other),
                },
            };
            let get = |k: &str| Value::string(attributes.get(k).map(String::as_str).unwrap_or(""));
            let pending = attributes.get("PendingConfirmation").is_some_and(|p| p == "true");
            let inputs = [("topic", "TopicArn"), ("protocol", "Protocol"), ("endpoint", "Endpoint")];
            Ok(Some(Live {
                id: arn.to_string(),
                inputs: inputs
                    .into_iter()
                    .map(|(property, attribute)| (property.to_string(), get(attribute)))
                    .collect(),
                outputs: Value::Map(
                    [("arn".into(), Value::string(arn)), ("pendingConfirmation".into(), Value::Bool(pending))].into(),
                ),
                tags: None,
            }))
        }

        async fn create(&self, input: &SubscriptionInputs, _: &Tags) -> Result<Made, ProviderError> {
            let request = self.client.subscribe().topic_arn(&input.topic).protocol(&input.protocol);
            let out = request.endpoint(&input.endpoint).return_subscription_arn(true).send().await.call("Subscribe")?;
            let arn = out.subscription_arn().unwrap_or_default().to_string();
            // A subscription waiting for its endpoint's confirmation (email) may not be readable yet.
            let pending = [("arn".into(), Value::string(&arn)), ("pendingConfirmation".into(), Value::Bool(true))];
            Ok(Made { id: arn, outputs: Some(Value::Map(pending.into())) })
        }

        async fn delete(&self, arn: &str, _: Option<&SubscriptionInputs>) -> Result<(), ProviderError> {
            self.client.unsubscribe().subscription_arn(arn).send().await.call("Unsubscribe").map(drop)
        }

        async fn locate(&self, input: &SubscriptionInputs, _: &str) -> Result<Option<String>, ProviderError> {
            let request = self.client.list_subscriptions_by_topic().topic_arn(&input.topic);
            let listed = request.send().await.call("ListSubscriptionsByTopic")?;
            let found = listed
                .subscriptions()
                .iter()
                .find(|s| {
                    s.protocol() == Some(input.protocol.as_str()) && s.endpoint() == Some(input.endpoint.as_str())
                })
                .and_then(|s| s.subscription_arn())
                // "PendingConfirmation" is not an ARN: nothing to read yet.
                .filter(|arn| arn.starts_with("arn:"));
            Ok(found.map(str::to_string))
        }
    }
}
