//! Broker-side requests of `MQClientAPIImpl` that the topic/group/broker/message
//! commands use, with Java's exception per call (`MQClientException` or
//! `MQBrokerException`), and `CommandUtil`'s address look-ups.

use indexmap::IndexMap;
use rmq_common::java;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode, ToExtFields};
use rmq_remoting::protocol::body::{BrokerData, ClusterInfo};
use rmq_remoting::protocol::namesrv::{DeleteTopicFromNamesrvRequestHeader, KvConfigKeyRequestHeader};

use crate::admin_body::{self, ConsumeStats, ConsumerConnection, TopicStats};
use crate::client::AdminClient;
use crate::error::AdminError;

/// `CommandUtil.ERROR_MESSAGE` (printed without a line break).
pub const CLUSTER_ERROR: &str =
    "[error] Make sure the specified clusterName exists or the name server connected to is correct.";
/// `CommandUtil.NO_MASTER_PLACEHOLDER`.
pub const NO_MASTER: &str = "NO_MASTER";

fn client_err(resp: RemotingCommand) -> AdminError {
    AdminError::Client { code: resp.code, remark: resp.remark }
}

fn broker_err(resp: RemotingCommand, addr: &str) -> AdminError {
    AdminError::Broker { code: resp.code, remark: resp.remark, addr: Some(addr.to_string()) }
}

fn success(resp: &RemotingCommand) -> bool {
    resp.response_code() == ResponseCode::SUCCESS
}

/// What `UPDATE_AND_CREATE_TOPIC` sends (`TopicConfig` as mqadmin built it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArgs {
    pub topic: String,
    pub read_queue_nums: i32,
    pub write_queue_nums: i32,
    pub perm: i32,
    pub topic_sys_flag: i32,
    pub order: bool,
    /// `+k=v` / `-k` entries in `HashMap` order.
    pub attributes: Vec<(String, String)>,
}

impl AdminClient {
    async fn call(&self, addr: &str, cmd: RemotingCommand) -> Result<RemotingCommand, AdminError> {
        self.invoke(addr, cmd).await
    }

