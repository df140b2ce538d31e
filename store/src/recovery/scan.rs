//! The commitlog half of recovery: which file the scan starts in
//! (`recoverNormally` / `recoverAbnormally` / `isMappedFileMatchedRecover`)
//! and where the valid data ends.

use std::path::PathBuf;

use crate::dispatch::request::store_timestamp_pos;
use crate::dispatch::{check_message, CheckRules, Checked, JavaVersion};
use crate::mapped_file::{CommitLog, MappedFile};
use crate::record::{MESSAGE_MAGIC_CODE, MESSAGE_MAGIC_CODE_V2};
use crate::Checkpoint;

/// Where and why the scan stopped.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ScanEnd {
    /// File holding the end (None without files).
    pub file: Option<PathBuf>,
    /// Position inside that file.
    pub file_pos: u64,
    pub reason: String,
}

#[derive(Clone, Debug)]
pub(crate) struct Scan {
    /// Last valid physical offset (`processOffset`).
    pub end: u64,
    pub stop: ScanEnd,
    /// Start and store timestamp of the last valid message seen.
    pub last_msg: Option<(u64, i64)>,
    pub messages: u64,
}

/// Inputs of the abnormal start-file rule.
pub(crate) struct AbnormalRule<'a> {
    pub checkpoint: &'a Checkpoint,
    /// `messageIndexEnable && messageIndexSafe`.
    pub index_safe: bool,
}

/// `isMappedFileMatchedRecover`: the file's first record is a message stored
/// at or before the checkpoint's safe timestamp.
fn matched_recover(f: &MappedFile, java: JavaVersion, rule: &AbnormalRule) -> bool {
    let b = f.bytes();
    let int = |o: usize| b.get(o..o + 4).map(|s| i32::from_be_bytes(s.try_into().expect("4 bytes")));
    let magic = int(4);
    let ok = magic == Some(MESSAGE_MAGIC_CODE) || (java == JavaVersion::V5_3_3 && magic == Some(MESSAGE_MAGIC_CODE_V2));
    if !ok {
        return false;
    }
    let Some(sys_flag) = int(36) else { return false };
    let pos = store_timestamp_pos(sys_flag);
    let Some(ts) = b.get(pos..pos + 8).map(|s| i64::from_be_bytes(s.try_into().expect("8 bytes"))) else {
        return false;
    };
    let limit = if rule.index_safe { rule.checkpoint.min_timestamp_index() } else { rule.checkpoint.min_timestamp() };
    ts != 0 && ts <= limit
}

/// Index of the file the scan starts in.
pub(crate) fn start_index(
    cl: &CommitLog,
    nfiles: usize,
    java: JavaVersion,
    abnormal: Option<&AbnormalRule>,
    max_cq_phy_offset: i64,
) -> usize {
    let files = &cl.files()[..nfiles.min(cl.files().len())];
    if files.is_empty() {
        return 0;
    }
    match (abnormal, java) {
        (Some(rule), _) => (0..files.len()).rev().find(|&i| matched_recover(&files[i], java, rule)).unwrap_or(0),
        // 4.9.8: "began to recover from the last third file"
        (None, JavaVersion::V4_9_8) => files.len().saturating_sub(3),
        // 5.3.3: the newest file starting at or below the consume queues' max
        (None, JavaVersion::V5_3_3) => {
            let mut i = files.len() - 1;
            while i > 0 && files[i].file_from_offset() as i64 > max_cq_phy_offset {
                i -= 1;
            }
            i
        }
    }
}

/// Walks records from the start of file `start` (of the first `nfiles`) until
/// a check fails or the last file ends with a BLANK.
pub(crate) fn scan(
    cl: &CommitLog,
    nfiles: usize,
    start: usize,
    rules: &CheckRules,
    progress: &mut dyn FnMut(u64),
) -> Scan {
    let files = &cl.files()[..nfiles.min(cl.files().len())];
    let mut out = Scan {
        end: files.get(start).map(|f| f.file_from_offset()).unwrap_or(0),
        stop: ScanEnd { file: None, file_pos: 0, reason: "no commitlog files".into() },
        last_msg: None,
        messages: 0,
    };
    let mut fi = start;
    let mut walked = 0u64;
    while let Some(f) = files.get(fi) {
        let b = f.bytes();
        let mut pos = 0u64;
        let stop = loop {
            match check_message(b.get(pos as usize..).unwrap_or(&[]), rules) {
                Checked::Message(m) => {
                    out.last_msg = Some((f.file_from_offset() + pos, m.store_timestamp));
                    out.messages += 1;
                    pos += m.msg_size as u64;
                }
                Checked::Blank => break None,
                Checked::Invalid { reason, .. } => break Some(reason),
            }
        };
        out.end = f.file_from_offset() + pos;
        walked += f.len();
        progress(walked);
        match stop {
            Some(reason) => {
                out.stop = ScanEnd { file: Some(f.path().to_path_buf()), file_pos: pos, reason };
                return out;
            }
            None if fi + 1 >= files.len() => {
                let reason = "BLANK record in the last file".to_string();
                out.stop = ScanEnd { file: Some(f.path().to_path_buf()), file_pos: pos, reason };
                return out;
            }
            None => fi += 1,
        }
    }
    out
}

/// Start and store timestamp of the last valid message before `end`, looking
/// back file by file (for when the scan itself saw none).
pub(crate) fn last_message_before(cl: &CommitLog, end: u64, rules: &CheckRules) -> Option<(u64, i64)> {
    let files = cl.files();
    let mut fi = files.partition_point(|f| f.file_from_offset() < end);
    while fi > 0 {
        fi -= 1;
        let f = &files[fi];
        let mut pos = 0u64;
        let mut last = None;
        while f.file_from_offset() + pos < end {
            match check_message(f.bytes().get(pos as usize..).unwrap_or(&[]), rules) {
                Checked::Message(m) => {
                    last = Some((f.file_from_offset() + pos, m.store_timestamp));
                    pos += m.msg_size as u64;
                }
                _ => break,
            }
        }
        if last.is_some() {
            return last;
        }
    }
    None
}

/// Store timestamp of the message whose record starts at `offset`.
pub(crate) fn timestamp_at(cl: &CommitLog, offset: u64, rules: &CheckRules) -> Option<i64> {
    let f = cl.queue().find(offset)?;
    match check_message(f.slice_from(offset - f.file_from_offset()), rules) {
        Checked::Message(m) => Some(m.store_timestamp),
        _ => None,
    }
}
