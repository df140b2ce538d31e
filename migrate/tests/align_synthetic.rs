//! `align` on synthetic pairs: divergence across file boundaries and BLANK
//! fillers, empty slaves, forks with different record sizes, the work done
//! against the size of the stores, and the refusals.

mod align_util;
mod common;

use std::io::BufRead;
use std::path::Path;
use std::process::{Command, Stdio};

use align_util::*;
use common::*;

const FS: u64 = 64 * 1024;
/// Env var that turns `lock_holder` into a process holding a store's lock.
const HOLD_LOCK: &str = "RMQ_TEST_HOLD_LOCK";

struct Pair {
    t: tempfile::TempDir,
}

impl Pair {
    /// Writes both stores (with a spare next file each) and builds their
    /// consume queues, index and checkpoint.
    fn new(master: &Synth, slave: Option<&Synth>) -> Pair {
        let t = tempfile::tempdir().unwrap();
        master.write(&t.path().join("master"), false);
        dispatch(&t.path().join("master"));
        master.write_spare(&t.path().join("master"));
        match slave {
            Some(s) => {
                s.write(&t.path().join("slave"), false);
                dispatch(&t.path().join("slave"));
                s.write_spare(&t.path().join("slave"));
            }
            None => {
                std::fs::create_dir_all(t.path().join("slave")).unwrap();
                std::fs::copy(t.path().join("master/broker.conf"), t.path().join("slave/broker.conf")).unwrap();
            }
        }
        Pair { t }
    }
    fn m(&self) -> std::path::PathBuf {
        self.t.path().join("master")
    }
    fn s(&self) -> std::path::PathBuf {
        self.t.path().join("slave")
    }

