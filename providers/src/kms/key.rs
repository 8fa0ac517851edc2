//! `aws:kms:Key`: a customer-managed key.
//!
//! Create: CreateKey (tagged with the run's create token so an interrupted create can be found), then key
//! rotation. Update in place: description, rotation, policy, tags; `deletionWindowInDays` is only used when
//! deleting. Replace: keyUsage, keySpec. Delete: ScheduleKeyDeletion with the configured window (a key pending
//! deletion counts as gone). Holds data: whatever it encrypted is unreadable without it.

use serde::Deserialize;
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

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct KeyInputs {
    #[serde(default)]
    description: String,
    #[serde(default)]
    enable_key_rotation: bool,
    #[serde(default = "default_window")]
    deletion_window_in_days: i32,
    key_usage: Option<String>,
    key_spec: Option<String>,
    policy: Option<serde_json::Value>,
}

fn default_window() -> i32 {
    30
}

#[cfg(feature = "aws")]
pub use calls::Key;

#[cfg(feature = "aws")]
mod calls {
    use std::collections::BTreeMap;

    use crate::prelude::*;
    use aws_sdk_kms::types::{KeySpec, KeyState, KeyUsageType, Tag};
    use aws_sdk_kms::Client;

    use super::KeyInputs;
    use crate::aws::{is_access_denied, is_not_found};
    use crate::inputs::{document_text, document_value};
    use crate::TOKEN_TAG;

    sdk_type!(Key, Client);

    fn tag(key: &str, value: &str) -> Result<Tag, ProviderError> {
        built(Tag::builder().tag_key(key).tag_value(value).build())
    }

    impl Key {
        async fn set_rotation(&self, key_id: &str, enabled: bool) -> Result<(), ProviderError> {
            if enabled {
                let request = self.client.enable_key_rotation().key_id(key_id);
                request.send().await.call("EnableKeyRotation")?;
            } else {
                let request = self.client.disable_key_rotation().key_id(key_id);
                request.send().await.call("DisableKeyRotation")?;
            }
            Ok(())
        }
    }

    #[async_trait]
    impl Resource for Key {
        type Inputs = KeyInputs;

        async fn describe(&self, id: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
            let described = self.client.describe_key().key_id(id).send().await;
            let described = described.call("DescribeKey")?;
            let Some(metadata) = described.key_metadata() else { return Ok(None) };
            if matches!(metadata.key_state(), Some(KeyState::PendingDeletion | KeyState::PendingReplicaDeletion)) {
                return Ok(None);
            }
            let key_id = metadata.key_id().to_string();
            let rotation = self.client.get_key_rotation_status().key_id(&key_id).send().await;
            let rotation = rotation.call("GetKeyRotationStatus")?.key_rotation_enabled();
            let listed = self.client.list_resource_tags().key_id(&key_id).send().await;
            let listed = listed.call("ListResourceTags")?;
            let tags = listed.tags().iter().map(|t| (t.tag_key().to_string(), t.tag_value().to_string())).collect();
            // KMS does not report the deletion window: it is as recorded.
            let window = prior_field(prior, "deletionWindowInDays").cloned().unwrap_or(Value::from(30));
            let usage = metadata.key_usage().map(|u| u.as_str()).unwrap_or("ENCRYPT_DECRYPT");
            let spec = metadata.key_spec().map(|s| s.as_str()).unwrap_or("SYMMETRIC_DEFAULT");
            let mut inputs = BTreeMap::from([
                ("description".to_string(), Value::string(metadata.description().unwrap_or(""))),
                ("enableKeyRotation".to_string(), Value::Bool(rotation)),
                ("deletionWindowInDays".to_string(), window),
                ("keyUsage".to_string(), Value::string(usage)),
                ("keySpec".to_string(), Value::string(spec)),
            ]);
            // The policy is compared only when the stack sets one: otherwise KMS's default policy is expected.
            if prior_field(prior, "policy").is_some() {
                let out = self.client.get_key_policy().key_id(&key_id).send().await;
                if let Some(policy) = out.call("GetKeyPolicy")?.policy().and_then(document_value) {
                    inputs.insert("policy".into(), policy);
                }
            }
            let outputs = outputs([("arn", metadata.arn().map(str::to_string)), ("keyId", Some(key_id.clone()))]);
            Ok(Some(Live { id: key_id, inputs, outputs, tags: Some(tags) }))
        }

