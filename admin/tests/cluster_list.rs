//! `mqadmin clusterList` against a real name server and in-test brokers.

mod common;

use common::*;
use rmq_remoting::protocol::body::{self, KvTable};

#[path = "common/java_cluster_format.rs"]
mod java_format;
use java_format::{java_header as header, java_row};

/// A 5.3.3-style runtime table whose numbers sit on rounding ties, where Java's
/// HALF_UP-on-shortest-digits formatting differs from Rust's `{:.N}`.
fn table_533() -> Vec<u8> {
    let mut t = KvTable::default();
    for (k, v) in [
        ("brokerActive", "true"),
        ("brokerVersionDesc", "V5_3_3"),
        ("putTps", "12.345 10.0 9.0"),
        ("getTransferredTps", "0.125 0.1 0.1"),
        ("sendThreadPoolQueueSize", "3"),
        ("sendThreadPoolQueueHeadWaitTimeMills", "4"),
        ("pullThreadPoolQueueSize", "5"),
        ("pullThreadPoolQueueHeadWaitTimeMills", "6"),
        ("ackThreadPoolQueueSize", "1"),
        ("ackThreadPoolQueueHeadWaitTimeMills", "2"),
        ("timerReadBehind", "5"),
        ("timerOffsetBehind", "7"),
        ("timerCongestNum", "12345"),
        ("timerEnqueueTps", "1.25"),
        ("timerDequeueTps", "0.35"),
        ("pageCacheLockTimeMills", "12"),
        ("commitLogDiskRatio", "0.00015"),
        ("msgPutTotalYesterdayMorning", "100"),
        ("msgPutTotalTodayMorning", "250"),
        ("msgPutTotalTodayNow", "300"),
        ("msgGetTotalYesterdayMorning", "10"),
        ("msgGetTotalTodayMorning", "40"),
        ("msgGetTotalTodayNow", "45"),
    ] {
        t.table.insert(k.into(), v.into());
    }
    // 2.5 hours before the answer: prints as 2.50 unless the command takes > 18 s.
    t.table.insert("earliestMessageTimeStamp".into(), (now_ms() - 9_000_000).to_string());
    body::encode(&t)
}

