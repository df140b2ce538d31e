//! Small filesystem helpers shared by the readers.

use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};

/// Paths of the entries of `dir` for which `keep(name, path)` holds (the name converted
/// lossily), sorted. A missing `dir` gives an empty list.
pub(crate) fn list_dir_sorted(dir: &Path, keep: impl Fn(&str, &Path) -> bool) -> Result<Vec<PathBuf>> {
    let mut v = Vec::new();
    let rd = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(v),
        Err(e) => return Err(StoreError::io(dir, e)),
    };
    for ent in rd {
        let ent = ent.map_err(|e| StoreError::io(dir, e))?;
        let path = ent.path();
        if keep(&ent.file_name().to_string_lossy(), &path) {
            v.push(path);
        }
    }
    v.sort();
    Ok(v)
}
