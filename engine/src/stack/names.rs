//! Physical names: the properties that name one AWS resource of a type (a table's `name`, a dashboard's
//! `dashboardName`, a subscription's topic, protocol and endpoint) must be one resource's only, and a name must not
//! be secret. Checked at validation (literal and config values) and again when planning (names built from other
//! resources' planned properties).
//!
//! Two logical resources with one physical name would be one AWS resource recorded twice: each apply would
//! overwrite the other's settings, and deleting one would delete both. A secret name would be written in clear
//! wherever names go: the resource's id, its ARN, the state, every plan.

use std::collections::BTreeMap;

/// A stack name: letters, digits, `-` and `_`. It keys the state (a file or an object named after it), so it
/// must never hold a path.
pub fn is_stack_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// An AWS region as the SDK can send it in a header: lowercase letters, digits and `-` (`us-east-1`,
/// `eu-central-2`), at most 32 characters.
pub fn is_region(region: &str) -> bool {
    (1..=32).contains(&region.len()) && region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::schema::ResourceSchema;
use crate::stack::Resource;
use crate::value::Value;

/// The physical names seen so far, by type.
#[derive(Default)]
pub struct PhysicalNames {
    seen: BTreeMap<(String, String), (String, Location)>,
}

impl PhysicalNames {
    /// Checks one resource's evaluated inputs; names that are unknown until apply are not checked.
    pub fn check(&mut self, resource: &Resource, schema: &ResourceSchema, inputs: &Value, diags: &mut Diagnostics) {
        let properties = schema.identity_properties();
        let Some(first) = properties.first().copied() else { return };
        let given = inputs.as_map();
        if let Some(property) = schema.name_property {
            if given.and_then(|m| m.get(property)).is_some_and(Value::has_secret) {
                diags.push(
                    Diagnostic::new(
                        resource.location_of(property),
                        format!("resources.{}.properties.{property}", resource.name),
                        format!("`{property}` is secret, but a name cannot be kept secret"),
                    )
                    .with_hint("names appear in clear in ids, ARNs, plans and the state: name it with a plain value"),
                );
                return;
            }
        }
        // What names or identifies a resource in AWS cannot be empty (an empty id would be recorded, and an empty
        // lookup can match anything).
        for property in &properties {
            if given.and_then(|m| m.get(*property)).and_then(Value::as_str) == Some("") {
                diags.push(
                    Diagnostic::new(
                        resource.location_of(property),
                        format!("resources.{}.properties.{property}", resource.name),
                        format!("`{property}` is empty, but it is what identifies the {} in AWS", schema.type_name),
                    )
                    .with_hint("give it a value"),
                );
                return;
            }
        }
        let mut parts = Vec::new();
        for property in &properties {
            match given.and_then(|m| m.get(*property)) {
                Some(Value::String(text)) if !text.is_empty() => parts.push(text.as_str()),
                None if schema.defaults_to_logical_name == Some(*property) => parts.push(resource.name.as_str()),
                _ => return,
            }
        }
        let mut name = parts.join(" ");
        if schema.names_ignore_case {
            name = name.to_lowercase();
        }
        let location = resource.location_of(first);
        let path = format!("resources.{}.properties.{first}", resource.name);
        let shown = parts.join(", ");
        match self.seen.get(&(schema.type_name.to_string(), name.clone())) {
            Some((other, at)) if other != &resource.name => diags.push(
                Diagnostic::new(
                    location,
                    path,
                    format!(
                        "{} `{shown}` is already resource `{other}` ({at}): two resources would be one {} in AWS",
                        schema.type_name, schema.type_name
                    ),
                )
                .with_hint(if properties.len() > 1 {
                    format!("give each resource its own combination of {}", properties.join(", "))
                } else {
                    "give each resource a name of its own".to_string()
                }),
            ),
            Some(_) => {}
            None => {
                self.seen.insert((schema.type_name.to_string(), name), (resource.name.clone(), location));
            }
        }
    }
}
