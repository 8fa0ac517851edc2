//! What a journal found beside a state means: the rules a run applies before it plans or writes anything.
//!
//! A journal names, in its `Begin` record, the lineage and serial of the state its run started from. Against
//! the state now:
//! - the same serial: the run died before compacting; its records are replayed onto the state;
//! - one serial behind: the run compacted (wrote serial + 1) and died before removing the journal; nothing to
//!   replay, and the lock holder removes it;
//! - any other serial, another lineage, or no `Begin` record: the journal is not this state's continuation, and
//!   nothing may guess what it means.
//!
//! A first run that died before writing any state file left only its journal: its lineage is continued.

use super::JournalRecord;
use crate::model::{Lineage, StateFile};
use crate::secrets::SecretsConfig;

/// What to do with the journal beside a state.
#[derive(Debug, Clone, PartialEq)]
pub enum Resume {
    /// No journal, or an empty one.
    Nothing,
    /// Already compacted into the state: remove the journal (only the lock holder does).
    Compacted,
    /// An interrupted run: replay its records onto the state. `secrets` is the configuration its records are
    /// sealed with, which the continuing run keeps.
    Replay { secrets: Option<SecretsConfig> },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResumeError {
    #[error("it has no Begin record: it does not say which state it continues")]
    NoBegin,
    #[error("it belongs to another state (lineage {0})")]
    OtherLineage(String),
    #[error("it was written against serial {journal}, but the state is at serial {state}")]
    OtherSerial { journal: u64, state: u64 },
}

/// Decides what `records` (a journal's, in order) mean for `state`; `existed` says whether a state file was
/// found (a new stack's first run may have died before writing one: its lineage is then taken over).
pub fn resume(state: &mut StateFile, existed: bool, records: &[JournalRecord]) -> Result<Resume, ResumeError> {
    let (lineage, serial, secrets) = match records.first() {
        None => return Ok(Resume::Nothing),
        Some(JournalRecord::Begin { lineage, serial, secrets, .. }) => (lineage, *serial, secrets),
        Some(_) => return Err(ResumeError::NoBegin),
    };
    if existed && *lineage != state.lineage.0 {
        return Err(ResumeError::OtherLineage(lineage.clone()));
    }
    if serial + 1 == state.serial {
        return Ok(Resume::Compacted);
    }
    if serial != state.serial {
        return Err(ResumeError::OtherSerial { journal: serial, state: state.serial });
    }
    if !existed {
        state.lineage = Lineage(lineage.clone());
    }
    Ok(Resume::Replay { secrets: secrets.clone() })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::model::Change;

    fn begin(lineage: &str, serial: u64) -> JournalRecord {
        JournalRecord::Begin { lineage: lineage.into(), serial, operation: "apply".into(), secrets: None, place: None }
    }

    fn state(serial: u64) -> StateFile {
        let mut state = StateFile::new("s");
        state.lineage = Lineage("L".into());
        state.serial = serial;
        state
    }

    #[test]
    fn each_journal_is_replayed_removed_or_refused_by_its_begin_record() {
        let failed = JournalRecord::Failed { resource: "r".into(), operation: Change::Create, error: "x".into() };
        let cases: Vec<(Vec<JournalRecord>, u64, Result<Resume, ResumeError>)> = vec![
            (vec![], 3, Ok(Resume::Nothing)),
            (vec![begin("L", 3)], 3, Ok(Resume::Replay { secrets: None })),
            (vec![begin("L", 2)], 3, Ok(Resume::Compacted)),
            (vec![begin("L", 1)], 3, Err(ResumeError::OtherSerial { journal: 1, state: 3 })),
            (vec![begin("L", 4)], 3, Err(ResumeError::OtherSerial { journal: 4, state: 3 })),
            (vec![begin("M", 3)], 3, Err(ResumeError::OtherLineage("M".into()))),
            (vec![failed], 3, Err(ResumeError::NoBegin)),
        ];
        for (records, serial, expected) in cases {
            let mut s = state(serial);
            assert_eq!(resume(&mut s, true, &records), expected, "{records:?}");
            assert_eq!(s.lineage.0, "L", "an existing state keeps its lineage");
        }
    }

    #[test]
    fn a_first_run_that_died_before_its_state_file_is_continued_in_its_lineage() {
        let mut fresh = StateFile::new("s");
        let secrets = SecretsConfig {
            provider: "passphrase".into(),
            salt: None,
            kdf: None,
            encrypted_key: None,
            key_context: None,
            check: String::new(),
        };
        let records = vec![JournalRecord::Begin {
            lineage: "first-run".into(),
            serial: 0,
            operation: "apply".into(),
            secrets: Some(secrets.clone()),
            place: None,
        }];
        assert_eq!(resume(&mut fresh, false, &records), Ok(Resume::Replay { secrets: Some(secrets) }));
        assert_eq!(fresh.lineage.0, "first-run");
    }
}
