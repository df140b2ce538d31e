//! TopicRouteData output: fastjson PrettyFormat of the 5.3.3 bean, HashMap orders.

use super::*;

#[test]
fn pretty_json_uses_hash_order_and_unquoted_long_keys() {
    // Standard-JSON answer (quoted keys, sorted) as a 5.x name server sends it.
    let body = br#"{"brokerDatas":[{"brokerAddrs":{"0":"c","1":"b","16":"a","17":"e"},"brokerName":"b1","cluster":"C","enableActingMaster":true,"zoneName":"z"}],"filterServerTable":{"127.0.0.1:10921":["y","z"],"127.0.0.1:10911":["x"]},"orderTopicConf":"b1:4","queueDatas":[{"brokerName":"b1","perm":7,"readQueueNums":2,"topicSysFlag":1,"writeQueueNums":3}]}"#;
    let route = decode_route(body).unwrap();
    // HashMap<Long, String> {16, 1, 0, 17}: bucket 0 holds 0 and 16 (insertion order).
    let want = "{\n\
        \t\"brokerDatas\":[\n\
        \t\t{\n\
        \t\t\t\"brokerAddrs\":{0:\"c\",16:\"a\",1:\"b\",17:\"e\"\n\
        \t\t\t},\n\
        \t\t\t\"brokerName\":\"b1\",\n\
        \t\t\t\"cluster\":\"C\",\n\
        \t\t\t\"enableActingMaster\":true,\n\
        \t\t\t\"zoneName\":\"z\"\n\
        \t\t}\n\
        \t],\n\
        \t\"filterServerTable\":{\n\
        \t\t\"127.0.0.1:10911\":[\n\
        \t\t\t\"x\"\n\
        \t\t],\n\
        \t\t\"127.0.0.1:10921\":[\n\
        \t\t\t\"y\",\n\
        \t\t\t\"z\"\n\
        \t\t]\n\
        \t},\n\
        \t\"orderTopicConf\":\"b1:4\",\n\
        \t\"queueDatas\":[\n\
        \t\t{\n\
        \t\t\t\"brokerName\":\"b1\",\n\
        \t\t\t\"perm\":7,\n\
        \t\t\t\"readQueueNums\":2,\n\
        \t\t\t\"topicSysFlag\":1,\n\
        \t\t\t\"writeQueueNums\":3\n\
        \t\t}\n\
        \t]\n\
        }";
    assert_eq!(route_json(&route), want);
}

#[test]
fn hashmap_to_string_of_broker_addrs() {
    // Checked with OpenJDK 17: {16=a, 0=c, -1=d, 1=b, 17=e} for puts 16, 1, 0, -1, 17.
    let addrs: IndexMap<i64, String> =
        [(16, "a"), (1, "b"), (0, "c"), (-1, "d"), (17, "e")].into_iter().map(|(k, v)| (k, v.to_string())).collect();
    assert_eq!(addrs_to_string(&addrs), "{16=a, 0=c, -1=d, 1=b, 17=e}");
    assert_eq!(addrs_to_string(&IndexMap::new()), "{}");
}

#[test]
fn front_string_at_least() {
    assert_eq!(front("abcdef", 4), "abcd");
    assert_eq!(front("ab", 4), "ab");
}
