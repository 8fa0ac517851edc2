//! `aws:secretsmanager:Secret`.
//!
//! Create: CreateSecret with the given value, or with a value from GetRandomPassword when
//! `generateSecretString` is set (generated once; plans never show it). Update in place: value
//! (PutSecretValue), description and KMS key (UpdateSecret), tags. Replace: name, generator settings. Delete:
//! with the recovery window, or at once when it is 0. A secret scheduled for deletion counts as gone. Values
//! are read back only when the stack sets one, so a changed value shows as drift; they stay `(secret)`.

use stackr_engine::schema::{Property, ResourceSchema};

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:secretsmanager:Secret", "A Secrets Manager secret")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("description").default(""))
        .property(Property::string("kmsKeyId").describe("KMS key (id, ARN or alias) that encrypts the secret"))
        .property(Property::string("secretString").secret().describe("The secret's value"))
        .property(
            Property::object(
                "generateSecretString",
                vec![
                    Property::integer("length").default(32).range(1, 4096),
                    Property::boolean("excludePunctuation").default(false),
                ],
            )
            .forces_replacement()
            .describe("Generate a random value once, at create"),
        )
        .property(
            Property::integer("recoveryWindowInDays")
                .default(30)
                .describe("Days a deleted secret can be restored; 0 deletes at once"),
        )
        .property(Property::tags())
        .output("arn", "The secret's ARN")
        .volatile_output("versionId", "The id of the current version")
        .holds_data()
        .unique_name("name")
}

#[cfg(feature = "aws")]
pub use calls::SecretProvider;

/// The AWS calls (feature `aws`).
#[cfg(feature = "aws")]
mod calls {
    use std::collections::BTreeMap;

    use async_trait::async_trait;
    use aws_sdk_secretsmanager::types::Tag;
    use aws_sdk_secretsmanager::Client;
    use serde::Deserialize;
    use stackr_engine::provider::{CallContext, Created, ErrorClass, Observed, Provider, ProviderError};
    use stackr_engine::schema::ResourceSchema;
    use stackr_engine::value::Value;

