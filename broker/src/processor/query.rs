//! QUERY_MESSAGE (12) and VIEW_MESSAGE_BY_ID (33), after Java's
//! `QueryMessageProcessor` and `DefaultMessageStore.queryMessage`: a key
//! (`KEYS` entry or `UNIQ_KEY`) is looked up in the index files, newest file
//! first, within the time range; the answer is the matching records as
//! stored. VIEW_MESSAGE_BY_ID returns the record at a commitlog offset.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, ResponseCode};
use rmq_remoting::protocol::client::{QueryMessageRequestHeader, QueryMessageResponseHeader, ViewMessageRequestHeader};
use rmq_store::index::{key_hash, list_index_files};
use rmq_store::IndexFile;
use tracing::warn;

use super::{fail, ok, BrokerState, Outcome};

/// `MixAll.UNIQUE_MSG_QUERY_FLAG`: the client asks by message id (UNIQ_KEY).
const UNIQUE_MSG_QUERY_FLAG: &str = "_UNIQUE_KEY_QUERY";

/// `QueryOffsetResult`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct OffsetsFound {
    pub offsets: Vec<i64>,
    pub last_update_timestamp: i64,
    pub last_update_phy_offset: i64,
}

/// Index files of `dir`, opened with the configured geometry (else inferred).
fn open_all(dir: &Path, slots: u32, num: u32) -> Vec<IndexFile> {
    let files: Vec<PathBuf> = match list_index_files(dir) {
        Ok(f) => f,
        Err(e) => {
            warn!(dir = %dir.display(), error = %e, "cannot list index files");
            return Vec::new();
        }
    };
    files
        .iter()
        .filter_map(|p| match IndexFile::open(p, Some(slots), Some(num)).or_else(|_| IndexFile::open(p, None, None)) {
            Ok(f) => Some(f),
            Err(e) => {
                warn!(file = %p.display(), error = %e, "unreadable index file skipped");
                None
            }
        })
        .collect()
}

/// `IndexFile.isTimeMatched`.
fn time_matched(f: &IndexFile, begin: i64, end: i64) -> bool {
    let h = f.header();
    (begin < h.begin_timestamp && end > h.end_timestamp)
        || (begin >= h.begin_timestamp && begin <= h.end_timestamp)
        || (end >= h.begin_timestamp && end <= h.end_timestamp)
}

/// `IndexFile.selectPhyOffset`: the slot chain of `key`, entries of its hash
/// stored within `[begin, end]` (index times have second precision).
fn select(f: &IndexFile, out: &mut Vec<i64>, key: &str, max: usize, begin: i64, end: i64) {
    let h = *f.header();
    let hash = key_hash(key);
    if f.hash_slot_num() == 0 {
        return;
    }
    let Some(first) = f.slot(hash as u32 % f.hash_slot_num()) else { return };
    if first <= 0 || first > h.index_count || h.index_count <= 1 {
        return;
    }
    let mut cur = first;
    while out.len() < max {
        let Some(e) = f.entry(cur as u32) else { break };
        if e.time_diff < 0 {
            break;
        }
        let time = h.begin_timestamp + e.time_diff as i64 * 1000;
        if e.key_hash == hash && time >= begin && time <= end {
            out.push(e.phy_offset);
        }
        if e.prev_index <= 0 || e.prev_index > h.index_count || e.prev_index == cur || time < begin {
            break;
        }
        cur = e.prev_index;
    }
}

/// One key lookup: `topic#key`, at most `max` offsets stored within `[begin, end]`.
#[derive(Debug, Clone)]
pub struct KeyQuery {
    pub topic: String,
    pub key: String,
    pub max: usize,
    pub begin: i64,
    pub end: i64,
}

