//! Reading a bucket back in the stack's form. AWS gives every new bucket default encryption and a public access
//! block, so those two are compared only when the stack sets them; the other configurations are reported when
//! present.

use std::collections::BTreeMap;

use crate::inputs::document_value;
use crate::prelude::*;

use super::calls::Bucket;

/// `result` with "there is no such configuration" (each its own S3 code) as `None`.
fn absent<T>(result: Result<T, ProviderError>, codes: &[&str]) -> Result<Option<T>, ProviderError> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(ProviderError::Api { code, .. }) if codes.contains(&code.as_str()) => Ok(None),
        Err(error) => found(Err(error)),
    }
}

fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

fn strings(items: &[String]) -> Value {
    Value::List(items.iter().map(Value::string).collect())
}

/// A notification's target, events and key filter, in the stack's form.
fn target(
    key: &str,
    arn: &str,
    events: Vec<String>,
    filter: Option<&aws_sdk_s3::types::NotificationConfigurationFilter>,
) -> Value {
    let mut entry = BTreeMap::from([(key.to_string(), Value::string(arn)), ("events".to_string(), strings(&events))]);
    for rule in filter.and_then(|f| f.key()).map(|k| k.filter_rules()).unwrap_or_default() {
        let name = match rule.name().map(|n| n.as_str().to_ascii_lowercase()) {
            Some(n) if n == "prefix" => "filterPrefix",
            Some(n) if n == "suffix" => "filterSuffix",
            _ => continue,
        };
        entry.insert(name.to_string(), Value::string(rule.value().unwrap_or_default()));
    }
    Value::Map(entry)
}

