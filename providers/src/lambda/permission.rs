//! `aws:lambda:Permission`: a statement in a function's resource policy that lets a principal (API Gateway)
//! invoke it. Every property forces replacement; the id is `FUNCTION|STATEMENT_ID`.

use stackr_engine::schema::{Property, ResourceSchema};

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:lambda:Permission", "Lets a principal invoke a Lambda function")
        .property(Property::string("function").required().forces_replacement().describe("Function name or ARN"))
        .property(Property::string("action").default("lambda:InvokeFunction").forces_replacement())
        .property(Property::string("principal").required().forces_replacement())
        .property(Property::string("sourceArn").forces_replacement())
        .property(Property::string("statementId").forces_replacement().describe("Default: the logical name"))
        .identified_by(&["function", "statementId"])
        .defaults_to_logical_name("statementId")
}

#[cfg(feature = "aws")]
pub use calls::PermissionProvider;

/// The AWS calls (feature `aws`).
#[cfg(feature = "aws")]
mod calls {
    use async_trait::async_trait;
    use aws_sdk_lambda::Client;
    use serde::Deserialize;
    use stackr_engine::provider::{CallContext, Created, Observed, Provider, ProviderError};
    use stackr_engine::schema::ResourceSchema;
    use stackr_engine::value::Value;

    use crate::aws::{api_error, gone_is_done, is_not_found};
    use crate::inputs::parse;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct PermissionInputs {
        function: String,
        #[serde(default = "invoke")]
        action: String,
        principal: String,
        source_arn: Option<String>,
        statement_id: Option<String>,
    }

    fn invoke() -> String {
        "lambda:InvokeFunction".into()
    }

    pub struct PermissionProvider {
        schema: ResourceSchema,
        client: Client,
    }

    fn split(id: &str) -> (&str, &str) {
        id.rsplit_once('|').unwrap_or((id, ""))
    }

    impl PermissionProvider {
        pub fn new(config: &aws_config::SdkConfig) -> PermissionProvider {
            PermissionProvider { schema: super::schema(), client: Client::new(config) }
        }

        async fn observe(&self, id: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            let (function, sid) = split(id);
            let policy = match self.client.get_policy().function_name(function).send().await {
                Ok(out) => out.policy.unwrap_or_default(),
                Err(e) => {
                    let error = api_error("GetPolicy", e);
                    return if is_not_found(&error) { Ok(None) } else { Err(error) };
                }
            };
            let document: serde_json::Value = serde_json::from_str(&policy).unwrap_or_default();
            let Some(statement) = document["Statement"].as_array().and_then(|s| s.iter().find(|s| s["Sid"] == sid))
            else {
                return Ok(None);
            };
            let principal = match &statement["Principal"] {
                serde_json::Value::String(p) => p.clone(),
                other => other["Service"].as_str().or(other["AWS"].as_str()).unwrap_or_default().to_string(),
            };
            let mut inputs = prior.as_map().cloned().unwrap_or_default();
            inputs.insert("function".into(), Value::string(prior_or(prior, "function", function)));
            // The statement id AWS has (a state recorded before defaults were written out may lack it).
            inputs.insert("statementId".into(), Value::string(sid));
            inputs.insert("principal".into(), Value::String(principal));
            inputs.insert(
                "action".into(),
                Value::string(statement["Action"].as_str().unwrap_or("lambda:InvokeFunction")),
            );
            match statement["Condition"]["ArnLike"]["AWS:SourceArn"].as_str() {
                Some(arn) => inputs.insert("sourceArn".into(), Value::string(arn)),
                None => inputs.remove("sourceArn"),
            };
            Ok(Some(Observed {
                create_token: None,
                id: id.to_string(),
                inputs: Value::Map(inputs),
                outputs: Value::Map(Default::default()),
            }))
        }
    }

    fn prior_or(prior: &Value, key: &str, fallback: &str) -> String {
        prior.as_map().and_then(|m| m.get(key)).and_then(Value::as_str).unwrap_or(fallback).to_string()
    }

    #[async_trait]
    impl Provider for PermissionProvider {
        fn schema(&self) -> &ResourceSchema {
            &self.schema
        }

        async fn create(&self, cx: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
            let input: PermissionInputs = parse(self.schema.type_name, inputs)?;
            let sid = input.statement_id.clone().unwrap_or_else(|| cx.resource.clone());
            let mut request = self
                .client
                .add_permission()
                .function_name(&input.function)
                .statement_id(&sid)
                .action(&input.action)
                .principal(&input.principal);
            if let Some(arn) = &input.source_arn {
                request = request.source_arn(arn);
            }
            request.send().await.map_err(|e| api_error("AddPermission", e))?;
            Ok(Created { id: format!("{}|{sid}", input.function), outputs: Value::Map(Default::default()) })
        }

        async fn read(&self, _: &CallContext, id: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            self.observe(id, prior).await
        }

        async fn update(
            &self,
            _: &CallContext,
            id: &str,
            _: &Value,
            _: &Value,
            _: &[String],
        ) -> Result<Value, ProviderError> {
            Err(ProviderError::Invalid(format!("permission {id} cannot be updated in place; every change replaces it")))
        }

        async fn delete(&self, _: &CallContext, id: &str, _: &Value) -> Result<(), ProviderError> {
            let (function, sid) = split(id);
            gone_is_done(
                self.client
                    .remove_permission()
                    .function_name(function)
                    .statement_id(sid)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error("RemovePermission", e)),
            )
        }

        async fn import(&self, _: &CallContext, id: &str) -> Result<Option<Observed>, ProviderError> {
            self.observe(id, &Value::Null).await
        }

        async fn find(&self, cx: &CallContext, inputs: &Value, _: &str) -> Result<Option<Observed>, ProviderError> {
            let input: PermissionInputs = parse(self.schema.type_name, inputs)?;
            let sid = input.statement_id.clone().unwrap_or_else(|| cx.resource.clone());
            self.observe(&format!("{}|{sid}", input.function), inputs).await
        }
    }
}