/// `(now + 1) / 3.6e6` with Java's `%2.2f` (HALF_UP), for the 4.9.8 table's
/// `earliestMessageTimeStamp` of -1. Computed for the instants before and after the run.
fn hours_since_minus_one(now: i64) -> String {
    let h = (now + 1) as f64 / 1000.0 / 60.0 / 60.0;
    // Two decimals, half-up on the decimal text (values here are far from ties).
    format!("{:.2}", h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn base_layout_rows_match_java() {
    let (ns, _dir) = start_namesrv().await;
    let b498 = fake_broker(|| KV_TABLE_498.as_bytes().to_vec(), &[]).await;
    let b533 = fake_broker(table_533, &[]).await;
    let w_addr = b498.local_addr().to_string();
    let x_addr = b533.local_addr().to_string();
    let dead_addr = format!("127.0.0.1:{}", closed_port());
    let _c1 = register(
        ns.local_addr(),
        Reg { cluster: "WireCluster", broker: "broker-w", id: 0, addr: &w_addr, topics: &["TopicA", "TBW102"] },
    )
    .await;
    let _c2 = register(
        ns.local_addr(),
        Reg { cluster: "WireCluster", broker: "broker-x", id: 0, addr: &x_addr, topics: &["TopicA", "TBW102"] },
    )
    .await;
    let _c3 = register(
        ns.local_addr(),
        Reg { cluster: "WireCluster", broker: "broker-x", id: 1, addr: &dead_addr, topics: &["TopicA", "TBW102"] },
    )
    .await;
    let n = ns.local_addr().to_string();

    let before = now_ms();
    let out = mqadmin(&["clusterList", "-n", &n], None).await;
    let after = now_ms();
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert_eq!(lines[0], header());

    // broker-w, the captured 4.9.8 table: no getTransferredTps (4.9.8 spells it
    // getTransferedTps), no ack/timer keys ("N" and zeros), brokerActive absent (false).
    let row_w = |hour: &str| {
        java_row(&[
            "WireCluster",
            "broker-w",
            "0",
            &w_addr,
            "V4_9_8",
            "     0.00(0,0ms)",
            "     0.00(0,0ms|N,Nms)",
            "0-0(0.0w, 0.0, 0.0)",
            "0",
            hour,
            "0.1700",
            "false",
        ])
    };
    let candidates = [row_w(&hours_since_minus_one(before)), row_w(&hours_since_minus_one(after))];
    assert!(candidates.contains(&lines[1].to_string()), "got {:?}\nwant one of {candidates:?}", lines[1]);

    // broker-x id 0: Java rounds the shortest decimal text HALF_UP:
    // 12.345 -> 12.35, 0.125 -> 0.13, 1.25f -> 1.3, 0.35f (0.3499999940395355) -> 0.3,
    // 12345 / 10000.0f = 1.2345f -> 1.2, 0.00015 -> 0.0002.
    assert_eq!(
        lines[2],
        java_row(&[
            "WireCluster",
            "broker-x",
            "0",
            &x_addr,
            "V5_3_3",
            "    12.35(3,4ms)",
            "     0.13(5,6ms|1,2ms)",
            "5-7(1.2w, 1.3, 0.3)",
            "12",
            "2.50",
            "0.0002",
            "true",
        ])
    );
    // broker-x id 1 cannot be reached: Java prints the exception and a row of defaults
    // ("" strings, zeros, false).
    assert_eq!(
        lines[3],
        java_row(&[
            "WireCluster",
            "broker-x",
            "1",
            &dead_addr,
            "",
            "     0.00(,ms)",
            "     0.00(,ms|,ms)",
            "0-0(0.0w, 0.0, 0.0)",
            "",
            "0.00",
            "0.0000",
            "false",
        ])
    );
    let err = stderr(&out);
    assert!(err.contains(&format!("RemotingConnectException: connect to {dead_addr} failed")), "{err}");

    // -c with an unknown cluster: header only. -c WireCluster: same rows.
    let out = mqadmin(&["clusterList", "-n", &n, "-c", "NoSuchCluster"], None).await;
    assert_eq!(stdout(&out), header());
    let out = mqadmin(&["clusterList", "-n", &n, "-c", " WireCluster "], None).await;
    assert_eq!(stdout(&out).lines().count(), 4);

    ns.shutdown().await;
    b498.shutdown().await;
    b533.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_stats_layout_and_cluster_order() {
    let (ns, _dir) = start_namesrv().await;
    let b498 = fake_broker(|| KV_TABLE_498.as_bytes().to_vec(), &[]).await;
    let b533 = fake_broker(table_533, &[]).await;
    let w_addr = b498.local_addr().to_string();
    let x_addr = b533.local_addr().to_string();
    let _c1 = register(
        ns.local_addr(),
        Reg { cluster: "WireCluster", broker: "broker-w", id: 0, addr: &w_addr, topics: &["T1", "TBW102"] },
    )
    .await;
    let _c2 = register(
        ns.local_addr(),
        Reg { cluster: "AnotherCluster", broker: "broker-x", id: 0, addr: &x_addr, topics: &["T2", "TBW102"] },
    )
    .await;
    let n = ns.local_addr().to_string();

    let out = mqadmin(&["clusterList", "-m", "-n", &n], None).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    // HashMap<String, ...> order of {WireCluster, AnotherCluster} on Java 17: AnotherCluster first.
    // "%-16s  %-32s %14s %14s %14s %14s%n" / "%-16s  %-32s %14d %14d %14d %14d%n".
    let more = |c: [&str; 6]| {
        format!("{}  {} {} {} {} {}\n", l(c[0], 16), l(c[1], 32), r(c[2], 14), r(c[3], 14), r(c[4], 14), r(c[5], 14))
    };
    let want = [
        more(["#Cluster Name", "#Broker Name", "#InTotalYest", "#OutTotalYest", "#InTotalToday", "#OutTotalToday"]),
        // 250-100, 40-10, 300-250, 45-40.
        more(["AnotherCluster", "broker-x", "150", "30", "50", "5"]),
        more(["WireCluster", "broker-w", "0", "0", "0", "0"]),
    ]
    .concat();
    assert_eq!(stdout(&out), want);

    // The same order in the base layout (NAMESRV_ADDR instead of -n).
    let out = mqadmin(&["clusterList"], Some(&n)).await;
    let text = stdout(&out);
    let clusters: Vec<&str> = text.lines().skip(1).map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(clusters, ["AnotherCluster", "WireCluster"]);

    ns.shutdown().await;
    b498.shutdown().await;
    b533.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interval_option_errors() {
    // -i is parsed before Java's try block: a NumberFormatException, not wrapped.
    let out = mqadmin(&["clusterList", "-n", "127.0.0.1:1", "-i", "x"], None).await;
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stderr(&out), "java.lang.NumberFormatException: For input string: \"x\"\n");
    assert_eq!(stdout(&out), "");
}
