//! Transport behaviour over real loopback sockets.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rmq_remoting::codec::{RemotingCommand, RequestCode, ResponseCode, SerializeType};
use rmq_remoting::transport::{
    BoxFuture, Channel, Client, ClientConfig, RequestHandler, Server, ServerConfig, TransportError,
};
use tokio::sync::mpsc;

/// Echoes the request's ext fields back; code 9999 never answers; counts oneways.
struct Echo {
    oneways: Arc<AtomicUsize>,
    channels: mpsc::UnboundedSender<Channel>,
}

impl RequestHandler for Echo {
    fn handle(&self, ch: &Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
        let _ = self.channels.send(ch.clone());
        let oneways = self.oneways.clone();
        Box::pin(async move {
            if req.is_oneway() {
                oneways.fetch_add(1, Ordering::SeqCst);
                return Some(RemotingCommand::response_to(&req, ResponseCode::SUCCESS, None));
            }
            if req.code == 9999 {
                return None;
            }
            if req.code == 7777 {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            let mut resp = RemotingCommand::response_to(&req, ResponseCode::SUCCESS, Some("echo".into()));
            resp.ext_fields = req.ext_fields.clone();
            resp.body = req.body.clone();
            Some(resp)
        })
    }
}

async fn echo_server(
    cfg: ServerConfig,
) -> (rmq_remoting::transport::ServerHandle, Arc<AtomicUsize>, mpsc::UnboundedReceiver<Channel>) {
    let oneways = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::unbounded_channel();
    let h =
        Server::bind("127.0.0.1:0".parse().unwrap(), cfg, Arc::new(Echo { oneways: oneways.clone(), channels: tx }))
            .await
            .unwrap();
    (h, oneways, rx)
}

#[tokio::test]
async fn request_response_by_opaque_in_both_serializations() {
    let (server, _, _) = echo_server(ServerConfig::default()).await;
    for ser in [SerializeType::Json, SerializeType::RocketMq] {
        let client = Client::new(ClientConfig { serialize: ser, ..ClientConfig::default() });
        let addr = server.local_addr().to_string();
        // Many concurrent calls on one connection: each gets its own answer.
        let mut tasks = Vec::new();
        for i in 0..50 {
            let c = client.clone();
            let a = addr.clone();
            tasks.push(tokio::spawn(async move {
                let mut req = RemotingCommand::request(RequestCode::GET_KV_CONFIG);
                req.set_ext("i", i.to_string());
                let resp = c.invoke(&a, req, Duration::from_secs(3)).await.unwrap();
                assert_eq!(resp.ext("i"), Some(i.to_string().as_str()));
                assert_eq!(resp.remark.as_deref(), Some("echo"));
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
    server.shutdown().await;
}

#[tokio::test]
async fn timeouts_and_oneway() {
    let (server, oneways, _) = echo_server(ServerConfig::default()).await;
    let client = Client::new(ClientConfig::default());
    let ch = client.channel(&server.local_addr().to_string()).await.unwrap();
    let err =
        ch.invoke(RemotingCommand { code: 9999, ..Default::default() }, Duration::from_millis(100)).await.unwrap_err();
    assert!(matches!(err, TransportError::Timeout { .. }), "{err}");
    ch.invoke_oneway(RemotingCommand::request(RequestCode::UPDATE_CONSUMER_OFFSET)).unwrap();
    // The connection is still usable and no stray response to the oneway arrives.
    let r = ch.invoke(RemotingCommand::request(RequestCode::GET_KV_CONFIG), Duration::from_secs(3)).await.unwrap();
    assert_eq!(r.response_code(), ResponseCode::SUCCESS);
    assert_eq!(oneways.load(Ordering::SeqCst), 1);
    server.shutdown().await;
}

#[tokio::test]
async fn server_can_call_its_client() {
    let (server, _, mut chans) = echo_server(ServerConfig::default()).await;
    struct ClientSide;
    impl RequestHandler for ClientSide {
        fn handle(&self, _ch: &Channel, req: RemotingCommand) -> BoxFuture<Option<RemotingCommand>> {
            Box::pin(async move {
                Some(RemotingCommand::response_to(
                    &req,
                    ResponseCode::TRANSACTION_SHOULD_COMMIT,
                    Some("from client".into()),
                ))
            })
        }
    }
    let client = Client::with_handler(ClientConfig::default(), Arc::new(ClientSide));
    let ch = client.channel(&server.local_addr().to_string()).await.unwrap();
    ch.invoke(RemotingCommand::request(RequestCode::HEART_BEAT), Duration::from_secs(3)).await.unwrap();
    let server_side = chans.recv().await.unwrap();
    let r = server_side
        .invoke(RemotingCommand::request(RequestCode::CHECK_TRANSACTION_STATE), Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(r.response_code(), ResponseCode::TRANSACTION_SHOULD_COMMIT);
    server.shutdown().await;
}

#[tokio::test]
async fn idle_connections_are_closed() {
    let cfg = ServerConfig { idle_timeout: Some(Duration::from_millis(200)), ..ServerConfig::default() };
    let (server, _, _) = echo_server(cfg).await;
    let client = Client::new(ClientConfig::default());
    let ch = client.connect(&server.local_addr().to_string()).await.unwrap();
    ch.invoke(RemotingCommand::request(RequestCode::GET_KV_CONFIG), Duration::from_secs(3)).await.unwrap();
    tokio::time::timeout(Duration::from_secs(3), ch.closed()).await.expect("idle connection closed by the server");
    server.shutdown().await;
}

#[tokio::test]
async fn connection_limit_refuses_extra_connections() {
    let cfg = ServerConfig { max_connections: 1, ..ServerConfig::default() };
    let (server, _, _) = echo_server(cfg).await;
    let client = Client::new(ClientConfig::default());
    let addr = server.local_addr().to_string();
    let first = client.connect(&addr).await.unwrap();
    first.invoke(RemotingCommand::request(RequestCode::GET_KV_CONFIG), Duration::from_secs(3)).await.unwrap();
    let second = client.connect(&addr).await.unwrap();
    tokio::time::timeout(Duration::from_secs(3), second.closed()).await.expect("second connection refused");
    // The first one is unaffected.
    first.invoke(RemotingCommand::request(RequestCode::GET_KV_CONFIG), Duration::from_secs(3)).await.unwrap();
    server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_connections_and_fails_pending_calls() {
    let (server, _, _) = echo_server(ServerConfig::default()).await;
    let client = Client::new(ClientConfig::default());
    let ch = client.connect(&server.local_addr().to_string()).await.unwrap();
    let pending = {
        let ch = ch.clone();
        tokio::spawn(async move {
            ch.invoke(RemotingCommand { code: 9999, ..Default::default() }, Duration::from_secs(10)).await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    tokio::time::timeout(Duration::from_secs(5), server.shutdown()).await.expect("shutdown finishes");
    let res = tokio::time::timeout(Duration::from_secs(3), pending).await.expect("pending call ends").unwrap();
    assert!(matches!(res, Err(TransportError::Closed(_))), "{res:?}");
}
