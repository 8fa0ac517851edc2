//! Locks: one writer per stack.
//!
//! The local lock is `<stack>.lock` beside the state, held with an OS file lock (`flock`): the kernel releases it
//! when the holder's process ends, however it ends, so a lock whose file lock is free is abandoned and is taken
//! over, and a held one is live, whatever the hostname or pid namespace (containers sharing a directory). The file
//! names the holder; it is written whole in a temporary file, locked, then linked into place (never replacing a
//! lock), so no one ever reads it half-written. Release and takeover check that the file at the path is still the
//! one they locked, so neither ever removes or replaces another run's lock.
//!
//! Remote locks (S3) cannot see processes; they carry a lease that the holder renews while it runs
//! ([`LockInfo::renewed`]) and are reported stale, never taken over, once the lease ran out.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::model::RandomError;
use crate::StateError;

/// How long a remote lock is presumed alive after its holder last renewed it.
pub const LEASE_SECONDS: u64 = 300;

/// The lease of new remote locks: `STACKR_LOCK_LEASE_SECONDS`, or [`LEASE_SECONDS`].
pub fn lease_seconds() -> u64 {
    std::env::var("STACKR_LOCK_LEASE_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(LEASE_SECONDS)
}

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
    /// When the holder last renewed its lease (remote locks), seconds since the epoch.
    #[serde(default)]
    pub renewed: u64,
}

impl LockInfo {
    pub fn new(operation: &str) -> Result<LockInfo, RandomError> {
        let mut bytes = [0u8; 8];
        crate::model::fill_random(&mut bytes)?;
        let started = now();
        Ok(LockInfo {
            id: crate::model::hex(&bytes),
            user: std::env::var("USER").or_else(|_| std::env::var("USERNAME")).unwrap_or_else(|_| "unknown".into()),
            host: hostname(),
            pid: std::process::id(),
            operation: operation.to_string(),
            started,
            lease_seconds: lease_seconds(),
            renewed: started,
        })
    }

    /// Why a remote lock looks abandoned: its lease ran out without being renewed.
    pub fn lease_expired(&self) -> Option<String> {
        let last = self.started.max(self.renewed);
        let age = now().saturating_sub(last);
        (age > self.lease_seconds)
            .then(|| format!("its lease of {} s ran out {} s ago", self.lease_seconds, age - self.lease_seconds))
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

/// How a message names the holder of a lock, readable or not.
pub fn describe_holder(holder: Option<&LockInfo>) -> String {
    holder.map(LockInfo::describe).unwrap_or_else(|| "an unknown holder (the lock's contents are unreadable)".into())
}

pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "localhost".into())
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error("the stack is locked by {}{}", describe_holder(.holder.as_deref()), .stale.as_ref().map(|s| format!("; the lock looks stale: {s}")).unwrap_or_default())]
    Held { holder: Option<Box<LockInfo>>, stale: Option<String> },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Random(#[from] RandomError),
}

/// A held local lock; released on drop.
#[derive(Debug)]
pub struct LocalLock {
    path: PathBuf,
    /// The locked lock file: holding it open keeps the OS lock.
    file: File,
    info: LockInfo,
    released: bool,
    /// The holder of an abandoned lock this one took over.
    pub taken_over: Option<String>,
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> StateError {
    let path = path.to_path_buf();
    move |source| StateError::Io { action, path, source }
}

/// Whether `path` is still the file `file` has open.
fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = (file, path);
        true
    }
}

