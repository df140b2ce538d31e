use super::*;

fn topics(names: &[(&str, i32)]) -> TopicConfigSerializeWrapper {
    let mut w = TopicConfigSerializeWrapper {
        data_version: DataVersion { counter: 1, state_version: Some(0), timestamp: 7 },
        ..Default::default()
    };
    for (n, q) in names {
        w.topic_config_table.insert(
            n.to_string(),
            TopicConfig {
                attributes: None,
                order: false,
                perm: 6,
                read_queue_nums: *q,
                topic_filter_type: "SINGLE_TAG".into(),
                topic_name: n.to_string(),
                topic_sys_flag: 0,
                write_queue_nums: *q,
            },
        );
    }
    w
}

fn reg<'a>(
    name: &'a str,
    addr: &'a str,
    ha: &'a str,
    id: i64,
    t: TopicConfigSerializeWrapper,
    ch: u64,
) -> Registration<'a> {
    Registration {
        cluster: "C",
        broker_addr: addr,
        broker_name: name,
        broker_id: id,
        ha_server_addr: ha,
        zone_name: None,
        timeout: None,
        enable_acting_master: None,
        topics: t,
        filter_servers: vec![],
        channel_id: ch,
    }
}

#[test]
fn master_slave_register_and_route() {
    let mut rt = RouteTable::new();
    let now = Instant::now();
    let m = rt.register(reg("b", "1.1.1.1:10911", "1.1.1.1:10912", 0, topics(&[("T", 4), ("U", 2)]), 1), now).unwrap();
    assert_eq!(m, RegisterResult::default());
    let s = rt.register(reg("b", "1.1.1.2:10911", "1.1.1.2:10912", 1, topics(&[("T", 4), ("U", 2)]), 2), now).unwrap();
    assert_eq!(s.master_addr.as_deref(), Some("1.1.1.1:10911"));
    assert_eq!(s.ha_server_addr.as_deref(), Some("1.1.1.1:10912"));
    let route = rt.route("T", Flavor::V5).unwrap();
    assert_eq!(route.broker_datas[0].broker_addrs.len(), 2);
    assert_eq!(route.queue_datas[0].read_queue_nums, 4);
    assert_eq!(route.broker_datas[0].enable_acting_master, Some(false));
    assert_eq!(rt.route("T", Flavor::V4).unwrap().broker_datas[0].enable_acting_master, None);
    assert!(rt.route("nope", Flavor::V5).is_none());
}

#[test]
fn closing_the_channel_drops_the_broker_at_once() {
    let mut rt = RouteTable::new();
    let now = Instant::now();
    rt.register(reg("b", "1.1.1.1:10911", "1.1.1.1:10912", 0, topics(&[("T", 4), ("U", 1)]), 9), now).unwrap();
    assert!(rt.route("T", Flavor::V5).is_some());
    let gone = rt.on_channel_closed(9);
    assert_eq!(gone.len(), 1);
    assert!(rt.route("T", Flavor::V5).is_none());
    assert!(rt.cluster_info(Flavor::V5).broker_addr_table.is_empty());
}

#[test]
fn expiry_uses_the_broker_timeout() {
    let mut rt = RouteTable::new();
    let now = Instant::now();
    let mut r = reg("b", "1.1.1.1:10911", "1.1.1.1:10912", 0, topics(&[("T", 4), ("U", 1)]), 3);
    r.timeout = Some(Duration::from_millis(100));
    rt.register(r, now).unwrap();
    assert!(rt.expire(now + Duration::from_millis(50)).is_empty());
    assert_eq!(rt.expire(now + Duration::from_millis(150)).len(), 1);
    assert!(rt.route("T", Flavor::V5).is_none());
}

#[test]
fn unknown_slave_with_single_topic_is_refused() {
    let mut rt = RouteTable::new();
    assert!(rt.register(reg("b", "1.1.1.2:10911", "x", 1, topics(&[("T", 4)]), 1), Instant::now()).is_none());
}

#[test]
fn write_perm_wipe_and_add() {
    let mut rt = RouteTable::new();
    rt.register(reg("b", "1.1.1.1:10911", "x", 0, topics(&[("T", 4), ("U", 1)]), 1), Instant::now()).unwrap();
    assert_eq!(rt.change_write_perm("b", false), 2);
    assert_eq!(rt.route("T", Flavor::V5).unwrap().queue_datas[0].perm, 4);
    assert_eq!(rt.change_write_perm("b", true), 2);
    assert_eq!(rt.route("T", Flavor::V5).unwrap().queue_datas[0].perm, 6);
}
