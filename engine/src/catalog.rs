//! The built-in schemas of the thirteen AWS resource types stackr manages (SPEC §3), as data. Property names
//! follow Pulumi AWS's camelCase. Each schema says which properties force replacement: those AWS cannot change
//! on an existing resource.

use crate::schema::{PropType, Property, ResourceSchema};

const KEY_USAGES: &[&str] = &["ENCRYPT_DECRYPT", "SIGN_VERIFY", "GENERATE_VERIFY_MAC"];
const KEY_SPECS: &[&str] = &[
    "SYMMETRIC_DEFAULT",
    "RSA_2048",
    "RSA_3072",
    "RSA_4096",
    "ECC_NIST_P256",
    "ECC_NIST_P384",
    "ECC_NIST_P521",
    "ECC_SECG_P256K1",
    "HMAC_224",
    "HMAC_256",
    "HMAC_384",
    "HMAC_512",
];
const BILLING_MODES: &[&str] = &["PAY_PER_REQUEST", "PROVISIONED"];
const ATTRIBUTE_TYPES: &[&str] = &["S", "N", "B"];
const PROJECTIONS: &[&str] = &["ALL", "KEYS_ONLY", "INCLUDE"];
const STREAM_VIEWS: &[&str] = &["KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"];
const RETENTION_DAYS: &[&str] = &[
    "1", "3", "5", "7", "14", "30", "60", "90", "120", "150", "180", "365", "400", "545", "731", "1096", "1827",
    "2192", "2557", "2922", "3288", "3653",
];
const STATISTICS: &[&str] = &["SampleCount", "Average", "Sum", "Minimum", "Maximum"];
const COMPARISONS: &[&str] = &[
    "GreaterThanOrEqualToThreshold",
    "GreaterThanThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
    "LessThanLowerOrGreaterThanUpperThreshold",
    "LessThanLowerThreshold",
    "GreaterThanUpperThreshold",
];
const MISSING_DATA: &[&str] = &["missing", "ignore", "breaching", "notBreaching"];
const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY"];
const SUBSCRIPTION_PROTOCOLS: &[&str] =
    &["email", "email-json", "http", "https", "sqs", "sms", "lambda", "application", "firehose"];

/// Every built-in schema, sorted by type name.
pub fn schemas() -> Vec<ResourceSchema> {
    let mut all = vec![
        kms_key(),
        kms_alias(),
        secretsmanager_secret(),
        dynamodb_table(),
        iam_role(),
        lambda_function(),
        lambda_permission(),
        log_group(),
        rest_api(),
        dashboard(),
        metric_alarm(),
        sns_topic(),
        sns_subscription(),
    ];
    all.sort_by_key(|s| s.type_name);
    all
}

pub fn kms_key() -> ResourceSchema {
    ResourceSchema::new("aws:kms:Key", "A customer-managed KMS key")
        .property(Property::string("description").default(""))
        .property(Property::boolean("enableKeyRotation").default(false))
        .property(
            Property::integer("deletionWindowInDays")
                .default(30)
                .range(7, 30)
                .describe("Days a deleted key waits before KMS destroys it"),
        )
        .property(Property::string("keyUsage").default("ENCRYPT_DECRYPT").allowed(KEY_USAGES).forces_replacement())
        .property(Property::string("keySpec").default("SYMMETRIC_DEFAULT").allowed(KEY_SPECS).forces_replacement())
        .property(Property::json("policy").describe("Key policy; KMS's default policy when absent"))
        .property(Property::tags())
        .output("arn", "The key's ARN")
        .output("keyId", "The key's id")
        .holds_data()
}

pub fn kms_alias() -> ResourceSchema {
    ResourceSchema::new("aws:kms:Alias", "A friendly name for a KMS key")
        .property(Property::string("name").required().forces_replacement().describe("alias/..."))
        .property(Property::string("targetKeyId").required().describe("Key id or ARN the alias points at"))
        .output("arn", "The alias's ARN")
        .unique_name("name")
}

