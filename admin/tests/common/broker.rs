//! A broker for mqadmin tests: the real admin processors of `rmq-broker`
//! (`processor::admin`) over a tempdir store's metadata, plus canned answers for
//! VIEW_MESSAGE_BY_ID / QUERY_MESSAGE and GET_CONSUMER_RUNNING_INFO.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use rmq_broker::client::{ConsumerManager, ProducerManager};
use rmq_broker::config::BrokerSettings;
use rmq_broker::meta::{Meta, TopicConfig};
use rmq_broker::processor::admin::{self, AdminContext, AdminState, RuntimeStats};
use rmq_remoting::codec::header::ToExtFields;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::body::{self, RegisterBrokerBody};
use rmq_remoting::protocol::namesrv::RegisterBrokerRequestHeader;
use rmq_remoting::protocol::register::body_crc32;
use rmq_remoting::transport::{
    BoxFuture, Channel, Client, ClientConfig, RequestHandler, Server, ServerConfig, ServerHandle,
};
use rmq_store::config_files::JavaFlavor;
use rmq_store::record::{properties_to_bytes, HostAddr, MessageRecord, MessageVersion};

use super::T;

pub struct TestBroker {
    pub meta: Arc<Meta>,
    pub consumers: ConsumerManager,
    pub producers: ProducerManager,
    pub admin: AdminState,
    pub settings: Mutex<BrokerSettings>,
    /// (topic, queue) -> (min, max)
    pub queues: Mutex<HashMap<(String, i32), (i64, i64)>>,
    /// Stored records by commitlog offset.
    pub records: Mutex<Vec<(i64, Vec<u8>)>>,
    /// GET_CONSUMER_RUNNING_INFO answer body.
    pub running_info: Mutex<Option<String>>,
    pub addr: Mutex<String>,
    pub dir: tempfile::TempDir,
}

impl AdminContext for TestBroker {
    fn meta(&self) -> &Arc<Meta> {
        &self.meta
    }
    fn consumer_manager(&self) -> &ConsumerManager {
        &self.consumers
    }
    fn producer_manager(&self) -> &ProducerManager {
        &self.producers
    }
    fn admin_state(&self) -> &AdminState {
        &self.admin
    }
    fn settings(&self) -> BrokerSettings {
        self.settings.lock().clone()
    }
    fn apply_settings(&self, updated: BrokerSettings, _changed: &[String]) {
        *self.settings.lock() = updated;
    }
    fn on_topics_changed(&self, _topics: Vec<TopicConfig>) {}
    fn min_offset(&self, topic: &str, queue: i32) -> i64 {
        self.queues.lock().get(&(topic.to_string(), queue)).map_or(0, |q| q.0)
    }
    fn max_offset(&self, topic: &str, queue: i32) -> i64 {
        self.queues.lock().get(&(topic.to_string(), queue)).map_or(0, |q| q.1)
    }
    async fn store_time_at(&self, _topic: &str, _queue: i32, offset: i64) -> Option<i64> {
        Some(1_700_000_000_000 + offset * 1000)
    }
    async fn delete_topic_data(&self, _topics: &[String]) {}
    fn runtime_stats(&self) -> RuntimeStats {
        RuntimeStats { boot_timestamp: 1_700_000_000_000, ..RuntimeStats::default() }
    }
}

struct Handler(Arc<TestBroker>);

