//! Loading with the `.bak` fallback (`ConfigManager.load`) and writing the way
//! `MixAll.string2File` does.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::{ConfigFile, JavaFlavor, JsonError, Layout};

/// A config file that could not be read or written.
#[derive(Debug, Error)]
pub enum ConfigFileError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file's text is not a valid file of its kind (syntax errors carry the byte offset).
    #[error("{path}: {source}")]
    Json {
        path: PathBuf,
        #[source]
        source: JsonError,
    },
    /// The file is unreadable and its `.bak` is missing, empty or unreadable too.
    #[error("{error}; backup: {backup}")]
    NoUsableCopy { error: Box<ConfigFileError>, backup: Box<ConfigFileError> },
}

impl ConfigFileError {
    /// The file this error is about (the main file for [`ConfigFileError::NoUsableCopy`]).
    pub fn path(&self) -> &Path {
        match self {
            ConfigFileError::Io { path, .. } | ConfigFileError::Json { path, .. } => path,
            ConfigFileError::NoUsableCopy { error, .. } => error.path(),
        }
    }

    /// Byte offset of a JSON syntax error, if that is what this is.
    pub fn offset(&self) -> Option<usize> {
        match self {
            ConfigFileError::Json { source: JsonError::Syntax { offset, .. }, .. } => Some(*offset),
            ConfigFileError::NoUsableCopy { error, .. } => error.offset(),
            _ => None,
        }
    }
}

/// Where [`load`] found the content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadedFrom {
    /// The file itself.
    Main,
    /// `<file>.bak`, because the file was missing, empty or unreadable.
    Backup,
    /// Neither exists (or both are empty): Java starts with empty tables.
    Missing,
}

/// A loaded config file.
#[derive(Debug)]
pub struct Loaded<T> {
    pub value: T,
    pub from: LoadedFrom,
    /// Layout of the text that was read (Pretty when nothing was).
    pub layout: Layout,
    /// Why the main file was passed over when it exists but could not be used.
    pub main_error: Option<ConfigFileError>,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s: OsString = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// `<path>.bak`.
pub fn backup_path(path: &Path) -> PathBuf {
    with_suffix(path, ".bak")
}

/// The file's bytes; `None` when it does not exist.
fn read_opt(path: &Path) -> Result<Option<Vec<u8>>, ConfigFileError> {
    match std::fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigFileError::Io { path: path.to_path_buf(), source: e }),
    }
}

fn parse<T: ConfigFile>(path: &Path, bytes: &[u8]) -> Result<T, ConfigFileError> {
    T::from_json_bytes(bytes).map_err(|source| ConfigFileError::Json { path: path.to_path_buf(), source })
}

/// Loads a config file like Java's `ConfigManager.load`: a missing or empty file,
/// or one that fails to parse, is replaced by `<file>.bak`.
///
/// One deliberate difference: when the file exists but is unreadable and there is
/// no usable backup, Java starts with empty tables (losing every topic/offset);
/// this returns the error instead.
pub fn load<T: ConfigFile>(path: &Path) -> Result<Loaded<T>, ConfigFileError> {
    let main_error = match read_opt(path) {
        Ok(Some(bytes)) if !bytes.is_empty() => match parse::<T>(path, &bytes) {
            Ok(value) => {
                return Ok(Loaded { value, from: LoadedFrom::Main, layout: Layout::of_text(&bytes), main_error: None })
            }
            Err(e) => Some(e),
        },
        Ok(_) => None,
        Err(e) => Some(e),
    };
    let bak = backup_path(path);
    let bak_result = match read_opt(&bak) {
        Ok(Some(bytes)) if !bytes.is_empty() => parse::<T>(&bak, &bytes).map(|v| Some((v, Layout::of_text(&bytes)))),
        Ok(_) => Ok(None),
        Err(e) => Err(e),
    };
    match (bak_result, main_error) {
        (Ok(Some((value, layout))), main_error) => Ok(Loaded { value, from: LoadedFrom::Backup, layout, main_error }),
        (Ok(None), None) => {
            Ok(Loaded { value: T::default(), from: LoadedFrom::Missing, layout: Layout::Pretty, main_error: None })
        }
        (Ok(None), Some(e)) => Err(e),
        (Err(b), None) => Err(b),
        (Err(b), Some(e)) => Err(ConfigFileError::NoUsableCopy { error: Box::new(e), backup: Box::new(b) }),
    }
}

/// [`load`] of `T::FILE_NAME` inside a broker's `config/` directory.
pub fn load_in<T: ConfigFile>(config_dir: &Path) -> Result<Loaded<T>, ConfigFileError> {
    load(&config_dir.join(T::FILE_NAME))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ConfigFileError> {
    let io = |source| ConfigFileError::Io { path: path.to_path_buf(), source };
    let mut f = std::fs::File::create(path).map_err(io)?;
    f.write_all(bytes).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Writes `value` as Java `flavor` would (`MixAll.string2File`): the new text goes
/// to `<file>.tmp`, the previous content is copied to `<file>.bak`, then the
/// `.tmp` file is renamed over the file. Creates the directory if needed.
///
/// Unlike Java, a previous file that is empty or does not parse is not copied
/// over `.bak` (that would destroy the last good backup). Not safe against
/// concurrent writers of the same file (Java serializes them with a lock).
pub fn write<T: ConfigFile>(path: &Path, value: &T, flavor: JavaFlavor, layout: Layout) -> Result<(), ConfigFileError> {
    let text = value.to_json(flavor, layout);
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| ConfigFileError::Io { path: dir.to_path_buf(), source })?;
    }
    let tmp = with_suffix(path, ".tmp");
    write_synced(&tmp, text.as_bytes())?;
    if let Some(prev) = read_opt(path)? {
        if !prev.is_empty() && T::from_json_bytes(&prev).is_ok() {
            write_synced(&backup_path(path), &prev)?;
        }
    }
    std::fs::rename(&tmp, path).map_err(|source| ConfigFileError::Io { path: path.to_path_buf(), source })?;
    // Make the rename durable; failing to sync a directory is not worth failing the write.
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// [`write`] of `T::FILE_NAME` inside a broker's `config/` directory.
pub fn write_in<T: ConfigFile>(
    config_dir: &Path,
    value: &T,
    flavor: JavaFlavor,
    layout: Layout,
) -> Result<(), ConfigFileError> {
    write(&config_dir.join(T::FILE_NAME), value, flavor, layout)
}
