//! Paths a stack names (includes, `fn::readFile`, Lambda code) stay inside the project root: the directory
//! stackr runs in, where `.stackr/` lives. A stack file in a pull request is untrusted input; without this, one
//! could read `/proc/self/environ` or `~/.aws/credentials` into a plan. Checked before anything is read:
//! absolute paths, `..` that leaves the root, and symbolic links whose target lies outside it are refused.

use std::path::{Component, Path, PathBuf};

/// Resolves `named` (as written in a stack) against `base_dir` (the naming file's directory) inside `root`.
/// Returns the path to read, in the same form as before (`base_dir` joined with `named`).
pub fn resolve(root: Option<&Path>, base_dir: &Path, named: &str) -> Result<PathBuf, String> {
    let joined = base_dir.join(named);
    let Some(root) = root else { return Ok(joined) };
    let shown = root.display();
    if Path::new(named).is_absolute() {
        return Err(format!("`{named}` is an absolute path; paths a stack names stay inside the project root {shown}"));
    }
    let absolute = if joined.is_absolute() { joined.clone() } else { root.join(&joined) };
    let normal = normalize(&absolute);
    if !normal.starts_with(root) {
        return Err(format!("`{named}` leads outside the project root {shown} (to {})", normal.display()));
    }
    inside_after_links(root, &normal, named)?;
    Ok(joined)
}

/// Every file under a directory (a Lambda code directory) must stay inside the root too, links included.
pub fn check_tree(root: Option<&Path>, dir: &Path, named: &str) -> Result<(), String> {
    let Some(root) = root else { return Ok(()) };
    let absolute = if dir.is_absolute() { dir.to_path_buf() } else { root.join(dir) };
    if !absolute.is_dir() {
        return Ok(());
    }
    let mut pending = vec![absolute];
    while let Some(current) = pending.pop() {
        let entries = std::fs::read_dir(&current).map_err(|e| format!("cannot read {}: {e}", current.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let is_link = entry.file_type().map(|t| t.is_symlink()).unwrap_or(false);
            if is_link {
                inside_after_links(root, &path, named)?;
            }
            if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                pending.push(path);
            }
        }
    }
    Ok(())
}

fn inside_after_links(root: &Path, path: &Path, named: &str) -> Result<(), String> {
    let Ok(real) = std::fs::canonicalize(path) else { return Ok(()) };
    let real_root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    if real.starts_with(&real_root) {
        return Ok(());
    }
    Err(format!(
        "`{named}` reaches {} through a symbolic link, outside the project root {}",
        real.display(),
        root.display()
    ))
}

/// `a/./b/../c` → `a/c`, without touching the filesystem.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_root() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("project");
        std::fs::create_dir_all(root.join("stacks/shared"))?;
        std::fs::write(root.join("stacks/shared/policy.json"), "{}")?;
        std::fs::write(dir.path().join("secret.txt"), "outside")?;
        let base = root.join("stacks");
        assert!(resolve(Some(&root), &base, "shared/policy.json").is_ok());
        assert!(resolve(Some(&root), &base, "../stacks/shared/policy.json").is_ok(), "`..` that stays inside");
        let err = resolve(Some(&root), &base, "../../secret.txt").unwrap_err();
        assert!(err.contains("leads outside the project root"), "{err}");
        let err = resolve(Some(&root), &base, "/proc/self/environ").unwrap_err();
        assert!(err.contains("is an absolute path") && err.contains(&root.display().to_string()), "{err}");
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("stacks/innocent.txt"))?;
            let err = resolve(Some(&root), &base, "innocent.txt").unwrap_err();
            assert!(err.contains("through a symbolic link"), "{err}");
            std::fs::create_dir_all(root.join("code"))?;
            std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("code/leak.py"))?;
            let err = check_tree(Some(&root), &root.join("code"), "../code").unwrap_err();
            assert!(err.contains("through a symbolic link"), "{err}");
        }
        Ok(())
    }
}
