//! Command-line flags (clap derive). `main.rs` parses them and calls [`crate::run`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "rmq-migrate", version, about = "Inspect, verify, dump, recover and rebuild Java RocketMQ stores")]
pub struct Cli {
    /// More logging (-v info, -vv debug); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Describe a store: layout, files, offsets, topics/queues, checkpoint, abort/lock state.
    Inspect(InspectArgs),
    /// Check every record, file boundary, consume queue and index entry; exit 0 only when clean.
    Verify(VerifyArgs),
    /// Print every message record (one JSON object per line with --json).
    Dump(DumpArgs),
    /// Show (or with --apply carry out) what Java's recovery does when it opens the store.
    ///
    /// Exit status of a dry run: 0 nothing to do, 1 recovery would change the store.
    Recover(RecoverArgs),
    /// Rebuild consume queues and index files from the commitlog.
    ///
    /// Without --out or --in-place only reports what would be written.
    Rebuild(RebuildArgs),
}

/// Where the store is and how to read it.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Store root directory (storePathRootDir).
    pub dir: PathBuf,
    /// Commitlog directories, comma-separated (overrides storePathCommitLog from DIR/broker.conf).
    #[arg(long = "commitlog-path")]
    pub commitlog_path: Option<String>,
    /// Commitlog (and DLedger data) file size; default from DIR/broker.conf, else inferred.
    #[arg(long = "commitlog-file-size")]
    pub commitlog_file_size: Option<u64>,
}

#[derive(Debug, Clone, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Skip the consume queue <-> commitlog cross-check.
    #[arg(long = "skip-cq")]
    pub skip_cq: bool,
    /// Skip the index file check.
    #[arg(long = "skip-index")]
    pub skip_index: bool,
    /// Stop listing errors after this many (the count is still reported).
    #[arg(long = "max-errors", default_value_t = 1000)]
    pub max_errors: usize,
}

#[derive(Debug, Clone, Default, Args)]
pub struct DumpFilter {
    /// Only this topic.
    #[arg(long)]
    pub topic: Option<String>,
    /// Only this queue id.
    #[arg(long)]
    pub queue: Option<i32>,
    /// Only records at physical offset >= FROM.
    #[arg(long)]
    pub from: Option<u64>,
    /// Only records at physical offset < TO.
    #[arg(long)]
    pub to: Option<u64>,
    /// Only messages whose KEYS contain KEY (or whose UNIQ_KEY equals it).
    #[arg(long)]
    pub key: Option<String>,
    /// Only the message with this offsetMsgId or UNIQ_KEY (client msgId).
    #[arg(long = "msg-id")]
    pub msg_id: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct DumpArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub filter: DumpFilter,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
    /// Include the stored body, base64.
    #[arg(long)]
    pub body: bool,
    /// Also decompress compressed bodies and report their length/sha256.
    #[arg(long)]
    pub decompress: bool,
    /// Also print BLANK end-of-file records.
    #[arg(long = "include-blank")]
    pub include_blank: bool,
}

/// Options shared by the commands that write.
#[derive(Debug, Clone, Args)]
pub struct WriteArgs {
    /// Store root directory (storePathRootDir).
    pub dir: PathBuf,
    /// Commitlog directories, comma-separated (overrides storePathCommitLog from DIR/broker.conf).
    #[arg(long = "commitlog-path")]
    pub commitlog_path: Option<String>,
    /// Java release whose rules apply: 4.9.8 or 5.3.3 (default: detected from the store).
    #[arg(long = "java-version")]
    pub java_version: Option<String>,
    /// Where to copy the files about to change (default: DIR/../<name>.rmq-backup-<time>).
    #[arg(long)]
    pub backup: Option<PathBuf>,
    /// Change files without copying them first.
    #[arg(long = "no-backup", conflicts_with = "backup")]
    pub no_backup: bool,
    /// Go ahead although DIR/lock is held by a running process.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct RecoverArgs {
    #[command(flatten)]
    pub common: WriteArgs,
    /// Carry the plan out (after a backup). Safe to run again after an interruption.
    #[arg(long)]
    pub apply: bool,
    /// Override checkCRCOnRecover (true/false).
    #[arg(long = "check-crc")]
    pub check_crc: Option<bool>,
}

#[derive(Debug, Clone, Args)]
pub struct RebuildArgs {
    #[command(flatten)]
    pub common: WriteArgs,
    /// Write consumequeue/ and index/ into this directory (must not hold them yet).
    #[arg(long, conflicts_with = "in_place")]
    pub out: Option<PathBuf>,
    /// Replace DIR/consumequeue and DIR/index (after a backup) and update the checkpoint.
    #[arg(long = "in-place")]
    pub in_place: bool,
}
