//! GET_BROKER_RUNTIME_INFO: the `KVTable` Java builds from `StoreStatsService`,
//! `DefaultMessageStore`, `ScheduleMessageService` and `BrokerController`, with the
//! same keys and value formats. Values we do not track keep Java's idle values
//! (thread-pool queues are empty: requests run on tokio tasks, not queued pools).

use std::path::Path;

use indexmap::IndexMap;
use rmq_common::fastjson::java_double_to_string as dstr;
use rmq_remoting::codec::Version;

use crate::config::BrokerSettings;
use crate::meta::{system, Meta};

/// Counters the core keeps. TPS arrays are the last 10 s, 60 s and 600 s;
/// `None` where that window has not been sampled yet (Java prints nothing).
#[derive(Debug, Clone, PartialEq)]
pub struct RuntimeStats {
    /// `messageStoreBootTimestamp` (ms).
    pub boot_timestamp: i64,
    pub put_message_times_total: i64,
    pub put_message_failed_times: i64,
    pub put_message_size_total: i64,
    pub put_message_entire_time_max: i64,
    pub get_message_entire_time_max: i64,
    pub dispatch_max_buffer: i64,
    /// `putMessageDistributeTime` text; `None` prints `null` (Java before its first minute).
    pub put_message_distribute_time: Option<String>,
    pub put_tps: [Option<f64>; 3],
    pub get_found_tps: [Option<f64>; 3],
    pub get_miss_tps: [Option<f64>; 3],
    pub get_transferred_tps: [Option<f64>; 3],
    /// Put latency percentiles in ms.
    pub put_latency_99: f64,
    pub put_latency_999: f64,
    /// -1 when the commitlog is empty (Java's `getMinPhyOffset`).
    pub commit_log_min_offset: i64,
    pub commit_log_max_offset: i64,
    pub dispatch_behind_bytes: i64,
    pub page_cache_lock_time_mills: i64,
    /// -1 when there is no message.
    pub earliest_message_time: i64,
    pub remain_transient_store_buffer_numbs: i64,
    /// Only printed with `transientStorePoolEnable`.
    pub remain_how_many_data_to_commit: i64,
    pub remain_how_many_data_to_flush: i64,
    pub msg_put_total_yesterday_morning: i64,
    pub msg_put_total_today_morning: i64,
    pub msg_put_total_today_now: i64,
    pub msg_get_total_yesterday_morning: i64,
    pub msg_get_total_today_morning: i64,
    pub msg_get_total_today_now: i64,
    /// `isSpecialServiceRunning` (schedule and transaction-check services up).
    pub broker_active: bool,
}

