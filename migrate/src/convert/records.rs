//! The DLedger entries of one node re-laid as commitlog records.
//!
//! Each entry body is one commitlog record whose PHYSICALOFFSET field holds
//! `entry pos + 48` (DLedgerCommitLog's append hook writes it). The record is
//! copied byte for byte except that field, which gets the record's new
//! offset; BODYCRC covers only the body, so it stays valid. A 5.x `__CRC32#`
//! property covers the whole record, PHYSICALOFFSET included, so it is
//! recomputed. Every record must pass the checks Java's recovery applies to
//! a commitlog (`checkCRCOnRecover` included), otherwise the converted store
//! would be cut short at the first bad record when a broker opens it.

use std::path::{Path, PathBuf};

use rmq_store::dledger::ENTRY_HEADER_SIZE;
use rmq_store::record::properties::PROPERTY_CRC32;
use rmq_store::record::{
    crc32_masked, offset_msg_id, MessageVersion, RecordView, CRC32_RESERVED_LEN, POS_PHYSICAL_OFFSET,
};
use serde::Serialize;

use super::error::{ConvertError, Result};
use super::node::Node;
use super::writer::{CommitlogWriter, MapLine, MapWriter};

/// What the record pass did (or, dry, would do).
#[derive(Clone, Debug, Default, Serialize)]
pub struct RecordsOutcome {
    /// Entries converted.
    pub entries: u64,
    pub first_index: Option<i64>,
    pub last_index: Option<i64>,
    pub last_term: Option<i64>,
    /// DLedger positions covered: first entry .. end of the last converted entry.
    pub old_from: u64,
    pub old_to: u64,
    /// Commitlog offsets written: first DLedger file start .. end of the last record.
    pub new_from: u64,
    pub new_to: u64,
    /// Commitlog files created (names).
    pub files: Vec<String>,
    /// Pre-DLedger commitlog files that stay the start of the log.
    pub prefix_files: Vec<String>,
    pub blanks: u64,
    /// `__CRC32#` properties recomputed.
    pub prop_crc_rewritten: u64,
    pub v2_records: u64,
    /// New offset and store timestamp of the last record.
    pub last_message: Option<(u64, i64)>,
    pub map_file: Option<PathBuf>,
    pub map_lines: u64,
    pub warnings: Vec<String>,
}

/// Where the converted log goes.
pub struct RecordsTarget<'a> {
    pub commitlog_dir: &'a Path,
    pub map_path: &'a Path,
    /// Copy pre-DLedger commitlog files into `commitlog_dir` (they are
    /// already there when converting in place).
    pub copy_prefix: bool,
    pub dry: bool,
}

/// Rewrites the `__CRC32#` digits at the end of `rec` when the record ends
/// with that property; false when it does not.
fn rewrite_prop_crc(rec: &mut [u8]) -> bool {
    let n = rec.len();
    if n < CRC32_RESERVED_LEN {
        return false;
    }
    let tail = &rec[n - CRC32_RESERVED_LEN..];
    let key = PROPERTY_CRC32.as_bytes();
    if &tail[..key.len()] != key || tail[key.len()] != 1 || tail[CRC32_RESERVED_LEN - 1] != 2 {
        return false;
    }
    let mut crc = crc32_masked(&rec[..n - CRC32_RESERVED_LEN]) as u32;
    // ten digits, least significant first (as the broker writes them)
    for d in &mut rec[n - 11..n - 1] {
        *d = b'0' + (crc % 10) as u8;
        crc /= 10;
    }
    true
}

/// Pre-DLedger commitlog files of a mixed store (DLedgerCommitLog serves
/// offsets below its first data file from them) stay the start of the log,
/// unchanged; copied when the output is elsewhere.
fn copy_prefix(node: &Node, base: u64, t: &RecordsTarget, out: &mut RecordsOutcome) -> Result<()> {
    let cl = node.dir.open_commitlog()?;
    if let Some(i) = cl.queue().issues().first() {
        return Err(ConvertError::bad_entry(&i.path, i.offset, i.message.clone()));
    }
    for f in cl.files() {
        if f.file_from_offset() + f.len() > base {
            let msg = format!("commitlog file overlaps the DLedger log, which starts at {base}");
            return Err(ConvertError::refused(f.path(), msg));
        }
        out.prefix_files.push(f.file_name());
        if t.copy_prefix && !t.dry {
            copy_synced(f.path(), &t.commitlog_dir.join(f.file_name()))?;
        }
    }
    if let Some(last) = cl.files().last().filter(|l| l.file_from_offset() + l.len() != base) {
        out.warnings.push(format!(
            "{}: the old commitlog ends at {} but the DLedger log starts at {base}",
            last.path().display(),
            last.file_from_offset() + last.len()
        ));
    }
    Ok(())
}