pub fn secretsmanager_secret() -> ResourceSchema {
    ResourceSchema::new("aws:secretsmanager:Secret", "A Secrets Manager secret")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("description").default(""))
        .property(Property::string("kmsKeyId").describe("KMS key (id, ARN or alias) that encrypts the secret"))
        .property(Property::string("secretString").secret().describe("The secret's value"))
        .property(
            Property::object(
                "generateSecretString",
                vec![
                    Property::integer("length").default(32).range(1, 4096),
                    Property::boolean("excludePunctuation").default(false),
                ],
            )
            .forces_replacement()
            .describe("Generate a random value once, at create"),
        )
        .property(
            Property::integer("recoveryWindowInDays")
                .default(30)
                .describe("Days a deleted secret can be restored; 0 deletes at once"),
        )
        .property(Property::tags())
        .output("arn", "The secret's ARN")
        .volatile_output("versionId", "The id of the current version")
        .holds_data()
        .unique_name("name")
}

pub fn dynamodb_table() -> ResourceSchema {
    let attribute = PropType::Object(vec![
        Property::string("name").required(),
        Property::string("type").required().allowed(ATTRIBUTE_TYPES),
    ]);
    let index = PropType::Object(vec![
        Property::string("name").required(),
        Property::string("hashKey").required(),
        Property::string("rangeKey"),
        Property::string("projectionType").default("ALL").allowed(PROJECTIONS),
        Property::list("nonKeyAttributes", PropType::String),
        Property::integer("readCapacity"),
        Property::integer("writeCapacity"),
    ]);
    ResourceSchema::new("aws:dynamodb:Table", "A DynamoDB table")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("billingMode").default("PAY_PER_REQUEST").allowed(BILLING_MODES))
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

pub fn iam_role() -> ResourceSchema {
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

pub fn lambda_function() -> ResourceSchema {
    ResourceSchema::new("aws:lambda:Function", "A Lambda function")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("description").default(""))
        .property(Property::string("runtime").required())
        .property(Property::string("handler").required())
        .property(Property::string("role").required().describe("ARN of the execution role"))
        .property(Property::asset("code").required().describe("A local directory or file, zipped deterministically"))
        .property(Property::integer("timeout").default(3).range(1, 900))
        .property(Property::integer("memorySize").default(128).range(128, 10240))
        .property(Property::object(
            "environment",
            vec![Property::string_map("variables").describe("Values may be secret")],
        ))
        .property(Property::tags())
        .output("arn", "The function's ARN")
        .output("invokeArn", "The ARN API Gateway invokes")
        .volatile_output("codeSha256", "Base64 SHA-256 of the deployed zip")
        .volatile_output("version", "The latest version")
        .unique_name("name")
}

pub fn lambda_permission() -> ResourceSchema {
    ResourceSchema::new("aws:lambda:Permission", "Lets a principal invoke a Lambda function")
        .property(Property::string("function").required().forces_replacement().describe("Function name or ARN"))
        .property(Property::string("action").default("lambda:InvokeFunction").forces_replacement())
        .property(Property::string("principal").required().forces_replacement())
        .property(Property::string("sourceArn").forces_replacement())
        .property(Property::string("statementId").forces_replacement().describe("Default: the logical name"))
        .identified_by(&["function", "statementId"])
        .defaults_to_logical_name("statementId")
}

pub fn log_group() -> ResourceSchema {
    ResourceSchema::new("aws:cloudwatch:LogGroup", "A CloudWatch Logs log group")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::integer("retentionInDays").allowed(RETENTION_DAYS).describe("Absent: never expire"))
        .property(Property::string("kmsKeyId").forces_replacement().describe("KMS key ARN for the log data"))
        .property(Property::tags())
        .output("arn", "The log group's ARN (without the trailing :*)")
        .holds_data()
        .unique_name("name")
}

