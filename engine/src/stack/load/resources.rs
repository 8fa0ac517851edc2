//! One resource's declaration: its type, its properties against the type's schema, and its options.

use std::collections::{BTreeMap, BTreeSet};

use super::files::Declared;
use super::HintIfNone;
use crate::diagnostic::Diagnostics;
use crate::provider::Registry;
use crate::stack::document::{
    bool_of, describe, join_path, map_entries, record_positions, string_list, string_of, to_expr, FileScope, MapReader,
};
use crate::stack::yaml::{Node, NodeKind};
use crate::stack::{Resource, ResourceOptions, OPTION_KEYS, RESOURCE_KEYS};
use crate::value::Value;

pub(super) fn read_resource(
    name: &str,
    d: Declared,
    registry: &Registry,
    config: &BTreeMap<String, Value>,
    diags: &mut Diagnostics,
) -> Option<Resource> {
    let path = format!("resources.{name}");
    let location = d.scope.at(d.key.pos);
    let entries = match d.node.kind {
        NodeKind::Map(entries) => entries,
        _ => {
            diags.push(d.scope.error(
                d.node.pos,
                &path,
                format!("expected a map with `type` and `properties`, found {}", describe(&d.node)),
            ));
            return None;
        }
    };
    let mut reader = MapReader::new(entries);
    let type_node = reader.take("type");
    let properties_node = reader.take("properties");
    let options_node = reader.take("options");
    reader.finish(&d.scope, &path, RESOURCE_KEYS, diags);

    let Some(type_node) = type_node else {
        diags.push(
            d.scope.error(d.key.pos, &path, "the resource has no `type`").with_hint("e.g. `type: aws:dynamodb:Table`"),
        );
        return None;
    };
    let type_name = string_of(&d.scope, &type_node, &join_path(&path, "type"), diags)?;
    let Some(schema) = registry.schema(&type_name) else {
        diags.push(
            d.scope
                .error(type_node.pos, join_path(&path, "type"), format!("unknown resource type `{type_name}`"))
                .with_suggestion(&type_name, registry.type_names()),
        );
        return None;
    };

    let properties_path = join_path(&path, "properties");
    let mut positions = BTreeMap::new();
    let mut properties = BTreeMap::new();
    if let Some(node) = properties_node {
        record_positions(&node, "", &mut positions);
        for (key, value) in map_entries(&d.scope, node, &properties_path, diags) {
            let property_path = join_path(&properties_path, &key.name);
            if schema.find_property(&key.name).is_none() {
                diags.push(
                    d.scope
                        .error(key.pos, &property_path, format!("`{}` is not a property of {type_name}", key.name))
                        .with_suggestion(&key.name, schema.properties.iter().map(|p| p.name)),
                );
                continue;
            }
            properties.insert(key.name.clone(), to_expr(&d.scope, &value, &property_path, diags));
        }
    }
    for property in schema.properties.iter().filter(|p| p.required) {
        if !properties.contains_key(property.name) {
            diags.push(
                d.scope
                    .error(d.key.pos, &properties_path, format!("missing required property `{}`", property.name))
                    .with_hint(format!("{type_name} needs `{}` ({})", property.name, property.ty.describe())),
            );
        }
    }

    let options =
        options_node.map(|node| read_options(&d.scope, &path, node, schema, config, diags)).unwrap_or_default();
    Some(Resource {
        name: name.to_string(),
        type_name,
        properties,
        options,
        dependencies: BTreeSet::new(),
        location,
        positions,
    })
}

fn read_options(
    scope: &FileScope,
    resource_path: &str,
    node: Node,
    schema: &crate::schema::ResourceSchema,
    config: &BTreeMap<String, Value>,
    diags: &mut Diagnostics,
) -> ResourceOptions {
    let path = join_path(resource_path, "options");
    let mut reader = MapReader::new(map_entries(scope, node, &path, diags));
    let mut options = ResourceOptions::default();
    // A flag is `true`/`false`, or `${parameter}` naming a boolean parameter (so environments can differ).
    let flag = |reader: &mut MapReader, key: &str, diags: &mut Diagnostics| {
        let node = reader.take(key)?;
        let key_path = join_path(&path, key);
        if let NodeKind::Str(text) = &node.kind {
            if let Some(name) = text.strip_prefix("${").and_then(|t| t.strip_suffix('}')).map(str::trim) {
                return match config.get(name).and_then(Value::as_bool) {
                    Some(b) => Some(b),
                    None => {
                        diags.push(
                            scope
                                .error(node.pos, key_path, format!("`{name}` is not a boolean parameter"))
                                .with_suggestion(name, config.keys().map(String::as_str))
                                .with_hint_if_none("options may refer to boolean parameters only".into()),
                        );
                        None
                    }
                };
            }
        }
        bool_of(scope, &node, &key_path, diags)
    };
    let flag = |reader: &mut MapReader, key: &str, diags: &mut Diagnostics| flag(reader, key, diags).unwrap_or(false);
    options.protect = flag(&mut reader, "protect", diags);
    options.retain_on_delete = flag(&mut reader, "retainOnDelete", diags);
    options.delete_before_replace = flag(&mut reader, "deleteBeforeReplace", diags);
    if let Some(n) = reader.take("dependsOn") {
        options.depends_on =
            string_list(scope, &n, &join_path(&path, "dependsOn"), diags).into_iter().map(|(s, _)| s).collect();
    }
    if let Some(n) = reader.take("ignoreChanges") {
        let ignore_path = join_path(&path, "ignoreChanges");
        for (i, (entry, pos)) in string_list(scope, &n, &ignore_path, diags).into_iter().enumerate() {
            let first = entry.split(['.', '[']).next().unwrap_or_default();
            if schema.find_property(first).is_none() {
                diags.push(
                    scope
                        .error(
                            pos,
                            format!("{ignore_path}[{i}]"),
                            format!("`{first}` is not a property of {}", schema.type_name),
                        )
                        .with_suggestion(first, schema.properties.iter().map(|p| p.name)),
                );
            }
            options.ignore_changes.push(entry);
        }
    }
    reader.finish(scope, &path, OPTION_KEYS, diags);
    options
}
