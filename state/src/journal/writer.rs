//! Writing a journal: one writer thread appends records durably, secrets sealed; records that arrive together
//! share one fsync (group commit). A write that fails poisons the writer: every later append is refused, so a
//! journal never has a gap, and the run ends leaving the journal in place for the next run to replay.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, OnceLock};
use std::thread;

use super::read::complete_len;
use super::JournalRecord;
use crate::secrets::{self, SecretsCodec};
use crate::StateError;

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

type Ack = mpsc::Sender<Result<(), String>>;

/// Appends records durably, secrets encrypted. Cheap to clone; all clones share one writer thread.
#[derive(Clone)]
pub struct JournalWriter {
    sender: mpsc::Sender<(JournalRecord, Ack)>,
    path: PathBuf,
    codec: Option<Arc<dyn SecretsCodec>>,
    /// The first write that failed, once one has: every later append is refused, naming it.
    poisoned: Arc<OnceLock<String>>,
}

impl JournalWriter {
    /// Opens (creating or appending to) a journal file, mode 0600. A torn last record (a run killed mid-write) is
    /// cut off first. Without a codec, a record holding a secret is refused rather than written in plaintext.
    pub fn open(path: &Path, codec: Option<Arc<dyn SecretsCodec>>) -> Result<JournalWriter, StateError> {
        let io = |action: &'static str| {
            let path = path.to_path_buf();
            move |source| StateError::Io { action, path, source }
        };
        let mut options = OpenOptions::new();
        options.create(true).read(true).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let existed = path.exists();
        let mut file = options.open(path).map_err(io("open"))?;
        let bytes = std::fs::read(path).map_err(io("read"))?;
        let keep = complete_len(&bytes);
        if keep < bytes.len() {
            file.set_len(keep as u64).map_err(io("truncate the torn end of"))?;
            file.sync_all().map_err(io("sync"))?;
        }
        file.seek(SeekFrom::Start(keep as u64)).map_err(io("seek in"))?;
        if keep > 0 && bytes.get(keep - 1) != Some(&b'\n') {
            // A whole last record whose newline was not written: finish its line before appending.
            file.write_all(b"\n").and_then(|()| file.sync_data()).map_err(io("write"))?;
        }
        if !existed {
            // The journal's directory entry must be durable too, or a crash could lose the whole file.
            crate::backend::sync_dir(path).map_err(io("sync the directory of"))?;
        }
        JournalWriter::with_sink(path, Box::new(file), codec)
    }

    /// A writer over any sink; `name` is how errors refer to the journal.
    pub fn with_sink(
        name: &Path,
        sink: Box<dyn JournalSink>,
        codec: Option<Arc<dyn SecretsCodec>>,
    ) -> Result<JournalWriter, StateError> {
        let (sender, receiver) = mpsc::channel::<(JournalRecord, Ack)>();
        let poisoned = Arc::new(OnceLock::new());
        let flag = Arc::clone(&poisoned);
        thread::Builder::new()
            .name("stackr-journal".into())
            .spawn(move || group_commit(sink, receiver, &flag))
            .map_err(|source| StateError::Io {
                action: "start the journal writer for",
                path: name.to_path_buf(),
                source,
            })?;
        Ok(JournalWriter { sender, path: name.to_path_buf(), codec, poisoned })
    }

    /// Appends one record and returns once it is durable (blocking).
    pub fn append(&self, mut record: JournalRecord) -> Result<(), StateError> {
        for (context, value) in record.values_mut() {
            if secrets::find_plain(value) {
                let codec =
                    self.codec.as_deref().ok_or_else(|| StateError::PlaintextSecret { path: self.path.clone() })?;
                secrets::seal(value, codec, &context).map_err(|e| StateError::Format {
                    path: self.path.clone(),
                    error: crate::FormatError::Inconsistent(e.to_string()),
                })?;
            }
        }
        let io_error = |why: String| StateError::Io {
            action: "append to",
            path: self.path.clone(),
            source: std::io::Error::other(why),
        };
        if let Some(first) = self.poisoned.get() {
            return Err(io_error(earlier(first)));
        }
        let (ack, done) = mpsc::channel();
        self.sender.send((record, ack)).map_err(|_| io_error("the journal writer stopped".into()))?;
        done.recv().map_err(|_| io_error("the journal writer stopped".into()))?.map_err(io_error)
    }

    /// Whether a write failed: the journal may lack records after that point, so nothing more is appended and
    /// the run must end without compacting it.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned.get().is_some()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Writes every record waiting, syncs once, then acknowledges them all.
/// What a write after a failed one is told: the first failure, which says why (a lost lock, a full disk).
fn earlier(first: &str) -> String {
    format!("an earlier write to the journal failed ({first})")
}

fn group_commit(
    mut sink: Box<dyn JournalSink>,
    receiver: mpsc::Receiver<(JournalRecord, Ack)>,
    poisoned: &OnceLock<String>,
) {
    while let Ok(first) = receiver.recv() {
        let mut batch = vec![first];
        while let Ok(more) = receiver.try_recv() {
            batch.push(more);
        }
        let mut result: Result<(), String> = Ok(());
        if let Some(first) = poisoned.get() {
            result = Err(earlier(first));
        }
        let mut buffer = Vec::new();
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
        if let Err(why) = &result {
            let _ = poisoned.set(why.clone());
        }
        for (_, ack) in batch {
            let _ = ack.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin() -> JournalRecord {
        JournalRecord::Begin { lineage: "l".into(), serial: 0, operation: "apply".into(), secrets: None, place: None }
    }

    #[test]
    fn a_torn_tail_is_cut_off_before_appending() -> Result<(), StateError> {
        let dir = tempfile::tempdir().map_err(|source| StateError::Io { action: "mk", path: "/tmp".into(), source })?;
        let path = dir.path().join("j");
        let good = serde_json::to_string(&begin()).unwrap_or_default();
        std::fs::write(&path, format!("{good}\n{{\"record\":\"done\",\"reso")).unwrap_or_default();
        let writer = JournalWriter::open(&path, None)?;
        writer.append(begin())?;
        drop(writer);
        // Before the fix the new record was glued to the fragment and the journal became unreadable mid-file.
        let records = super::super::read(&path, None)?;
        assert_eq!(records, vec![begin(), begin()]);
        Ok(())
    }

    struct FailOnce(bool);
    impl JournalSink for FailOnce {
        fn write_batch(&mut self, _: &[u8]) -> std::io::Result<()> {
            if std::mem::replace(&mut self.0, false) {
                return Err(std::io::Error::other("disk full"));
            }
            Ok(())
        }
    }

    #[test]
    fn a_failed_write_poisons_the_writer() -> Result<(), StateError> {
        let writer = JournalWriter::with_sink(Path::new("j"), Box::new(FailOnce(true)), None)?;
        assert!(writer.append(begin()).is_err());
        assert!(writer.is_poisoned());
        // The sink would accept this one, but a journal with a gap must not go on.
        let err = writer.append(begin()).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("an earlier write to the journal failed"), "{err}");
        // And it says why the first one failed (a lost lock, a full disk), not only that it did.
        assert!(err.contains("disk full"), "{err}");
        Ok(())
    }
}
