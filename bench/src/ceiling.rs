//! `ceiling`: the protocol ceiling. A server that answers every SEND_MESSAGE /
//! SEND_MESSAGE_V2 with a canned SUCCESS (a real `SendMessageResponseHeader`) and
//! stores nothing, on the project's own transport. It also answers
//! GET_ROUTEINFO_BY_TOPIC for any topic with itself as the only broker, so one
//! address serves as name server and broker; or it registers with a real name
//! server (REGISTER_BROKER, connection kept open, re-sent every 30 s).

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::protocol::body::{
    self, BrokerData, DataVersion, QueueData, RegisterBrokerBody, TopicConfig, TopicRouteData,
};
use rmq_remoting::protocol::namesrv::{GetRouteInfoRequestHeader, RegisterBrokerRequestHeader};
use rmq_remoting::protocol::register::body_crc32;
use rmq_remoting::protocol::send::{SendMessageRequestHeader, SendMessageRequestHeaderV2, SendMessageResponseHeader};
use rmq_remoting::transport::{BoxFuture, Channel, Client, RequestHandler, Server, ServerConfig, ServerHandle};
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};
use serde::Serialize;
use tokio::task::JoinHandle;

use crate::conn::bench_client;
use crate::error::{BenchError, Result};
use crate::memstore::MemStore;
use crate::message::{encode_record, offset_msg_id, RecordFields};
use crate::pull_serve::serve_pull;
use crate::util::{check_loopback, unix_micros};

/// Queue offsets are kept per queue id modulo this many slots.
const OFFSET_SLOTS: usize = 1024;

#[derive(Debug, Clone)]
pub struct CeilingConfig {
    pub listen: SocketAddr,
    pub broker_name: String,
    pub cluster: String,
    /// Read and write queues announced per topic.
    pub queues: i32,
    /// Register with this name server (REGISTER_BROKER) and keep the connection open.
    pub register: Option<String>,
    /// Topics announced when registering (TBW102 is always added).
    pub topics: Vec<String>,
    /// Keep the last N messages per queue and serve PULL_MESSAGE (0 = store nothing).
    pub retain: usize,
}

impl CeilingConfig {
    pub fn new(listen: SocketAddr) -> CeilingConfig {
        CeilingConfig {
            listen,
            broker_name: "ceiling-broker".into(),
            cluster: "DefaultCluster".into(),
            queues: 8,
            register: None,
            topics: Vec::new(),
            retain: 0,
        }
    }
}

/// Counters of a ceiling server's life.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CeilingStats {
    pub sends: u64,
    pub pulls: u64,
    pub routes: u64,
    pub other: u64,
}

pub(crate) struct State {
    pub(crate) store_host: SocketAddrV4,
    broker_name: String,
    cluster: String,
    queues: i32,
    offsets: Vec<AtomicI64>,
    physical: AtomicI64,
    pub(crate) store: Option<MemStore>,
    sends: AtomicU64,
    pulls: AtomicU64,
    routes: AtomicU64,
    other: AtomicU64,
}

impl State {
    fn stats(&self) -> CeilingStats {
        CeilingStats {
            sends: self.sends.load(Ordering::Relaxed),
            pulls: self.pulls.load(Ordering::Relaxed),
            routes: self.routes.load(Ordering::Relaxed),
            other: self.other.load(Ordering::Relaxed),
        }
    }

    fn route_for(&self, topic: &str) -> TopicRouteData {
        let _ = topic;
        TopicRouteData {
            broker_datas: vec![BrokerData {
                broker_addrs: [(0i64, self.store_host.to_string())].into_iter().collect(),
                broker_name: self.broker_name.clone(),
                cluster: self.cluster.clone(),
                enable_acting_master: Some(false),
                zone_name: None,
            }],
            queue_datas: vec![QueueData {
                broker_name: self.broker_name.clone(),
                perm: 6,
                read_queue_nums: self.queues,
                topic_sys_flag: 0,
                write_queue_nums: self.queues,
            }],
            ..Default::default()
        }
    }

    fn answer_send(&self, req: &RemotingCommand) -> RemotingCommand {
        self.sends.fetch_add(1, Ordering::Relaxed);
        let queue_id: i32 = req.ext("e").or_else(|| req.ext("queueId")).and_then(|v| v.parse().ok()).unwrap_or(0);
        let size = req.body_len() as i64;
        let physical = self.physical.fetch_add(size + 200, Ordering::Relaxed);
        let queue_offset = match &self.store {
            None => self.offsets[queue_id.rem_euclid(OFFSET_SLOTS as i32) as usize].fetch_add(1, Ordering::Relaxed),
            Some(store) => match self.retain(store, req, queue_id, physical) {
                Ok(off) => off,
                Err(e) => return RemotingCommand::response_to(req, ResponseCode::MESSAGE_ILLEGAL, Some(e.to_string())),
            },
        };
        let mut resp = RemotingCommand::response_to(req, ResponseCode::SUCCESS, None);
        SendMessageResponseHeader {
            msg_id: offset_msg_id(self.store_host, physical),
            queue_id,
            queue_offset,
            transaction_id: None,
            batch_uniq_id: None,
            recall_handle: None,
        }
        .apply_to(&mut resp);
        // What a Java broker adds to every send response.
        resp.set_ext("MSG_REGION", "DefaultRegion");
        resp.set_ext("TRACE_ON", "true");
        resp
    }

