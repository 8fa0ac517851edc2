//! `aws:lambda:Permission`: a statement in a function's resource policy that lets a principal (API Gateway)
//! invoke it. Every property forces replacement; the id is `FUNCTION|STATEMENT_ID`. The statement id defaults
//! to the resource's logical name (filled in when the stack is evaluated).

use serde::Deserialize;
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct PermissionInputs {
    function: String,
    action: String,
    principal: String,
    source_arn: Option<String>,
    /// Always present in what a stack evaluates to; states recorded before it was written out may lack it.
    statement_id: Option<String>,
}

#[cfg(feature = "aws")]
pub use calls::Permission;

#[cfg(feature = "aws")]
mod calls {
    use super::PermissionInputs;
    use crate::prelude::*;

    sdk_type!(Permission, aws_sdk_lambda::Client);

    fn split(id: &str) -> (&str, &str) {
        id.rsplit_once('|').unwrap_or((id, ""))
    }

    fn id_of(input: &PermissionInputs) -> Result<String, ProviderError> {
        let sid = input.statement_id.as_deref().ok_or_else(|| ProviderError::Invalid("no statementId".into()))?;
        Ok(format!("{}|{sid}", input.function))
    }

    #[async_trait]
    impl Resource for Permission {
        type Inputs = PermissionInputs;

        async fn describe(&self, id: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
            let (function, sid) = split(id);
            let policy = self.client.get_policy().function_name(function).send().await.call("GetPolicy")?.policy;
            let document: serde_json::Value = serde_json::from_str(&policy.unwrap_or_default()).unwrap_or_default();
            let statements = document["Statement"].as_array();
            let Some(statement) = statements.and_then(|s| s.iter().find(|s| s["Sid"] == sid)) else { return Ok(None) };
            let principal = match &statement["Principal"] {
                serde_json::Value::String(p) => p.as_str(),
                other => other["Service"].as_str().or(other["AWS"].as_str()).unwrap_or_default(),
            };
            // The function as the prior named it (a name or an ARN: AWS reports neither back).
            let named = prior_field(prior, "function").and_then(Value::as_str).unwrap_or(function);
            let action = statement["Action"].as_str().unwrap_or("lambda:InvokeFunction");
            let source = statement["Condition"]["ArnLike"]["AWS:SourceArn"].as_str();
            let inputs = [
                ("function", Some(named)),
                ("statementId", Some(sid)),
                ("principal", Some(principal)),
                ("action", Some(action)),
                ("sourceArn", source),
            ];
            let inputs = inputs.into_iter().filter_map(|(k, v)| Some((k.to_string(), Value::string(v?)))).collect();
            Ok(Some(Live { id: id.to_string(), inputs, outputs: Value::Map(Default::default()), tags: None }))
        }

        async fn create(&self, input: &PermissionInputs, _: &Tags) -> Result<Made, ProviderError> {
            let id = id_of(input)?;
            let request = self.client.add_permission().function_name(&input.function).statement_id(split(&id).1);
            let request =
                request.action(&input.action).principal(&input.principal).set_source_arn(input.source_arn.clone());
            request.send().await.call("AddPermission")?;
            Ok(Made { id, outputs: Some(Value::Map(Default::default())) })
        }

        async fn delete(&self, id: &str, _: Option<&PermissionInputs>) -> Result<(), ProviderError> {
            let (function, sid) = split(id);
            let request = self.client.remove_permission().function_name(function).statement_id(sid);
            request.send().await.call("RemovePermission").map(drop)
        }

        async fn locate(&self, input: &PermissionInputs, _: &str) -> Result<Option<String>, ProviderError> {
            id_of(input).map(Some)
        }
    }
}
