//! `aws:iam:Role`.
//!
//! Create: CreateRole with the trust policy, then inline policies (PutRolePolicy) and managed policies
//! (AttachRolePolicy). Update in place: trust policy, description, session duration, inline policies put or
//! deleted, managed policies attached or detached, tags. Replace: name. Delete: managed policies detached and
//! inline policies deleted first, as IAM requires. Policies are compared as JSON values.

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

#[cfg(feature = "aws")]
pub use calls::RoleProvider;

/// The AWS calls (feature `aws`).
#[cfg(feature = "aws")]
mod calls {
    use std::collections::BTreeMap;

    use async_trait::async_trait;
    use aws_sdk_iam::types::Tag;
    use aws_sdk_iam::Client;
    use serde::Deserialize;
    use stackr_engine::provider::{CallContext, Created, Observed, Provider, ProviderError};
    use stackr_engine::schema::ResourceSchema;
    use stackr_engine::value::Value;

    use crate::aws::{api_error, gone_is_done, is_not_found, still_there};
    use crate::inputs::{document_text, document_value, outputs, parse, tag_changes, tags_value};

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct RoleInputs {
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
        #[serde(default)]
        tags: BTreeMap<String, String>,
    }

    #[derive(Debug, Clone, Deserialize, PartialEq)]
    struct InlinePolicy {
        name: String,
        policy: serde_json::Value,
    }

    fn hour() -> i32 {
        3600
    }

    pub struct RoleProvider {
        schema: ResourceSchema,
        client: Client,
    }

    fn tag(k: &str, v: &str) -> Result<Tag, ProviderError> {
        Tag::builder().key(k).value(v).build().map_err(|e| ProviderError::Invalid(e.to_string()))
    }

    impl RoleProvider {
        pub fn new(config: &aws_config::SdkConfig) -> RoleProvider {
            RoleProvider { schema: super::schema(), client: Client::new(config) }
        }

        async fn inline_policies(&self, name: &str) -> Result<Vec<(String, Value)>, ProviderError> {
            let names = self
                .client
                .list_role_policies()
                .role_name(name)
                .send()
                .await
                .map_err(|e| api_error("ListRolePolicies", e))?;
            let mut policies = Vec::new();
            for policy_name in names.policy_names() {
                let policy = self
                    .client
                    .get_role_policy()
                    .role_name(name)
                    .policy_name(policy_name)
                    .send()
                    .await
                    .map_err(|e| api_error("GetRolePolicy", e))?;
                policies.push((policy_name.clone(), document_value(policy.policy_document()).unwrap_or(Value::Null)));
            }
            Ok(policies)
        }

        async fn managed_policies(&self, name: &str) -> Result<Vec<String>, ProviderError> {
            let attached = self
                .client
                .list_attached_role_policies()
                .role_name(name)
                .send()
                .await
                .map_err(|e| api_error("ListAttachedRolePolicies", e))?;
            Ok(attached.attached_policies().iter().filter_map(|p| p.policy_arn().map(str::to_string)).collect())
        }

