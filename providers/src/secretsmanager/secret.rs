//! `aws:secretsmanager:Secret`.
//!
//! Create: CreateSecret with the given value, or with a value from GetRandomPassword when
//! `generateSecretString` is set (generated once; plans never show it). Update in place: value
//! (PutSecretValue), description and KMS key (UpdateSecret), tags. Replace: name, generator settings. Delete:
//! with the recovery window, or at once when it is 0. A secret scheduled for deletion counts as gone. Values
//! are read back only when the stack sets one, so a changed value shows as drift; they stay `(secret)`.

use serde::Deserialize;
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct SecretInputs {
    name: String,
    #[serde(default)]
    description: String,
    kms_key_id: Option<String>,
    secret_string: Option<String>,
    generate_secret_string: Option<Generate>,
    #[serde(default = "default_window")]
    recovery_window_in_days: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct Generate {
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

#[cfg(feature = "aws")]
pub use calls::Secret;

#[cfg(feature = "aws")]
mod calls {
    use std::collections::BTreeMap;

    use crate::prelude::*;
    use aws_sdk_secretsmanager::types::Tag;
    use aws_sdk_secretsmanager::Client;
    use stackr_engine::provider::{ErrorClass, ProviderError};

    use super::SecretInputs;
    use crate::inputs::key_as_prior;

    sdk_type!(Secret, Client);

    impl Secret {
        /// A create refused because a secret of that name is scheduled for deletion (outside stackr, which then
        /// read it as gone): AWS says only "already exists" or "scheduled for deletion"; say what to do about it.
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

        /// The value to create with: the given one, or one GetRandomPassword generates (once).
        async fn initial_value(&self, input: &SecretInputs) -> Result<Option<String>, ProviderError> {
            match (&input.secret_string, &input.generate_secret_string) {
                (Some(value), _) => Ok(Some(value.clone())),
                (None, Some(generate)) => {
                    let request = self.client.get_random_password().password_length(generate.length);
                    let out = request.exclude_punctuation(generate.exclude_punctuation).send().await;
                    Ok(out.call("GetRandomPassword")?.random_password().map(str::to_string))
                }
                (None, None) => Ok(None),
            }
        }
    }

    #[async_trait]
    impl Resource for Secret {
        type Inputs = SecretInputs;

        async fn describe(&self, id: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
            let described = self.client.describe_secret().secret_id(id).send().await;
            let described = described.call("DescribeSecret")?;
            if described.deleted_date().is_some() {
                return Ok(None);
            }
            let arn = described.arn().unwrap_or(id).to_string();
            // What AWS does not report (the generator, the recovery window) is as recorded.
            let mut inputs: BTreeMap<String, Value> = prior.as_map().cloned().unwrap_or_default();
            inputs.insert("name".into(), Value::string(described.name().unwrap_or_default()));
            inputs.insert("description".into(), Value::string(described.description().unwrap_or_default()));
            match described.kms_key_id() {
                Some(reported) => inputs.insert("kmsKeyId".into(), key_as_prior(prior, "kmsKeyId", reported)),
                None => inputs.remove("kmsKeyId"),
            };
            let tags = described.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value()?.to_string())));
            let tags = tags.collect();
            let mut version = None;
            // The value is read back only when the stack sets one, so that a changed value shows as drift.
            if prior_field(prior, "secretString").is_some() {
                if let Some(value) =
                    found(self.client.get_secret_value().secret_id(&arn).send().await.call("GetSecretValue"))?
                {
                    version = value.version_id().map(str::to_string);
                    if let Some(text) = value.secret_string() {
                        inputs.insert("secretString".into(), Value::string(text).into_secret());
                    }
                }
            }
            if version.is_none() {
                version = described
                    .version_ids_to_stages()
                    .and_then(|m| m.iter().find(|(_, stages)| stages.iter().any(|s| s == "AWSCURRENT")))
                    .map(|(v, _)| v.clone());
            }
            let outputs = outputs([("arn", Some(arn.clone())), ("versionId", version)]);
            Ok(Some(Live { id: arn, inputs, outputs, tags: Some(tags) }))
        }

        async fn create(&self, input: &SecretInputs, tags: &Tags) -> Result<Made, ProviderError> {
            let value = self.initial_value(input).await?;
            let request = self.client.create_secret().name(&input.name).description(&input.description);
            let mut request = request.set_kms_key_id(input.kms_key_id.clone()).set_secret_string(value);
            for (k, v) in tags {
                request = request.tags(Tag::builder().key(k).value(v).build());
            }
            match request.send().await.call("CreateSecret") {
                Ok(created) => {
                    let arn = created.arn().unwrap_or_default().to_string();
                    let version = created.version_id().map(str::to_string);
                    Ok(Made { outputs: Some(outputs([("arn", Some(arn.clone())), ("versionId", version)])), id: arn })
                }
                Err(error) => Err(self.explain_refused_create(&input.name, error).await),
            }
        }

        async fn update(&self, arn: &str, change: Update<'_, SecretInputs>) -> Result<(), ProviderError> {
            let new = change.new;
            if change.any(&["description", "kmsKeyId"]) {
                let request = self.client.update_secret().secret_id(arn).description(&new.description);
                let request = request.set_kms_key_id(new.kms_key_id.clone());
                request.send().await.call("UpdateSecret")?;
            }
            if let (true, Some(value)) = (change.any(&["secretString"]), &new.secret_string) {
                let request = self.client.put_secret_value().secret_id(arn).secret_string(value);
                request.send().await.call("PutSecretValue")?;
            }
            Ok(())
        }

        async fn tag(&self, arn: &str, _: &Value, set: &Tags) -> Result<(), ProviderError> {
            let tags = set.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
            let request = self.client.tag_resource().secret_id(arn).set_tags(Some(tags));
            request.send().await.call("TagResource").map(drop)
        }

        async fn untag(&self, arn: &str, _: &Value, keys: &[String]) -> Result<(), ProviderError> {
            let request = self.client.untag_resource().secret_id(arn).set_tag_keys(Some(keys.to_vec()));
            request.send().await.call("UntagResource").map(drop)
        }

        async fn delete(&self, arn: &str, old: Option<&SecretInputs>) -> Result<(), ProviderError> {
            let request = self.client.delete_secret().secret_id(arn);
            let window = old.map_or_else(super::default_window, |o| o.recovery_window_in_days);
            let request = if window == 0 {
                request.force_delete_without_recovery(true)
            } else {
                request.recovery_window_in_days(window)
            };
            match request.send().await.call("DeleteSecret") {
                // Scheduled for deletion already: it is being deleted.
                Err(ProviderError::Api { code, message, .. })
                    if code == "InvalidRequestException" && message.contains("marked for deletion") =>
                {
                    Ok(())
                }
                other => other.map(|_| ()),
            }
        }

        async fn locate(&self, input: &SecretInputs, _: &str) -> Result<Option<String>, ProviderError> {
            Ok(Some(input.name.clone()))
        }
    }
}