    use crate::aws::{api_error, found, is_not_found, still_there};
    use crate::inputs::{outputs, parse, prior_field, same_key, tag_changes, tags_value};

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct SecretInputs {
        name: String,
        #[serde(default)]
        description: String,
        kms_key_id: Option<String>,
        secret_string: Option<String>,
        generate_secret_string: Option<Generate>,
        #[serde(default = "default_window")]
        recovery_window_in_days: i64,
        #[serde(default)]
        tags: BTreeMap<String, String>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Generate {
        #[serde(default = "default_length")]
        length: i64,
        #[serde(default)]
        exclude_punctuation: bool,
    }

    fn default_window() -> i64 {
        30
    }

    fn default_length() -> i64 {
        32
    }

    pub struct SecretProvider {
        schema: ResourceSchema,
        client: Client,
    }

    impl SecretProvider {
        pub fn new(config: &aws_config::SdkConfig) -> SecretProvider {
            SecretProvider::with_client(Client::new(config))
        }

        /// A provider on a given client (tests use mocked clients).
        pub fn with_client(client: Client) -> SecretProvider {
            SecretProvider { schema: super::schema(), client }
        }

        /// A create refused because a secret of that name is scheduled for deletion (outside stackr, which then read
        /// it as gone): AWS says only "already exists" or "scheduled for deletion"; say what to do about it.
        async fn explain_refused_create(&self, name: &str, error: ProviderError) -> ProviderError {
            let ProviderError::Api { operation, code, .. } = &error else { return error };
            if !matches!(error.class(), ErrorClass::Conflict | ErrorClass::Invalid) {
                return error;
            }
            let described = self.client.describe_secret().secret_id(name).send().await;
            let Some(deleted) = described.ok().and_then(|d| d.deleted_date().map(|at| at.to_string())) else {
                return error;
            };
            ProviderError::Api {
            operation: operation.clone(),
            code: code.clone(),
            message: format!(
                "secret `{name}` was scheduled for deletion outside stackr (on {deleted}) and still holds the name: restore it (`aws secretsmanager restore-secret --secret-id {name}`) and adopt it with `stackr import`, or delete it for good (`aws secretsmanager delete-secret --secret-id {name} --force-delete-without-recovery`)"
            ),
            retryable: false,
        }
        }

        async fn observe(&self, id: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            let Some(described) = found(
                self.client.describe_secret().secret_id(id).send().await.map_err(|e| api_error("DescribeSecret", e)),
            )?
            else {
                return Ok(None);
            };
            if described.deleted_date().is_some() {
                return Ok(None);
            }
            let arn = described.arn().unwrap_or(id).to_string();
            let mut inputs: BTreeMap<String, Value> = prior.as_map().cloned().unwrap_or_default();
            inputs.insert("name".into(), Value::string(described.name().unwrap_or_default()));
            inputs.insert("description".into(), Value::string(described.description().unwrap_or_default()));
            match (described.kms_key_id(), prior_field(prior, "kmsKeyId").and_then(Value::as_str)) {
                (Some(reported), Some(p)) if same_key(p, reported) => {}
                (Some(reported), _) => {
                    inputs.insert("kmsKeyId".into(), Value::string(reported));
                }
                (None, _) => {
                    inputs.remove("kmsKeyId");
                }
            }
            let mut tags: BTreeMap<String, String> =
                described.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string()))).collect();
            let create_token = crate::inputs::split_stackr_tags(&mut tags);
            match tags_value(tags) {
                Some(t) => inputs.insert("tags".into(), t),
                None => inputs.remove("tags"),
            };
            let mut version = None;
            if prior_field(prior, "secretString").is_some() {
                match self.client.get_secret_value().secret_id(&arn).send().await {
                    Ok(value) => {
                        version = value.version_id().map(str::to_string);
                        if let Some(text) = value.secret_string() {
                            inputs.insert("secretString".into(), Value::string(text).into_secret());
                        }
                    }
                    Err(e) => {
                        let error = api_error("GetSecretValue", e);
                        if !is_not_found(&error) {
                            return Err(error);
                        }
                    }
                }
            }
            if version.is_none() {
                version = described
                    .version_ids_to_stages()
                    .and_then(|m| m.iter().find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT")))
                    .map(|(v, _)| v.clone());
            }
            Ok(Some(Observed {
                create_token,
                id: arn.clone(),
                inputs: Value::Map(inputs),
                outputs: outputs([("arn", Some(arn)), ("versionId", version)]),
            }))
        }
    }

    #[async_trait]
    impl Provider for SecretProvider {
        fn schema(&self) -> &ResourceSchema {
            &self.schema
        }

        async fn create(&self, cx: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
            let input: SecretInputs = parse(self.schema.type_name, inputs)?;
            let value = match (&input.secret_string, &input.generate_secret_string) {
                (Some(value), _) => Some(value.clone()),
                (None, Some(generate)) => {
                    let password = self
                        .client
                        .get_random_password()
                        .password_length(generate.length)
                        .exclude_punctuation(generate.exclude_punctuation)
                        .send()
                        .await
                        .map_err(|e| api_error("GetRandomPassword", e))?;
                    password.random_password().map(str::to_string)
                }
                (None, None) => None,
            };
            let mut request = self.client.create_secret().name(&input.name).description(&input.description);
            if let Some(key) = &input.kms_key_id {
                request = request.kms_key_id(key);
            }
            if let Some(value) = value {
                request = request.secret_string(value);
            }
            for (k, v) in &crate::inputs::with_token(&input.tags, cx) {
                request = request.tags(Tag::builder().key(k).value(v).build());
            }
            let created = match request.send().await.map_err(|e| api_error("CreateSecret", e)) {
                Ok(created) => created,
                Err(error) => return Err(self.explain_refused_create(&input.name, error).await),
            };
            let arn = created.arn().unwrap_or_default().to_string();
            Ok(Created {
                id: arn.clone(),
                outputs: outputs([("arn", Some(arn)), ("versionId", created.version_id().map(str::to_string))]),
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
            let old: SecretInputs = parse(self.schema.type_name, prior)?;
            let new: SecretInputs = parse(self.schema.type_name, desired)?;
            if changed.iter().any(|c| c == "description" || c == "kmsKeyId") {
                let mut request = self.client.update_secret().secret_id(id).description(&new.description);
                if let Some(key) = &new.kms_key_id {
                    request = request.kms_key_id(key);
                }
                request.send().await.map_err(|e| api_error("UpdateSecret", e))?;
            }
            if changed.iter().any(|c| c == "secretString") {
                if let Some(value) = &new.secret_string {
                    self.client
                        .put_secret_value()
                        .secret_id(id)
                        .secret_string(value)
                        .send()
                        .await
                        .map_err(|e| api_error("PutSecretValue", e))?;
                }
            }
            if changed.iter().any(|c| c == "tags") {
                let (set, remove) = tag_changes(&old.tags, &new.tags);
                if !set.is_empty() {
                    let mut request = self.client.tag_resource().secret_id(id);
                    for (k, v) in &set {
                        request = request.tags(Tag::builder().key(k).value(v).build());
                    }
                    request.send().await.map_err(|e| api_error("TagResource", e))?;
                }
                if !remove.is_empty() {
                    self.client
                        .untag_resource()
                        .secret_id(id)
                        .set_tag_keys(Some(remove))
                        .send()
                        .await
                        .map_err(|e| api_error("UntagResource", e))?;
                }
            }
            let observed = still_there(self.observe(id, desired).await?, "secret", id)?;
            Ok(observed.outputs)
        }

        async fn delete(&self, _: &CallContext, id: &str, prior: &Value) -> Result<(), ProviderError> {
            let input: SecretInputs = parse(self.schema.type_name, prior)?;
            let mut request = self.client.delete_secret().secret_id(id);
            request = if input.recovery_window_in_days == 0 {
                request.force_delete_without_recovery(true)
            } else {
                request.recovery_window_in_days(input.recovery_window_in_days)
            };
            match request.send().await {
                Ok(_) => Ok(()),
                Err(e) => {
                    let error = api_error("DeleteSecret", e);
                    let already = matches!(&error, ProviderError::Api { code, message, .. } if code == "InvalidRequestException" && message.contains("marked for deletion"));
                    if is_not_found(&error) || already {
                        Ok(())
                    } else {
                        Err(error)
                    }
                }
            }
        }

        async fn import(&self, _: &CallContext, id: &str) -> Result<Option<Observed>, ProviderError> {
            self.observe(id, &Value::Null).await
        }

        async fn find(&self, _: &CallContext, inputs: &Value, token: &str) -> Result<Option<Observed>, ProviderError> {
            let input: SecretInputs = parse(self.schema.type_name, inputs)?;
            // Only what this create made: a secret of the same name made by anyone else is not adopted.
            Ok(self.observe(&input.name, inputs).await?.filter(|o| o.create_token.as_deref() == Some(token)))
        }
    }
}
