//! `aws:s3:Bucket`: a bucket with its versioning, default encryption, public access block, lifecycle rules,
//! policy, CORS rules and event notifications. Its id is its name.
//!
//! Create: CreateBucket, then the tags (with the create token) and each configuration, every one a call that may
//! fail and leave the bucket recorded for the next plan to complete. Each configuration is put or deleted in
//! place; the name forces a replacement. A bucket holds data: deleting it needs `--allow-data-loss`, and then
//! every object version in it is deleted first. CreateBucket answers a bucket the caller already owns in
//! us-east-1 with success, so the name is looked up before the create (`create_overwrites`).

#[cfg(feature = "aws")]
mod calls;
#[cfg(feature = "aws")]
mod read;

#[cfg(feature = "aws")]
pub use calls::Bucket;

use serde::Deserialize;
use stackr_engine::schema::{PropType, Property, ResourceSchema};
use stackr_engine::value::Value;

const ALGORITHMS: &[&str] = &["AES256", "aws:kms"];
const STORAGE_CLASSES: &[&str] =
    &["STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER", "GLACIER_IR", "DEEP_ARCHIVE"];

fn notification(target: &'static str) -> PropType {
    PropType::Object(vec![
        Property::string(target).required(),
        Property::list("events", PropType::String).required().describe("e.g. s3:ObjectCreated:*"),
        Property::string("filterPrefix"),
        Property::string("filterSuffix"),
    ])
}

/// The type's schema: its properties, outputs and what forces replacement.
pub fn schema() -> ResourceSchema {
    let yes = || Property::boolean("").default(true);
    ResourceSchema::new("aws:s3:Bucket", "An S3 bucket")
        .property(Property::string("bucketName").required().forces_replacement().describe("Globally unique"))
        .property(Property::object("versioning", vec![Property::boolean("enabled").required()]))
        .property(Property::object(
            "serverSideEncryption",
            vec![
                Property::string("algorithm").required().allowed(ALGORITHMS),
                Property::string("kmsKeyId").describe("With aws:kms: the key's ARN"),
                Property::boolean("bucketKeyEnabled").default(false),
            ],
        ))
        .property(Property::object(
            "publicAccessBlock",
            ["blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets"]
                .into_iter()
                .map(|name| Property { name, ..yes() })
                .collect(),
        ))
        .property(Property::list(
            "lifecycleRules",
            PropType::Object(vec![
                Property::string("id").required(),
                Property::string("prefix").default(""),
                Property::boolean("enabled").default(true),
                Property::integer("expirationDays").range(1, 36500),
                Property::integer("noncurrentVersionExpirationDays").range(1, 36500),
                Property::list(
                    "transitions",
                    PropType::Object(vec![
                        Property::integer("days").required().range(0, 36500),
                        Property::string("storageClass").required().allowed(STORAGE_CLASSES),
                    ]),
                ),
            ]),
        ))
        .property(Property::json("policy").describe("The bucket policy"))
        .property(Property::list(
            "corsRules",
            PropType::Object(vec![
                Property::list("allowedMethods", PropType::String).required().describe("GET, PUT, POST, DELETE, HEAD"),
                Property::list("allowedOrigins", PropType::String).required(),
                Property::list("allowedHeaders", PropType::String),
                Property::list("exposeHeaders", PropType::String),
                Property::integer("maxAgeSeconds"),
            ]),
        ))
        .property(Property::object(
            "notifications",
            vec![
                Property::list("queues", notification("queueArn")),
                Property::list("topics", notification("topicArn")),
                Property::list("lambdaFunctions", notification("functionArn")),
            ],
        ))
        .property(Property::tags())
        .output("arn", "The bucket's ARN")
        .output("domainName", "bucket.s3.amazonaws.com")
        .output("regionalDomainName", "bucket.s3.REGION.amazonaws.com")
        .unique_name("bucketName")
        .create_overwrites()
        .holds_data()
        .rules(rules)
}

const METHODS: &[&str] = &["GET", "PUT", "POST", "DELETE", "HEAD"];

/// S3's naming rules (3 to 63 lowercase letters, digits, dots and hyphens, starting and ending with a letter or
/// digit) and the methods a CORS rule may allow.
fn rules(inputs: &Value) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let field = |k: &str| inputs.as_map().and_then(|m| m.get(k));
    if let Some(Value::String(name)) = field("bucketName") {
        let allowed = name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
        let ends = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if !(3..=63).contains(&name.len()) || !allowed || !ends(name.chars().next()) || !ends(name.chars().last()) {
            problems.push((
                "bucketName".to_string(),
                format!("`{name}` is not a bucket name: 3 to 63 lowercase letters, digits, `.` and `-`, starting and ending with a letter or digit"),
            ));
        }
    }
    if let Some(Value::List(rules)) = field("corsRules") {
        for (i, rule) in rules.iter().enumerate() {
            let Some(Value::List(methods)) = rule.as_map().and_then(|m| m.get("allowedMethods")) else { continue };
            for (j, method) in methods.iter().enumerate() {
                if let Some(m) = method.as_str().filter(|m| !METHODS.contains(m)) {
                    problems.push((
                        format!("corsRules[{i}].allowedMethods[{j}]"),
                        format!("`{m}` is not a CORS method: one of {}", METHODS.join(", ")),
                    ));
                }
            }
        }
    }
    problems
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct BucketInputs {
    bucket_name: String,
    versioning: Option<Versioning>,
    server_side_encryption: Option<Encryption>,
    public_access_block: Option<PublicAccessBlock>,
    #[serde(default)]
    lifecycle_rules: Vec<LifecycleRule>,
    policy: Option<serde_json::Value>,
    #[serde(default)]
    cors_rules: Vec<CorsRule>,
    notifications: Option<Notifications>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct Versioning {
    enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct Encryption {
    algorithm: String,
    kms_key_id: Option<String>,
    #[serde(default)]
    bucket_key_enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct PublicAccessBlock {
    block_public_acls: bool,
    ignore_public_acls: bool,
    block_public_policy: bool,
    restrict_public_buckets: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct LifecycleRule {
    id: String,
    #[serde(default)]
    prefix: String,
    enabled: bool,
    expiration_days: Option<i32>,
    noncurrent_version_expiration_days: Option<i32>,
    #[serde(default)]
    transitions: Vec<Transition>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct Transition {
    days: i32,
    storage_class: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct CorsRule {
    allowed_methods: Vec<String>,
    allowed_origins: Vec<String>,
    #[serde(default)]
    allowed_headers: Vec<String>,
    #[serde(default)]
    expose_headers: Vec<String>,
    max_age_seconds: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct Notifications {
    #[serde(default)]
    queues: Vec<Target>,
    #[serde(default)]
    topics: Vec<Target>,
    #[serde(default)]
    lambda_functions: Vec<Target>,
}

/// One notification: the target's ARN (under `queueArn`, `topicArn` or `functionArn`), the events, a key filter.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(not(feature = "aws"), allow(dead_code))]
pub struct Target {
    #[serde(alias = "queueArn", alias = "topicArn", alias = "functionArn")]
    arn: String,
    events: Vec<String>,
    filter_prefix: Option<String>,
    filter_suffix: Option<String>,
}
