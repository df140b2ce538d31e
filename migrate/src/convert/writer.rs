//! Laying records out as a plain commitlog: files of `mappedFileSizeCommitLog`
//! bytes named by their start offset, each record placed like Java's
//! `DefaultAppendMessageCallback.doAppend` (when `len + 8` exceeds what is
//! left, an 8-byte BLANK `[int remaining][int BLANK_MAGIC_CODE]` closes the
//! file and the record opens the next one), and the offset map next to it.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use rmq_store::mapped_file::offset_to_file_name;
use rmq_store::record::{encode_blank, BLANK_RECORD_LEN};

use super::error::{ConvertError, Result};

const WRITE_BUFFER: usize = 8 << 20;

struct Current {
    start: u64,
    path: PathBuf,
    /// None in a dry run.
    out: Option<BufWriter<File>>,
    pos: u64,
}

/// Sequential commitlog writer; `dry` computes placements only.
pub struct CommitlogWriter {
    dir: PathBuf,
    file_size: u64,
    dry: bool,
    cur: Option<Current>,
    /// Start of the file the next record opens.
    next_start: u64,
    /// Offset where the next record would go.
    end: u64,
    created: Vec<PathBuf>,
    blanks: u64,
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(|e| ConvertError::io(dir, e))
}

impl CommitlogWriter {
    /// Files start at `base` (a file boundary of the converted log).
    pub fn new(dir: &Path, base: u64, file_size: u64, dry: bool) -> Result<Self> {
        if file_size <= BLANK_RECORD_LEN as u64 || file_size > i32::MAX as u64 + 1 {
            return Err(ConvertError::refused(dir, format!("commitlog file size {file_size} is not usable")));
        }
        if !dry {
            std::fs::create_dir_all(dir).map_err(|e| ConvertError::io(dir, e))?;
        }
        Ok(CommitlogWriter {
            dir: dir.to_path_buf(),
            file_size,
            dry,
            cur: None,
            next_start: base,
            end: base,
            created: Vec::new(),
            blanks: 0,
        })
    }

    /// Files created so far.
    pub fn created(&self) -> &[PathBuf] {
        &self.created
    }

    /// BLANK markers written.
    pub fn blanks(&self) -> u64 {
        self.blanks
    }

    /// Where a record of `len` bytes goes; opens the next file (after a
    /// BLANK in the current one) when it does not fit.
    pub fn place(&mut self, len: u64) -> Result<u64> {
        if len + BLANK_RECORD_LEN as u64 > self.file_size {
            let msg = format!("a record of {len} bytes does not fit a commitlog file of {} bytes", self.file_size);
            return Err(ConvertError::refused(&self.dir, msg));
        }
        let fits = self.cur.as_ref().is_some_and(|c| len + BLANK_RECORD_LEN as u64 <= self.file_size - c.pos);
        if !fits {
            self.close_current(true)?;
            self.open_next()?;
        }
        let c = self.cur.as_ref().expect("opened");
        Ok(c.start + c.pos)
    }

    /// Appends a record at the position [`Self::place`] returned.
    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        let c = self.cur.as_mut().expect("place() first");
        if let Some(out) = c.out.as_mut() {
            out.write_all(bytes).map_err(|e| ConvertError::io(&c.path, e))?;
        }
        c.pos += bytes.len() as u64;
        self.end = c.start + c.pos;
        Ok(())
    }

    fn open_next(&mut self) -> Result<()> {
        let start = self.next_start;
        let path = self.dir.join(offset_to_file_name(start));
        let out = if self.dry {
            None
        } else {
            let f = File::options()
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .map_err(|e| ConvertError::io(&path, e))?;
            // full-length files, as Java's mapped files; the unwritten tail reads as zeros
            f.set_len(self.file_size).map_err(|e| ConvertError::io(&path, e))?;
            Some(BufWriter::with_capacity(WRITE_BUFFER, f))
        };
        self.created.push(path.clone());
        self.next_start = start + self.file_size;
        self.cur = Some(Current { start, path, out, pos: 0 });
        Ok(())
    }

    /// Ends the current file, with a BLANK when another file follows.
    fn close_current(&mut self, blank: bool) -> Result<()> {
        let Some(mut c) = self.cur.take() else { return Ok(()) };
        let remaining = self.file_size - c.pos;
        if blank && remaining >= BLANK_RECORD_LEN as u64 {
            let mut b = Vec::with_capacity(BLANK_RECORD_LEN);
            encode_blank(remaining as i32, &mut b);
            if let Some(out) = c.out.as_mut() {
                out.write_all(&b).map_err(|e| ConvertError::io(&c.path, e))?;
            }
            self.blanks += 1;
        }
        if let Some(out) = c.out {
            let f = out.into_inner().map_err(|e| ConvertError::io(&c.path, e.into_error()))?;
            f.sync_all().map_err(|e| ConvertError::io(&c.path, e))?;
        }
        Ok(())
    }

    /// Flushes and syncs everything; returns the end offset.
    pub fn finish(mut self) -> Result<u64> {
        self.close_current(false)?;
        if !self.dry && !self.created.is_empty() {
            sync_dir(&self.dir)?;
        }
        Ok(self.end)
    }
}