/// `IndexService.queryOffset` over the index files of `dir` (geometry `slots`/`num`).
pub fn query_offsets(dir: &Path, slots: u32, num: u32, q: &KeyQuery) -> OffsetsFound {
    let files = open_all(dir, slots, num);
    let mut found = OffsetsFound::default();
    let full_key = format!("{}#{}", q.topic, q.key);
    for (i, f) in files.iter().enumerate().rev() {
        if i + 1 == files.len() {
            found.last_update_timestamp = f.header().end_timestamp;
            found.last_update_phy_offset = f.header().end_phy_offset;
        }
        if time_matched(f, q.begin, q.end) {
            select(f, &mut found.offsets, &full_key, q.max, q.begin, q.end);
        }
        if f.header().begin_timestamp < q.begin || found.offsets.len() >= q.max {
            break;
        }
    }
    found
}

pub(crate) async fn query_message(state: &Arc<BrokerState>, req: &RemotingCommand) -> Outcome {
    let mut h = QueryMessageRequestHeader::from_command(req)?;
    let st = &state.settings.store;
    if req.ext(UNIQUE_MSG_QUERY_FLAG) == Some("true") {
        h.max_num = st.default_query_max_num;
    }
    let max = h.max_num.min(st.max_msgs_num_batch).max(0) as usize;
    let dir = state.store.root().join("index");
    let (slots, num) = (st.max_hash_slot_num.max(1) as u32, st.max_index_num.max(1) as u32);
    let (mut body, mut header) = (Vec::new(), QueryMessageResponseHeader::default());
    // DefaultMessageStore.queryMessage: up to three rounds, each ending at the
    // store time of the oldest match of the round before
    let mut q =
        KeyQuery { topic: h.topic.clone(), key: h.key.clone(), max, begin: h.begin_timestamp, end: h.end_timestamp };
    for _ in 0..3 {
        let (d, round) = (dir.clone(), q.clone());
        let mut found = tokio::task::spawn_blocking(move || query_offsets(&d, slots, num, &round))
            .await
            .map_err(|e| crate::store::MessageStoreError::Task(e.to_string()))?;
        if found.offsets.is_empty() {
            break;
        }
        found.offsets.sort_unstable();
        header.index_last_update_timestamp = found.last_update_timestamp;
        header.index_last_update_phyoffset = found.last_update_phy_offset;
        for (m, off) in found.offsets.iter().enumerate() {
            let Some(rec) = state.store.read_record(*off, None).await? else { continue };
            if m == 0 {
                if let Some(ts) = store_timestamp(&rec) {
                    q.end = ts;
                }
            }
            body.extend_from_slice(&rec);
        }
        if !body.is_empty() || q.end < q.begin {
            break;
        }
    }
    let mut resp = if body.is_empty() {
        RemotingCommand::response_to(
            req,
            ResponseCode::QUERY_NOT_FOUND,
            Some("can not find message, maybe time range not correct".into()),
        )
    } else {
        let mut r = ok(req);
        r.body = Some(Bytes::from(body));
        r
    };
    header.apply_to(&mut resp);
    Ok(Some(resp))
}

/// STORETIMESTAMP of a raw record.
fn store_timestamp(rec: &[u8]) -> Option<i64> {
    let sys_flag = i32::from_be_bytes(rec.get(36..40)?.try_into().ok()?);
    let pos = rmq_store::dispatch::request::store_timestamp_pos(sys_flag);
    Some(i64::from_be_bytes(rec.get(pos..pos + 8)?.try_into().ok()?))
}

pub(crate) async fn view_message_by_id(state: &Arc<BrokerState>, req: &RemotingCommand) -> Outcome {
    let h = ViewMessageRequestHeader::from_command(req)?;
    match state.store.read_record(h.offset, None).await? {
        Some(rec) if rec.len() >= 8 => {
            let mut r = ok(req);
            r.body = Some(Bytes::from(rec));
            Ok(Some(r))
        }
        _ => fail(ResponseCode::SYSTEM_ERROR, format!("can not find message by the offset, {}", h.offset)),
    }
}
