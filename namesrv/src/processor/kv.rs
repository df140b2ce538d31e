//! KV config requests. Writes persist to disk, so they run on a blocking thread.

use std::sync::Arc;

use rmq_remoting::codec::{RemotingCommand, ResponseCode};
use rmq_remoting::protocol::namesrv::{
    GetKvConfigResponseHeader, GetKvListByNamespaceRequestHeader, KvConfigKeyRequestHeader, PutKvConfigRequestHeader,
};

use super::{header, ok, ok_with, Failure, Outcome, State};

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Failure::Code(ResponseCode::SYSTEM_ERROR, format!("kv task failed: {e}")))
}

pub(super) async fn put(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let h: PutKvConfigRequestHeader = header(req)?;
    let st = state.clone();
    blocking(move || st.kv.lock().put(&h.namespace, &h.key, &h.value))
        .await?
        .map_err(|e| Failure::Code(ResponseCode::SYSTEM_ERROR, e.to_string()))?;
    Ok(ok(req))
}

pub(super) fn get(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let h: KvConfigKeyRequestHeader = header(req)?;
    match state.kv.lock().get(&h.namespace, &h.key) {
        Some(v) => Ok(ok_with(req, &GetKvConfigResponseHeader { value: Some(v.to_string()) })),
        None => {
            let mut r = RemotingCommand::response_to(
                req,
                ResponseCode::QUERY_NOT_FOUND,
                Some(format!("No config item, Namespace: {} Key: {}", h.namespace, h.key)),
            );
            r.ext_fields = Some(Default::default());
            Ok(r)
        }
    }
}

pub(super) async fn delete(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let h: KvConfigKeyRequestHeader = header(req)?;
    let st = state.clone();
    blocking(move || st.kv.lock().delete(&h.namespace, &h.key))
        .await?
        .map_err(|e| Failure::Code(ResponseCode::SYSTEM_ERROR, e.to_string()))?;
    Ok(ok(req))
}

pub(super) fn list(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let h: GetKvListByNamespaceRequestHeader = header(req)?;
    match state.kv.lock().namespace_body(&h.namespace) {
        Some(b) => Ok(ok(req).with_body(b)),
        None => {
            Err(Failure::Code(ResponseCode::QUERY_NOT_FOUND, format!("No config item, Namespace: {}", h.namespace)))
        }
    }
}
