//! Building index files like `IndexService.buildIndex` / `IndexFile.putKey`.
//!
//! The file being filled is a writable memory map (as in Java). Entry and slot
//! go to the map at once; the header fields are written when a message's keys
//! are all in (and before switching to a new file). The bytes end up the same
//! as Java's, and a crash in the middle of a message leaves entries past
//! `indexCount` that recovery zeroes and re-creates.
//!
//! File names: Java names a new file by the wall clock at creation
//! (`yyyyMMddHHmmssSSS`, local time). A rebuild instead uses the store
//! timestamp of the message that makes it create the file (in Java that file
//! was created a few milliseconds after that message was stored), so repeated
//! runs produce the same names; a name not above the last existing one is
//! bumped to last + 1 (Java only parses names as numbers).
//!
//! Resuming: when the last file ends with some keys of a message (its
//! `endPhyOffset`), dispatching that message again skips those keys instead of
//! adding them twice as Java would.

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use memmap2::MmapMut;

use super::request::DispatchRequest;
use crate::error::{Result, StoreError};
use crate::index::{key_hash, IndexFile, IndexHeader, HASH_SLOT_SIZE, INDEX_ENTRY_SIZE, INDEX_HEADER_SIZE};

/// `maxHashSlotNum` / `maxIndexNum`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct IndexGeometry {
    pub hash_slot_num: u32,
    pub index_num: u32,
}

impl IndexGeometry {
    pub const DEFAULT: IndexGeometry = IndexGeometry {
        hash_slot_num: crate::index::DEFAULT_HASH_SLOT_NUM,
        index_num: crate::index::DEFAULT_INDEX_NUM,
    };

    pub fn file_size(&self) -> u64 {
        crate::index::index_file_size(self.hash_slot_num, self.index_num)
    }
    fn entry_pos(&self, n: u32) -> usize {
        (INDEX_HEADER_SIZE + self.hash_slot_num as u64 * HASH_SLOT_SIZE + n as u64 * INDEX_ENTRY_SIZE) as usize
    }
}

/// `UtilAll.timeMillisToHumanString` in the local time zone.
pub fn human_time_name(ms: i64) -> String {
    let ms = ms.max(0);
    let (y, mo, d, h, mi, s) = rmq_common::jtime::local_fields(ms.div_euclid(1000));
    format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{s:02}{:03}", ms.rem_euclid(1000))
}

/// Index directory state a writer continues from.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IndexState {
    /// The last file and its header (after any recovery changes).
    pub last: Option<(PathBuf, IndexHeader)>,
    /// Highest existing file name (new names must sort after it).
    pub max_name: Option<String>,
    /// End timestamp of the last full file (what `indexMsgTimestamp` tracks), 0 if none.
    pub last_full_end_timestamp: i64,
    /// `endPhyOffset` of the last file and how many keys of that message are
    /// already indexed at the end of the files.
    pub resume_phy_offset: i64,
    pub resume_skip: u32,
}

impl IndexState {
    /// Reads `dir` (missing = no files).
    pub fn from_disk(dir: &Path, geom: IndexGeometry) -> Result<Self> {
        let files = crate::index::list_index_files(dir)?;
        let mut st = IndexState::default();
        let mut opened = Vec::new();
        for p in &files {
            let f = IndexFile::open(p, Some(geom.hash_slot_num), Some(geom.index_num))?;
            if f.header().index_count >= geom.index_num as i32 {
                st.last_full_end_timestamp = f.header().end_timestamp;
            }
            opened.push(f);
        }
        st.max_name = files.last().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned());
        if let Some(last) = opened.last() {
            let mut h = *last.header();
            h.index_count = h.index_count.max(1);
            st.last = Some((last.path().to_path_buf(), h));
            st.resume_phy_offset = h.end_phy_offset;
            let views: Vec<FileView> = opened
                .iter()
                .map(|f| FileView { file: f, count: f.used_entries(), end_phy_offset: f.header().end_phy_offset })
                .collect();
            st.resume_skip = resume_count(&views, h.end_phy_offset);
        }
        Ok(st)
    }
}

/// An index file with the entry count and end offset it has (or will have
/// after recovery rewrites it).
pub(crate) struct FileView<'a> {
    pub file: &'a IndexFile,
    /// Entries in use + 1 (the header's indexCount, at least 1).
    pub count: u32,
    pub end_phy_offset: i64,
}

