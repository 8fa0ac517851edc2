//! `aws:sns:TopicSubscription`. Every property forces replacement. An email subscription stays "pending
//! confirmation" on AWS until someone clicks the link: that is reported in the `pendingConfirmation` output, and
//! is neither an error nor a reason to wait.

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

#[cfg(feature = "aws")]
pub use calls::SubscriptionProvider;

/// The AWS calls (feature `aws`).
#[cfg(feature = "aws")]
mod calls {
    use async_trait::async_trait;
    use aws_sdk_sns::Client;
    use serde::Deserialize;
    use stackr_engine::provider::{CallContext, Created, Observed, Provider, ProviderError};
    use stackr_engine::schema::ResourceSchema;
    use stackr_engine::value::Value;

    use crate::aws::{api_error, gone_is_done, is_not_found};
    use crate::inputs::parse;

    #[derive(Debug, Deserialize)]
    struct SubscriptionInputs {
        topic: String,
        protocol: String,
        endpoint: String,
    }

    pub struct SubscriptionProvider {
        schema: ResourceSchema,
        client: Client,
    }

    impl SubscriptionProvider {
        pub fn new(config: &aws_config::SdkConfig) -> SubscriptionProvider {
            SubscriptionProvider { schema: super::schema(), client: Client::new(config) }
        }

        async fn observe(&self, arn: &str) -> Result<Option<Observed>, ProviderError> {
            let attributes = match self.client.get_subscription_attributes().subscription_arn(arn).send().await {
                Ok(out) => out.attributes.unwrap_or_default(),
                Err(e) => {
                    let error = api_error("GetSubscriptionAttributes", e);
                    let gone = is_not_found(&error)
                        || matches!(&error, ProviderError::Api { code, .. } if code == "InvalidParameter");
                    return if gone { Ok(None) } else { Err(error) };
                }
            };
            let get = |k: &str| Value::string(attributes.get(k).map(String::as_str).unwrap_or(""));
            let pending = attributes.get("PendingConfirmation").is_some_and(|p| p == "true");
            Ok(Some(Observed {
                create_token: None,
                id: arn.to_string(),
                inputs: Value::Map(
                    [
                        ("topic".to_string(), get("TopicArn")),
                        ("protocol".to_string(), get("Protocol")),
                        ("endpoint".to_string(), get("Endpoint")),
                    ]
                    .into(),
                ),
                outputs: Value::Map(
                    [
                        ("arn".to_string(), Value::string(arn)),
                        ("pendingConfirmation".to_string(), Value::Bool(pending)),
                    ]
                    .into(),
                ),
            }))
        }
    }

    #[async_trait]
    impl Provider for SubscriptionProvider {
        fn schema(&self) -> &ResourceSchema {
            &self.schema
        }

        async fn create(&self, _: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
            let input: SubscriptionInputs = parse(self.schema.type_name, inputs)?;
            let out = self
                .client
                .subscribe()
                .topic_arn(&input.topic)
                .protocol(&input.protocol)
                .endpoint(&input.endpoint)
                .return_subscription_arn(true)
                .send()
                .await
                .map_err(|e| api_error("Subscribe", e))?;
            let arn = out.subscription_arn().unwrap_or_default().to_string();
            let outputs = match self.observe(&arn).await? {
                Some(observed) => observed.outputs,
                None => Value::Map(
                    [("arn".to_string(), Value::string(&arn)), ("pendingConfirmation".to_string(), Value::Bool(true))]
                        .into(),
                ),
            };
            Ok(Created { id: arn, outputs })
        }

        async fn read(&self, _: &CallContext, id: &str, _: &Value) -> Result<Option<Observed>, ProviderError> {
            self.observe(id).await
        }

        async fn update(
            &self,
            _: &CallContext,
            id: &str,
            _: &Value,
            _: &Value,
            _: &[String],
        ) -> Result<Value, ProviderError> {
            Err(ProviderError::Invalid(format!(
                "subscription {id} cannot be updated in place; every change replaces it"
            )))
        }

        async fn delete(&self, _: &CallContext, id: &str, _: &Value) -> Result<(), ProviderError> {
            gone_is_done(
                self.client
                    .unsubscribe()
                    .subscription_arn(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error("Unsubscribe", e)),
            )
        }

        async fn import(&self, _: &CallContext, id: &str) -> Result<Option<Observed>, ProviderError> {
            self.observe(id).await
        }

        async fn find(&self, _: &CallContext, inputs: &Value, _: &str) -> Result<Option<Observed>, ProviderError> {
            let input: SubscriptionInputs = parse(self.schema.type_name, inputs)?;
            let subscriptions = self
                .client
                .list_subscriptions_by_topic()
                .topic_arn(&input.topic)
                .send()
                .await
                .map_err(|e| api_error("ListSubscriptionsByTopic", e))?;
            let found = subscriptions
                .subscriptions()
                .iter()
                .find(|s| {
                    s.protocol() == Some(input.protocol.as_str()) && s.endpoint() == Some(input.endpoint.as_str())
                })
                .and_then(|s| s.subscription_arn())
                .filter(|arn| arn.starts_with("arn:"));
            match found {
                Some(arn) => self.observe(arn).await,
                None => Ok(None),
            }
        }
    }
}
