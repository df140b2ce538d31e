//! The read side of the consume queues: per queue its min/max offsets (kept
//! current by the dispatch sink) and positional reads of its 20-byte units.
//! Files are read with `pread` (never mapped): the writer on the append thread
//! writes with `pwrite`, so a unit is readable as soon as `max` covers it.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use rmq_store::consume_queue::{decode_unit, list_queues, CqEntry, CQ_UNIT_SIZE};
use rmq_store::mapped_file::{list_mapped_files, offset_to_file_name};
use rmq_store::StoreError;

const UNIT: u64 = CQ_UNIT_SIZE;

/// One `consumequeue/<topic>/<queueId>`.
pub struct Queue {
    dir: PathBuf,
    file_size: u64,
    /// Java `minLogicOffset / 20`.
    min: AtomicI64,
    /// Units written (Java `getMaxOffsetInQueue`).
    max: AtomicI64,
    files: Mutex<BTreeMap<u64, Arc<File>>>,
}

impl Queue {
    fn new(dir: PathBuf, file_size: u64) -> Queue {
        Queue { dir, file_size, min: AtomicI64::new(0), max: AtomicI64::new(0), files: Mutex::new(BTreeMap::new()) }
    }

    pub fn min_offset(&self) -> i64 {
        self.min.load(Ordering::Acquire)
    }
    pub fn max_offset(&self) -> i64 {
        self.max.load(Ordering::Acquire)
    }
    pub(crate) fn set_max(&self, v: i64) {
        self.max.store(v, Ordering::Release);
    }
    pub(crate) fn set_min(&self, v: i64) {
        self.min.store(v, Ordering::Release);
    }

    /// Units per file.
    pub fn units_per_file(&self) -> u64 {
        self.file_size / UNIT
    }

    fn file(&self, start: u64) -> Result<Option<Arc<File>>, StoreError> {
        let mut files = self.files.lock();
        if let Some(f) = files.get(&start) {
            return Ok(Some(f.clone()));
        }
        let p = self.dir.join(offset_to_file_name(start));
        match File::open(&p) {
            Ok(f) => {
                let f = Arc::new(f);
                files.insert(start, f.clone());
                Ok(Some(f))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(p, e)),
        }
    }

    /// Java `getIndexBuffer`: units from `offset` to the end of what is written
    /// in the file holding it, at most `max_units`. Empty when the file is gone.
    pub fn read_from(&self, offset: i64, max_units: u64) -> Result<Vec<CqEntry>, StoreError> {
        let max = self.max_offset();
        if offset < 0 || offset >= max {
            return Ok(Vec::new());
        }
        let byte = offset as u64 * UNIT;
        let start = byte - byte % self.file_size;
        let end = (start + self.file_size).min(max as u64 * UNIT);
        let n = ((end - byte) / UNIT).min(max_units);
        let Some(f) = self.file(start)? else { return Ok(Vec::new()) };
        let mut buf = vec![0u8; (n * UNIT) as usize];
        let got = read_full_at(&f, &mut buf, byte - start).map_err(|e| StoreError::io(self.path_of(start), e))?;
        Ok(buf[..got - got % UNIT as usize]
            .chunks_exact(UNIT as usize)
            .enumerate()
            .filter_map(|(i, u)| decode_unit(u, offset as u64 + i as u64))
            .collect())
    }

    /// The unit at `offset`, if written.
    pub fn get(&self, offset: i64) -> Result<Option<CqEntry>, StoreError> {
        Ok(self.read_from(offset, 1)?.into_iter().next())
    }

    /// Files deleted by the expired-file cleanup: drop their open handles.
    pub(crate) fn forget_files(&self, deleted: &[PathBuf]) {
        if !deleted.is_empty() {
            self.files.lock().retain(|start, _| !deleted.contains(&self.path_of(*start)));
        }
    }

    fn path_of(&self, start: u64) -> PathBuf {
        self.dir.join(offset_to_file_name(start))
    }

    /// Drops units pointing at or past `phy` (the commitlog was cut there):
    /// zeroes them, deletes later files, returns the new max when it moved.
    pub(crate) fn truncate_phy(&self, phy: i64) -> Result<Option<i64>, StoreError> {
        let (min, max) = (self.min_offset(), self.max_offset());
        // units are in commitlog order: the first unit at or past `phy`
        let (mut lo, mut hi) = (min, max);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.get(mid)? {
                Some(e) if e.physical_offset < phy => lo = mid + 1,
                _ => hi = mid,
            }
        }
        if lo >= max {
            return Ok(None);
        }
        self.files.lock().clear();
        let byte = lo as u64 * UNIT;
        for (start, p) in list_mapped_files(&self.dir)? {
            if start > byte - byte % self.file_size {
                std::fs::remove_file(&p).map_err(|e| StoreError::io(&p, e))?;
            } else if start + self.file_size > byte {
                let f = std::fs::OpenOptions::new().write(true).open(&p).map_err(|e| StoreError::io(&p, e))?;
                let zeros = vec![0u8; (start + self.file_size - byte) as usize];
                f.write_all_at(&zeros, byte - start).map_err(|e| StoreError::io(&p, e))?;
            }
        }
        self.set_max(lo);
        if self.min_offset() > lo {
            self.set_min(lo);
        }
        Ok(Some(lo))
    }
}