/// How many keys of the message at `phy` are at the end of the files.
pub(crate) fn resume_count(files: &[FileView], phy: i64) -> u32 {
    let mut n = 0;
    for v in files.iter().rev() {
        let mut k = v.count;
        while k > 1 {
            match v.file.entry(k - 1) {
                Some(e) if e.phy_offset == phy => n += 1,
                _ => return n,
            }
            k -= 1;
        }
        if v.end_phy_offset != phy {
            return n;
        }
    }
    n
}

/// The file being filled.
struct Current {
    path: PathBuf,
    header: IndexHeader,
    /// None in dry runs.
    map: Option<MmapMut>,
}

impl Current {
    fn put_key(&mut self, geom: IndexGeometry, key: &str, phy: i64, ts: i64) -> bool {
        let h = &mut self.header;
        if h.index_count >= geom.index_num as i32 {
            return false;
        }
        let hash = key_hash(key);
        let slot_pos = (INDEX_HEADER_SIZE + (hash as u32 % geom.hash_slot_num) as u64 * HASH_SLOT_SIZE) as usize;
        let mut slot_value = match &self.map {
            Some(m) => i32::from_be_bytes(m[slot_pos..slot_pos + 4].try_into().expect("4 bytes")),
            None => 0,
        };
        if slot_value <= 0 || slot_value > h.index_count {
            slot_value = 0;
        }
        let diff = (ts.wrapping_sub(h.begin_timestamp)) / 1000;
        let diff = if h.begin_timestamp <= 0 || diff < 0 { 0 } else { diff.min(i32::MAX as i64) as i32 };
        if let Some(m) = &mut self.map {
            let o = geom.entry_pos(h.index_count as u32);
            m[o..o + 4].copy_from_slice(&hash.to_be_bytes());
            m[o + 4..o + 12].copy_from_slice(&phy.to_be_bytes());
            m[o + 12..o + 16].copy_from_slice(&diff.to_be_bytes());
            m[o + 16..o + 20].copy_from_slice(&slot_value.to_be_bytes());
            m[slot_pos..slot_pos + 4].copy_from_slice(&h.index_count.to_be_bytes());
        }
        if h.index_count <= 1 {
            h.begin_phy_offset = phy;
            h.begin_timestamp = ts;
        }
        if slot_value == 0 {
            h.hash_slot_count += 1;
        }
        h.index_count += 1;
        h.end_phy_offset = phy;
        h.end_timestamp = ts;
        true
    }

    /// Header bytes as Java leaves them: count fields only once a key is in.
    fn write_header(&mut self) {
        let h = self.header;
        let Some(m) = &mut self.map else { return };
        m[0..8].copy_from_slice(&h.begin_timestamp.to_be_bytes());
        m[8..16].copy_from_slice(&h.end_timestamp.to_be_bytes());
        m[16..24].copy_from_slice(&h.begin_phy_offset.to_be_bytes());
        m[24..32].copy_from_slice(&h.end_phy_offset.to_be_bytes());
        if h.index_count > 1 {
            m[32..36].copy_from_slice(&h.hash_slot_count.to_be_bytes());
            m[36..40].copy_from_slice(&h.index_count.to_be_bytes());
        }
    }

    fn finish(&mut self) -> Result<()> {
        self.write_header();
        if let Some(m) = &self.map {
            m.flush().map_err(|e| StoreError::io(&self.path, e))?;
        }
        Ok(())
    }
}

/// Index service for one `index/` directory.
pub struct IndexWriter {
    dir: PathBuf,
    geom: IndexGeometry,
    dry_run: bool,
    current: Option<Current>,
    max_name: Option<String>,
    last_full_end_timestamp: i64,
    resume: Option<(i64, u32)>,
    created: Vec<PathBuf>,
    keys_added: u64,
    keys_resumed: u64,
}

impl IndexWriter {
    /// Continues from `state` (normally [`IndexState::from_disk`]). In a dry run
    /// the header in `state` is used and nothing is written.
    pub fn new(dir: &Path, geom: IndexGeometry, state: IndexState, dry_run: bool) -> Result<Self> {
        if geom.hash_slot_num == 0 || geom.index_num == 0 {
            return Err(StoreError::layout(dir, "maxHashSlotNum and maxIndexNum must be positive"));
        }
        let current = match state.last {
            Some((path, header)) => {
                let map = if dry_run { None } else { Some(map_file(&path, geom, false)?) };
                Some(Current { path, header, map })
            }
            None => None,
        };
        Ok(IndexWriter {
            dir: dir.to_path_buf(),
            geom,
            dry_run,
            current,
            max_name: state.max_name,
            last_full_end_timestamp: state.last_full_end_timestamp,
            resume: (state.resume_skip > 0).then_some((state.resume_phy_offset, state.resume_skip)),
            created: Vec::new(),
            keys_added: 0,
            keys_resumed: 0,
        })
    }

