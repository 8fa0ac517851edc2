//! `aws:iam:Role`.
//!
//! Create: CreateRole with the trust policy, then inline policies (PutRolePolicy) and managed policies
//! (AttachRolePolicy). Update in place: trust policy, description, session duration, inline policies put or
//! deleted, managed policies attached or detached, tags. Replace: name. Delete: managed policies detached and
//! inline policies deleted first, as IAM requires. Policies are compared as JSON values.

use serde::Deserialize;
use stackr_engine::schema::{PropType, Property, ResourceSchema};

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:iam:Role", "An IAM role")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("description").default(""))
        .property(Property::json("assumeRolePolicy").required().describe("Trust policy"))
        .property(Property::list(
            "inlinePolicies",
            PropType::Object(vec![Property::string("name").required(), Property::json("policy").required()]),
        ))
        .property(Property::list("managedPolicyArns", PropType::String))
        .property(Property::integer("maxSessionDuration").default(3600).range(3600, 43200))
        .property(Property::tags())
        .output("arn", "The role's ARN")
        .output("uniqueId", "The role's unique id (AROA...)")
        .unique_name("name")
        .names_ignore_case()
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct RoleInputs {
    name: String,
    #[serde(default)]
    description: String,
    assume_role_policy: serde_json::Value,
    #[serde(default)]
    inline_policies: Vec<InlinePolicy>,
    #[serde(default)]
    managed_policy_arns: Vec<String>,
    #[serde(default = "hour")]
    max_session_duration: i32,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct InlinePolicy {
    name: String,
    policy: serde_json::Value,
}

fn hour() -> i32 {
    3600
}

#[cfg(feature = "aws")]
pub use calls::Role;

#[cfg(feature = "aws")]
mod calls {
    use std::collections::BTreeMap;

    use crate::prelude::*;
    use aws_sdk_iam::Client;

    use super::{InlinePolicy, RoleInputs};
    use crate::iam::tag;
    use crate::inputs::{document_text, document_value};

    sdk_type!(Role, Client);

    /// `found` in the order `declared` gives them, the others after.
    fn in_declared_order<T>(found: &mut [T], declared: &[&str], key: impl Fn(&T) -> &str) {
        found.sort_by_key(|item| declared.iter().position(|d| *d == key(item)).unwrap_or(usize::MAX));
    }

    impl Role {
        async fn inline_policies(&self, role: &str) -> Result<Vec<(String, Value)>, ProviderError> {
            let names = self.client.list_role_policies().role_name(role).send().await;
            let names = names.call("ListRolePolicies")?;
            let mut policies = Vec::new();
            for policy_name in names.policy_names() {
                let policy = self.client.get_role_policy().role_name(role).policy_name(policy_name).send().await;
                let policy = policy.call("GetRolePolicy")?;
                policies.push((policy_name.clone(), document_value(policy.policy_document()).unwrap_or(Value::Null)));
            }
            Ok(policies)
        }

        async fn managed_policies(&self, role: &str) -> Result<Vec<String>, ProviderError> {
            let attached = self.client.list_attached_role_policies().role_name(role).send().await;
            let attached = attached.call("ListAttachedRolePolicies")?;
            Ok(attached.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_string)).collect())
        }

        /// Puts the inline policies that `new` adds or changes and deletes those it drops; attaches the managed
        /// policies it adds and detaches those it drops. From nothing (`old` empty), this completes a create.
        async fn sync_policies(
            &self,
            role: &str,
            (old_inline, new_inline): (&[InlinePolicy], &[InlinePolicy]),
            (old_managed, new_managed): (&[String], &[String]),
        ) -> Result<(), ProviderError> {
            for policy in new_inline.iter().filter(|p| !old_inline.contains(p)) {
                let request = self.client.put_role_policy().role_name(role).policy_name(&policy.name);
                let request = request.policy_document(document_text(&policy.policy));
                request.send().await.call("PutRolePolicy")?;
            }
            for policy in old_inline.iter().filter(|o| !new_inline.iter().any(|n| n.name == o.name)) {
                let request = self.client.delete_role_policy().role_name(role).policy_name(&policy.name);
                request.send().await.call("DeleteRolePolicy")?;
            }
            for arn in new_managed.iter().filter(|a| !old_managed.contains(a)) {
                let request = self.client.attach_role_policy().role_name(role).policy_arn(arn);
                request.send().await.call("AttachRolePolicy")?;
            }
            for arn in old_managed.iter().filter(|a| !new_managed.contains(a)) {
                let request = self.client.detach_role_policy().role_name(role).policy_arn(arn);
                request.send().await.call("DetachRolePolicy")?;
            }
            Ok(())
        }
    }

    #[async_trait]
    impl Resource for Role {
        type Inputs = RoleInputs;

        async fn describe(&self, name: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
            let out = self.client.get_role().role_name(name).send().await;
            let Some(role) = out.call("GetRole")?.role else { return Ok(None) };
            let prior = prior.as_map().cloned().unwrap_or_default();
            let mut inline = self.inline_policies(name).await?;
            let mut managed = self.managed_policies(name).await?;
            // Lists in the stack's order when they hold the same entries.
            if let Some(Value::List(declared)) = prior.get("inlinePolicies") {
                let names: Vec<&str> = declared
                    .iter()
                    .filter_map(|p| p.as_map().and_then(|m| m.get("name")).and_then(Value::as_str))
                    .collect();
                in_declared_order(&mut inline, &names, |(n, _)| n.as_str());
            }
            if let Some(Value::List(declared)) = prior.get("managedPolicyArns") {
                let arns: Vec<&str> = declared.iter().filter_map(Value::as_str).collect();
                in_declared_order(&mut managed, &arns, String::as_str);
            }
            let listed = self.client.list_role_tags().role_name(name).send().await;
            let listed = listed.call("ListRoleTags")?;
            let tags = listed.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            let trust = role.assume_role_policy_document().and_then(document_value).unwrap_or(Value::Null);
            let mut inputs = BTreeMap::from([
                ("name".to_string(), Value::string(role.role_name())),
                ("description".to_string(), Value::string(role.description().unwrap_or(""))),
                ("assumeRolePolicy".to_string(), trust),
                ("maxSessionDuration".to_string(), Value::from(i64::from(role.max_session_duration().unwrap_or(3600)))),
            ]);
            if !inline.is_empty() || prior.contains_key("inlinePolicies") {
                let policies = inline.into_iter().map(|(n, p)| {
                    Value::Map([("name".to_string(), Value::String(n)), ("policy".to_string(), p)].into())
                });
                inputs.insert("inlinePolicies".into(), Value::List(policies.collect()));
            }
            if !managed.is_empty() || prior.contains_key("managedPolicyArns") {
                inputs
                    .insert("managedPolicyArns".into(), Value::List(managed.into_iter().map(Value::String).collect()));
            }
            let outputs =
                outputs([("arn", Some(role.arn().to_string())), ("uniqueId", Some(role.role_id().to_string()))]);
            Ok(Some(Live { id: role.role_name().to_string(), inputs, outputs, tags: Some(tags) }))
        }

        async fn create(&self, input: &RoleInputs, tags: &Tags) -> Result<Made, ProviderError> {
            let mut request = self
                .client
                .create_role()
                .role_name(&input.name)
                .assume_role_policy_document(document_text(&input.assume_role_policy))
                .description(&input.description)
                .max_session_duration(input.max_session_duration);
            for (k, v) in tags {
                request = request.tags(tag(k, v)?);
            }
            let created = request.send().await.call("CreateRole")?;
            let outputs = created
                .role()
                .map(|r| outputs([("arn", Some(r.arn().to_string())), ("uniqueId", Some(r.role_id().to_string()))]));
            Ok(Made { id: input.name.clone(), outputs })
        }

        async fn configure(&self, role: &str, input: &RoleInputs) -> Result<(), ProviderError> {
            self.sync_policies(role, (&[], &input.inline_policies), (&[], &input.managed_policy_arns)).await
        }

        async fn update(&self, role: &str, change: Update<'_, RoleInputs>) -> Result<(), ProviderError> {
            let Update { old, new, .. } = change;
            if change.any(&["assumeRolePolicy"]) {
                let request = self.client.update_assume_role_policy().role_name(role);
                let request = request.policy_document(document_text(&new.assume_role_policy));
                request.send().await.call("UpdateAssumeRolePolicy")?;
            }
            if change.any(&["description", "maxSessionDuration"]) {
                let request = self.client.update_role().role_name(role).description(&new.description);
                let request = request.max_session_duration(new.max_session_duration);
                request.send().await.call("UpdateRole")?;
            }
            let inline = if change.any(&["inlinePolicies"]) {
                (&old.inline_policies[..], &new.inline_policies[..])
            } else {
                (&[][..], &[][..])
            };
            let managed = if change.any(&["managedPolicyArns"]) {
                (&old.managed_policy_arns[..], &new.managed_policy_arns[..])
            } else {
                (&[][..], &[][..])
            };
            self.sync_policies(role, inline, managed).await
        }

        async fn tag(&self, role: &str, _: &Value, set: &Tags) -> Result<(), ProviderError> {
            let tags = set.iter().map(|(k, v)| tag(k, v)).collect::<Result<Vec<_>, _>>()?;
            let request = self.client.tag_role().role_name(role).set_tags(Some(tags));
            request.send().await.call("TagRole").map(drop)
        }

        async fn untag(&self, role: &str, _: &Value, keys: &[String]) -> Result<(), ProviderError> {
            let request = self.client.untag_role().role_name(role).set_tag_keys(Some(keys.to_vec()));
            request.send().await.call("UntagRole").map(drop)
        }

        /// Managed policies detached and inline policies deleted first, as IAM requires.
        async fn delete(&self, role: &str, _: Option<&RoleInputs>) -> Result<(), ProviderError> {
            let Some(managed) = found(self.managed_policies(role).await)? else { return Ok(()) };
            let inline: Vec<InlinePolicy> = self
                .inline_policies(role)
                .await?
                .into_iter()
                .map(|(name, _)| InlinePolicy { name, policy: serde_json::Value::Null })
                .collect();
            self.sync_policies(role, (&inline, &[]), (&managed, &[])).await?;
            self.client.delete_role().role_name(role).send().await.call("DeleteRole").map(drop)
        }

        async fn locate(&self, input: &RoleInputs, _: &str) -> Result<Option<String>, ProviderError> {
            Ok(Some(input.name.clone()))
        }

        async fn import_id(&self, given: &str) -> Result<Option<String>, ProviderError> {
            // arn:aws:iam::ACCOUNT:role[/PATH]/NAME
            Ok(Some(given.rsplit('/').next().unwrap_or(given).to_string()))
        }
    }
}
