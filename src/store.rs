//! Where a stack's state, lock and journal live: a local directory (the default, `file://.stackr`) or S3
//! (`s3://BUCKET/PREFIX?region=R`) for teams. Both refuse corrupt or newer state files, take the lock exclusively
//! and keep the journal durable batch by batch. A local lock is an OS file lock, taken over once its holder's
//! process is gone; an S3 lock's lease is renewed while its holder runs, and an S3 lock is never taken over
//! automatically (a stale one is reported, and `stackr state unlock` removes it).

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use stackr_providers::s3_state::{LockAttempt, S3Store};
use stackr_state::journal::{self, JournalRecord, JournalWriter};
use stackr_state::lock::{self, LocalLock, LockError, LockInfo};
use stackr_state::secrets::{self, SecretsCodec};
use stackr_state::{format, Backend, LocalBackend, StateError, StateFile};

use crate::report::Failure;

pub enum Store {
    Local(LocalBackend),
    S3 { store: Box<S3Store>, runtime: &'static tokio::runtime::Runtime },
}

/// A held lock.
pub enum Held {
    Local(Box<LocalLock>),
    S3(Renewer),
}

/// Renews an S3 lock's lease in the background while the run holds it, so a long apply is never reported stale.
pub struct Renewer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    etag: Arc<Mutex<String>>,
}

