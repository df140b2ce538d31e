//! Names Java reserves (`TopicValidator`, `MixAll`, `PopAckConstants`) and the
//! topic/group name rules brokers enforce.

use parking_lot::Mutex;
use rmq_common::java;

pub const AUTO_CREATE_TOPIC_KEY_TOPIC: &str = "TBW102";
pub const SCHEDULE_TOPIC: &str = "SCHEDULE_TOPIC_XXXX";
pub const BENCHMARK_TOPIC: &str = "BenchmarkTest";
pub const TRANS_HALF_TOPIC: &str = "RMQ_SYS_TRANS_HALF_TOPIC";
pub const TRACE_TOPIC: &str = "RMQ_SYS_TRACE_TOPIC";
pub const TRANS_OP_HALF_TOPIC: &str = "RMQ_SYS_TRANS_OP_HALF_TOPIC";
pub const TRANS_CHECK_MAX_TIME_TOPIC: &str = "TRANS_CHECK_MAX_TIME_TOPIC";
pub const SELF_TEST_TOPIC: &str = "SELF_TEST_TOPIC";
pub const OFFSET_MOVED_EVENT: &str = "OFFSET_MOVED_EVENT";
/// 5.x only (RocksDB offset checkpoints).
pub const ROCKSDB_OFFSET_TOPIC: &str = "CHECKPOINT_TOPIC";
pub const SYSTEM_TOPIC_PREFIX: &str = "rmq_sys_";
pub const SYNC_BROKER_MEMBER_GROUP_PREFIX: &str = "rmq_sys_SYNC_BROKER_MEMBER_";
pub const REVIVE_TOPIC_PREFIX: &str = "rmq_sys_REVIVE_LOG_";
pub const TIMER_TOPIC: &str = "rmq_sys_wheel_timer";
pub const REPLY_TOPIC_POSTFIX: &str = "REPLY_TOPIC";
pub const RETRY_GROUP_TOPIC_PREFIX: &str = "%RETRY%";
pub const DLQ_GROUP_TOPIC_PREFIX: &str = "%DLQ%";

/// Queues of `SCHEDULE_TOPIC_XXXX` (one per delay level).
pub const SCHEDULE_TOPIC_QUEUE_NUM: i32 = 18;
/// `TopicValidator.TOPIC_MAX_LENGTH`.
pub const TOPIC_MAX_LENGTH: usize = 127;
/// `Validators.CHARACTER_MAX_LENGTH`: longest group name a broker auto-creates (5.x).
pub const GROUP_MAX_LENGTH: usize = 255;

pub const TOOLS_CONSUMER_GROUP: &str = "TOOLS_CONSUMER";
pub const FILTERSRV_CONSUMER_GROUP: &str = "FILTERSRV_CONSUMER";
pub const SELF_TEST_CONSUMER_GROUP: &str = "SELF_TEST_C_GROUP";
pub const ONS_HTTP_PROXY_GROUP: &str = "CID_ONS-HTTP-PROXY";
pub const CID_ONSAPI_PULL_GROUP: &str = "CID_ONSAPI_PULL";
pub const CID_ONSAPI_PERMISSION_GROUP: &str = "CID_ONSAPI_PERMISSION";
pub const CID_ONSAPI_OWNER_GROUP: &str = "CID_ONSAPI_OWNER";
/// 5.x only.
pub const CID_SYS_RMQ_TRANS: &str = "CID_RMQ_SYS_TRANS";
pub const CID_RMQ_SYS_PREFIX: &str = "CID_RMQ_SYS_";

/// `PermName` bits.
pub const PERM_PRIORITY: i32 = 8;
pub const PERM_READ: i32 = 4;
pub const PERM_WRITE: i32 = 2;
pub const PERM_INHERIT: i32 = 1;

/// `PopAckConstants.buildClusterReviveTopic`.
pub fn revive_topic(cluster: &str) -> String {
    format!("{REVIVE_TOPIC_PREFIX}{cluster}")
}

/// `MixAll.isSysConsumerGroup`.
pub fn is_sys_consumer_group(group: &str) -> bool {
    group.starts_with(CID_RMQ_SYS_PREFIX)
}

