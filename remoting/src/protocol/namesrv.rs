//! Name server request/response headers (`remoting/protocol/header/namesrv/*`).

use crate::ext_header;

ext_header! {
    /// GET_ROUTEINFO_BY_TOPIC (105).
    pub struct GetRouteInfoRequestHeader {
        str req topic: String = "topic",
        bool opt accept_standard_json_only: bool = "acceptStandardJsonOnly",
    }
}

ext_header! {
    /// REGISTER_BROKER (103).
    pub struct RegisterBrokerRequestHeader {
        str req broker_name: String = "brokerName",
        str req broker_addr: String = "brokerAddr",
        str req cluster_name: String = "clusterName",
        str req ha_server_addr: String = "haServerAddr",
        int req broker_id: i64 = "brokerId",
        int opt heartbeat_timeout_millis: i64 = "heartbeatTimeoutMillis",
        bool opt enable_acting_master: bool = "enableActingMaster",
        bool opt compressed: bool = "compressed",
        int opt body_crc32: i32 = "bodyCrc32",
    }
}

ext_header! {
    pub struct RegisterBrokerResponseHeader {
        str opt ha_server_addr: String = "haServerAddr",
        str opt master_addr: String = "masterAddr",
    }
}

ext_header! {
    /// UNREGISTER_BROKER (104) and the shape QUERY_DATA_VERSION (322) shares.
    pub struct UnRegisterBrokerRequestHeader {
        str req broker_name: String = "brokerName",
        str req broker_addr: String = "brokerAddr",
        str req cluster_name: String = "clusterName",
        int req broker_id: i64 = "brokerId",
    }
}

ext_header! {
    /// QUERY_DATA_VERSION (322).
    pub struct QueryDataVersionRequestHeader {
        str req broker_name: String = "brokerName",
        str req broker_addr: String = "brokerAddr",
        str req cluster_name: String = "clusterName",
        int req broker_id: i64 = "brokerId",
    }
}

ext_header! {
    pub struct QueryDataVersionResponseHeader {
        bool req changed: bool = "changed",
    }
}

ext_header! {
    /// BROKER_HEARTBEAT (904), name-server flavour (`heartbeatTimeoutMills` sic).
    pub struct BrokerHeartbeatRequestHeader {
        str req cluster_name: String = "clusterName",
        str req broker_addr: String = "brokerAddr",
        str req broker_name: String = "brokerName",
        int opt broker_id: i64 = "brokerId",
        int opt epoch: i32 = "epoch",
        int opt max_offset: i64 = "maxOffset",
        int opt confirm_offset: i64 = "confirmOffset",
        int opt heartbeat_timeout_mills: i64 = "heartbeatTimeoutMills",
        int opt election_priority: i32 = "electionPriority",
    }
}

ext_header! {
    /// GET_TOPICS_BY_CLUSTER (224).
    pub struct GetTopicsByClusterRequestHeader {
        str req cluster: String = "cluster",
    }
}

ext_header! {
    /// DELETE_TOPIC_IN_NAMESRV (216).
    pub struct DeleteTopicFromNamesrvRequestHeader {
        str req topic: String = "topic",
        str opt cluster_name: String = "clusterName",
    }
}

ext_header! {
    /// REGISTER_TOPIC_IN_NAMESRV (217).
    pub struct RegisterTopicRequestHeader {
        str req topic: String = "topic",
    }
}

ext_header! {
    /// PUT_KV_CONFIG (100).
    pub struct PutKvConfigRequestHeader {
        str req namespace: String = "namespace",
        str req key: String = "key",
        str req value: String = "value",
    }
}

ext_header! {
    /// GET_KV_CONFIG (101) and DELETE_KV_CONFIG (102).
    pub struct KvConfigKeyRequestHeader {
        str req namespace: String = "namespace",
        str req key: String = "key",
    }
}

ext_header! {
    pub struct GetKvConfigResponseHeader {
        str opt value: String = "value",
    }
}

ext_header! {
    /// GET_KVLIST_BY_NAMESPACE (219).
    pub struct GetKvListByNamespaceRequestHeader {
        str req namespace: String = "namespace",
    }
}

ext_header! {
    /// WIPE_WRITE_PERM_OF_BROKER (205) and ADD_WRITE_PERM_OF_BROKER (327).
    pub struct BrokerNameRequestHeader {
        str req broker_name: String = "brokerName",
    }
}

ext_header! {
    pub struct WipeWritePermOfBrokerResponseHeader {
        int req wipe_topic_count: i32 = "wipeTopicCount",
    }
}

ext_header! {
    pub struct AddWritePermOfBrokerResponseHeader {
        int req add_topic_count: i32 = "addTopicCount",
    }
}

ext_header! {
    /// GET_BROKER_MEMBER_GROUP (901).
    pub struct GetBrokerMemberGroupRequestHeader {
        str req cluster_name: String = "clusterName",
        str req broker_name: String = "brokerName",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::header::{FromExtFields, HeaderError, ToExtFields};
    use crate::codec::ExtFields;

    #[test]
    fn register_header_from_capture_fields() {
        let mut ext = ExtFields::default();
        for (k, v) in [
            ("brokerId", "0"),
            ("bodyCrc32", "302480216"),
            ("clusterName", "WireCluster"),
            ("brokerAddr", "127.0.0.1:19911"),
            ("haServerAddr", "127.0.0.1:19912"),
            ("compressed", "false"),
            ("brokerName", "broker-w"),
        ] {
            ext.insert(k.into(), v.into());
        }
        let h = RegisterBrokerRequestHeader::from_ext(&ext).unwrap();
        assert_eq!(h.broker_id, 0);
        assert_eq!(h.body_crc32, Some(302480216));
        assert_eq!(h.compressed, Some(false));
        let mut out = ExtFields::default();
        h.to_ext(&mut out);
        assert_eq!(out.get("brokerName").map(String::as_str), Some("broker-w"));
        ext.shift_remove("brokerName");
        assert_eq!(RegisterBrokerRequestHeader::from_ext(&ext), Err(HeaderError::Missing("brokerName")));
    }
}