    /// `createTopic` (17): `Validators.checkTopicConfig` first.
    pub async fn create_topic(&self, addr: &str, t: &TopicArgs) -> Result<(), AdminError> {
        if !(0..8).contains(&t.perm) {
            return Err(AdminError::Client {
                code: ResponseCode::NO_PERMISSION.0,
                remark: Some(format!("topicPermission value: {} is invalid.", t.perm)),
            });
        }
        let mut cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_TOPIC);
        cmd.set_ext("topic", t.topic.as_str());
        cmd.set_ext("defaultTopic", "TBW102");
        cmd.set_ext("readQueueNums", t.read_queue_nums.to_string());
        cmd.set_ext("writeQueueNums", t.write_queue_nums.to_string());
        cmd.set_ext("perm", t.perm.to_string());
        cmd.set_ext("topicFilterType", "SINGLE_TAG");
        cmd.set_ext("topicSysFlag", t.topic_sys_flag.to_string());
        cmd.set_ext("order", t.order.to_string());
        // AttributeParser.parseToString: `k=v` joined by commas, `k` alone for an empty value.
        let attrs: Vec<String> =
            t.attributes.iter().map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k}={v}") }).collect();
        cmd.set_ext("attributes", attrs.join(","));
        let resp = self.call(addr, cmd).await?;
        if success(&resp) {
            Ok(())
        } else {
            Err(client_err(resp))
        }
    }

    /// `deleteTopicInBroker` (215).
    pub async fn delete_topic_in_broker(&self, addr: &str, topic: &str) -> Result<(), AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_BROKER);
        cmd.set_ext("topic", topic);
        let resp = self.call(addr, cmd).await?;
        if success(&resp) {
            Ok(())
        } else {
            Err(client_err(resp))
        }
    }

    /// `deleteTopicInNameServer` (216) to one name server.
    pub async fn delete_topic_in_namesrv(
        &self,
        addr: &str,
        cluster: Option<&str>,
        topic: &str,
    ) -> Result<(), AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::DELETE_TOPIC_IN_NAMESRV);
        DeleteTopicFromNamesrvRequestHeader { topic: topic.into(), cluster_name: cluster.map(str::to_string) }
            .apply_to(&mut cmd);
        let resp = self.call(addr, cmd).await?;
        if success(&resp) {
            Ok(())
        } else {
            Err(client_err(resp))
        }
    }

    /// `getKVConfigValue` (101) from the chosen name server.
    pub async fn get_kv_config(&mut self, namespace: &str, key: &str) -> Result<Option<String>, AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::GET_KV_CONFIG);
        KvConfigKeyRequestHeader { namespace: namespace.into(), key: key.into() }.apply_to(&mut cmd);
        let resp = self.invoke_namesrv(cmd).await?;
        if success(&resp) {
            Ok(resp.ext("value").map(str::to_string))
        } else {
            Err(client_err(resp))
        }
    }

    /// `getTopicStatsInfo` (202).
    pub async fn topic_stats(&self, addr: &str, topic: &str) -> Result<TopicStats, AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::GET_TOPIC_STATS_INFO);
        cmd.set_ext("topic", topic);
        let resp = self.call(addr, cmd).await?;
        if !success(&resp) {
            return Err(broker_err(resp, addr));
        }
        admin_body::decode_topic_stats(resp.body.as_deref())
    }

    /// `getTopicConfig` (351) with `lo=true`, as `MQAdminUtils.examineTopicConfigFromRoute`
    /// asks every broker of a route; a broker without the topic is fine.
    pub async fn check_topic_config(&self, addr: &str, topic: &str) -> Result<(), AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::GET_TOPIC_CONFIG);
        cmd.set_ext("topic", topic);
        cmd.set_ext("lo", "true");
        let resp = self.call(addr, cmd).await?;
        match resp.response_code() {
            ResponseCode::SUCCESS | ResponseCode::TOPIC_NOT_EXIST => Ok(()),
            _ => Err(broker_err(resp, addr)),
        }
    }

    /// `getConsumeStats` (208).
    pub async fn consume_stats(
        &self,
        addr: &str,
        group: &str,
        topic: Option<&str>,
    ) -> Result<ConsumeStats, AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::GET_CONSUME_STATS);
        cmd.set_ext("consumerGroup", group);
        if let Some(t) = topic {
            cmd.set_ext("topic", t);
        }
        let resp = self.call(addr, cmd).await?;
        if !success(&resp) {
            return Err(broker_err(resp, addr));
        }
        admin_body::decode_consume_stats(resp.body.as_deref())
    }

    /// `getConsumerConnectionList` (203).
    pub async fn consumer_connection(&self, addr: &str, group: &str) -> Result<ConsumerConnection, AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::GET_CONSUMER_CONNECTION_LIST);
        cmd.set_ext("consumerGroup", group);
        let resp = self.call(addr, cmd).await?;
        if !success(&resp) {
            return Err(broker_err(resp, addr));
        }
        admin_body::decode_consumer_connection(resp.body.as_deref())
    }

    /// `getConsumerRunningInfo` (307), forwarded by the broker to the client.
    pub async fn consumer_running_queues(
        &self,
        addr: &str,
        group: &str,
        client_id: &str,
    ) -> Result<Vec<admin_body::Mq>, AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::GET_CONSUMER_RUNNING_INFO);
        cmd.set_ext("consumerGroup", group);
        cmd.set_ext("clientId", client_id);
        cmd.set_ext("jstackEnable", "false");
        let resp = self.call(addr, cmd).await?;
        if !success(&resp) {
            return Err(broker_err(resp, addr));
        }
        admin_body::decode_running_info_queues(resp.body.as_deref())
    }

    /// `createSubscriptionGroup` (200) with the config's JSON body.
    pub async fn create_sub_group(&self, addr: &str, json: &str) -> Result<(), AdminError> {
        let cmd = RemotingCommand::request(RequestCode::UPDATE_AND_CREATE_SUBSCRIPTIONGROUP)
            .with_body(json.as_bytes().to_vec());
        let resp = self.call(addr, cmd).await?;
        if success(&resp) {
            Ok(())
        } else {
            Err(client_err(resp))
        }
    }

    /// `deleteSubscriptionGroup` (207).
    pub async fn delete_sub_group(&self, addr: &str, group: &str, clean_offset: bool) -> Result<(), AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::DELETE_SUBSCRIPTIONGROUP);
        cmd.set_ext("groupName", group);
        cmd.set_ext("cleanOffset", clean_offset.to_string());
        let resp = self.call(addr, cmd).await?;
        if success(&resp) {
            Ok(())
        } else {
            Err(client_err(resp))
        }
    }

    /// `getBrokerConfig` (26): the properties text.
    pub async fn broker_config(&self, addr: &str) -> Result<Vec<u8>, AdminError> {
        let resp = self.call(addr, RemotingCommand::request(RequestCode::GET_BROKER_CONFIG)).await?;
        if !success(&resp) {
            return Err(broker_err(resp, addr));
        }
        // `new String(null)` throws.
        resp.body.map(|b| b.to_vec()).ok_or(AdminError::NullPointer)
    }

    /// `updateBrokerConfig` (25) with `key=value\n` bodies; `Validators.checkBrokerConfig` first.
    pub async fn update_broker_config(&self, addr: &str, props: &[(String, String)]) -> Result<(), AdminError> {
        if let Some((_, v)) = props.iter().find(|(k, _)| k == "brokerPermission") {
            let perm: i32 = v.parse().map_err(|_| AdminError::NumberFormat(format!("For input string: \"{v}\"")))?;
            if !(0..8).contains(&perm) {
                return Err(AdminError::Client {
                    code: ResponseCode::NO_PERMISSION.0,
                    remark: Some(format!("brokerPermission value: {v} is invalid.")),
                });
            }
        }
        let text: String = props.iter().map(|(k, v)| format!("{k}={v}\n")).collect();
        if text.is_empty() {
            return Ok(());
        }
        let cmd = RemotingCommand::request(RequestCode::UPDATE_BROKER_CONFIG).with_body(text.into_bytes());
        let resp = self.call(addr, cmd).await?;
        if success(&resp) {
            Ok(())
        } else {
            Err(broker_err(resp, addr))
        }
    }

    /// `viewMessage` (33): the raw message record.
    pub async fn view_message(&self, addr: &str, topic: &str, offset: i64) -> Result<Vec<u8>, AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::VIEW_MESSAGE_BY_ID);
        cmd.set_ext("topic", topic);
        cmd.set_ext("offset", offset.to_string());
        let resp = self.call(addr, cmd).await?;
        if !success(&resp) {
            return Err(broker_err(resp, addr));
        }
        resp.body.map(|b| b.to_vec()).ok_or(AdminError::NullPointer)
    }

    /// `queryMessage` (12) to one broker; `None` for a non-success answer (Java logs it).
    pub async fn query_message(&self, addr: &str, q: &QueryArgs<'_>) -> Result<Option<Vec<u8>>, AdminError> {
        let mut cmd = RemotingCommand::request(RequestCode::QUERY_MESSAGE);
        cmd.set_ext("topic", q.topic);
        cmd.set_ext("key", q.key);
        cmd.set_ext("maxNum", q.max_num.to_string());
        cmd.set_ext("beginTimestamp", q.begin.to_string());
        cmd.set_ext("endTimestamp", q.end.to_string());
        cmd.set_ext("_UNIQUE_KEY_QUERY", q.uniq.to_string());
        let resp = self.call(addr, cmd).await?;
        Ok(success(&resp).then(|| resp.body.map(|b| b.to_vec()).unwrap_or_default()))
    }
}

