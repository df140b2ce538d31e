//! Reads for pulls: Java's `DefaultMessageStore.getMessage` status rules,
//! batch limits and tag filtering by consume-queue tags code, returning the
//! stored record bytes as they are on disk.

use std::collections::HashSet;

use rmq_store::append::CommitLogWriter;
use rmq_store::StoreError;

use super::queues::{Queue, QueueTable};
use crate::config::BrokerSettings;

/// Java `GetMessageStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GetStatus {
    Found,
    NoMatchedMessage,
    MessageWasRemoving,
    OffsetFoundNull,
    OffsetOverflowBadly,
    OffsetOverflowOne,
    OffsetTooSmall,
    NoMatchedLogicQueue,
    NoMessageInQueue,
}

impl GetStatus {
    /// The enum name Java puts in the pull response remark.
    pub fn name(self) -> &'static str {
        match self {
            GetStatus::Found => "FOUND",
            GetStatus::NoMatchedMessage => "NO_MATCHED_MESSAGE",
            GetStatus::MessageWasRemoving => "MESSAGE_WAS_REMOVING",
            GetStatus::OffsetFoundNull => "OFFSET_FOUND_NULL",
            GetStatus::OffsetOverflowBadly => "OFFSET_OVERFLOW_BADLY",
            GetStatus::OffsetOverflowOne => "OFFSET_OVERFLOW_ONE",
            GetStatus::OffsetTooSmall => "OFFSET_TOO_SMALL",
            GetStatus::NoMatchedLogicQueue => "NO_MATCHED_LOGIC_QUEUE",
            GetStatus::NoMessageInQueue => "NO_MESSAGE_IN_QUEUE",
        }
    }
}

/// Tag filtering on the consume queue (`ExpressionMessageFilter` for TAG).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagFilter {
    /// No subscription, `*`, or class filter mode: everything matches.
    All,
    /// Matches entries whose tags code (as an int) is in the set.
    Codes(HashSet<i32>),
}

impl TagFilter {
    /// `FilterAPI.build` for TAG: `*`/empty is everything, else `a || b` hashed.
    pub fn from_expression(sub: Option<&str>) -> TagFilter {
        let s = sub.map(str::trim).unwrap_or("");
        if s.is_empty() || s == "*" {
            return TagFilter::All;
        }
        let codes =
            s.split("||").map(str::trim).filter(|t| !t.is_empty()).map(rmq_common::java::string_hash_code).collect();
        TagFilter::Codes(codes)
    }

    pub fn matches(&self, tags_code: i64) -> bool {
        match self {
            TagFilter::All => true,
            TagFilter::Codes(c) => c.contains(&(tags_code as i32)),
        }
    }
}

/// `MessageStoreConfig` limits of one pull.
#[derive(Debug, Clone)]
pub struct ReadLimits {
    pub bytes_in_memory: u64,
    pub count_in_memory: u64,
    pub bytes_in_disk: u64,
    pub count_in_disk: u64,
    /// Bytes from the log end still counted as in memory.
    pub memory_window: i64,
    /// A slave does not move offsets unless `offsetCheckInSlave`.
    pub correct_offsets: bool,
}

impl ReadLimits {
    pub fn from_settings(s: &BrokerSettings) -> ReadLimits {
        let st = &s.store;
        let slave = s.role().map(|r| r == crate::config::BrokerRole::Slave).unwrap_or(false);
        ReadLimits {
            bytes_in_memory: st.max_transfer_bytes_on_message_in_memory.max(0) as u64,
            count_in_memory: st.max_transfer_count_on_message_in_memory.max(0) as u64,
            bytes_in_disk: st.max_transfer_bytes_on_message_in_disk.max(0) as u64,
            count_in_disk: st.max_transfer_count_on_message_in_disk.max(0) as u64,
            memory_window: (total_memory() as f64 * (st.access_message_in_memory_max_ratio as f64 / 100.0)) as i64,
            correct_offsets: !slave || st.offset_check_in_slave,
        }
    }

    pub fn in_disk(&self, offset_py: i64, max_offset_py: i64) -> bool {
        max_offset_py - offset_py > self.memory_window
    }

