//! `aws:dynamodb:Table`.
//!
//! Create: CreateTable, wait until ACTIVE, then TTL and point-in-time recovery, each applied before the step
//! counts as done. Update in place: billing mode and capacity, GSIs added and removed (one UpdateTable each,
//! always with the full AttributeDefinitions list, waiting for ACTIVE), TTL, PITR, deletion protection, streams,
//! SSE, tags. Replace: name, hashKey, rangeKey. Delete: DeleteTable, refused by AWS while deletion protection
//! is on. Read reports lists in the stack's order when they hold the same items.

use serde::{Deserialize, Serialize};
use stackr_engine::schema::{PropType, Property, ResourceSchema};

/// The defaults the schema declares and the typed inputs fall back to (states written before defaults were
/// filled in lack them).
const PAY_PER_REQUEST: &str = "PAY_PER_REQUEST";
const ALL: &str = "ALL";

const BILLING_MODES: &[&str] = &["PAY_PER_REQUEST", "PROVISIONED"];
const ATTRIBUTE_TYPES: &[&str] = &["S", "N", "B"];
const PROJECTIONS: &[&str] = &["ALL", "KEYS_ONLY", "INCLUDE"];
const STREAM_VIEWS: &[&str] = &["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"];

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    let attribute = PropType::Object(vec![
        Property::string("name").required(),
        Property::string("type").required().allowed(ATTRIBUTE_TYPES),
    ]);
    let index = PropType::Object(vec![
        Property::string("name").required(),
        Property::string("hashKey").required(),
        Property::string("rangeKey"),
        Property::string("projectionType").default(ALL).allowed(PROJECTIONS),
        Property::list("nonKeyAttributes", PropType::String),
        Property::integer("readCapacity"),
        Property::integer("writeCapacity"),
    ]);
    ResourceSchema::new("aws:dynamodb:Table", "A DynamoDB table")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("billingMode").default(PAY_PER_REQUEST).allowed(BILLING_MODES))
        .property(Property::integer("readCapacity").describe("With billingMode PROVISIONED"))
        .property(Property::integer("writeCapacity").describe("With billingMode PROVISIONED"))
        .property(Property::string("hashKey").required().forces_replacement())
        .property(Property::string("rangeKey").forces_replacement())
        .property(Property::list("attributes", attribute).required())
        .property(Property::list("globalSecondaryIndexes", index))
        .property(Property::object(
            "ttl",
            vec![Property::string("attributeName").required(), Property::boolean("enabled").default(true)],
        ))
        .property(Property::object("pointInTimeRecovery", vec![Property::boolean("enabled").required()]))
        .property(
            Property::object(
                "serverSideEncryption",
                vec![Property::boolean("enabled").required(), Property::string("kmsKeyArn")],
            )
            .describe("Encryption at rest; a customer-managed key when kmsKeyArn is set"),
        )
        .property(Property::boolean("deletionProtectionEnabled").default(false))
        .property(Property::boolean("streamEnabled").default(false))
        .property(Property::string("streamViewType").allowed(STREAM_VIEWS))
        .property(Property::tags())
        .output("arn", "The table's ARN")
        .output("streamArn", "The stream's ARN, when streamEnabled")
        .holds_data()
        .unique_name("name")
}
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[serde(rename_all = "camelCase")]
pub struct TableInputs {
    name: String,
    #[serde(default = "pay_per_request")]
    billing_mode: String,
    read_capacity: Option<i64>,
    write_capacity: Option<i64>,
    hash_key: String,
    range_key: Option<String>,
    attributes: Vec<Attribute>,
    #[serde(default)]
    global_secondary_indexes: Vec<Index>,
    ttl: Option<Ttl>,
    point_in_time_recovery: Option<Enabled>,
    server_side_encryption: Option<Sse>,
    #[serde(default)]
    deletion_protection_enabled: bool,
    #[serde(default)]
    stream_enabled: bool,
    stream_view_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct Attribute {
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[serde(rename_all = "camelCase")]
pub struct Index {
    name: String,
    hash_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    range_key: Option<String>,
    #[serde(default = "all")]
    projection_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    non_key_attributes: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    read_capacity: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    write_capacity: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[serde(rename_all = "camelCase")]
pub struct Ttl {
    attribute_name: String,
    #[serde(default = "yes")]
    enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct Enabled {
    enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
#[serde(rename_all = "camelCase")]
pub struct Sse {
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    kms_key_arn: Option<String>,
}

fn pay_per_request() -> String {
    PAY_PER_REQUEST.into()
}
fn all() -> String {
    ALL.into()
}
fn yes() -> bool {
    true
}
#[cfg(feature = "aws")]
mod calls;
#[cfg(feature = "aws")]
mod read;

#[cfg(feature = "aws")]
pub use calls::Table;