    fn retain(&self, store: &MemStore, req: &RemotingCommand, queue_id: i32, physical: i64) -> Result<i64> {
        let h: SendMessageRequestHeader = if req.code == RequestCode::SEND_MESSAGE_V2.0 {
            SendMessageRequestHeaderV2::from_command(req)?.into()
        } else {
            SendMessageRequestHeader::from_command(req)?
        };
        let body = req.body.clone().unwrap_or_default();
        let props = h.properties.clone().unwrap_or_default();
        let store_host = self.store_host;
        Ok(store.append(&h.topic, queue_id, |queue_offset| {
            let mut out = Vec::with_capacity(body.len() + 128);
            encode_record(
                &RecordFields {
                    queue_id,
                    flag: h.flag,
                    queue_offset,
                    physical_offset: physical,
                    born_timestamp: h.born_timestamp,
                    born_host: SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 0),
                    store_timestamp: unix_micros() / 1000,
                    store_host,
                    body: &body,
                    topic: &h.topic,
                    properties: &props,
                },
                &mut out,
            );
            Bytes::from(out)
        }))
    }

    fn answer_route(&self, req: &RemotingCommand) -> RemotingCommand {
        self.routes.fetch_add(1, Ordering::Relaxed);
        match GetRouteInfoRequestHeader::from_command(req) {
            Ok(h) => {
                let data = self.route_for(&h.topic);
                RemotingCommand::response_to(req, ResponseCode::SUCCESS, None)
                    .with_body(body::encode_with(&data, &body::standard_json_options()))
            }
            Err(e) => RemotingCommand::response_to(req, ResponseCode::SYSTEM_ERROR, Some(e.to_string())),
        }
    }

    fn answer_offset(&self, req: &RemotingCommand, max: bool) -> RemotingCommand {
        let topic = req.ext("topic").unwrap_or_default();
        let queue_id = req.ext("queueId").and_then(|v| v.parse().ok()).unwrap_or(0);
        let (min_off, max_off) = self.store.as_ref().map_or((0, 0), |s| s.bounds(topic, queue_id));
        let mut resp = RemotingCommand::response_to(req, ResponseCode::SUCCESS, None);
        resp.set_ext("offset", if max { max_off } else { min_off }.to_string());
        resp
    }
}

struct Handler {
    state: Arc<State>,
}

impl RequestHandler for Handler {
    fn handle(&self, _channel: &Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        let s = &self.state;
        let resp = match req.request_code() {
            RequestCode::SEND_MESSAGE | RequestCode::SEND_MESSAGE_V2 => s.answer_send(&req),
            RequestCode::GET_ROUTEINFO_BY_TOPIC => s.answer_route(&req),
            RequestCode::PULL_MESSAGE => {
                s.pulls.fetch_add(1, Ordering::Relaxed);
                let state = self.state.clone();
                return Box::pin(async move { Some(serve_pull(&state, &req).await) });
            }
            RequestCode::GET_MAX_OFFSET => s.answer_offset(&req, true),
            RequestCode::GET_MIN_OFFSET => s.answer_offset(&req, false),
            RequestCode::QUERY_CONSUMER_OFFSET => RemotingCommand::response_to(
                &req,
                ResponseCode::QUERY_NOT_FOUND,
                Some("Not found, maybe this group consumer boot first".into()),
            ),
            RequestCode::HEART_BEAT
            | RequestCode::UNREGISTER_CLIENT
            | RequestCode::UPDATE_CONSUMER_OFFSET
            | RequestCode::UPDATE_AND_CREATE_TOPIC => {
                s.other.fetch_add(1, Ordering::Relaxed);
                RemotingCommand::response_to(&req, ResponseCode::SUCCESS, None)
            }
            _ => {
                s.other.fetch_add(1, Ordering::Relaxed);
                RemotingCommand::response_to(
                    &req,
                    ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
                    Some(format!(" request type {} not supported", req.code)),
                )
            }
        };
        Box::pin(std::future::ready(Some(resp)))
    }
}

/// A running ceiling server.
pub struct CeilingServer {
    handle: ServerHandle,
    state: Arc<State>,
    register: Option<JoinHandle<()>>,
}

