//! Deterministic zips of Lambda code: entries sorted by path, every timestamp 1980-01-01, modes 0644 or 0755,
//! so the same tree always gives the same bytes (and the same CodeSha256 at AWS).

use std::io::{Cursor, Write};
use std::path::Path;

use stackr_engine::asset;
use stackr_engine::provider::ProviderError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, DateTime, ZipWriter};

/// Zips a file or directory.
pub fn zip(root: &Path) -> Result<Vec<u8>, ProviderError> {
    let failed = |e: &dyn std::fmt::Display| ProviderError::Invalid(format!("cannot package {}: {e}", root.display()));
    let files = asset::list_files(root).map_err(|e| failed(&e))?;
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    for file in files {
        let options = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Deflated)
            .last_modified_time(DateTime::default())
            .unix_permissions(if file.executable { 0o755 } else { 0o644 });
        let bytes = std::fs::read(&file.path).map_err(|e| failed(&e))?;
        writer.start_file(file.name.as_str(), options).map_err(|e| failed(&e))?;
        writer.write_all(&bytes).map_err(|e| failed(&e))?;
    }
    Ok(writer.finish().map_err(|e| failed(&e))?.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_tree_zips_to_the_same_bytes() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        std::fs::write(dir.path().join("b.py"), "B = 1\n")?;
        std::fs::write(dir.path().join("a.py"), "A = 1\n")?;
        let first = zip(dir.path())?;
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(dir.path().join("a.py"), "A = 1\n")?; // touched, same bytes
        assert_eq!(first, zip(dir.path())?);
        std::fs::write(dir.path().join("a.py"), "A = 2\n")?;
        assert_ne!(first, zip(dir.path())?);
        Ok(())
    }
}
