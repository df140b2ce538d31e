//! The requests mqadmin sends, made the way `DefaultMQAdminExt` / `MQClientAPIImpl`
//! (5.3.3) make them:
//!
//! * every call has a 5000 ms budget (`DefaultMQAdminExt.timeoutMillis`), connecting
//!   included (connect timeout 3000 ms);
//! * "ask the name server" calls (`invokeSync(null, ...)`) go to ONE name server,
//!   picked at random from the list (Java shuffles the list and starts at a random
//!   index) and kept for the rest of the command; a failure is not retried on
//!   another server;
//! * KV writes go to every name server in turn; a non-success answer is remembered
//!   and reported after all were asked, a connection failure stops at once;
//! * broker addresses are used as given (the VIP channel is off by default in 5.x).

use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant};

use rmq_common::env::parse_host_port;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode, ToExtFields};
use rmq_remoting::protocol::body::{self, ClusterInfo, KvTable, TopicList};
use rmq_remoting::protocol::namesrv::{GetRouteInfoRequestHeader, KvConfigKeyRequestHeader, PutKvConfigRequestHeader};
use rmq_remoting::transport::{Client, ClientConfig, TransportError};

use crate::error::AdminError;
use crate::format::java_split;

/// `DefaultMQAdminExt.timeoutMillis`.
pub const TIMEOUT_MILLIS: u64 = 5000;
/// `NettyClientConfig.connectTimeoutMillis`.
pub const CONNECT_TIMEOUT_MILLIS: u64 = 3000;

pub struct AdminClient {
    client: Client,
    /// Name servers in the (shuffled) order Java's remoting client keeps them.
    namesrv: Vec<String>,
    index: usize,
    chosen: Option<String>,
}

/// A random number without a dependency: std's hasher keys are randomly seeded.
fn random_u64() -> u64 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    h.finish()
}

impl AdminClient {
    /// `namesrv_addr`: the `;`-separated list (`-n` or `NAMESRV_ADDR`), if any.
    pub fn new(namesrv_addr: Option<&str>) -> AdminClient {
        let mut namesrv: Vec<String> = namesrv_addr.map(|a| java_split(a, ';')).unwrap_or_default();
        // Collections.shuffle (Fisher-Yates).
        for i in (1..namesrv.len()).rev() {
            let j = (random_u64() % (i as u64 + 1)) as usize;
            namesrv.swap(i, j);
        }
        let config =
            ClientConfig { connect_timeout: Duration::from_millis(CONNECT_TIMEOUT_MILLIS), ..ClientConfig::default() };
        let index = (random_u64() % 1_000_003) as usize;
        AdminClient { client: Client::new(config), namesrv, index, chosen: None }
    }

    /// The client's name server list (`getNameServerAddressList`).
    pub fn namesrv_list(&self) -> &[String] {
        &self.namesrv
    }

    /// `invokeSync(addr, request, 5000)`.
    pub async fn invoke(&self, addr: &str, cmd: RemotingCommand) -> Result<RemotingCommand, AdminError> {
        let start = Instant::now();
        let target = socket_text(addr);
        let channel = self.client.channel(&target).await.map_err(|e| transport_error(addr, e))?;
        let spent = start.elapsed().as_millis() as u64;
        if spent >= TIMEOUT_MILLIS {
            return Err(AdminError::Timeout { addr: addr.to_string(), millis: TIMEOUT_MILLIS });
        }
        let left = Duration::from_millis(TIMEOUT_MILLIS - spent);
        channel.invoke(cmd, left).await.map_err(|e| transport_error(addr, e))
    }

    /// `invokeSync(null, ...)`: the chosen name server.
    pub async fn invoke_namesrv(&mut self, cmd: RemotingCommand) -> Result<RemotingCommand, AdminError> {
        if self.namesrv.is_empty() {
            return Err(AdminError::Connect { addr: None, reason: String::new() });
        }
        let addr = match &self.chosen {
            Some(a) => a.clone(),
            None => {
                self.index = self.index.wrapping_add(1);
                let a = self.namesrv[self.index % self.namesrv.len()].clone();
                self.chosen = Some(a.clone());
                a
            }
        };
        let result = self.invoke(&addr, cmd).await;
        if matches!(result, Err(AdminError::Connect { .. })) {
            self.chosen = None;
        }
        result
    }

    /// GET_BROKER_CLUSTER_INFO (106).
    pub async fn broker_cluster_info(&mut self) -> Result<ClusterInfo, AdminError> {
        let resp = self.invoke_namesrv(RemotingCommand::request(RequestCode::GET_BROKER_CLUSTER_INFO)).await?;
        if resp.response_code() != ResponseCode::SUCCESS {
            return Err(AdminError::Broker { code: resp.code, remark: resp.remark, addr: None });
        }
        let bytes = resp.body.ok_or(AdminError::NullPointer)?;
        body::decode("ClusterInfo", &bytes).map_err(|e| AdminError::Json(e.to_string()))
    }

