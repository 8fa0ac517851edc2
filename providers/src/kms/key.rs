//! `aws:kms:Key`: a customer-managed key.
//!
//! Create: CreateKey (tagged with the run's create token so an interrupted create can be found), then key
//! rotation. Update in place: description, rotation, policy, tags; `deletionWindowInDays` is only used when
//! deleting. Replace: keyUsage, keySpec. Delete: ScheduleKeyDeletion with the configured window (a key pending
//! deletion counts as gone). Holds data: whatever it encrypted is unreadable without it.

use stackr_engine::schema::{Property, ResourceSchema};

const KEY_USAGES: &[&str] = &["ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC"];
const KEY_SPECS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
];

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:kms:Key", "A customer-managed KMS key")
        .property(Property::string("description").default(""))
        .property(Property::boolean("enableKeyRotation").default(false))
        .property(
            Property::integer("deletionWindowInDays")
                .default(30)
                .range(7, 30)
                .describe("Days a deleted key waits before KMS destroys it"),
        )
        .property(Property::string("keyUsage").default("ENCRYPT_DECRYPT").allowed(KEY_USAGES).forces_replacement())
        .property(Property::string("keySpec").default("SYMMETRIC_DEFAULT").allowed(KEY_SPECS).forces_replacement())
        .property(Property::json("policy").describe("Key policy; KMS's default policy when absent"))
        .property(Property::tags())
        .output("arn", "The key's ARN")
        .output("keyId", "The key's id")
        .holds_data()
}

#[cfg(feature = "aws")]
pub use calls::KeyProvider;

/// The AWS calls (feature `aws`).
#[cfg(feature = "aws")]
mod calls {
    use std::collections::BTreeMap;

