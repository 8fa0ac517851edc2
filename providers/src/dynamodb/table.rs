//! `aws:dynamodb:Table`.
//!
//! Create: CreateTable, wait until ACTIVE, then TTL and point-in-time recovery, each applied before the step
//! counts as done. Update in place: billing mode and capacity, GSIs added and removed (one UpdateTable each,
//! always with the full AttributeDefinitions list, waiting for ACTIVE), TTL, PITR, deletion protection, streams,
//! SSE, tags. Replace: name, hashKey, rangeKey. Delete: DeleteTable, refused by AWS while deletion protection
//! is on. Read reports lists in the stack's order when they hold the same items.

use stackr_engine::schema::{PropType, Property, ResourceSchema};

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

#[cfg(feature = "aws")]
pub use calls::TableProvider;

/// The AWS calls (feature `aws`).
#[cfg(feature = "aws")]
mod calls {
    use std::collections::BTreeMap;
    use std::time::Duration;

    use async_trait::async_trait;
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, DeleteGlobalSecondaryIndexAction,
        GlobalSecondaryIndex, GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
        PointInTimeRecoveryStatus, Projection, ProjectionType, ProvisionedThroughput, ScalarAttributeType,
        SseSpecification, SseStatus, SseType, StreamSpecification, StreamViewType, TableDescription, TableStatus, Tag,
        TimeToLiveSpecification, TimeToLiveStatus,
    };
    use aws_sdk_dynamodb::Client;
    use serde::{Deserialize, Serialize};
    use stackr_engine::provider::{CallContext, Created, Observed, Provider, ProviderError};
    use stackr_engine::schema::ResourceSchema;
    use stackr_engine::value::Value;

    use crate::aws::{api_error, is_not_found, still_there};
    use crate::inputs::{outputs, parse, prior_field, tag_changes, tags_value};

    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(rename_all = "camelCase")]
    struct TableInputs {
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
        #[serde(default)]
        tags: BTreeMap<String, String>,
    }

    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    struct Attribute {
        name: String,
        #[serde(rename = "type")]
        kind: String,
    }

    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Index {
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
    #[serde(rename_all = "camelCase")]
    struct Ttl {
        attribute_name: String,
        #[serde(default = "yes")]
        enabled: bool,
    }

    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    struct Enabled {
        enabled: bool,
    }

    #[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Sse {
        enabled: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        kms_key_arn: Option<String>,
    }

    fn pay_per_request() -> String {
        "PAY_PER_REQUEST".into()
    }
    fn all() -> String {
        "ALL".into()
    }
    fn yes() -> bool {
        true
    }

    fn built<T>(result: Result<T, aws_smithy_types::error::operation::BuildError>) -> Result<T, ProviderError> {
        result.map_err(|e| ProviderError::Invalid(e.to_string()))
    }

    fn key_schema(hash: &str, range: Option<&str>) -> Result<Vec<KeySchemaElement>, ProviderError> {
        let mut keys = vec![built(KeySchemaElement::builder().attribute_name(hash).key_type(KeyType::Hash).build())?];
        if let Some(range) = range {
            keys.push(built(KeySchemaElement::builder().attribute_name(range).key_type(KeyType::Range).build())?);
        }
        Ok(keys)
    }

    fn definitions(attributes: &[Attribute]) -> Result<Vec<AttributeDefinition>, ProviderError> {
        attributes
            .iter()
            .map(|a| {
                built(
                    AttributeDefinition::builder()
                        .attribute_name(&a.name)
                        .attribute_type(ScalarAttributeType::from(a.kind.as_str()))
                        .build(),
                )
            })
            .collect()
    }

    fn throughput(read: Option<i64>, write: Option<i64>) -> Result<Option<ProvisionedThroughput>, ProviderError> {
        match (read, write) {
            (Some(r), Some(w)) => Ok(Some(built(
                ProvisionedThroughput::builder().read_capacity_units(r).write_capacity_units(w).build(),
            )?)),
            _ => Ok(None),
        }
    }

    fn projection(index: &Index) -> Projection {
        Projection::builder()
            .projection_type(ProjectionType::from(index.projection_type.as_str()))
            .set_non_key_attributes(index.non_key_attributes.clone())
            .build()
    }

    pub struct TableProvider {
        schema: ResourceSchema,
        client: Client,
    }

    impl TableProvider {
        pub fn new(config: &aws_config::SdkConfig) -> TableProvider {
            TableProvider::with_client(Client::new(config))
        }

        /// A provider on a given client (tests use mocked clients).
        pub fn with_client(client: Client) -> TableProvider {
            TableProvider { schema: super::schema(), client }
        }

        async fn describe(&self, name: &str) -> Result<Option<TableDescription>, ProviderError> {
            match self.client.describe_table().table_name(name).send().await {
                Ok(out) => Ok(out.table),
                Err(e) => {
                    let error = api_error("DescribeTable", e);
                    if is_not_found(&error) {
                        Ok(None)
                    } else {
                        Err(error)
                    }
                }
            }
        }

        /// Waits until the table and all its indexes are ACTIVE (at most ten minutes).
        async fn wait_active(&self, name: &str) -> Result<TableDescription, ProviderError> {
            let mut delay = Duration::from_millis(200);
            for _ in 0..200 {
                if let Some(table) = self.describe(name).await? {
                    let indexes_ready = table
                        .global_secondary_indexes()
                        .iter()
                        .all(|i| i.index_status().is_none_or(|s| s.as_str() == "ACTIVE"));
                    if table.table_status() == Some(&TableStatus::Active) && indexes_ready {
                        return Ok(table);
                    }
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(ProviderError::Other(format!("table {name} did not become ACTIVE in ten minutes")))
        }

        async fn set_ttl(&self, name: &str, ttl: &Ttl) -> Result<(), ProviderError> {
            let spec = built(
                TimeToLiveSpecification::builder().attribute_name(&ttl.attribute_name).enabled(ttl.enabled).build(),
            )?;
            self.client
                .update_time_to_live()
                .table_name(name)
                .time_to_live_specification(spec)
                .send()
                .await
                .map_err(|e| api_error("UpdateTimeToLive", e))?;
            Ok(())
        }

        async fn set_pitr(&self, name: &str, enabled: bool) -> Result<(), ProviderError> {
            let spec =
                built(PointInTimeRecoverySpecification::builder().point_in_time_recovery_enabled(enabled).build())?;
            self.client
                .update_continuous_backups()
                .table_name(name)
                .point_in_time_recovery_specification(spec)
                .send()
                .await
                .map_err(|e| api_error("UpdateContinuousBackups", e))?;
            Ok(())
        }

        async fn observe(&self, name: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            let Some(table) = self.describe(name).await? else { return Ok(None) };
            let prior_inputs: Option<TableInputs> = serde_json::from_value(prior.reveal().to_json()).ok();
            let arn = table.table_arn().unwrap_or_default().to_string();
            let key = |kind: KeyType| {
                table.key_schema().iter().find(|k| k.key_type() == &kind).map(|k| k.attribute_name().to_string())
            };
            let mut attributes: Vec<Attribute> = table
                .attribute_definitions()
                .iter()
                .map(|a| Attribute {
                    name: a.attribute_name().to_string(),
                    kind: a.attribute_type().as_str().to_string(),
                })
                .collect();
            let mut indexes: Vec<Index> = table
                .global_secondary_indexes()
                .iter()
                .map(|i| {
                    let key = |kind: KeyType| {
                        i.key_schema().iter().find(|k| k.key_type() == &kind).map(|k| k.attribute_name().to_string())
                    };
                    let capacity = i.provisioned_throughput();
                    Index {
                        name: i.index_name().unwrap_or_default().to_string(),
                        hash_key: key(KeyType::Hash).unwrap_or_default(),
                        range_key: key(KeyType::Range),
                        projection_type: i
                            .projection()
                            .and_then(|p| p.projection_type())
                            .map(|p| p.as_str().to_string())
                            .unwrap_or_else(all),
                        non_key_attributes: i
                            .projection()
                            .and_then(|p| p.non_key_attributes.clone())
                            .filter(|v| !v.is_empty()),
                        read_capacity: capacity.and_then(|c| c.read_capacity_units()).filter(|c| *c > 0),
                        write_capacity: capacity.and_then(|c| c.write_capacity_units()).filter(|c| *c > 0),
                    }
                })
                .collect();
            if let Some(p) = &prior_inputs {
                same_order(&mut attributes, &p.attributes, |a| a.name.clone());
                same_order(&mut indexes, &p.global_secondary_indexes, |i| i.name.clone());
                // Capacity of on-demand indexes is not the stack's business unless it set one.
                for index in &mut indexes {
                    if let Some(declared) = p.global_secondary_indexes.iter().find(|d| d.name == index.name) {
                        if declared.read_capacity.is_none() {
                            index.read_capacity = None;
                            index.write_capacity = None;
                        }
                    }
                }
            }
            let billing = table
                .billing_mode_summary()
                .and_then(|b| b.billing_mode())
                .map(|b| b.as_str().to_string())
                .unwrap_or_else(|| "PROVISIONED".into());
            let capacity = table.provisioned_throughput();
            let provisioned = billing == "PROVISIONED";
            let ttl_described = self
                .client
                .describe_time_to_live()
                .table_name(name)
                .send()
                .await
                .map_err(|e| api_error("DescribeTimeToLive", e))?;
            let ttl = ttl_described.time_to_live_description().and_then(|d| {
                let on =
                    matches!(d.time_to_live_status(), Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling));
                match (on, d.attribute_name(), prior_inputs.as_ref().and_then(|p| p.ttl.clone())) {
                    (true, Some(attribute), _) => Some(Ttl { attribute_name: attribute.to_string(), enabled: true }),
                    (false, _, Some(declared)) if !declared.enabled => Some(declared),
                    _ => None,
                }
            });
            let backups = self
                .client
                .describe_continuous_backups()
                .table_name(name)
                .send()
                .await
                .map_err(|e| api_error("DescribeContinuousBackups", e))?;
            let pitr_on = backups
                .continuous_backups_description()
                .and_then(|d| d.point_in_time_recovery_description())
                .and_then(|p| p.point_in_time_recovery_status())
                .is_some_and(|s| *s == PointInTimeRecoveryStatus::Enabled);
            let pitr = match (pitr_on, prior_inputs.as_ref().and_then(|p| p.point_in_time_recovery.clone())) {
                (true, _) => Some(Enabled { enabled: true }),
                (false, Some(_)) => Some(Enabled { enabled: false }),
                (false, None) => None,
            };
            let sse_declared = prior_inputs.as_ref().and_then(|p| p.server_side_encryption.clone());
            let sse = match table.sse_description() {
                Some(d) if d.status() == Some(&SseStatus::Enabled) => Some(Sse {
                    enabled: true,
                    // AWS-managed encryption reports a key ARN of AWS's own: show one only when the stack chose a key.
                    kms_key_arn: sse_declared
                        .as_ref()
                        .and(d.kms_master_key_arn().map(str::to_string))
                        .filter(|_| sse_declared.as_ref().is_some_and(|s| s.kms_key_arn.is_some())),
                }),
                _ => sse_declared.filter(|s| !s.enabled),
            };
            let stream = table.stream_specification();
            let stream_enabled = stream.is_some_and(|s| s.stream_enabled());
            let tags_out = self
                .client
                .list_tags_of_resource()
                .resource_arn(&arn)
                .send()
                .await
                .map_err(|e| api_error("ListTagsOfResource", e))?;
            let mut tags: BTreeMap<String, String> =
                tags_out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();
            let create_token = crate::inputs::split_stackr_tags(&mut tags);

            let observed = TableInputs {
                name: table.table_name().unwrap_or(name).to_string(),
                billing_mode: billing,
                read_capacity: capacity.and_then(|c| c.read_capacity_units()).filter(|_| provisioned),
                write_capacity: capacity.and_then(|c| c.write_capacity_units()).filter(|_| provisioned),
                hash_key: key(KeyType::Hash).unwrap_or_default(),
                range_key: key(KeyType::Range),
                attributes,
                global_secondary_indexes: indexes,
                ttl,
                point_in_time_recovery: pitr,
                server_side_encryption: sse,
                deletion_protection_enabled: table.deletion_protection_enabled().unwrap_or(false),
                stream_enabled,
                stream_view_type: stream
                    .filter(|_| stream_enabled)
                    .and_then(|s| s.stream_view_type())
                    .map(|v| v.as_str().to_string()),
                tags,
            };
            let mut json = serde_json::to_value(&observed).map_err(|e| ProviderError::Other(e.to_string()))?;
            if let Some(map) = json.as_object_mut() {
                // Absent, not null, where AWS has nothing to report; empty lists and tag maps likewise.
                map.retain(|k, v| {
                    !(v.is_null()
                        || (k == "globalSecondaryIndexes" && v.as_array().is_some_and(Vec::is_empty))
                        || (k == "tags" && v.as_object().is_some_and(serde_json::Map::is_empty)))
                });
            }
            let mut inputs = Value::from_json(&json);
            if let (Value::Map(map), Some(tags)) = (&mut inputs, tags_value(observed.tags.clone())) {
                map.insert("tags".into(), tags);
            }
            Ok(Some(Observed {
                create_token,
                id: name.to_string(),
                inputs,
                outputs: outputs([
                    ("arn", Some(arn)),
                    ("streamArn", table.latest_stream_arn().map(str::to_string).filter(|_| stream_enabled)),
                ]),
            }))
        }

        async fn update_table(
            &self,
            request: aws_sdk_dynamodb::operation::update_table::builders::UpdateTableFluentBuilder,
            name: &str,
        ) -> Result<(), ProviderError> {
            request.send().await.map_err(|e| api_error("UpdateTable", e))?;
            self.wait_active(name).await?;
            Ok(())
        }
    }

    /// Reorders `items` like `reference` when both hold the same keys.
    fn same_order<T, K: Ord + Clone>(items: &mut [T], reference: &[impl HasKey<K>], key: impl Fn(&T) -> K) {
        let wanted: Vec<K> = reference.iter().map(HasKey::key).collect();
        let mut have: Vec<K> = items.iter().map(&key).collect();
        have.sort();
        let mut sorted_wanted = wanted.clone();
        sorted_wanted.sort();
        if have == sorted_wanted {
            items.sort_by_key(|i| wanted.iter().position(|w| *w == key(i)).unwrap_or(usize::MAX));
        }
    }

    trait HasKey<K> {
        fn key(&self) -> K;
    }
    impl HasKey<String> for Attribute {
        fn key(&self) -> String {
            self.name.clone()
        }
    }
    impl HasKey<String> for Index {
        fn key(&self) -> String {
            self.name.clone()
        }
    }

    #[async_trait]
    impl Provider for TableProvider {
        fn schema(&self) -> &ResourceSchema {
            &self.schema
        }

        async fn create(&self, cx: &CallContext, inputs: &Value) -> Result<Created, ProviderError> {
            let input: TableInputs = parse(self.schema.type_name, inputs)?;
            let mut request = self
                .client
                .create_table()
                .table_name(&input.name)
                .billing_mode(BillingMode::from(input.billing_mode.as_str()))
                .set_attribute_definitions(Some(definitions(&input.attributes)?))
                .set_key_schema(Some(key_schema(&input.hash_key, input.range_key.as_deref())?))
                .set_provisioned_throughput(throughput(input.read_capacity, input.write_capacity)?)
                .deletion_protection_enabled(input.deletion_protection_enabled);
            for index in &input.global_secondary_indexes {
                request = request.global_secondary_indexes(built(
                    GlobalSecondaryIndex::builder()
                        .index_name(&index.name)
                        .set_key_schema(Some(key_schema(&index.hash_key, index.range_key.as_deref())?))
                        .projection(projection(index))
                        .set_provisioned_throughput(throughput(index.read_capacity, index.write_capacity)?)
                        .build(),
                )?);
            }
            if let Some(sse) = &input.server_side_encryption {
                let mut spec = SseSpecification::builder().enabled(sse.enabled);
                if let Some(key) = &sse.kms_key_arn {
                    spec = spec.sse_type(SseType::Kms).kms_master_key_id(key);
                }
                request = request.sse_specification(spec.build());
            }
            if input.stream_enabled {
                request = request.stream_specification(built(
                    StreamSpecification::builder()
                        .stream_enabled(true)
                        .stream_view_type(StreamViewType::from(
                            input.stream_view_type.as_deref().unwrap_or("NEW_AND_OLD_IMAGES"),
                        ))
                        .build(),
                )?);
            }
            for (k, v) in &crate::inputs::with_token(&input.tags, cx) {
                request = request.tags(built(Tag::builder().key(k).value(v).build())?);
            }
            request.send().await.map_err(|e| api_error("CreateTable", e))?;
            self.wait_active(&input.name).await?;
            if let Some(ttl) = &input.ttl {
                if ttl.enabled {
                    self.set_ttl(&input.name, ttl).await?;
                }
            }
            if input.point_in_time_recovery.as_ref().is_some_and(|p| p.enabled) {
                self.set_pitr(&input.name, true).await?;
            }
            let observed = self
                .observe(&input.name, inputs)
                .await?
                .ok_or_else(|| ProviderError::Other(format!("table {} vanished after creation", input.name)))?;
            Ok(Created { id: input.name, outputs: observed.outputs })
        }

        async fn read(&self, _: &CallContext, id: &str, prior: &Value) -> Result<Option<Observed>, ProviderError> {
            self.observe(id, prior).await
        }

        async fn update(
            &self,
            _: &CallContext,
            id: &str,
            prior: &Value,
            desired: &Value,
            changed: &[String],
        ) -> Result<Value, ProviderError> {
            let old: TableInputs = parse(self.schema.type_name, prior)?;
            let new: TableInputs = parse(self.schema.type_name, desired)?;
            let changed = |p: &str| changed.iter().any(|c| c == p);
            if changed("billingMode") || changed("readCapacity") || changed("writeCapacity") {
                let request = self
                    .client
                    .update_table()
                    .table_name(id)
                    .billing_mode(BillingMode::from(new.billing_mode.as_str()))
                    .set_provisioned_throughput(throughput(new.read_capacity, new.write_capacity)?);
                self.update_table(request, id).await?;
            }
            if changed("globalSecondaryIndexes") || changed("attributes") {
                // One index per UpdateTable; the full attribute list every time (UpdateTable replaces it).
                for index in old
                    .global_secondary_indexes
                    .iter()
                    .filter(|o| !new.global_secondary_indexes.iter().any(|n| n == *o))
                {
                    let action = built(DeleteGlobalSecondaryIndexAction::builder().index_name(&index.name).build())?;
                    let request =
                        self.client.update_table().table_name(id).global_secondary_index_updates(
                            GlobalSecondaryIndexUpdate::builder().delete(action).build(),
                        );
                    self.update_table(request, id).await?;
                }
                for index in new
                    .global_secondary_indexes
                    .iter()
                    .filter(|n| !old.global_secondary_indexes.iter().any(|o| o == *n))
                {
                    let action = built(
                        CreateGlobalSecondaryIndexAction::builder()
                            .index_name(&index.name)
                            .set_key_schema(Some(key_schema(&index.hash_key, index.range_key.as_deref())?))
                            .projection(projection(index))
                            .set_provisioned_throughput(throughput(index.read_capacity, index.write_capacity)?)
                            .build(),
                    )?;
                    let request = self
                        .client
                        .update_table()
                        .table_name(id)
                        .set_attribute_definitions(Some(definitions(&new.attributes)?))
                        .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().create(action).build());
                    self.update_table(request, id).await?;
                }
            }
            if changed("deletionProtectionEnabled") {
                let request = self
                    .client
                    .update_table()
                    .table_name(id)
                    .deletion_protection_enabled(new.deletion_protection_enabled);
                self.update_table(request, id).await?;
            }
            if changed("streamEnabled") || changed("streamViewType") {
                let mut spec = StreamSpecification::builder().stream_enabled(new.stream_enabled);
                if new.stream_enabled {
                    spec = spec.stream_view_type(StreamViewType::from(
                        new.stream_view_type.as_deref().unwrap_or("NEW_AND_OLD_IMAGES"),
                    ));
                }
                let request = self.client.update_table().table_name(id).stream_specification(built(spec.build())?);
                self.update_table(request, id).await?;
            }
            if changed("serverSideEncryption") {
                let sse = new.server_side_encryption.clone().unwrap_or(Sse { enabled: false, kms_key_arn: None });
                let mut spec = SseSpecification::builder().enabled(sse.enabled);
                if let Some(key) = &sse.kms_key_arn {
                    spec = spec.sse_type(SseType::Kms).kms_master_key_id(key);
                }
                let request = self.client.update_table().table_name(id).sse_specification(spec.build());
                self.update_table(request, id).await?;
            }
            if changed("ttl") {
                match (&old.ttl, &new.ttl) {
                    (Some(o), Some(n)) if o.attribute_name != n.attribute_name && o.enabled && n.enabled => {
                        // TTL moves to another attribute: turn it off, then on with the new one.
                        self.set_ttl(id, &Ttl { attribute_name: o.attribute_name.clone(), enabled: false }).await?;
                        self.set_ttl(id, n).await?;
                    }
                    (_, Some(n)) => self.set_ttl(id, n).await?,
                    (Some(o), None) if o.enabled => {
                        self.set_ttl(id, &Ttl { attribute_name: o.attribute_name.clone(), enabled: false }).await?
                    }
                    _ => {}
                }
            }
            if changed("pointInTimeRecovery") {
                self.set_pitr(id, new.point_in_time_recovery.as_ref().is_some_and(|p| p.enabled)).await?;
            }
            if changed("tags") {
                let arn = self.describe(id).await?.and_then(|t| t.table_arn).unwrap_or_default();
                let (set, remove) = tag_changes(&old.tags, &new.tags);
                if !set.is_empty() {
                    let tags: Result<Vec<Tag>, _> =
                        set.iter().map(|(k, v)| built(Tag::builder().key(k).value(v).build())).collect();
                    self.client
                        .tag_resource()
                        .resource_arn(&arn)
                        .set_tags(Some(tags?))
                        .send()
                        .await
                        .map_err(|e| api_error("TagResource", e))?;
                }
                if !remove.is_empty() {
                    self.client
                        .untag_resource()
                        .resource_arn(&arn)
                        .set_tag_keys(Some(remove))
                        .send()
                        .await
                        .map_err(|e| api_error("UntagResource", e))?;
                }
            }
            let observed = still_there(self.observe(id, desired).await?, "table", id)?;
            Ok(observed.outputs)
        }

        async fn delete(&self, _: &CallContext, id: &str, _: &Value) -> Result<(), ProviderError> {
            match self.client.delete_table().table_name(id).send().await {
                Ok(_) => {}
                Err(e) => {
                    let error = api_error("DeleteTable", e);
                    if is_not_found(&error) {
                        return Ok(());
                    }
                    return Err(error);
                }
            }
            let mut delay = Duration::from_millis(200);
            for _ in 0..200 {
                if self.describe(id).await?.is_none() {
                    return Ok(());
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(ProviderError::Other(format!("table {id} was still being deleted after ten minutes")))
        }

        async fn import(&self, _: &CallContext, id: &str) -> Result<Option<Observed>, ProviderError> {
            let name = id.rsplit('/').next().unwrap_or(id);
            self.observe(name, &Value::Null).await
        }

        async fn find(&self, _: &CallContext, inputs: &Value, token: &str) -> Result<Option<Observed>, ProviderError> {
            let input: TableInputs = parse(self.schema.type_name, inputs)?;
            // Only what this create made: a table of the same name made by anyone else is not adopted.
            match prior_field(inputs, "name") {
                Some(_) => {
                    Ok(self.observe(&input.name, inputs).await?.filter(|o| o.create_token.as_deref() == Some(token)))
                }
                None => Ok(None),
            }
        }
    }
}
