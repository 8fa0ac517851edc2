//! Diagnostics: one problem found in a stack, located by file, line:column and document path, with an
//! optional hint. Validation collects all of them before it returns, so a user fixes everything in one pass.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// A place in a source file. Lines and columns count from 1; 0 means "not known".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

/// Where something came from: file and position.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub file: Arc<Path>,
    pub pos: Pos,
}

impl Location {
    pub fn new(file: &Arc<Path>, pos: Pos) -> Location {
        Location { file: Arc::clone(file), pos }
    }

    pub fn file_only(file: impl Into<PathBuf>) -> Location {
        Location { file: Arc::from(file.into().into_boxed_path()), pos: Pos::default() }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.pos.line > 0 {
            write!(f, ":{}:{}", self.pos.line, self.pos.col)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub location: Location,
    /// The path in the document, e.g. `resources.sessionTable.properties.ttl`; empty for the whole file.
    pub path: String,
    pub message: String,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(location: Location, path: impl Into<String>, message: impl Into<String>) -> Diagnostic {
        Diagnostic { location, path: path.into(), message: message.into(), hint: None }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Diagnostic {
        self.hint = Some(hint.into());
        self
    }

    /// Adds "did you mean `x`?" when a close candidate exists.
    pub fn with_suggestion<'a>(self, wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Diagnostic {
        match suggest(wrong, candidates) {
            Some(best) => self.with_hint(format!("did you mean `{best}`?")),
            None => self,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.location)?;
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n  hint: {hint}")?;
        }
        Ok(())
    }
}

/// Every problem found in one pass, in a stable order (file, position, path).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diagnostics(Vec<Diagnostic>);

impl Diagnostics {
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.0.push(diagnostic);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.0.extend(other.0);
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.0.iter()
    }

    /// Sorted and de-duplicated, ready to show.
    pub fn finish(mut self) -> Diagnostics {
        self.0.sort();
        self.0.dedup();
        self
    }
}

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

/// The candidate closest to `wrong`, if any is close enough to be a plausible misspelling.
pub fn suggest<'a>(wrong: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let wrong_lower = wrong.to_lowercase();
    let mut best: Option<(f64, &'a str)> = None;
    for candidate in candidates {
        if candidate == wrong {
            continue;
        }
        let score = strsim::jaro_winkler(&wrong_lower, &candidate.to_lowercase());
        if score >= 0.8 && best.is_none_or(|(s, c)| score > s || (score == s && candidate < c)) {
            best = Some((score, candidate));
        }
    }
    best.map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        assert_eq!(suggest("sesionTable", ["sessionTable", "cacheTable"]), Some("sessionTable"));
        assert_eq!(suggest("hashkey", ["hashKey", "rangeKey"]), Some("hashKey"));
        assert_eq!(suggest("zzz", ["hashKey", "rangeKey"]), None);
    }

    #[test]
    fn renders_location_path_and_hint() {
        let d = Diagnostic::new(Location::file_only("stacks/dev.yaml"), "resources.a.properties", "bad")
            .with_hint("fix it");
        let mut d2 = d.clone();
        d2.location.pos = Pos { line: 3, col: 5 };
        assert_eq!(d.to_string(), "stacks/dev.yaml: resources.a.properties: bad\n  hint: fix it");
        assert_eq!(d2.to_string(), "stacks/dev.yaml:3:5: resources.a.properties: bad\n  hint: fix it");
    }
}