    use async_trait::async_trait;
    use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, Tag};
    use aws_sdk_kms::Client;
    use serde::Deserialize;
    use stackr_engine::provider::{CallContext, Created, Observed, Provider, ProviderError};
    use stackr_engine::schema::ResourceSchema;
    use stackr_engine::value::Value;

    use crate::aws::{api_error, found, is_access_denied, is_not_found, still_there};
    use crate::inputs::{document_text, document_value, outputs, parse, prior_field, tag_changes, tags_value};
    use crate::TOKEN_TAG;

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct KeyInputs {
        #[serde(default)]
        description: String,
        #[serde(default)]
        enable_key_rotation: bool,
        #[serde(default = "default_window")]
        deletion_window_in_days: i32,
        key_usage: Option<String>,
        key_spec: Option<String>,
        policy: Option<serde_json::Value>,
        #[serde(default)]
        tags: BTreeMap<String, String>,
    }

    fn default_window() -> i32 {
        30
    }

    pub struct KeyProvider {
        schema: ResourceSchema,
        client: Client,
    }

    impl KeyProvider {
        pub fn new(config: &aws_config::SdkConfig) -> KeyProvider {
            KeyProvider::with_client(Client::new(config))
        }

        /// A provider on a given client (tests use mocked clients).
        pub fn with_client(client: Client) -> KeyProvider {
            KeyProvider { schema: super::schema(), client }
        }

        async fn tags(&self, key_id: &str) -> Result<BTreeMap<String, String>, ProviderError> {
            let out = self
                .client
                .list_resource_tags()
                .key_id(key_id)
                .send()
                .await
                .map_err(|e| api_error("ListResourceTags", e))?;
            Ok(out.tags().iter().map(|t| (t.tag_key().to_string(), t.tag_value().to_string())).collect())
        }

        async fn observe(&self, id: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            let Some(described) =
                found(self.client.describe_key().key_id(id).send().await.map_err(|e| api_error("DescribeKey", e)))?
            else {
                return Ok(None);
            };
            let Some(metadata) = described.key_metadata() else { return Ok(None) };
            if matches!(metadata.key_state(), Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)) {
                return Ok(None);
            }
            let key_id = metadata.key_id().to_string();
            let rotation = self
                .client
                .get_key_rotation_status()
                .key_id(&key_id)
                .send()
                .await
                .map_err(|e| api_error("GetKeyRotationStatus", e))?
                .key_rotation_enabled();
            // The policy is compared only when the stack sets one: otherwise KMS's default policy is expected.
            let policy = if prior_field(prior, "policy").is_some() {
                let out = self
                    .client
                    .get_key_policy()
                    .key_id(&key_id)
                    .send()
                    .await
                    .map_err(|e| api_error("GetKeyPolicy", e))?;
                out.policy().and_then(document_value)
            } else {
                None
            };
            let mut tags = self.tags(&key_id).await?;
            let create_token = crate::inputs::split_stackr_tags(&mut tags);
            let window = prior_field(prior, "deletionWindowInDays").cloned().unwrap_or(Value::from(30));
            let mut inputs = BTreeMap::from([
                ("description".to_string(), Value::String(metadata.description().unwrap_or("").to_string())),
                ("enableKeyRotation".to_string(), Value::Bool(rotation)),
                ("deletionWindowInDays".to_string(), window),
                (
                    "keyUsage".to_string(),
                    Value::String(metadata.key_usage().map(|u| u.as_str()).unwrap_or("ENCRYPT_DECRYPT").to_string()),
                ),
                (
                    "keySpec".to_string(),
                    Value::String(metadata.key_spec().map(|s| s.as_str()).unwrap_or("SYMMETRIC_DEFAULT").to_string()),
                ),
            ]);
            if let Some(policy) = policy {
                inputs.insert("policy".into(), policy);
            }
            if let Some(tags) = tags_value(tags) {
                inputs.insert("tags".into(), tags);
            }
            Ok(Some(Observed {
                create_token,
                id: key_id.clone(),
                inputs: Value::Map(inputs),
                outputs: outputs([("arn", metadata.arn().map(str::to_string)), ("keyId", Some(key_id))]),
            }))
        }
    }

    fn tag(key: &str, value: &str) -> Result<Tag, ProviderError> {
        Tag::builder().tag_key(key).tag_value(value).build().map_err(|e| ProviderError::Invalid(e.to_string()))
    }

    #[async_trait]
    impl Provider for KeyProvider {
        fn schema(&self) -> &ResourceSchema {
            &self.schema
        }

        async fn create(&self, cx: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
            let input: KeyInputs = parse(self.schema.type_name, inputs)?;
            let mut request = self
                .client
                .create_key()
                .description(&input.description)
                .key_usage(KeyUsageType::from(input.key_usage.as_deref().unwrap_or("ENCRYPT_DECRYPT")))
                .key_spec(KeySpec::from(input.key_spec.as_deref().unwrap_or("SYMMETRIC_DEFAULT")));
            if let Some(policy) = &input.policy {
                request = request.policy(document_text(policy));
            }
            for (k, v) in &input.tags {
                request = request.tags(tag(k, v)?);
            }
            if let Some(token) = &cx.create_token {
                request = request.tags(tag(TOKEN_TAG, token)?);
            }
            // Not retried by the SDK: CreateKey is not idempotent, and a retry after a lost answer would make a second
            // key. The engine looks the key up by its create token first, and retries only when nothing was made.
            let created = request
                .customize()
                .config_override(aws_sdk_kms::config::Config::builder().retry_config(crate::aws::no_retries()))
                .send()
                .await
                .map_err(|e| api_error("CreateKey", e))?;
            let metadata =
                created.key_metadata().ok_or_else(|| ProviderError::Other("CreateKey returned no key".into()))?;
            let key_id = metadata.key_id().to_string();
            if input.enable_key_rotation {
                self.client
                    .enable_key_rotation()
                    .key_id(&key_id)
                    .send()
                    .await
                    .map_err(|e| api_error("EnableKeyRotation", e))?;
            }
            Ok(Created {
                id: key_id.clone(),
                outputs: outputs([("arn", metadata.arn().map(str::to_string)), ("keyId", Some(key_id))]),
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
            let old: KeyInputs = parse(self.schema.type_name, prior)?;
            let new: KeyInputs = parse(self.schema.type_name, desired)?;
            for property in changed {
                match property.as_str() {
                    "description" => {
                        self.client
                            .update_key_description()
                            .key_id(id)
                            .description(&new.description)
                            .send()
                            .await
                            .map_err(|e| api_error("UpdateKeyDescription", e))?;
                    }
                    "enableKeyRotation" if new.enable_key_rotation => {
                        self.client
                            .enable_key_rotation()
                            .key_id(id)
                            .send()
                            .await
                            .map_err(|e| api_error("EnableKeyRotation", e))?;
                    }
                    "enableKeyRotation" => {
                        self.client
                            .disable_key_rotation()
                            .key_id(id)
                            .send()
                            .await
                            .map_err(|e| api_error("DisableKeyRotation", e))?;
                    }
                    "policy" => {
                        if let Some(policy) = &new.policy {
                            self.client
                                .put_key_policy()
                                .key_id(id)
                                .policy(document_text(policy))
                                .send()
                                .await
                                .map_err(|e| api_error("PutKeyPolicy", e))?;
                        }
                    }
                    "tags" => {
                        let (set, remove) = tag_changes(&old.tags, &new.tags);
                        if !set.is_empty() {
                            let mut request = self.client.tag_resource().key_id(id);
                            for (k, v) in &set {
                                request = request.tags(tag(k, v)?);
                            }
                            request.send().await.map_err(|e| api_error("TagResource", e))?;
                        }
                        if !remove.is_empty() {
                            let mut request = self.client.untag_resource().key_id(id);
                            for k in &remove {
                                request = request.tag_keys(k);
                            }
                            request.send().await.map_err(|e| api_error("UntagResource", e))?;
                        }
                    }
                    _ => {} // deletionWindowInDays: used at delete time only.
                }
            }
            let observed = still_there(self.observe(id, desired).await?, "key", id)?;
            Ok(observed.outputs)
        }

        async fn delete(&self, _: &CallContext, id: &str, prior: &Value) -> Result<(), ProviderError> {
            let input: KeyInputs = parse(self.schema.type_name, prior)?;
            match self
                .client
                .schedule_key_deletion()
                .key_id(id)
                .pending_window_in_days(input.deletion_window_in_days)
                .send()
                .await
            {
                Ok(_) => Ok(()),
                Err(e) => {
                    let error = api_error("ScheduleKeyDeletion", e);
                    // Gone already, or already pending deletion: the outcome asked for.
                    if is_not_found(&error)
                        || matches!(&error, ProviderError::Api { code, .. } if code == "KMSInvalidStateException")
                    {
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

        /// Keys have no name, so an interrupted create is found by its create-token tag. KMS cannot filter keys by
        /// tag, so each customer key's tags are read (eight at a time). The Resource Groups Tagging API could do it
        /// in one call, but it is eventually consistent: a key created just before a crash could be missed, and
        /// creating it again is exactly the leak this lookup prevents. AWS-managed keys (targets of `alias/aws/*`)
        /// are skipped, and so are keys whose policy denies us their tags (another team's keys, never ours).
        async fn find(&self, _: &CallContext, _: &Value, token: &str) -> Result<Option<Observed>, ProviderError> {
            let keys: Vec<_> = self
                .client
                .list_keys()
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| api_error("ListKeys", e))?;
            let aliases: Vec<_> = self
                .client
                .list_aliases()
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .map_err(|e| api_error("ListAliases", e))?;
            let managed: std::collections::BTreeSet<&str> = aliases
                .iter()
                .filter(|a| a.alias_name().is_some_and(|n| n.starts_with("alias/aws/")))
                .filter_map(|a| a.target_key_id())
                .collect();
            let mut candidates =
                keys.iter().filter_map(|k| k.key_id()).filter(|id| !managed.contains(id)).map(str::to_string);
            let mut reads = tokio::task::JoinSet::new();
            loop {
                while reads.len() < 8 {
                    let Some(key_id) = candidates.next() else { break };
                    let client = self.client.clone();
                    reads.spawn(async move {
                        let tags = client.list_resource_tags().key_id(&key_id).send().await;
                        (key_id, tags.map_err(|e| api_error("ListResourceTags", e)))
                    });
                }
                let Some(joined) = reads.join_next().await else { return Ok(None) };
                let (key_id, tags) = joined.map_err(|e| ProviderError::Other(format!("ListResourceTags: {e}")))?;
                match tags {
                    Ok(out) => {
                        if out.tags().iter().any(|t| t.tag_key() == TOKEN_TAG && t.tag_value() == token) {
                            reads.abort_all();
                            return self.observe(&key_id, &Value::Null).await;
                        }
                    }
                    Err(e) if is_not_found(&e) || is_access_denied(&e) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}
