//! Where a topic lives: GET_ROUTEINFO_BY_TOPIC from a name server, turned into
//! write and read queue lists the way `MQClientInstance.topicRouteData2TopicPublishInfo` does.

use std::time::Duration;

use rmq_remoting::codec::header::ToExtFields;
use rmq_remoting::protocol::body::{self, TopicRouteData};
use rmq_remoting::protocol::namesrv::GetRouteInfoRequestHeader;
use rmq_remoting::transport::Client;
use rmq_remoting::{RemotingCommand, RequestCode, ResponseCode};

use crate::error::{BenchError, Result};
use crate::util::check_loopback;

const PERM_WRITE: i32 = 0x2;
const PERM_READ: i32 = 0x4;

/// Where to find the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteSource {
    /// Ask a name server (or a ceiling server, which answers route requests too).
    Namesrv(String),
    /// Talk to one broker directly: its address, name and queue count.
    Broker { addr: String, name: String, queues: i32 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerTarget {
    pub name: String,
    pub addr: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueRef {
    /// Index into [`Route::brokers`].
    pub broker: usize,
    pub queue_id: i32,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Route {
    pub brokers: Vec<BrokerTarget>,
    pub write_queues: Vec<QueueRef>,
    pub read_queues: Vec<QueueRef>,
}

impl Route {
    /// Master brokers (id 0) of writable/readable queue data, sorted by broker name like Java.
    pub fn from_route_data(data: &TopicRouteData) -> Route {
        let mut qds = data.queue_datas.clone();
        qds.sort_by(|a, b| a.broker_name.cmp(&b.broker_name));
        let mut route = Route::default();
        for qd in &qds {
            let Some(addr) =
                data.broker_datas.iter().find(|b| b.broker_name == qd.broker_name).and_then(|b| b.broker_addrs.get(&0))
            else {
                continue;
            };
            let broker = match route.brokers.iter().position(|b| b.name == qd.broker_name) {
                Some(i) => i,
                None => {
                    route.brokers.push(BrokerTarget { name: qd.broker_name.clone(), addr: addr.clone() });
                    route.brokers.len() - 1
                }
            };
            if qd.perm & PERM_WRITE != 0 {
                route.write_queues.extend((0..qd.write_queue_nums).map(|queue_id| QueueRef { broker, queue_id }));
            }
            if qd.perm & PERM_READ != 0 {
                route.read_queues.extend((0..qd.read_queue_nums).map(|queue_id| QueueRef { broker, queue_id }));
            }
        }
        route
    }

    pub fn direct(addr: &str, name: &str, queues: i32) -> Route {
        let qs: Vec<QueueRef> = (0..queues).map(|queue_id| QueueRef { broker: 0, queue_id }).collect();
        Route {
            brokers: vec![BrokerTarget { name: name.to_string(), addr: addr.to_string() }],
            write_queues: qs.clone(),
            read_queues: qs,
        }
    }

    /// Every broker address must be loopback.
    pub fn check_loopback(&self) -> Result<()> {
        self.brokers.iter().try_for_each(|b| check_loopback(&b.addr))
    }
}

/// Fetches the topic's route from `namesrv`; `None` if the name server does not know it.
pub async fn fetch_route(
    client: &Client,
    namesrv: &str,
    topic: &str,
    timeout: Duration,
) -> Result<Option<TopicRouteData>> {
    check_loopback(namesrv)?;
    let mut cmd = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC);
    GetRouteInfoRequestHeader { topic: topic.to_string(), accept_standard_json_only: Some(true) }.apply_to(&mut cmd);
    let ch = client.connect(namesrv).await?;
    let resp = ch.invoke(cmd, timeout).await;
    ch.close();
    let resp = resp?;
    match resp.response_code() {
        ResponseCode::SUCCESS => Ok(Some(body::decode("TopicRouteData", resp.body.as_deref().unwrap_or_default())?)),
        ResponseCode::TOPIC_NOT_EXIST => Ok(None),
        _ => Err(BenchError::response(format!("route of {topic} from {namesrv}"), &resp)),
    }
}

/// The default topic a Java producer falls back to for a topic the name server does not know.
pub const DEFAULT_TOPIC: &str = "TBW102";
/// `DefaultMQProducer.defaultTopicQueueNums`.
pub const DEFAULT_TOPIC_QUEUE_NUMS: i32 = 4;

/// Java's fallback for an unknown topic when sending: the TBW102 route (brokers with
/// `autoCreateTopicEnable`), each broker's queues capped at 4; the broker then creates the topic.
pub fn default_topic_route(mut data: TopicRouteData) -> TopicRouteData {
    for qd in &mut data.queue_datas {
        let n = DEFAULT_TOPIC_QUEUE_NUMS.min(qd.read_queue_nums);
        qd.read_queue_nums = n;
        qd.write_queue_nums = n;
    }
    data
}

/// Resolves `source` for `topic`; fails if there is nothing to `need` ("write" or "read").
pub async fn resolve(
    client: &Client,
    source: &RouteSource,
    topic: &str,
    need: &'static str,
    timeout: Duration,
) -> Result<Route> {
    let route = match source {
        RouteSource::Namesrv(ns) => match fetch_route(client, ns, topic, timeout).await? {
            Some(data) => Route::from_route_data(&data),
            None if need == "write" => match fetch_route(client, ns, DEFAULT_TOPIC, timeout).await? {
                Some(data) => Route::from_route_data(&default_topic_route(data)),
                None => return Err(BenchError::TopicNotFound { topic: topic.to_string(), namesrv: ns.clone() }),
            },
            None => return Err(BenchError::TopicNotFound { topic: topic.to_string(), namesrv: ns.clone() }),
        },
        RouteSource::Broker { addr, name, queues } => Route::direct(addr, name, *queues),
    };
    route.check_loopback()?;
    let empty = match need {
        "write" => route.write_queues.is_empty(),
        _ => route.read_queues.is_empty(),
    };
    if empty {
        return Err(BenchError::NoQueues { topic: topic.to_string(), kind: need });
    }
    Ok(route)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmq_remoting::protocol::body::{BrokerData, QueueData};

    fn qd(name: &str, perm: i32, w: i32, r: i32) -> QueueData {
        QueueData { broker_name: name.into(), perm, read_queue_nums: r, topic_sys_flag: 0, write_queue_nums: w }
    }

    fn bd(name: &str, addrs: &[(i64, &str)]) -> BrokerData {
        BrokerData {
            broker_addrs: addrs.iter().map(|(k, v)| (*k, v.to_string())).collect(),
            broker_name: name.into(),
            cluster: "C".into(),
            enable_acting_master: None,
            zone_name: None,
        }
    }

    #[test]
    fn queues_follow_java_rules() {
        let data = TopicRouteData {
            broker_datas: vec![
                bd("b", &[(0, "127.0.0.1:20911")]),
                bd("a", &[(0, "127.0.0.1:10911"), (1, "127.0.0.1:10921")]),
                bd("slave-only", &[(1, "127.0.0.1:30911")]),
            ],
            queue_datas: vec![qd("b", 6, 2, 3), qd("a", 6, 4, 4), qd("slave-only", 6, 4, 4), qd("ro", 4, 4, 4)],
            ..Default::default()
        };
        let r = Route::from_route_data(&data);
        assert_eq!(r.brokers.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(r.write_queues.len(), 6);
        assert_eq!(r.read_queues.len(), 7);
        assert_eq!(r.write_queues[4], QueueRef { broker: 1, queue_id: 0 });
        assert!(r.check_loopback().is_ok());
        let data = TopicRouteData {
            broker_datas: vec![bd("x", &[(0, "10.1.1.1:10911")])],
            queue_datas: vec![qd("x", 6, 1, 1)],
            ..Default::default()
        };
        assert!(matches!(Route::from_route_data(&data).check_loopback(), Err(BenchError::NonLoopback(_))));
    }

    #[test]
    fn default_topic_fallback_caps_queues_at_four() {
        let data = TopicRouteData {
            broker_datas: vec![bd("a", &[(0, "127.0.0.1:10911")])],
            queue_datas: vec![qd("a", 7, 8, 8)],
            ..Default::default()
        };
        let r = Route::from_route_data(&default_topic_route(data));
        assert_eq!((r.write_queues.len(), r.read_queues.len()), (4, 4));
    }
}
