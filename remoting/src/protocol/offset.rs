//! Consumer offset and queue offset headers (codes 14, 15, 29-32).

use crate::ext_header;

ext_header! {
    pub struct QueryConsumerOffsetRequestHeader {
        str req consumer_group: String = "consumerGroup",
        str req topic: String = "topic",
        int req queue_id: i32 = "queueId",
        bool opt set_zero_if_not_found: bool = "setZeroIfNotFound",
    }
}

ext_header! {
    /// Response of 14, 29, 30, 31.
    pub struct OffsetResponseHeader {
        int req offset: i64 = "offset",
    }
}

ext_header! {
    pub struct UpdateConsumerOffsetRequestHeader {
        str req consumer_group: String = "consumerGroup",
        str req topic: String = "topic",
        int req queue_id: i32 = "queueId",
        int req commit_offset: i64 = "commitOffset",
    }
}

ext_header! {
    /// GET_MAX_OFFSET (30); `committed` defaults to true (5.x).
    pub struct GetMaxOffsetRequestHeader {
        str req topic: String = "topic",
        int req queue_id: i32 = "queueId",
        bool opt committed: bool = "committed",
    }
}

ext_header! {
    /// GET_MIN_OFFSET (31) and GET_EARLIEST_MSG_STORETIME (32).
    pub struct TopicQueueRequestHeader {
        str req topic: String = "topic",
        int req queue_id: i32 = "queueId",
    }
}

ext_header! {
    /// SEARCH_OFFSET_BY_TIMESTAMP (29); `boundaryType` "UPPER"/"upper" or LOWER.
    pub struct SearchOffsetRequestHeader {
        str req topic: String = "topic",
        int req queue_id: i32 = "queueId",
        int req timestamp: i64 = "timestamp",
        str opt boundary_type: String = "boundaryType",
    }
}

ext_header! {
    pub struct GetEarliestMsgStoretimeResponseHeader {
        int req timestamp: i64 = "timestamp",
    }
}