/// One line of the offset map.
pub struct MapLine<'a> {
    pub dledger_index: i64,
    pub dledger_term: i64,
    pub old_pos: u64,
    pub old_offset: u64,
    pub old_offset_msg_id: &'a str,
    pub new_offset: u64,
    pub new_offset_msg_id: &'a str,
    pub topic: &'a str,
    pub queue_id: i32,
    pub queue_offset: i64,
    pub size: usize,
}

/// JSON lines, one object per converted message, in log order.
pub struct MapWriter {
    path: PathBuf,
    out: Option<BufWriter<File>>,
    lines: u64,
}

impl MapWriter {
    pub fn create(path: &Path, dry: bool) -> Result<Self> {
        let out = if dry {
            None
        } else {
            if let Some(p) = path.parent() {
                std::fs::create_dir_all(p).map_err(|e| ConvertError::io(p, e))?;
            }
            let f = File::create(path).map_err(|e| ConvertError::io(path, e))?;
            Some(BufWriter::with_capacity(1 << 20, f))
        };
        Ok(MapWriter { path: path.to_path_buf(), out, lines: 0 })
    }

    pub fn write(&mut self, l: &MapLine) -> Result<()> {
        self.lines += 1;
        let Some(out) = self.out.as_mut() else { return Ok(()) };
        let topic = serde_json::to_string(l.topic).expect("a string serializes");
        writeln!(
            out,
            "{{\"dledger_index\":{},\"dledger_term\":{},\"old_pos\":{},\"old_offset\":{},\"old_offset_msg_id\":\"{}\",\
             \"new_offset\":{},\"new_offset_msg_id\":\"{}\",\"topic\":{topic},\"queue_id\":{},\"queue_offset\":{},\"size\":{}}}",
            l.dledger_index,
            l.dledger_term,
            l.old_pos,
            l.old_offset,
            l.old_offset_msg_id,
            l.new_offset,
            l.new_offset_msg_id,
            l.queue_id,
            l.queue_offset,
            l.size
        )
        .map_err(|e| ConvertError::io(&self.path, e))
    }

    pub fn finish(self) -> Result<u64> {
        if let Some(out) = self.out {
            let f = out.into_inner().map_err(|e| ConvertError::io(&self.path, e.into_error()))?;
            f.sync_all().map_err(|e| ConvertError::io(&self.path, e))?;
        }
        Ok(self.lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_store::record::BLANK_MAGIC_CODE;

    #[test]
    fn blank_rule_and_file_naming() {
        let d = tempfile::tempdir().unwrap();
        let mut w = CommitlogWriter::new(d.path(), 200, 100, false).unwrap();
        assert_eq!(w.place(60).unwrap(), 200);
        w.write(&[1; 60]).unwrap();
        // 60 + 32 + 8 = 100: still fits
        assert_eq!(w.place(32).unwrap(), 260);
        w.write(&[2; 32]).unwrap();
        // 8 bytes left: a BLANK of 8, then the next file
        assert_eq!(w.place(1).unwrap(), 300);
        w.write(&[3]).unwrap();
        assert!(w.place(93).is_err());
        assert_eq!(w.blanks(), 1);
        assert_eq!(w.finish().unwrap(), 301);
        let f0 = std::fs::read(d.path().join(offset_to_file_name(200))).unwrap();
        assert_eq!(f0.len(), 100);
        assert_eq!(&f0[92..96], &8i32.to_be_bytes());
        assert_eq!(&f0[96..100], &BLANK_MAGIC_CODE.to_be_bytes());
        let f1 = std::fs::read(d.path().join(offset_to_file_name(300))).unwrap();
        assert_eq!((f1.len(), f1[0], f1[1]), (100, 3, 0));
    }

    #[test]
    fn dry_run_writes_nothing() {
        let d = tempfile::tempdir().unwrap();
        let mut w = CommitlogWriter::new(&d.path().join("cl"), 0, 100, true).unwrap();
        w.place(95).unwrap_err();
        assert_eq!(w.place(50).unwrap(), 0);
        w.write(&[0; 50]).unwrap();
        assert_eq!(w.place(50).unwrap(), 100);
        w.write(&[0; 50]).unwrap();
        assert_eq!(w.finish().unwrap(), 150);
        assert!(!d.path().join("cl").exists());
    }
}
