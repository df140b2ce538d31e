//! `clusterList` (`ClusterListSubCommand`): one line per broker address, with the
//! values of its GET_BROKER_RUNTIME_INFO table.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;
use rmq_remoting::protocol::body::ClusterInfo;

use crate::cli::{CommandLine, Opt, Options};
use crate::client::AdminClient;
use crate::error::{wrap, AdminError, Failure};
use crate::format::{
    fixed, fixed_w, is_not_blank, java_trim, left, or_null, parse_boolean, parse_double, parse_float, parse_long, right,
};
use crate::jcoll::{hashmap_order_idx, long_hashmap_order};
use crate::{Ctx, SubCommand};

const CLASS: &str = "ClusterListSubCommand";

pub fn commands() -> Vec<SubCommand> {
    vec![SubCommand {
        name: "clusterList",
        alias: None,
        desc: "List cluster infos.",
        options: |o: &mut Options| {
            o.add(Opt::new("m", "moreStats", false, "Print more stats"));
            o.add(Opt::new("i", "interval", true, "specify intervals numbers, it is in seconds"));
            o.add(Opt::new("c", "clusterName", true, "which cluster"));
        },
        execute: |ctx, cl| Box::pin(execute(ctx, cl)),
    }]
}

async fn execute(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    // Parsed before Java's try block: a bad -i escapes unwrapped.
    let interval_ms = match cl.has("i") {
        true => Some(parse_long(cl.value("i")).map_err(|e| Failure::bare(e.into()))?.wrapping_mul(1000)),
        false => None,
    };
    let cluster = cl.value("c").map(java_trim).unwrap_or_default().to_string();
    let more = cl.has("m");
    let mut client = AdminClient::new(ctx.namesrv.as_deref());
    let result = run_loop(ctx, &mut client, interval_ms, &cluster, more).await;
    client.close().await;
    result.map_err(wrap(CLASS))
}

async fn run_loop(
    ctx: &mut Ctx,
    client: &mut AdminClient,
    interval_ms: Option<i64>,
    cluster: &str,
    more: bool,
) -> Result<(), AdminError> {
    let mut first = true;
    loop {
        if !first {
            let ms = interval_ms.unwrap_or(1);
            if ms < 0 {
                return Err(AdminError::IllegalArgument("timeout value is negative".into()));
            }
            tokio::time::sleep(Duration::from_millis(ms as u64)).await;
        }
        first = false;
        let info = client.broker_cluster_info().await?;
        let names = target_cluster_names(cluster, &info);
        if more {
            print_more_stats(ctx, client, &names, &info).await;
        } else {
            print_base_info(ctx, client, &names, &info).await?;
        }
        if interval_ms.is_none() {
            return Ok(());
        }
    }
}

/// All clusters in `HashMap` order, or just the one asked for.
fn target_cluster_names(cluster: &str, info: &ClusterInfo) -> Vec<String> {
    if !cluster.is_empty() {
        return vec![cluster.to_string()];
    }
    let keys: Vec<&str> = info.cluster_addr_table.keys().map(String::as_str).collect();
    hashmap_order_idx(&keys).into_iter().map(|i| keys[i].to_string()).collect()
}

/// The (cluster, broker name, id, address) lines Java prints, in its order: broker
/// names sorted (`TreeSet`), addresses in `HashMap<Long, String>` order.
fn broker_lines(names: &[String], info: &ClusterInfo) -> Vec<(String, String, i64, String)> {
    let mut out = Vec::new();
    for cluster in names {
        let mut brokers: Vec<&String> =
            info.cluster_addr_table.get(cluster).map(|v| v.iter().collect()).unwrap_or_default();
        brokers.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
        brokers.dedup();
        for name in brokers {
            let Some(bd) = info.broker_addr_table.get(name) else { continue };
            let ids: Vec<i64> = bd.broker_addrs.keys().copied().collect();
            for id in long_hashmap_order(&ids) {
                out.push((cluster.clone(), name.clone(), id, bd.broker_addrs[&id].clone()));
            }
        }
    }
    out
}

async fn print_base_info(
    ctx: &mut Ctx,
    client: &AdminClient,
    names: &[String],
    info: &ClusterInfo,
) -> Result<(), AdminError> {
    ctx.print(&base_header());
    for (cluster, broker, id, addr) in broker_lines(names, info) {
        let kv = client.broker_runtime_info(&addr).await;
        let mut stats = BaseStats::default();
        if let Err(e) = stats.fill(kv.as_ref().map(|t| &t.table)) {
            // Java: e.printStackTrace(), then the row with what was read so far.
            ctx.eprint(&format!("{e}\n"));
        }
        let row = stats.row(&cluster, &broker, id, &addr, now_millis())?;
        ctx.print(&row);
    }
    Ok(())
}

