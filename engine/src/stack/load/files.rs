//! The include walk: the stack file and every file it includes (depth first, loops and repeats caught, paths
//! confined to the project root), and merging their sections with "declared twice" checks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::CONFINED_HINT;
use crate::diagnostic::{Diagnostics, Pos};
use crate::stack::document::{self, join_path, FileScope, RawFile};
use crate::stack::yaml::{Key, Node};
use crate::stack::SourceFile;

/// Most files one stack may include, directly or not.
const MAX_FILES: usize = 256;

pub(super) struct LoadedFile {
    pub(super) scope: FileScope,
    pub(super) raw: RawFile,
}

/// Where the include walk is: the project root paths must stay in, and the include path for loop detection.
pub(super) struct Walk {
    pub(super) root: Option<PathBuf>,
    /// What the stack's files may still expand to, together.
    pub(super) budget: crate::stack::yaml::Budget,
    /// The stack file's `allowPaths`, absolute.
    pub(super) allowed: Vec<PathBuf>,
    pub(super) chain: Vec<PathBuf>,
}

impl Walk {
    fn confinement(&self) -> Option<crate::stack::confine::Confinement<'_>> {
        self.root.as_deref().map(|root| crate::stack::confine::Confinement { root, allowed: &self.allowed })
    }
}

/// Depth-first over includes.
pub(super) fn load_tree(
    path: &Path,
    included_from: Option<(&FileScope, Pos, &str)>,
    walk: &mut Walk,
    files: &mut Vec<LoadedFile>,
    sources: &mut Vec<SourceFile>,
    unreadable: &mut bool,
    diags: &mut Diagnostics,
) {
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let chain = &mut walk.chain;
    if let Some(start) = chain.iter().position(|p| p == &canonical) {
        if let Some((scope, pos, doc_path)) = included_from {
            let cycle: Vec<String> =
                chain[start..].iter().chain(std::iter::once(&canonical)).map(|p| p.display().to_string()).collect();
            diags.push(scope.error(pos, doc_path, format!("include loop: {}", cycle.join(" → "))));
            *unreadable = true;
        }
        return;
    }
    if sources.iter().any(|s| std::fs::canonicalize(&s.path).ok().as_ref() == Some(&canonical)) {
        // Included twice along different paths: the first inclusion already merged it.
        return;
    }
    if files.len() >= MAX_FILES {
        if let Some((scope, pos, doc_path)) = included_from {
            diags.push(scope.error(pos, doc_path, format!("more than {MAX_FILES} files included")));
        }
        return;
    }
    let before = diags.len();
    let Some((node, text)) = document::parse_file(path, &mut walk.budget, diags) else {
        *unreadable = true;
        if let (Some((scope, pos, doc_path)), true) = (included_from, diags.len() > before) {
            diags.push(scope.error(pos, doc_path, format!("included file {} could not be loaded", path.display())));
        }
        return;
    };
    let scope = FileScope::new(path);
    let raw = document::read_file(&scope, node, included_from.is_some(), diags);
    sources.push(SourceFile { path: path.to_path_buf(), sha256: hex::encode(Sha256::digest(text.as_bytes())) });
    walk.chain.push(canonical);
    if included_from.is_none() {
        if let Some(root) = walk.root.clone() {
            walk.allowed = raw
                .allow_paths
                .iter()
                .map(|(entry, _)| crate::stack::confine::allowed_dir(&root, &scope.dir(), entry))
                .collect();
        }
    }
    let includes = raw.includes.clone();
    files.push(LoadedFile { scope: scope.clone(), raw });
    for (i, (include, pos)) in includes.iter().enumerate() {
        let doc_path = format!("include[{i}]");
        let target = match crate::stack::confine::resolve(walk.confinement(), &scope.dir(), include) {
            Ok(target) => target,
            Err(message) => {
                diags.push(scope.error(*pos, &doc_path, message).with_hint(CONFINED_HINT));
                *unreadable = true;
                continue;
            }
        };
        load_tree(&target, Some((&scope, *pos, &doc_path)), walk, files, sources, unreadable, diags);
    }
    walk.chain.pop();
}

/// A declaration with the file it came from.
pub(super) struct Declared {
    pub(super) scope: FileScope,
    pub(super) key: Key,
    pub(super) node: Node,
}

pub(super) fn merge_section(
    files: &mut [LoadedFile],
    section: &str,
    take: impl Fn(&mut RawFile) -> Vec<(Key, Node)>,
    diags: &mut Diagnostics,
) -> BTreeMap<String, Declared> {
    let mut merged: BTreeMap<String, Declared> = BTreeMap::new();
    for file in files.iter_mut() {
        for (key, node) in take(&mut file.raw) {
            if let Some(first) = merged.get(&key.name) {
                diags.push(
                    file.scope
                        .error(key.pos, join_path(section, &key.name), format!("`{}` is declared twice", key.name))
                        .with_hint(format!("first declared at {}", first.scope.at(first.key.pos))),
                );
                continue;
            }
            merged.insert(key.name.clone(), Declared { scope: file.scope.clone(), key, node });
        }
    }
    merged
}

pub(super) fn check_name_clashes(
    parameters: &BTreeMap<String, Declared>,
    variables: &BTreeMap<String, Declared>,
    resources: &BTreeMap<String, Declared>,
    diags: &mut Diagnostics,
) {
    let sections: [(&str, &BTreeMap<String, Declared>); 3] =
        [("parameters", parameters), ("variables", variables), ("resources", resources)];
    for (i, (section, declared)) in sections.iter().enumerate() {
        for (name, d) in declared.iter() {
            if name == "stackr" {
                diags.push(d.scope.error(d.key.pos, join_path(section, name), "`stackr` is a reserved name"));
            }
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') || name.is_empty() {
                diags.push(d.scope.error(
                    d.key.pos,
                    join_path(section, name),
                    format!("invalid name {name:?}: use letters, digits, `_` and `-`"),
                ));
            }
            for (other_section, other) in sections.iter().skip(i + 1) {
                if let Some(o) = other.get(name) {
                    diags.push(
                        o.scope
                            .error(
                                o.key.pos,
                                join_path(other_section, name),
                                format!("`{name}` is already declared in {section}"),
                            )
                            .with_hint(format!(
                                "references are by name, so parameters, variables and resources need distinct names (see {})",
                                d.scope.at(d.key.pos)
                            )),
                    );
                }
            }
        }
    }
}
