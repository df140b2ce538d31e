//! Why `align` could not plan or finish.

use std::path::PathBuf;

use rmq_store::config_files::ConfigFileError;
use rmq_store::StoreError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum AlignError {
    /// A store a command must not touch right now (running broker, crashed
    /// broker, DLedger layout, ...).
    #[error("{path}: {reason}")]
    Refused { path: PathBuf, reason: String },
    /// The two stores cannot be aligned by copying or truncating.
    #[error("{0}")]
    Unalignable(String),
    /// Two stores disagree in a way that makes byte copies meaningless.
    #[error("{path}: {msg}")]
    Layout { path: PathBuf, msg: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {msg}")]
    Journal { path: PathBuf, msg: String },
    /// A file changed under us, or a walk did not land where it must.
    #[error("{path} @ {offset}: {msg}")]
    Inconsistent { path: PathBuf, offset: u64, msg: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Config(#[from] ConfigFileError),
    #[error("backup: {0:#}")]
    Backup(anyhow::Error),
}

impl AlignError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        AlignError::Io { path: path.into(), source }
    }
    pub fn refused(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        AlignError::Refused { path: path.into(), reason: reason.into() }
    }
    pub fn layout(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        AlignError::Layout { path: path.into(), msg: msg.into() }
    }
    pub fn inconsistent(path: impl Into<PathBuf>, offset: u64, msg: impl Into<String>) -> Self {
        AlignError::Inconsistent { path: path.into(), offset, msg: msg.into() }
    }
}

pub type Result<T, E = AlignError> = std::result::Result<T, E>;
