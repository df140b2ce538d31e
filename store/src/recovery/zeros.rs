//! Where the non-zero bytes of a file end, without walking its unwritten
//! tail byte by byte. Java preallocates every file (1 GiB commitlog, 6 MB
//! consume-queue and 420 MB index files by default), so recovery often looks
//! at hundreds of MiB of zeros.
//!
//! Nothing here changes the answer: holes of a sparse file are skipped
//! without being read (they read as zeros by definition; Java leaves the
//! unwritten part of its files as holes); the data regions are read with
//! `pread`, last chunk first, rather than through the file's mapping, whose
//! page faults read around the touched page (up to `read_ahead_kb`, 8 MiB on
//! some machines) and fill the page cache with zero pages of the holes; each
//! chunk is checked for all-zero 64 KiB at a time, word-wise, before narrowing
//! down inside the last block that holds a non-zero byte.

use std::fs::File;
use std::path::Path;

use crate::error::{Result, StoreError};

/// Bytes checked at once for being all zero.
const BLOCK: usize = 64 * 1024;
/// Granularity of the second, narrowing pass inside a non-zero block.
const LINE: usize = 64;
/// Bytes read at once from a file.
const CHUNK: u64 = 1 << 20;

fn all_zero(b: &[u8]) -> bool {
    let mut words = b.chunks_exact(8);
    // OR-folding without an early exit lets the compiler vectorize the loop
    let acc = words.by_ref().fold(0u64, |a, w| a | u64::from_ne_bytes(w.try_into().expect("8 bytes")));
    acc == 0 && words.remainder().iter().all(|x| *x == 0)
}

/// The last block of `size` bytes (going backwards from `end` down to
/// `from`) that holds a non-zero byte, as `[lo, hi)`.
fn last_block(b: &[u8], from: usize, end: usize, size: usize) -> Option<(usize, usize)> {
    let mut hi = end;
    while hi > from {
        let lo = hi.saturating_sub(size).max(from);
        if !all_zero(&b[lo..hi]) {
            return Some((lo, hi));
        }
        hi = lo;
    }
    None
}

/// Index of the last non-zero byte of `b` at or after `from` (None when
/// `b[from..]` is all zeros or empty).
pub fn last_nonzero(b: &[u8], from: usize) -> Option<usize> {
    if from >= b.len() {
        return None;
    }
    let (lo, hi) = last_block(b, from, b.len(), BLOCK)?;
    let (lo, hi) = last_block(b, lo, hi, LINE).expect("the block holds a non-zero byte");
    b[lo..hi].iter().rposition(|x| *x != 0).map(|i| lo + i)
}

/// Position of the last non-zero byte of the file at `path` in
/// `[from, len)` (`len`: the length recovery looked at), reading only its
/// data regions.
pub fn last_nonzero_in(path: &Path, len: u64, from: u64) -> Result<Option<u64>> {
    if from >= len {
        return Ok(None);
    }
    let file = File::open(path).map_err(|e| StoreError::io(path, e))?;
    let extents = data_extents(&file, from, len).unwrap_or_else(|| vec![(from, len)]);
    let longest = extents.iter().map(|(d, h)| h - d).max().unwrap_or(0);
    let mut buf = vec![0u8; longest.min(CHUNK) as usize];
    for &(d, h) in extents.iter().rev() {
        let mut hi = h;
        while hi > d {
            let lo = hi.saturating_sub(CHUNK).max(d);
            let chunk = &mut buf[..(hi - lo) as usize];
            read_at(&file, chunk, lo).map_err(|e| StoreError::io(path, e))?;
            if let Some(i) = last_nonzero(chunk, 0) {
                return Ok(Some(lo + i as u64));
            }
            hi = lo;
        }
    }
    Ok(None)
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, pos)
}

#[cfg(not(unix))]
fn read_at(file: &File, buf: &mut [u8], pos: u64) -> std::io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = file;
    f.seek(SeekFrom::Start(pos))?;
    f.read_exact(buf)
}

