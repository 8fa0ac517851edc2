//! `aws:events:Rule`: an EventBridge rule, on a schedule or an event pattern, with its targets inline. Its id is
//! `BUS|NAME`.
//!
//! Create: PutRule, then PutTargets (a configuration call). The pattern, schedule, description, state and targets
//! are updated in place (targets the stack drops are removed by id); the name and the bus force a replacement.
//! PutRule updates a rule of the same name instead of failing, so the name is looked up before the create.

use serde::Deserialize;
use stackr_engine::schema::{PropType, Property, ResourceSchema};
use stackr_engine::value::Value;

const STATES: &[&str] = &["ENABLED", "DISABLED"];

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    ResourceSchema::new("aws:events:Rule", "An EventBridge rule and its targets")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("eventBusName").default("default").forces_replacement())
        .property(Property::string("description").default(""))
        .property(Property::string("scheduleExpression").describe("rate(5 minutes) or cron(...)"))
        .property(Property::json("eventPattern").describe("The events the rule matches"))
        .property(Property::string("state").default("ENABLED").allowed(STATES))
        .property(Property::list(
            "targets",
            PropType::Object(vec![
                Property::string("id").required(),
                Property::string("arn").required().describe("Lambda, SQS, SNS, Step Functions, ..."),
                Property::string("roleArn").describe("The role EventBridge assumes (Step Functions)"),
                Property::json("input").describe("A constant input, instead of the event"),
                Property::string("inputPath").describe("A JSONPath into the event"),
            ]),
        ))
        .property(Property::tags())
        .output("arn", "The rule's ARN")
        .unique_name("name")
        .identified_by(&["eventBusName", "name"])
        .create_overwrites()
        .rules(rules)
}

