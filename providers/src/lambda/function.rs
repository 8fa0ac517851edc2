//! `aws:lambda:Function`.
//!
//! Create: CreateFunction with the code zipped deterministically, retrying for a bounded time while a role
//! created in the same apply is not yet assumable (IAM is eventually consistent), then waiting until the
//! function is Active. Update in place: code (UpdateFunctionCode) and configuration
//! (UpdateFunctionConfiguration) separately, each waited for; tags. Replace: name.
//! The plan compares the code tree's content hash, so an unchanged tree never shows a change.

use stackr_engine::schema::{Property, ResourceSchema};

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
        .property(Property::tags())
        .output("arn", "The function's ARN")
        .output("invokeArn", "The ARN API Gateway invokes")
        .volatile_output("codeSha256", "Base64 SHA-256 of the deployed zip")
        .volatile_output("version", "The latest version")
        .unique_name("name")
}

#[cfg(feature = "aws")]
pub use calls::FunctionProvider;

/// The AWS calls (feature `aws`).
#[cfg(feature = "aws")]
mod calls {
    use std::collections::{BTreeMap, HashMap};
    use std::path::PathBuf;
    use std::time::Duration;

    use async_trait::async_trait;
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{Environment, FunctionCode, LastUpdateStatus, Runtime, State};
    use aws_sdk_lambda::Client;
    use serde::Deserialize;
    use stackr_engine::provider::{CallContext, Created, Observed, Provider, ProviderError};
    use stackr_engine::schema::ResourceSchema;
    use stackr_engine::value::Value;

