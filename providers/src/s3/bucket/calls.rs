//! The bucket's AWS calls: create, one put (or delete) per configuration, tags, emptying and deleting.

use aws_sdk_s3::types::{
    BucketLifecycleConfiguration, BucketLocationConstraint, BucketVersioningStatus, CorsConfiguration,
    CreateBucketConfiguration, Delete, ExpirationStatus, FilterRule, FilterRuleName, LambdaFunctionConfiguration,
    LifecycleExpiration, LifecycleRuleFilter, NoncurrentVersionExpiration, NotificationConfiguration,
    NotificationConfigurationFilter, ObjectIdentifier, PublicAccessBlockConfiguration, QueueConfiguration, S3KeyFilter,
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging, TopicConfiguration, TransitionStorageClass, VersioningConfiguration,
};
use aws_sdk_s3::Client;

use super::{BucketInputs, Target};
use crate::inputs::document_text;
use crate::prelude::*;

pub struct Bucket {
    pub(super) client: Client,
    pub(super) region: String,
}

impl Bucket {
    /// Path-style addressing where an endpoint is set (moto, a local S3: no DNS name per bucket), as the state
    /// store does; virtual-hosted on AWS.
    pub fn new(config: &aws_config::SdkConfig) -> Bucket {
        let endpoint = config.endpoint_url().is_some()
            || ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"].iter().any(|v| std::env::var_os(v).is_some());
        let builder = aws_sdk_s3::config::Builder::from(config).force_path_style(endpoint);
        let region = config.region().map(|r| r.to_string()).unwrap_or_else(|| "us-east-1".into());
        Bucket { client: Client::from_conf(builder.build()), region }
    }
}

fn key_filter(target: &Target) -> Option<NotificationConfigurationFilter> {
    let rules: Vec<FilterRule> =
        [(FilterRuleName::Prefix, &target.filter_prefix), (FilterRuleName::Suffix, &target.filter_suffix)]
            .into_iter()
            .filter_map(|(name, value)| Some(FilterRule::builder().name(name).value(value.as_ref()?).build()))
            .collect();
    (!rules.is_empty()).then(|| {
        NotificationConfigurationFilter::builder()
            .key(S3KeyFilter::builder().set_filter_rules(Some(rules)).build())
            .build()
    })
}

fn events(target: &Target) -> Vec<aws_sdk_s3::types::Event> {
    target.events.iter().map(|e| aws_sdk_s3::types::Event::from(e.as_str())).collect()
}

impl Bucket {
    /// Versioning as the stack says; no `versioning` on a bucket that has it enabled suspends it (a bucket once
    /// versioned can only be suspended, never unversioned).
    async fn put_versioning(&self, name: &str, input: &BucketInputs) -> Result<(), ProviderError> {
        let enabled = match &input.versioning {
            Some(versioning) => versioning.enabled,
            None => {
                let now = self.client.get_bucket_versioning().bucket(name).send().await.call("GetBucketVersioning")?;
                if now.status() != Some(&BucketVersioningStatus::Enabled) {
                    return Ok(());
                }
                false
            }
        };
        let status = if enabled { BucketVersioningStatus::Enabled } else { BucketVersioningStatus::Suspended };
        let configuration = VersioningConfiguration::builder().status(status).build();
        let request = self.client.put_bucket_versioning().bucket(name).versioning_configuration(configuration);
        request.send().await.call("PutBucketVersioning").map(drop)
    }

