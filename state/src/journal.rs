//! The journal: an append-only log of one run's changes, so that every step is durable without rewriting the
//! whole state file per step.
//!
//! Before each provider call an `Intent` record is written; after it, `Done` (with the resource's new state, or
//! none when it was deleted) or `Failed`. Records are JSON lines, each fsynced before the caller continues;
//! records that arrive together share one fsync (group commit). When the run ends the journal is compacted into
//! the state file and removed. When a run dies, the next one replays the journal onto the state it started from:
//! intents without an outcome become pending operations to reconcile. A torn last line (the process died while
//! writing it) is ignored; damage anywhere else is refused.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::thread;

use serde::{Deserialize, Serialize};

use crate::model::{PendingOperation, ResourceState, StateFile};
use crate::secrets::{self, SecretsCodec};
use crate::StateError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "camelCase")]
pub enum JournalRecord {
    /// First record: the state the run started from.
    #[serde(rename_all = "camelCase")]
    Begin { lineage: String, serial: u64, operation: String },
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
    },
    /// The call finished: the resource's state now (`None`: it is gone). For a create-before-delete
    /// replacement, `retired` is the old resource, still to be deleted.
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

/// Applies records to a state in order. Intents without an outcome are left as pending operations.
pub fn replay(state: &mut StateFile, records: &[JournalRecord]) {
    for record in records {
        match record {
            JournalRecord::Begin { .. } => {}
            JournalRecord::Intent { resource, type_name, operation, create_token, id, inputs } => {
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
                });
            }
            JournalRecord::Done { resource, operation, state: new_state, retired } => {
                clear_pending(state, resource, operation);
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
                    state.pending.push(PendingOperation {
                        resource: resource.clone(),
                        type_name: old.type_name.clone(),
                        operation: "delete-retired".into(),
                        create_token: None,
                        id: Some(old.id.clone()),
                        inputs: old.inputs.clone(),
                    });
                }
            }
            JournalRecord::Failed { resource, operation, .. } => clear_pending(state, resource, operation),
            JournalRecord::Outputs { outputs } => state.outputs = outputs.clone(),
        }
    }
}

fn clear_pending(state: &mut StateFile, resource: &str, operation: &str) {
    if let Some(i) = state.pending.iter().rposition(|p| p.resource == resource && p.operation == operation) {
        state.pending.remove(i);
    }
}

impl JournalRecord {
    /// Every JSON value of the record that may hold secrets.
    fn values_mut(&mut self) -> Vec<&mut serde_json::Value> {
        match self {
            JournalRecord::Intent { inputs, .. } => vec![inputs],
            JournalRecord::Done { state, retired, .. } => {
                state.iter_mut().chain(retired.iter_mut()).flat_map(|r| [&mut r.inputs, &mut r.outputs]).collect()
            }
            JournalRecord::Outputs { outputs } => outputs.values_mut().collect(),
            JournalRecord::Begin { .. } | JournalRecord::Failed { .. } => Vec::new(),
        }
    }
}

/// Reads a journal file, decrypting secrets with `codec`. A missing file is an empty journal; a torn final
/// line is dropped.
pub fn read(path: &Path, codec: Option<&dyn SecretsCodec>) -> Result<Vec<JournalRecord>, StateError> {
    let mut records = read_sealed(path)?;
    unseal_records(&mut records, path, codec)?;
    Ok(records)
}

fn secrets_error(path: &Path, error: secrets::SecretsError) -> StateError {
    StateError::Format { path: path.to_path_buf(), error: crate::FormatError::Inconsistent(error.to_string()) }
}

fn read_sealed(path: &Path) -> Result<Vec<JournalRecord>, StateError> {
    match std::fs::read(path) {
        Ok(bytes) => parse_sealed(&bytes, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(StateError::Io { action: "read", path: path.to_path_buf(), source }),
    }
}

/// Parses journal bytes (JSON lines; `name` for messages), decrypting secrets with `codec`. A torn final line is
/// dropped; damage elsewhere is refused.
pub fn parse(bytes: &[u8], name: &Path, codec: Option<&dyn SecretsCodec>) -> Result<Vec<JournalRecord>, StateError> {
    let mut records = parse_sealed(bytes, name)?;
    unseal_records(&mut records, name, codec)?;
    Ok(records)
}

fn unseal_records(
    records: &mut [JournalRecord],
    path: &Path,
    codec: Option<&dyn SecretsCodec>,
) -> Result<(), StateError> {
    for record in records {
        for value in record.values_mut() {
            if secrets::find_sealed(value) {
                let codec = codec.ok_or_else(|| secrets_error(path, secrets::SecretsError::NoCodec))?;
                secrets::unseal(value, codec).map_err(|e| secrets_error(path, e))?;
            }
        }
    }
    Ok(())
}

fn parse_sealed(bytes: &[u8], path: &Path) -> Result<Vec<JournalRecord>, StateError> {
    let mut records = Vec::new();
    let mut lines = bytes.split(|b| *b == b'\n').peekable();
    let mut number = 0usize;
    while let Some(line) = lines.next() {
        number += 1;
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<JournalRecord>(line) {
            Ok(record) => records.push(record),
            // A torn write at the end (the process died mid-line): nothing after it but the final newline.
            Err(_) if lines.clone().all(<[u8]>::is_empty) => break,
            Err(e) => {
                return Err(StateError::Format {
                    path: path.to_path_buf(),
                    error: crate::FormatError::Syntax(format!("journal line {number}: {e}")),
                })
            }
        }
    }
    Ok(records)
}

/// Where journal batches go: appended to a local file, or stored as one object per batch (S3).
pub trait JournalSink: Send + 'static {
    /// Stores one batch of JSON lines durably before returning.
    fn write_batch(&mut self, bytes: &[u8]) -> std::io::Result<()>;
}