impl Renewer {
    fn start(
        runtime: &'static tokio::runtime::Runtime,
        store: S3Store,
        stack: &str,
        mut info: LockInfo,
        etag: String,
    ) -> std::io::Result<Renewer> {
        let (stop, stopped) = mpsc::channel::<()>();
        let etag = Arc::new(Mutex::new(etag));
        let shared = Arc::clone(&etag);
        let stack = stack.to_string();
        let every = Duration::from_secs((info.lease_seconds / 3).max(1));
        let thread = std::thread::Builder::new().name("stackr-lease".into()).spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                info.renewed = lock::now();
                let body = serde_json::to_vec(&info).unwrap_or_default();
                let current = shared.lock().map(|e| e.clone()).unwrap_or_default();
                match runtime.block_on(store.renew(&stack, body, &current)) {
                    Ok(next) => {
                        if let Ok(mut e) = shared.lock() {
                            *e = next;
                        }
                    }
                    // No longer ours (unlocked by hand): stop renewing; a transient error: try again later.
                    Err(stackr_engine::provider::ProviderError::Invalid(_)) => return,
                    Err(_) => {}
                }
            }
        })?;
        Ok(Renewer { stop: Some(stop), thread: Some(thread), etag })
    }

    /// Stops renewing; returns the lock object's current ETag.
    fn finish(mut self) -> String {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        self.etag.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

fn s3_failure(error: stackr_engine::provider::ProviderError) -> Failure {
    Failure::hint(error, "check the bucket, its region and your access to it")
}

impl Store {
    pub fn from_url(url: &str, base: &Path) -> Result<Store, Failure> {
        if url.starts_with("s3://") {
            let runtime = crate::workspace::runtime()?;
            let config = runtime.block_on(stackr_providers::aws::load_config(None));
            let store = S3Store::from_url(url, &config).map_err(s3_failure)?;
            return Ok(Store::S3 { store: Box::new(store), runtime });
        }
        Ok(Store::Local(LocalBackend::from_url(url, base)?))
    }

    /// What apply asks before each call that changes AWS: whether the run still holds its lock. A local lock is
    /// an OS lock held until the process ends, and cannot be lost; an S3 lock can.
    pub fn lock_check(&self) -> Option<Arc<dyn stackr_engine::provider::LockCheck>> {
        match self {
            Store::Local(_) => None,
            Store::S3 { store, .. } => store.fence().map(|f| f as Arc<dyn stackr_engine::provider::LockCheck>),
        }
    }

    pub fn is_local(&self) -> bool {
        matches!(self, Store::Local(_))
    }

    /// Who holds the stack's lock now, when a run is in progress (local: its OS lock is held; S3: its lease is
    /// current). Read-only commands then leave that run's journal alone.
    pub fn live_holder(&self, stack: &str) -> Option<Option<LockInfo>> {
        match self {
            Store::Local(backend) => lock::live_holder(&backend.lock_path(stack)),
            Store::S3 { store, runtime } => {
                let holder = runtime.block_on(store.lock_holder(stack)).ok()??;
                let info: Option<LockInfo> = serde_json::from_slice(&holder).ok();
                match &info {
                    Some(i) if i.lease_expired().is_some() => None,
                    _ => Some(info),
                }
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Store::Local(backend) => backend.describe(),
            Store::S3 { store, .. } => store.describe(),
        }
    }

    /// How messages name the journal.
    pub fn journal_name(&self, stack: &str) -> PathBuf {
        match self {
            Store::Local(backend) => backend.journal_path(stack),
            Store::S3 { store, .. } => {
                PathBuf::from(format!("s3://{}/{}", store.bucket, store.key(&format!("{stack}.journal/"))))
            }
        }
    }

    pub fn load(&self, stack: &str) -> Result<Option<StateFile>, StateError> {
        match self {
            Store::Local(backend) => backend.load(stack),
            Store::S3 { store, runtime } => {
                let name =
                    PathBuf::from(format!("s3://{}/{}", store.bucket, store.key(&format!("{stack}.state.json"))));
                let bytes = runtime.block_on(store.load(stack)).map_err(|e| StateError::Io {
                    action: "read",
                    path: name.clone(),
                    source: std::io::Error::other(e.to_string()),
                })?;
                let Some(bytes) = bytes else { return Ok(None) };
                let state = format::decode(&bytes).map_err(|error| StateError::Format { path: name.clone(), error })?;
                if state.stack != stack {
                    return Err(StateError::Format {
                        path: name,
                        error: format::FormatError::Inconsistent(format!(
                            "it belongs to stack `{}`, not `{stack}`",
                            state.stack
                        )),
                    });
                }
                Ok(Some(state))
            }
        }
    }

    pub fn persist(&self, state: &StateFile) -> Result<(), Failure> {
        match self {
            Store::Local(backend) => Ok(backend.persist(state)?),
            Store::S3 { store, runtime } => {
                if secrets::values(state).any(secrets::find_plain) {
                    return Err(StateError::PlaintextSecret { path: self.describe().into() }.into());
                }
                let bytes = format::encode(state).map_err(|e| anyhow::anyhow!("the state is inconsistent: {e}"))?;
                runtime.block_on(store.persist(&state.stack, bytes)).map_err(s3_failure)
            }
        }
    }

    /// Takes the lock, or fails naming the holder. Returns who held a lock that was taken over, if any.
    pub fn lock(&self, stack: &str, operation: &str) -> Result<(Held, Option<String>), LockError> {
        match self {
            Store::Local(backend) => {
                let mut lock = LocalLock::acquire(&backend.lock_path(stack), operation)?;
                let taken_over = lock.taken_over.take();
                Ok((Held::Local(Box::new(lock)), taken_over))
            }
            Store::S3 { store, runtime } => {
                let io = |e: stackr_engine::provider::ProviderError| {
                    LockError::State(StateError::Io {
                        action: "lock",
                        path: store.key(stack).into(),
                        source: std::io::Error::other(e.to_string()),
                    })
                };
                let info = LockInfo::new(operation)?;
                let body = serde_json::to_vec(&info).unwrap_or_default();
                match runtime.block_on(store.lock(stack, body)).map_err(io)? {
                    LockAttempt::Taken { etag } => {
                        let renewer = Renewer::start(runtime, store.handle(), stack, info, etag).map_err(|source| {
                            LockError::State(StateError::Io {
                                action: "start renewing the lease of",
                                path: store.key(stack).into(),
                                source,
                            })
                        })?;
                        Ok((Held::S3(renewer), None))
                    }
                    LockAttempt::Held { holder, .. } => {
                        // Never taken over: another machine's process cannot be seen from here. A lease that ran
                        // out is reported, and `stackr state unlock` removes the lock.
                        let holder: Option<LockInfo> = serde_json::from_slice(&holder).ok();
                        let stale = holder.as_ref().and_then(LockInfo::lease_expired);
                        Err(LockError::Held { holder: holder.map(Box::new), stale })
                    }
                }
            }
        }
    }

    pub fn release(&self, stack: &str, held: Held) -> Result<(), Failure> {
        match (self, held) {
            (_, Held::Local(lock)) => Ok(lock.release()?),
            (Store::S3 { store, runtime }, Held::S3(renewer)) => {
                let etag = renewer.finish();
                runtime.block_on(store.unlock(stack, Some(&etag))).map(|_| ()).map_err(s3_failure)
            }
            (Store::Local(_), Held::S3(renewer)) => {
                renewer.finish();
                Ok(())
            }
        }
    }

    /// Removes the lock whoever holds it (`stackr state unlock`); returns who held it.
    pub fn force_unlock(&self, stack: &str, force: bool) -> Result<Option<LockInfo>, Failure> {
        match self {
            Store::Local(backend) => lock::force_unlock(&backend.lock_path(stack)).map_err(|e| match e {
                e @ LockError::Held { .. } => Failure::hint(
                    e,
                    "that run is still going (it holds the lock file); wait for it, or stop it: a lock is released when its process ends",
                ),
                other => Failure::from(other),
            }),
            Store::S3 { store, runtime } => {
                if !force {
                    if let Some(bytes) = runtime.block_on(store.lock_holder(stack)).map_err(s3_failure)? {
                        let holder: Option<LockInfo> = serde_json::from_slice(&bytes).ok();
                        if holder.as_ref().is_some_and(|h| h.lease_expired().is_none()) {
                            return Err(Failure::hint(
                                LockError::Held { holder: holder.map(Box::new), stale: None },
                                "its lease is current, so that run may still be going; if you are sure it is gone, `stackr state unlock --force`",
                            ));
                        }
                    }
                }
                let holder = runtime.block_on(store.unlock(stack, None)).map_err(s3_failure)?;
                Ok(holder.and_then(|h| serde_json::from_slice(&h).ok()))
            }
        }
    }

    /// The journal's records, secrets still sealed (its Begin record names the key to open them with).
    pub fn read_journal(&self, stack: &str) -> Result<Vec<JournalRecord>, StateError> {
        match self {
            Store::Local(backend) => journal::read_sealed(&backend.journal_path(stack)),
            Store::S3 { store, runtime } => {
                let name = self.journal_name(stack);
                let bytes = runtime.block_on(store.read_journal(stack)).map_err(|e| StateError::Io {
                    action: "read",
                    path: name.clone(),
                    source: std::io::Error::other(e.to_string()),
                })?;
                journal::parse_sealed(&bytes, &name)
            }
        }
    }

    pub fn open_journal(&self, stack: &str, codec: Option<Arc<dyn SecretsCodec>>) -> Result<JournalWriter, Failure> {
        match self {
            Store::Local(backend) => {
                std::fs::create_dir_all(backend.dir())
                    .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", backend.dir().display()))?;
                Ok(JournalWriter::open(&backend.journal_path(stack), codec)?)
            }
            Store::S3 { store, runtime } => {
                let sink = runtime.block_on(store.journal_sink(stack)).map_err(s3_failure)?;
                Ok(JournalWriter::with_sink(&self.journal_name(stack), Box::new(sink), codec)?)
            }
        }
    }

    pub fn remove_journal(&self, stack: &str) -> Result<(), Failure> {
        match self {
            Store::Local(backend) => {
                let path = backend.journal_path(stack);
                match std::fs::remove_file(&path) {
                    Ok(()) => stackr_state::backend::sync_dir(&path)
                        .map_err(|e| anyhow::anyhow!("cannot sync the directory of {}: {e}", path.display()).into()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(anyhow::anyhow!("cannot remove {}: {e}", path.display()).into()),
                }
            }
            Store::S3 { store, runtime } => runtime.block_on(store.remove_journal(stack)).map_err(s3_failure),
        }
    }
}
