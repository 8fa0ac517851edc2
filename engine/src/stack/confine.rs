//! Paths a stack names (includes, `fn::readFile`, Lambda code) stay inside the project root: the directory
//! stackr runs in, where `.stackr/` lives. A stack file in a pull request is untrusted input; without this, one
//! could read `/proc/self/environ` or `~/.aws/credentials` into a plan. Checked before anything is read:
//! absolute paths, `..` that leaves the root, and symbolic links whose target lies outside it are refused.

use std::path::{Component, Path, PathBuf};

/// Where a stack may read: the project root, and the directories its `allowPaths` lists (absolute).
#[derive(Debug, Clone, Copy)]
pub struct Confinement<'a> {
    pub root: &'a Path,
    pub allowed: &'a [PathBuf],
}

impl Confinement<'_> {
    fn contains(&self, path: &Path) -> bool {
        path.starts_with(self.root) || self.allowed.iter().any(|a| path.starts_with(a))
    }

    fn describe(&self) -> String {
        let mut text = format!("the project root {}", self.root.display());
        if !self.allowed.is_empty() {
            let dirs: Vec<String> = self.allowed.iter().map(|a| a.display().to_string()).collect();
            text.push_str(&format!(" or the directories `allowPaths` lists ({})", dirs.join(", ")));
        }
        text
    }
}

/// Resolves `named` (as written in a stack) against `base_dir` (the naming file's directory) inside the
/// confinement. Returns the path to read, in the same form as before (`base_dir` joined with `named`).
pub fn resolve(confined: Option<Confinement<'_>>, base_dir: &Path, named: &str) -> Result<PathBuf, String> {
    let joined = base_dir.join(named);
    let Some(confined) = confined else { return Ok(joined) };
    let absolute = if joined.is_absolute() { joined.clone() } else { confined.root.join(&joined) };
    let normal = normalize(&absolute);
    if Path::new(named).is_absolute() && !confined.contains(&normal) {
        return Err(format!("`{named}` is an absolute path; paths a stack names stay inside {}", confined.describe()));
    }
    if !confined.contains(&normal) {
        return Err(format!("`{named}` leads outside {} (to {})", confined.describe(), normal.display()));
    }
    inside_after_links(confined, &normal, named)?;
    Ok(joined)
}

/// [`resolve`] for a path that may be a directory (Lambda code): the path, and every file under it, inside the
/// confinement.
pub fn resolve_tree(confined: Option<Confinement<'_>>, base_dir: &Path, named: &str) -> Result<PathBuf, String> {
    let full = resolve(confined, base_dir, named)?;
    check_tree(confined, &full, named)?;
    Ok(full)
}

/// Every file under a directory (a Lambda code directory) must stay inside the root too, links included.
pub fn check_tree(confined: Option<Confinement<'_>>, dir: &Path, named: &str) -> Result<(), String> {
    let Some(confined) = confined else { return Ok(()) };
    let absolute = if dir.is_absolute() { dir.to_path_buf() } else { confined.root.join(dir) };
    if !absolute.is_dir() {
        return Ok(());
    }
    // Packaging follows links, so this walk does too: every directory a link leads to (inside the root) is
    // checked as well, each once (links to links, and loops, visit nothing twice).
    let mut visited = std::collections::BTreeSet::new();
    let mut pending = vec![absolute];
    while let Some(current) = pending.pop() {
        if !visited.insert(std::fs::canonicalize(&current).unwrap_or_else(|_| current.clone())) {
            continue;
        }
        let entries = std::fs::read_dir(&current).map_err(|e| format!("cannot read {}: {e}", current.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let is_link = entry.file_type().map(|t| t.is_symlink()).unwrap_or(false);
            if is_link {
                inside_after_links(confined, &path, named)?;
            }
            if path.is_dir() {
                pending.push(path);
            }
        }
    }
    Ok(())
}

fn inside_after_links(confined: Confinement<'_>, path: &Path, named: &str) -> Result<(), String> {
    let Ok(real) = std::fs::canonicalize(path) else { return Ok(()) };
    let real_of = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    if real.starts_with(real_of(confined.root)) || confined.allowed.iter().any(|a| real.starts_with(real_of(a))) {
        return Ok(());
    }
    Err(format!("`{named}` reaches {} through a symbolic link, outside {}", real.display(), confined.describe()))
}

/// An `allowPaths` entry as an absolute directory: relative entries are relative to the stack file's directory.
pub fn allowed_dir(root: &Path, stack_dir: &Path, entry: &str) -> PathBuf {
    let path = Path::new(entry);
    if path.is_absolute() {
        normalize(path)
    } else {
        let base = if stack_dir.is_absolute() { stack_dir.to_path_buf() } else { root.join(stack_dir) };
        normalize(&base.join(path))
    }
}

/// `stacks/../functions/chat` → `functions/chat`, without touching the filesystem; leading `..` are kept
/// (`../shared` stays). How a code path is recorded in a plan and read by apply: the directory it was named
/// from need not exist any more (a saved plan applies after its stack files are gone).
pub fn lexical(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                let up = matches!(out.components().next_back(), None | Some(Component::ParentDir));
                if up {
                    out.push("..");
                } else if !matches!(out.components().next_back(), Some(Component::RootDir | Component::Prefix(_))) {
                    out.pop();
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
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
    fn lexical_paths_drop_what_parent_steps_undo_and_keep_the_rest() {
        for (path, expected) in [
            ("stacks/../functions/chat", "functions/chat"),
            ("stacks/shared/../../functions", "functions"),
            ("../shared/./x", "../shared/x"),
            ("a/../../b", "../b"),
            ("/root/../x", "/x"),
            ("/../x", "/x"),
        ] {
            assert_eq!(lexical(Path::new(path)), PathBuf::from(expected), "{path}");
        }
    }

    #[test]
    fn paths_stay_inside_the_root() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let root = dir.path().join("project");
        std::fs::create_dir_all(root.join("stacks/shared"))?;
        std::fs::write(root.join("stacks/shared/policy.json"), "{}")?;
        std::fs::write(dir.path().join("secret.txt"), "outside")?;
        let base = root.join("stacks");
        let c = Some(Confinement { root: &root, allowed: &[] });
        assert!(resolve(c, &base, "shared/policy.json").is_ok());
        assert!(resolve(c, &base, "../stacks/shared/policy.json").is_ok(), "`..` that stays inside");
        let err = resolve(c, &base, "../../secret.txt").unwrap_err();
        assert!(err.contains("leads outside the project root"), "{err}");
        let err = resolve(c, &base, "/proc/self/environ").unwrap_err();
        assert!(err.contains("is an absolute path") && err.contains(&root.display().to_string()), "{err}");
        // The opt-in: a listed directory may be read, nothing else.
        let allowed = [dir.path().to_path_buf()];
        let opted = Some(Confinement { root: &root, allowed: &allowed });
        assert!(resolve(opted, &base, "../../secret.txt").is_ok());
        assert!(resolve(opted, &base, "/etc/hostname").unwrap_err().contains("allowPaths"));
        #[cfg(unix)]
        {
            std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("stacks/innocent.txt"))?;
            let err = resolve(c, &base, "innocent.txt").unwrap_err();
            assert!(err.contains("through a symbolic link"), "{err}");
            std::fs::create_dir_all(root.join("code"))?;
            std::os::unix::fs::symlink(dir.path().join("secret.txt"), root.join("code/leak.py"))?;
            let err = check_tree(c, &root.join("code"), "../code").unwrap_err();
            assert!(err.contains("through a symbolic link"), "{err}");
        }
        Ok(())
    }
}
