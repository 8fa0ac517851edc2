//! `aws:lambda:Function`.
//!
//! Create: CreateFunction with the code zipped deterministically, retrying for a bounded time while a role
//! created in the same apply is not yet assumable (IAM is eventually consistent), then waiting until the
//! function is Active, then its reserved concurrency (PutFunctionConcurrency). Update in place: code and
//! architectures (UpdateFunctionCode) and configuration, tracing included (UpdateFunctionConfiguration),
//! separately, each waited for; reserved concurrency put or deleted; tags. Replace: name.
//! The plan compares the code tree's content hash, so an unchanged tree never shows a change.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use stackr_engine::schema::{PropType, Property, ResourceSchema};
use stackr_engine::value::Value;

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:lambda:Function", "A Lambda function")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("description").default(""))
        .property(Property::string("runtime").required())
        .property(Property::string("handler").required())
        .property(Property::string("role").required().describe("ARN of the execution role"))
        .property(Property::asset("code").required().describe("A local directory or file, zipped deterministically"))
        .property(Property::integer("timeout").default(3).range(1, 900))
        .property(Property::integer("memorySize").default(128).range(128, 10240))
        .property(Property::object(
            "environment",
            vec![Property::string_map("variables").describe("Values may be secret")],
        ))
        .property(Property::string("tracing").allowed(&["PassThrough", "Active"]).default("PassThrough"))
        .property(
            Property::list("architectures", PropType::String)
                .default(Value::List(vec![Value::string("x86_64")]))
                .describe("`x86_64` or `arm64`"),
        )
        .property(
            Property::integer("reservedConcurrency").range(0, 1_000_000).describe("Reserved concurrent executions"),
        )
        .property(Property::tags())
        .rules(rules)
        .output("arn", "The function's ARN")
        .output("invokeArn", "The ARN API Gateway invokes")
        .volatile_output("codeSha256", "Base64 SHA-256 of the deployed zip")
        .volatile_output("version", "The latest version")
        .unique_name("name")
}

/// A function runs on one architecture, `x86_64` or `arm64`.
fn rules(inputs: &Value) -> Vec<(String, String)> {
    let Some(Value::List(architectures)) = inputs.as_map().and_then(|m| m.get("architectures")) else {
        return Vec::new();
    };
    let known = architectures.iter().all(|a| matches!(a.as_str(), Some("x86_64" | "arm64") | None));
    if architectures.len() != 1 || !known {
        return vec![("architectures".into(), "a function has one architecture: [x86_64] or [arm64]".into())];
    }
    Vec::new()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct FunctionInputs {
    name: String,
    #[serde(default)]
    description: String,
    runtime: String,
    handler: String,
    role: String,
    code: Code,
    #[serde(default = "three")]
    timeout: i32,
    #[serde(default = "memory")]
    memory_size: i32,
    environment: Option<EnvironmentInputs>,
    #[serde(default = "pass_through")]
    tracing: String,
    #[serde(default = "x86")]
    architectures: Vec<String>,
    reserved_concurrency: Option<i32>,
}

fn pass_through() -> String {
    "PassThrough".into()
}

fn x86() -> Vec<String> {
    vec!["x86_64".into()]
}

#[derive(Debug, Deserialize)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct Code {
    path: PathBuf,
}

#[derive(Debug, Deserialize, Default)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct EnvironmentInputs {
    #[serde(default)]
    variables: BTreeMap<String, String>,
}

fn three() -> i32 {
    3
}

fn memory() -> i32 {
    128
}

#[cfg(feature = "aws")]
pub use calls::Function;

#[cfg(feature = "aws")]
mod calls {
    use std::collections::{BTreeMap, HashMap};
    use std::time::Duration;

    use crate::prelude::*;
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{
        Architecture, Environment, FunctionCode, LastUpdateStatus, Runtime, State, TracingConfig, TracingMode,
    };
    use aws_sdk_lambda::Client;

    use super::FunctionInputs;
    use crate::lambda::package;
    use crate::wait::{retry_while, until_ready, Poll};

    /// How long a create waits for a new role to become assumable (IAM is eventually consistent).
    const ROLE_PROPAGATION: Duration = Duration::from_secs(90);
    /// How long a create or an update waits for the function to be Active with no update in progress.
    const READY: Duration = Duration::from_secs(600);

    pub struct Function {
        client: Client,
        region: String,
    }

    fn environment(input: &FunctionInputs) -> Environment {
        let variables: HashMap<String, String> =
            input.environment.as_ref().map(|e| e.variables.clone().into_iter().collect()).unwrap_or_default();
        Environment::builder().set_variables(Some(variables)).build()
    }