impl Default for RuntimeStats {
    /// An idle store that just started (what Java prints before any traffic).
    fn default() -> Self {
        RuntimeStats {
            boot_timestamp: now_ms(),
            put_message_times_total: 0,
            put_message_failed_times: 0,
            put_message_size_total: 0,
            put_message_entire_time_max: 0,
            get_message_entire_time_max: 0,
            dispatch_max_buffer: 0,
            put_message_distribute_time: None,
            put_tps: [None; 3],
            get_found_tps: [None; 3],
            get_miss_tps: [None; 3],
            get_transferred_tps: [None; 3],
            put_latency_99: 0.0,
            put_latency_999: 0.0,
            commit_log_min_offset: -1,
            commit_log_max_offset: 0,
            dispatch_behind_bytes: 0,
            page_cache_lock_time_mills: 0,
            earliest_message_time: -1,
            remain_transient_store_buffer_numbs: i32::MAX as i64,
            remain_how_many_data_to_commit: 0,
            remain_how_many_data_to_flush: 0,
            msg_put_total_yesterday_morning: 0,
            msg_put_total_today_morning: 0,
            msg_put_total_today_now: 0,
            msg_get_total_yesterday_morning: 0,
            msg_get_total_today_morning: 0,
            msg_get_total_today_now: 0,
            broker_active: true,
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// `getPutTps()` style: three windows joined by spaces, unsampled ones empty.
fn tps3(t: &[Option<f64>; 3]) -> String {
    t.iter().map(|v| v.map(dstr).unwrap_or_default()).collect::<Vec<_>>().join(" ")
}

/// `getGetTotalTps()`: found + miss per window (0 where unsampled).
fn total_tps(found: &[Option<f64>; 3], miss: &[Option<f64>; 3]) -> String {
    (0..3).map(|i| dstr(found[i].unwrap_or(0.0) + miss[i].unwrap_or(0.0))).collect::<Vec<_>>().join(" ")
}

/// `MessageFormat("{0}")` of a long: grouping separators.
fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        out.insert(0, '-');
    }
    out
}

/// `getFormatRuntime`.
fn format_runtime(boot: i64, now: i64) -> String {
    let t = now - boot;
    let (sec, min, hour, day) = (1000, 60_000, 3_600_000, 86_400_000);
    format!(
        "[ {} days, {} hours, {} minutes, {} seconds ]",
        grouped(t / day),
        grouped((t % day) / hour),
        grouped((t % hour) / min),
        grouped((t % min) / sec)
    )
}

/// `MixAll.humanReadableByteCount(bytes, false)`.
pub fn human_bytes(bytes: i64) -> String {
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let exp = ((bytes as f64).ln() / 1024f64.ln()) as i32;
    let pre = "KMGTPE".chars().nth((exp - 1) as usize).unwrap_or('E');
    format!("{:.1} {pre}iB", bytes as f64 / 1024f64.powi(exp))
}

/// (total, free, usable) bytes of the file system holding `path`.
#[cfg(unix)]
fn disk_space(path: &Path) -> Option<(i64, i64, i64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into a zeroed, owned struct and reads a NUL-terminated path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    let f = st.f_frsize as i64;
    Some((st.f_blocks as i64 * f, st.f_bfree as i64 * f, st.f_bavail as i64 * f))
}

#[cfg(not(unix))]
fn disk_space(_path: &Path) -> Option<(i64, i64, i64)> {
    None
}

/// `UtilAll.getDiskPartitionSpaceUsedPercent`: used share rounded up to 1/100; -1 when unknown.
fn disk_ratio(path: &Path) -> f64 {
    if !path.exists() {
        return -1.0;
    }
    match disk_space(path) {
        Some((total, free, usable)) if total > 0 => {
            let used = total - free;
            let entire = used + usable;
            if entire <= 0 {
                return -1.0;
            }
            let round = i64::from((used * 100) % entire != 0);
            (used * 100 / entire + round) as f64 / 100.0
        }
        _ => -1.0,
    }
}

/// The table, in Java's insertion order (the body builder applies hash order).
pub fn runtime_table(
    stats: &RuntimeStats,
    settings: &BrokerSettings,
    meta: &Meta,
    max_offset: impl Fn(&str, i32) -> i64,
) -> IndexMap<String, String> {
    let mut t = IndexMap::new();
    let mut put = |k: &str, v: String| {
        t.insert(k.to_string(), v);
    };
    let total = stats.put_message_times_total.max(1);
    put("bootTimestamp", stats.boot_timestamp.to_string());
    put("runtime", format_runtime(stats.boot_timestamp, now_ms()));
    put("putMessageEntireTimeMax", stats.put_message_entire_time_max.to_string());
    put("putMessageTimesTotal", total.to_string());
    put("putMessageFailedTimes", stats.put_message_failed_times.to_string());
    put("putMessageSizeTotal", stats.put_message_size_total.to_string());
    put("putMessageDistributeTime", stats.put_message_distribute_time.clone().unwrap_or_else(|| "null".into()));
    put("putMessageAverageSize", dstr(stats.put_message_size_total as f64 / total as f64));
    put("dispatchMaxBuffer", stats.dispatch_max_buffer.to_string());
    put("getMessageEntireTimeMax", stats.get_message_entire_time_max.to_string());
    put("putTps", tps3(&stats.put_tps));
    put("getFoundTps", tps3(&stats.get_found_tps));
    put("getMissTps", tps3(&stats.get_miss_tps));
    put("getTotalTps", total_tps(&stats.get_found_tps, &stats.get_miss_tps));
    put("getTransferredTps", tps3(&stats.get_transferred_tps));
    put("putLatency99", format!("{:.2}", stats.put_latency_99));
    put("putLatency999", format!("{:.2}", stats.put_latency_999));

    let root = Path::new(&settings.store.store_path_root_dir);
    let commit_paths =
        settings.store.store_path_commit_log.clone().unwrap_or_else(|| root.join("commitlog").display().to_string());
    let mut min_ratio = f64::MAX;
    for p in commit_paths.trim().split(',') {
        let r = disk_ratio(Path::new(p));
        put(&format!("commitLogDiskRatio_{p}"), dstr(r));
        min_ratio = min_ratio.min(r);
    }
    put("commitLogDiskRatio", dstr(min_ratio));
    put("consumeQueueDiskRatio", dstr(disk_ratio(&root.join("consumequeue"))));
    put("commitLogMinOffset", stats.commit_log_min_offset.to_string());
    put("commitLogMaxOffset", stats.commit_log_max_offset.to_string());

    for (level, offset) in meta.delay_offsets.all() {
        let max = max_offset(system::SCHEDULE_TOPIC, level - 1);
        put(&format!("scheduleMessageOffset_{level}"), format!("{offset},{max}"));
    }
    put("brokerActive", stats.broker_active.to_string());
    put("brokerVersionDesc", Version::CURRENT.desc().to_string());
    put("brokerVersion", Version::CURRENT.0.to_string());
    put("msgPutTotalYesterdayMorning", stats.msg_put_total_yesterday_morning.to_string());
    put("msgPutTotalTodayMorning", stats.msg_put_total_today_morning.to_string());
    put("msgPutTotalTodayNow", stats.msg_put_total_today_now.to_string());
    put("msgGetTotalYesterdayMorning", stats.msg_get_total_yesterday_morning.to_string());
    put("msgGetTotalTodayMorning", stats.msg_get_total_today_morning.to_string());
    put("msgGetTotalTodayNow", stats.msg_get_total_today_now.to_string());
    put("dispatchBehindBytes", stats.dispatch_behind_bytes.to_string());
    put("pageCacheLockTimeMills", stats.page_cache_lock_time_mills.to_string());
    put("earliestMessageTimeStamp", stats.earliest_message_time.to_string());
    put("startAcceptSendRequestTimeStamp", settings.broker.start_accept_send_request_time_stamp.to_string());
    // No timer wheel yet: Java's values for a disabled one.
    put("timerReadBehind", "0".into());
    put("timerOffsetBehind", "0".into());
    put("timerCongestNum", "0".into());
    put("timerEnqueueTps", "0.0".into());
    put("timerDequeueTps", "0.0".into());
    put("remainTransientStoreBufferNumbs", stats.remain_transient_store_buffer_numbs.to_string());
    if settings.store.transient_store_pool_enable {
        put("remainHowManyDataToCommit", human_bytes(stats.remain_how_many_data_to_commit));
    }
    put("remainHowManyDataToFlush", human_bytes(stats.remain_how_many_data_to_flush));
    if root.exists() {
        if let Some((total, free, _)) = disk_space(root) {
            put("commitLogDirCapacity", format!("Total : {}, Free : {}.", human_bytes(total), human_bytes(free)));
        }
    }
    let b = &settings.broker;
    let pools = [
        ("send", b.send_thread_pool_queue_capacity),
        ("pull", b.pull_thread_pool_queue_capacity),
        ("litePull", b.lite_pull_thread_pool_queue_capacity),
        ("query", b.query_thread_pool_queue_capacity),
        ("ack", b.ack_thread_pool_queue_capacity),
    ];
    for (name, cap) in pools {
        put(&format!("{name}ThreadPoolQueueSize"), "0".into());
        put(&format!("{name}ThreadPoolQueueCapacity"), cap.to_string());
    }
    for name in ["send", "pull", "query", "litePull", "ack"] {
        put(&format!("{name}ThreadPoolQueueHeadWaitTimeMills"), "0".into());
    }
    put("EndTransactionQueueSize", "0".into());
    put("EndTransactionThreadPoolQueueCapacity", b.end_transaction_pool_queue_capacity.to_string());
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_formats() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(1023), "1023 B");
        assert_eq!(human_bytes(1536), "1.5 KiB");
        assert_eq!(human_bytes(252 * 1024 * 1024 * 1024), "252.0 GiB");
        assert_eq!(format_runtime(0, 20_500), "[ 0 days, 0 hours, 0 minutes, 20 seconds ]");
        assert_eq!(format_runtime(0, 1234 * 86_400_000 + 3_600_000), "[ 1,234 days, 1 hours, 0 minutes, 0 seconds ]");
        assert_eq!(tps3(&[Some(0.0), None, None]), "0.0  ");
        assert_eq!(total_tps(&[Some(0.5), None, None], &[None; 3]), "0.5 0.0 0.0");
        assert!(disk_ratio(Path::new("/")) > 0.0);
        assert_eq!(disk_ratio(Path::new("/no/such/path")), -1.0);
    }
}