    async fn put_encryption(&self, name: &str, input: &BucketInputs) -> Result<(), ProviderError> {
        let Some(sse) = &input.server_side_encryption else {
            let deleted = self.client.delete_bucket_encryption().bucket(name).send().await;
            return found(deleted.call("DeleteBucketEncryption")).map(drop);
        };
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::from(sse.algorithm.as_str()))
            .set_kms_master_key_id(sse.kms_key_id.clone());
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(built(default.build())?)
            .bucket_key_enabled(sse.bucket_key_enabled)
            .build();
        let configuration = built(ServerSideEncryptionConfiguration::builder().rules(rule).build())?;
        let request =
            self.client.put_bucket_encryption().bucket(name).server_side_encryption_configuration(configuration);
        request.send().await.call("PutBucketEncryption").map(drop)
    }

    async fn put_public_access_block(&self, name: &str, input: &BucketInputs) -> Result<(), ProviderError> {
        let Some(block) = &input.public_access_block else {
            let deleted = self.client.delete_public_access_block().bucket(name).send().await;
            return found(deleted.call("DeletePublicAccessBlock")).map(drop);
        };
        let configuration = PublicAccessBlockConfiguration::builder()
            .block_public_acls(block.block_public_acls)
            .ignore_public_acls(block.ignore_public_acls)
            .block_public_policy(block.block_public_policy)
            .restrict_public_buckets(block.restrict_public_buckets)
            .build();
        let request =
            self.client.put_public_access_block().bucket(name).public_access_block_configuration(configuration);
        request.send().await.call("PutPublicAccessBlock").map(drop)
    }

    async fn put_lifecycle(&self, name: &str, input: &BucketInputs) -> Result<(), ProviderError> {
        if input.lifecycle_rules.is_empty() {
            let deleted = self.client.delete_bucket_lifecycle().bucket(name).send().await;
            return found(deleted.call("DeleteBucketLifecycle")).map(drop);
        }
        let mut rules = Vec::new();
        for rule in &input.lifecycle_rules {
            let status = if rule.enabled { ExpirationStatus::Enabled } else { ExpirationStatus::Disabled };
            let mut transitions = Vec::new();
            for t in &rule.transitions {
                let class = TransitionStorageClass::from(t.storage_class.as_str());
                transitions.push(aws_sdk_s3::types::Transition::builder().days(t.days).storage_class(class).build());
            }
            let built_rule = aws_sdk_s3::types::LifecycleRule::builder()
                .id(&rule.id)
                .status(status)
                .filter(LifecycleRuleFilter::builder().prefix(&rule.prefix).build())
                .set_expiration(rule.expiration_days.map(|d| LifecycleExpiration::builder().days(d).build()))
                .set_noncurrent_version_expiration(
                    rule.noncurrent_version_expiration_days
                        .map(|d| NoncurrentVersionExpiration::builder().noncurrent_days(d).build()),
                )
                .set_transitions((!transitions.is_empty()).then_some(transitions));
            rules.push(built(built_rule.build())?);
        }
        let configuration = built(BucketLifecycleConfiguration::builder().set_rules(Some(rules)).build())?;
        let request =
            self.client.put_bucket_lifecycle_configuration().bucket(name).lifecycle_configuration(configuration);
        request.send().await.call("PutBucketLifecycleConfiguration").map(drop)
    }

    async fn put_policy(&self, name: &str, input: &BucketInputs) -> Result<(), ProviderError> {
        let Some(policy) = &input.policy else {
            let deleted = self.client.delete_bucket_policy().bucket(name).send().await;
            return found(deleted.call("DeleteBucketPolicy")).map(drop);
        };
        let request = self.client.put_bucket_policy().bucket(name).policy(document_text(policy));
        request.send().await.call("PutBucketPolicy").map(drop)
    }

    async fn put_cors(&self, name: &str, input: &BucketInputs) -> Result<(), ProviderError> {
        if input.cors_rules.is_empty() {
            let deleted = self.client.delete_bucket_cors().bucket(name).send().await;
            return found(deleted.call("DeleteBucketCors")).map(drop);
        }
        let mut rules = Vec::new();
        for rule in &input.cors_rules {
            let built_rule = aws_sdk_s3::types::CorsRule::builder()
                .set_allowed_methods(Some(rule.allowed_methods.clone()))
                .set_allowed_origins(Some(rule.allowed_origins.clone()))
                .set_allowed_headers((!rule.allowed_headers.is_empty()).then(|| rule.allowed_headers.clone()))
                .set_expose_headers((!rule.expose_headers.is_empty()).then(|| rule.expose_headers.clone()))
                .set_max_age_seconds(rule.max_age_seconds);
            rules.push(built(built_rule.build())?);
        }
        let configuration = built(CorsConfiguration::builder().set_cors_rules(Some(rules)).build())?;
        let request = self.client.put_bucket_cors().bucket(name).cors_configuration(configuration);
        request.send().await.call("PutBucketCors").map(drop)
    }

    /// Replaces the whole notification configuration (none: an empty one).
    async fn put_notifications(&self, name: &str, input: &BucketInputs) -> Result<(), ProviderError> {
        let n = input.notifications.clone().unwrap_or_default();
        let mut queues = Vec::new();
        for t in &n.queues {
            let q = QueueConfiguration::builder().queue_arn(&t.arn).set_events(Some(events(t)));
            queues.push(built(q.set_filter(key_filter(t)).build())?);
        }
        let mut topics = Vec::new();
        for t in &n.topics {
            let c = TopicConfiguration::builder().topic_arn(&t.arn).set_events(Some(events(t)));
            topics.push(built(c.set_filter(key_filter(t)).build())?);
        }
        let mut functions = Vec::new();
        for t in &n.lambda_functions {
            let c = LambdaFunctionConfiguration::builder().lambda_function_arn(&t.arn).set_events(Some(events(t)));
            functions.push(built(c.set_filter(key_filter(t)).build())?);
        }
        let configuration = NotificationConfiguration::builder()
            .set_queue_configurations(Some(queues))
            .set_topic_configurations(Some(topics))
            .set_lambda_function_configurations(Some(functions))
            .build();
        let request = self.client.put_bucket_notification_configuration().bucket(name);
        request
            .notification_configuration(configuration)
            .send()
            .await
            .call("PutBucketNotificationConfiguration")
            .map(drop)
    }

    /// Puts the whole tag set (S3 has no call that adds or removes one tag).
    async fn put_tags(&self, name: &str, tags: Tags) -> Result<(), ProviderError> {
        if tags.is_empty() {
            let deleted = self.client.delete_bucket_tagging().bucket(name).send().await;
            return found(deleted.call("DeleteBucketTagging")).map(drop);
        }
        let tags = tags.iter().map(|(k, v)| built(Tag::builder().key(k).value(v).build()));
        let tagging = built(Tagging::builder().set_tag_set(Some(tags.collect::<Result<Vec<_>, _>>()?)).build())?;
        self.client.put_bucket_tagging().bucket(name).tagging(tagging).send().await.call("PutBucketTagging").map(drop)
    }

    /// Deletes every object version and delete marker, a thousand at a time.
    async fn empty(&self, name: &str) -> Result<(), ProviderError> {
        loop {
            let listed = self.client.list_object_versions().bucket(name).send().await.call("ListObjectVersions")?;
            let versions = listed.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = listed.delete_markers().iter().map(|m| (m.key(), m.version_id()));
            let mut objects = Vec::new();
            for (key, version) in versions.chain(markers) {
                let Some(key) = key else { continue };
                objects.push(built(
                    ObjectIdentifier::builder().key(key).set_version_id(version.map(str::to_string)).build(),
                )?);
            }
            if objects.is_empty() {
                return Ok(());
            }
            for chunk in objects.chunks(1000) {
                let delete = built(Delete::builder().set_objects(Some(chunk.to_vec())).quiet(true).build())?;
                self.client.delete_objects().bucket(name).delete(delete).send().await.call("DeleteObjects")?;
            }
        }
    }
}