    fn tracing(input: &FunctionInputs) -> TracingConfig {
        TracingConfig::builder().mode(TracingMode::from(input.tracing.as_str())).build()
    }

    fn architectures(input: &FunctionInputs) -> Vec<Architecture> {
        input.architectures.iter().map(|a| Architecture::from(a.as_str())).collect()
    }

    fn role_not_ready(error: &ProviderError) -> bool {
        matches!(error, ProviderError::Api { code, message, .. }
            if code == "InvalidParameterValueException" && message.contains("cannot be assumed"))
    }

    impl Function {
        pub fn new(config: &aws_config::SdkConfig) -> Function {
            let region = config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
            Function::with_client(Client::new(config), region)
        }

        /// On a given client (tests use mocked clients).
        pub fn with_client(client: Client, region: String) -> Function {
            Function { client, region }
        }

        fn outputs(&self, arn: Option<&str>, sha: Option<&str>, version: Option<&str>) -> Value {
            let invoke = arn.map(|a| {
                format!("arn:aws:apigateway:{}:lambda:path/2015-03-31/functions/{a}/invocations", self.region)
            });
            outputs([
                ("arn", arn.map(str::to_string)),
                ("invokeArn", invoke),
                ("codeSha256", sha.map(str::to_string)),
                ("version", version.map(str::to_string)),
            ])
        }

        async fn reserve(&self, name: &str, reserved: i32) -> Result<(), ProviderError> {
            let request = self.client.put_function_concurrency().function_name(name);
            request.reserved_concurrent_executions(reserved).send().await.call("PutFunctionConcurrency").map(drop)
        }

        /// Waits until the function is Active and no update is in progress.
        async fn wait_ready(&self, name: &str) -> Result<(), ProviderError> {
            until_ready(&format!("function {name}"), READY, || async {
                let config = self.client.get_function_configuration().function_name(name).send().await;
                let config = config.call("GetFunctionConfiguration")?;
                if matches!(config.state(), Some(State::Failed))
                    || matches!(config.last_update_status(), Some(LastUpdateStatus::Failed))
                {
                    let reason = config.state_reason().or(config.last_update_status_reason());
                    return Ok(Poll::Failed(reason.unwrap_or("no reason given").to_string()));
                }
                let active = config.state().is_none_or(|s| *s == State::Active);
                let settled = config.last_update_status().is_none_or(|s| *s != LastUpdateStatus::InProgress);
                Ok(if active && settled { Poll::Ready } else { Poll::NotYet })
            })
            .await
        }
    }

    #[async_trait]
    impl Resource for Function {
        type Inputs = FunctionInputs;

