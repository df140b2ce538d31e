//! Send headers (codes 10, 310, 320, 324/325) and the V2 compact form.

use crate::ext_header;

ext_header! {
    /// `SendMessageRequestHeader` (code 10 and the decoded form of V2).
    pub struct SendMessageRequestHeader {
        str req producer_group: String = "producerGroup",
        str req topic: String = "topic",
        str req default_topic: String = "defaultTopic",
        int req default_topic_queue_nums: i32 = "defaultTopicQueueNums",
        int req queue_id: i32 = "queueId",
        int req sys_flag: i32 = "sysFlag",
        int req born_timestamp: i64 = "bornTimestamp",
        int req flag: i32 = "flag",
        str opt properties: String = "properties",
        int opt reconsume_times: i32 = "reconsumeTimes",
        bool opt unit_mode: bool = "unitMode",
        bool opt batch: bool = "batch",
        int opt max_reconsume_times: i32 = "maxReconsumeTimes",
        str opt bname: String = "bname",
    }
}

ext_header! {
    /// `SendMessageRequestHeaderV2`: one-letter keys (codes 310 and 320).
    pub struct SendMessageRequestHeaderV2 {
        str req a: String = "a",
        str req b: String = "b",
        str req c: String = "c",
        int req d: i32 = "d",
        int req e: i32 = "e",
        int req f: i32 = "f",
        int req g: i64 = "g",
        int req h: i32 = "h",
        str opt i: String = "i",
        int opt j: i32 = "j",
        bool opt k: bool = "k",
        int opt l: i32 = "l",
        bool opt m: bool = "m",
        str opt n: String = "n",
    }
}

impl From<SendMessageRequestHeaderV2> for SendMessageRequestHeader {
    fn from(v: SendMessageRequestHeaderV2) -> Self {
        SendMessageRequestHeader {
            producer_group: v.a,
            topic: v.b,
            default_topic: v.c,
            default_topic_queue_nums: v.d,
            queue_id: v.e,
            sys_flag: v.f,
            born_timestamp: v.g,
            flag: v.h,
            properties: v.i,
            reconsume_times: v.j,
            unit_mode: v.k,
            batch: v.m,
            max_reconsume_times: v.l,
            bname: v.n,
        }
    }
}

impl From<&SendMessageRequestHeader> for SendMessageRequestHeaderV2 {
    fn from(v: &SendMessageRequestHeader) -> Self {
        SendMessageRequestHeaderV2 {
            a: v.producer_group.clone(),
            b: v.topic.clone(),
            c: v.default_topic.clone(),
            d: v.default_topic_queue_nums,
            e: v.queue_id,
            f: v.sys_flag,
            g: v.born_timestamp,
            h: v.flag,
            i: v.properties.clone(),
            j: v.reconsume_times,
            k: v.unit_mode,
            l: v.max_reconsume_times,
            m: v.batch,
            n: v.bname.clone(),
        }
    }
}

ext_header! {
    /// `SendMessageResponseHeader` (4.9.8 has only the first four fields).
    pub struct SendMessageResponseHeader {
        str req msg_id: String = "msgId",
        int req queue_id: i32 = "queueId",
        int req queue_offset: i64 = "queueOffset",
        str opt transaction_id: String = "transactionId",
        str opt batch_uniq_id: String = "batchUniqId",
        str opt recall_handle: String = "recallHandle",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::header::{FromExtFields, ToExtFields};
    use crate::codec::ExtFields;

    #[test]
    fn v2_from_java_capture_converts() {
        // Fields of the SEND_MESSAGE_V2 request in golden send_single.pcap (4.9.8 client).
        let mut ext = ExtFields::default();
        for (k, v) in [
            ("a", "PID_WIRE"),
            ("b", "WireTopic"),
            ("c", "TBW102"),
            ("d", "4"),
            ("e", "1"),
            ("f", "0"),
            ("g", "1795291977330"),
            ("h", "0"),
            ("i", "UNIQ_KEY\u{1}7F00\u{2}WAIT\u{1}true\u{2}"),
            ("j", "0"),
            ("k", "false"),
            ("m", "false"),
            ("n", "broker-w"),
        ] {
            ext.insert(k.into(), v.into());
        }
        let v2 = SendMessageRequestHeaderV2::from_ext(&ext).unwrap();
        let v1: SendMessageRequestHeader = v2.clone().into();
        assert_eq!(v1.topic, "WireTopic");
        assert_eq!(v1.queue_id, 1);
        assert_eq!(v1.bname.as_deref(), Some("broker-w"));
        let back = SendMessageRequestHeaderV2::from(&v1);
        assert_eq!(back, v2);
        let mut out = ExtFields::default();
        back.to_ext(&mut out);
        assert_eq!(out.get("g").map(String::as_str), Some("1795291977330"));
    }
}