impl JournalSink for File {
    fn write_batch(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.write_all(bytes)?;
        self.sync_data()
    }
}

/// Appends records durably, secrets encrypted. Cheap to clone; all clones share one writer thread.
#[derive(Clone)]
pub struct JournalWriter {
    sender: mpsc::Sender<(JournalRecord, mpsc::Sender<Result<(), String>>)>,
    path: PathBuf,
    codec: Option<Arc<dyn SecretsCodec>>,
}

impl JournalWriter {
    /// Opens (creating or appending to) a journal file, mode 0600. Without a codec, a record holding a secret
    /// is refused rather than written in plaintext.
    pub fn open(path: &Path, codec: Option<Arc<dyn SecretsCodec>>) -> Result<JournalWriter, StateError> {
        let mut options = OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file =
            options.open(path).map_err(|source| StateError::Io { action: "open", path: path.to_path_buf(), source })?;
        JournalWriter::with_sink(path, Box::new(file), codec)
    }

    /// A writer over any sink; `name` is how errors refer to the journal.
    pub fn with_sink(
        name: &Path,
        sink: Box<dyn JournalSink>,
        codec: Option<Arc<dyn SecretsCodec>>,
    ) -> Result<JournalWriter, StateError> {
        let (sender, receiver) = mpsc::channel::<(JournalRecord, mpsc::Sender<Result<(), String>>)>();
        thread::Builder::new().name("stackr-journal".into()).spawn(move || group_commit(sink, receiver)).map_err(
            |source| StateError::Io { action: "start the journal writer for", path: name.to_path_buf(), source },
        )?;
        Ok(JournalWriter { sender, path: name.to_path_buf(), codec })
    }

    /// Appends one record and returns once it is on disk (blocking).
    pub fn append(&self, mut record: JournalRecord) -> Result<(), StateError> {
        for value in record.values_mut() {
            if secrets::find_plain(value) {
                let codec =
                    self.codec.as_deref().ok_or_else(|| StateError::PlaintextSecret { path: self.path.clone() })?;
                secrets::seal(value, codec).map_err(|e| secrets_error(&self.path, e))?;
            }
        }
        let (ack, done) = mpsc::channel();
        let io_error = |why: String| StateError::Io {
            action: "append to",
            path: self.path.clone(),
            source: std::io::Error::other(why),
        };
        self.sender.send((record, ack)).map_err(|_| io_error("the journal writer stopped".into()))?;
        done.recv().map_err(|_| io_error("the journal writer stopped".into()))?.map_err(io_error)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes every record waiting, fsyncs once, then acknowledges them all.
fn group_commit(
    mut sink: Box<dyn JournalSink>,
    receiver: mpsc::Receiver<(JournalRecord, mpsc::Sender<Result<(), String>>)>,
) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while let Ok(more) = receiver.try_recv() {
            batch.push(more);
        }
        let mut buffer = Vec::new();
        let mut result: Result<(), String> = Ok(());
        for (record, _) in &batch {
            match serde_json::to_vec(record) {
                Ok(bytes) => {
                    buffer.extend_from_slice(&bytes);
                    buffer.push(b'\n');
                }
                Err(e) => result = Err(e.to_string()),
            }
        }
        if result.is_ok() {
            result = sink.write_batch(&buffer).map_err(|e| e.to_string());
        }
        for (_, ack) in batch {
            let _ = ack.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format;
    use crate::model::Lineage;
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
        }
    }

    /// A plausible run: creates a, b (needs a), c (needs b), replaces b create-before-delete, deletes c.
    fn sample_run() -> Vec<JournalRecord> {
        vec![
            JournalRecord::Begin { lineage: "l".into(), serial: 0, operation: "apply".into() },
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
        replay(&mut state, &sample_run());
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
    fn pending_intents_survive_replay() {
        let mut state = base();
        replay(&mut state, &sample_run()[..4]);
        assert_eq!(state.pending.len(), 1);
        assert_eq!(state.pending[0].resource, "b");
        assert_eq!(state.pending[0].create_token.as_deref(), Some("token-b"));
    }

    /// Random runs from a small model: creates depend on what exists, deletes go dependents first,
    /// replacements retire the old half; a run may end anywhere.
    fn random_run(ops: &[(u8, u8, u8)]) -> Vec<JournalRecord> {
        let mut records = vec![JournalRecord::Begin { lineage: "l".into(), serial: 0, operation: "apply".into() }];
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
            replay(&mut state, &records[..cut.min(records.len())]);
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
                replay(&mut state, &records);
            }
        }

        /// Fuzz: any sequence of well-formed records replays without a panic (a sequence no run could write may
        /// leave an inconsistent state, which the format check then refuses to write).
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
            replay(&mut state, &records);
            let _ = format::encode(&state);
        }

        #[test]
        fn the_fixed_run_is_valid_at_every_prefix(cut in 0usize..16) {
            let mut state = base();
            replay(&mut state, &sample_run()[..cut.min(sample_run().len())]);
            prop_assert!(format::check(&state).is_ok());
        }
    }
}
