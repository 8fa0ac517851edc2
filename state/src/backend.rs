//! Where state lives. The local backend keeps `<dir>/<stack>.state.json` (mode 0600), written atomically:
//! a temporary file in the same directory, fsync, rename over the old file, fsync of the directory; the
//! previous version stays beside it as `<stack>.state.json.bak` (written the same way). Temporary files left by a
//! writer that was killed are removed by the next write (which holds the lock). A state holding a plaintext
//! secret is never written.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::format;
use crate::model::StateFile;
use crate::StateError;

pub trait Backend: Send + Sync {
    /// The state, or `None` when the stack has none yet.
    fn load(&self, stack: &str) -> Result<Option<StateFile>, StateError>;
    /// Replaces the state durably.
    fn persist(&self, state: &StateFile) -> Result<(), StateError>;
    /// A human description (`file://.stackr`).
    fn describe(&self) -> String;
}

pub struct LocalBackend {
    dir: PathBuf,
}

impl LocalBackend {
    pub fn new(dir: impl Into<PathBuf>) -> LocalBackend {
        LocalBackend { dir: dir.into() }
    }

    /// `file://DIR` (relative to `base`), the default when a stack names no backend.
    pub fn from_url(url: &str, base: &Path) -> Result<LocalBackend, StateError> {
        let rest = url.strip_prefix("file://").ok_or_else(|| StateError::BackendUrl {
            url: url.to_string(),
            why: "a local backend URL starts with file://".into(),
        })?;
        if rest.is_empty() {
            return Err(StateError::BackendUrl { url: url.to_string(), why: "no directory given".into() });
        }
        let dir = Path::new(rest);
        Ok(LocalBackend::new(if dir.is_absolute() { dir.to_path_buf() } else { base.join(dir) }))
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn state_path(&self, stack: &str) -> PathBuf {
        self.dir.join(format!("{stack}.state.json"))
    }

    /// The journal of a run in progress (or of one that died).
    pub fn journal_path(&self, stack: &str) -> PathBuf {
        self.dir.join(format!("{stack}.journal"))
    }

    pub fn lock_path(&self, stack: &str) -> PathBuf {
        self.dir.join(format!("{stack}.lock"))
    }
}

impl Backend for LocalBackend {
    fn load(&self, stack: &str) -> Result<Option<StateFile>, StateError> {
        let path = self.state_path(stack);
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Io { action: "read", path, source }),
        };
        let state = format::decode(&bytes).map_err(|error| StateError::Format { path: path.clone(), error })?;
        if state.stack != stack {
            return Err(StateError::Format {
                path,
                error: format::FormatError::Inconsistent(format!(
                    "it belongs to stack `{}`, not `{stack}`",
                    state.stack
                )),
            });
        }
        Ok(Some(state))
    }

    fn persist(&self, state: &StateFile) -> Result<(), StateError> {
        let path = self.state_path(&state.stack);
        if crate::secrets::values(state).any(crate::secrets::find_plain) {
            return Err(StateError::PlaintextSecret { path });
        }
        let bytes = format::encode(state).map_err(|error| StateError::Format { path: path.clone(), error })?;
        fs::create_dir_all(&self.dir).map_err(|source| StateError::Io {
            action: "create",
            path: self.dir.clone(),
            source,
        })?;
        remove_leftover_temporaries(&path);
        let backup = path.with_extension("json.bak");
        remove_leftover_temporaries(&backup);
        match fs::read(&path) {
            // The backup is written as atomically as the state: a crash never leaves a torn .bak.
            Ok(previous) => write_atomic(&backup, &previous)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(StateError::Io { action: "back up", path, source }),
        }
        write_atomic(&path, &bytes)
    }

    fn describe(&self) -> String {
        format!("file://{}", self.dir.display())
    }
}

