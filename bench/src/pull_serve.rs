//! PULL_MESSAGE on the ceiling server's optional memory, with long polling like
//! the Java broker's `PullRequestHoldService`: an empty queue holds the request
//! until a message arrives or the suspend timeout passes (then PULL_NOT_FOUND).

use std::time::Duration;

use bytes::BytesMut;
use rmq_remoting::codec::header::{FromExtFields, ToExtFields};
use rmq_remoting::protocol::pull::{pull_sys_flag, PullMessageRequestHeader, PullMessageResponseHeader};
use rmq_remoting::{RemotingCommand, ResponseCode};

use crate::ceiling::State;
use crate::memstore::Read;

/// Longest hold, whatever the client asks for.
const MAX_SUSPEND: Duration = Duration::from_secs(30);

fn header(next: i64, min: i64, max: i64) -> PullMessageResponseHeader {
    PullMessageResponseHeader {
        suggest_which_broker_id: 0,
        next_begin_offset: next,
        min_offset: min,
        max_offset: max,
        offset_delta: None,
        topic_sys_flag: None,
        group_sys_flag: None,
        forbidden_type: None,
    }
}

fn respond(req: &RemotingCommand, code: ResponseCode, h: PullMessageResponseHeader) -> RemotingCommand {
    let mut resp = RemotingCommand::response_to(req, code, None);
    h.apply_to(&mut resp);
    resp
}

pub(crate) async fn serve_pull(state: &State, req: &RemotingCommand) -> RemotingCommand {
    let Some(store) = state.store.as_ref() else {
        return RemotingCommand::response_to(
            req,
            ResponseCode::REQUEST_CODE_NOT_SUPPORTED,
            Some("the ceiling server stores nothing; start it with --retain N to serve pulls".into()),
        );
    };
    let h = match PullMessageRequestHeader::from_command(req) {
        Ok(h) => h,
        Err(e) => return RemotingCommand::response_to(req, ResponseCode::SYSTEM_ERROR, Some(e.to_string())),
    };
    let suspend = if h.sys_flag & pull_sys_flag::SUSPEND != 0 {
        Duration::from_millis(h.suspend_timeout_millis.max(0) as u64).min(MAX_SUSPEND)
    } else {
        Duration::ZERO
    };
    let deadline = tokio::time::Instant::now() + suspend;
    loop {
        let notify = store.notify(&h.topic, h.queue_id);
        let notified = notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        match store.read(&h.topic, h.queue_id, h.queue_offset, h.max_msg_nums.max(1) as usize) {
            Read::Found { records, next, min, max } => {
                let mut body = BytesMut::with_capacity(records.iter().map(|r| r.len()).sum());
                records.iter().for_each(|r| body.extend_from_slice(r));
                return respond(req, ResponseCode::SUCCESS, header(next, min, max)).with_body(body.freeze());
            }
            Read::Moved { next, min, max } => {
                return respond(req, ResponseCode::PULL_OFFSET_MOVED, header(next, min, max))
            }
            Read::Empty { min, max } => {
                if tokio::time::Instant::now() >= deadline || tokio::time::timeout_at(deadline, notified).await.is_err()
                {
                    return respond(req, ResponseCode::PULL_NOT_FOUND, header(h.queue_offset, min, max));
                }
            }
        }
    }
}
