//! Typed errors of the library; the binary wraps them in `anyhow` at the edge.

use rmq_remoting::codec::HeaderError;
use rmq_remoting::protocol::body::BodyError;
use rmq_remoting::transport::TransportError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum BenchError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error("{what} answered {code}: {remark}")]
    Response { what: String, code: String, remark: String },
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("bad response header: {0}")]
    Header(#[from] HeaderError),
    #[error(
        "name server {namesrv} knows no topic {topic} (and no {} route to fall back on)",
        crate::route::DEFAULT_TOPIC
    )]
    TopicNotFound { topic: String, namesrv: String },
    #[error("topic {topic} has no {kind} queue on any broker with a master")]
    NoQueues { topic: String, kind: &'static str },
    #[error("refusing to dial {0}: only loopback (127.0.0.0/8, ::1, localhost) addresses are allowed")]
    NonLoopback(String),
    #[error("bad address {0:?}: expected host:port")]
    BadAddress(String),
    #[error("invalid setting: {0}")]
    Config(String),
    #[error("malformed message in pull response at byte {offset}: {reason}")]
    Message { offset: usize, reason: String },
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read /proc/{pid}/status: {reason}")]
    Proc { pid: u32, reason: String },
    #[error("{0}")]
    Startup(String),
}

impl BenchError {
    pub fn io(what: impl Into<String>, source: std::io::Error) -> BenchError {
        BenchError::Io { what: what.into(), source }
    }

    /// A non-SUCCESS answer to a control request (route, offsets, heartbeat).
    pub fn response(what: impl Into<String>, cmd: &rmq_remoting::RemotingCommand) -> BenchError {
        BenchError::Response {
            what: what.into(),
            code: cmd.response_code().to_string(),
            remark: cmd.remark.clone().unwrap_or_default(),
        }
    }
}

pub type Result<T, E = BenchError> = std::result::Result<T, E>;