/// QUERY_MESSAGE arguments.
pub struct QueryArgs<'a> {
    pub topic: &'a str,
    pub key: &'a str,
    pub max_num: i32,
    pub begin: i64,
    pub end: i64,
    pub uniq: bool,
}

/// `BrokerData.selectBrokerAddr`: the master, else any address (Java picks at random).
pub fn select_broker_addr(b: &BrokerData) -> Option<String> {
    b.broker_addrs.get(&0).cloned().or_else(|| b.broker_addrs.values().next().cloned())
}

/// A `Set<String>` of cluster info, in `HashSet` order.
fn broker_names(info: &ClusterInfo, cluster: &str) -> Option<Vec<String>> {
    info.cluster_addr_table.get(cluster).map(|v| java::hashmap_order_owned(v))
}

/// `fetchMasterAddrByClusterName`; prints the error text when the cluster is unknown.
pub fn master_addrs(info: &ClusterInfo, cluster: &str, out: &mut dyn FnMut(&str)) -> Vec<String> {
    let Some(names) = broker_names(info, cluster) else {
        out(CLUSTER_ERROR);
        return Vec::new();
    };
    let mut set = Vec::new();
    for n in names {
        if let Some(a) = info.broker_addr_table.get(&n).and_then(|b| b.broker_addrs.get(&0)) {
            if !set.contains(a) {
                set.push(a.clone());
            }
        }
    }
    java::hashmap_order_owned(&set)
}

