//! The name server over real sockets on 127.0.0.1.

use std::time::Duration;

use rmq_namesrv::{NameServer, NameServerHandle, NamesrvSettings};
use rmq_remoting::codec::header::ToExtFields;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode, Version};
use rmq_remoting::protocol::body::{self, ClusterInfo, DataVersion, RegisterBrokerBody, TopicConfig, TopicRouteData};
use rmq_remoting::protocol::namesrv::{GetRouteInfoRequestHeader, RegisterBrokerRequestHeader};
use rmq_remoting::protocol::register::body_crc32;
use rmq_remoting::transport::{Channel, Client, ClientConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const T: Duration = Duration::from_secs(3);

async fn start() -> (NameServerHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let h = NameServer::start(NamesrvSettings::for_test(dir.path())).await.unwrap();
    (h, dir)
}

fn register_cmd(broker: &str, addr: &str, id: i64, topics: &[&str]) -> RemotingCommand {
    let mut body = RegisterBrokerBody::default();
    body.topic_config_serialize_wrapper.data_version = DataVersion { counter: 1, state_version: Some(0), timestamp: 1 };
    for t in topics {
        body.topic_config_serialize_wrapper.topic_config_table.insert(
            t.to_string(),
            TopicConfig {
                attributes: Some(Default::default()),
                order: false,
                perm: 6,
                read_queue_nums: 4,
                topic_filter_type: "SINGLE_TAG".into(),
                topic_name: t.to_string(),
                topic_sys_flag: 0,
                write_queue_nums: 4,
            },
        );
    }
    let bytes = body::encode(&body);
    let mut cmd = RemotingCommand::request(RequestCode::REGISTER_BROKER);
    RegisterBrokerRequestHeader {
        broker_name: broker.into(),
        broker_addr: addr.into(),
        cluster_name: "TestCluster".into(),
        ha_server_addr: addr.replace(":10911", ":10912"),
        broker_id: id,
        heartbeat_timeout_millis: None,
        enable_acting_master: Some(false),
        compressed: Some(false),
        body_crc32: Some(body_crc32(&bytes)),
    }
    .apply_to(&mut cmd);
    cmd.with_body(bytes)
}

async fn route(ch: &Channel, topic: &str) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC);
    GetRouteInfoRequestHeader { topic: topic.into(), accept_standard_json_only: None }.apply_to(&mut cmd);
    ch.invoke(cmd, T).await.unwrap()
}

