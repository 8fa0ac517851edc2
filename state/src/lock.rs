//! Locks: one writer per stack. The local lock is a file created exclusively (`O_EXCL`) beside the state,
//! holding who took it, where, for what and when. A lock whose process is gone (same host, pid not running) or
//! whose lease has run out is reported as stale; `stackr state unlock` removes it.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::StateError;

/// How long a lock is presumed alive without its holder checking in.
pub const LEASE_SECONDS: u64 = 3600;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LockInfo {
    pub id: String,
    pub user: String,
    pub host: String,
    pub pid: u32,
    /// `apply`, `destroy`, `refresh`, `import`, `state rm`.
    pub operation: String,
    /// Seconds since the Unix epoch.
    pub started: u64,
    pub lease_seconds: u64,
}

impl LockInfo {
    pub fn new(operation: &str) -> LockInfo {
        let mut bytes = [0u8; 8];
        crate::model::fill_random(&mut bytes);
        LockInfo {
            id: bytes.iter().map(|b| format!("{b:02x}")).collect(),
            user: std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown".into()),
            host: hostname(),
            pid: std::process::id(),
            operation: operation.to_string(),
            started: now(),
            lease_seconds: LEASE_SECONDS,
        }
    }

    /// Why the lock looks abandoned, if it does.
    pub fn staleness(&self) -> Option<String> {
        if self.host == hostname() && !process_alive(self.pid) {
            return Some(format!("process {} is no longer running on {}", self.pid, self.host));
        }
        if now() > self.started.saturating_add(self.lease_seconds) {
            return Some(format!("its lease of {} s ran out", self.lease_seconds));
        }
        None
    }

    /// A run of this host whose process is gone: certainly abandoned, safe to take over.
    pub fn abandoned_here(&self) -> bool {
        self.host == hostname() && self.pid != 0 && !process_alive(self.pid)
    }

    pub fn describe(&self) -> String {
        format!(
            "{}@{} (pid {}, `{}`, started {} s ago, lock id {})",
            self.user,
            self.host,
            self.pid,
            self.operation,
            now().saturating_sub(self.started),
            self.id
        )
    }
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into())
}

/// Whether a process of this host is running. A zombie (killed, not yet reaped) is not.
fn process_alive(pid: u32) -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state letter follows the parenthesised command name, which may itself hold spaces.
        Ok(stat) => {
            !matches!(stat.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()), Some('Z' | 'X'))
        }
        Err(_) => false,
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the stack is locked by {}{}", .holder.describe(), .holder.staleness().map(|s| format!("; the lock looks stale: {s}")).unwrap_or_default())]
    Held { holder: LockInfo },
    #[error(transparent)]
    State(#[from] StateError),
}

/// A held local lock; released on drop.
#[derive(Debug)]
pub struct LocalLock {
    path: PathBuf,
    info: LockInfo,
    released: bool,
    /// The holder of a lock this one took over: a run on this host whose process is gone.
    pub taken_over: Option<LockInfo>,
}

impl LocalLock {
    /// Takes the lock or fails at once naming the holder. A lock left by a process of this host that is no
    /// longer running is taken over (it is certainly abandoned); any other holder is reported.
    pub fn acquire(path: &Path, operation: &str) -> Result<LocalLock, LockError> {
        match LocalLock::try_acquire(path, operation) {
            Err(LockError::Held { holder })
                if holder.host == hostname() && holder.pid != 0 && !process_alive(holder.pid) =>
            {
                // Move the dead holder's lock aside atomically, and check that what moved is still that lock:
                // another run may have taken it over first, and a live lock is never removed.
                let aside = path.with_extension(format!("stale-{}", std::process::id()));
                std::fs::rename(path, &aside).map_err(|source| StateError::Io {
                    action: "move aside",
                    path: path.to_path_buf(),
                    source,
                })?;
                let moved = read_lock(&aside)?;
                if moved.as_ref() != Some(&holder) {
                    let _ = std::fs::rename(&aside, path);
                    return Err(LockError::Held { holder: moved.unwrap_or(holder) });
                }
                let _ = std::fs::remove_file(&aside);
                let mut lock = LocalLock::try_acquire(path, operation)?;
                lock.taken_over = Some(holder);
                Ok(lock)
            }
            other => other,
        }
    }