    use crate::aws::{api_error, found, gone_is_done, still_there};
    use crate::inputs::{outputs, parse, prior_field, tag_changes, tags_value};
    use crate::lambda::package;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct FunctionInputs {
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
        #[serde(default)]
        tags: BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize)]
    struct Code {
        path: PathBuf,
    }

    #[derive(Debug, Deserialize, Default)]
    struct EnvironmentInputs {
        #[serde(default)]
        variables: BTreeMap<String, String>,
    }

    fn three() -> i32 {
        3
    }
    fn memory() -> i32 {
        128
    }

    /// How long a create waits for a new role to become assumable.
    const ROLE_PROPAGATION: Duration = Duration::from_secs(90);

    pub struct FunctionProvider {
        schema: ResourceSchema,
        client: Client,
        region: String,
    }

    impl FunctionProvider {
        pub fn new(config: &aws_config::SdkConfig) -> FunctionProvider {
            let region = config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
            FunctionProvider::with_client(Client::new(config), region)
        }

        /// A provider on a given client (tests use mocked clients).
        pub fn with_client(client: Client, region: String) -> FunctionProvider {
            FunctionProvider { schema: super::schema(), client, region }
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

        /// Waits until the function is Active and no update is in progress.
        async fn wait_ready(&self, name: &str) -> Result<(), ProviderError> {
            let mut delay = Duration::from_millis(200);
            for _ in 0..120 {
                let config = self
                    .client
                    .get_function_configuration()
                    .function_name(name)
                    .send()
                    .await
                    .map_err(|e| api_error("GetFunctionConfiguration", e))?;
                let state_ready = config.state().is_none_or(|s| *s == State::Active);
                let update_ready = config.last_update_status().is_none_or(|s| *s != LastUpdateStatus::InProgress);
                if matches!(config.state(), Some(State::Failed))
                    || matches!(config.last_update_status(), Some(LastUpdateStatus::Failed))
                {
                    let reason =
                        config.state_reason().or(config.last_update_status_reason()).unwrap_or("no reason given");
                    return Err(ProviderError::Other(format!("function {name} failed to become ready: {reason}")));
                }
                if state_ready && update_ready {
                    return Ok(());
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(ProviderError::Other(format!("function {name} was not ready after ten minutes")))
        }

        async fn observe(&self, name: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            let Some(function) = found(
                self.client.get_function().function_name(name).send().await.map_err(|e| api_error("GetFunction", e)),
            )?
            else {
                return Ok(None);
            };
            let Some(config) = function.configuration() else { return Ok(None) };
            let mut inputs = prior.as_map().cloned().unwrap_or_default();
            inputs.insert("name".into(), Value::string(config.function_name().unwrap_or(name)));
            inputs.insert("description".into(), Value::string(config.description().unwrap_or("")));
            inputs.insert("runtime".into(), Value::string(config.runtime().map(|r| r.as_str()).unwrap_or("")));
            inputs.insert("handler".into(), Value::string(config.handler().unwrap_or("")));
            inputs.insert("role".into(), Value::string(config.role().unwrap_or("")));
            inputs.insert("timeout".into(), Value::from(i64::from(config.timeout().unwrap_or(3))));
            inputs.insert("memorySize".into(), Value::from(i64::from(config.memory_size().unwrap_or(128))));
            let variables: BTreeMap<String, Value> = config
                .environment()
                .and_then(|e| e.variables())
                .map(|v| v.iter().map(|(k, v)| (k.clone(), Value::string(v))).collect())
                .unwrap_or_default();
            // Keep secret markers where the stack had them: what AWS returns is the same value, still secret.
            let declared = prior_field(prior, "environment")
                .and_then(|e| e.as_map())
                .and_then(|m| m.get("variables"))
                .and_then(Value::as_map)
                .cloned()
                .unwrap_or_default();
            let variables: BTreeMap<String, Value> = variables
                .into_iter()
                .map(|(k, v)| {
                    let secret = matches!(declared.get(&k), Some(Value::Secret(_)));
                    (k, if secret { v.into_secret() } else { v })
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
            let mut tags: BTreeMap<String, String> =
                function.tags().map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default();
            let create_token = crate::inputs::split_stackr_tags(&mut tags);
            match tags_value(tags) {
                Some(t) => inputs.insert("tags".into(), t),
                None => inputs.remove("tags"),
            };
            Ok(Some(Observed {
                create_token,
                id: config.function_name().unwrap_or(name).to_string(),
                inputs: Value::Map(inputs),
                outputs: self.outputs(config.function_arn(), config.code_sha256(), config.version()),
            }))
        }
    }

    fn environment(input: &FunctionInputs) -> Environment {
        let variables: HashMap<String, String> =
            input.environment.as_ref().map(|e| e.variables.clone().into_iter().collect()).unwrap_or_default();
        Environment::builder().set_variables(Some(variables)).build()
    }

    fn role_not_ready(error: &ProviderError) -> bool {
        matches!(error, ProviderError::Api { code, message, .. }
        if code == "InvalidParameterValueException" && message.contains("cannot be assumed"))
    }

    #[async_trait]
    impl Provider for FunctionProvider {
        fn schema(&self) -> &ResourceSchema {
            &self.schema
        }

        async fn create(&self, cx: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
            let input: FunctionInputs = parse(self.schema.type_name, inputs)?;
            let zip = package::zip(&input.code.path)?;
            let started = std::time::Instant::now();
            let mut delay = Duration::from_secs(1);
            let created = loop {
                let result = self
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
                    .environment(environment(&input))
                    .set_tags(Some(crate::inputs::with_token(&input.tags, cx).into_iter().collect()))
                    .send()
                    .await
                    .map_err(|e| api_error("CreateFunction", e));
                match result {
                    Err(e) if role_not_ready(&e) && started.elapsed() < ROLE_PROPAGATION => {
                        tokio::time::sleep(delay).await;
                        delay = (delay * 2).min(Duration::from_secs(10));
                    }
                    other => break other?,
                }
            };
            self.wait_ready(&input.name).await?;
            Ok(Created {
                id: input.name.clone(),
                outputs: self.outputs(created.function_arn(), created.code_sha256(), created.version()),
            })
        }

        async fn read(&self, _: &CallContext, id: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            self.observe(id, prior).await
        }

        async fn update(
            &self,
            _: &CallContext,
            id: &str,
            prior: &Value,
            desired: &Value,
            changed: &[String],
        ) -> Result<Value, ProviderError> {
            let old: FunctionInputs = parse(self.schema.type_name, prior)?;
            let new: FunctionInputs = parse(self.schema.type_name, desired)?;
            if changed.iter().any(|c| c == "code") {
                let zip = package::zip(&new.code.path)?;
                self.client
                    .update_function_code()
                    .function_name(id)
                    .zip_file(Blob::new(zip))
                    .send()
                    .await
                    .map_err(|e| api_error("UpdateFunctionCode", e))?;
                self.wait_ready(id).await?;
            }
            let configuration = ["description", "runtime", "handler", "role", "timeout", "memorySize", "environment"];
            if changed.iter().any(|c| configuration.contains(&c.as_str())) {
                self.client
                    .update_function_configuration()
                    .function_name(id)
                    .description(&new.description)
                    .runtime(Runtime::from(new.runtime.as_str()))
                    .handler(&new.handler)
                    .role(&new.role)
                    .timeout(new.timeout)
                    .memory_size(new.memory_size)
                    .environment(environment(&new))
                    .send()
                    .await
                    .map_err(|e| api_error("UpdateFunctionConfiguration", e))?;
                self.wait_ready(id).await?;
            }
            let observed = still_there(self.observe(id, desired).await?, "function", id)?;
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
                    self.client
                        .tag_resource()
                        .resource(&arn)
                        .set_tags(Some(set.into_iter().collect()))
                        .send()
                        .await
                        .map_err(|e| api_error("TagResource", e))?;
                }
                if !remove.is_empty() {
                    self.client
                        .untag_resource()
                        .resource(&arn)
                        .set_tag_keys(Some(remove))
                        .send()
                        .await
                        .map_err(|e| api_error("UntagResource", e))?;
                }
            }
            Ok(observed.outputs)
        }

        async fn delete(&self, _: &CallContext, id: &str, _: &Value) -> Result<(), ProviderError> {
            gone_is_done(
                self.client
                    .delete_function()
                    .function_name(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error("DeleteFunction", e)),
            )
        }

        async fn import(&self, _: &CallContext, id: &str) -> Result<Option<Observed>, ProviderError> {
            self.observe(id, &Value::Null).await
        }

        async fn find(&self, _: &CallContext, inputs: &Value, token: &str) -> Result<Option<Observed>, ProviderError> {
            let input: FunctionInputs = parse(self.schema.type_name, inputs)?;
            // Only what this create made: a function of the same name made by anyone else is not adopted.
            Ok(self.observe(&input.name, inputs).await?.filter(|o| o.create_token.as_deref() == Some(token)))
        }
    }
}
