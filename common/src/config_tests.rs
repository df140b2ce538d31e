//! Tests of `config`.

use super::*;
use crate::properties::parse;

crate::config_object! {
    /// A cut-down NamesrvConfig.
    pub struct TestNamesrv {
        rocketmq_home: String = "rocketmqHome" => "/opt/rmq",
        kv_config_path: String = "kvConfigPath" => String::new(),
        listen_port: i32 = "listenPort" => 9876,
        order_message_enable: bool = "orderMessageEnable" => false,
        scan_interval: i64 = "scanNotActiveBrokerInterval" => 5 * 1000,
    }
}

crate::config_object! {
    pub struct TestNetty {
        /// Shares a key with TestNamesrv on purpose.
        listen_port: u16 = "listenPort" => 8888,
        ratio: f64 = "ratio" => 0.75,
        small: f32 = "small" => 1.0e-4,
        bind_address: Option<String> = "bindAddress" => None,
        zone: Option<String> = "zoneName" => "z1",
        max: Option<i32> = "max" => Some(3),
    }
}

fn props(text: &str) -> crate::properties::Properties {
    parse(text.as_bytes()).unwrap()
}

#[test]
fn defaults_and_keys() {
    let n = TestNamesrv::default();
    assert_eq!(n.rocketmq_home, "/opt/rmq");
    assert_eq!(n.listen_port, 9876);
    assert_eq!(n.scan_interval, 5000);
    assert_eq!(
        TestNamesrv::KEYS,
        ["rocketmqHome", "kvConfigPath", "listenPort", "orderMessageEnable", "scanNotActiveBrokerInterval"]
    );
    let t = TestNetty::default();
    assert_eq!(
        (t.listen_port, t.ratio, t.bind_address, t.zone.as_deref(), t.max),
        (8888, 0.75, None, Some("z1"), Some(3))
    );
}

#[test]
fn apply_sets_every_object_and_reports_unknown() {
    let mut n = TestNamesrv::default();
    let mut t = TestNetty::default();
    let p = props(
        "listenPort=19876\nrocketmqHome =  /data/rmq \t\norderMessageEnable=TRUE\nbogus=1\n\
         bindAddress=  0.0.0.0 \nratio= 0.5d \nmax=-7\nzoneName=\nanotherBogus\n",
    );
    let report = apply(&p, &mut [&mut n, &mut t]).unwrap();
    assert_eq!(report.unknown_keys, ["bogus", "anotherBogus"]);
    assert_eq!(report.assignments, 8);
    assert_eq!(n.listen_port, 19876);
    assert_eq!(t.listen_port, 19876);
    assert_eq!(n.rocketmq_home, "/data/rmq");
    assert!(n.order_message_enable);
    assert_eq!(t.bind_address.as_deref(), Some("0.0.0.0"));
    assert_eq!(t.ratio, 0.5);
    assert_eq!(t.max, Some(-7));
    // Java sets the trimmed empty string, it does not null the field.
    assert_eq!(t.zone.as_deref(), Some(""));
}

#[test]
fn trailing_blank_on_a_number_is_an_error_naming_the_key() {
    let mut n = TestNamesrv::default();
    let err = apply(&props("listenPort=10911 \n"), &mut [&mut n]).unwrap_err();
    let ConfigError::Malformed { key, value, expected } = &err;
    assert_eq!((key.as_str(), value.as_str()), ("listenPort", "10911 "));
    assert!(expected.contains("whitespace"), "{expected}");
    let msg = err.to_string();
    assert!(msg.starts_with("config key `listenPort`: invalid value \"10911 \""), "{msg}");
    assert_eq!(n.listen_port, 9876);
}

#[test]
fn malformed_values() {
    let mut n = TestNamesrv::default();
    let mut t = TestNetty::default();
    for (text, key) in [
        ("orderMessageEnable=yes", "orderMessageEnable"),
        ("orderMessageEnable=true ", "orderMessageEnable"),
        ("listenPort=0x10", "listenPort"),
        ("listenPort=", "listenPort"),
        ("listenPort=99999999999", "listenPort"),
        ("scanNotActiveBrokerInterval=1.5", "scanNotActiveBrokerInterval"),
        ("ratio=inf", "ratio"),
        ("ratio=abc", "ratio"),
    ] {
        match n.set(key, &props(text)[key]).and_then(|a| if a { Ok(a) } else { t.set(key, &props(text)[key]) }) {
            Err(ConfigError::Malformed { key: k, .. }) => assert_eq!(k, key, "{text}"),
            other => panic!("{text}: {other:?}"),
        }
    }
    // The u16 field refuses what the i32 field accepts.
    assert!(t.set("listenPort", "70000").is_err());
    assert!(n.set("listenPort", "70000").unwrap());
}

#[test]
fn java_number_rules() {
    assert_eq!(i32::parse_config("+42"), Ok(42));
    assert_eq!(i64::parse_config("-9223372036854775808"), Ok(i64::MIN));
    assert!(i32::parse_config(" 1").is_err());
    assert_eq!(f64::parse_config(" 2.5 "), Ok(2.5));
    assert_eq!(f64::parse_config("1e3"), Ok(1000.0));
    assert_eq!(f64::parse_config("-Infinity"), Ok(f64::NEG_INFINITY));
    assert!(f64::parse_config("NaN").unwrap().is_nan());
    assert_eq!(f32::parse_config("0.25f"), Ok(0.25));
    assert!(f64::parse_config("1.0x").is_err());
    assert_eq!(bool::parse_config("False"), Ok(false));
    assert_eq!(String::parse_config("\x01 a b \x1f"), Ok("a b".to_string()));
}

#[test]
fn print_entries_like_java_p() {
    let n = TestNamesrv::default();
    let t = TestNetty { ratio: 10_000_000.0, ..Default::default() };
    let text = print_entries(&[&n, &t]);
    assert_eq!(
        text,
        "rocketmqHome=/opt/rmq\nkvConfigPath=\nlistenPort=9876\norderMessageEnable=false\n\
         scanNotActiveBrokerInterval=5000\nlistenPort=8888\nratio=1.0E7\nsmall=1.0E-4\nbindAddress=\n\
         zoneName=z1\nmax=3\n"
    );
}