    fn try_acquire(path: &Path, operation: &str) -> Result<LocalLock, LockError> {
        let info = LockInfo::new(operation);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
                action: "create",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(mut file) => {
                let bytes = serde_json::to_vec_pretty(&info).unwrap_or_default();
                file.write_all(&bytes).and_then(|()| file.sync_all()).map_err(|source| StateError::Io {
                    action: "write",
                    path: path.to_path_buf(),
                    source,
                })?;
                Ok(LocalLock { path: path.to_path_buf(), info, released: false, taken_over: None })
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let holder = read_lock(path)?.unwrap_or_else(|| LockInfo {
                    id: "unreadable".into(),
                    user: "unknown".into(),
                    host: "unknown".into(),
                    pid: 0,
                    operation: "unknown".into(),
                    started: 0,
                    lease_seconds: 0,
                });
                Err(LockError::Held { holder })
            }
            Err(source) => Err(StateError::Io { action: "create", path: path.to_path_buf(), source }.into()),
        }
    }

    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    pub fn release(mut self) -> Result<(), StateError> {
        self.released = true;
        remove(&self.path)
    }
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        if !self.released {
            let _ = remove(&self.path);
        }
    }
}

pub fn read_lock(path: &Path) -> Result<Option<LockInfo>, StateError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Io { action: "read", path: path.to_path_buf(), source }),
    }
}

fn remove(path: &Path) -> Result<(), StateError> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StateError::Io { action: "remove", path: path.to_path_buf(), source }),
    }
}

/// Removes a lock whatever its holder (`stackr state unlock`); returns who held it.
pub fn force_unlock(path: &Path) -> Result<Option<LockInfo>, StateError> {
    let holder = read_lock(path)?;
    remove(path)?;
    Ok(holder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_fails_naming_the_holder() -> Result<(), LockError> {
        let dir = tempfile::tempdir().map_err(|source| StateError::Io { action: "mk", path: "/tmp".into(), source })?;
        let path = dir.path().join("s.lock");
        let first = LocalLock::acquire(&path, "apply")?;
        let err = LocalLock::acquire(&path, "destroy").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("the stack is locked by "), "{text}");
        assert!(text.contains(&format!("pid {}", std::process::id())) && text.contains("`apply`"), "{text}");
        assert!(!text.contains("stale"), "our own process is alive: {text}");
        first.release()?;
        let again = LocalLock::acquire(&path, "apply")?;
        drop(again);
        assert!(!path.exists(), "dropping a lock releases it");
        Ok(())
    }

    #[test]
    fn a_dead_local_holder_is_taken_over() -> Result<(), LockError> {
        let dir = tempfile::tempdir().map_err(|source| StateError::Io { action: "mk", path: "/tmp".into(), source })?;
        let path = dir.path().join("s.lock");
        let mut info = LockInfo::new("apply");
        info.pid = u32::MAX - 1;
        std::fs::write(&path, serde_json::to_vec(&info).unwrap_or_default()).unwrap_or_default();
        let lock = LocalLock::acquire(&path, "destroy")?;
        assert_eq!(lock.taken_over.as_ref().map(|h| h.pid), Some(u32::MAX - 1));
        assert_eq!(read_lock(&path)?.map(|h| h.operation), Some("destroy".to_string()));
        lock.release()?;
        Ok(())
    }

    #[test]
    fn an_expired_lease_elsewhere_is_reported_stale_and_can_be_removed() -> Result<(), LockError> {
        let dir = tempfile::tempdir().map_err(|source| StateError::Io { action: "mk", path: "/tmp".into(), source })?;
        let path = dir.path().join("s.lock");
        let mut info = LockInfo::new("apply");
        info.host = "another-host".into();
        info.started = 1;
        std::fs::write(&path, serde_json::to_vec(&info).unwrap_or_default()).unwrap_or_default();
        let text = LocalLock::acquire(&path, "apply").unwrap_err().to_string();
        assert!(text.contains("the lock looks stale: its lease of 3600 s ran out"), "{text}");
        assert_eq!(force_unlock(&path)?.map(|h| h.host), Some("another-host".to_string()));
        LocalLock::acquire(&path, "apply")?.release()?;
        Ok(())
    }
}