/// Temp file, fsync, rename, fsync the directory: a reader sees the old bytes or the new, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{file_name}.tmp-{}", std::process::id()));
    fn io(action: &'static str, p: &Path) -> impl FnOnce(std::io::Error) -> StateError {
        let p = p.to_path_buf();
        move |source| StateError::Io { action, path: p, source }
    }
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(io("create", &tmp))?;
    file.write_all(bytes).map_err(io("write", &tmp))?;
    file.sync_all().map_err(io("sync", &tmp))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io("replace", path))?;
    sync_dir(path).map_err(io("sync the directory of", path))
}

/// Makes a new, renamed or removed directory entry durable by syncing the directory holding `path`. A filesystem
/// that cannot sync a directory at all (EINVAL: some network and FUSE filesystems) offers nothing more to wait
/// for; any other failure (an I/O error) means the entry may not survive a crash, and is an error.
pub fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match File::open(dir).and_then(|d| d.sync_all()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput || e.kind() == std::io::ErrorKind::Unsupported => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes `.<name>.tmp-<pid>` files a killed writer left beside `path`. The caller holds the stack's lock, so no
/// live writer of this file exists.
fn remove_leftover_temporaries(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return };
    let prefix = format!(".{}.tmp-", name.to_string_lossy());
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir() -> Result<tempfile::TempDir, StateError> {
        tempfile::tempdir().map_err(|source| StateError::Io { action: "mk", path: "/tmp".into(), source })
    }

    #[test]
    fn persists_loads_and_keeps_a_backup() -> Result<(), StateError> {
        let dir = tempdir()?;
        let backend = LocalBackend::new(dir.path().join(".stackr"));
        assert!(backend.load("demo")?.is_none());
        let mut state = StateFile::create("demo")?;
        backend.persist(&state)?;
        state.serial = 1;
        backend.persist(&state)?;
        assert_eq!(backend.load("demo")?.map(|s| s.serial), Some(1));
        let backup = fs::read(backend.state_path("demo").with_extension("json.bak")).unwrap_or_default();
        assert_eq!(format::decode(&backup).map(|s| s.serial).ok(), Some(0));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(backend.state_path("demo")).map(|m| m.permissions().mode()).unwrap_or(0);
            assert_eq!(mode & 0o777, 0o600);
        }
        Ok(())
    }

    #[test]
    fn refuses_a_plaintext_secret_and_cleans_up_killed_writes() -> Result<(), StateError> {
        let dir = tempdir()?;
        let backend = LocalBackend::new(dir.path());
        let mut state = StateFile::create("demo")?;
        state.outputs.insert("password".into(), serde_json::json!({"@secret": "hunter2"}));
        assert!(matches!(backend.persist(&state), Err(StateError::PlaintextSecret { .. })));
        assert!(!backend.state_path("demo").exists(), "nothing written");
        state.outputs.clear();
        // What a writer killed between creating its temporary file and renaming it leaves behind.
        let leftover = dir.path().join(".demo.state.json.tmp-4242");
        fs::write(&leftover, b"half a sta").unwrap_or_default();
        let leftover_backup = dir.path().join(".demo.state.json.bak.tmp-4243");
        fs::write(&leftover_backup, b"half a ba").unwrap_or_default();
        backend.persist(&state)?;
        backend.persist(&state)?;
        assert!(!leftover.exists() && !leftover_backup.exists(), "temporaries of killed writes are removed");
        let names: Vec<String> = fs::read_dir(dir.path())
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "only the state and its backup: {names:?}");
        Ok(())
    }

    #[test]
    fn refuses_a_corrupt_file_and_leaves_it_alone() -> Result<(), StateError> {
        let dir = tempdir()?;
        let backend = LocalBackend::new(dir.path());
        let path = backend.state_path("demo");
        fs::write(&path, b"{\"formatVersion\": 1, \"lineage\": ").unwrap_or_default();
        assert!(matches!(backend.load("demo"), Err(StateError::Format { .. })));
        assert_eq!(fs::read(&path).unwrap_or_default(), b"{\"formatVersion\": 1, \"lineage\": ");
        Ok(())
    }
}
