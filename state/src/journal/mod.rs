//! The journal: an append-only log of one run's changes, so that every step is durable without rewriting the
//! whole state file per step.
//!
//! The first record (`Begin`) names the state the run started from and how its secrets are encrypted, so a run
//! that dies before its first state file can still be continued. Before each provider call an `Intent` record is
//! written; after it, `Done` (with the resource's new state, or none when it is gone) or `Failed`. Records are
//! JSON lines ([`read`]), written durably by one writer thread with group commit ([`writer`]). When the run ends
//! the journal is compacted into the state file and removed. When a run dies, the next one replays the journal
//! onto the state it started from: intents without an outcome become pending operations to reconcile.

mod read;
mod writer;

pub use read::{complete_len, parse, parse_sealed, read, read_sealed, unseal_records};
pub use writer::{JournalSink, JournalWriter};

use serde::{Deserialize, Serialize};

use crate::model::{PendingOperation, ResourceState, StateFile};
use crate::secrets::SecretsConfig;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "camelCase")]
pub enum JournalRecord {
    /// First record: the state the run started from, and the secrets configuration its records are sealed with.
    #[serde(rename_all = "camelCase")]
    Begin {
        lineage: String,
        serial: u64,
        operation: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secrets: Option<SecretsConfig>,
        /// Where the run acts (account and region): a first run that dies before its first state file is continued
        /// only there.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        place: Option<crate::model::Place>,
    },
    /// A provider call is about to start.
    #[serde(rename_all = "camelCase")]
    Intent {
        resource: String,
        #[serde(rename = "type")]
        type_name: String,
        operation: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        create_token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        inputs: serde_json::Value,
        /// Recorded with the resource if an interrupted create is adopted.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        dependencies: Vec<String>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        protect: bool,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        retain_on_delete: bool,
    },
    /// The call finished: the resource's state now (`None`: it is gone). For a create-before-delete
    /// replacement, `retired` is the old resource, still to be deleted. Operation `refresh` records a resource
    /// that the plan's refresh found deleted outside stackr.
    #[serde(rename_all = "camelCase")]
    Done {
        resource: String,
        operation: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        state: Option<Box<ResourceState>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        retired: Option<Box<ResourceState>>,
    },
    /// The call failed and changed nothing stackr knows of.
    #[serde(rename_all = "camelCase")]
    Failed { resource: String, operation: String, error: String },
    /// The stack's outputs after the run.
    #[serde(rename_all = "camelCase")]
    Outputs { outputs: std::collections::BTreeMap<String, serde_json::Value> },
}

/// A journal that does not hold together: an outcome with no intent before it. Its `done` record would set or
/// remove a resource that no call of the run was about to change, so the journal is refused rather than trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("record {number} gives the outcome of the {operation} of `{resource}`, but no intent for it comes before")]
pub struct ReplayError {
    pub number: usize,
    pub resource: String,
    pub operation: String,
}

/// Applies records to a state in order. Intents without an outcome are left as pending operations.
pub fn replay(state: &mut StateFile, records: &[JournalRecord]) -> Result<(), ReplayError> {
    for (index, record) in records.iter().enumerate() {
        match record {
            JournalRecord::Begin { place, .. } => {
                if state.place.is_none() {
                    state.place.clone_from(place);
                }
            }
            JournalRecord::Intent {
                resource,
                type_name,
                operation,
                create_token,
                id,
                inputs,
                dependencies,
                protect,
                retain_on_delete,
            } => {
                let already = state.pending.iter().any(|p| &p.resource == resource && &p.operation == operation);
                if operation == "delete-retired" && already {
                    // Recorded when the replacement's new half was created.
                    continue;
                }
                state.pending.push(PendingOperation {
                    resource: resource.clone(),
                    type_name: type_name.clone(),
                    operation: operation.clone(),
                    create_token: create_token.clone(),
                    id: id.clone(),
                    inputs: inputs.clone(),
                    dependencies: dependencies.clone(),
                    protect: *protect,
                    retain_on_delete: *retain_on_delete,
                });
            }
            JournalRecord::Done { resource, operation, state: new_state, retired } => {
                // `refresh` records a resource the plan found deleted outside stackr (no call, so no intent); it
                // removes, never sets.
                let forgotten = operation == "refresh" && new_state.is_none() && retired.is_none();
                if !clear_pending(state, resource, operation) && !forgotten {
                    return Err(ReplayError {
                        number: index + 1,
                        resource: resource.clone(),
                        operation: operation.clone(),
                    });
                }
                if operation == "delete-retired" {
                    // The retired half of a replacement is gone; the resource now under this name stays.
                    continue;
                }
                match new_state {
                    Some(r) => {
                        state.resources.insert(resource.clone(), r.as_ref().clone());
                    }
                    None => {
                        state.resources.remove(resource);
                        for other in state.resources.values_mut() {
                            other.dependencies.retain(|d| d != resource);
                        }
                    }
                }
                if let Some(old) = retired {
                    // The old half of a create-before-delete replacement: it must still be deleted.
                    state.pending.push(PendingOperation::delete_retired(resource, old));
                }
            }
            // A failed delete of a replacement's old half leaves it in AWS: it stays pending, to be deleted.
            JournalRecord::Failed { operation, .. } if operation == "delete-retired" => {}
            JournalRecord::Failed { resource, operation, .. } => {
                if !clear_pending(state, resource, operation) {
                    return Err(ReplayError {
                        number: index + 1,
                        resource: resource.clone(),
                        operation: operation.clone(),
                    });
                }
            }
            JournalRecord::Outputs { outputs } => state.outputs = outputs.clone(),
        }
    }
    Ok(())
}

