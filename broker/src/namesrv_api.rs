//! Talking to the name servers: REGISTER_BROKER to every name server at start and
//! every `registerNameServerPeriod`, UNREGISTER_BROKER on shutdown.

use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::body;
use rmq_remoting::protocol::body::{KvTable, RegisterBrokerBody, TopicConfigSerializeWrapper};
use rmq_remoting::protocol::namesrv::{
    RegisterBrokerRequestHeader, RegisterBrokerResponseHeader, UnRegisterBrokerRequestHeader,
};
use rmq_remoting::protocol::register::{body_crc32, encode_register_body};
use rmq_remoting::transport::{Client, TransportError};
use thiserror::Error;
use tracing::{debug, warn};

#[derive(Debug, Error)]
pub enum NamesrvApiError {
    #[error("name server {addr}: {source}")]
    Transport { addr: String, source: TransportError },
    #[error("name server {addr} answered {code}: {remark}")]
    Refused { addr: String, code: ResponseCode, remark: String },
}

/// Who we are, as the name server sees us.
#[derive(Debug, Clone)]
pub struct BrokerIdentity {
    pub cluster: String,
    pub broker_name: String,
    pub broker_id: i64,
    /// `brokerIP1:listenPort`.
    pub broker_addr: String,
    /// `brokerIP2:haListenPort`.
    pub ha_server_addr: String,
    pub enable_acting_master: bool,
    pub heartbeat_timeout_millis: Option<i64>,
    pub compressed: bool,
}

/// What one name server told us back.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegisterResult {
    pub namesrv: String,
    pub master_addr: Option<String>,
    pub ha_server_addr: Option<String>,
    /// ORDER_TOPIC_CONFIG namespace, when the name server keeps one.
    pub order_topic_config: Option<KvTable>,
}

pub struct NamesrvApi {
    client: Client,
    timeout: Duration,
}

impl NamesrvApi {
    pub fn new(client: Client, timeout: Duration) -> NamesrvApi {
        NamesrvApi { client, timeout }
    }

    /// Registers with every name server concurrently, like `BrokerOuterAPI#registerBrokerAll`.
    /// Failures are logged and skipped: one dead name server must not stop the others.
    pub async fn register_all(
        &self,
        namesrvs: &[String],
        me: &BrokerIdentity,
        topics: TopicConfigSerializeWrapper,
    ) -> Vec<RegisterResult> {
        let body = encode_register_body(
            &RegisterBrokerBody { filter_server_list: Vec::new(), topic_config_serialize_wrapper: topics },
            me.compressed,
        );
        let header = RegisterBrokerRequestHeader {
            broker_name: me.broker_name.clone(),
            broker_addr: me.broker_addr.clone(),
            cluster_name: me.cluster.clone(),
            ha_server_addr: me.ha_server_addr.clone(),
            broker_id: me.broker_id,
            heartbeat_timeout_millis: me.heartbeat_timeout_millis,
            enable_acting_master: Some(me.enable_acting_master),
            compressed: Some(me.compressed),
            body_crc32: Some(body_crc32(&body)),
        };
        let body = bytes::Bytes::from(body);
        let mut tasks = Vec::new();
        for addr in namesrvs {
            let mut cmd = RemotingCommand::request(RequestCode::REGISTER_BROKER);
            header.apply_to(&mut cmd);
            cmd.body = Some(body.clone());
            let client = self.client.clone();
            let addr = addr.clone();
            let timeout = self.timeout;
            tasks.push(tokio::spawn(async move { (addr.clone(), register_one(&client, &addr, cmd, timeout).await) }));
        }
        let mut results = Vec::new();
        for t in tasks {
            match t.await {
                Ok((_, Ok(r))) => results.push(r),
                Ok((addr, Err(e))) => warn!(namesrv = %addr, error = %e, "register broker failed"),
                Err(e) => warn!(error = %e, "register task failed"),
            }
        }
        results
    }

    /// UNREGISTER_BROKER to every name server (shutdown).
    pub async fn unregister_all(&self, namesrvs: &[String], me: &BrokerIdentity) {
        for addr in namesrvs {
            let mut cmd = RemotingCommand::request(RequestCode::UNREGISTER_BROKER);
            UnRegisterBrokerRequestHeader {
                broker_name: me.broker_name.clone(),
                broker_addr: me.broker_addr.clone(),
                cluster_name: me.cluster.clone(),
                broker_id: me.broker_id,
            }
            .apply_to(&mut cmd);
            match self.client.invoke(addr, cmd, self.timeout).await {
                Ok(r) if r.response_code() == ResponseCode::SUCCESS => debug!(namesrv = %addr, "unregistered"),
                Ok(r) => warn!(namesrv = %addr, code = %r.response_code(), remark = ?r.remark, "unregister refused"),
                Err(e) => warn!(namesrv = %addr, error = %e, "unregister failed"),
            }
        }
    }
}