/// Copies a file (owner-writable: the broker rewrites config files) and syncs the copy.
pub fn copy_synced(from: &Path, to: &Path) -> Result<()> {
    if let Some(p) = to.parent() {
        std::fs::create_dir_all(p).map_err(|e| ConvertError::io(p, e))?;
    }
    std::fs::copy(from, to).map_err(|e| ConvertError::io(to, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut perm = std::fs::metadata(to).map_err(|e| ConvertError::io(to, e))?.permissions();
        if perm.mode() & 0o200 == 0 {
            perm.set_mode(perm.mode() | 0o200);
            std::fs::set_permissions(to, perm).map_err(|e| ConvertError::io(to, e))?;
        }
    }
    std::fs::File::open(to).and_then(|f| f.sync_all()).map_err(|e| ConvertError::io(to, e))
}

/// Converts entries with index <= `limit` (all when None). `progress(done,
/// total)` counts DLedger bytes; `hook()` runs before each record (tests
/// simulate crashes with it).
pub fn convert_records(
    node: &Node,
    limit: Option<i64>,
    file_size: u64,
    t: &RecordsTarget,
    progress: &mut dyn FnMut(u64, u64),
    hook: &mut dyn FnMut(),
) -> Result<RecordsOutcome> {
    let d = &node.dledger;
    let base = d.data().min_offset();
    let mut out = RecordsOutcome { old_from: base, old_to: base, new_from: base, ..Default::default() };
    copy_prefix(node, base, t, &mut out)?;
    let mut w = CommitlogWriter::new(t.commitlog_dir, base, file_size, t.dry)?;
    let mut map = MapWriter::create(t.map_path, t.dry)?;
    let total = d.data().files().last().map(|f| f.file_from_offset() + f.len() - base).unwrap_or(0);
    let mut buf: Vec<u8> = Vec::new();
    let mut prev: Option<(i64, i64)> = None;
    let mut last_file = usize::MAX;
    for r in d.entries() {
        let e = match r {
            Ok(e) => e,
            // past every committed entry (--include-uncommitted) a broken entry ends
            // the log, as DLedger's recovery truncates there; before, it is fatal
            Err(err) if node.info.committed_index.is_some_and(|c| out.last_index.unwrap_or(-1) >= c) => {
                out.warnings.push(format!("{err}: the uncommitted tail ends here"));
                break;
            }
            Err(err) => return Err(err.into()),
        };
        let h = e.header;
        if limit.is_some_and(|l| h.index > l) {
            break;
        }
        if e.file_index != last_file {
            last_file = e.file_index;
            progress(h.pos as u64 - base, total);
        }
        let (path, body_at) = node.body_location(&e);
        let bad = |msg: String| ConvertError::bad_entry(path, body_at, format!("DLedger entry {}: {msg}", h.index));
        if let Some((pi, pt)) = prev {
            if h.index != pi + 1 {
                return Err(ConvertError::bad_entry(
                    path,
                    e.file_pos,
                    format!("entry index {} does not follow {pi}", h.index),
                ));
            }
            if h.term < pt {
                return Err(ConvertError::bad_entry(
                    path,
                    e.file_pos,
                    format!("entry term {} lower than {pt}", h.term),
                ));
            }
        }
        prev = Some((h.index, h.term));
        let v = RecordView::parse(d.body(&e)).map_err(|err| bad(err.to_string()))?;
        if v.total_size() != h.body_length {
            return Err(bad(format!("record TOTALSIZE {} != entry body length {}", v.total_size(), h.body_length)));
        }
        let old_offset = h.pos as u64 + ENTRY_HEADER_SIZE;
        if v.physical_offset != old_offset as i64 {
            return Err(bad(format!("PHYSICALOFFSET field {} != entry pos + 48 = {old_offset}", v.physical_offset)));
        }
        if !v.body_crc_ok() {
            let msg = format!("body CRC mismatch: stored {}, computed {}", v.body_crc, v.computed_body_crc());
            return Err(bad(msg));
        }
        hook();
        let new_offset = w.place(v.bytes.len() as u64)?;
        buf.clear();
        buf.extend_from_slice(v.bytes);
        buf[POS_PHYSICAL_OFFSET..POS_PHYSICAL_OFFSET + 8].copy_from_slice(&(new_offset as i64).to_be_bytes());
        if v.property_bytes(PROPERTY_CRC32).is_some() && rewrite_prop_crc(&mut buf) {
            out.prop_crc_rewritten += 1;
        }
        w.write(&buf)?;
        let (old_id, new_id) =
            (offset_msg_id(&v.store_host, old_offset as i64), offset_msg_id(&v.store_host, new_offset as i64));
        map.write(&MapLine {
            dledger_index: h.index,
            dledger_term: h.term,
            old_pos: h.pos as u64,
            old_offset,
            old_offset_msg_id: &old_id,
            new_offset,
            new_offset_msg_id: &new_id,
            topic: v.topic,
            queue_id: v.queue_id,
            queue_offset: v.queue_offset,
            size: v.bytes.len(),
        })?;
        if v.version == MessageVersion::V2 {
            out.v2_records += 1;
        }
        out.entries += 1;
        out.first_index.get_or_insert(h.index);
        if out.entries == 1 {
            out.old_from = h.pos as u64;
        }
        out.last_index = Some(h.index);
        out.last_term = Some(h.term);
        out.old_to = h.pos as u64 + h.size as u64;
        out.last_message = Some((new_offset, v.store_timestamp));
        if limit == Some(h.index) {
            // what follows is not read: it may be a crash-damaged uncommitted tail
            break;
        }
    }
    progress(total, total);
    out.blanks = w.blanks();
    out.files = w.created().iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
    out.new_to = w.finish()?;
    out.map_lines = map.finish()?;
    out.map_file = (!t.dry).then(|| t.map_path.to_path_buf());
    Ok(out)
}
