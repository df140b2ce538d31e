//! Client-management, transaction, query and admin headers used between brokers and clients.

use crate::ext_header;

ext_header! {
    /// CONSUMER_SEND_MSG_BACK (36).
    pub struct ConsumerSendMsgBackRequestHeader {
        int req offset: i64 = "offset",
        str req group: String = "group",
        int req delay_level: i32 = "delayLevel",
        str opt origin_msg_id: String = "originMsgId",
        str opt origin_topic: String = "originTopic",
        bool opt unit_mode: bool = "unitMode",
        int opt max_reconsume_times: i32 = "maxReconsumeTimes",
    }
}

ext_header! {
    /// END_TRANSACTION (37); commitOrRollback 0 unknown, 8 commit, 12 rollback.
    pub struct EndTransactionRequestHeader {
        str opt topic: String = "topic",
        str req producer_group: String = "producerGroup",
        int req tran_state_table_offset: i64 = "tranStateTableOffset",
        int req commit_log_offset: i64 = "commitLogOffset",
        int req commit_or_rollback: i32 = "commitOrRollback",
        bool opt from_transaction_check: bool = "fromTransactionCheck",
        str req msg_id: String = "msgId",
        str opt transaction_id: String = "transactionId",
    }
}

ext_header! {
    /// CHECK_TRANSACTION_STATE (39), broker -> producer.
    pub struct CheckTransactionStateRequestHeader {
        str opt topic: String = "topic",
        int req tran_state_table_offset: i64 = "tranStateTableOffset",
        int req commit_log_offset: i64 = "commitLogOffset",
        str opt msg_id: String = "msgId",
        str opt transaction_id: String = "transactionId",
        str opt offset_msg_id: String = "offsetMsgId",
        str opt bname: String = "bname",
    }
}

ext_header! {
    /// GET_CONSUMER_LIST_BY_GROUP (38), NOTIFY_CONSUMER_IDS_CHANGED (40),
    /// GET_CONSUMER_CONNECTION_LIST (203).
    pub struct ConsumerGroupRequestHeader {
        str req consumer_group: String = "consumerGroup",
    }
}

ext_header! {
    /// UNREGISTER_CLIENT (35).
    pub struct UnregisterClientRequestHeader {
        str req client_id: String = "clientID",
        str opt producer_group: String = "producerGroup",
        str opt consumer_group: String = "consumerGroup",
    }
}

ext_header! {
    /// QUERY_MESSAGE (12).
    pub struct QueryMessageRequestHeader {
        str req topic: String = "topic",
        str req key: String = "key",
        int req max_num: i32 = "maxNum",
        int req begin_timestamp: i64 = "beginTimestamp",
        int req end_timestamp: i64 = "endTimestamp",
    }
}

ext_header! {
    pub struct QueryMessageResponseHeader {
        int req index_last_update_timestamp: i64 = "indexLastUpdateTimestamp",
        int req index_last_update_phyoffset: i64 = "indexLastUpdatePhyoffset",
    }
}

ext_header! {
    /// VIEW_MESSAGE_BY_ID (33).
    pub struct ViewMessageRequestHeader {
        str opt topic: String = "topic",
        int req offset: i64 = "offset",
    }
}

ext_header! {
    /// UPDATE_AND_CREATE_TOPIC (17).
    pub struct CreateTopicRequestHeader {
        str req topic: String = "topic",
        str req default_topic: String = "defaultTopic",
        int req read_queue_nums: i32 = "readQueueNums",
        int req write_queue_nums: i32 = "writeQueueNums",
        int req perm: i32 = "perm",
        str req topic_filter_type: String = "topicFilterType",
        int opt topic_sys_flag: i32 = "topicSysFlag",
        bool opt order: bool = "order",
        str opt attributes: String = "attributes",
        bool opt force: bool = "force",
    }
}

ext_header! {
    /// DELETE_TOPIC_IN_BROKER (215), GET_TOPIC_STATS_INFO (202), QUERY_TOPIC_CONSUME_BY_WHO (300).
    pub struct TopicRequestHeader {
        str req topic: String = "topic",
    }
}

ext_header! {
    /// GET_CONSUME_STATS (208).
    pub struct GetConsumeStatsRequestHeader {
        str req consumer_group: String = "consumerGroup",
        str opt topic: String = "topic",
        str opt topic_list: String = "topicList",
    }
}

ext_header! {
    /// DELETE_SUBSCRIPTIONGROUP (207).
    pub struct DeleteSubscriptionGroupRequestHeader {
        str req group_name: String = "groupName",
        bool opt clean_offset: bool = "cleanOffset",
    }
}

ext_header! {
    /// GET_CONSUMER_RUNNING_INFO (307), forwarded to the client.
    pub struct GetConsumerRunningInfoRequestHeader {
        str req consumer_group: String = "consumerGroup",
        str req client_id: String = "clientId",
        bool opt jstack_enable: bool = "jstackEnable",
    }
}

ext_header! {
    /// GET_PRODUCER_CONNECTION_LIST (204).
    pub struct GetProducerConnectionListRequestHeader {
        str req producer_group: String = "producerGroup",
    }
}

ext_header! {
    /// CONSUME_MESSAGE_DIRECTLY (309), admin -> broker -> client.
    pub struct ConsumeMessageDirectlyResultRequestHeader {
        str req consumer_group: String = "consumerGroup",
        str opt client_id: String = "clientId",
        str opt msg_id: String = "msgId",
        str opt broker_name: String = "brokerName",
        str opt topic: String = "topic",
        int opt topic_sys_flag: i32 = "topicSysFlag",
        int opt group_sys_flag: i32 = "groupSysFlag",
    }
}