/// A rule runs on a schedule or matches a pattern: exactly one of the two.
fn rules(inputs: &Value) -> Vec<(String, String)> {
    let given = |k: &str| inputs.as_map().and_then(|m| m.get(k)).is_some_and(|v| !matches!(v, Value::Null));
    match (given("scheduleExpression"), given("eventPattern")) {
        (false, false) => vec![(String::new(), "a rule needs a scheduleExpression or an eventPattern".into())],
        (true, true) => {
            vec![("eventPattern".into(), "a rule has a scheduleExpression or an eventPattern, not both".into())]
        }
        _ => Vec::new(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct RuleInputs {
    name: String,
    event_bus_name: String,
    #[serde(default)]
    description: String,
    schedule_expression: Option<String>,
    event_pattern: Option<serde_json::Value>,
    state: String,
    #[serde(default)]
    targets: Vec<TargetInputs>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct TargetInputs {
    id: String,
    arn: String,
    role_arn: Option<String>,
    input: Option<serde_json::Value>,
    input_path: Option<String>,
}

#[cfg(feature = "aws")]
pub use calls::Rule;

#[cfg(feature = "aws")]
mod calls {
    use std::collections::BTreeMap;

    use crate::prelude::*;
    use aws_sdk_eventbridge::types::{RuleState, Tag, Target};
    use aws_sdk_eventbridge::Client;

    use super::{RuleInputs, TargetInputs};
    use crate::inputs::{document_text, document_value};

    sdk_type!(Rule, Client);

    fn split(id: &str) -> (&str, &str) {
        id.split_once('|').unwrap_or(("default", id))
    }

    impl Rule {
        async fn put_rule(&self, input: &RuleInputs, tags: &Tags) -> Result<Option<String>, ProviderError> {
            let request = self.client.put_rule().name(&input.name).event_bus_name(&input.event_bus_name);
            let request = request.description(&input.description).state(RuleState::from(input.state.as_str()));
            let mut request = request
                .set_schedule_expression(input.schedule_expression.clone())
                .set_event_pattern(input.event_pattern.as_ref().map(document_text));
            for (k, v) in tags {
                request = request.tags(built(Tag::builder().key(k).value(v).build())?);
            }
            Ok(request.send().await.call("PutRule")?.rule_arn)
        }

        async fn put_targets(&self, input: &RuleInputs, targets: &[&TargetInputs]) -> Result<(), ProviderError> {
            if targets.is_empty() {
                return Ok(());
            }
            let mut built_targets = Vec::new();
            for t in targets {
                let target = Target::builder().id(&t.id).arn(&t.arn).set_role_arn(t.role_arn.clone());
                let target = target.set_input(t.input.as_ref().map(document_text)).set_input_path(t.input_path.clone());
                built_targets.push(built(target.build())?);
            }
            let request = self.client.put_targets().rule(&input.name).event_bus_name(&input.event_bus_name);
            let out = request.set_targets(Some(built_targets)).send().await.call("PutTargets")?;
            match out.failed_entries().first() {
                Some(failed) => Err(ProviderError::Invalid(format!(
                    "PutTargets refused target {}: {}",
                    failed.target_id().unwrap_or("?"),
                    failed.error_message().unwrap_or("no reason given")
                ))),
                None => Ok(()),
            }
        }

        async fn remove_targets(&self, bus: &str, rule: &str, ids: Vec<String>) -> Result<(), ProviderError> {
            if ids.is_empty() {
                return Ok(());
            }
            let request = self.client.remove_targets().rule(rule).event_bus_name(bus).set_ids(Some(ids));
            request.send().await.call("RemoveTargets").map(drop)
        }
    }

    #[async_trait]
    impl Resource for Rule {
        type Inputs = RuleInputs;

        async fn describe(&self, id: &str, _: &Value) -> Result<Option<Live>, ProviderError> {
            let (bus, name) = split(id);
            let request = self.client.describe_rule().name(name).event_bus_name(bus);
            let Some(rule) = found(request.send().await.call("DescribeRule"))? else { return Ok(None) };
            let request = self.client.list_targets_by_rule().rule(name).event_bus_name(bus);
            let listed = request.send().await.call("ListTargetsByRule")?;
            let targets = listed.targets().iter().map(|t| {
                let mut entry = BTreeMap::from([
                    ("id".to_string(), Value::string(t.id())),
                    ("arn".to_string(), Value::string(t.arn())),
                ]);
                if let Some(role) = t.role_arn() {
                    entry.insert("roleArn".into(), Value::string(role));
                }
                if let Some(input) = t.input().and_then(document_value) {
                    entry.insert("input".into(), input);
                }
                if let Some(path) = t.input_path() {
                    entry.insert("inputPath".into(), Value::string(path));
                }
                Value::Map(entry)
            });
            let mut inputs = BTreeMap::from([
                ("name".to_string(), Value::string(name)),
                ("eventBusName".to_string(), Value::string(bus)),
                ("description".to_string(), Value::string(rule.description().unwrap_or_default())),
                ("state".to_string(), Value::string(rule.state().map(|s| s.as_str()).unwrap_or("ENABLED"))),
                ("targets".to_string(), Value::List(targets.collect())),
            ]);
            if let Some(schedule) = rule.schedule_expression() {
                inputs.insert("scheduleExpression".into(), Value::string(schedule));
            }
            if let Some(pattern) = rule.event_pattern().and_then(document_value) {
                inputs.insert("eventPattern".into(), pattern);
            }
            let arn = rule.arn().unwrap_or_default().to_string();
            let listed = self.client.list_tags_for_resource().resource_arn(&arn).send().await;
            let listed = listed.call("ListTagsForResource")?;
            let tags = listed.tags().iter().map(|t| (t.key().to_string(), t.value().to_string()));
            let outputs = outputs([("arn", Some(arn.clone()))]);
            Ok(Some(Live { id: id.to_string(), inputs, outputs, tags: Some(tags.collect()) }))
        }

        async fn create(&self, input: &RuleInputs, tags: &Tags) -> Result<Made, ProviderError> {
            let arn = self.put_rule(input, tags).await?;
            let id = format!("{}|{}", input.event_bus_name, input.name);
            Ok(Made { id, outputs: arn.map(|arn| outputs([("arn", Some(arn))])) })
        }

        /// The targets, after the rule exists.
        async fn configure(&self, _: &str, input: &RuleInputs) -> Result<(), ProviderError> {
            self.put_targets(input, &input.targets.iter().collect::<Vec<_>>()).await
        }

        async fn update(&self, _: &str, change: Update<'_, RuleInputs>) -> Result<(), ProviderError> {
            let (old, new) = (change.old, change.new);
            if change.any(&["description", "scheduleExpression", "eventPattern", "state"]) {
                self.put_rule(new, &Tags::new()).await?;
            }
            if change.any(&["targets"]) {
                let dropped = old.targets.iter().filter(|o| !new.targets.iter().any(|n| n.id == o.id));
                self.remove_targets(&new.event_bus_name, &new.name, dropped.map(|t| t.id.clone()).collect()).await?;
                let changed: Vec<&TargetInputs> = new.targets.iter().filter(|n| !old.targets.contains(n)).collect();
                self.put_targets(new, &changed).await?;
            }
            Ok(())
        }

        async fn tag(&self, _: &str, outputs: &Value, set: &Tags) -> Result<(), ProviderError> {
            let tags = set.iter().map(|(k, v)| built(Tag::builder().key(k).value(v).build()));
            let tags = tags.collect::<Result<Vec<_>, _>>()?;
            let request = self.client.tag_resource().resource_arn(output_str(outputs, "arn")).set_tags(Some(tags));
            request.send().await.call("TagResource").map(drop)
        }

        async fn untag(&self, _: &str, outputs: &Value, keys: &[String]) -> Result<(), ProviderError> {
            let request = self.client.untag_resource().resource_arn(output_str(outputs, "arn"));
            request.set_tag_keys(Some(keys.to_vec())).send().await.call("UntagResource").map(drop)
        }

        /// Its targets first, as EventBridge requires.
        async fn delete(&self, id: &str, _: Option<&RuleInputs>) -> Result<(), ProviderError> {
            let (bus, name) = split(id);
            let request = self.client.list_targets_by_rule().rule(name).event_bus_name(bus);
            let Some(listed) = found(request.send().await.call("ListTargetsByRule"))? else { return Ok(()) };
            self.remove_targets(bus, name, listed.targets().iter().map(|t| t.id().to_string()).collect()).await?;
            self.client.delete_rule().name(name).event_bus_name(bus).send().await.call("DeleteRule").map(drop)
        }

        async fn locate(&self, input: &RuleInputs, _: &str) -> Result<Option<String>, ProviderError> {
            Ok(Some(format!("{}|{}", input.event_bus_name, input.name)))
        }

        /// `BUS|NAME`, a name on the default bus, or an ARN (`…:rule/NAME` or `…:rule/BUS/NAME`).
        async fn import_id(&self, given: &str) -> Result<Option<String>, ProviderError> {
            let id = match given.split_once(":rule/") {
                Some((_, path)) => match path.split_once('/') {
                    Some((bus, name)) => format!("{bus}|{name}"),
                    None => format!("default|{path}"),
                },
                None if given.contains('|') => given.to_string(),
                None => format!("default|{given}"),
            };
            Ok(Some(id))
        }
    }
}
