//! `rmq-migrate inspect`: what a store contains.

use std::collections::BTreeMap;
use std::io::Write;

use rmq_store::consume_queue::{list_queues, ConsumeQueue, CQ_UNIT_SIZE};
use rmq_store::index::{list_index_files, IndexFile, IndexHeader};
use rmq_store::mapped_file::MappedFileQueue;
use rmq_store::record::MessageVersion;
use rmq_store::store_dir::{AbortState, LockState};
use rmq_store::Checkpoint;
use serde::Serialize;

use crate::cli::InspectArgs;
use crate::progress::Progress;
use crate::report::Issue;
use crate::source::{ItemKind, Store};

#[derive(Debug, Serialize)]
pub struct FileInfo {
    pub path: String,
    pub start_offset: u64,
    pub size: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct QueueInfo {
    /// From the commitlog scan.
    pub messages: u64,
    pub min_queue_offset: Option<i64>,
    pub max_queue_offset: Option<i64>,
    /// From the consume queue files (min = first unit, max = one past the last).
    pub cq_min_offset: Option<u64>,
    pub cq_max_offset: Option<u64>,
    pub cq_units: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct IndexInfo {
    pub path: String,
    pub size: u64,
    pub header: Option<IndexHeader>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DLedgerInfo {
    pub dir: String,
    pub data_files: Vec<FileInfo>,
    pub index_files: Vec<FileInfo>,
    pub committed_index: Option<i64>,
    pub end_index: Option<i64>,
    pub curr_term: Option<i64>,
    pub vote_leader: Option<String>,
    pub entries: u64,
    pub first_index: Option<i64>,
    pub last_index: Option<i64>,
    pub last_term: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct InspectReport {
    pub dir: String,
    pub layout: String,
    pub versions: Vec<String>,
    pub commitlog_dirs: Vec<String>,
    pub commitlog_file_size: u64,
    pub commitlog_files: Vec<FileInfo>,
    pub dledger: Option<DLedgerInfo>,
    pub min_physical_offset: u64,
    pub max_physical_offset: u64,
    pub messages: u64,
    pub blanks: u64,
    pub topics: BTreeMap<String, BTreeMap<i32, QueueInfo>>,
    pub index_files: Vec<IndexInfo>,
    pub checkpoint: Option<Checkpoint>,
    pub checkpoint_error: Option<String>,
    pub abort: AbortState,
    pub lock: LockState,
    pub config_files: Vec<String>,
    pub broker_conf: Option<BTreeMap<String, String>>,
    pub problems: Vec<Issue>,
}

fn files_of(store: &Store, q: &MappedFileQueue) -> Vec<FileInfo> {
    q.files()
        .iter()
        .map(|f| FileInfo { path: store.rel(f.path()), start_offset: f.file_from_offset(), size: f.len() })
        .collect()
}

pub fn inspect_store(store: &Store) -> InspectReport {
    let progress = Progress::bytes(store.total_bytes(), "inspect");
    let mut topics: BTreeMap<String, BTreeMap<i32, QueueInfo>> = BTreeMap::new();
    let mut versions = std::collections::BTreeSet::new();
    let mut dl_stats: (u64, Option<i64>, Option<i64>, Option<i64>) = (0, None, None, None);
    let outcome = store.scan(&|p| progress.set(p), &mut |item| {
        if let ItemKind::Message(m) = &item.kind {
            versions.insert(match m.version {
                MessageVersion::V1 => "V1",
                MessageVersion::V2 => "V2",
            });
            let q = topics.entry(m.topic.clone()).or_default().entry(m.queue_id).or_default();
            q.messages += 1;
            q.min_queue_offset = Some(q.min_queue_offset.map_or(m.queue_offset, |v| v.min(m.queue_offset)));
            q.max_queue_offset = Some(q.max_queue_offset.map_or(m.queue_offset, |v| v.max(m.queue_offset)));
            if let Some(h) = item.dledger {
                dl_stats.0 += 1;
                dl_stats.1.get_or_insert(h.index);
                dl_stats.2 = Some(h.index);
                dl_stats.3 = Some(h.term);
            }
        }
    });
    progress.finish();
    let mut problems = outcome.issues;
    if let Ok(list) = list_queues(&store.dir.consume_queue_dir()) {
        for (topic, qid, dir) in list {
            match ConsumeQueue::open(&dir, &topic, qid, store.dir.consume_queue_file_size()) {
                Ok(cq) => {
                    let (entries, _) = cq.read_all();
                    let q = topics.entry(topic).or_default().entry(qid).or_default();
                    q.cq_units = Some(entries.len() as u64);
                    q.cq_min_offset =
                        Some(entries.first().map(|e| e.queue_offset).unwrap_or(cq.files().min_offset() / CQ_UNIT_SIZE));
                    q.cq_max_offset = Some(
                        entries.last().map(|e| e.queue_offset + 1).unwrap_or(cq.files().min_offset() / CQ_UNIT_SIZE),
                    );
                }
                Err(e) => problems.push(store.issue_from(&e)),
            }
        }
    }
    let (slots, num) = store.dir.index_geometry();
    let index_files = list_index_files(&store.dir.index_dir())
        .unwrap_or_default()
        .into_iter()
        .map(|p| {
            let size = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
            match IndexFile::open(&p, slots, num) {
                Ok(f) => IndexInfo { path: store.rel(&p), size, header: Some(*f.header()), error: None },
                Err(e) => IndexInfo { path: store.rel(&p), size, header: None, error: Some(e.to_string()) },
            }
        })
        .collect();
    let cp_path = store.dir.checkpoint_path();
    let (checkpoint, checkpoint_error) = if cp_path.exists() {
        match Checkpoint::read(&cp_path) {
            Ok(c) => (Some(c), None),
            Err(e) => (None, Some(e.to_string())),
        }
    } else {
        (None, None)
    };
    let dledger = store.dledger.as_ref().map(|d| DLedgerInfo {
        dir: store.rel(d.dir()),
        data_files: files_of(store, d.data()),
        index_files: files_of(store, d.index()),
        committed_index: d.checkpoint().and_then(|c| c.committed_index),
        end_index: d.checkpoint().and_then(|c| c.end_index),
        curr_term: d.term().and_then(|t| t.curr_term),
        vote_leader: d.term().and_then(|t| t.vote_leader.clone()),
        entries: dl_stats.0,
        first_index: dl_stats.1,
        last_index: dl_stats.2,
        last_term: dl_stats.3,
    });
    InspectReport {
        dir: store.root().display().to_string(),
        layout: store.format().to_string(),
        versions: versions.into_iter().map(String::from).collect(),
        commitlog_dirs: store.dir.commitlog_dirs().iter().map(|p| store.rel(p)).collect(),
        commitlog_file_size: store.commitlog.queue().file_size(),
        commitlog_files: files_of(store, store.commitlog.queue()),
        dledger,
        min_physical_offset: store.min_physical_offset(),
        max_physical_offset: outcome.max_physical_offset,
        messages: outcome.messages,
        blanks: outcome.blanks,
        topics,
        index_files,
        checkpoint,
        checkpoint_error,
        abort: store.dir.abort_state(),
        lock: store.dir.lock_state(),
        config_files: store.dir.config_files().iter().map(|p| store.rel(p)).collect(),
        broker_conf: store.dir.config().map(|c| c.raw.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
        problems,
    }
}

pub fn run(args: &InspectArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let store = Store::open(&args.store)?;
    let r = inspect_store(&store);
    if args.json {
        serde_json::to_writer(&mut *out, &r)?;
        writeln!(out)?;
        return Ok(0);
    }
    writeln!(out, "store:        {}", r.dir)?;
    writeln!(out, "layout:       {} (record versions: {})", r.layout, r.versions.join(", "))?;
    writeln!(out, "commitlog:    {} (file size {})", r.commitlog_dirs.join(","), r.commitlog_file_size)?;
    for f in &r.commitlog_files {
        writeln!(out, "  {} start={} size={}", f.path, f.start_offset, f.size)?;
    }
    if let Some(d) = &r.dledger {
        writeln!(
            out,
            "dledger:      {} entries={} index {:?}..{:?} term {:?}",
            d.dir, d.entries, d.first_index, d.last_index, d.last_term
        )?;
        writeln!(
            out,
            "  committedIndex={:?} endIndex={:?} currTerm={:?} voteLeader={:?}",
            d.committed_index, d.end_index, d.curr_term, d.vote_leader
        )?;
        for f in d.data_files.iter().chain(&d.index_files) {
            writeln!(out, "  {} start={} size={}", f.path, f.start_offset, f.size)?;
        }
    }
    writeln!(out, "offsets:      {} .. {}", r.min_physical_offset, r.max_physical_offset)?;
    writeln!(out, "messages:     {} (+{} blank)", r.messages, r.blanks)?;
    writeln!(out, "topics:")?;
    for (t, qs) in &r.topics {
        for (q, i) in qs {
            writeln!(
                out,
                "  {t}/{q}: {} msgs, queue offsets {:?}..{:?}, cq {:?}..{:?}",
                i.messages, i.min_queue_offset, i.max_queue_offset, i.cq_min_offset, i.cq_max_offset
            )?;
        }
    }
    for i in &r.index_files {
        match (&i.header, &i.error) {
            (Some(h), _) => writeln!(
                out,
                "index:        {} count={} phy {}..{}",
                i.path, h.index_count, h.begin_phy_offset, h.end_phy_offset
            )?,
            (None, e) => writeln!(out, "index:        {} error: {}", i.path, e.as_deref().unwrap_or("?"))?,
        }
    }
    match (&r.checkpoint, &r.checkpoint_error) {
        (Some(c), _) => writeln!(out, "checkpoint:   {c:?}")?,
        (None, Some(e)) => writeln!(out, "checkpoint:   error: {e}")?,
        _ => writeln!(out, "checkpoint:   (none)")?,
    }
    writeln!(out, "abort:        {}", if r.abort.present { "present (unclean shutdown)" } else { "absent" })?;
    writeln!(out, "lock:         present={} held={:?}", r.lock.present, r.lock.held)?;
    writeln!(out, "config files: {}", r.config_files.join(", "))?;
    for p in &r.problems {
        writeln!(out, "problem:      {p}")?;
    }
    Ok(0)
}
