//! Reading a table back in the stack's form: its description, TTL, backups and tags as `TableInputs`.

use std::collections::BTreeMap;

use crate::prelude::*;
use aws_sdk_dynamodb::types::{KeyType, PointInTimeRecoveryStatus, SseStatus, TimeToLiveStatus};

use super::calls::Table;
use super::{all, Attribute, Enabled, Index, Sse, TableInputs, Ttl};

impl Table {
    /// The table as the stack would write it.
    pub(super) async fn live(&self, name: &str, prior: &Value) -> Result<Option<Live>, ProviderError> {
        let Some(table) = self.table(name).await? else { return Ok(None) };
        let prior_inputs: Option<TableInputs> = serde_json::from_value(prior.reveal().to_json()).ok();
        let arn = table.table_arn().unwrap_or_default().to_string();
        let key = |kind: KeyType| {
            table.key_schema().iter().find(|k| k.key_type() == &kind).map(|k| k.attribute_name().to_string())
        };
        let mut attributes: Vec<Attribute> = table
            .attribute_definitions()
            .iter()
            .map(|a| Attribute { name: a.attribute_name().to_string(), kind: a.attribute_type().as_str().to_string() })
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
        let ttl_described =
            self.client.describe_time_to_live().table_name(name).send().await.call("DescribeTimeToLive")?;
        let ttl = ttl_described.time_to_live_description().and_then(|d| {
            let on = matches!(d.time_to_live_status(), Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling));
            match (on, d.attribute_name(), prior_inputs.as_ref().and_then(|p| p.ttl.clone())) {
                (true, Some(attribute), _) => Some(Ttl { attribute_name: attribute.to_string(), enabled: true }),
                (false, _, Some(declared)) if !declared.enabled => Some(declared),
                _ => None,
            }
        });
        let backups = self.client.describe_continuous_backups().table_name(name).send().await;
        let backups = backups.call("DescribeContinuousBackups")?;
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
        let tags_out =
            self.client.list_tags_of_resource().resource_arn(&arn).send().await.call("ListTagsOfResource")?;
        let tags: BTreeMap<String, String> =
            tags_out.tags().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect();

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
        };
        let mut json = serde_json::to_value(&observed).map_err(|e| ProviderError::Other(e.to_string()))?;
        if let Some(map) = json.as_object_mut() {
            // Absent, not null, where AWS has nothing to report; an empty index list likewise.
            map.retain(|k, v| {
                !(v.is_null() || (k == "globalSecondaryIndexes" && v.as_array().is_some_and(Vec::is_empty)))
            });
        }
        let inputs = match Value::from_json(&json) {
            Value::Map(map) => map,
            _ => BTreeMap::new(),
        };
        let outputs = outputs([
            ("arn", Some(arn)),
            ("streamArn", table.latest_stream_arn().map(str::to_string).filter(|_| stream_enabled)),
        ]);
        Ok(Some(Live { id: name.to_string(), inputs, outputs, tags: Some(tags) }))
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