impl Bucket {
    pub(super) async fn tags(&self, name: &str) -> Result<Tags, ProviderError> {
        let tagging = self.client.get_bucket_tagging().bucket(name).send().await.call("GetBucketTagging");
        let tagging = absent(tagging, &["NoSuchTagSet"])?;
        Ok(tagging
            .map(|t| t.tag_set().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
            .unwrap_or_default())
    }

    pub(super) async fn live(&self, name: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
        if found(self.client.head_bucket().bucket(name).send().await.call("HeadBucket"))?.is_none() {
            return Ok(None);
        }
        let declared = |property: &str| prior_field(prior, property).is_some();
        let mut inputs = BTreeMap::from([("bucketName".to_string(), Value::string(name))]);

        let versioning = self.client.get_bucket_versioning().bucket(name).send().await.call("GetBucketVersioning")?;
        // Suspended is what a versioned bucket becomes when the stack drops `versioning`: reported only when the
        // stack declares versioning, or when versioning is on.
        let enabled = versioning.status().map(|s| s.as_str()) == Some("Enabled");
        if enabled || declared("versioning") {
            inputs.insert("versioning".into(), map([("enabled", Value::Bool(enabled))]));
        }

        if declared("serverSideEncryption") {
            let out = self.client.get_bucket_encryption().bucket(name).send().await.call("GetBucketEncryption");
            let rules = absent(out, &["ServerSideEncryptionConfigurationNotFoundError"])?;
            let rule =
                rules.as_ref().and_then(|o| o.server_side_encryption_configuration()).and_then(|c| c.rules().first());
            if let Some(rule) = rule {
                let default = rule.apply_server_side_encryption_by_default();
                let mut sse = BTreeMap::from([
                    (
                        "algorithm".to_string(),
                        Value::string(default.map(|d| d.sse_algorithm().as_str()).unwrap_or("AES256")),
                    ),
                    ("bucketKeyEnabled".to_string(), Value::Bool(rule.bucket_key_enabled().unwrap_or(false))),
                ]);
                if let Some(key) = default.and_then(|d| d.kms_master_key_id()) {
                    sse.insert("kmsKeyId".into(), Value::string(key));
                }
                inputs.insert("serverSideEncryption".into(), Value::Map(sse));
            }
        }

        if declared("publicAccessBlock") {
            let out = self.client.get_public_access_block().bucket(name).send().await.call("GetPublicAccessBlock");
            let block = absent(out, &["NoSuchPublicAccessBlockConfiguration"])?;
            if let Some(c) = block.as_ref().and_then(|o| o.public_access_block_configuration()) {
                inputs.insert(
                    "publicAccessBlock".into(),
                    map([
                        ("blockPublicAcls", Value::Bool(c.block_public_acls().unwrap_or(false))),
                        ("ignorePublicAcls", Value::Bool(c.ignore_public_acls().unwrap_or(false))),
                        ("blockPublicPolicy", Value::Bool(c.block_public_policy().unwrap_or(false))),
                        ("restrictPublicBuckets", Value::Bool(c.restrict_public_buckets().unwrap_or(false))),
                    ]),
                );
            }
        }

        let request = self.client.get_bucket_lifecycle_configuration().bucket(name);
        let lifecycle =
            absent(request.send().await.call("GetBucketLifecycleConfiguration"), &["NoSuchLifecycleConfiguration"])?;
        let rules: Vec<Value> = lifecycle
            .as_ref()
            .map(|l| l.rules())
            .unwrap_or_default()
            .iter()
            .map(|rule| {
                let prefix = rule.filter().and_then(|f| f.prefix()).unwrap_or_default();
                let mut entry = BTreeMap::from([
                    ("id".to_string(), Value::string(rule.id().unwrap_or_default())),
                    ("prefix".to_string(), Value::string(prefix)),
                    ("enabled".to_string(), Value::Bool(rule.status().as_str() == "Enabled")),
                ]);
                if let Some(days) = rule.expiration().and_then(|e| e.days()) {
                    entry.insert("expirationDays".into(), Value::from(i64::from(days)));
                }
                if let Some(days) = rule.noncurrent_version_expiration().and_then(|e| e.noncurrent_days()) {
                    entry.insert("noncurrentVersionExpirationDays".into(), Value::from(i64::from(days)));
                }
                let transitions: Vec<Value> = rule
                    .transitions()
                    .iter()
                    .map(|t| {
                        map([
                            ("days", Value::from(i64::from(t.days().unwrap_or_default()))),
                            ("storageClass", Value::string(t.storage_class().map(|c| c.as_str()).unwrap_or_default())),
                        ])
                    })
                    .collect();
                if !transitions.is_empty() {
                    entry.insert("transitions".into(), Value::List(transitions));
                }
                Value::Map(entry)
            })
            .collect();
        if !rules.is_empty() || declared("lifecycleRules") {
            inputs.insert("lifecycleRules".into(), Value::List(rules));
        }

        let policy = absent(
            self.client.get_bucket_policy().bucket(name).send().await.call("GetBucketPolicy"),
            &["NoSuchBucketPolicy"],
        )?;
        if let Some(policy) = policy.as_ref().and_then(|p| p.policy()).and_then(document_value) {
            inputs.insert("policy".into(), policy);
        }

        let cors = absent(
            self.client.get_bucket_cors().bucket(name).send().await.call("GetBucketCors"),
            &["NoSuchCORSConfiguration"],
        )?;
        let cors: Vec<Value> = cors
            .as_ref()
            .map(|c| c.cors_rules())
            .unwrap_or_default()
            .iter()
            .map(|rule| {
                let mut entry = BTreeMap::from([
                    ("allowedMethods".to_string(), strings(rule.allowed_methods())),
                    ("allowedOrigins".to_string(), strings(rule.allowed_origins())),
                ]);
                if !rule.allowed_headers().is_empty() {
                    entry.insert("allowedHeaders".into(), strings(rule.allowed_headers()));
                }
                if !rule.expose_headers().is_empty() {
                    entry.insert("exposeHeaders".into(), strings(rule.expose_headers()));
                }
                if let Some(age) = rule.max_age_seconds() {
                    entry.insert("maxAgeSeconds".into(), Value::from(i64::from(age)));
                }
                Value::Map(entry)
            })
            .collect();
        if !cors.is_empty() || declared("corsRules") {
            inputs.insert("corsRules".into(), Value::List(cors));
        }

        let request = self.client.get_bucket_notification_configuration().bucket(name);
        let n = request.send().await.call("GetBucketNotificationConfiguration")?;
        let names = |events: &[aws_sdk_s3::types::Event]| events.iter().map(|e| e.as_str().to_string()).collect();
        let queues: Vec<Value> = n
            .queue_configurations()
            .iter()
            .map(|q| target("queueArn", q.queue_arn(), names(q.events()), q.filter()))
            .collect();
        let topics: Vec<Value> = n
            .topic_configurations()
            .iter()
            .map(|t| target("topicArn", t.topic_arn(), names(t.events()), t.filter()))
            .collect();
        let functions: Vec<Value> = n
            .lambda_function_configurations()
            .iter()
            .map(|f| target("functionArn", f.lambda_function_arn(), names(f.events()), f.filter()))
            .collect();
        if !queues.is_empty() || !topics.is_empty() || !functions.is_empty() || declared("notifications") {
            let mut notifications = BTreeMap::new();
            let prior_notifications = prior_field(prior, "notifications");
            for (key, list) in [("queues", queues), ("topics", topics), ("lambdaFunctions", functions)] {
                // An empty list the stack writes out is as it says.
                let written = prior_notifications.and_then(|n| prior_field(n, key)).is_some();
                if !list.is_empty() || written {
                    notifications.insert(key.to_string(), Value::List(list));
                }
            }
            inputs.insert("notifications".into(), Value::Map(notifications));
        }

        let outputs = outputs([
            ("arn", Some(format!("arn:aws:s3:::{name}"))),
            ("domainName", Some(format!("{name}.s3.amazonaws.com"))),
            ("regionalDomainName", Some(format!("{name}.s3.{}.amazonaws.com", self.region))),
        ]);
        Ok(Some(Live { id: name.to_string(), inputs, outputs, tags: Some(self.tags(name).await?) }))
    }
}