        async fn observe(&self, name: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            let role = match self.client.get_role().role_name(name).send().await {
                Ok(out) => match out.role {
                    Some(role) => role,
                    None => return Ok(None),
                },
                Err(e) => {
                    let error = api_error("GetRole", e);
                    return if is_not_found(&error) { Ok(None) } else { Err(error) };
                }
            };
            let prior_map = prior.as_map().cloned().unwrap_or_default();
            let mut inline = self.inline_policies(name).await?;
            let mut managed = self.managed_policies(name).await?;
            // Report lists in the stack's order when they hold the same entries.
            if let Some(Value::List(declared)) = prior_map.get("inlinePolicies") {
                let order: Vec<&str> = declared
                    .iter()
                    .filter_map(|p| p.as_map().and_then(|m| m.get("name")).and_then(Value::as_str))
                    .collect();
                inline.sort_by_key(|(n, _)| order.iter().position(|o| o == n).unwrap_or(usize::MAX));
            }
            if let Some(Value::List(declared)) = prior_map.get("managedPolicyArns") {
                let order: Vec<&str> = declared.iter().filter_map(Value::as_str).collect();
                managed.sort_by_key(|a| order.iter().position(|o| o == a).unwrap_or(usize::MAX));
            }
            let tags_out =
                self.client.list_role_tags().role_name(name).send().await.map_err(|e| api_error("ListRoleTags", e))?;
            let mut tags: BTreeMap<String, String> =
                tags_out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            let create_token = crate::inputs::split_stackr_tags(&mut tags);
            let mut inputs = BTreeMap::from([
                ("name".to_string(), Value::string(role.role_name())),
                ("description".to_string(), Value::string(role.description().unwrap_or(""))),
                (
                    "assumeRolePolicy".to_string(),
                    role.assume_role_policy_document().and_then(document_value).unwrap_or(Value::Null),
                ),
                ("maxSessionDuration".to_string(), Value::from(i64::from(role.max_session_duration().unwrap_or(3600)))),
            ]);
            if !inline.is_empty() || prior_map.contains_key("inlinePolicies") {
                inputs.insert(
                    "inlinePolicies".into(),
                    Value::List(
                        inline
                            .into_iter()
                            .map(|(n, p)| {
                                Value::Map([("name".to_string(), Value::String(n)), ("policy".to_string(), p)].into())
                            })
                            .collect(),
                    ),
                );
            }
            if !managed.is_empty() || prior_map.contains_key("managedPolicyArns") {
                inputs
                    .insert("managedPolicyArns".into(), Value::List(managed.into_iter().map(Value::String).collect()));
            }
            if let Some(tags) = tags_value(tags) {
                inputs.insert("tags".into(), tags);
            }
            Ok(Some(Observed {
                create_token,
                id: role.role_name().to_string(),
                inputs: Value::Map(inputs),
                outputs: outputs([
                    ("arn", Some(role.arn().to_string())),
                    ("uniqueId", Some(role.role_id().to_string())),
                ]),
            }))
        }

        async fn put_inline(&self, role: &str, policy: &InlinePolicy) -> Result<(), ProviderError> {
            self.client
                .put_role_policy()
                .role_name(role)
                .policy_name(&policy.name)
                .policy_document(document_text(&policy.policy))
                .send()
                .await
                .map_err(|e| api_error("PutRolePolicy", e))?;
            Ok(())
        }
    }

    #[async_trait]
    impl Provider for RoleProvider {
        fn schema(&self) -> &ResourceSchema {
            &self.schema
        }

