//! Content hashes of local files and directories (Lambda code). The hash covers every regular file below the
//! path: its path relative to the root (with `/`), whether it is executable, its length and its bytes, in
//! sorted order. It is what plans compare, so an unchanged tree never shows a change and any changed byte does.

use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// One file of an asset, in the order it is hashed and zipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetFile {
    /// Relative to the asset root, `/`-separated; for a single-file asset, its file name.
    pub name: String,
    pub path: PathBuf,
    pub executable: bool,
}

/// The most files, and bytes, a code tree may hold: Lambda takes 250 MB unzipped. Links inside the project
/// root are followed, so a tree of links to links could otherwise reach any size.
const MAX_FILES: usize = 20_000;
const MAX_BYTES: u64 = 256 * 1024 * 1024;

/// Lists the files of a file or directory, sorted by name.
pub fn list_files(root: &Path) -> std::io::Result<Vec<AssetFile>> {
    let metadata = std::fs::metadata(root)?;
    if metadata.is_file() {
        let name = root.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        return Ok(vec![AssetFile { name, path: root.to_path_buf(), executable: is_executable(&metadata) }]);
    }
    let mut files = Vec::new();
    let mut bytes = 0u64;
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let metadata = std::fs::metadata(entry.path())?;
            if metadata.is_dir() {
                pending.push((entry.path(), relative));
            } else if metadata.is_file() {
                bytes = bytes.saturating_add(metadata.len());
                files.push(AssetFile { name: relative, path: entry.path(), executable: is_executable(&metadata) });
                if files.len() > MAX_FILES || bytes > MAX_BYTES {
                    return Err(std::io::Error::other(format!(
                        "{} holds more than {MAX_FILES} files or {} MiB, the most a code tree may",
                        root.display(),
                        MAX_BYTES >> 20
                    )));
                }
            }
        }
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

#[cfg(unix)]
fn is_executable(metadata: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}

/// The hex SHA-256 of a file or directory's content.
pub fn content_hash(root: &Path) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    for file in list_files(root)? {
        hasher.update(file.name.as_bytes());
        hasher.update([0, u8::from(file.executable)]);
        let mut f = std::fs::File::open(&file.path)?;
        let length = f.metadata()?.len();
        hasher.update(length.to_le_bytes());
        loop {
            let n = f.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_sensitive() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        std::fs::create_dir_all(dir.path().join("pkg"))?;
        std::fs::write(dir.path().join("handler.py"), "def handler(e, c):\n    return 1\n")?;
        std::fs::write(dir.path().join("pkg/util.py"), "X = 1\n")?;
        let first = content_hash(dir.path())?;
        assert_eq!(first, content_hash(dir.path())?);
        let names: Vec<String> = list_files(dir.path())?.into_iter().map(|f| f.name).collect();
        assert_eq!(names, vec!["handler.py", "pkg/util.py"]);
        std::fs::write(dir.path().join("pkg/util.py"), "X = 2\n")?;
        assert_ne!(first, content_hash(dir.path())?);
        Ok(())
    }
}