fn parse_holder(mut file: &File) -> Option<LockInfo> {
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl LocalLock {
    /// Takes the lock or fails at once naming the live holder. A lock whose holder is gone is taken over.
    pub fn acquire(path: &Path, operation: &str) -> Result<LocalLock, LockError> {
        let info = LockInfo::new(operation)?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io("create", dir))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let fresh = dir.join(format!(".{name}.{}.new", info.id));
        // A handful of rounds covers every interleaving with other takers; more means something keeps changing
        // the lock file, which is reported rather than looped on.
        for _ in 0..8 {
            let file = write_locked(&fresh, &info)?;
            match fs::hard_link(&fresh, path) {
                Ok(()) => {
                    let _ = fs::remove_file(&fresh);
                    crate::backend::sync_dir(path).map_err(io("sync the directory of", path))?;
                    remove_abandoned_candidates(dir, &name);
                    return Ok(LocalLock { path: path.to_path_buf(), file, info, released: false, taken_over: None });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                // Our candidate was removed as abandoned between its creation and its OS lock: start over.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    let _ = fs::remove_file(&fresh);
                    return Err(io("create", path)(e).into());
                }
            }
            let existing = match File::open(path) {
                Ok(f) => f,
                // Released in between: try again.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let _ = fs::remove_file(&fresh);
                    continue;
                }
                Err(e) => {
                    let _ = fs::remove_file(&fresh);
                    return Err(io("open", path)(e).into());
                }
            };
            match existing.try_lock() {
                Err(fs::TryLockError::WouldBlock) => {
                    let _ = fs::remove_file(&fresh);
                    if !same_file(&existing, path) {
                        continue;
                    }
                    return Err(LockError::Held { holder: parse_holder(&existing).map(Box::new), stale: None });
                }
                Err(fs::TryLockError::Error(e)) => {
                    let _ = fs::remove_file(&fresh);
                    return Err(io("lock", path)(e).into());
                }
                Ok(()) => {
                    // Nobody holds it: its process is gone. Replace it with ours, unless another run did first.
                    if !same_file(&existing, path) {
                        let _ = fs::remove_file(&fresh);
                        continue;
                    }
                    let dead = describe_holder(parse_holder(&existing).as_ref());
                    fs::rename(&fresh, path).map_err(io("replace", path))?;
                    crate::backend::sync_dir(path).map_err(io("sync the directory of", path))?;
                    drop(existing);
                    remove_abandoned_candidates(dir, &name);
                    return Ok(LocalLock {
                        path: path.to_path_buf(),
                        file,
                        info,
                        released: false,
                        taken_over: Some(dead),
                    });
                }
            }
        }
        Err(StateError::Io {
            action: "lock",
            path: path.to_path_buf(),
            source: std::io::Error::other("the lock file kept changing while stackr tried to take it"),
        }
        .into())
    }

    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    pub fn release(mut self) -> Result<(), StateError> {
        self.release_now()
    }

    fn release_now(&mut self) -> Result<(), StateError> {
        if self.released {
            return Ok(());
        }
        self.released = true;
        // Only our own lock file. While we hold its OS lock no other taker replaces it, and `state unlock` refuses
        // a held lock; this check keeps release safe even against a person deleting the file by hand.
        if same_file(&self.file, &self.path) {
            remove(&self.path)?;
            crate::backend::sync_dir(&self.path).map_err(io("sync the directory of", &self.path))?;
        }
        let _ = self.file.unlock();
        Ok(())
    }
}

/// Removes `.<name>.<id>.new` files that takers killed mid-acquire left behind: a candidate nobody holds (its OS
/// lock free) belongs to a process that is gone. Called by the lock's holder.
fn remove_abandoned_candidates(dir: &Path, name: &str) {
    let prefix = format!(".{name}.");
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if !(file_name.starts_with(&prefix) && file_name.ends_with(".new")) {
            continue;
        }
        if let Ok(candidate) = File::open(entry.path()) {
            if candidate.try_lock().is_ok() {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
}

/// Creates `path` holding `info`, synced and OS-locked.
fn write_locked(path: &Path, info: &LockInfo) -> Result<File, StateError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).read(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io("create", path))?;
    file.try_lock().map_err(|e| io("lock", path)(std::io::Error::other(e.to_string())))?;
    let bytes = serde_json::to_vec_pretty(info).map_err(|e| io("write", path)(std::io::Error::other(e)))?;
    file.write_all(&bytes).and_then(|()| file.sync_all()).map_err(io("write", path))?;
    Ok(file)
}

impl Drop for LocalLock {
    fn drop(&mut self) {
        let _ = self.release_now();
    }
}

/// The holder of a local lock that is held now (its OS lock taken), if any; `Some(None)` when the holder's record
/// is unreadable.
pub fn live_holder(path: &Path) -> Option<Option<LockInfo>> {
    let existing = File::open(path).ok()?;
    match existing.try_lock() {
        Err(fs::TryLockError::WouldBlock) => Some(parse_holder(&existing)),
        _ => None,
    }
}

pub fn read_lock(path: &Path) -> Result<Option<LockInfo>, StateError> {
    match fs::read(path) {
        Ok(bytes) => Ok(serde_json::from_slice(&bytes).ok()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(StateError::Io { action: "read", path: path.to_path_buf(), source }),
    }
}

fn remove(path: &Path) -> Result<(), StateError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(source) => Err(StateError::Io { action: "remove", path: path.to_path_buf(), source }),
    }
}

