//! The table's AWS calls: create and configure, update in place, tags, delete.

use std::time::Duration;

use crate::prelude::*;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, DeleteGlobalSecondaryIndexAction,
    GlobalSecondaryIndex, GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, PointInTimeRecoverySpecification,
    Projection, ProjectionType, ProvisionedThroughput, ScalarAttributeType, SseSpecification, SseType,
    StreamSpecification, StreamViewType, TableDescription, TableStatus, Tag, TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use super::{Attribute, Index, Sse, TableInputs, Ttl};
use crate::wait::{until_ready, Poll};

/// How long a create, an update or a delete waits for the table (and its indexes) to settle.
const DEADLINE: Duration = Duration::from_secs(600);

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
        (Some(r), Some(w)) => {
            Ok(Some(built(ProvisionedThroughput::builder().read_capacity_units(r).write_capacity_units(w).build())?))
        }
        _ => Ok(None),
    }
}

fn projection(index: &Index) -> Projection {
    Projection::builder()
        .projection_type(ProjectionType::from(index.projection_type.as_str()))
        .set_non_key_attributes(index.non_key_attributes.clone())
        .build()
}

sdk_type!(Table, Client);

impl Table {
    pub(super) async fn table(&self, name: &str) -> Result<Option<TableDescription>, ProviderError> {
        let described = self.client.describe_table().table_name(name).send().await;
        Ok(found(described.call("DescribeTable"))?.and_then(|out| out.table))
    }

    /// Waits until the table and all its indexes are ACTIVE.
    async fn wait_active(&self, name: &str) -> Result<(), ProviderError> {
        until_ready(&format!("table {name}"), DEADLINE, || async {
            let Some(table) = self.table(name).await? else { return Ok(Poll::NotYet) };
            let mut indexes = table.global_secondary_indexes().iter();
            let indexes_ready = indexes.all(|i| i.index_status().is_none_or(|s| s.as_str() == "ACTIVE"));
            Ok(if table.table_status() == Some(&TableStatus::Active) && indexes_ready {
                Poll::Ready
            } else {
                Poll::NotYet
            })
        })
        .await
    }

    async fn set_ttl(&self, name: &str, ttl: &Ttl) -> Result<(), ProviderError> {
        let spec =
            built(TimeToLiveSpecification::builder().attribute_name(&ttl.attribute_name).enabled(ttl.enabled).build())?;
        let request = self.client.update_time_to_live().table_name(name).time_to_live_specification(spec);
        request.send().await.call("UpdateTimeToLive").map(drop)
    }

    async fn set_pitr(&self, name: &str, enabled: bool) -> Result<(), ProviderError> {
        let spec = built(PointInTimeRecoverySpecification::builder().point_in_time_recovery_enabled(enabled).build())?;
        let request = self.client.update_continuous_backups().table_name(name);
        request.point_in_time_recovery_specification(spec).send().await.call("UpdateContinuousBackups").map(drop)
    }

    async fn update_table(
        &self,
        request: aws_sdk_dynamodb::operation::update_table::builders::UpdateTableFluentBuilder,
        name: &str,
    ) -> Result<(), ProviderError> {
        request.send().await.call("UpdateTable")?;
        self.wait_active(name).await?;
        Ok(())
    }
}

#[async_trait]
impl Resource for Table {
    type Inputs = TableInputs;

    async fn describe(&self, name: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
        self.live(name, prior).await
    }

    async fn create(&self, input: &TableInputs, tags: &Tags) -> Result<Made, ProviderError> {
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
        for (k, v) in tags {
            request = request.tags(built(Tag::builder().key(k).value(v).build())?);
        }
        request.send().await.call("CreateTable")?;
        self.wait_active(&input.name).await?;
        Ok(input.name.clone().into())
    }

    async fn configure(&self, name: &str, input: &TableInputs) -> Result<(), ProviderError> {
        if let Some(ttl) = input.ttl.as_ref().filter(|t| t.enabled) {
            self.set_ttl(name, ttl).await?;
        }
        if input.point_in_time_recovery.as_ref().is_some_and(|p| p.enabled) {
            self.set_pitr(name, true).await?;
        }
        Ok(())
    }

