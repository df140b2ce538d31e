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
    /// Turn a DLedger store (or the best node of a DLedger group) into a plain commitlog store.
    ///
    /// Without --out or --in-place --apply only reports what would be done.
    #[command(name = "convert-dledger")]
    ConvertDledger(ConvertDledgerArgs),
    /// Compare a slave's commitlog with its master's; with --apply make it a copy of the master's.
    ///
    /// Exit status of a dry run: 0 aligned, 1 the slave needs changes.
    Align(AlignArgs),
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

#[derive(Debug, Clone, Args)]
pub struct ConvertDledgerArgs {
    /// Store root of a DLedger broker (storePathRootDir, holding dledger-<selfId>/).
    #[arg(required_unless_present = "group", conflicts_with = "group")]
    pub dir: Option<PathBuf>,
    /// Store roots of the nodes of one DLedger group, comma-separated: they are checked for
    /// agreement and the node with the highest committed index is converted.
    #[arg(long, value_delimiter = ',', num_args = 1..)]
    pub group: Vec<PathBuf>,
    /// Write the converted store into this directory (must not exist or be empty).
    #[arg(long, conflicts_with = "in_place")]
    pub out: Option<PathBuf>,
    /// Convert DIR itself: a dry run unless --apply.
    #[arg(long = "in-place", conflicts_with = "group")]
    pub in_place: bool,
    /// With --in-place: back up, convert and swap the files (safe to run again after an interruption).
    #[arg(long, requires = "in_place")]
    pub apply: bool,
    /// Also convert entries past the committed index (never acknowledged as committed).
    #[arg(long = "include-uncommitted")]
    pub include_uncommitted: bool,
    /// Where to write the offset map (default: dledger-offset-map.jsonl in the converted store).
    #[arg(long)]
    pub map: Option<PathBuf>,
    /// Java release whose rules apply: 4.9.8 or 5.3.3 (default: detected).
    #[arg(long = "java-version")]
    pub java_version: Option<String>,
    /// Backup directory for --in-place (default: DIR/../<name>.rmq-backup-<time>).
    #[arg(long)]
    pub backup: Option<PathBuf>,
    /// --in-place without a backup: the DLedger directory is deleted at the end.
    #[arg(long = "no-backup", conflicts_with = "backup")]
    pub no_backup: bool,
    /// Go ahead although a store's lock is held by a running process.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Args)]
pub struct AlignArgs {
    /// Store root of the master (read only).
    #[arg(long)]
    pub master: PathBuf,
    /// Store root of the slave (the store that changes with --apply).
    #[arg(long)]
    pub slave: PathBuf,
    /// The master's commitlog directories, comma-separated (default: from its broker.conf).
    #[arg(long = "master-commitlog-path")]
    pub master_commitlog_path: Option<String>,
    /// The slave's commitlog directories, comma-separated (default: from its broker.conf).
    #[arg(long = "slave-commitlog-path")]
    pub slave_commitlog_path: Option<String>,
    /// Carry the plan out, through a journal; run it again after an interruption to finish.
    #[arg(long)]
    pub apply: bool,
    /// Java release whose rules apply: 4.9.8 or 5.3.3 (default: detected from each store).
    #[arg(long = "java-version")]
    pub java_version: Option<String>,
    /// Where removed bytes and copies of changed files go (default: <slave>/../<name>.rmq-backup-<time>).
    #[arg(long)]
    pub backup: Option<PathBuf>,
    /// Change files without copying them first (removed messages are still saved).
    #[arg(long = "no-backup", conflicts_with = "backup")]
    pub no_backup: bool,
    /// Go ahead although a store is locked by a running process or has an abort file.
    #[arg(long)]
    pub force: bool,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
}