/// Removes the newest pending operation of `resource` named `operation`; false when there is none.
fn clear_pending(state: &mut StateFile, resource: &str, operation: &str) -> bool {
    match state.pending.iter().rposition(|p| p.resource == resource && p.operation == operation) {
        Some(i) => {
            state.pending.remove(i);
            true
        }
        None => false,
    }
}

/// Whether a record holds an encrypted secret (replaying it needs the secrets codec).
pub fn holds_sealed(record: &JournalRecord) -> bool {
    serde_json::to_value(record).is_ok_and(|v| crate::secrets::find_sealed(&v))
}

impl JournalRecord {
    /// Every JSON value of the record that may hold secrets, with the location its secrets are bound to.
    pub(crate) fn values_mut(&mut self) -> Vec<(String, &mut serde_json::Value)> {
        match self {
            JournalRecord::Intent { resource, operation, inputs, .. } => {
                vec![(format!("journal/intent/{resource}/{operation}/inputs"), inputs)]
            }
            JournalRecord::Done { resource, operation, state, retired } => {
                let mut values = Vec::new();
                for (part, r) in [("state", state), ("retired", retired)] {
                    if let Some(r) = r {
                        let r = r.as_mut();
                        values.push((format!("journal/done/{resource}/{operation}/{part}/inputs"), &mut r.inputs));
                        values.push((format!("journal/done/{resource}/{operation}/{part}/outputs"), &mut r.outputs));
                    }
                }
                values
            }
            JournalRecord::Outputs { outputs } => {
                outputs.iter_mut().map(|(name, v)| (format!("journal/outputs/{name}"), v)).collect()
            }
            JournalRecord::Begin { .. } | JournalRecord::Failed { .. } => Vec::new(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::format;
    use crate::model::Lineage;
    use crate::StateError;
    use proptest::prelude::*;

    fn resource(type_name: &str, id: &str, dependencies: &[&str]) -> Box<ResourceState> {
        Box::new(ResourceState {
            type_name: type_name.into(),
            id: id.into(),
            inputs: serde_json::json!({"name": id}),
            outputs: serde_json::json!({"arn": format!("arn:{id}")}),
            dependencies: dependencies.iter().map(|d| d.to_string()).collect(),
            protect: false,
            retain_on_delete: false,
            create_token: None,
        })
    }

    fn intent(name: &str, operation: &str) -> JournalRecord {
        JournalRecord::Intent {
            resource: name.into(),
            type_name: "t".into(),
            operation: operation.into(),
            create_token: Some(format!("token-{name}")),
            id: None,
            inputs: serde_json::json!({}),
            dependencies: Vec::new(),
            protect: false,
            retain_on_delete: false,
        }
    }

    /// A plausible run: creates a, b (needs a), c (needs b), replaces b create-before-delete, deletes c.
    fn sample_run() -> Vec<JournalRecord> {
        vec![
            JournalRecord::Begin {
                lineage: "l".into(),
                serial: 0,
                operation: "apply".into(),
                secrets: None,
                place: None,
            },
            intent("a", "create"),
            JournalRecord::Done {
                resource: "a".into(),
                operation: "create".into(),
                state: Some(resource("t", "a1", &[])),
                retired: None,
            },
            intent("b", "create"),
            JournalRecord::Done {
                resource: "b".into(),
                operation: "create".into(),
                state: Some(resource("t", "b1", &["a"])),
                retired: None,
            },
            intent("c", "create"),
            JournalRecord::Done {
                resource: "c".into(),
                operation: "create".into(),
                state: Some(resource("t", "c1", &["b"])),
                retired: None,
            },
            intent("b", "replace"),
            JournalRecord::Done {
                resource: "b".into(),
                operation: "replace".into(),
                state: Some(resource("t", "b2", &["a"])),
                retired: Some(resource("t", "b1", &["a"])),
            },
            intent("c", "delete"),
            JournalRecord::Done { resource: "c".into(), operation: "delete".into(), state: None, retired: None },
            intent("b", "delete-retired"),
            JournalRecord::Done {
                resource: "b".into(),
                operation: "delete-retired".into(),
                state: None,
                retired: None,
            },
            intent("x", "create"),
            JournalRecord::Failed { resource: "x".into(), operation: "create".into(), error: "boom".into() },
        ]
    }

    fn base() -> StateFile {
        let mut state = StateFile::new("demo");
        state.lineage = Lineage("l".into());
        state
    }

    #[test]
    fn writes_reads_and_replays() -> Result<(), StateError> {
        let dir = tempfile::tempdir().map_err(|source| StateError::Io { action: "mk", path: "/tmp".into(), source })?;
        let path = dir.path().join("demo.journal");
        let writer = JournalWriter::open(&path, None)?;
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let w = writer.clone();
                std::thread::spawn(move || w.append(intent(&format!("r{i}"), "create")))
            })
            .collect();
        for t in threads {
            t.join().map_err(|_| StateError::BackendUrl { url: String::new(), why: "thread".into() })??;
        }
        assert_eq!(read(&path, None)?.len(), 8, "concurrent appends all land");

        let mut state = base();
        replay(&mut state, &sample_run()).unwrap();
        assert_eq!(state.pending, vec![], "every intent has an outcome");
        let ids: Vec<(&str, &str)> = state.resources.iter().map(|(n, r)| (n.as_str(), r.id.as_str())).collect();
        assert_eq!(ids, [("a", "a1"), ("b", "b2")], "the replacement's new half stays, c is deleted");
        Ok(())
    }

    #[test]
    fn a_torn_last_line_is_ignored_but_damage_elsewhere_is_refused() -> Result<(), StateError> {
        let dir = tempfile::tempdir().map_err(|source| StateError::Io { action: "mk", path: "/tmp".into(), source })?;
        let path = dir.path().join("j");
        let good = serde_json::to_string(&intent("a", "create")).unwrap_or_default();
        std::fs::write(&path, format!("{good}\n{{\"record\":\"done\",\"reso")).unwrap_or_default();
        assert_eq!(read(&path, None)?.len(), 1);
        std::fs::write(&path, format!("{{garbage\n{good}\n")).unwrap_or_default();
        assert!(read(&path, None).is_err());
        Ok(())
    }

    #[test]
    fn an_outcome_without_its_intent_is_refused() {
        // A `done` that no intent announced would set a resource no call of the run was changing.
        let mut records = sample_run();
        records.remove(3); // the intent of b's create
        let mut state = base();
        let refused = replay(&mut state, &records).unwrap_err();
        assert_eq!(refused, ReplayError { number: 4, resource: "b".into(), operation: "create".into() });
        assert_eq!(
            refused.to_string(),
            "record 4 gives the outcome of the create of `b`, but no intent for it comes before"
        );
        // A resource found gone by the plan's refresh is recorded without an intent: no call was made.
        let mut state = base();
        let gone =
            JournalRecord::Done { resource: "a".into(), operation: "refresh".into(), state: None, retired: None };
        replay(&mut state, &[sample_run()[0].clone(), gone]).unwrap();
        // But a `refresh` outcome never sets a resource, and a failure needs its intent too.
        let injected = JournalRecord::Done {
            resource: "ghost".into(),
            operation: "refresh".into(),
            state: Some(resource("t", "someone-elses", &[])),
            retired: None,
        };
        assert!(replay(&mut base(), &[sample_run()[0].clone(), injected]).is_err(), "a resource injected by refresh");
        let failed = JournalRecord::Failed { resource: "a".into(), operation: "create".into(), error: "e".into() };
        assert_eq!(replay(&mut base(), &[sample_run()[0].clone(), failed]).unwrap_err().number, 2);
    }

    #[test]
    fn pending_intents_survive_replay() {
        let mut state = base();
        replay(&mut state, &sample_run()[..4]).unwrap();
        assert_eq!(state.pending.len(), 1);
        assert_eq!(state.pending[0].resource, "b");
        assert_eq!(state.pending[0].create_token.as_deref(), Some("token-b"));
    }

    /// Random runs from a small model: creates depend on what exists, deletes go dependents first,
    /// replacements retire the old half; a run may end anywhere.
    fn random_run(ops: &[(u8, u8, u8)]) -> Vec<JournalRecord> {
        let mut records = vec![JournalRecord::Begin {
            lineage: "l".into(),
            serial: 0,
            operation: "apply".into(),
            secrets: None,
            place: None,
        }];
        let mut live: std::collections::BTreeMap<String, Vec<String>> = std::collections::BTreeMap::new();
        for (i, (kind, a, b)) in ops.iter().enumerate() {
            let name = format!("r{}", a % 6);
            let other = format!("r{}", b % 6);
            match kind % 5 {
                0 if !live.contains_key(&name) => {
                    let deps: Vec<String> = live.contains_key(&other).then(|| other.clone()).into_iter().collect();
                    records.push(intent(&name, "create"));
                    let d: Vec<&str> = deps.iter().map(String::as_str).collect();
                    records.push(JournalRecord::Done {
                        resource: name.clone(),
                        operation: "create".into(),
                        state: Some(resource("t", &format!("{name}-{i}"), &d)),
                        retired: None,
                    });
                    live.insert(name, deps);
                }
                1 if live.contains_key(&name) && !live.values().any(|d| d.contains(&name)) => {
                    records.push(intent(&name, "delete"));
                    records.push(JournalRecord::Done {
                        resource: name.clone(),
                        operation: "delete".into(),
                        state: None,
                        retired: None,
                    });
                    live.remove(&name);
                }
                2 if live.contains_key(&name) => {
                    let d: Vec<&str> = live[&name].iter().map(String::as_str).collect();
                    records.push(intent(&name, "replace"));
                    records.push(JournalRecord::Done {
                        resource: name.clone(),
                        operation: "replace".into(),
                        state: Some(resource("t", &format!("{name}-{i}"), &d)),
                        retired: Some(resource("t", "old", &d)),
                    });
                    records.push(intent(&name, "delete-retired"));
                    records.push(JournalRecord::Done {
                        resource: name.clone(),
                        operation: "delete-retired".into(),
                        state: None,
                        retired: None,
                    });
                }
                3 => {
                    records.push(intent(&name, "update"));
                    records.push(JournalRecord::Failed {
                        resource: name.clone(),
                        operation: "update".into(),
                        error: "x".into(),
                    });
                }
                _ => records.push(intent(&name, "create")),
            }
        }
        records
    }

    proptest! {
        #[test]
        fn every_prefix_replays_to_a_valid_state(ops in proptest::collection::vec((0u8..5, 0u8..6, 0u8..6), 0..40), cut in 0usize..200) {
            let records = random_run(&ops);
            let mut state = base();
            replay(&mut state, &records[..cut.min(records.len())]).unwrap();
            prop_assert!(format::check(&state).is_ok(), "{:?}", format::check(&state));
            let bytes = format::encode(&state).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(format::decode(&bytes).ok(), Some(state));
        }

        /// Fuzz: any bytes as a journal file are read or refused, never a panic.
        #[test]
        fn arbitrary_journal_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let path = dir.path().join("j");
            std::fs::write(&path, &bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
            if let Ok(records) = read(&path, None) {
                let mut state = base();
                let _ = replay(&mut state, &records);
            }
        }

        /// Fuzz: any sequence of well-formed records replays or is refused without a panic (a sequence no run
        /// could write may leave an inconsistent state, which the format check then refuses to write).
        #[test]
        fn arbitrary_record_sequences_never_panic(ops in proptest::collection::vec((0u8..5, 0u8..4, 0u8..4), 0..60)) {
            let records: Vec<JournalRecord> = ops
                .iter()
                .map(|(kind, a, b)| {
                    let name = format!("r{a}");
                    match kind {
                        0 => intent(&name, "create"),
                        1 => JournalRecord::Done { resource: name, operation: "create".into(), state: Some(resource("t", "x", &[&format!("r{b}")])), retired: None },
                        2 => JournalRecord::Done { resource: name, operation: "delete".into(), state: None, retired: None },
                        3 => JournalRecord::Failed { resource: name, operation: "create".into(), error: "e".into() },
                        _ => JournalRecord::Done { resource: name, operation: "delete-retired".into(), state: None, retired: None },
                    }
                })
                .collect();
            let mut state = base();
            let _ = replay(&mut state, &records);
            let _ = format::encode(&state);
        }

        #[test]
        fn the_fixed_run_is_valid_at_every_prefix(cut in 0usize..16) {
            let mut state = base();
            replay(&mut state, &sample_run()[..cut.min(sample_run().len())]).unwrap();
            prop_assert!(format::check(&state).is_ok());
        }
    }
}