    /// Dry run, apply, checks: verify passes, the slave's commitlog holds the
    /// master's bytes (files the slave lacks are the master's empty spare),
    /// and a second apply writes nothing.
    fn fix(&self, status: &str, prefix: u64, master_max: u64, slave_max: u64) -> serde_json::Value {
        let (code, v) = align(&self.m(), &self.s(), &[]);
        assert_eq!(code, 1, "{v}");
        assert_eq!(v["status"], status, "{v}");
        assert_eq!(
            (v["common_prefix"].as_u64(), v["master_max"].as_u64(), v["slave_max"].as_u64()),
            (Some(prefix), Some(master_max), Some(slave_max)),
            "{v}"
        );
        let bk = self.t.path().join("bk");
        let (code, out) = align(&self.m(), &self.s(), &["--apply", "--backup", bk.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}");
        let (code, vv) = verify_json(&self.s());
        assert_eq!(code, 0, "{vv}");
        assert_eq!(vv["max_physical_offset"], master_max);
        let (m, s) = (commitlog(&self.m()), commitlog(&self.s()));
        for (name, bytes) in &m {
            match s.get(name) {
                Some(b) => assert!(b == bytes, "{name} differs"),
                None => assert!(bytes.iter().all(|x| *x == 0), "slave lacks {name}"),
            }
        }
        assert!(s.keys().all(|k| m.contains_key(k)), "slave has files the master lacks: {:?}", s.keys());
        let cq = |d: &Path| snapshot(&d.join("consumequeue"));
        assert_same(&cq(&self.s()), &cq(&self.m()), "consume queues");
        let before = snapshot(&self.s());
        let times = mtimes(&self.s());
        let (code, v2) = align(&self.m(), &self.s(), &["--apply"]);
        assert_eq!((code, v2["status"].as_str()), (0, Some("aligned")), "{v2}");
        assert_same(&snapshot(&self.s()), &before, "second apply");
        assert_eq!(mtimes(&self.s()), times);
        v
    }
}

#[test]
fn slave_ahead_into_later_files_is_cut_back_into_the_masters_last_file() {
    let mut m = Synth::new(FS);
    m.fill(150);
    let mut s = m.clone();
    s.fill(300);
    assert!(s.end() / FS >= m.end() / FS + 2, "the slave runs two files further");
    let p = Pair::new(&m, Some(&s));
    let v = p.fix("slave_ahead", m.end(), m.end(), s.end());
    assert_eq!(v["removed_messages"].as_array().unwrap().len(), 300);
    let tr = v["steps"].as_array().unwrap().iter().find(|x| x["action"] == "truncate").unwrap();
    assert!(tr["delete"].as_array().unwrap().len() >= 3, "later files and the spare go: {tr}");
}

#[test]
fn slave_behind_by_several_files_gets_them_created() {
    let mut s = Synth::new(FS);
    s.fill(50);
    let mut m = s.clone();
    m.fill(400);
    let p = Pair::new(&m, Some(&s));
    let v = p.fix("slave_behind", s.end(), m.end(), s.end());
    assert_eq!(v["copied_messages"], 400);
    assert_eq!(v["divergence"], m.end() - s.end());
}

#[test]
fn an_empty_slave_receives_the_whole_master() {
    let mut m = Synth::new(FS);
    m.fill(120);
    // no commitlog at all
    let p = Pair::new(&m, None);
    p.fix("slave_behind", 0, m.end(), 0);
    // a commitlog of one pre-allocated, never written file
    let p = Pair::new(&m, None);
    std::fs::create_dir_all(p.s().join("commitlog")).unwrap();
    std::fs::write(p.s().join("commitlog/00000000000000000000"), vec![0u8; FS as usize]).unwrap();
    p.fix("slave_behind", 0, m.end(), 0);
}

/// A store whose next message does not fit its last file, and that message.
fn at_file_end() -> (Synth, usize) {
    let mut s = Synth::new(FS);
    let len = 900;
    while !s.would_roll(len) {
        s.msg(1, len);
    }
    (s, len)
}

#[test]
fn a_blank_filler_and_the_next_file_are_copied_or_removed() {
    // master: ... last message, BLANK, one message in the next file; slave stops before the BLANK
    let (s, len) = at_file_end();
    let mut m = s.clone();
    let off = m.msg(2, len);
    assert_eq!(off % FS, 0);
    let p = Pair::new(&m, Some(&s));
    let v = p.fix("slave_behind", s.end(), m.end(), s.end());
    assert_eq!(v["copied_messages"], 1);
    // and the other way round: the slave holds the BLANK and the next file
    let p = Pair::new(&s, Some(&m));
    let v = p.fix("slave_ahead", s.end(), s.end(), m.end());
    assert_eq!(v["removed_messages"].as_array().unwrap().len(), 1);
}

#[test]
fn a_fork_with_other_record_sizes_is_found_at_the_last_common_record() {
    let mut c = Synth::new(FS);
    c.fill(170);
    let (mut m, mut s) = (c.clone(), c.clone());
    m.fill(90);
    s.port = 20911;
    for i in 0..40 {
        s.msg(i % 3, 333 + i as usize * 11);
    }
    let p = Pair::new(&m, Some(&s));
    let v = p.fix("forked", c.end(), m.end(), s.end());
    assert_eq!(v["removed_messages"].as_array().unwrap().len(), 40);
    assert_eq!(v["copied_messages"], 90);
}

#[test]
fn a_record_image_inside_a_body_does_not_mislead_the_search() {
    let mut c = Synth::new(1 << 20);
    c.fill(200);
    // a 200 KiB body holding, 16 bytes in, a valid record that names its own position
    let pos = c.end();
    assert!(!c.would_roll(200 << 10));
    let fake_at = pos + 88 + 16;
    let image = c.record_image(fake_at, 500);
    let mut body = vec![7u8; 200 << 10];
    body[16..16 + image.len()].copy_from_slice(&image);
    assert_eq!(c.msg_with_body(1, body), pos);
    c.fill(3);
    let (mut m, mut s) = (c.clone(), c.clone());
    m.fill(10);
    s.port = 20911;
    s.fill(12);
    let p = Pair::new(&m, Some(&s));
    // the probe 64 KiB below the end lands in the big body and syncs on the image;
    // the walks from the wrong prefix miss the ends, and the full comparison takes over
    let (code, v) = align(&p.m(), &p.s(), &[]);
    assert_eq!((code, v["status"].as_str(), v["common_prefix"].as_u64()), (1, Some("forked"), Some(c.end())), "{v}");
    assert_eq!(v["search"]["compared_from"], 0, "{v}");
    p.fix("forked", c.end(), m.end(), s.end());
}

#[test]
fn the_work_done_grows_with_the_divergence_not_with_the_stores() {
    let mut c = Synth::new(1 << 20);
    c.fill(24_000);
    let size = c.end();
    assert!(size > 14 << 20, "{size}");
    let (mut m, mut s) = (c.clone(), c.clone());
    m.fill(30);
    s.port = 20911;
    s.fill(30);
    let p = Pair::new(&m, Some(&s));
    let (code, v) = align(&p.m(), &p.s(), &[]);
    assert_eq!((code, v["status"].as_str(), v["common_prefix"].as_u64()), (1, Some("forked"), Some(c.end())), "{v}");
    let examined = v["examined_bytes"].as_u64().unwrap();
    let diverged = m.end() + s.end() - 2 * c.end();
    assert!(examined < 8 * diverged + (256 << 10), "examined {examined} bytes for {diverged} diverged bytes");
    // without consume queues the end walks start at the last file's start: bounded by the file size
    for d in [p.m(), p.s()] {
        std::fs::remove_dir_all(d.join("consumequeue")).unwrap();
    }
    let (_, v) = align(&p.m(), &p.s(), &[]);
    assert_eq!(v["common_prefix"].as_u64(), Some(c.end()));
    let examined = v["examined_bytes"].as_u64().unwrap();
    assert!(examined < 2 * (1 << 20) + 8 * diverged + (256 << 10), "examined {examined} of {size}");
}

#[test]
fn stores_that_cannot_be_aligned_are_refused_with_the_reason() {
    let mut m = Synth::new(FS);
    m.fill(60);
    let p = Pair::new(&m, Some(&m));
    let (code, out) = run(&["align", "--master", p.m().to_str().unwrap(), "--slave", p.m().to_str().unwrap()]);
    assert_eq!(code, 2, "{out}");
    // a master without messages would remove everything from the slave
    let e = p.t.path().join("empty");
    std::fs::create_dir_all(&e).unwrap();
    std::fs::copy(p.m().join("broker.conf"), e.join("broker.conf")).unwrap();
    let (code, _) = run(&["align", "--master", e.to_str().unwrap(), "--slave", p.s().to_str().unwrap()]);
    assert_eq!(code, 2);
    // other file sizes: offsets do not line up
    let other = p.t.path().join("other");
    let mut o = Synth::new(FS * 2);
    o.fill(60);
    o.write(&other, false);
    let (code, _) = run(&["align", "--master", other.to_str().unwrap(), "--slave", p.s().to_str().unwrap()]);
    assert_eq!(code, 2);
}

#[test]
fn a_store_with_an_abort_file_is_refused_unless_forced() {
    let mut s = Synth::new(FS);
    s.fill(40);
    let mut m = s.clone();
    m.fill(40);
    for side in ["slave", "master"] {
        let p = Pair::new(&m, Some(&s));
        std::fs::write(p.t.path().join(side).join("abort"), b"").unwrap();
        let before = snapshot(p.t.path());
        let (code, _) =
            run(&["align", "--apply", "--master", p.m().to_str().unwrap(), "--slave", p.s().to_str().unwrap()]);
        assert_eq!(code, 2, "{side} with an abort file");
        assert_same(&snapshot(p.t.path()), &before, "refused: nothing changed");
        let (code, v) = align(&p.m(), &p.s(), &["--force"]);
        assert_eq!((code, v["status"].as_str()), (1, Some("slave_behind")), "{v}");
    }
}

/// Not a test on its own: with `RMQ_TEST_HOLD_LOCK=<dir>` it holds that
/// store's lock (as a broker does) until its stdin closes.
#[test]
fn lock_holder() {
    let Ok(dir) = std::env::var(HOLD_LOCK) else {
        return;
    };
    let _l = rmq_store::lock::StoreLock::acquire(Path::new(&dir)).unwrap();
    println!("locked");
    let mut s = String::new();
    let _ = std::io::stdin().read_line(&mut s);
}

#[test]
fn a_store_locked_by_a_running_broker_is_refused() {
    let mut s = Synth::new(FS);
    s.fill(40);
    let mut m = s.clone();
    m.fill(40);
    let p = Pair::new(&m, Some(&s));
    for side in [p.s(), p.m()] {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "lock_holder", "--nocapture", "--test-threads=1"])
            .env(HOLD_LOCK, &side)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut rd = std::io::BufReader::new(child.stdout.take().unwrap());
        while !line.contains("locked") {
            line.clear();
            assert!(rd.read_line(&mut line).unwrap() > 0, "lock holder exited early");
        }
        let before = snapshot(p.t.path());
        let (code, out) =
            run(&["align", "--apply", "--master", p.m().to_str().unwrap(), "--slave", p.s().to_str().unwrap()]);
        assert_eq!(code, 2, "{out}");
        assert_same(&snapshot(p.t.path()), &before, "refused: nothing changed");
        drop(child.stdin.take());
        let _ = child.wait();
    }
    let (code, v) = align(&p.m(), &p.s(), &[]);
    assert_eq!(code, 1, "unlocked now: {v}");
}
