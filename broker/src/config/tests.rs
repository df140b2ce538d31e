use super::*;

fn settings(text: &str) -> Result<BrokerSettings, ConfigError> {
    let mut s = BrokerSettings::defaults();
    let props = properties::parse(text.as_bytes()).unwrap();
    s.apply(&props)?;
    s.finish()?;
    Ok(s)
}

#[test]
fn shipped_broker_conf_applies() {
    let s = settings(
        "brokerClusterName = DefaultCluster\nbrokerName = broker-a\nbrokerId = 0\ndeleteWhen = 04\nfileReservedTime = 48\nbrokerRole = ASYNC_MASTER\nflushDiskType = ASYNC_FLUSH\n",
    )
    .unwrap();
    assert_eq!(s.broker.broker_name, "broker-a");
    assert_eq!(s.store.file_reserved_time, 48);
    assert_eq!(s.server.listen_port, 10911);
    assert_eq!(s.store.ha_listen_port, 10912);
    assert_eq!(s.role().unwrap(), BrokerRole::AsyncMaster);
}

#[test]
fn masters_get_id_zero_and_slaves_need_positive_ids() {
    let s = settings("brokerRole=SYNC_MASTER\nbrokerId=3\n").unwrap();
    assert_eq!(s.broker.broker_id, 0);
    let err = settings("brokerRole=SLAVE\nbrokerId=0\n").unwrap_err();
    assert!(matches!(err, ConfigError::Startup { exit_code: -3, .. }), "{err}");
    let s = settings("brokerRole=SLAVE\nbrokerId=1\nlistenPort=20911\n").unwrap();
    assert_eq!(s.store.ha_listen_port, 20912);
    assert_eq!(s.store.access_message_in_memory_max_ratio, 30);
}

#[test]
fn controller_and_dledger_are_exclusive() {
    let err = settings("enableControllerMode=true\nenableDLegerCommitLog=true\n").unwrap_err();
    assert!(matches!(err, ConfigError::Startup { exit_code: -4, .. }));
}

#[test]
fn bad_namesrv_address_is_refused() {
    let err = settings("namesrvAddr=not-an-address\n").unwrap_err();
    assert!(matches!(err, ConfigError::Startup { exit_code: -3, .. }), "{err}");
}

#[test]
fn malformed_value_names_the_key() {
    let err = settings("fileReservedTime=two days\n").unwrap_err().to_string();
    assert!(err.contains("fileReservedTime"), "{err}");
}

#[test]
fn print_all_and_important() {
    let s = settings("brokerName=b1\n").unwrap();
    let all = s.print_all();
    assert!(all.lines().any(|l| l == "brokerName=b1"));
    assert!(all.lines().any(|l| l == "mappedFileSizeCommitLog=1073741824"));
    let imp = s.print_important();
    assert!(imp.lines().any(|l| l == "brokerName=b1"));
    assert!(!imp.contains("mappedFileSizeCommitLog"));
}