fn read_full_at(f: &File, buf: &mut [u8], at: u64) -> std::io::Result<usize> {
    let mut done = 0;
    while done < buf.len() {
        match f.read_at(&mut buf[done..], at + done as u64) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// Bounds of one queue on disk: `(min, max)` in units. `min_phy` is the
/// commitlog's min offset (Java `correctMinOffset`: the first unit of the first
/// file pointing at or after it).
fn bounds_from_disk(dir: &Path, file_size: u64, min_phy: i64) -> Result<(i64, i64), StoreError> {
    let files = list_mapped_files(dir)?;
    let Some((first_start, first)) = files.first().cloned() else { return Ok((0, 0)) };
    let units = |p: &Path| -> Result<Vec<CqEntry>, StoreError> {
        let b = std::fs::read(p).map_err(|e| StoreError::io(p, e))?;
        Ok(b.chunks_exact(UNIT as usize).take((file_size / UNIT) as usize).filter_map(|u| decode_unit(u, 0)).collect())
    };
    // max: valid units of the last file holding any (recovery zeroed the rest)
    let mut max = 0i64;
    for (start, p) in files.iter().rev() {
        let n = units(p)?.iter().take_while(|e| e.is_valid()).count() as u64;
        if n > 0 || files.len() == 1 {
            max = ((start + n * UNIT) / UNIT) as i64;
            break;
        }
        // an empty last file: the queue ends where it starts
        max = max.max((start / UNIT) as i64);
    }
    let mut min = (first_start / UNIT) as i64;
    for (i, e) in units(&first)?.iter().enumerate() {
        if !e.is_valid() {
            break;
        }
        if e.physical_offset >= min_phy {
            min = ((first_start + i as u64 * UNIT) / UNIT) as i64;
            break;
        }
    }
    Ok((min.min(max), max))
}

/// Every queue of the store, created on first use.
pub struct QueueTable {
    root: PathBuf,
    file_size: u64,
    queues: RwLock<HashMap<String, HashMap<i32, Arc<Queue>>>>,
}

impl QueueTable {
    /// Loads the bounds of every queue under `root` (after recovery).
    pub fn load(root: &Path, file_size: u64, min_phy: i64) -> Result<QueueTable, StoreError> {
        let t = QueueTable { root: root.to_path_buf(), file_size, queues: RwLock::new(HashMap::new()) };
        for (topic, qid, dir) in list_queues(root)? {
            let (min, max) = bounds_from_disk(&dir, file_size, min_phy)?;
            let q = t.get_or_create(&topic, qid);
            q.set_min(min);
            q.set_max(max);
        }
        Ok(t)
    }

    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// The `consumequeue` directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn find(&self, topic: &str, queue_id: i32) -> Option<Arc<Queue>> {
        self.queues.read().get(topic).and_then(|q| q.get(&queue_id)).cloned()
    }

    pub fn get_or_create(&self, topic: &str, queue_id: i32) -> Arc<Queue> {
        if let Some(q) = self.find(topic, queue_id) {
            return q;
        }
        let mut all = self.queues.write();
        all.entry(topic.to_string())
            .or_default()
            .entry(queue_id)
            .or_insert_with(|| Arc::new(Queue::new(self.root.join(topic).join(queue_id.to_string()), self.file_size)))
            .clone()
    }

    /// `(topic, queueId, next offset)` of every queue (the writer's queue offsets).
    pub fn next_offsets(&self) -> Vec<(String, i32, i64)> {
        let all = self.queues.read();
        let mut v = Vec::new();
        for (t, qs) in all.iter() {
            for (id, q) in qs {
                v.push((t.clone(), *id, q.max_offset()));
            }
        }
        v
    }

    /// Queues of a topic (admin and stats).
    pub fn queues_of(&self, topic: &str) -> Vec<(i32, Arc<Queue>)> {
        let mut v: Vec<_> =
            self.queues.read().get(topic).map(|q| q.iter().map(|(k, v)| (*k, v.clone())).collect()).unwrap_or_default();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    /// Every queue, for a truncation.
    pub fn all(&self) -> Vec<(String, i32, Arc<Queue>)> {
        let all = self.queues.read();
        all.iter().flat_map(|(t, qs)| qs.iter().map(move |(id, q)| (t.clone(), *id, q.clone()))).collect()
    }

    pub fn remove_topic(&self, topic: &str) {
        self.queues.write().remove(topic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_store::consume_queue::encode_unit;

    #[test]
    fn bounds_and_reads_follow_the_files() {
        let d = tempfile::tempdir().unwrap();
        let q = d.path().join("T").join("0");
        std::fs::create_dir_all(&q).unwrap();
        // file 0: placeholder + 2 units (file size 5 units), file 100: 1 unit
        let mut b = Vec::new();
        b.extend_from_slice(&encode_unit(0, i32::MAX, 0));
        for i in 0..4 {
            b.extend_from_slice(&encode_unit(100 + i * 10, 10, i));
        }
        std::fs::write(q.join(offset_to_file_name(0)), &b).unwrap();
        let mut b2 = encode_unit(200, 10, 9).to_vec();
        b2.resize(100, 0);
        std::fs::write(q.join(offset_to_file_name(100)), &b2).unwrap();
        let t = QueueTable::load(d.path(), 100, 100).unwrap();
        let qq = t.find("T", 0).unwrap();
        assert_eq!((qq.min_offset(), qq.max_offset()), (1, 6));
        let r = qq.read_from(3, 100).unwrap();
        assert_eq!(r.len(), 2, "stops at the end of the file holding the offset");
        assert_eq!(r[0].queue_offset, 3);
        assert_eq!(qq.read_from(5, 100).unwrap()[0].physical_offset, 200);
        assert!(qq.read_from(6, 100).unwrap().is_empty());
        let t0 = QueueTable::load(d.path(), 100, 0).unwrap();
        assert_eq!(t0.find("T", 0).unwrap().min_offset(), 0, "Java counts the placeholder when the log starts at 0");
    }
}
