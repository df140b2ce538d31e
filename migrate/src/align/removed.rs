//! What truncating the slave removes: the list of its messages (what an
//! operator needs to send them again) and the removed bytes themselves.
//!
//! Both go to the backup directory, even with `--no-backup`, since they are
//! the only copy of data that leaves the store:
//! `removed-messages.json` and `removed-bytes/<commitlog file name>` (the
//! file's bytes from the cut, or from 0 for a deleted file, to its last
//! non-zero byte; `removedBytes` in the JSON says where each one belongs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rmq_store::mapped_file::{list_mapped_files, MappedFile};
use rmq_store::record::properties::{
    PROPERTY_KEYS, PROPERTY_REAL_QUEUE_ID, PROPERTY_REAL_TOPIC, PROPERTY_TAGS, PROPERTY_UNIQ_KEY,
};
use rmq_store::record::{offset_msg_id, parse_properties, RecordView, TRANSACTION_TYPE_MASK};
use serde::{Deserialize, Serialize};

use super::error::{AlignError, Result};
use super::fsio::{last_nonzero, write_synced};
use super::log::Log;

pub const MESSAGES_FILE: &str = "removed-messages.json";
pub const BYTES_DIR: &str = "removed-bytes";

/// One removed message (names as in Java's `MessageExt`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedMessage {
    pub topic: String,
    pub queue_id: i32,
    pub queue_offset: i64,
    /// offsetMsgId: store host + physical offset, as Java prints it.
    pub msg_id: String,
    /// The client's message id (UNIQ_KEY property).
    pub uniq_key: Option<String>,
    pub keys: Option<String>,
    pub tags: Option<String>,
    /// Where a delayed or transactional message was really sent.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub real_topic: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub real_queue_id: Option<String>,
    pub physical_offset: u64,
    pub size: u64,
    pub body_crc: i32,
    pub sys_flag: i32,
    pub store_timestamp: i64,
}

impl RemovedMessage {
    /// From the record bytes at `offset` (already checked by the walk).
    pub fn from_record(offset: u64, bytes: &[u8]) -> Option<Self> {
        let v = RecordView::parse(bytes).ok()?;
        let props = parse_properties(v.properties_raw);
        let get = |k: &str| props.get(k).cloned();
        Some(RemovedMessage {
            topic: v.topic.to_string(),
            queue_id: v.queue_id,
            queue_offset: v.queue_offset,
            msg_id: offset_msg_id(&v.store_host, v.physical_offset),
            uniq_key: get(PROPERTY_UNIQ_KEY),
            keys: get(PROPERTY_KEYS),
            tags: get(PROPERTY_TAGS),
            real_topic: get(PROPERTY_REAL_TOPIC),
            real_queue_id: get(PROPERTY_REAL_QUEUE_ID),
            physical_offset: offset,
            size: bytes.len() as u64,
            body_crc: v.body_crc,
            sys_flag: v.sys_flag,
            store_timestamp: v.store_timestamp,
        })
    }

    /// Whether Java put it in a consume queue (not a PREPARED/ROLLBACK record).
    pub fn in_consume_queue(&self) -> bool {
        matches!(self.sys_flag & TRANSACTION_TYPE_MASK, 0x0 | 0x8)
    }

    /// The consume queue holding it (a delayed message's is SCHEDULE_TOPIC_XXXX).
    pub fn queue(&self) -> (String, i32) {
        (self.topic.clone(), self.queue_id)
    }
}

/// Decodes the messages of `log` in `[from, to)`. Returns them and where the
/// walk stopped (callers check that it is `to`).
pub(crate) fn collect(log: &Log, from: u64, to: u64) -> (Vec<RemovedMessage>, u64) {
    let mut out = Vec::new();
    let (stop, _) = log.walk(from, to, &mut |p, size| {
        if let Some(m) = RemovedMessage::from_record(p, log.bytes(p, size)) {
            out.push(m);
        }
    });
    (out, stop)
}

/// Lowest queue offset removed from each queue.
pub(crate) fn lowest_per_queue(msgs: &[RemovedMessage]) -> BTreeMap<(String, i32), i64> {
    let mut out: BTreeMap<(String, i32), i64> = BTreeMap::new();
    for m in msgs.iter().filter(|m| m.in_consume_queue()) {
        let e = out.entry(m.queue()).or_insert(m.queue_offset);
        *e = (*e).min(m.queue_offset);
    }
    out
}

/// A saved byte range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedRange {
    /// The commitlog file, as it was.
    pub file: PathBuf,
    /// Positions inside it: `[from, to)`.
    pub from: u64,
    pub to: u64,
    /// Relative to the backup directory.
    pub saved_as: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RemovedReport {
    pub master: PathBuf,
    pub slave: PathBuf,
    pub common_prefix: u64,
    pub slave_max: u64,
    pub removed_bytes: Vec<SavedRange>,
    pub messages: Vec<RemovedMessage>,
}

/// The slave's commitlog files the cut at `at` changes: `(start, path, drop)`;
/// `drop` = the whole file goes. `drop_at_file`: the file holding `at` goes too.
pub(crate) fn cut_files(
    dirs: &[PathBuf],
    file_size: u64,
    at: u64,
    drop_at_file: bool,
) -> Result<Vec<(u64, PathBuf, bool)>> {
    let mut out = Vec::new();
    for d in dirs {
        for (start, path) in list_mapped_files(d)? {
            let holds_at = start <= at && at < start.saturating_add(file_size.max(1));
            if start > at || (holds_at && drop_at_file) {
                out.push((start, path, true));
            } else if holds_at {
                out.push((start, path, false));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Copies the bytes the cut at `at` removes into `backup/removed-bytes/` and
/// writes `removed-messages.json`. Re-running it writes the same files.
pub(crate) fn save(backup: &Path, files: &[(u64, PathBuf, bool)], at: u64, report: &mut RemovedReport) -> Result<()> {
    let dir = backup.join(BYTES_DIR);
    std::fs::create_dir_all(&dir).map_err(|e| AlignError::io(&dir, e))?;
    report.removed_bytes.clear();
    for (start, path, drop) in files {
        let f = MappedFile::open(path, *start)?;
        let from = if *drop { 0 } else { at - start };
        let Some(last) = last_nonzero(f.bytes(), from as usize) else {
            continue;
        };
        let name = format!("{BYTES_DIR}/{}", f.file_name());
        write_synced(&backup.join(&name), &f.bytes()[from as usize..=last])?;
        report.removed_bytes.push(SavedRange { file: path.clone(), from, to: last as u64 + 1, saved_as: name });
    }
    let json = serde_json::to_vec_pretty(report).expect("serializable");
    write_synced(&backup.join(MESSAGES_FILE), &json)
}
