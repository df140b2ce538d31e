use std::path::PathBuf;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum NamesrvError {
    #[error("kv config file {path}: {reason}")]
    KvFile { path: PathBuf, reason: String },
    #[error("config file {path}: {reason}")]
    ConfigFile { path: PathBuf, reason: String },
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: String, source: std::io::Error },
    #[error(transparent)]
    Config(#[from] rmq_common::config::ConfigError),
}
