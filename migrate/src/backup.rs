//! Copies of the files a command is about to change, next to the store
//! (`<store>/../<name>.rmq-backup-<yyyyMMddHHmmssSSS>`) unless another
//! directory is given. A `manifest.json` lists every file and where it came
//! from; restoring is copying them back (and, for a rebuild, deleting the
//! consume-queue/index files created since).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BackedUpFile {
    /// Path inside the backup directory.
    pub path: String,
    /// Where it came from.
    pub original: PathBuf,
    pub size: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Backup {
    pub dir: PathBuf,
    pub store: PathBuf,
    pub command: String,
    pub files: Vec<BackedUpFile>,
}

/// `<store>/../<store name>.rmq-backup-<local time>` (a suffix keeps it new).
pub fn default_dir(store: &Path) -> PathBuf {
    let abs = std::fs::canonicalize(store).unwrap_or_else(|_| store.to_path_buf());
    let name = abs.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "store".into());
    let parent = abs.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let base = format!("{name}.rmq-backup-{}", rmq_store::dispatch::index_writer::human_time_name(now));
    let mut dir = parent.join(&base);
    let mut n = 1;
    while dir.exists() {
        dir = parent.join(format!("{base}-{n}"));
        n += 1;
    }
    dir
}

/// Name inside the backup: relative to the store root, or under `external/`.
fn backup_name(store: &Path, file: &Path) -> String {
    match file.strip_prefix(store) {
        Ok(rel) => rel.to_string_lossy().into_owned(),
        Err(_) => {
            let flat: String =
                file.to_string_lossy().chars().map(|c| if c == '/' || c == '\\' { '_' } else { c }).collect();
            format!("external/{flat}")
        }
    }
}

/// Copies `files` (and every file below any directory in it) into `dest`,
/// which must not exist yet or be empty, and writes the manifest.
pub fn backup(store: &Path, files: &[PathBuf], dest: &Path, command: &str) -> anyhow::Result<Backup> {
    if dest.exists() && std::fs::read_dir(dest).map(|mut d| d.next().is_some()).unwrap_or(true) {
        bail!("backup directory {} already exists and is not empty", dest.display());
    }
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let mut all = Vec::new();
    for f in files {
        collect(f, &mut all)?;
    }
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = Backup { dir: abs(dest), store: abs(store), command: command.into(), files: Vec::new() };
    for f in all {
        let name = backup_name(store, &f);
        let to = dest.join(&name);
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
        }
        let size = std::fs::copy(&f, &to).with_context(|| format!("copying {} to {}", f.display(), to.display()))?;
        std::fs::File::open(&to).and_then(|h| h.sync_all()).with_context(|| format!("syncing {}", to.display()))?;
        out.files.push(BackedUpFile { path: name, original: abs(&f), size });
    }
    let manifest = dest.join("manifest.json");
    std::fs::write(&manifest, serde_json::to_vec_pretty(&out)?)
        .with_context(|| format!("writing {}", manifest.display()))?;
    Ok(out)
}

/// Adds `files` (and every file below any directory in it) to the backup in
/// `dest`, creating it when needed, and rewrites its manifest. A file the
/// manifest already lists keeps its first copy: a command re-run after a
/// crash must not replace the original content with a half-changed one.
/// Used by commands that change files in several steps (`align`).
pub fn add(store: &Path, files: &[PathBuf], dest: &Path, command: &str) -> anyhow::Result<Backup> {
    std::fs::create_dir_all(dest).with_context(|| format!("creating {}", dest.display()))?;
    let manifest = dest.join("manifest.json");
    let abs = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    let mut out = match std::fs::read(&manifest) {
        Ok(b) => serde_json::from_slice::<Backup>(&b).with_context(|| format!("reading {}", manifest.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Backup { dir: abs(dest), store: abs(store), command: command.into(), files: Vec::new() }
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", manifest.display())),
    };
    let mut all = Vec::new();
    for f in files {
        collect(f, &mut all)?;
    }
    let mut added = false;
    for f in all {
        let original = abs(&f);
        if out.files.iter().any(|b| b.original == original) {
            continue;
        }
        let name = backup_name(store, &f);
        let to = dest.join(&name);
        if let Some(p) = to.parent() {
            std::fs::create_dir_all(p).with_context(|| format!("creating {}", p.display()))?;
        }
        let size = std::fs::copy(&f, &to).with_context(|| format!("copying {} to {}", f.display(), to.display()))?;
        std::fs::File::open(&to).and_then(|h| h.sync_all()).with_context(|| format!("syncing {}", to.display()))?;
        out.files.push(BackedUpFile { path: name, original, size });
        added = true;
    }
    if added || !manifest.exists() {
        // written after the copies: a crash before this line re-copies the same originals
        let tmp = dest.join("manifest.json.tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(&out)?).with_context(|| format!("writing {}", tmp.display()))?;
        std::fs::rename(&tmp, &manifest).with_context(|| format!("writing {}", manifest.display()))?;
    }
    Ok(out)
}

fn collect(p: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let md = match std::fs::symlink_metadata(p) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", p.display())),
    };
    if md.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .with_context(|| format!("listing {}", p.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            collect(&e, out)?;
        }
    } else if md.is_file() {
        out.push(p.to_path_buf());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_files_and_directories_with_a_manifest() {
        let d = tempfile::tempdir().unwrap();
        let store = d.path().join("s");
        std::fs::create_dir_all(store.join("cq/T/0")).unwrap();
        std::fs::write(store.join("cq/T/0/f"), b"abc").unwrap();
        std::fs::write(store.join("checkpoint"), b"cp").unwrap();
        let dest = default_dir(&store);
        assert!(dest.file_name().unwrap().to_string_lossy().starts_with("s.rmq-backup-"));
        let b = backup(&store, &[store.join("cq"), store.join("checkpoint"), store.join("gone")], &dest, "t").unwrap();
        assert_eq!(b.files.len(), 2);
        assert_eq!(std::fs::read(dest.join("cq/T/0/f")).unwrap(), b"abc");
        assert!(dest.join("manifest.json").exists());
        assert!(backup(&store, &[], &dest, "t").is_err());
    }

    #[test]
    fn add_keeps_the_first_copy_of_a_file() {
        let d = tempfile::tempdir().unwrap();
        let store = d.path().join("s");
        std::fs::create_dir_all(&store).unwrap();
        std::fs::write(store.join("a"), b"original").unwrap();
        let dest = d.path().join("bk");
        add(&store, &[store.join("a")], &dest, "t").unwrap();
        std::fs::write(store.join("a"), b"changed").unwrap();
        std::fs::write(store.join("b"), b"b").unwrap();
        let b = add(&store, &[store.join("a"), store.join("b")], &dest, "t").unwrap();
        assert_eq!(b.files.len(), 2);
        assert_eq!(std::fs::read(dest.join("a")).unwrap(), b"original");
        let m: Backup = serde_json::from_slice(&std::fs::read(dest.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(m.files.len(), 2);
    }
}