    /// `isTheBatchFull`.
    fn batch_full(&self, size: u64, max_nums: u64, total: u64, count: u64, in_disk: bool) -> bool {
        if total == 0 || count == 0 {
            return false;
        }
        if max_nums <= count {
            return true;
        }
        let (bytes, n) = if in_disk {
            (self.bytes_in_disk, self.count_in_disk)
        } else {
            (self.bytes_in_memory, self.count_in_memory)
        };
        total + size > bytes || count + 1 > n
    }
}

/// `StoreUtil.TOTAL_PHYSICAL_MEMORY_SIZE` (MemTotal), 16 GiB if unknown.
fn total_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(16 << 30)
}

#[derive(Debug, Clone)]
pub struct GetRequest {
    pub topic: String,
    pub queue_id: i32,
    pub offset: i64,
    pub max_nums: i32,
    /// 5.x `maxMsgBytes`; `None` = no extra limit.
    pub max_bytes: Option<i32>,
    pub filter: TagFilter,
}

/// Java `GetMessageResult`.
#[derive(Debug, Clone)]
pub struct GetResult {
    pub status: GetStatus,
    pub next_begin_offset: i64,
    pub min_offset: i64,
    pub max_offset: i64,
    /// The records, concatenated exactly as stored.
    pub body: Vec<u8>,
    pub count: usize,
    pub suggest_pulling_from_slave: bool,
}

/// Slice of the commitlog at `[offset, offset + size)`, if all written.
pub(crate) fn read_record(w: &CommitLogWriter, offset: i64, size: Option<i32>) -> Option<Vec<u8>> {
    let offset = u64::try_from(offset).ok()?;
    let f = w.queue().find(offset)?;
    let bytes = f.written();
    let pos = (offset - f.from()) as usize;
    let size = match size {
        Some(s) => usize::try_from(s).ok()?,
        None => i32::from_be_bytes(bytes.get(pos..pos + 4)?.try_into().ok()?).try_into().ok()?,
    };
    bytes.get(pos..pos.checked_add(size)?).map(<[u8]>::to_vec)
}

/// STORETIMESTAMP of the record at a physical offset.
fn store_timestamp(w: &CommitLogWriter, offset: i64, size: i32) -> Option<i64> {
    let rec = read_record(w, offset, Some(size))?;
    let sys_flag = i32::from_be_bytes(rec.get(36..40)?.try_into().ok()?);
    let pos = rmq_store::dispatch::request::store_timestamp_pos(sys_flag);
    Some(i64::from_be_bytes(rec.get(pos..pos + 8)?.try_into().ok()?))
}

pub(crate) fn store_time_at(w: &CommitLogWriter, q: &Queue, offset: i64) -> Result<Option<i64>, StoreError> {
    Ok(q.get(offset)?.and_then(|e| store_timestamp(w, e.physical_offset, e.size)))
}