#[async_trait]
impl Resource for Bucket {
    type Inputs = BucketInputs;
    const TAGGED_AT_CREATE: bool = false;

    async fn describe(&self, name: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
        self.live(name, prior).await
    }

    async fn create(&self, input: &BucketInputs, _: &Tags) -> Result<Made, ProviderError> {
        let mut request = self.client.create_bucket().bucket(&input.bucket_name);
        if self.region != "us-east-1" {
            let constraint = BucketLocationConstraint::from(self.region.as_str());
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder().location_constraint(constraint).build(),
            );
        }
        request.send().await.call("CreateBucket")?;
        Ok(input.bucket_name.clone().into())
    }

    /// Every configuration the stack sets, each its own call.
    async fn configure(&self, name: &str, input: &BucketInputs) -> Result<(), ProviderError> {
        self.put_versioning(name, input).await?;
        if input.server_side_encryption.is_some() {
            self.put_encryption(name, input).await?;
        }
        if input.public_access_block.is_some() {
            self.put_public_access_block(name, input).await?;
        }
        if !input.lifecycle_rules.is_empty() {
            self.put_lifecycle(name, input).await?;
        }
        if input.policy.is_some() {
            self.put_policy(name, input).await?;
        }
        if !input.cors_rules.is_empty() {
            self.put_cors(name, input).await?;
        }
        if input.notifications.is_some() {
            self.put_notifications(name, input).await?;
        }
        Ok(())
    }

    async fn update(&self, name: &str, change: Update<'_, BucketInputs>) -> Result<(), ProviderError> {
        let new = change.new;
        if change.any(&["versioning"]) {
            self.put_versioning(name, new).await?;
        }
        if change.any(&["serverSideEncryption"]) {
            self.put_encryption(name, new).await?;
        }
        if change.any(&["publicAccessBlock"]) {
            self.put_public_access_block(name, new).await?;
        }
        if change.any(&["lifecycleRules"]) {
            self.put_lifecycle(name, new).await?;
        }
        if change.any(&["policy"]) {
            self.put_policy(name, new).await?;
        }
        if change.any(&["corsRules"]) {
            self.put_cors(name, new).await?;
        }
        if change.any(&["notifications"]) {
            self.put_notifications(name, new).await?;
        }
        Ok(())
    }

    async fn tag(&self, name: &str, _: &Value, set: &Tags) -> Result<(), ProviderError> {
        let mut tags = self.tags(name).await?;
        tags.extend(set.clone());
        self.put_tags(name, tags).await
    }

    async fn untag(&self, name: &str, _: &Value, keys: &[String]) -> Result<(), ProviderError> {
        let mut tags = self.tags(name).await?;
        tags.retain(|k, _| !keys.contains(k));
        self.put_tags(name, tags).await
    }

    /// Reached only with `--allow-data-loss` (or for an empty bucket): every object version goes first.
    async fn delete(&self, name: &str, _: Option<&BucketInputs>) -> Result<(), ProviderError> {
        if found(self.empty(name).await)?.is_none() {
            return Ok(());
        }
        self.client.delete_bucket().bucket(name).send().await.call("DeleteBucket").map(drop)
    }

    async fn locate(&self, input: &BucketInputs, _: &str) -> Result<Option<String>, ProviderError> {
        Ok(Some(input.bucket_name.clone()))
    }

    /// A name, or an ARN (`arn:aws:s3:::NAME`).
    async fn import_id(&self, given: &str) -> Result<Option<String>, ProviderError> {
        Ok(Some(given.strip_prefix("arn:aws:s3:::").unwrap_or(given).to_string()))
    }
}