impl CeilingServer {
    pub async fn start(cfg: &CeilingConfig) -> Result<CeilingServer> {
        if !cfg.listen.ip().is_loopback() {
            return Err(BenchError::NonLoopback(cfg.listen.to_string()));
        }
        if cfg.queues < 1 {
            return Err(BenchError::Config("queues must be at least 1".into()));
        }
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|e| BenchError::io(format!("bind {}", cfg.listen), e))?;
        let local = listener.local_addr().map_err(|e| BenchError::io("local address", e))?;
        let store_host = match local {
            SocketAddr::V4(a) => a,
            SocketAddr::V6(a) => SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, a.port()),
        };
        let state = Arc::new(State {
            store_host,
            broker_name: cfg.broker_name.clone(),
            cluster: cfg.cluster.clone(),
            queues: cfg.queues,
            offsets: (0..OFFSET_SLOTS).map(|_| AtomicI64::new(0)).collect(),
            physical: AtomicI64::new(0),
            store: (cfg.retain > 0).then(|| MemStore::new(cfg.retain)),
            sends: AtomicU64::new(0),
            pulls: AtomicU64::new(0),
            routes: AtomicU64::new(0),
            other: AtomicU64::new(0),
        });
        // Mirror the request's header serialization (no per-response re-encoding choice).
        let server_cfg = ServerConfig { response_serialize: None, ..ServerConfig::default() };
        let handle = Server::serve(listener, server_cfg, Arc::new(Handler { state: state.clone() }));
        let register = match &cfg.register {
            Some(ns) => {
                check_loopback(ns)?;
                let client = bench_client(Default::default());
                let ch = client.connect(ns).await?;
                let cmd = register_command(cfg, &local.to_string());
                register_once(&ch, cmd.clone()).await?;
                Some(tokio::spawn(keep_registered(client, ns.clone(), ch, cmd)))
            }
            None => None,
        };
        Ok(CeilingServer { handle, state, register })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    pub fn stats(&self) -> CeilingStats {
        self.state.stats()
    }

    pub async fn shutdown(self) -> CeilingStats {
        if let Some(r) = self.register {
            r.abort();
        }
        let stats = self.state.stats();
        self.handle.shutdown().await;
        stats
    }
}

fn register_command(cfg: &CeilingConfig, addr: &str) -> RemotingCommand {
    let mut body = RegisterBrokerBody::default();
    let wrapper = &mut body.topic_config_serialize_wrapper;
    wrapper.data_version = DataVersion { counter: 1, state_version: Some(0), timestamp: unix_micros() / 1000 };
    let mut topics = cfg.topics.clone();
    topics.push("TBW102".into());
    for t in topics {
        wrapper.topic_config_table.insert(
            t.clone(),
            TopicConfig {
                attributes: Some(Default::default()),
                order: false,
                perm: 6,
                read_queue_nums: cfg.queues,
                topic_filter_type: "SINGLE_TAG".into(),
                topic_name: t,
                topic_sys_flag: 0,
                write_queue_nums: cfg.queues,
            },
        );
    }
    let bytes = body::encode(&body);
    let (host, port) = addr.rsplit_once(':').unwrap_or((addr, "0"));
    let ha_port = port.parse::<u16>().map(|p| p.wrapping_add(1)).unwrap_or(0);
    let mut cmd = RemotingCommand::request(RequestCode::REGISTER_BROKER);
    RegisterBrokerRequestHeader {
        broker_name: cfg.broker_name.clone(),
        broker_addr: addr.to_string(),
        cluster_name: cfg.cluster.clone(),
        ha_server_addr: format!("{host}:{ha_port}"),
        broker_id: 0,
        heartbeat_timeout_millis: Some(120_000),
        enable_acting_master: Some(false),
        compressed: Some(false),
        body_crc32: Some(body_crc32(&bytes)),
    }
    .apply_to(&mut cmd);
    cmd.with_body(bytes)
}

async fn register_once(ch: &Channel, cmd: RemotingCommand) -> Result<()> {
    let resp = ch.invoke(cmd, Duration::from_secs(3)).await?;
    if resp.response_code() != ResponseCode::SUCCESS {
        return Err(BenchError::response(format!("REGISTER_BROKER to {}", ch.peer_addr()), &resp));
    }
    Ok(())
}

/// Re-registers every 30 s on the same connection (reconnecting if it closed);
/// ends when the server shuts down (the task is aborted).
async fn keep_registered(client: Client, ns: String, mut ch: Channel, cmd: RemotingCommand) {
    let mut tick = tokio::time::interval(Duration::from_secs(30));
    tick.tick().await;
    loop {
        tick.tick().await;
        if ch.is_closed() {
            match client.connect(&ns).await {
                Ok(c) => ch = c,
                Err(e) => {
                    tracing::warn!(error = %e, "name server unreachable; will retry");
                    continue;
                }
            }
        }
        if let Err(e) = register_once(&ch, cmd.clone()).await {
            tracing::warn!(error = %e, "re-registration failed");
        }
    }
}

/// Serves until `duration` has passed or Ctrl-C; `announce` gets the bound address first.
pub async fn run(cfg: &CeilingConfig, duration: Duration, announce: impl FnOnce(SocketAddr)) -> Result<CeilingStats> {
    let server = CeilingServer::start(cfg).await?;
    announce(server.local_addr());
    tokio::select! {
        _ = tokio::time::sleep(duration) => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(server.shutdown().await)
}
