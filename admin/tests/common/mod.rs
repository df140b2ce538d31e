//! Test scaffolding: a real name server on 127.0.0.1:0, brokers registered over the
//! wire, tiny in-test "brokers" answering GET_BROKER_RUNTIME_INFO and
//! QUERY_TOPIC_CONSUME_BY_WHO, and a runner for the built `mqadmin` binary.

#![allow(dead_code)]

pub mod broker;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use rmq_namesrv::{NameServer, NameServerHandle, NamesrvSettings};
use rmq_remoting::codec::header::ToExtFields;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::body::{self, DataVersion, RegisterBrokerBody, TopicConfig};
use rmq_remoting::protocol::namesrv::RegisterBrokerRequestHeader;
use rmq_remoting::protocol::register::body_crc32;
use rmq_remoting::transport::{
    BoxFuture, Channel, Client, ClientConfig, RequestHandler, Server, ServerConfig, ServerHandle,
};

pub const T: Duration = Duration::from_secs(5);

/// The GET_BROKER_RUNTIME_INFO body a Java 4.9.8 broker (broker-w) sent to Java
/// mqadmin in golden/java-4.9.8/wire/mqadmin_clusterList.pcap (reassembled from the pcap).
pub const KV_TABLE_498: &str = r#"{"table":{"msgPutTotalTodayNow":"0","commitLogDiskRatio":"0.17","getFoundTps":"0.0  ","EndTransactionThreadPoolQueueCapacity":"100000","sendThreadPoolQueueHeadWaitTimeMills":"0","putMessageDistributeTime":"null","queryThreadPoolQueueHeadWaitTimeMills":"0","remainHowManyDataToFlush":"0 B","msgGetTotalTodayNow":"0","putMessageFailedTimes":"0","putLatency999":"0.00","commitLogMaxOffset":"0","queryThreadPoolQueueSize":"0","getMessageEntireTimeMax":"0","msgPutTotalTodayMorning":"0","putMessageTimesTotal":"1","putLatency99":"0.00","bootTimestamp":"1795291936339","msgGetTotalTodayMorning":"0","msgPutTotalYesterdayMorning":"0","msgGetTotalYesterdayMorning":"0","pullThreadPoolQueueSize":"0","brokerVersionDesc":"V4_9_8","sendThreadPoolQueueSize":"0","startAcceptSendRequestTimeStamp":"0","commitLogMinOffset":"-1","commitLogDiskRatio_/tmp/javarmq/data/wire/commitlog":"0.17","putMessageEntireTimeMax":"0","pullThreadPoolQueueHeadWaitTimeMills":"0","runtime":"[ 0 days, 0 hours, 0 minutes, 20 seconds ]","earliestMessageTimeStamp":"-1","commitLogDirCapacity":"Total : 252.0 GiB, Free : 76.0 GiB.","dispatchMaxBuffer":"0","brokerVersion":"409","putTps":"0.0  ","remainTransientStoreBufferNumbs":"2147483647","getMissTps":"0.1985505807604487  ","queryThreadPoolQueueCapacity":"20000","putMessageAverageSize":"0.0","getTransferedTps":"0.0  ","dispatchBehindBytes":"0","putMessageSizeTotal":"0","sendThreadPoolQueueCapacity":"10000","EndTransactionQueueSize":"0","getTotalTps":"0.1985505807604487 0.0 0.0","pullThreadPoolQueueCapacity":"100000","consumeQueueDiskRatio":"0.17","pageCacheLockTimeMills":"0"}}"#;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

pub async fn start_namesrv() -> (NameServerHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let h = NameServer::start(NamesrvSettings::for_test(dir.path())).await.unwrap();
    (h, dir)
}

/// A broker registration to send.
pub struct Reg<'a> {
    pub cluster: &'a str,
    pub broker: &'a str,
    pub id: i64,
    pub addr: &'a str,
    pub topics: &'a [&'a str],
}

