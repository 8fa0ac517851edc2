//! The journal's records, replay and sealing, written and read back.

#![allow(clippy::unwrap_used)]

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

fn intent(name: &str, operation: crate::Change) -> JournalRecord {
    JournalRecord::Intent {
        resource: name.into(),
        type_name: "t".into(),
        operation,
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
        JournalRecord::Begin { lineage: "l".into(), serial: 0, operation: "apply".into(), secrets: None, place: None },
        intent("a", crate::Change::Create),
        JournalRecord::Done {
            resource: "a".into(),
            operation: crate::Change::Create,
            state: Some(resource("t", "a1", &[])),
            retired: None,
        },
        intent("b", crate::Change::Create),
        JournalRecord::Done {
            resource: "b".into(),
            operation: crate::Change::Create,
            state: Some(resource("t", "b1", &["a"])),
            retired: None,
        },
        intent("c", crate::Change::Create),
        JournalRecord::Done {
            resource: "c".into(),
            operation: crate::Change::Create,
            state: Some(resource("t", "c1", &["b"])),
            retired: None,
        },
        intent("b", crate::Change::Replace),
        JournalRecord::Done {
            resource: "b".into(),
            operation: crate::Change::Replace,
            state: Some(resource("t", "b2", &["a"])),
            retired: Some(resource("t", "b1", &["a"])),
        },
        intent("c", crate::Change::Delete),
        JournalRecord::Done { resource: "c".into(), operation: crate::Change::Delete, state: None, retired: None },
        intent("b", crate::Change::DeleteRetired),
        JournalRecord::Done {
            resource: "b".into(),
            operation: crate::Change::DeleteRetired,
            state: None,
            retired: None,
        },
        intent("x", crate::Change::Create),
        JournalRecord::Failed { resource: "x".into(), operation: crate::Change::Create, error: "boom".into() },
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
            std::thread::spawn(move || w.append(intent(&format!("r{i}"), crate::Change::Create)))
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
    let good = serde_json::to_string(&intent("a", crate::Change::Create)).unwrap_or_default();
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
    assert_eq!(refused, ReplayError { number: 4, resource: "b".into(), operation: crate::Change::Create });
    assert_eq!(
        refused.to_string(),
        "record 4 gives the outcome of the create of `b`, but no intent for it comes before"
    );
    // A resource found gone by the plan's refresh is recorded without an intent: no call was made.
    let mut state = base();
    let gone =
        JournalRecord::Done { resource: "a".into(), operation: crate::Change::Refresh, state: None, retired: None };
    replay(&mut state, &[sample_run()[0].clone(), gone]).unwrap();
    // But a `refresh` outcome never sets a resource, and a failure needs its intent too.
    let injected = JournalRecord::Done {
        resource: "ghost".into(),
        operation: crate::Change::Refresh,
        state: Some(resource("t", "someone-elses", &[])),
        retired: None,
    };
    assert!(replay(&mut base(), &[sample_run()[0].clone(), injected]).is_err(), "a resource injected by refresh");
    let failed = JournalRecord::Failed { resource: "a".into(), operation: crate::Change::Create, error: "e".into() };
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
                records.push(intent(&name, crate::Change::Create));
                let d: Vec<&str> = deps.iter().map(String::as_str).collect();
                records.push(JournalRecord::Done {
                    resource: name.clone(),
                    operation: crate::Change::Create,
                    state: Some(resource("t", &format!("{name}-{i}"), &d)),
                    retired: None,
                });
                live.insert(name, deps);
            }
            1 if live.contains_key(&name) && !live.values().any(|d| d.contains(&name)) => {
                records.push(intent(&name, crate::Change::Delete));
                records.push(JournalRecord::Done {
                    resource: name.clone(),
                    operation: crate::Change::Delete,
                    state: None,
                    retired: None,
                });
                live.remove(&name);
            }
            2 if live.contains_key(&name) => {
                let d: Vec<&str> = live[&name].iter().map(String::as_str).collect();
                records.push(intent(&name, crate::Change::Replace));
                records.push(JournalRecord::Done {
                    resource: name.clone(),
                    operation: crate::Change::Replace,
                    state: Some(resource("t", &format!("{name}-{i}"), &d)),
                    retired: Some(resource("t", "old", &d)),
                });
                records.push(intent(&name, crate::Change::DeleteRetired));
                records.push(JournalRecord::Done {
                    resource: name.clone(),
                    operation: crate::Change::DeleteRetired,
                    state: None,
                    retired: None,
                });
            }
            3 => {
                records.push(intent(&name, crate::Change::Update));
                records.push(JournalRecord::Failed {
                    resource: name.clone(),
                    operation: crate::Change::Update,
                    error: "x".into(),
                });
            }
            _ => records.push(intent(&name, crate::Change::Create)),
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
                    0 => intent(&name, crate::Change::Create),
                    1 => JournalRecord::Done { resource: name, operation: crate::Change::Create, state: Some(resource("t", "x", &[&format!("r{b}")])), retired: None },
                    2 => JournalRecord::Done { resource: name, operation: crate::Change::Delete, state: None, retired: None },
                    3 => JournalRecord::Failed { resource: name, operation: crate::Change::Create, error: "e".into() },
                    _ => JournalRecord::Done { resource: name, operation: crate::Change::DeleteRetired, state: None, retired: None },
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

#[test]
fn a_made_record_gives_the_pending_create_its_id() {
    let made = JournalRecord::Made { resource: "k".into(), operation: crate::Change::Create, id: "key-1".into() };
    let mut state = base();
    replay(&mut state, &[intent("k", crate::Change::Create), made.clone()]).unwrap();
    assert_eq!(state.pending.len(), 1, "still pending: the create's outcome was never recorded");
    assert_eq!(state.pending[0].id.as_deref(), Some("key-1"));
    // A made record for no create is refused, like any outcome without its intent.
    let err = replay(&mut base(), &[made]).unwrap_err();
    assert_eq!((err.number, err.resource.as_str()), (1, "k"));
}

#[test]
fn a_change_is_written_as_before_and_an_unknown_one_is_refused() {
    let written = serde_json::to_string(&intent("b", crate::Change::DeleteRetired)).unwrap_or_default();
    assert!(written.contains(r#""operation":"delete-retired""#), "{written}");
    let unknown = written.replace("delete-retired", "explode");
    assert!(serde_json::from_str::<JournalRecord>(&unknown).is_err(), "an operation stackr never writes is not read");
    assert_eq!(serde_json::from_str::<JournalRecord>(&written).ok(), Some(intent("b", crate::Change::DeleteRetired)));
}
