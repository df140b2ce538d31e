//! Pull (code 11, 361) headers and `PullSysFlag`.

use crate::ext_header;

ext_header! {
    pub struct PullMessageRequestHeader {
        str req consumer_group: String = "consumerGroup",
        str req topic: String = "topic",
        int req queue_id: i32 = "queueId",
        int req queue_offset: i64 = "queueOffset",
        int req max_msg_nums: i32 = "maxMsgNums",
        int req sys_flag: i32 = "sysFlag",
        int req commit_offset: i64 = "commitOffset",
        int req suspend_timeout_millis: i64 = "suspendTimeoutMillis",
        str opt subscription: String = "subscription",
        int req sub_version: i64 = "subVersion",
        str opt expression_type: String = "expressionType",
        int opt max_msg_bytes: i32 = "maxMsgBytes",
        int opt request_source: i32 = "requestSource",
        str opt proxy_froward_client_id: String = "proxyFrowardClientId",
        str opt bname: String = "bname",
    }
}

ext_header! {
    /// 4.9.8 clients read only the first four fields.
    pub struct PullMessageResponseHeader {
        int req suggest_which_broker_id: i64 = "suggestWhichBrokerId",
        int req next_begin_offset: i64 = "nextBeginOffset",
        int req min_offset: i64 = "minOffset",
        int req max_offset: i64 = "maxOffset",
        int opt offset_delta: i64 = "offsetDelta",
        int opt topic_sys_flag: i32 = "topicSysFlag",
        int opt group_sys_flag: i32 = "groupSysFlag",
        int opt forbidden_type: i32 = "forbiddenType",
    }
}

/// `PullSysFlag` bits.
pub mod pull_sys_flag {
    pub const COMMIT_OFFSET: i32 = 0x1;
    pub const SUSPEND: i32 = 0x2;
    pub const SUBSCRIPTION: i32 = 0x4;
    pub const CLASS_FILTER: i32 = 0x8;
    pub const LITE_PULL: i32 = 0x10;
}