    /// Files created so far.
    pub fn created(&self) -> &[PathBuf] {
        &self.created
    }
    pub fn keys_added(&self) -> u64 {
        self.keys_added
    }
    /// Keys found already indexed when resuming.
    pub fn keys_resumed(&self) -> u64 {
        self.keys_resumed
    }
    /// End timestamp of the last full file (the checkpoint's `indexMsgTimestamp`).
    pub fn last_full_end_timestamp(&self) -> i64 {
        self.last_full_end_timestamp
    }
    /// The file being filled (never deleted by expired-file cleanup).
    pub fn current_path(&self) -> Option<&Path> {
        self.current.as_ref().map(|c| c.path.as_path())
    }
    /// Header of the file being filled.
    pub fn current_header(&self) -> Option<IndexHeader> {
        self.current.as_ref().map(|c| c.header)
    }

    fn new_name(&self, ts: i64) -> String {
        let name = human_time_name(ts);
        let max = self.max_name.as_deref().unwrap_or("");
        // 17 digits (years past 9999 would not be) and sorting after every existing file
        if name.len() == 17 && name.as_str() > max {
            return name;
        }
        format!("{:017}", max.parse::<u64>().unwrap_or(0).saturating_add(1))
    }

    /// `getAndCreateLastIndexFile`: the current file unless full or absent.
    fn current_or_new(&mut self, ts: i64) -> Result<&mut Current> {
        let need = match &self.current {
            None => true,
            Some(c) => c.header.index_count >= self.geom.index_num as i32,
        };
        if need {
            let (end_phy, end_ts) = match &mut self.current {
                Some(c) => {
                    c.finish()?;
                    self.last_full_end_timestamp = c.header.end_timestamp;
                    (c.header.end_phy_offset, c.header.end_timestamp)
                }
                None => (0, 0),
            };
            let name = self.new_name(ts);
            let path = self.dir.join(&name);
            let map = if self.dry_run {
                None
            } else {
                std::fs::create_dir_all(&self.dir).map_err(|e| StoreError::io(&self.dir, e))?;
                Some(map_file(&path, self.geom, true)?)
            };
            let mut header = IndexHeader {
                begin_timestamp: 0,
                end_timestamp: 0,
                begin_phy_offset: 0,
                end_phy_offset: 0,
                hash_slot_count: 0,
                index_count: 1,
            };
            // the IndexFile constructor: inherit the previous file's end
            if end_phy > 0 {
                header.begin_phy_offset = end_phy;
                header.end_phy_offset = end_phy;
            }
            if end_ts > 0 {
                header.begin_timestamp = end_ts;
                header.end_timestamp = end_ts;
            }
            let mut c = Current { path: path.clone(), header, map };
            c.write_header();
            self.current = Some(c);
            self.created.push(path);
            self.max_name = Some(name);
        }
        Ok(self.current.as_mut().expect("set above"))
    }

    /// `IndexService.buildIndex` for one record. Java gets (or creates) the
    /// last file before anything else; a new file is created here only when a
    /// key goes into it (same contents, no empty file after keyless records,
    /// and the name comes from the first message in it).
    pub fn build_index(&mut self, req: &DispatchRequest) -> Result<()> {
        let geom = self.geom;
        // a new file inherits the current one's end, so this holds either way
        let end_phy = self.current.as_ref().map(|c| c.header.end_phy_offset).unwrap_or(0);
        if req.commit_log_offset < end_phy {
            return Ok(());
        }
        let mut keys = req.index_keys();
        if let Some((phy, skip)) = self.resume.take() {
            if phy == req.commit_log_offset {
                let n = (skip as usize).min(keys.len());
                keys.drain(..n);
                self.keys_resumed += n as u64;
            }
        }
        if keys.is_empty() {
            return Ok(());
        }
        for key in keys {
            let (phy, ts) = (req.commit_log_offset, req.store_timestamp);
            let mut ok = self.current_or_new(ts)?.put_key(geom, &key, phy, ts);
            if !ok {
                // full: Java creates the next file and retries
                ok = self.current_or_new(ts)?.put_key(geom, &key, phy, ts);
            }
            if ok {
                self.keys_added += 1;
            }
        }
        if let Some(c) = &mut self.current {
            c.write_header();
            if c.header.index_count >= geom.index_num as i32 {
                self.last_full_end_timestamp = c.header.end_timestamp;
            }
        }
        Ok(())
    }

