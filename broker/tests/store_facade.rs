//! The broker's store facade on its own: truncation trims consume queues and
//! the writer continues from the trimmed offsets; reads stay within bounds.

mod common;

use bytes::Bytes;
use rmq_broker::store::{GetRequest, GetStatus, MessageStore, StoreOptions, TagFilter};
use rmq_store::append::{MessageToStore, PutStatus, Role};
use rmq_store::HostAddr;

fn msg(topic: &str, q: i32, body: &str) -> MessageToStore {
    MessageToStore {
        topic: topic.into(),
        queue_id: q,
        flag: 0,
        body: Bytes::copy_from_slice(body.as_bytes()),
        properties: Bytes::from_static(b"TAGS\x01t"),
        sys_flag: 0,
        born_timestamp: 1,
        born_host: HostAddr::v4([127, 0, 0, 1], 1),
        store_host: HostAddr::v4([127, 0, 0, 1], 2),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
    }
}

fn get(topic: &str, q: i32, offset: i64) -> GetRequest {
    GetRequest { topic: topic.into(), queue_id: q, offset, max_nums: 32, max_bytes: None, filter: TagFilter::All }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncation_trims_queues_and_writing_continues() {
    let d = tempfile::tempdir().unwrap();
    let s = common::settings(&d.path().join("store"), None);
    let store = MessageStore::open(StoreOptions::from_settings(&s, Role::Master)).await.unwrap();
    let mut offs = Vec::new();
    for i in 0..6 {
        let r = store.put(msg("T", i % 2, &format!("m{i}"))).await;
        assert_eq!(r.status, PutStatus::PutOk);
        offs.push(r.append.unwrap().wrote_offset);
    }
    assert_eq!((store.max_offset("T", 0), store.max_offset("T", 1)), (3, 3));
    // cut at the 4th message (queue 1, offset 1): queue 0 keeps 2, queue 1 keeps 1
    store.set_role(Role::Slave).await.unwrap();
    store.truncate(offs[3] as u64).await.unwrap();
    store.set_role(Role::Master).await.unwrap();
    assert_eq!((store.max_offset("T", 0), store.max_offset("T", 1)), (2, 1));
    let r = store.put(msg("T", 1, "again")).await;
    assert_eq!(r.append.unwrap().logics_offset, 1);
    let g = store.get_messages(get("T", 1, 0)).await.unwrap();
    assert_eq!(g.status, GetStatus::Found);
    let recs = common::records(&g.body);
    assert_eq!(recs.iter().map(|m| m.body.to_vec()).collect::<Vec<_>>(), vec![b"m1".to_vec(), b"again".to_vec()]);
    // offsets out of range follow Java's statuses
    assert_eq!(store.get_messages(get("T", 1, 2)).await.unwrap().status, GetStatus::OffsetOverflowOne);
    assert_eq!(store.get_messages(get("T", 1, 9)).await.unwrap().status, GetStatus::OffsetOverflowBadly);
    assert_eq!(store.get_messages(get("none", 0, 0)).await.unwrap().status, GetStatus::NoMessageInQueue);
    assert!(store.earliest_store_time("T".into(), 0).await.unwrap() > 0);
    assert_eq!(store.earliest_store_time("none".into(), 0).await.unwrap(), -1);
    store.shutdown().await.unwrap();
    // reopened: the same bounds
    let store = MessageStore::open(StoreOptions::from_settings(&s, Role::Master)).await.unwrap();
    assert_eq!((store.max_offset("T", 0), store.max_offset("T", 1)), (2, 2));
    store.shutdown().await.unwrap();
}
