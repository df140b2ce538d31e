//! GET_NAMESRV_CONFIG / UPDATE_NAMESRV_CONFIG: properties text in, properties text out;
//! updates are written back to the `-c` file like Java's `Configuration.persist`.

use std::sync::Arc;

use rmq_common::config;
use rmq_common::properties::{self, Properties};
use rmq_remoting::codec::{RemotingCommand, ResponseCode};
use tracing::{info, warn};

use super::{ok, Failure, Outcome, State};
use crate::kv::write_file_safely;

/// Keys that can never be changed remotely (Java's fixed black list).
const FIXED_BLACK_LIST: &[&str] = &["configBlackList", "configStorePath", "kvConfigPath", "rocketmqHome"];

pub(super) fn get(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let text = state.settings.lock().print();
    let mut r = ok(req);
    if !text.trim().is_empty() {
        r.body = Some(text.into_bytes().into());
    }
    Ok(r)
}

pub(super) async fn update(state: &Arc<State>, req: &RemotingCommand) -> Outcome {
    let Some(body) = &req.body else { return Ok(ok(req)) };
    // Java reads the body as UTF-8 text, then parses it as properties.
    let text = String::from_utf8_lossy(body).into_owned();
    let props: Properties = properties::parse(latin1_escape(&text).as_bytes())
        .map_err(|e| Failure::Code(ResponseCode::SYSTEM_ERROR, format!("string2Properties error: {e}")))?;
    let black: Vec<String> = {
        let s = state.settings.lock();
        FIXED_BLACK_LIST
            .iter()
            .map(|k| k.to_string())
            .chain(s.namesrv.config_black_list.split(';').map(|k| k.trim().to_string()).filter(|k| !k.is_empty()))
            .collect()
    };
    if props.keys().any(|k| black.contains(k)) {
        return Err(Failure::Code(ResponseCode::NO_PERMISSION, "Can not update config in black list.".into()));
    }
    let (text, path) = {
        let mut s = state.settings.lock();
        let mut candidate = s.clone();
        let report = config::apply(&props, &mut candidate.objects_mut())
            .map_err(|e| Failure::Code(ResponseCode::SYSTEM_ERROR, e.to_string()))?;
        for k in report.unknown_keys {
            warn!(key = %k, "update namesrv config: unknown key ignored");
        }
        {
            let mut route = state.route.lock();
            route.delete_topic_with_registration = candidate.namesrv.delete_topic_with_broker_registration;
            route.support_acting_master = candidate.namesrv.support_acting_master;
        }
        *s = candidate;
        (s.print(), s.namesrv.config_store_path.clone())
    };
    info!(keys = ?props.keys().collect::<Vec<_>>(), "namesrv config updated");
    if !path.is_empty() {
        let p = std::path::PathBuf::from(path);
        tokio::task::spawn_blocking(move || write_file_safely(&p, text.as_bytes()))
            .await
            .map_err(|e| Failure::Code(ResponseCode::SYSTEM_ERROR, e.to_string()))?
            .map_err(|e| Failure::Code(ResponseCode::SYSTEM_ERROR, format!("persist config: {e}")))?;
    }
    Ok(ok(req))
}

/// The body is UTF-8 but the properties parser reads ISO-8859-1: escape non-ASCII as \uXXXX.
fn latin1_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{:04x}", u));
            }
        }
    }
    out
}