async fn print_more_stats(ctx: &mut Ctx, client: &AdminClient, names: &[String], info: &ClusterInfo) {
    ctx.print(&more_header());
    for (cluster, broker, _id, addr) in broker_lines(names, info) {
        let kv = client.broker_runtime_info(&addr).await;
        let totals = kv.ok().map(|t| more_totals(&t.table)).unwrap_or_default();
        ctx.print(&more_row(&cluster, &broker, totals));
    }
}

fn now_millis() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// The 5.3.3 base layout header.
pub fn base_header() -> String {
    format!(
        "{}  {}  {}  {} {}  {}  {}  {}  {}  {}  {}  {}\n",
        left("#Cluster Name", 22),
        left("#Broker Name", 22),
        left("#BID", 4),
        left("#Addr", 22),
        left("#Version", 16),
        right("#InTPS(LOAD)", 16),
        right("#OutTPS(LOAD)", 30),
        left("#Timer(Progress)", 22),
        left("#PCWait(ms)", 11),
        left("#Hour", 12),
        left("#SPACE", 8),
        left("#ACTIVATED", 10),
    )
}

/// The values of one base row, starting from Java's defaults (`""`, 0, false).
/// `None` is a Java `null` (a key missing from the table), printed as `null`.
#[derive(Debug, Clone, PartialEq)]
pub struct BaseStats {
    in_tps: f64,
    out_tps: f64,
    version: Option<String>,
    send_queue: Option<String>,
    pull_queue: Option<String>,
    ack_queue: Option<String>,
    send_wait: Option<String>,
    pull_wait: Option<String>,
    ack_wait: Option<String>,
    page_cache_lock: Option<String>,
    earliest_msg: Option<String>,
    disk_ratio: Option<String>,
    timer_read_behind: i64,
    timer_offset_behind: i64,
    timer_congest: i64,
    timer_enqueue_tps: f32,
    timer_dequeue_tps: f32,
    active: bool,
}

impl Default for BaseStats {
    fn default() -> Self {
        let empty = || Some(String::new());
        BaseStats {
            in_tps: 0.0,
            out_tps: 0.0,
            version: empty(),
            send_queue: empty(),
            pull_queue: empty(),
            ack_queue: empty(),
            send_wait: empty(),
            pull_wait: empty(),
            ack_wait: empty(),
            page_cache_lock: empty(),
            earliest_msg: empty(),
            disk_ratio: empty(),
            timer_read_behind: 0,
            timer_offset_behind: 0,
            timer_congest: 0,
            timer_enqueue_tps: 0.0,
            timer_dequeue_tps: 0.0,
            active: false,
        }
    }
}

impl BaseStats {
    /// Java's `try` block, step by step: an error keeps what was assigned before it.
    pub fn fill(&mut self, table: Result<&IndexMap<String, String>, &AdminError>) -> Result<(), AdminError> {
        let t = table.map_err(Clone::clone)?;
        let get = |k: &str| t.get(k).cloned();
        self.active = parse_boolean(get("brokerActive").as_deref());
        let put_tps = get("putTps");
        let get_tps = get("getTransferredTps");
        self.send_queue = get("sendThreadPoolQueueSize");
        self.pull_queue = get("pullThreadPoolQueueSize");
        self.ack_queue = Some(get("ackThreadPoolQueueSize").unwrap_or_else(|| "N".into()));
        self.send_wait = get("sendThreadPoolQueueHeadWaitTimeMills");
        self.pull_wait = get("pullThreadPoolQueueHeadWaitTimeMills");
        self.ack_wait = Some(get("ackThreadPoolQueueHeadWaitTimeMills").unwrap_or_else(|| "N".into()));
        self.page_cache_lock = get("pageCacheLockTimeMills");
        self.earliest_msg = get("earliestMessageTimeStamp");
        self.disk_ratio = get("commitLogDiskRatio");
        // The timer values are parsed in their own try (Throwable ignored).
        let _ = (|| -> Result<(), crate::format::NumberFormatError> {
            self.timer_read_behind = parse_long(get("timerReadBehind").as_deref())?;
            self.timer_offset_behind = parse_long(get("timerOffsetBehind").as_deref())?;
            self.timer_congest = parse_long(get("timerCongestNum").as_deref())?;
            self.timer_enqueue_tps = parse_float(get("timerEnqueueTps").as_deref())?;
            self.timer_dequeue_tps = parse_float(get("timerDequeueTps").as_deref())?;
            Ok(())
        })();
        self.version = get("brokerVersionDesc");
        if is_not_blank(put_tps.as_deref()) {
            self.in_tps = parse_double(first_field(put_tps.as_deref()))?;
        }
        if is_not_blank(get_tps.as_deref()) {
            self.out_tps = parse_double(first_field(get_tps.as_deref()))?;
        }
        Ok(())
    }

