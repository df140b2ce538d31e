//! Byte-compatible readers (and, later, writers) for Apache RocketMQ's store.
//!
//! * [`record`]: commitlog message record codec (V1/V2, IPv4/IPv6, BLANK).
//! * [`mapped_file`]: mapped-file directories (20-digit names) and commitlog
//!   iteration across files, incl. several commitlog paths.
//! * [`consume_queue`], [`index`], [`checkpoint`]: the derived files.
//! * [`dledger`]: DLedger entry/index files wrapping commitlog records.
//! * [`store_dir`]: layout detection, broker.conf, abort/lock state.
//!
//! Everything here is synchronous and blocking; async callers (the broker)
//! should call it from `tokio::task::spawn_blocking`. All types are `Send`.

#[cfg(unix)]
pub mod append;
pub mod error;
pub mod record;

pub use error::{RecordError, Result, StoreError};
pub mod checkpoint;
pub mod cleanup;
pub mod config;
pub mod config_files;
pub mod consume_queue;
pub mod dispatch;
pub mod dledger;
mod fsutil;
pub mod index;
pub mod lock;
pub mod mapped_file;
pub mod recovery;
pub mod store_dir;
#[doc(hidden)]
pub mod testutil;

pub use checkpoint::Checkpoint;
pub use config::StoreConfig;
pub use consume_queue::{ConsumeQueue, CqEntry};
pub use dledger::DLedgerStore;
pub use index::IndexFile;
pub use mapped_file::{CommitLog, MappedFile, MappedFileQueue};
pub use record::{Decoded, HostAddr, MessageRecord, MessageVersion};
pub use store_dir::{LayoutKind, StoreDir};
