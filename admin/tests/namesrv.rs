//! Name server KV and config commands, checked over the wire afterwards.

mod common;

use common::*;
use rmq_remoting::codec::header::ToExtFields;
use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode};
use rmq_remoting::protocol::namesrv::KvConfigKeyRequestHeader;

async fn get_kv(ns: std::net::SocketAddr, namespace: &str, key: &str) -> RemotingCommand {
    let mut cmd = RemotingCommand::request(RequestCode::GET_KV_CONFIG);
    KvConfigKeyRequestHeader { namespace: namespace.into(), key: key.into() }.apply_to(&mut cmd);
    ask(ns, cmd).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_and_delete_kv_config_on_every_name_server() {
    let (ns1, _d1) = start_namesrv().await;
    let (ns2, _d2) = start_namesrv().await;
    let list = format!("{};{}", ns1.local_addr(), ns2.local_addr());

    let out = mqadmin(
        &["updateKvConfig", "-n", &list, "-s", " ORDER_TOPIC_CONFIG ", "-k", "TopicA", "-v", "broker-a:4 "],
        None,
    )
    .await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "create or update kv config to namespace success.\n");
    for ns in [ns1.local_addr(), ns2.local_addr()] {
        let r = get_kv(ns, "ORDER_TOPIC_CONFIG", "TopicA").await;
        assert_eq!(r.response_code(), ResponseCode::SUCCESS, "{ns}");
        assert_eq!(r.ext("value"), Some("broker-a:4"), "values are trimmed like Java");
    }

    // deleteKvConfig takes the list from NAMESRV_ADDR here.
    let out = mqadmin(&["deleteKvConfig", "-s", "ORDER_TOPIC_CONFIG", "-k", "TopicA"], Some(&list)).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "delete kv config from namespace success.\n");
    for ns in [ns1.local_addr(), ns2.local_addr()] {
        let r = get_kv(ns, "ORDER_TOPIC_CONFIG", "TopicA").await;
        assert_eq!(r.response_code(), ResponseCode::QUERY_NOT_FOUND, "{ns}");
    }

    // One name server down: the connection failure stops the command and names it.
    let dead = format!("127.0.0.1:{}", closed_port());
    let out = mqadmin(&["updateKvConfig", "-n", &dead, "-s", "NS", "-k", "k", "-v", "v"], None).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "org.apache.rocketmq.tools.command.SubCommandException: UpdateKvConfigCommand command failed\n"
        ),
        "{err}"
    );
    assert!(err.contains(&format!("connect to {dead} failed")), "{err}");

    ns1.shutdown().await;
    ns2.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_and_update_namesrv_config() {
    let (ns, _dir) = start_namesrv().await;
    let n = ns.local_addr().to_string();

    let out = mqadmin(&["updateNamesrvConfig", "-n", &n, "-k", "orderMessageEnable", "-v", " true"], None).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), format!("update name server config success![{n}]\norderMessageEnable : true\n"));

    let out = mqadmin(&["getNamesrvConfig", "-n", &n], None).await;
    assert_eq!(out.status.code(), Some(0), "stderr: {}", stderr(&out));
    let text = stdout(&out);
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some(format!("============{n}============").as_str()));
    // Every entry of the name server's answer, as "%-50s=  %s".
    let resp = ask(ns.local_addr(), RemotingCommand::request(RequestCode::GET_NAMESRV_CONFIG)).await;
    let props = rmq_common::properties::parse(resp.body.as_deref().unwrap()).unwrap();
    let mut got: Vec<String> = lines.map(str::to_string).collect();
    let mut want: Vec<String> = props.iter().map(|(k, v)| format!("{}=  {v}", l(k, 50))).collect();
    assert!(got.contains(&format!("{}=  true", l("orderMessageEnable", 50))), "{text}");
    // Printed in java.util.Properties (ConcurrentHashMap) order, which is not the body order.
    assert_eq!(got, rmq_admin::namesrv::config_lines(&props).lines().map(str::to_string).collect::<Vec<_>>());
    got.sort();
    want.sort();
    assert_eq!(got, want);

    // Without -n: NAMESRV_ADDR, and no server list in the success line.
    let out = mqadmin(&["updateNamesrvConfig", "-k", "orderMessageEnable", "-v", "false"], Some(&n)).await;
    assert_eq!(stdout(&out), "update name server config success!\norderMessageEnable : false\n");

    // A key the name server refuses: MQClientException with its answer.
    let out = mqadmin(&["updateNamesrvConfig", "-n", &n, "-k", "kvConfigPath", "-v", "/tmp/x"], None).await;
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("UpdateNamesrvConfigCommand command failed\nCaused by: org.apache.rocketmq.client.exception.MQClientException: CODE: 16  DESC: Can not update config in black list."), "{err}");

    ns.shutdown().await;
}