/// `fetchMasterAndSlaveAddrByClusterName`.
pub fn all_addrs(info: &ClusterInfo, cluster: &str, out: &mut dyn FnMut(&str)) -> Vec<String> {
    let Some(names) = broker_names(info, cluster) else {
        out(CLUSTER_ERROR);
        return Vec::new();
    };
    let mut set = Vec::new();
    for n in names {
        if let Some(b) = info.broker_addr_table.get(&n) {
            let ids: Vec<i64> = b.broker_addrs.keys().copied().collect();
            for id in java::long_hashmap_order(&ids) {
                if !set.contains(&b.broker_addrs[&id]) {
                    set.push(b.broker_addrs[&id].clone());
                }
            }
        }
    }
    java::hashmap_order_owned(&set)
}

/// `fetchMasterAndSlaveDistinguish`: master (or `NO_MASTER`) → slaves, in the
/// order of Java's `HashMap(4)`.
pub fn masters_and_slaves(info: &ClusterInfo, cluster: &str, out: &mut dyn FnMut(&str)) -> Vec<(String, Vec<String>)> {
    let Some(names) = broker_names(info, cluster) else {
        out(CLUSTER_ERROR);
        return Vec::new();
    };
    let mut map: IndexMap<String, Vec<String>> = IndexMap::new();
    for n in names {
        let Some(b) = info.broker_addr_table.get(&n) else { continue };
        let key = b.broker_addrs.get(&0).cloned().unwrap_or_else(|| NO_MASTER.to_string());
        // `put` for a master replaces an earlier list; NO_MASTER is `putIfAbsent`.
        if key == NO_MASTER {
            map.entry(key.clone()).or_default();
        } else {
            map.insert(key.clone(), Vec::new());
        }
        let ids: Vec<i64> = b.broker_addrs.keys().copied().collect();
        for id in java::long_hashmap_order(&ids) {
            if id != 0 {
                map[&key].push(b.broker_addrs[&id].clone());
            }
        }
    }
    let keys: Vec<String> = map.keys().cloned().collect();
    let cap = java::sized_hashmap_capacity(4, keys.len());
    java::hashmap_order(keys.iter(), cap).into_iter().map(|k| (k.clone(), map[k].clone())).collect()
}

/// `fetchBrokerNameByAddr`: the first broker (hash order) holding `addr`.
pub fn broker_name_by_addr(info: &ClusterInfo, addr: &str) -> Result<String, AdminError> {
    let names: Vec<String> = info.broker_addr_table.keys().cloned().collect();
    for n in java::hashmap_order_owned(&names) {
        if info.broker_addr_table[&n].broker_addrs.values().any(|a| a == addr) {
            return Ok(n);
        }
    }
    Err(AdminError::Plain(CLUSTER_ERROR["[error] ".len()..].to_string()))
}

/// `fetchBrokerNameByClusterName`.
pub fn broker_names_of_cluster(info: &ClusterInfo, cluster: &str) -> Result<Vec<String>, AdminError> {
    match broker_names(info, cluster) {
        Some(n) if !n.is_empty() => Ok(n),
        _ => Err(AdminError::Plain(CLUSTER_ERROR["[error] ".len()..].to_string())),
    }
}