    /// GET_ROUTEINFO_BY_TOPIC (105): the raw TopicRouteData body.
    pub async fn topic_route_body(&mut self, topic: &str) -> Result<Vec<u8>, AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC);
        GetRouteInfoRequestHeader { topic: topic.to_string(), accept_standard_json_only: None }.apply_to(&mut cmd);
        let resp = self.invoke_namesrv(cmd).await?;
        match (resp.response_code(), resp.body) {
            (ResponseCode::SUCCESS, Some(b)) => Ok(b.to_vec()),
            _ => Err(AdminError::Client { code: resp.code, remark: resp.remark }),
        }
    }

    /// GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206).
    pub async fn all_topic_list(&mut self) -> Result<TopicList, AdminError> {
        let resp =
            self.invoke_namesrv(RemotingCommand::request(RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER)).await?;
        match (resp.response_code(), resp.body) {
            (ResponseCode::SUCCESS, Some(b)) => {
                body::decode("TopicList", &b).map_err(|e| AdminError::Json(e.to_string()))
            }
            _ => Err(AdminError::Client { code: resp.code, remark: resp.remark }),
        }
    }

    /// GET_BROKER_RUNTIME_INFO (28) to one broker.
    pub async fn broker_runtime_info(&self, addr: &str) -> Result<KvTable, AdminError> {
        let resp = self.invoke(addr, RemotingCommand::request(RequestCode::GET_BROKER_RUNTIME_INFO)).await?;
        if resp.response_code() != ResponseCode::SUCCESS {
            return Err(AdminError::Broker { code: resp.code, remark: resp.remark, addr: Some(addr.to_string()) });
        }
        let bytes = resp.body.ok_or(AdminError::NullPointer)?;
        body::decode("KVTable", &bytes).map_err(|e| AdminError::Json(e.to_string()))
    }

    /// QUERY_TOPIC_CONSUME_BY_WHO (300) to one broker: the group names, body order.
    pub async fn topic_consume_by_who(&self, addr: &str, topic: &str) -> Result<Vec<String>, AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::QUERY_TOPIC_CONSUME_BY_WHO);
        cmd.set_ext("topic", topic);
        let resp = self.invoke(addr, cmd).await?;
        if resp.response_code() != ResponseCode::SUCCESS {
            return Err(AdminError::Broker { code: resp.code, remark: resp.remark, addr: Some(addr.to_string()) });
        }
        let bytes = resp.body.ok_or(AdminError::NullPointer)?;
        let v = rmq_common::fastjson::parse_bytes(&bytes).map_err(|e| AdminError::Json(e.to_string()))?;
        let groups = v.get("groupList").and_then(|g| g.as_array()).cloned().unwrap_or_default();
        Ok(groups.iter().filter_map(|g| g.as_str().map(str::to_string)).collect())
    }

    /// PUT_KV_CONFIG (100) to every name server.
    pub async fn put_kv_config(&self, namespace: &str, key: &str, value: &str) -> Result<(), AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::PUT_KV_CONFIG);
        PutKvConfigRequestHeader { namespace: namespace.into(), key: key.into(), value: value.into() }
            .apply_to(&mut cmd);
        self.invoke_all(self.namesrv.clone(), cmd).await
    }

    /// DELETE_KV_CONFIG (102) to every name server.
    pub async fn delete_kv_config(&self, namespace: &str, key: &str) -> Result<(), AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::DELETE_KV_CONFIG);
        KvConfigKeyRequestHeader { namespace: namespace.into(), key: key.into() }.apply_to(&mut cmd);
        self.invoke_all(self.namesrv.clone(), cmd).await
    }

    /// UPDATE_NAMESRV_CONFIG (318) with a `key=value\n` body to `servers`.
    pub async fn update_namesrv_config(&self, servers: Vec<String>, text: &str) -> Result<(), AdminError> {
        let cmd = RemotingCommand::request(RequestCode::UPDATE_NAMESRV_CONFIG).with_body(text.as_bytes().to_vec());
        self.invoke_all(servers, cmd).await
    }

    /// GET_NAMESRV_CONFIG (319) from each of `servers`: (address, properties text).
    pub async fn namesrv_configs(&self, servers: &[String]) -> Result<Vec<(String, Vec<u8>)>, AdminError> {
        let mut out = Vec::new();
        for addr in servers {
            let resp = self.invoke(addr, RemotingCommand::request(RequestCode::GET_NAMESRV_CONFIG)).await?;
            if resp.response_code() != ResponseCode::SUCCESS {
                return Err(AdminError::Client { code: resp.code, remark: resp.remark });
            }
            // Java: new String(null body) throws.
            let body = resp.body.ok_or(AdminError::NullPointer)?;
            out.push((addr.clone(), body.to_vec()));
        }
        Ok(out)
    }

    async fn invoke_all(&self, servers: Vec<String>, cmd: RemotingCommand) -> Result<(), AdminError> {
        if servers.is_empty() {
            return Err(AdminError::Connect { addr: None, reason: String::new() });
        }
        let mut err = None;
        for addr in &servers {
            let resp = self.invoke(addr, cmd.clone()).await?;
            if resp.response_code() != ResponseCode::SUCCESS {
                err = Some(AdminError::Client { code: resp.code, remark: resp.remark });
            }
        }
        err.map_or(Ok(()), Err)
    }

    pub async fn close(&self) {
        self.client.close_all().await;
    }
}

/// `host:port` as the socket layer wants it: Java splits at the LAST `:` (so
/// `::1:9876` is host `::1`); IPv6 literals need brackets for tokio.
fn socket_text(addr: &str) -> String {
    match parse_host_port(addr) {
        Ok(hp) => hp.to_string(),
        Err(_) => addr.to_string(),
    }
}

fn transport_error(addr: &str, e: TransportError) -> AdminError {
    match e {
        TransportError::Connect { reason, .. } => AdminError::Connect { addr: Some(addr.to_string()), reason },
        TransportError::ConnectTimeout { millis, .. } => AdminError::Connect {
            addr: Some(addr.to_string()),
            reason: format!("connection timed out after {millis} ms"),
        },
        TransportError::BadAddress(a) => {
            AdminError::Connect { addr: Some(addr.to_string()), reason: format!("bad address {a:?}") }
        }
        TransportError::Timeout { millis, .. } => AdminError::Timeout { addr: addr.to_string(), millis },
        TransportError::Closed(_) => AdminError::SendRequest { addr: addr.to_string() },
    }
}
