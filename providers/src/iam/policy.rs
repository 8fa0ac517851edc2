//! `aws:iam:Policy`: a customer-managed policy; roles attach it by ARN (`managedPolicyArns: [${policy.arn}]`).
//!
//! Its id is its ARN. The document is updated in place by a new default version (CreatePolicyVersion; the oldest
//! version that is not the default is deleted first when the policy holds the five IAM allows); name, path and
//! description force a replacement, as IAM cannot change them. Delete: the versions that are not the default,
//! then the policy (IAM refuses while a role still has it attached, which stackr's order prevents for the roles
//! it manages).

use serde::Deserialize;
use stackr_engine::schema::{Property, ResourceSchema};

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:iam:Policy", "A customer-managed IAM policy")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("path").default("/").forces_replacement())
        .property(Property::string("description").default("").forces_replacement())
        .property(Property::json("policy").required().describe("The policy document"))
        .property(Property::tags())
        .output("arn", "The policy's ARN")
        .output("policyId", "The policy's unique id (ANPA...)")
        .volatile_output("defaultVersionId", "The version in effect (v1, v2, ...)")
        .unique_name("name")
        .names_ignore_case()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct PolicyInputs {
    name: String,
    path: String,
    #[serde(default)]
    description: String,
    policy: serde_json::Value,
}

#[cfg(feature = "aws")]
pub use calls::Policy;

#[cfg(feature = "aws")]
mod calls {
    use crate::prelude::*;
    use aws_sdk_iam::types::PolicyScopeType;
    use aws_sdk_iam::Client;

    use super::PolicyInputs;
    use crate::iam::tag;
    use crate::inputs::{document_text, document_value};

    sdk_type!(Policy, Client);

    /// IAM keeps at most five versions of a policy.
    const MAX_VERSIONS: usize = 5;

    impl Policy {
        /// The ARN of the account's own policy called `name`, whatever its path.
        async fn by_name(&self, name: &str) -> Result<Option<String>, ProviderError> {
            let request = self.client.list_policies().scope(PolicyScopeType::Local).into_paginator().items();
            let policies = request.send().collect::<Result<Vec<_>, _>>().await.call("ListPolicies")?;
            let found = policies.iter().find(|p| p.policy_name().is_some_and(|n| n.eq_ignore_ascii_case(name)));
            Ok(found.and_then(|p| p.arn()).map(str::to_string))
        }

        /// The versions that are not the default, oldest first.
        async fn old_versions(&self, arn: &str) -> Result<Vec<String>, ProviderError> {
            let listed = self.client.list_policy_versions().policy_arn(arn).send().await.call("ListPolicyVersions")?;
            let mut versions: Vec<_> = listed.versions().iter().filter(|v| !v.is_default_version()).collect();
            versions.sort_by_key(|v| v.create_date().map(|d| (d.secs(), d.subsec_nanos())));
            Ok(versions.iter().filter_map(|v| v.version_id().map(str::to_string)).collect())
        }

        async fn delete_version(&self, arn: &str, version: &str) -> Result<(), ProviderError> {
            let request = self.client.delete_policy_version().policy_arn(arn).version_id(version);
            found(request.send().await.call("DeletePolicyVersion")).map(drop)
        }
    }

    #[async_trait]
    impl Resource for Policy {
        type Inputs = PolicyInputs;

        async fn describe(&self, arn: &str, _: &Value) -> Result<Option<Live>, ProviderError> {
            let Some(policy) = self.client.get_policy().policy_arn(arn).send().await.call("GetPolicy")?.policy else {
                return Ok(None);
            };
            let version = policy.default_version_id().unwrap_or("v1").to_string();
            let request = self.client.get_policy_version().policy_arn(arn).version_id(&version);
            let document = request.send().await.call("GetPolicyVersion")?.policy_version;
            let document = document.and_then(|v| v.document().and_then(document_value)).unwrap_or(Value::Null);
            let listed = self.client.list_policy_tags().policy_arn(arn).send().await.call("ListPolicyTags")?;
            let tags = listed.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            let inputs = [
                ("name", Value::string(policy.policy_name().unwrap_or_default())),
                ("path", Value::string(policy.path().unwrap_or("/"))),
                ("description", Value::string(policy.description().unwrap_or_default())),
                ("policy", document),
            ];
            let outputs = outputs([
                ("arn", Some(arn.to_string())),
                ("policyId", policy.policy_id().map(str::to_string)),
                ("defaultVersionId", Some(version)),
            ]);
            let inputs = inputs.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            Ok(Some(Live { id: arn.to_string(), inputs, outputs, tags: Some(tags) }))
        }

        async fn create(&self, input: &PolicyInputs, tags: &Tags) -> Result<Made, ProviderError> {
            let mut request = self
                .client
                .create_policy()
                .policy_name(&input.name)
                .path(&input.path)
                .policy_document(document_text(&input.policy));
            if !input.description.is_empty() {
                request = request.description(&input.description);
            }
            for (k, v) in tags {
                request = request.tags(tag(k, v)?);
            }
            let created = request.send().await.call("CreatePolicy")?.policy;
            let arn = created.as_ref().and_then(|p| p.arn()).map(str::to_string);
            let arn = arn.ok_or_else(|| ProviderError::Other("CreatePolicy returned no policy ARN".into()))?;
            Ok(arn.into())
        }

        async fn update(&self, arn: &str, change: Update<'_, PolicyInputs>) -> Result<(), ProviderError> {
            if change.any(&["policy"]) {
                let old = self.old_versions(arn).await?;
                if old.len() + 1 >= MAX_VERSIONS {
                    self.delete_version(arn, &old[0]).await?;
                }
                let request = self.client.create_policy_version().policy_arn(arn).set_as_default(true);
                let request = request.policy_document(document_text(&change.new.policy));
                request.send().await.call("CreatePolicyVersion")?;
            }
            Ok(())
        }

        async fn tag(&self, arn: &str, _: &Value, set: &Tags) -> Result<(), ProviderError> {
            let tags = set.iter().map(|(k, v)| tag(k, v)).collect::<Result<Vec<_>, _>>()?;
            let request = self.client.tag_policy().policy_arn(arn).set_tags(Some(tags));
            request.send().await.call("TagPolicy").map(drop)
        }

        async fn untag(&self, arn: &str, _: &Value, keys: &[String]) -> Result<(), ProviderError> {
            let request = self.client.untag_policy().policy_arn(arn).set_tag_keys(Some(keys.to_vec()));
            request.send().await.call("UntagPolicy").map(drop)
        }

        async fn delete(&self, arn: &str, _: Option<&PolicyInputs>) -> Result<(), ProviderError> {
            let Some(old) = found(self.old_versions(arn).await)? else { return Ok(()) };
            for version in old {
                self.delete_version(arn, &version).await?;
            }
            self.client.delete_policy().policy_arn(arn).send().await.call("DeletePolicy").map(drop)
        }

        async fn locate(&self, input: &PolicyInputs, _: &str) -> Result<Option<String>, ProviderError> {
            self.by_name(&input.name).await
        }

        async fn import_id(&self, given: &str) -> Result<Option<String>, ProviderError> {
            if given.starts_with("arn:") {
                return Ok(Some(given.to_string()));
            }
            self.by_name(given).await
        }
    }
}