    async fn update(&self, id: &str, change: Update<'_, TableInputs>) -> Result<(), ProviderError> {
        let Update { old, new, .. } = change;
        if change.any(&["billingMode", "readCapacity", "writeCapacity"]) {
            let request = self
                .client
                .update_table()
                .table_name(id)
                .billing_mode(BillingMode::from(new.billing_mode.as_str()))
                .set_provisioned_throughput(throughput(new.read_capacity, new.write_capacity)?);
            self.update_table(request, id).await?;
        }
        if change.any(&["globalSecondaryIndexes", "attributes"]) {
            // One index per UpdateTable; the full attribute list every time (UpdateTable replaces it).
            for index in
                old.global_secondary_indexes.iter().filter(|o| !new.global_secondary_indexes.iter().any(|n| n == *o))
            {
                let action = built(DeleteGlobalSecondaryIndexAction::builder().index_name(&index.name).build())?;
                let request = self
                    .client
                    .update_table()
                    .table_name(id)
                    .global_secondary_index_updates(GlobalSecondaryIndexUpdate::builder().delete(action).build());
                self.update_table(request, id).await?;
            }
            for index in
                new.global_secondary_indexes.iter().filter(|n| !old.global_secondary_indexes.iter().any(|o| o == *n))
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
        if change.any(&["deletionProtectionEnabled"]) {
            let request =
                self.client.update_table().table_name(id).deletion_protection_enabled(new.deletion_protection_enabled);
            self.update_table(request, id).await?;
        }
        if change.any(&["streamEnabled", "streamViewType"]) {
            let mut spec = StreamSpecification::builder().stream_enabled(new.stream_enabled);
            if new.stream_enabled {
                spec = spec.stream_view_type(StreamViewType::from(
                    new.stream_view_type.as_deref().unwrap_or("NEW_AND_OLD_IMAGES"),
                ));
            }
            let request = self.client.update_table().table_name(id).stream_specification(built(spec.build())?);
            self.update_table(request, id).await?;
        }
        if change.any(&["serverSideEncryption"]) {
            let sse = new.server_side_encryption.clone().unwrap_or(Sse { enabled: false, kms_key_arn: None });
            let mut spec = SseSpecification::builder().enabled(sse.enabled);
            if let Some(key) = &sse.kms_key_arn {
                spec = spec.sse_type(SseType::Kms).kms_master_key_id(key);
            }
            let request = self.client.update_table().table_name(id).sse_specification(spec.build());
            self.update_table(request, id).await?;
        }
        if change.any(&["ttl"]) {
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
        if change.any(&["pointInTimeRecovery"]) {
            self.set_pitr(id, new.point_in_time_recovery.as_ref().is_some_and(|p| p.enabled)).await?;
        }
        Ok(())
    }

    async fn tag(&self, _: &str, outputs: &Value, set: &Tags) -> Result<(), ProviderError> {
        let arn = output_str(outputs, "arn");
        let tags =
            set.iter().map(|(k, v)| built(Tag::builder().key(k).value(v).build())).collect::<Result<Vec<_>, _>>()?;
        let request = self.client.tag_resource().resource_arn(arn).set_tags(Some(tags));
        request.send().await.call("TagResource").map(drop)
    }

    async fn untag(&self, _: &str, outputs: &Value, keys: &[String]) -> Result<(), ProviderError> {
        let arn = output_str(outputs, "arn");
        let request = self.client.untag_resource().resource_arn(arn).set_tag_keys(Some(keys.to_vec()));
        request.send().await.call("UntagResource").map(drop)
    }

    async fn delete(&self, name: &str, _: Option<&TableInputs>) -> Result<(), ProviderError> {
        self.client.delete_table().table_name(name).send().await.call("DeleteTable")?;
        until_ready(&format!("the deletion of table {name}"), DEADLINE, || async {
            Ok(if self.table(name).await?.is_none() { Poll::Ready } else { Poll::NotYet })
        })
        .await
    }

    async fn locate(&self, input: &TableInputs, _: &str) -> Result<Option<String>, ProviderError> {
        Ok(Some(input.name.clone()))
    }

    async fn import_id(&self, given: &str) -> Result<Option<String>, ProviderError> {
        // arn:aws:dynamodb:REGION:ACCOUNT:table/NAME
        Ok(Some(given.rsplit('/').next().unwrap_or(given).to_string()))
    }
}
