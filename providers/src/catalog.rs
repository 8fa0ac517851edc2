//! Every resource type's schema, from the type's own file: what `validate` and `plan --refresh=false` check
//! against, with no AWS code.

use stackr_engine::provider::Registry;
use stackr_engine::schema::ResourceSchema;

use crate::{apigateway, cloudwatch, dynamodb, events, iam, kms, lambda, logs, s3, secretsmanager, sns, sqs, ssm};

/// Every built-in schema, sorted by type name.
pub fn schemas() -> Vec<ResourceSchema> {
    let mut all = vec![
        kms::key::schema(),
        kms::alias::schema(),
        secretsmanager::secret::schema(),
        dynamodb::table::schema(),
        events::rule::schema(),
        iam::policy::schema(),
        iam::role::schema(),
        lambda::event_source_mapping::schema(),
        lambda::function::schema(),
        lambda::permission::schema(),
        logs::log_group::schema(),
        apigateway::rest_api::schema(),
        cloudwatch::dashboard::schema(),
        cloudwatch::alarm::schema(),
        s3::bucket::schema(),
        sns::topic::schema(),
        sns::subscription::schema(),
        sns::topic_policy::schema(),
        sqs::queue::schema(),
        ssm::parameter::schema(),
    ];
    all.sort_by_key(|s| s.type_name);
    all
}

/// A registry that knows every schema, with no implementations attached ([`crate::attach`] adds them).
pub fn registry() -> Registry {
    let mut registry = Registry::default();
    for schema in schemas() {
        registry.add_schema(schema);
    }
    registry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_every_type_once() {
        let names: Vec<_> = schemas().iter().map(|s| s.type_name).collect();
        assert_eq!(names.len(), 20);
        assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted and unique: {names:?}");
    }

    /// docs/STACKS.md lists every type with every property: the table is what users read.
    #[test]
    fn the_stack_reference_documents_every_type_and_property() {
        let docs =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/STACKS.md")).unwrap_or_default();
        for schema in schemas() {
            let row = docs.lines().find(|l| l.starts_with(&format!("| `{}`", schema.type_name)));
            let Some(row) = row else { panic!("docs/STACKS.md has no row for {}", schema.type_name) };
            for property in &schema.properties {
                assert!(row.contains(property.name), "docs/STACKS.md: {} lacks `{}`", schema.type_name, property.name);
            }
            assert_eq!(row.contains("(holds data)"), schema.holds_data, "{}: holds data", schema.type_name);
        }
    }

    #[test]
    fn stateful_types_hold_data() {
        let holding: Vec<_> = schemas().into_iter().filter(|s| s.holds_data).map(|s| s.type_name).collect();
        assert_eq!(
            holding,
            [
                "aws:cloudwatch:LogGroup",
                "aws:dynamodb:Table",
                "aws:kms:Key",
                "aws:s3:Bucket",
                "aws:secretsmanager:Secret",
                "aws:sqs:Queue"
            ]
        );
    }

    #[test]
    fn types_whose_create_overwrites_are_marked() {
        let overwriting: Vec<_> = schemas().into_iter().filter(|s| s.create_overwrites).map(|s| s.type_name).collect();
        assert_eq!(
            overwriting,
            [
                "aws:cloudwatch:Dashboard",
                "aws:cloudwatch:MetricAlarm",
                "aws:events:Rule",
                "aws:s3:Bucket",
                "aws:sns:Topic",
                "aws:sqs:Queue"
            ]
        );
        for schema in schemas().into_iter().filter(|s| s.create_overwrites) {
            assert!(schema.name_property.is_some(), "{}: the name is what a create checks", schema.type_name);
        }
    }

    #[test]
    fn name_properties_exist_and_force_replacement() {
        for schema in schemas() {
            if let Some(name) = schema.name_property {
                let property = schema.find_property(name).map(|p| p.forces_replacement);
                assert_eq!(property, Some(true), "{}", schema.type_name);
            }
        }
    }
}