/// Queue offset for a timestamp, by binary search over store times: the first
/// message stored at or after it (`upper`: the last stored at or before it).
/// Out of range it clamps to the first or last message, like Java's nearest match.
pub(crate) fn offset_by_time(w: &CommitLogWriter, q: &Queue, ts: i64, upper: bool) -> Result<i64, StoreError> {
    let (min, max) = (q.min_offset(), q.max_offset());
    if max <= min {
        return Ok(0);
    }
    let min_phy = w.min_offset() as i64;
    let time = |o: i64| -> Result<Option<i64>, StoreError> {
        Ok(q.get(o)?
            .filter(|e| e.physical_offset >= min_phy)
            .and_then(|e| store_timestamp(w, e.physical_offset, e.size)))
    };
    // first offset whose time is > ts (upper) or >= ts (lower)
    let (mut lo, mut hi) = (min, max);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        let t = time(mid)?.unwrap_or(i64::MIN);
        let before = if upper { t <= ts } else { t < ts };
        if before {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    Ok(if upper { (lo - 1).max(min) } else { lo.min(max - 1) })
}

/// Java `nextOffsetCorrection`.
fn correct(l: &ReadLimits, old: i64, new: i64) -> i64 {
    if l.correct_offsets {
        new
    } else {
        old
    }
}

pub(crate) fn get_messages(
    w: &CommitLogWriter,
    queues: &QueueTable,
    l: &ReadLimits,
    r: &GetRequest,
) -> Result<GetResult, StoreError> {
    let max_phy = w.max_offset() as i64;
    let mut res = GetResult {
        status: GetStatus::NoMessageInQueue,
        next_begin_offset: r.offset,
        min_offset: 0,
        max_offset: 0,
        body: Vec::new(),
        count: 0,
        suggest_pulling_from_slave: false,
    };
    let Some(q) = queues.find(&r.topic, r.queue_id) else {
        // Java creates the queue object on the fly: an empty queue
        res.next_begin_offset = correct(l, r.offset, 0);
        return Ok(res);
    };
    let (min, max) = (q.min_offset(), q.max_offset());
    res.min_offset = min;
    res.max_offset = max;
    let offset = r.offset;
    if max == 0 {
        res.next_begin_offset = correct(l, offset, 0);
    } else if offset < min {
        res.status = GetStatus::OffsetTooSmall;
        res.next_begin_offset = correct(l, offset, min);
    } else if offset == max {
        res.status = GetStatus::OffsetOverflowOne;
        res.next_begin_offset = correct(l, offset, offset);
    } else if offset > max {
        res.status = GetStatus::OffsetOverflowBadly;
        res.next_begin_offset = correct(l, offset, max);
    } else {
        let max_nums = r.max_nums.max(0) as u64;
        // Java's loop bound counts bytes of units: max(16000, maxMsgNums * 20)
        let max_units = (16000u64.max(max_nums * 20)).div_ceil(20);
        let units = q.read_from(offset, max_units)?;
        if units.is_empty() {
            res.status = GetStatus::OffsetFoundNull;
            let per = q.units_per_file() as i64;
            res.next_begin_offset = correct(l, offset, offset + per - offset % per);
            return Ok(res);
        }
        res.status = GetStatus::NoMatchedMessage;
        let file_size = w.queue().file_size() as i64;
        let byte_limit = r.max_bytes.filter(|b| *b > 0).map(|b| b as u64).unwrap_or(u64::MAX);
        let mut next_phy_file_start = i64::MIN;
        let mut max_phy_pulling = 0;
        let mut walked = 0u64;
        for e in &units {
            max_phy_pulling = e.physical_offset;
            if next_phy_file_start != i64::MIN && e.physical_offset < next_phy_file_start {
                walked += 1;
                continue;
            }
            let in_disk = l.in_disk(e.physical_offset, max_phy);
            let size = e.size.max(0) as u64;
            let total = res.body.len() as u64;
            if l.batch_full(size, max_nums, total, res.count as u64, in_disk)
                || (total > 0 && total + size > byte_limit)
            {
                break;
            }
            walked += 1;
            if !r.filter.matches(e.tags_code) {
                continue;
            }
            match read_record(w, e.physical_offset, Some(e.size)) {
                Some(rec) => {
                    res.body.extend_from_slice(&rec);
                    res.count += 1;
                    res.status = GetStatus::Found;
                    next_phy_file_start = i64::MIN;
                }
                None => {
                    if res.body.is_empty() {
                        res.status = GetStatus::MessageWasRemoving;
                    }
                    next_phy_file_start = e.physical_offset + file_size - e.physical_offset.rem_euclid(file_size);
                }
            }
        }
        res.next_begin_offset = offset + walked as i64;
        res.suggest_pulling_from_slave = max_phy - max_phy_pulling > l.memory_window;
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_filter_follows_filter_api() {
        assert_eq!(TagFilter::from_expression(None), TagFilter::All);
        assert_eq!(TagFilter::from_expression(Some(" * ")), TagFilter::All);
        let f = TagFilter::from_expression(Some("TagA || TagB"));
        assert!(f.matches(rmq_common::java::string_hash_code("TagA") as i64));
        assert!(!f.matches(rmq_common::java::string_hash_code("TagC") as i64));
    }

    #[test]
    fn batch_limits() {
        let l = ReadLimits {
            bytes_in_memory: 100,
            count_in_memory: 2,
            bytes_in_disk: 10,
            count_in_disk: 1,
            memory_window: 1000,
            correct_offsets: true,
        };
        assert!(!l.batch_full(500, 32, 0, 0, false), "the first message always goes");
        assert!(l.batch_full(60, 32, 50, 1, false));
        assert!(l.batch_full(1, 32, 2, 2, false));
        assert!(l.batch_full(1, 1, 2, 1, false));
        assert!(l.in_disk(0, 1001));
    }
}