        async fn create(&self, cx: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
            let input: RoleInputs = parse(self.schema.type_name, inputs)?;
            let mut request = self
                .client
                .create_role()
                .role_name(&input.name)
                .assume_role_policy_document(document_text(&input.assume_role_policy))
                .description(&input.description)
                .max_session_duration(input.max_session_duration);
            for (k, v) in &crate::inputs::with_token(&input.tags, cx) {
                request = request.tags(tag(k, v)?);
            }
            let created = request.send().await.map_err(|e| api_error("CreateRole", e))?;
            for policy in &input.inline_policies {
                self.put_inline(&input.name, policy).await?;
            }
            for arn in &input.managed_policy_arns {
                self.client
                    .attach_role_policy()
                    .role_name(&input.name)
                    .policy_arn(arn)
                    .send()
                    .await
                    .map_err(|e| api_error("AttachRolePolicy", e))?;
            }
            let role = created.role().ok_or_else(|| ProviderError::Other("CreateRole returned no role".into()))?;
            Ok(Created {
                id: input.name.clone(),
                outputs: outputs([
                    ("arn", Some(role.arn().to_string())),
                    ("uniqueId", Some(role.role_id().to_string())),
                ]),
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
            let old: RoleInputs = parse(self.schema.type_name, prior)?;
            let new: RoleInputs = parse(self.schema.type_name, desired)?;
            let changed = |p: &str| changed.iter().any(|c| c == p);
            if changed("assumeRolePolicy") {
                self.client
                    .update_assume_role_policy()
                    .role_name(id)
                    .policy_document(document_text(&new.assume_role_policy))
                    .send()
                    .await
                    .map_err(|e| api_error("UpdateAssumeRolePolicy", e))?;
            }
            if changed("description") || changed("maxSessionDuration") {
                self.client
                    .update_role()
                    .role_name(id)
                    .description(&new.description)
                    .max_session_duration(new.max_session_duration)
                    .send()
                    .await
                    .map_err(|e| api_error("UpdateRole", e))?;
            }
            if changed("inlinePolicies") {
                for policy in new.inline_policies.iter().filter(|p| !old.inline_policies.contains(p)) {
                    self.put_inline(id, policy).await?;
                }
                for policy in
                    old.inline_policies.iter().filter(|o| !new.inline_policies.iter().any(|n| n.name == o.name))
                {
                    self.client
                        .delete_role_policy()
                        .role_name(id)
                        .policy_name(&policy.name)
                        .send()
                        .await
                        .map_err(|e| api_error("DeleteRolePolicy", e))?;
                }
            }
            if changed("managedPolicyArns") {
                for arn in new.managed_policy_arns.iter().filter(|a| !old.managed_policy_arns.contains(a)) {
                    self.client
                        .attach_role_policy()
                        .role_name(id)
                        .policy_arn(arn)
                        .send()
                        .await
                        .map_err(|e| api_error("AttachRolePolicy", e))?;
                }
                for arn in old.managed_policy_arns.iter().filter(|a| !new.managed_policy_arns.contains(a)) {
                    self.client
                        .detach_role_policy()
                        .role_name(id)
                        .policy_arn(arn)
                        .send()
                        .await
                        .map_err(|e| api_error("DetachRolePolicy", e))?;
                }
            }
            if changed("tags") {
                let (set, remove) = tag_changes(&old.tags, &new.tags);
                if !set.is_empty() {
                    let tags: Result<Vec<Tag>, _> = set.iter().map(|(k, v)| tag(k, v)).collect();
                    self.client
                        .tag_role()
                        .role_name(id)
                        .set_tags(Some(tags?))
                        .send()
                        .await
                        .map_err(|e| api_error("TagRole", e))?;
                }
                if !remove.is_empty() {
                    self.client
                        .untag_role()
                        .role_name(id)
                        .set_tag_keys(Some(remove))
                        .send()
                        .await
                        .map_err(|e| api_error("UntagRole", e))?;
                }
            }
            let observed = still_there(self.observe(id, desired).await?, "role", id)?;
            Ok(observed.outputs)
        }

        async fn delete(&self, _: &CallContext, id: &str, _: &Value) -> Result<(), ProviderError> {
            let managed = match self.managed_policies(id).await {
                Ok(m) => m,
                Err(e) if is_not_found(&e) => return Ok(()),
                Err(e) => return Err(e),
            };
            for arn in managed {
                self.client
                    .detach_role_policy()
                    .role_name(id)
                    .policy_arn(&arn)
                    .send()
                    .await
                    .map_err(|e| api_error("DetachRolePolicy", e))?;
            }
            for (name, _) in self.inline_policies(id).await? {
                self.client
                    .delete_role_policy()
                    .role_name(id)
                    .policy_name(&name)
                    .send()
                    .await
                    .map_err(|e| api_error("DeleteRolePolicy", e))?;
            }
            gone_is_done(
                self.client
                    .delete_role()
                    .role_name(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| api_error("DeleteRole", e)),
            )
        }

        async fn import(&self, _: &CallContext, id: &str) -> Result<Option<Observed>, ProviderError> {
            let name = id.rsplit('/').next().unwrap_or(id);
            self.observe(name, &Value::Null).await
        }

        async fn find(&self, _: &CallContext, inputs: &Value, token: &str) -> Result<Option<Observed>, ProviderError> {
            let input: RoleInputs = parse(self.schema.type_name, inputs)?;
            // Only what this create made: a role of the same name made by anyone else is not adopted.
            Ok(self.observe(&input.name, inputs).await?.filter(|o| o.create_token.as_deref() == Some(token)))
        }
    }
}
