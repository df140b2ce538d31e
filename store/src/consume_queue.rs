//! Consume queue files: `consumequeue/<topic>/<queueId>/<20-digit byte offset>`,
//! 20-byte units `(commitlog offset i64, size i32, tagsCode i64)`.

use std::path::{Path, PathBuf};

use crate::error::{Result, StoreError};
use crate::mapped_file::{MappedFile, MappedFileQueue};

pub const CQ_UNIT_SIZE: u64 = 20;
/// Default `mappedFileSizeConsumeQueue` (300000 units).
pub const DEFAULT_CQ_FILE_SIZE: u64 = 300_000 * CQ_UNIT_SIZE;

/// `MessageStoreConfig.getMappedFileSizeConsumeQueue`: rounded up to whole units.
pub fn cq_file_size(configured: u64) -> u64 {
    configured.div_ceil(CQ_UNIT_SIZE) * CQ_UNIT_SIZE
}

/// One consume-queue unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CqEntry {
    /// Logical queue offset (unit number).
    pub queue_offset: u64,
    pub physical_offset: i64,
    pub size: i32,
    pub tags_code: i64,
}

impl CqEntry {
    /// `fillPreBlank` placeholder `(0, Integer.MAX_VALUE, 0)`.
    pub fn is_placeholder(&self) -> bool {
        self.physical_offset == 0 && self.size == i32::MAX && self.tags_code == 0
    }
    /// Recovery's validity rule: `offset >= 0 && size > 0`.
    pub fn is_valid(&self) -> bool {
        self.physical_offset >= 0 && self.size > 0
    }
    /// A tagsCode holding a ConsumeQueueExt address (`isExtAddr`).
    pub fn has_ext_addr(&self) -> bool {
        self.tags_code < i32::MIN as i64
    }
}

/// Decodes a 20-byte unit.
pub fn decode_unit(b: &[u8], queue_offset: u64) -> Option<CqEntry> {
    if b.len() < CQ_UNIT_SIZE as usize {
        return None;
    }
    Some(CqEntry {
        queue_offset,
        physical_offset: i64::from_be_bytes(b[0..8].try_into().ok()?),
        size: i32::from_be_bytes(b[8..12].try_into().ok()?),
        tags_code: i64::from_be_bytes(b[12..20].try_into().ok()?),
    })
}

/// Encodes a unit.
pub fn encode_unit(physical_offset: i64, size: i32, tags_code: i64) -> [u8; 20] {
    let mut b = [0u8; 20];
    b[0..8].copy_from_slice(&physical_offset.to_be_bytes());
    b[8..12].copy_from_slice(&size.to_be_bytes());
    b[12..20].copy_from_slice(&tags_code.to_be_bytes());
    b
}

/// A problem found while reading a consume queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CqIssue {
    pub path: PathBuf,
    pub offset: u64,
    pub message: String,
}

/// Read-only view of one queue.
#[derive(Debug)]
pub struct ConsumeQueue {
    topic: String,
    queue_id: i32,
    files: MappedFileQueue,
}

/// Lists `(topic, queueId, dir)` under a `consumequeue` root.
pub fn list_queues(root: &Path) -> Result<Vec<(String, i32, PathBuf)>> {
    let mut out = Vec::new();
    let rd = match std::fs::read_dir(root) {
        Ok(r) => r,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(StoreError::io(root, e)),
    };
    for t in rd {
        let t = t.map_err(|e| StoreError::io(root, e))?;
        if !t.path().is_dir() {
            continue;
        }
        let topic = t.file_name().to_string_lossy().into_owned();
        let qrd = std::fs::read_dir(t.path()).map_err(|e| StoreError::io(t.path(), e))?;
        for q in qrd {
            let q = q.map_err(|e| StoreError::io(t.path(), e))?;
            let name = q.file_name().to_string_lossy().into_owned();
            if let (true, Ok(id)) = (q.path().is_dir(), name.parse::<i32>()) {
                out.push((topic.clone(), id, q.path()));
            }
        }
    }
    out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    Ok(out)
}