#[tokio::test]
async fn broker_route_disappears_when_its_connection_closes() {
    let (ns, _d) = start().await;
    let addr = ns.local_addr().to_string();
    let client = Client::new(ClientConfig::default());
    let broker = client.connect(&addr).await.unwrap();
    let resp = broker.invoke(register_cmd("broker-a", "127.0.0.1:10911", 0, &["TopicA", "TBW102"]), T).await.unwrap();
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "{:?}", resp.remark);
    let reader = client.connect(&addr).await.unwrap();
    let r = route(&reader, "TopicA").await;
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    let data: TopicRouteData = body::decode("route", r.body.as_ref().unwrap()).unwrap();
    assert_eq!(data.broker_datas[0].broker_addrs.get(&0).map(String::as_str), Some("127.0.0.1:10911"));
    // Standard JSON for a 5.x client: quoted map keys.
    assert!(std::str::from_utf8(r.body.as_ref().unwrap()).unwrap().contains(r#"{"0":"127.0.0.1:10911"}"#));

    broker.close();
    let mut gone = false;
    for _ in 0..50 {
        if route(&reader, "TopicA").await.response_code() == ResponseCode::TOPIC_NOT_EXIST {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "route still present after the broker's connection closed");
    ns.shutdown().await;
}

#[tokio::test]
async fn two_name_servers_share_nothing() {
    let (a, _da) = start().await;
    let (b, _db) = start().await;
    let client = Client::new(ClientConfig::default());
    let ch_a = client.connect(&a.local_addr().to_string()).await.unwrap();
    let ch_b = client.connect(&b.local_addr().to_string()).await.unwrap();
    ch_a.invoke(register_cmd("broker-a", "127.0.0.1:10911", 0, &["OnlyOnA", "TBW102"]), T).await.unwrap();
    assert_eq!(route(&ch_a, "OnlyOnA").await.response_code(), ResponseCode::SUCCESS);
    assert_eq!(route(&ch_b, "OnlyOnA").await.response_code(), ResponseCode::TOPIC_NOT_EXIST);
    let info = ch_b.invoke(RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO), T).await.unwrap();
    let info: ClusterInfo = body::decode("cluster", info.body.as_ref().unwrap()).unwrap();
    assert!(info.broker_addr_table.is_empty());
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test]
async fn slave_learns_master_and_ha_address() {
    let (ns, _d) = start().await;
    let client = Client::new(ClientConfig::default());
    let m = client.connect(&ns.local_addr().to_string()).await.unwrap();
    let s = client.connect(&ns.local_addr().to_string()).await.unwrap();
    m.invoke(register_cmd("broker-a", "127.0.0.1:10911", 0, &["T1", "T2"]), T).await.unwrap();
    let r = s.invoke(register_cmd("broker-a", "127.0.0.2:10911", 1, &["T1", "T2"]), T).await.unwrap();
    assert_eq!(r.ext("masterAddr"), Some("127.0.0.1:10911"));
    assert_eq!(r.ext("haServerAddr"), Some("127.0.0.1:10912"));
    ns.shutdown().await;
}

#[tokio::test]
async fn crc_mismatch_and_unknown_codes() {
    let (ns, _d) = start().await;
    let client = Client::new(ClientConfig::default());
    let ch = client.connect(&ns.local_addr().to_string()).await.unwrap();
    let mut bad = register_cmd("broker-a", "127.0.0.1:10911", 0, &["T1", "T2"]);
    bad.set_ext("bodyCrc32", "12345");
    let r = ch.invoke(bad, T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert_eq!(r.remark.as_deref(), Some("crc32 not match"));
    let r = ch.invoke(RemotingCommand::request(RequestCode::SEND_MESSAGE), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::REQUEST_CODE_NOT_SUPPORTED);
    assert_eq!(r.remark.as_deref(), Some(" request type 10 not supported"));
    // A missing required header field names the field.
    let r = ch.invoke(RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SYSTEM_ERROR);
    assert!(r.remark.unwrap().contains("the custom field <topic> is null"));
    ns.shutdown().await;
}

#[tokio::test]
async fn old_clients_get_unquoted_route_keys() {
    let (ns, _d) = start().await;
    let client = Client::new(ClientConfig::default());
    let ch = client.connect(&ns.local_addr().to_string()).await.unwrap();
    ch.invoke(register_cmd("broker-a", "127.0.0.1:10911", 0, &["T1", "T2"]), T).await.unwrap();
    let mut cmd = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC);
    cmd.version = Version::V4_5_0.0;
    cmd.set_ext("topic", "T1");
    let r = ch.invoke(cmd.clone(), T).await.unwrap();
    let text = String::from_utf8(r.body.unwrap().to_vec()).unwrap();
    assert!(text.contains(r#"{0:"127.0.0.1:10911"}"#), "{text}");
    assert!(!text.contains("enableActingMaster"), "4.x clients get the 4.9.8 shape: {text}");
    cmd.set_ext("acceptStandardJsonOnly", "true");
    let r = ch.invoke(cmd, T).await.unwrap();
    let text = String::from_utf8(r.body.unwrap().to_vec()).unwrap();
    assert!(text.contains(r#"{"0":"127.0.0.1:10911"}"#), "{text}");
    ns.shutdown().await;
}

/// Sends raw bytes on a fresh connection and reports whether the server closed it.
async fn closes_connection(addr: &str, bytes: &[u8]) -> bool {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(bytes).await.unwrap();
    let mut buf = [0u8; 64];
    matches!(tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await, Ok(Ok(0)) | Ok(Err(_)))
}

#[tokio::test]
async fn bad_frames_close_only_their_connection() {
    let (ns, _d) = start().await;
    let addr = ns.local_addr().to_string();
    let client = Client::new(ClientConfig::default());
    let good = client.connect(&addr).await.unwrap();

    // 32 MiB announced: over the 16 MiB limit, refused as soon as the length is read.
    assert!(closes_connection(&addr, &[0x02, 0, 0, 0, 0, 0, 0, 0]).await);
    // Header length 100 in a 12-byte frame.
    assert!(closes_connection(&addr, &[0, 0, 0, 12, 0, 0, 0, 100, 1, 2, 3, 4, 5, 6, 7, 8]).await);
    // Invalid JSON header.
    let junk = b"{\"code\":";
    let mut f = Vec::new();
    f.extend_from_slice(&((4 + junk.len()) as u32).to_be_bytes());
    f.extend_from_slice(&(junk.len() as u32).to_be_bytes());
    f.extend_from_slice(junk);
    assert!(closes_connection(&addr, &f).await);
    // Random bytes (deterministic xorshift so a failure reproduces).
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let random: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    assert!(closes_connection(&addr, &random).await);

    // The well-behaved connection is still served.
    let r = good.invoke(RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO), T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    ns.shutdown().await;
}

#[tokio::test]
async fn kv_config_round_trip_and_persistence() {
    let dir = tempfile::tempdir().unwrap();
    let settings = NamesrvSettings::for_test(dir.path());
    let ns = NameServer::start(settings.clone()).await.unwrap();
    let client = Client::new(ClientConfig::default());
    let ch = client.connect(&ns.local_addr().to_string()).await.unwrap();
    let mut put = RemotingCommand::request(RequestCode::PUT_KV_CONFIG);
    put.set_ext("namespace", "ORDER_TOPIC_CONFIG");
    put.set_ext("key", "T1");
    put.set_ext("value", "broker-a:4");
    assert_eq!(ch.invoke(put, T).await.unwrap().response_code(), ResponseCode::SUCCESS);
    ns.shutdown().await;

    let ns = NameServer::start(settings).await.unwrap();
    let ch = client.connect(&ns.local_addr().to_string()).await.unwrap();
    let mut get = RemotingCommand::request(RequestCode::GET_KV_CONFIG);
    get.set_ext("namespace", "ORDER_TOPIC_CONFIG");
    get.set_ext("key", "T1");
    let r = ch.invoke(get.clone(), T).await.unwrap();
    assert_eq!(r.ext("value"), Some("broker-a:4"));
    // Registering brokers get the ORDER_TOPIC_CONFIG namespace back as a KVTable.
    let r = ch.invoke(register_cmd("broker-a", "127.0.0.1:10911", 0, &["T1", "T2"]), T).await.unwrap();
    assert_eq!(r.body.as_deref(), Some(&br#"{"table":{"T1":"broker-a:4"}}"#[..]));
    let mut del = get.clone();
    del.code = RequestCode::DELETE_KV_CONFIG.0;
    ch.invoke(del, T).await.unwrap();
    let r = ch.invoke(get, T).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::QUERY_NOT_FOUND);
    ns.shutdown().await;
}

#[tokio::test]
async fn namesrv_config_get_update_and_black_list() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("namesrv.conf");
    std::fs::write(&conf, "listenPort=0\nbindAddress=127.0.0.1\norderMessageEnable=false\n").unwrap();
    let mut settings = NamesrvSettings::for_test(dir.path());
    settings.apply_file(&conf).unwrap();
    let ns = NameServer::start(settings).await.unwrap();
    let client = Client::new(ClientConfig::default());
    let ch = client.connect(&ns.local_addr().to_string()).await.unwrap();
    let mut upd = RemotingCommand::request(RequestCode::UPDATE_NAMESRV_CONFIG);
    upd.body = Some(b"orderMessageEnable=true\n".to_vec().into());
    assert_eq!(ch.invoke(upd, T).await.unwrap().response_code(), ResponseCode::SUCCESS);
    let r = ch.invoke(RemotingCommand::request(RequestCode::GET_NAMESRV_CONFIG), T).await.unwrap();
    let text = String::from_utf8(r.body.unwrap().to_vec()).unwrap();
    assert!(text.lines().any(|l| l == "orderMessageEnable=true"), "{text}");
    // Written back to the -c file.
    let saved = std::fs::read_to_string(&conf).unwrap();
    assert!(saved.lines().any(|l| l == "orderMessageEnable=true"), "{saved}");
    let mut upd = RemotingCommand::request(RequestCode::UPDATE_NAMESRV_CONFIG);
    upd.body = Some(b"kvConfigPath=/tmp/evil\n".to_vec().into());
    assert_eq!(ch.invoke(upd, T).await.unwrap().response_code(), ResponseCode::NO_PERMISSION);
    ns.shutdown().await;
}
