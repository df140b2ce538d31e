//! Row formatting from runtime tables, with a fixed clock. Expected cells were
//! computed with the Java format rules and checked with OpenJDK 17's String.format.

use super::*;

/// The KV table a Java 4.9.8 broker sent in golden/java-4.9.8/wire/mqadmin_clusterList.pcap.
const KV_TABLE_498: &str = r#"{"table":{"msgPutTotalTodayNow":"0","commitLogDiskRatio":"0.17","getFoundTps":"0.0  ","EndTransactionThreadPoolQueueCapacity":"100000","sendThreadPoolQueueHeadWaitTimeMills":"0","putMessageDistributeTime":"null","queryThreadPoolQueueHeadWaitTimeMills":"0","remainHowManyDataToFlush":"0 B","msgGetTotalTodayNow":"0","putMessageFailedTimes":"0","putLatency999":"0.00","commitLogMaxOffset":"0","queryThreadPoolQueueSize":"0","getMessageEntireTimeMax":"0","msgPutTotalTodayMorning":"0","putMessageTimesTotal":"1","putLatency99":"0.00","bootTimestamp":"1795291936339","msgGetTotalTodayMorning":"0","msgPutTotalYesterdayMorning":"0","msgGetTotalYesterdayMorning":"0","pullThreadPoolQueueSize":"0","brokerVersionDesc":"V4_9_8","sendThreadPoolQueueSize":"0","startAcceptSendRequestTimeStamp":"0","commitLogMinOffset":"-1","commitLogDiskRatio_/tmp/javarmq/data/wire/commitlog":"0.17","putMessageEntireTimeMax":"0","pullThreadPoolQueueHeadWaitTimeMills":"0","runtime":"[ 0 days, 0 hours, 0 minutes, 20 seconds ]","earliestMessageTimeStamp":"-1","commitLogDirCapacity":"Total : 252.0 GiB, Free : 76.0 GiB.","dispatchMaxBuffer":"0","brokerVersion":"409","putTps":"0.0  ","remainTransientStoreBufferNumbs":"2147483647","getMissTps":"0.1985505807604487  ","queryThreadPoolQueueCapacity":"20000","putMessageAverageSize":"0.0","getTransferedTps":"0.0  ","dispatchBehindBytes":"0","putMessageSizeTotal":"0","sendThreadPoolQueueCapacity":"10000","EndTransactionQueueSize":"0","getTotalTps":"0.1985505807604487 0.0 0.0","pullThreadPoolQueueCapacity":"100000","consumeQueueDiskRatio":"0.17","pageCacheLockTimeMills":"0"}}"#;

/// When the capture was taken (the GET_BROKER_CLUSTER_INFO answer).
const CAPTURE_NOW: i64 = 1_795_291_956_532;

fn table(json: &str) -> IndexMap<String, String> {
    rmq_remoting::protocol::body::decode::<rmq_remoting::protocol::body::KvTable>("KVTable", json.as_bytes())
        .unwrap()
        .table
}

fn table_of(pairs: &[(&str, &str)]) -> IndexMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

#[test]
fn captured_498_table_row() {
    let t = table(KV_TABLE_498);
    let mut s = BaseStats::default();
    s.fill(Ok(&t)).unwrap();
    let row = s.row("WireCluster", "broker-w", 0, "127.0.0.1:19911", CAPTURE_NOW).unwrap();
    // %-22s ×2, %-4s, %-22s, %-16s, %16s, %30s, %-22s, %11s, %-12s, %-8s, %10s; hours =
    // (now - (-1)) / 3.6e6 = 498692.21; SPACE "%.4f" of 0.17; brokerActive absent.
    assert_eq!(
        row,
        "WireCluster             broker-w                0     127.0.0.1:19911        V4_9_8                 0.00(0,0ms)               0.00(0,0ms|N,Nms)  0-0(0.0w, 0.0, 0.0)               0  498692.21     0.1700         false\n"
    );
    assert_eq!(more_totals(&t), [0, 0, 0, 0]);
}

#[test]
fn missing_keys_print_null_and_bad_numbers_stop_the_try_block() {
    // putTps present but not a number: Java's catch prints the exception; values read
    // before it stay (brokerActive, queue sizes, version), out stays 0.
    let t = table_of(&[
        ("brokerActive", "TRUE"),
        ("putTps", "abc 1 2"),
        ("getTransferredTps", "3.0"),
        ("brokerVersionDesc", "V5_3_3"),
    ]);
    let mut s = BaseStats::default();
    let err = s.fill(Ok(&t)).unwrap_err();
    assert_eq!(err.to_string(), "java.lang.NumberFormatException: For input string: \"abc\"");
    let row = s.row("C", "B", 3, "h:1", 0).unwrap();
    assert_eq!(
        row,
        "C                       B                       3     h:1                    V5_3_3                 0.00(null,nullms)         0.00(null,nullms|N,Nms)  0-0(0.0w, 0.0, 0.0)            null  0.00          0.0000          true\n"
    );
    // earliestMessageTimeStamp is parsed outside Java's try: the command fails.
    let mut s = BaseStats::default();
    s.fill(Ok(&table_of(&[("earliestMessageTimeStamp", "soon")]))).unwrap();
    assert_eq!(s.row("C", "B", 0, "a", 0).unwrap_err(), AdminError::NumberFormat("For input string: \"soon\"".into()));
}

#[test]
fn failed_fetch_keeps_defaults() {
    let mut s = BaseStats::default();
    let e = AdminError::Timeout { addr: "a:1".into(), millis: 5000 };
    assert_eq!(s.fill(Err(&e)), Err(e));
    assert_eq!(s, BaseStats::default());
    let row = s.row("C", "B", 0, "a:1", 0).unwrap();
    assert!(row.contains("     0.00(,ms)") && row.ends_with("0.00          0.0000         false\n"), "{row}");
}

#[test]
fn timer_values_parse_in_order_and_stop_silently() {
    let t = table_of(&[("timerReadBehind", "4"), ("timerOffsetBehind", "x"), ("timerCongestNum", "9")]);
    let mut s = BaseStats::default();
    s.fill(Ok(&t)).unwrap();
    assert_eq!((s.timer_read_behind, s.timer_offset_behind, s.timer_congest), (4, 0, 0));
}

#[test]
fn more_stats_totals() {
    let t = table_of(&[
        ("msgPutTotalYesterdayMorning", "100"),
        ("msgPutTotalTodayMorning", "250"),
        ("msgPutTotalTodayNow", "300"),
        ("msgGetTotalYesterdayMorning", "10"),
        ("msgGetTotalTodayMorning", "40"),
        ("msgGetTotalTodayNow", "45"),
    ]);
    assert_eq!(more_totals(&t), [150, 30, 50, 5]);
    // A missing value: totals before it are kept.
    let mut t2 = t.clone();
    t2.shift_remove("msgPutTotalTodayNow");
    assert_eq!(more_totals(&t2), [150, 30, 0, 0]);
    assert_eq!(
        more_row("C", "B", [150, 30, 50, 5]),
        "C                 B                                           150             30             50              5\n"
    );
}