    /// The printed line; `now_ms` is `System.currentTimeMillis()` for `#Hour`. The hour
    /// and space parsing happen outside Java's try, so their errors fail the command.
    pub fn row(&self, cluster: &str, broker: &str, id: i64, addr: &str, now_ms: i64) -> Result<String, AdminError> {
        let mut hour = 0.0;
        if let Some(e) = self.earliest_msg.as_deref().filter(|e| !e.is_empty()) {
            let mills = now_ms.wrapping_sub(parse_long(Some(e))?);
            hour = mills as f64 / 1000.0 / 60.0 / 60.0;
        }
        let mut space = 0.0;
        if let Some(r) = self.disk_ratio.as_deref().filter(|r| !r.is_empty()) {
            space = parse_double(Some(r))?;
        }
        let s = |v: &Option<String>| or_null(v.as_deref()).to_string();
        let in_load = format!("{}({},{}ms)", fixed_w(self.in_tps, 9, 2), s(&self.send_queue), s(&self.send_wait));
        let out_load = format!(
            "{}({},{}ms|{},{}ms)",
            fixed_w(self.out_tps, 9, 2),
            s(&self.pull_queue),
            s(&self.pull_wait),
            s(&self.ack_queue),
            s(&self.ack_wait)
        );
        let timer = format!(
            "{}-{}({}w, {}, {})",
            self.timer_read_behind,
            self.timer_offset_behind,
            fixed((self.timer_congest as f32 / 10000.0f32) as f64, 1),
            fixed(self.timer_enqueue_tps as f64, 1),
            fixed(self.timer_dequeue_tps as f64, 1)
        );
        Ok(format!(
            "{}  {}  {}  {} {}  {}  {}  {}  {}  {}  {}  {}\n",
            left(cluster, 22),
            left(broker, 22),
            left(&id.to_string(), 4),
            left(addr, 22),
            left(&s(&self.version), 16),
            right(&in_load, 16),
            right(&out_load, 30),
            left(&timer, 22),
            right(&s(&self.page_cache_lock), 11),
            left(&fixed_w(hour, 2, 2), 12),
            left(&fixed(space, 4), 8),
            right(if self.active { "true" } else { "false" }, 10),
        ))
    }
}

/// `value.split(" ")[0]`.
fn first_field(v: Option<&str>) -> Option<&str> {
    v.map(|s| s.split(' ').next().unwrap_or_default())
}

/// The `-m` layout header.
pub fn more_header() -> String {
    format!(
        "{}  {} {} {} {} {}\n",
        left("#Cluster Name", 16),
        left("#Broker Name", 32),
        right("#InTotalYest", 14),
        right("#OutTotalYest", 14),
        right("#InTotalToday", 14),
        right("#OutTotalToday", 14),
    )
}

/// (inTotalYest, outTotalYest, inTotalToday, outTotalToday); a parse failure keeps
/// the totals computed before it and leaves the rest 0, as Java does.
pub fn more_totals(t: &IndexMap<String, String>) -> [i64; 4] {
    let mut totals = [0i64; 4];
    let get = |k: &str| t.get(k).map(String::as_str);
    let pairs = [
        ("msgPutTotalTodayMorning", "msgPutTotalYesterdayMorning"),
        ("msgGetTotalTodayMorning", "msgGetTotalYesterdayMorning"),
        ("msgPutTotalTodayNow", "msgPutTotalTodayMorning"),
        ("msgGetTotalTodayNow", "msgGetTotalTodayMorning"),
    ];
    // Java reads all six values first (no failure possible), then subtracts in order.
    for (slot, (later, earlier)) in totals.iter_mut().zip(pairs) {
        match (parse_long(get(later)), parse_long(get(earlier))) {
            (Ok(a), Ok(b)) => *slot = a.wrapping_sub(b),
            _ => break,
        }
    }
    totals
}

pub fn more_row(cluster: &str, broker: &str, totals: [i64; 4]) -> String {
    format!(
        "{}  {} {} {} {} {}\n",
        left(cluster, 16),
        left(broker, 32),
        right(&totals[0].to_string(), 14),
        right(&totals[1].to_string(), 14),
        right(&totals[2].to_string(), 14),
        right(&totals[3].to_string(), 14),
    )
}

#[cfg(test)]
#[path = "cluster_tests.rs"]
mod tests;
