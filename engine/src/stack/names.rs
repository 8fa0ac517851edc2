//! Physical names, checked at validation: the property a type keeps unique in AWS (a table's `name`, a
//! dashboard's `dashboardName`) must be one resource's only, and must not be secret.
//!
//! Two logical resources with one physical name would be one AWS resource recorded twice: each apply would
//! overwrite the other's settings, and deleting one would delete both. A secret name would be written in clear
//! wherever names go: the resource's id, its ARN, the state, every plan.

use std::collections::BTreeMap;

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
        let Some(property) = schema.name_property else { return };
        let Some(value) = inputs.as_map().and_then(|m| m.get(property)) else { return };
        let path = format!("resources.{}.properties.{property}", resource.name);
        let location = resource.location_of(property);
        if value.has_secret() {
            diags.push(
                Diagnostic::new(location, path, format!("`{property}` is secret, but a name cannot be kept secret"))
                    .with_hint("names appear in clear in ids, ARNs, plans and the state: name it with a plain value"),
            );
            return;
        }
        let Value::String(name) = value else { return };
        let key = (schema.type_name.to_string(), name.clone());
        if let Some((other, at)) = self.seen.get(&key) {
            diags.push(
                Diagnostic::new(
                    location,
                    path,
                    format!(
                        "{} `{name}` is already resource `{other}` ({at}): two resources would be one {} in AWS",
                        schema.type_name, schema.type_name
                    ),
                )
                .with_hint("give each resource a name of its own"),
            );
            return;
        }
        self.seen.insert(key, (resource.name.clone(), location));
    }
}