/// `TopicValidator.isTopicOrGroupIllegal`: only `^[%|a-zA-Z0-9_-]+$` characters pass.
pub fn is_topic_or_group_illegal(name: &str) -> bool {
    !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '%' | '-' | '_' | '|'))
}

/// `TopicValidator.validateTopic` (5.3.3): the remark Java answers with when invalid.
pub fn validate_topic(topic: &str) -> Result<(), &'static str> {
    if topic.trim().is_empty() {
        return Err("The specified topic is blank.");
    }
    if is_topic_or_group_illegal(topic) {
        return Err("The specified topic contains illegal characters, allowing only ^[%|a-zA-Z0-9_-]+$");
    }
    // Java compares UTF-16 length; only ASCII passes the character check, so bytes = units.
    if topic.len() > TOPIC_MAX_LENGTH {
        return Err("The specified topic is longer than topic max length.");
    }
    Ok(())
}

/// `TopicValidator.SYSTEM_TOPIC_SET`: Java keeps it in a static `HashSet` that the
/// topic manager extends at start (cluster name, broker name, reply topic, ...). Here
/// it belongs to one broker's topic manager; iteration follows Java's `HashSet`.
#[derive(Debug)]
pub struct SystemTopics {
    /// Insertion order (Java's HashSet order is derived from it).
    names: Mutex<Vec<String>>,
}

impl SystemTopics {
    /// The static part, in Java's `static {}` order.
    pub fn new(v5: bool) -> SystemTopics {
        let mut names: Vec<String> = [
            AUTO_CREATE_TOPIC_KEY_TOPIC,
            SCHEDULE_TOPIC,
            BENCHMARK_TOPIC,
            TRANS_HALF_TOPIC,
            TRACE_TOPIC,
            TRANS_OP_HALF_TOPIC,
            TRANS_CHECK_MAX_TIME_TOPIC,
            SELF_TEST_TOPIC,
            OFFSET_MOVED_EVENT,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if v5 {
            names.push(ROCKSDB_OFFSET_TOPIC.into());
        }
        SystemTopics { names: Mutex::new(names) }
    }

    /// `TopicValidator.addSystemTopic`.
    pub fn add(&self, topic: &str) {
        let mut n = self.names.lock();
        if !n.iter().any(|t| t == topic) {
            n.push(topic.to_string());
        }
    }

    /// `TopicValidator.isSystemTopic`: a member of the set or `rmq_sys_` prefixed.
    pub fn contains(&self, topic: &str) -> bool {
        topic.starts_with(SYSTEM_TOPIC_PREFIX) || self.names.lock().iter().any(|t| t == topic)
    }

    /// The set as Java's `HashSet` iterates it (GET_SYSTEM_TOPIC_LIST_FROM_BROKER).
    pub fn java_order(&self) -> Vec<String> {
        java::hashmap_order_owned(&self.names.lock())
    }
}

/// `TopicValidator.isNotAllowedSendTopic`: topics clients may not send to.
pub fn is_not_allowed_send_topic(topic: &str) -> bool {
    matches!(
        topic,
        SCHEDULE_TOPIC
            | TRANS_HALF_TOPIC
            | TRANS_OP_HALF_TOPIC
            | TRANS_CHECK_MAX_TIME_TOPIC
            | SELF_TEST_TOPIC
            | OFFSET_MOVED_EVENT
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_java_rules() {
        assert!(validate_topic("Topic-A_1|%x").is_ok());
        assert_eq!(validate_topic("  "), Err("The specified topic is blank."));
        assert!(validate_topic("a b").is_err());
        assert!(validate_topic("é").is_err());
        assert!(validate_topic(&"a".repeat(127)).is_ok());
        assert!(validate_topic(&"a".repeat(128)).is_err());
        let s = SystemTopics::new(true);
        assert!(s.contains("TBW102") && s.contains("rmq_sys_x") && !s.contains("Mine"));
        s.add("Mine");
        assert!(s.contains("Mine"));
        assert_eq!(s.java_order().len(), 11);
        assert!(is_sys_consumer_group("CID_RMQ_SYS_TRANS"));
    }
}