        async fn describe(&self, name: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
            let function = self.client.get_function().function_name(name).send().await;
            let function = function.call("GetFunction")?;
            let Some(config) = function.configuration() else { return Ok(None) };
            // The code is as recorded: the plan compares the tree's content hash, which AWS does not know.
            let mut inputs = prior.as_map().cloned().unwrap_or_default();
            inputs.insert("name".into(), Value::string(config.function_name().unwrap_or(name)));
            inputs.insert("description".into(), Value::string(config.description().unwrap_or("")));
            inputs.insert("runtime".into(), Value::string(config.runtime().map(|r| r.as_str()).unwrap_or("")));
            inputs.insert("handler".into(), Value::string(config.handler().unwrap_or("")));
            inputs.insert("role".into(), Value::string(config.role().unwrap_or("")));
            inputs.insert("timeout".into(), Value::from(i64::from(config.timeout().unwrap_or(3))));
            inputs.insert("memorySize".into(), Value::from(i64::from(config.memory_size().unwrap_or(128))));
            let mode = config.tracing_config().and_then(|t| t.mode()).map_or("PassThrough", |m| m.as_str());
            inputs.insert("tracing".into(), Value::string(mode));
            let architectures: Vec<Value> = config.architectures().iter().map(|a| Value::string(a.as_str())).collect();
            let architectures = if architectures.is_empty() { vec![Value::string("x86_64")] } else { architectures };
            inputs.insert("architectures".into(), Value::List(architectures));
            match function.concurrency().and_then(|c| c.reserved_concurrent_executions()) {
                Some(reserved) => inputs.insert("reservedConcurrency".into(), Value::from(i64::from(reserved))),
                None => inputs.remove("reservedConcurrency"),
            };
            // Secret markers stay where the stack had them: what AWS returns is the same value, still secret.
            let declared = prior_field(prior, "environment")
                .and_then(|e| e.as_map())
                .and_then(|m| m.get("variables"))
                .and_then(Value::as_map)
                .cloned()
                .unwrap_or_default();
            let variables: BTreeMap<String, Value> = config
                .environment()
                .and_then(|e| e.variables())
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    let value = Value::string(v);
                    let secret = matches!(declared.get(k), Some(Value::Secret(_)));
                    (k.clone(), if secret { value.into_secret() } else { value })
                })
                .collect();
            if variables.is_empty() && prior_field(prior, "environment").is_none() {
                inputs.remove("environment");
            } else {
                inputs.insert(
                    "environment".into(),
                    Value::Map([("variables".to_string(), Value::Map(variables))].into()),
                );
            }
            let tags = function.tags().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
            let outputs = self.outputs(config.function_arn(), config.code_sha256(), config.version());
            Ok(Some(Live { id: config.function_name().unwrap_or(name).to_string(), inputs, outputs, tags: Some(tags) }))
        }

        async fn create(&self, input: &FunctionInputs, tags: &Tags) -> Result<Made, ProviderError> {
            let zip = package::zip(&input.code.path)?;
            let created = retry_while(ROLE_PROPAGATION, role_not_ready, || async {
                let request = self
                    .client
                    .create_function()
                    .function_name(&input.name)
                    .description(&input.description)
                    .runtime(Runtime::from(input.runtime.as_str()))
                    .handler(&input.handler)
                    .role(&input.role)
                    .code(FunctionCode::builder().zip_file(Blob::new(zip.clone())).build())
                    .timeout(input.timeout)
                    .memory_size(input.memory_size)
                    .environment(environment(input))
                    .tracing_config(tracing(input))
                    .set_architectures(Some(architectures(input)))
                    .set_tags(Some(tags.clone().into_iter().collect()));
                request.send().await.call("CreateFunction")
            })
            .await?;
            let outputs = self.outputs(created.function_arn(), created.code_sha256(), created.version());
            Ok(Made { id: input.name.clone(), outputs: Some(outputs) })
        }

        async fn configure(&self, name: &str, input: &FunctionInputs) -> Result<(), ProviderError> {
            self.wait_ready(name).await?;
            match input.reserved_concurrency {
                Some(reserved) => self.reserve(name, reserved).await,
                None => Ok(()),
            }
        }

        async fn update(&self, name: &str, change: Update<'_, FunctionInputs>) -> Result<(), ProviderError> {
            let new = change.new;
            if change.any(&["code", "architectures"]) {
                let zip = package::zip(&new.code.path)?;
                let request = self.client.update_function_code().function_name(name).zip_file(Blob::new(zip));
                let request = request.set_architectures(Some(architectures(new)));
                request.send().await.call("UpdateFunctionCode")?;
                self.wait_ready(name).await?;
            }
            let configuration =
                ["description", "runtime", "handler", "role", "timeout", "memorySize", "environment", "tracing"];
            if change.any(&configuration) {
                let request = self
                    .client
                    .update_function_configuration()
                    .function_name(name)
                    .description(&new.description)
                    .runtime(Runtime::from(new.runtime.as_str()))
                    .handler(&new.handler)
                    .role(&new.role)
                    .timeout(new.timeout)
                    .memory_size(new.memory_size)
                    .environment(environment(new))
                    .tracing_config(tracing(new));
                request.send().await.call("UpdateFunctionConfiguration")?;
                self.wait_ready(name).await?;
            }
            if change.any(&["reservedConcurrency"]) {
                match new.reserved_concurrency {
                    Some(reserved) => self.reserve(name, reserved).await?,
                    None => {
                        let request = self.client.delete_function_concurrency().function_name(name);
                        request.send().await.call("DeleteFunctionConcurrency")?;
                    }
                }
            }
            Ok(())
        }

        async fn tag(&self, _: &str, outputs: &Value, set: &Tags) -> Result<(), ProviderError> {
            let arn = output_str(outputs, "arn");
            let request = self.client.tag_resource().resource(arn).set_tags(Some(set.clone().into_iter().collect()));
            request.send().await.call("TagResource").map(drop)
        }

        async fn untag(&self, _: &str, outputs: &Value, keys: &[String]) -> Result<(), ProviderError> {
            let arn = output_str(outputs, "arn");
            let request = self.client.untag_resource().resource(arn).set_tag_keys(Some(keys.to_vec()));
            request.send().await.call("UntagResource").map(drop)
        }

        async fn delete(&self, name: &str, _: Option<&FunctionInputs>) -> Result<(), ProviderError> {
            self.client.delete_function().function_name(name).send().await.call("DeleteFunction").map(drop)
        }

        async fn locate(&self, input: &FunctionInputs, _: &str) -> Result<Option<String>, ProviderError> {
            Ok(Some(input.name.clone()))
        }
    }
}