/// Registers a broker (REGISTER_BROKER, 103) and returns the connection, which must
/// stay open: the name server forgets a broker whose channel closes.
pub async fn register(namesrv: SocketAddr, reg: Reg<'_>) -> Channel {
    let mut b = RegisterBrokerBody::default();
    b.topic_config_serialize_wrapper.data_version =
        DataVersion { counter: 1, state_version: Some(0), timestamp: now_ms() };
    for t in reg.topics {
        b.topic_config_serialize_wrapper.topic_config_table.insert(
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
    let bytes = body::encode(&b);
    let mut cmd = RemotingCommand::request(RequestCode::REGISTER_BROKER);
    RegisterBrokerRequestHeader {
        broker_name: reg.broker.into(),
        broker_addr: reg.addr.into(),
        cluster_name: reg.cluster.into(),
        ha_server_addr: reg.addr.into(),
        broker_id: reg.id,
        heartbeat_timeout_millis: None,
        enable_acting_master: Some(false),
        compressed: Some(false),
        body_crc32: Some(body_crc32(&bytes)),
    }
    .apply_to(&mut cmd);
    let ch = Client::new(ClientConfig::default()).connect(&namesrv.to_string()).await.unwrap();
    let resp = ch.invoke(cmd.with_body(bytes), T).await.unwrap();
    assert_eq!(resp.response_code(), ResponseCode::SUCCESS, "register: {:?}", resp.remark);
    ch
}

type TableFn = Arc<dyn Fn() -> Vec<u8> + Send + Sync>;

/// Answers GET_BROKER_RUNTIME_INFO with `table()` and QUERY_TOPIC_CONSUME_BY_WHO from `groups`.
struct FakeBroker {
    table: TableFn,
    groups: HashMap<String, Vec<String>>,
}

impl RequestHandler for FakeBroker {
    fn handle(&self, _channel: &Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        let resp = match req.request_code() {
            RequestCode::GET_BROKER_RUNTIME_INFO => {
                RemotingCommand::response_to(&req, ResponseCode::SUCCESS, None).with_body((self.table)())
            }
            RequestCode::QUERY_TOPIC_CONSUME_BY_WHO => {
                let topic = req.ext("topic").unwrap_or_default();
                let groups = self.groups.get(topic).cloned().unwrap_or_default();
                let json = serde_json::json!({ "groupList": groups }).to_string();
                RemotingCommand::response_to(&req, ResponseCode::SUCCESS, None).with_body(json.into_bytes())
            }
            _ => RemotingCommand::response_to(&req, ResponseCode::REQUEST_CODE_NOT_SUPPORTED, Some("not here".into())),
        };
        Box::pin(async move { Some(resp) })
    }
}

/// Starts a fake broker on 127.0.0.1:0.
pub async fn fake_broker(
    table: impl Fn() -> Vec<u8> + Send + Sync + 'static,
    groups: &[(&str, &[&str])],
) -> ServerHandle {
    let groups = groups.iter().map(|(t, g)| (t.to_string(), g.iter().map(|s| s.to_string()).collect())).collect();
    let handler = Arc::new(FakeBroker { table: Arc::new(table), groups });
    Server::bind("127.0.0.1:0".parse().unwrap(), ServerConfig::default(), handler).await.unwrap()
}

/// A port nothing listens on (bound, then released).
pub fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Runs the built `mqadmin` with `args`; NAMESRV_ADDR is cleared unless given.
pub async fn mqadmin(args: &[&str], namesrv_env: Option<&str>) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let env = namesrv_env.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_mqadmin"));
        cmd.args(&args).env_remove("NAMESRV_ADDR");
        if let Some(e) = env {
            cmd.env("NAMESRV_ADDR", e);
        }
        cmd.output().unwrap()
    })
    .await
    .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Asks the name server directly (for checking what a command changed).
pub async fn ask(namesrv: SocketAddr, cmd: RemotingCommand) -> RemotingCommand {
    let ch = Client::new(ClientConfig::default()).connect(&namesrv.to_string()).await.unwrap();
    let r = ch.invoke(cmd, T).await.unwrap();
    ch.close();
    r
}

/// `%-Ns` / `%Ns` for ASCII test data.
pub fn l(s: &str, w: usize) -> String {
    format!("{s:<w$}")
}

pub fn r(s: &str, w: usize) -> String {
    format!("{s:>w$}")
}