    /// Writes the header and syncs the file being filled.
    pub fn finish(&mut self) -> Result<()> {
        if let Some(c) = &mut self.current {
            c.finish()?;
        }
        Ok(())
    }
}

/// Maps an index file for writing; `create` makes a new zero-filled one.
fn map_file(path: &Path, geom: IndexGeometry, create: bool) -> Result<MmapMut> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(create)
        .open(path)
        .map_err(|e| StoreError::io(path, e))?;
    if create {
        f.set_len(geom.file_size()).map_err(|e| StoreError::io(path, e))?;
    } else {
        let len = f.metadata().map_err(|e| StoreError::io(path, e))?.len();
        if len != geom.file_size() {
            return Err(StoreError::layout(path, format!("index file length {len}, expected {}", geom.file_size())));
        }
    }
    // SAFETY: the store must not be used by another process while we write it
    // (callers check the lock file); the file length was set/checked above.
    unsafe { MmapMut::map_mut(&f) }.map_err(|e| StoreError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(off: i64, ts: i64, keys: &str) -> DispatchRequest {
        DispatchRequest {
            topic: "T".into(),
            queue_id: 0,
            commit_log_offset: off,
            msg_size: 10,
            tags_code: 0,
            store_timestamp: ts,
            consume_queue_offset: 0,
            keys: Some(keys.into()),
            uniq_key: None,
            sys_flag: 0,
            prepared_transaction_offset: 0,
        }
    }

    #[test]
    fn names() {
        assert_eq!(rmq_common::jtime::utc_fields(1_795_291_496), (2026, 11, 21, 20, 4, 56));
        assert_eq!(rmq_common::jtime::utc_fields(0), (1970, 1, 1, 0, 0, 0));
        assert_eq!(human_time_name(1_795_291_496_075).len(), 17);
        let d = tempfile::tempdir().unwrap();
        let w =
            IndexWriter::new(d.path(), IndexGeometry { hash_slot_num: 1, index_num: 2 }, IndexState::default(), true)
                .unwrap();
        assert_eq!(w.new_name(i64::MAX), "00000000000000001");
    }

    #[test]
    fn fills_files_and_inherits_end() {
        let d = tempfile::tempdir().unwrap();
        let g = IndexGeometry { hash_slot_num: 4, index_num: 4 };
        let mut w = IndexWriter::new(d.path(), g, IndexState::default(), false).unwrap();
        w.build_index(&req(0, 10_000, "a b")).unwrap();
        w.build_index(&req(100, 12_500, "c d")).unwrap(); // 3 keys per file: d goes to file 2
        w.build_index(&req(50, 13_000, "old")).unwrap(); // below endPhyOffset: skipped
        w.finish().unwrap();
        assert_eq!(w.created().len(), 2);
        assert_eq!(w.keys_added(), 4);
        assert_eq!(w.last_full_end_timestamp(), 12_500);
        let f1 = IndexFile::open(&w.created()[0], Some(4), Some(4)).unwrap();
        let f2 = IndexFile::open(&w.created()[1], Some(4), Some(4)).unwrap();
        assert_eq!(
            (f1.header().index_count, f1.header().begin_timestamp, f1.header().end_phy_offset),
            (4, 10_000, 100)
        );
        assert_eq!(f1.entry(3).unwrap().time_diff, 2);
        assert_eq!(f1.lookup("T#c", 5), vec![100]);
        let h2 = *f2.header();
        assert_eq!((h2.index_count, h2.begin_phy_offset, h2.begin_timestamp, h2.hash_slot_count), (2, 100, 12_500, 1));
        // the first entry's time diff is relative to the inherited end timestamp
        assert_eq!(f2.entry(1).unwrap().time_diff, 0);
        let st = IndexState::from_disk(d.path(), g).unwrap();
        assert_eq!((st.resume_phy_offset, st.resume_skip, st.last_full_end_timestamp), (100, 2, 12_500));
        // resuming the same message adds nothing
        let mut w2 = IndexWriter::new(d.path(), g, st, false).unwrap();
        w2.build_index(&req(100, 12_500, "c d")).unwrap();
        assert_eq!((w2.keys_added(), w2.keys_resumed()), (0, 2));
        assert!(w2.new_name(0) > *w2.max_name.as_ref().unwrap());
    }
}