/// The data regions `[start, end)` of `file` within `[from, len)`, from the
/// file system (`SEEK_DATA`/`SEEK_HOLE`); None when it cannot tell, and the
/// caller then reads everything.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn data_extents(file: &File, from: u64, len: u64) -> Option<Vec<(u64, u64)>> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    let seek = |pos: u64, whence| {
        // SAFETY: lseek on a descriptor we own; it only moves the file position
        let r = unsafe { libc::lseek(fd, i64::try_from(pos).ok()?, whence) };
        if r >= 0 {
            Some(Ok(r as u64))
        } else {
            Some(Err(std::io::Error::last_os_error()))
        }
    };
    let mut out = Vec::new();
    let mut pos = from;
    while pos < len {
        let d = match seek(pos, libc::SEEK_DATA)? {
            Ok(d) => d,
            // no data at or after pos: the rest is one hole
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => break,
            Err(_) => return None,
        };
        if d >= len {
            break;
        }
        let h = seek(d, libc::SEEK_HOLE)?.ok()?.min(len);
        if h <= d {
            return None;
        }
        out.push((d, h));
        pos = h;
    }
    Some(out)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn data_extents(_: &File, _: u64, _: u64) -> Option<Vec<(u64, u64)>> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(b: &[u8], from: usize) -> Option<usize> {
        b.iter().rposition(|x| *x != 0).filter(|&i| i >= from)
    }

    #[test]
    fn edge_cases_match_a_byte_by_byte_scan() {
        let n = 3 * BLOCK + 100;
        let mut cases: Vec<(String, Vec<u8>)> =
            vec![("empty".into(), Vec::new()), ("all zeros".into(), vec![0; n]), ("one zero".into(), vec![0])];
        let mut at = |name: &str, len: usize, ones: &[usize]| {
            let mut b = vec![0u8; len];
            for &i in ones {
                b[i] = 0x80;
            }
            cases.push((name.to_string(), b));
        };
        at("non-zero last byte", n, &[n - 1]);
        at("non-zero first byte only", n, &[0]);
        at("zeros start exactly at a block boundary", 2 * BLOCK, &[BLOCK - 1]);
        at("last block begins with the only non-zero byte", 2 * BLOCK, &[BLOCK]);
        at("data ends one byte into a block", n, &[2 * BLOCK]);
        at("data ends one byte before a block", n, &[2 * BLOCK - 1, 5]);
        at("line boundaries", n, &[BLOCK + LINE - 1, BLOCK + LINE]);
        at("shorter than a word", 5, &[3]);
        at("shorter than a line", 70, &[66]);
        at("full block of data", BLOCK, &(0..BLOCK).collect::<Vec<_>>());
        for (name, b) in &cases {
            let mut froms = vec![0, 1, 7, 8, LINE, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, n - 1, n, n + 5];
            froms.retain(|&f| f <= b.len() + 5);
            for from in froms {
                assert_eq!(last_nonzero(b, from), naive(b, from), "{name}, from {from}");
            }
        }
    }

    #[test]
    fn every_position_in_a_small_buffer() {
        for len in [0usize, 1, 9, 63, 64, 65, 200] {
            for one in 0..len {
                let mut b = vec![0u8; len];
                b[one] = 1;
                for from in 0..=len {
                    assert_eq!(last_nonzero(&b, from), naive(&b, from), "len {len}, byte {one}, from {from}");
                }
            }
        }
    }

    #[test]
    fn sparse_and_written_files_give_the_same_answer() {
        use std::io::{Seek, SeekFrom, Write};
        let d = tempfile::tempdir().unwrap();
        let size = 8 * 1024 * 1024u64;
        // (name, data runs (offset, len)); the rest of the file is a hole
        let layouts: &[(&str, &[(u64, usize)])] = &[
            ("no data", &[]),
            ("data at the start", &[(0, 10_000)]),
            ("data in the middle", &[(1 << 20, 3), (3 << 20, 70_000)]),
            ("data at the very end", &[(size - 1, 1)]),
            ("data runs across a block", &[(BLOCK as u64 - 10, 20), (5 << 20, 1)]),
            ("data ends right at a read chunk", &[(CHUNK - 1, 1)]),
            ("data starts right at a read chunk", &[(10, 1), (CHUNK, 1)]),
        ];
        for (name, runs) in layouts {
            let sparse = d.path().join("sparse");
            let dense = d.path().join("dense");
            let mut s = std::fs::File::create(&sparse).unwrap();
            s.set_len(size).unwrap();
            let mut all = vec![0u8; size as usize];
            for &(off, len) in *runs {
                let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8 | 1).collect();
                s.seek(SeekFrom::Start(off)).unwrap();
                s.write_all(&bytes).unwrap();
                all[off as usize..off as usize + len].copy_from_slice(&bytes);
            }
            drop(s);
            std::fs::write(&dense, &all).unwrap();
            for from in [0, 1, BLOCK as u64, CHUNK - 1, CHUNK, CHUNK + 1, (3 << 20) + 5, size - 1, size, size + 1] {
                let want = naive(&all, from as usize).map(|i| i as u64);
                assert_eq!(last_nonzero_in(&sparse, size, from).unwrap(), want, "{name} (sparse), from {from}");
                assert_eq!(last_nonzero_in(&dense, size, from).unwrap(), want, "{name} (written), from {from}");
            }
            // only [from, len) counts, whatever lies past len
            let cut = CHUNK as usize + 5;
            let want = naive(&all[..cut], 0).map(|i| i as u64);
            assert_eq!(last_nonzero_in(&sparse, cut as u64, 0).unwrap(), want, "{name} (sparse), first {cut} bytes");
            assert_eq!(last_nonzero_in(&dense, cut as u64, 0).unwrap(), want, "{name} (written), first {cut} bytes");
            // whatever the file system reports, every written byte lies in a data region
            let ext = data_extents(&File::open(&sparse).unwrap(), 0, size).unwrap_or_else(|| vec![(0, size)]);
            for &(off, len) in *runs {
                let covered = (off..off + len as u64).all(|p| ext.iter().any(|&(a, b)| a <= p && p < b));
                assert!(covered, "{name}: run {off}+{len} outside the data regions {ext:?}");
            }
        }
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("00000000000000000000");
        let e = last_nonzero_in(&p, 10, 0).unwrap_err().to_string();
        assert!(e.contains("00000000000000000000"), "{e}");
        assert_eq!(last_nonzero_in(&p, 10, 10).unwrap(), None, "nothing to read past the end");
    }
}