        async fn create(&self, input: &KeyInputs, tags: &Tags) -> Result<Made, ProviderError> {
            let mut request = self
                .client
                .create_key()
                .description(&input.description)
                .key_usage(KeyUsageType::from(input.key_usage.as_deref().unwrap_or("ENCRYPT_DECRYPT")))
                .key_spec(KeySpec::from(input.key_spec.as_deref().unwrap_or("SYMMETRIC_DEFAULT")))
                .set_policy(input.policy.as_ref().map(document_text));
            for (k, v) in tags {
                request = request.tags(tag(k, v)?);
            }
            // Not retried by the SDK: CreateKey is not idempotent, and a retry after a lost answer would make a
            // second key. The engine looks the key up by its create token first, and retries only when nothing
            // was made.
            let created = request
                .customize()
                .config_override(aws_sdk_kms::config::Config::builder().retry_config(crate::aws::no_retries()))
                .send()
                .await
                .call("CreateKey")?;
            let metadata =
                created.key_metadata().ok_or_else(|| ProviderError::Other("CreateKey returned no key".into()))?;
            let key_id = metadata.key_id().to_string();
            let outputs = outputs([("arn", metadata.arn().map(str::to_string)), ("keyId", Some(key_id.clone()))]);
            Ok(Made { id: key_id, outputs: Some(outputs) })
        }

        async fn configure(&self, key_id: &str, input: &KeyInputs) -> Result<(), ProviderError> {
            match input.enable_key_rotation {
                true => self.set_rotation(key_id, true).await,
                false => Ok(()),
            }
        }

        async fn update(&self, key_id: &str, change: Update<'_, KeyInputs>) -> Result<(), ProviderError> {
            let new = change.new;
            for property in change.changed {
                match property.as_str() {
                    "description" => {
                        let request = self.client.update_key_description().key_id(key_id).description(&new.description);
                        request.send().await.call("UpdateKeyDescription")?;
                    }
                    "enableKeyRotation" => self.set_rotation(key_id, new.enable_key_rotation).await?,
                    "policy" => {
                        if let Some(policy) = &new.policy {
                            let request = self.client.put_key_policy().key_id(key_id).policy(document_text(policy));
                            request.send().await.call("PutKeyPolicy")?;
                        }
                    }
                    _ => {} // deletionWindowInDays: used at delete time only.
                }
            }
            Ok(())
        }

        async fn tag(&self, key_id: &str, _: &Value, set: &Tags) -> Result<(), ProviderError> {
            let tags = set.iter().map(|(k, v)| tag(k, v)).collect::<Result<Vec<_>, _>>()?;
            let request = self.client.tag_resource().key_id(key_id).set_tags(Some(tags));
            request.send().await.call("TagResource").map(drop)
        }

        async fn untag(&self, key_id: &str, _: &Value, keys: &[String]) -> Result<(), ProviderError> {
            let request = self.client.untag_resource().key_id(key_id).set_tag_keys(Some(keys.to_vec()));
            request.send().await.call("UntagResource").map(drop)
        }

        async fn delete(&self, key_id: &str, old: Option<&KeyInputs>) -> Result<(), ProviderError> {
            let request = self.client.schedule_key_deletion().key_id(key_id);
            let window = old.map_or_else(super::default_window, |o| o.deletion_window_in_days);
            match request.pending_window_in_days(window).send().await {
                Ok(_) => Ok(()),
                // Already pending deletion: the outcome asked for.
                Err(e) => match api_error("ScheduleKeyDeletion", e) {
                    ProviderError::Api { code, .. } if code == "KMSInvalidStateException" => Ok(()),
                    other => Err(other),
                },
            }
        }

        /// Keys have no name, so an interrupted create is found by its create-token tag. KMS cannot filter keys by
        /// tag, so each customer key's tags are read (eight at a time). The Resource Groups Tagging API could do it
        /// in one call, but it is eventually consistent: a key created just before a crash could be missed, and
        /// creating it again is exactly the leak this lookup prevents. AWS-managed keys (targets of `alias/aws/*`)
        /// are skipped, and so are keys whose policy denies us their tags (another team's keys, never ours).
        async fn locate(&self, _: &KeyInputs, token: &str) -> Result<Option<String>, ProviderError> {
            let keys = self.client.list_keys().into_paginator().items().send().collect::<Result<Vec<_>, _>>().await;
            let keys = keys.call("ListKeys")?;
            let aliases =
                self.client.list_aliases().into_paginator().items().send().collect::<Result<Vec<_>, _>>().await;
            let aliases = aliases.call("ListAliases")?;
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
                        (key_id, tags.call("ListResourceTags"))
                    });
                }
                let Some(joined) = reads.join_next().await else { return Ok(None) };
                let (key_id, tags) = joined.map_err(|e| ProviderError::Other(format!("ListResourceTags: {e}")))?;
                match tags {
                    Ok(out) => {
                        if out.tags().iter().any(|t| t.tag_key() == TOKEN_TAG && t.tag_value() == token) {
                            reads.abort_all();
                            return Ok(Some(key_id));
                        }
                    }
                    Err(e) if is_not_found(&e) || is_access_denied(&e) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
}