impl ConsumeQueue {
    /// Opens `dir` (= `consumequeue/<topic>/<queueId>`). `file_size` as configured
    /// (rounded to units) or inferred from the files when `None`.
    pub fn open(dir: &Path, topic: &str, queue_id: i32, file_size: Option<u64>) -> Result<Self> {
        let files = MappedFileQueue::open(&[dir.to_path_buf()], file_size.map(cq_file_size))?;
        Ok(ConsumeQueue { topic: topic.to_string(), queue_id, files })
    }

    pub fn topic(&self) -> &str {
        &self.topic
    }

    pub fn queue_id(&self) -> i32 {
        self.queue_id
    }

    pub fn files(&self) -> &MappedFileQueue {
        &self.files
    }

    /// Entry at a logical queue offset, if its file exists.
    pub fn get(&self, queue_offset: u64) -> Option<CqEntry> {
        let byte = queue_offset.checked_mul(CQ_UNIT_SIZE)?;
        let f = self.files.find(byte)?;
        decode_unit(f.slice_from(byte - f.file_from_offset()), queue_offset)
    }

    /// Reads the queue like recovery does: from the first file, units while
    /// valid; the first invalid unit (normally all zeros) ends the queue.
    /// Returns the entries and any problems (bytes after the end that are not
    /// zero, partial units, misaligned file names).
    pub fn read_all(&self) -> (Vec<CqEntry>, Vec<CqIssue>) {
        let mut entries = Vec::new();
        let mut issues: Vec<CqIssue> = self
            .files
            .issues()
            .iter()
            .map(|i| CqIssue { path: i.path.clone(), offset: i.offset, message: i.message.clone() })
            .collect();
        let mut ended: Option<(usize, u64)> = None;
        'files: for (fi, f) in self.files.files().iter().enumerate() {
            if f.file_from_offset() % CQ_UNIT_SIZE != 0 {
                issues.push(issue(f, 0, "file name is not a multiple of the 20-byte unit"));
                ended = Some((fi, 0));
                break;
            }
            let b = f.bytes();
            let mut pos = 0u64;
            while pos + CQ_UNIT_SIZE <= b.len() as u64 {
                let qo = (f.file_from_offset() + pos) / CQ_UNIT_SIZE;
                let e = decode_unit(&b[pos as usize..], qo).expect("20 bytes available");
                if !e.is_valid() {
                    let unit = &b[pos as usize..(pos + CQ_UNIT_SIZE) as usize];
                    if unit.iter().any(|x| *x != 0) {
                        issues.push(issue(
                            f,
                            pos,
                            &format!(
                                "invalid unit (offset {}, size {}) at queue offset {qo}",
                                e.physical_offset, e.size
                            ),
                        ));
                    }
                    ended = Some((fi, pos));
                    break 'files;
                }
                entries.push(e);
                pos += CQ_UNIT_SIZE;
            }
            if pos < b.len() as u64 {
                issues.push(issue(f, pos, "partial unit at end of file"));
            }
        }
        if let Some((fi, pos)) = ended {
            // everything after the end must be unwritten (zero)
            for (j, f) in self.files.files().iter().enumerate().skip(fi) {
                let start = if j == fi { pos } else { 0 };
                if let Some(p) = f.slice_from(start).iter().position(|x| *x != 0) {
                    issues.push(issue(f, start + p as u64, "non-zero data after the end of the queue"));
                    break;
                }
            }
        }
        (entries, issues)
    }
}

fn issue(f: &MappedFile, offset: u64, msg: &str) -> CqIssue {
    CqIssue { path: f.path().to_path_buf(), offset, message: msg.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_units_and_reports_garbage() {
        let d = tempfile::tempdir().unwrap();
        let mut data = Vec::new();
        data.extend_from_slice(&encode_unit(0, i32::MAX, 0));
        data.extend_from_slice(&encode_unit(100, 50, 7));
        data.resize(200, 0);
        data[150] = 1;
        std::fs::write(d.path().join("00000000000000000000"), &data).unwrap();
        let cq = ConsumeQueue::open(d.path(), "T", 0, Some(200)).unwrap();
        let (e, issues) = cq.read_all();
        assert_eq!(e.len(), 2);
        assert!(e[0].is_placeholder());
        assert_eq!(e[1], CqEntry { queue_offset: 1, physical_offset: 100, size: 50, tags_code: 7 });
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].offset, 150);
        assert_eq!(cq.get(1), Some(e[1]));
        assert_eq!(cq_file_size(6001), 6020);
    }
}