pub fn rest_api() -> ResourceSchema {
    ResourceSchema::new("aws:apigateway:RestApi", "A REST API (API Gateway v1) with Lambda routes and CORS")
        .property(Property::string("name").required())
        .property(Property::string("description").default(""))
        .property(Property::list(
            "routes",
            PropType::Object(vec![
                Property::string("path").required(),
                Property::string("method").required().allowed(HTTP_METHODS),
                Property::string("function").required().describe("ARN of the Lambda function"),
            ]),
        ))
        .property(Property::object(
            "cors",
            vec![
                Property::list("allowOrigins", PropType::String).required(),
                Property::list("allowMethods", PropType::String),
                Property::list("allowHeaders", PropType::String),
            ],
        ))
        .property(Property::string("stageName").default("api"))
        .property(Property::object(
            "throttle",
            vec![Property::number("rateLimit").required(), Property::integer("burstLimit").required()],
        ))
        .property(Property::tags())
        .output("id", "The API's id")
        .output("rootResourceId", "The id of the `/` resource")
        .output("url", "The stage's invoke URL")
        .output("executionArn", "Prefix for permissions: arn:aws:execute-api:REGION:ACCOUNT:ID")
        .volatile_output("deploymentId", "The deployment the stage serves")
}

pub fn dashboard() -> ResourceSchema {
    ResourceSchema::new("aws:cloudwatch:Dashboard", "A CloudWatch dashboard")
        .property(Property::string("dashboardName").required().forces_replacement())
        .property(Property::json("dashboardBody").required().describe("A map, stored as JSON"))
        .output("arn", "The dashboard's ARN")
        .unique_name("dashboardName")
        .create_overwrites()
}

pub fn metric_alarm() -> ResourceSchema {
    ResourceSchema::new("aws:cloudwatch:MetricAlarm", "A CloudWatch metric alarm")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("description").default(""))
        .property(Property::string("namespace").required())
        .property(Property::string("metricName").required())
        .property(Property::string_map("dimensions"))
        .property(Property::string("statistic").default("Sum").allowed(STATISTICS))
        .property(Property::integer("period").required().range(10, 86400))
        .property(Property::integer("evaluationPeriods").required().range(1, 100))
        .property(Property::number("threshold").required())
        .property(Property::string("comparisonOperator").required().allowed(COMPARISONS))
        .property(Property::string("treatMissingData").default("missing").allowed(MISSING_DATA))
        .property(Property::list("alarmActions", PropType::String))
        .property(Property::list("okActions", PropType::String))
        .property(Property::tags())
        .output("arn", "The alarm's ARN")
        .unique_name("name")
        .create_overwrites()
}

pub fn sns_topic() -> ResourceSchema {
    ResourceSchema::new("aws:sns:Topic", "An SNS topic")
        .property(Property::string("name").required().forces_replacement())
        .property(Property::string("displayName").default(""))
        .property(Property::string("kmsMasterKeyId").describe("KMS key id, ARN or alias"))
        .property(Property::tags())
        .output("arn", "The topic's ARN")
        .unique_name("name")
        .create_overwrites()
}

pub fn sns_subscription() -> ResourceSchema {
    ResourceSchema::new("aws:sns:TopicSubscription", "A subscription to an SNS topic")
        .property(Property::string("topic").required().forces_replacement().describe("Topic ARN"))
        .property(Property::string("protocol").required().allowed(SUBSCRIPTION_PROTOCOLS).forces_replacement())
        .property(Property::string("endpoint").required().forces_replacement())
        .output("arn", "The subscription's ARN, or `pending confirmation`")
        .volatile_output("pendingConfirmation", "True until the endpoint confirms (email)")
        .identified_by(&["topic", "protocol", "endpoint"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knows_all_thirteen_types() {
        let names: Vec<_> = schemas().iter().map(|s| s.type_name).collect();
        assert_eq!(names.len(), 13);
        assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted and unique: {names:?}");
    }

    #[test]
    fn stateful_types_hold_data() {
        let holding: Vec<_> = schemas().into_iter().filter(|s| s.holds_data).map(|s| s.type_name).collect();
        assert_eq!(
            holding,
            ["aws:cloudwatch:LogGroup", "aws:dynamodb:Table", "aws:kms:Key", "aws:secretsmanager:Secret"]
        );
    }

    #[test]
    fn types_whose_create_overwrites_are_marked() {
        let overwriting: Vec<_> = schemas().into_iter().filter(|s| s.create_overwrites).map(|s| s.type_name).collect();
        assert_eq!(overwriting, ["aws:cloudwatch:Dashboard", "aws:cloudwatch:MetricAlarm", "aws:sns:Topic"]);
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
