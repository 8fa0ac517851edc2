//! Where a stack's state, lock and journal live: a local directory (the default, `file://.stackr`) or S3
//! (`s3://BUCKET/PREFIX?region=R`) for teams. Both refuse corrupt or newer state files, take the lock exclusively,
//! take over a lock whose process on this host is gone, and keep the journal durable batch by batch.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use stackr_providers::s3_state::{LockAttempt, S3Store};
use stackr_state::journal::{self, JournalRecord, JournalWriter};
use stackr_state::lock::{self, LocalLock, LockError, LockInfo};
use stackr_state::secrets::{self, SecretsCodec};
use stackr_state::{format, Backend, LocalBackend, StateError, StateFile};

use crate::report::Failure;

pub enum Store {
    Local(LocalBackend),
    S3 { store: Box<S3Store>, runtime: tokio::runtime::Runtime },
}

/// A held lock.
pub enum Held {
    Local(Box<LocalLock>),
    S3 { etag: String },
}

fn s3_failure(error: stackr_engine::provider::ProviderError) -> Failure {
    Failure::hint(error, "check the bucket, its region and your access to it")
}

impl Store {
    pub fn from_url(url: &str, base: &Path) -> Result<Store, Failure> {
        if url.starts_with("s3://") {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| anyhow::anyhow!("cannot start the async runtime: {e}"))?;
            let config = runtime.block_on(stackr_providers::aws::load_config(None));
            let store = S3Store::from_url(url, &config).map_err(s3_failure)?;
            return Ok(Store::S3 { store: Box::new(store), runtime });
        }
        Ok(Store::Local(LocalBackend::from_url(url, base)?))
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
                    return Err(anyhow::anyhow!("refusing to write a secret value in plaintext").into());
                }
                let bytes = format::encode(state).map_err(|e| anyhow::anyhow!("the state is inconsistent: {e}"))?;
                runtime.block_on(store.persist(&state.stack, bytes)).map_err(s3_failure)
            }
        }
    }

    /// Takes the lock, or fails naming the holder. Returns the holder of a lock taken over, if any.
    pub fn lock(&self, stack: &str, operation: &str) -> Result<(Held, Option<LockInfo>), LockError> {
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
                let info = LockInfo::new(operation);
                let body = serde_json::to_vec(&info).unwrap_or_default();
                match runtime.block_on(store.lock(stack, body.clone())).map_err(io)? {
                    LockAttempt::Taken { etag } => Ok((Held::S3 { etag }, None)),
                    LockAttempt::Held { holder, etag } => {
                        let holder: LockInfo =
                            serde_json::from_slice(&holder).unwrap_or_else(|_| LockInfo::new("unknown"));
                        if !holder.abandoned_here() {
                            return Err(LockError::Held { holder });
                        }
                        // Only if it is still the dead holder's lock object.
                        runtime.block_on(store.unlock(stack, Some(&etag))).map_err(io)?;
                        match runtime.block_on(store.lock(stack, body)).map_err(io)? {
                            LockAttempt::Taken { etag } => Ok((Held::S3 { etag }, Some(holder))),
                            LockAttempt::Held { holder, .. } => Err(LockError::Held {
                                holder: serde_json::from_slice(&holder).unwrap_or_else(|_| LockInfo::new("unknown")),
                            }),
                        }
                    }
                }
            }
        }
    }

    pub fn release(&self, stack: &str, held: Held) -> Result<(), Failure> {
        match (self, held) {
            (_, Held::Local(lock)) => Ok(lock.release()?),
            (Store::S3 { store, runtime }, Held::S3 { etag }) => {
                runtime.block_on(store.unlock(stack, Some(&etag))).map(|_| ()).map_err(s3_failure)
            }
            (Store::Local(_), Held::S3 { .. }) => Ok(()),
        }
    }

    /// Removes the lock whoever holds it (`stackr state unlock`); returns who held it.
    pub fn force_unlock(&self, stack: &str) -> Result<Option<LockInfo>, Failure> {
        match self {
            Store::Local(backend) => Ok(lock::force_unlock(&backend.lock_path(stack))?),
            Store::S3 { store, runtime } => {
                let holder = runtime.block_on(store.unlock(stack, None)).map_err(s3_failure)?;
                Ok(holder.and_then(|h| serde_json::from_slice(&h).ok()))
            }
        }
    }

    pub fn read_journal(
        &self,
        stack: &str,
        codec: Option<&dyn SecretsCodec>,
    ) -> Result<Vec<JournalRecord>, StateError> {
        match self {
            Store::Local(backend) => journal::read(&backend.journal_path(stack), codec),
            Store::S3 { store, runtime } => {
                let name = self.journal_name(stack);
                let bytes = runtime.block_on(store.read_journal(stack)).map_err(|e| StateError::Io {
                    action: "read",
                    path: name.clone(),
                    source: std::io::Error::other(e.to_string()),
                })?;
                journal::parse(&bytes, &name, codec)
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
                let _ = std::fs::remove_file(backend.journal_path(stack));
                Ok(())
            }
            Store::S3 { store, runtime } => runtime.block_on(store.remove_journal(stack)).map_err(s3_failure),
        }
    }
}