/// Removes an abandoned local lock (`stackr state unlock`); returns who held it. A lock whose holder is still
/// running is refused: it is not stale, and removing it would let a second writer in.
pub fn force_unlock(path: &Path) -> Result<Option<LockInfo>, LockError> {
    let existing = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("open", path)(e).into()),
    };
    match existing.try_lock() {
        Err(fs::TryLockError::WouldBlock) => {
            Err(LockError::Held { holder: parse_holder(&existing).map(Box::new), stale: None })
        }
        Err(fs::TryLockError::Error(e)) => Err(io("lock", path)(e).into()),
        Ok(()) => {
            let holder = parse_holder(&existing);
            if same_file(&existing, path) {
                remove(path)?;
            }
            Ok(holder)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> Result<tempfile::TempDir, LockError> {
        Ok(tempfile::tempdir().map_err(|source| StateError::Io { action: "mk", path: "/tmp".into(), source })?)
    }

    #[test]
    fn a_second_taker_fails_naming_the_holder() -> Result<(), LockError> {
        let dir = dir()?;
        let path = dir.path().join("s.lock");
        let first = LocalLock::acquire(&path, "apply")?;
        let err = LocalLock::acquire(&path, "destroy").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("the stack is locked by "), "{text}");
        assert!(text.contains(&format!("pid {}", std::process::id())) && text.contains("`apply`"), "{text}");
        assert!(!text.contains("stale"), "a held lock is live: {text}");
        first.release()?;
        let again = LocalLock::acquire(&path, "apply")?;
        drop(again);
        assert!(!path.exists(), "dropping a lock releases it");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).into_iter().flatten().flatten().collect();
        assert!(leftovers.is_empty(), "no temporary files are left: {leftovers:?}");
        Ok(())
    }

    #[test]
    fn a_lock_nobody_holds_is_taken_over_whatever_its_pid_and_host() -> Result<(), LockError> {
        let dir = dir()?;
        let path = dir.path().join("s.lock");
        // Written by a run whose process is gone; its pid and host may even be ours (another pid namespace).
        let mut info = LockInfo::new("apply")?;
        info.host = "another-container".into();
        info.pid = 1;
        fs::write(&path, serde_json::to_vec(&info).unwrap_or_default()).unwrap_or_default();
        let lock = LocalLock::acquire(&path, "destroy")?;
        let taken = lock.taken_over.clone().unwrap_or_default();
        assert!(taken.contains("another-container") && taken.contains("pid 1"), "{taken}");
        assert_eq!(read_lock(&path)?.map(|h| h.operation), Some("destroy".to_string()));
        lock.release()?;
        // An unreadable lock left behind (a pre-flock stackr killed mid-write) is named as such and taken over.
        fs::write(&path, b"").unwrap_or_default();
        let lock = LocalLock::acquire(&path, "apply")?;
        assert!(lock.taken_over.as_deref().unwrap_or_default().contains("unreadable"));
        Ok(())
    }

    #[test]
    fn a_live_holder_is_never_taken_over_even_with_a_dead_looking_pid() -> Result<(), LockError> {
        let dir = dir()?;
        let path = dir.path().join("s.lock");
        let held = LocalLock::acquire(&path, "apply")?;
        // Make the file claim a pid that is not running here, as a holder in another pid namespace would.
        let mut info = held.info().clone();
        info.pid = u32::MAX - 1;
        fs::write(&path, serde_json::to_vec(&info).unwrap_or_default()).unwrap_or_default();
        let err = LocalLock::acquire(&path, "apply").unwrap_err();
        assert!(matches!(err, LockError::Held { stale: None, .. }), "{err}");
        assert!(force_unlock(&path).is_err(), "`state unlock` refuses a live lock");
        held.release()?;
        assert!(!path.exists());
        Ok(())
    }

    #[test]
    fn release_leaves_a_lock_that_is_no_longer_ours() -> Result<(), LockError> {
        let dir = dir()?;
        let path = dir.path().join("s.lock");
        let held = LocalLock::acquire(&path, "apply")?;
        // Someone removed our lock file and another run created its own in its place.
        fs::remove_file(&path).unwrap_or_default();
        fs::write(&path, b"{\"someone\":\"else\"}").unwrap_or_default();
        held.release()?;
        assert_eq!(fs::read(&path).unwrap_or_default(), b"{\"someone\":\"else\"}", "the other lock is kept");
        Ok(())
    }

    #[test]
    fn concurrent_takers_never_see_a_half_written_lock() -> Result<(), LockError> {
        let dir = dir()?;
        let path = dir.path().join("s.lock");
        for _ in 0..50 {
            let threads: Vec<_> = (0..4)
                .map(|_| {
                    let path = path.clone();
                    std::thread::spawn(move || LocalLock::acquire(&path, "apply"))
                })
                .collect();
            let results: Vec<_> = threads.into_iter().filter_map(|t| t.join().ok()).collect();
            let mut winners = 0;
            for result in &results {
                match result {
                    Ok(_) => winners += 1,
                    Err(LockError::Held { holder: Some(h), .. }) => assert_eq!(h.operation, "apply"),
                    Err(other) => panic!("a loser must name a whole holder: {other}"),
                }
            }
            assert_eq!(winners, 1, "exactly one taker wins");
            drop(results);
            assert!(!path.exists());
        }
        Ok(())
    }

    #[test]
    fn remote_leases_expire_unless_renewed() -> Result<(), LockError> {
        let mut info = LockInfo::new("apply")?;
        info.lease_seconds = 60;
        info.started = now() - 600;
        info.renewed = now() - 10;
        assert_eq!(info.lease_expired(), None, "renewed 10 s ago");
        info.renewed = info.started;
        assert!(info.lease_expired().unwrap_or_default().contains("lease of 60 s ran out"));
        Ok(())
    }
}
