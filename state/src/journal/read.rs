//! Reading a journal: JSON lines, secrets decrypted. A torn final line (the process died while writing it) is
//! ignored here and cut off by the next writer before it appends ([`complete_len`]); damage anywhere else is
//! refused.

use std::path::Path;

use super::JournalRecord;
use crate::secrets::{self, SecretsCodec};
use crate::StateError;

/// Reads a journal file, decrypting secrets with `codec`. A missing file is an empty journal.
pub fn read(path: &Path, codec: Option<&dyn SecretsCodec>) -> Result<Vec<JournalRecord>, StateError> {
    let mut records = read_sealed(path)?;
    unseal_records(&mut records, path, codec)?;
    Ok(records)
}

/// Reads a journal file without decrypting anything (its `Begin` record says which key to decrypt with).
pub fn read_sealed(path: &Path) -> Result<Vec<JournalRecord>, StateError> {
    match std::fs::read(path) {
        Ok(bytes) => parse_sealed(&bytes, path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(source) => Err(StateError::Io { action: "read", path: path.to_path_buf(), source }),
    }
}

/// Parses journal bytes (`name` for messages), decrypting secrets with `codec`.
pub fn parse(bytes: &[u8], name: &Path, codec: Option<&dyn SecretsCodec>) -> Result<Vec<JournalRecord>, StateError> {
    let mut records = parse_sealed(bytes, name)?;
    unseal_records(&mut records, name, codec)?;
    Ok(records)
}

fn secrets_error(path: &Path, error: secrets::SecretsError) -> StateError {
    StateError::Format { path: path.to_path_buf(), error: crate::FormatError::Inconsistent(error.to_string()) }
}

/// Decrypts the secrets of records read with [`read_sealed`] or [`parse_sealed`].
pub fn unseal_records(
    records: &mut [JournalRecord],
    path: &Path,
    codec: Option<&dyn SecretsCodec>,
) -> Result<(), StateError> {
    for record in records {
        for (context, value) in record.values_mut() {
            if secrets::find_sealed(value) {
                let codec = codec.ok_or_else(|| secrets_error(path, secrets::SecretsError::NoCodec))?;
                secrets::unseal(value, codec, &context).map_err(|e| secrets_error(path, e))?;
            }
        }
    }
    Ok(())
}

/// Parses journal bytes without decrypting. A torn final line is dropped; damage elsewhere is refused.
pub fn parse_sealed(bytes: &[u8], path: &Path) -> Result<Vec<JournalRecord>, StateError> {
    let mut records = Vec::new();
    let mut lines = bytes.split(|b| *b == b'\n').peekable();
    let mut number = 0usize;
    while let Some(line) = lines.next() {
        number += 1;
        if line.is_empty() {
            continue;
        }
        match serde_json::from_slice::<JournalRecord>(line) {
            Ok(record) => records.push(record),
            // A torn write at the end (the process died mid-line): nothing after it but the final newline.
            Err(_) if lines.clone().all(<[u8]>::is_empty) => break,
            Err(e) => {
                return Err(StateError::Format {
                    path: path.to_path_buf(),
                    error: crate::FormatError::Syntax(format!("journal line {number}: {e}")),
                })
            }
        }
    }
    Ok(records)
}

/// The length of the journal's complete records: everything up to the end of the last line that holds a whole
/// record. What follows is a torn write, to cut off before appending (or the next record would be glued to it,
/// and the journal would become unreadable in the middle).
pub fn complete_len(bytes: &[u8]) -> usize {
    let mut end = 0;
    let mut start = 0;
    while start < bytes.len() {
        let Some(offset) = bytes[start..].iter().position(|b| *b == b'\n') else {
            // A final record without its newline is whole (the reader replays it): keep it; the writer adds the
            // newline before appending.
            if serde_json::from_slice::<JournalRecord>(&bytes[start..]).is_ok() {
                end = bytes.len();
            }
            break;
        };
        let line = &bytes[start..start + offset];
        if !line.is_empty() && serde_json::from_slice::<JournalRecord>(line).is_err() {
            break;
        }
        start += offset + 1;
        end = start;
    }
    end
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_len_stops_before_a_torn_tail() {
        let good = r#"{"record":"begin","lineage":"l","serial":0,"operation":"apply"}"#;
        let whole = format!("{good}\n{good}\n");
        assert_eq!(complete_len(whole.as_bytes()), whole.len());
        let torn = format!("{whole}{{\"record\":\"do");
        assert_eq!(complete_len(torn.as_bytes()), whole.len());
        let torn_with_newline = format!("{whole}{{\"record\":\"do\n");
        assert_eq!(complete_len(torn_with_newline.as_bytes()), whole.len());
        let unterminated = format!("{whole}{good}");
        assert_eq!(complete_len(unterminated.as_bytes()), unterminated.len(), "a whole record is kept");
        assert_eq!(complete_len(b"garbage"), 0);
    }
}