async fn register_one(
    client: &Client,
    addr: &str,
    cmd: RemotingCommand,
    timeout: Duration,
) -> Result<RegisterResult, NamesrvApiError> {
    let resp = client
        .invoke(addr, cmd, timeout)
        .await
        .map_err(|source| NamesrvApiError::Transport { addr: addr.to_string(), source })?;
    if resp.response_code() != ResponseCode::SUCCESS {
        return Err(NamesrvApiError::Refused {
            addr: addr.to_string(),
            code: resp.response_code(),
            remark: resp.remark.clone().unwrap_or_default(),
        });
    }
    let h = RegisterBrokerResponseHeader::from_command(&resp).unwrap_or_default();
    let order_topic_config = resp.body.as_deref().and_then(|b| body::decode::<KvTable>("KVTable", b).ok());
    Ok(RegisterResult {
        namesrv: addr.to_string(),
        master_addr: h.master_addr,
        ha_server_addr: h.ha_server_addr,
        order_topic_config,
    })
}

/// `registerNameServerPeriod` clamped to [10 s, 60 s] like Java.
pub fn register_period(configured_ms: i32) -> Duration {
    Duration::from_millis(configured_ms.clamp(10_000, 60_000) as u64)
}

/// Splits `namesrvAddr` ("a:9876;b:9876") into addresses.
pub fn namesrv_list(addr: Option<&str>) -> Vec<String> {
    addr.unwrap_or_default().split(';').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// Shared handle so the periodic task and shutdown use one client.
pub type SharedNamesrvApi = Arc<NamesrvApi>;

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_namesrv::{NameServer, NamesrvSettings};
    use rmq_remoting::protocol::body::{DataVersion, TopicConfig};
    use rmq_remoting::transport::ClientConfig;

    fn topics() -> TopicConfigSerializeWrapper {
        let mut w = TopicConfigSerializeWrapper {
            data_version: DataVersion { counter: 1, state_version: Some(0), timestamp: 1 },
            ..Default::default()
        };
        for t in ["TBW102", "T1"] {
            w.topic_config_table.insert(
                t.into(),
                TopicConfig {
                    attributes: Some(Default::default()),
                    order: false,
                    perm: 6,
                    read_queue_nums: 4,
                    topic_filter_type: "SINGLE_TAG".into(),
                    topic_name: t.into(),
                    topic_sys_flag: 0,
                    write_queue_nums: 4,
                },
            );
        }
        w
    }

    #[tokio::test]
    async fn registers_with_every_name_server_and_slave_learns_master() {
        let d1 = tempfile::tempdir().unwrap();
        let d2 = tempfile::tempdir().unwrap();
        let n1 = NameServer::start(NamesrvSettings::for_test(d1.path())).await.unwrap();
        let n2 = NameServer::start(NamesrvSettings::for_test(d2.path())).await.unwrap();
        let list = vec![n1.local_addr().to_string(), n2.local_addr().to_string(), "127.0.0.1:1".to_string()];
        let api = NamesrvApi::new(Client::new(ClientConfig::default()), Duration::from_secs(3));
        let master = BrokerIdentity {
            cluster: "C".into(),
            broker_name: "b".into(),
            broker_id: 0,
            broker_addr: "127.0.0.1:10911".into(),
            ha_server_addr: "127.0.0.1:10912".into(),
            enable_acting_master: false,
            heartbeat_timeout_millis: None,
            compressed: false,
        };
        let r = api.register_all(&list, &master, topics()).await;
        assert_eq!(r.len(), 2, "the dead third name server is skipped");
        let slave =
            BrokerIdentity { broker_id: 1, broker_addr: "127.0.0.1:20911".into(), compressed: true, ..master.clone() };
        let api2 = NamesrvApi::new(Client::new(ClientConfig::default()), Duration::from_secs(3));
        let r = api2.register_all(&list[..1], &slave, topics()).await;
        assert_eq!(r[0].master_addr.as_deref(), Some("127.0.0.1:10911"));
        assert_eq!(r[0].ha_server_addr.as_deref(), Some("127.0.0.1:10912"));
        api.unregister_all(&list[..2], &master).await;
        n1.shutdown().await;
        n2.shutdown().await;
    }

    #[test]
    fn period_and_list() {
        assert_eq!(register_period(30_000), Duration::from_secs(30));
        assert_eq!(register_period(1_000), Duration::from_secs(10));
        assert_eq!(namesrv_list(Some("a:1; b:2;")), vec!["a:1", "b:2"]);
    }
}