impl RequestHandler for Handler {
    fn handle(&self, channel: &Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        let b = self.0.clone();
        let ch = channel.clone();
        Box::pin(async move {
            let code = req.request_code();
            if admin::CODES.contains(&code) {
                return admin::handle(&*b, &ch, &req).await;
            }
            let ok = |body: Vec<u8>| RemotingCommand::response_to(&req, ResponseCode::SUCCESS, None).with_body(body);
            Some(match code {
                RequestCode::VIEW_MESSAGE_BY_ID => {
                    let off: i64 = req.ext("offset").and_then(|o| o.parse().ok()).unwrap_or(-1);
                    match b.records.lock().iter().find(|(o, _)| *o == off) {
                        Some((_, r)) => ok(r.clone()),
                        None => RemotingCommand::response_to(
                            &req,
                            ResponseCode::SYSTEM_ERROR,
                            Some(format!("no message at {off}")),
                        ),
                    }
                }
                RequestCode::QUERY_MESSAGE => {
                    let all: Vec<u8> = b.records.lock().iter().flat_map(|(_, r)| r.clone()).collect();
                    let mut r = ok(all);
                    r.set_ext("indexLastUpdateTimestamp", "0");
                    r.set_ext("indexLastUpdatePhyoffset", "0");
                    r
                }
                RequestCode::GET_CONSUMER_RUNNING_INFO => match b.running_info.lock().clone() {
                    Some(body) => ok(body.into_bytes()),
                    None => RemotingCommand::response_to(&req, ResponseCode::SYSTEM_ERROR, Some("not online".into())),
                },
                _ => RemotingCommand::response_to(
                    &req,
                    ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
                    Some(format!(" request type {} not supported", req.code)),
                ),
            })
        })
    }
}

/// A broker `name` of `cluster` on 127.0.0.1:0, registered with `namesrv`. Keep the
/// returned channel open: the name server forgets brokers whose channel closes.
pub async fn start_broker(namesrv: SocketAddr, cluster: &str, name: &str) -> (ServerHandle, Arc<TestBroker>, Channel) {
    let dir = tempfile::tempdir().unwrap();
    let mut s = BrokerSettings::defaults();
    s.broker.broker_cluster_name = cluster.into();
    s.broker.broker_name = name.into();
    s.store.store_path_root_dir = dir.path().display().to_string();
    s.config_file = Some(dir.path().join("broker.conf"));
    let meta = Arc::new(Meta::load_with(&s, JavaFlavor::V5_3_3).unwrap());
    let broker = Arc::new(TestBroker {
        meta,
        consumers: ConsumerManager::new(),
        producers: ProducerManager::new(),
        admin: AdminState::new(),
        settings: Mutex::new(s),
        queues: Mutex::new(HashMap::new()),
        records: Mutex::new(Vec::new()),
        running_info: Mutex::new(None),
        addr: Mutex::new(String::new()),
        dir,
    });
    let server =
        Server::bind("127.0.0.1:0".parse().unwrap(), ServerConfig::default(), Arc::new(Handler(broker.clone())))
            .await
            .unwrap();
    *broker.addr.lock() = server.local_addr().to_string();
    let ch = reregister(namesrv, &broker).await;
    (server, broker, ch)
}

/// REGISTER_BROKER with the broker's current topic table.
pub async fn reregister(namesrv: SocketAddr, b: &TestBroker) -> Channel {
    let s = b.settings();
    let addr = b.addr.lock().clone();
    let reg = RegisterBrokerBody {
        filter_server_list: vec![],
        topic_config_serialize_wrapper: b.meta.topics.serialize_wrapper(),
    };
    let bytes = body::encode(&reg);
    let mut cmd = RemotingCommand::request(RequestCode::REGISTER_BROKER);
    RegisterBrokerRequestHeader {
        broker_name: s.broker.broker_name.clone(),
        broker_addr: addr.clone(),
        cluster_name: s.broker.broker_cluster_name.clone(),
        ha_server_addr: addr,
        broker_id: 0,
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

/// A stored message record (what VIEW_MESSAGE_BY_ID returns).
pub fn record(
    topic: &str,
    queue_id: i32,
    queue_offset: i64,
    phy: i64,
    store_port: i32,
    props: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let raw = properties_to_bytes(props.iter().copied());
    let m = MessageRecord {
        total_size: 0,
        version: MessageVersion::V1,
        body_crc: rmq_store::record::crc32_masked(body),
        queue_id,
        flag: 0,
        queue_offset,
        physical_offset: phy,
        sys_flag: 0,
        born_timestamp: 1_700_000_000_123,
        born_host: HostAddr::v4([127, 0, 0, 1], 50000),
        store_timestamp: 1_700_000_000_456,
        store_host: HostAddr::v4([127, 0, 0, 1], store_port),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::copy_from_slice(body),
        topic: topic.into(),
        properties_raw: Bytes::from(raw.clone()),
        properties: rmq_store::record::parse_properties(&raw),
    };
    m.encode().unwrap()
}
