//! Broker-wide requests: GET_BROKER_RUNTIME_INFO, GET_BROKER_CONFIG,
//! UPDATE_BROKER_CONFIG (Java's `Configuration`: all four config objects as one
//! sorted properties text, written back to the broker's config file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rmq_common::properties::{self, Properties};
use rmq_remoting::codec::{RemotingCommand, ResponseCode};
use rmq_remoting::transport::Channel;
use tracing::{info, warn};

use super::runtime::runtime_table;
use super::{bodies, fail, java_addr, ok, ok_body, AdminContext, Failure, Outcome};
use crate::config::BrokerSettings;
use crate::meta::{DataVersion, GroupPolicy, TopicPolicy};

/// `HashMap<>(64)` in `StoreStatsService.getRuntimeInfo`.
const RUNTIME_TABLE_CAPACITY: usize = 64;

/// Keys `AdminBrokerProcessor` always refuses to change remotely.
const FIXED_BLACK_LIST: &[&str] = &["brokerConfigPath", "rocketmqHome", "configBlackList"];

/// Fields that are `null` in Java until set; `object2Properties` leaves them out.
const NULLABLE_KEYS: &[&str] = &[
    "brokerConfigPath",
    "namesrvAddr",
    "storePathCommitLog",
    "storePathDLedgerCommitLog",
    "storePathEpochFile",
    "storePathBrokerIdentity",
    "readOnlyCommitLogStorePaths",
    "haMasterAddress",
    "dLegerGroup",
    "dLegerPeers",
    "dLegerSelfId",
    "preferredLeaderId",
];

pub(super) fn runtime_info<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    let settings = ctx.settings();
    let table = runtime_table(&ctx.runtime_stats(), &settings, ctx.meta(), |t, q| ctx.max_offset(t, q));
    Ok(ok_body(req, bodies::kv_table(&table, RUNTIME_TABLE_CAPACITY)))
}

/// `Configuration.getAllConfigsFormatString`: every key of the four objects, later
/// objects winning on shared keys (`listenPort`), sorted (`TreeMap`), `k=v` lines.
pub fn all_configs_text(settings: &BrokerSettings) -> String {
    let mut all: BTreeMap<String, String> = BTreeMap::new();
    for obj in settings.objects() {
        for (k, v) in obj.entries() {
            if v.is_empty() && NULLABLE_KEYS.contains(&k) {
                continue;
            }
            all.insert(k.to_string(), v);
        }
    }
    // TreeMap<Object,Object> orders String keys by compareTo (UTF-16 units); keys are ASCII.
    all.into_iter().map(|(k, v)| format!("{k}={v}\n")).collect()
}

fn data_version_json(d: &DataVersion) -> String {
    format!("{{\"counter\":{},\"stateVersion\":{},\"timestamp\":{}}}", d.counter, d.state_version, d.timestamp)
}

pub(super) fn get_config<C: AdminContext + ?Sized>(ctx: &C, req: &RemotingCommand) -> Outcome {
    let text = all_configs_text(&ctx.settings());
    let mut r = ok(req);
    r.set_ext("version", data_version_json(&ctx.admin_state().config_version.lock()));
    if !text.is_empty() {
        r.body = Some(text.into_bytes().into());
    }
    Ok(r)
}

/// Where `Configuration.persist` writes: `brokerConfigPath`, else the `-c` file,
/// else `~/store/config/broker.properties`.
fn config_store_path(s: &BrokerSettings) -> PathBuf {
    if let Some(p) = s.broker.broker_config_path.as_deref().filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(p) = &s.config_file {
        return p.clone();
    }
    rmq_common::env::user_home().unwrap_or_else(|| PathBuf::from(".")).join("store/config/broker.properties")
}

/// `MixAll.string2File`: `.tmp`, previous content to `.bak`, rename.
fn string_to_file(text: &str, path: &Path) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = PathBuf::from(format!("{}.tmp", path.display()));
    std::fs::write(&tmp, text)?;
    if let Ok(prev) = std::fs::read(path) {
        std::fs::write(format!("{}.bak", path.display()), prev)?;
    }
    std::fs::rename(&tmp, path)
}

/// The body is UTF-8 but `.properties` parsing reads ISO-8859-1: escape non-ASCII.
fn latin1_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut buf = [0u16; 2];
            for u in c.encode_utf16(&mut buf) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

pub(super) async fn update_config<C: AdminContext + ?Sized>(
    ctx: &C,
    channel: &Channel,
    req: &RemotingCommand,
) -> Outcome {
    let Some(body) = req.body.as_deref() else { return Ok(ok(req)) };
    let caller = java_addr(channel.peer_addr());
    let text = String::from_utf8_lossy(body).into_owned();
    let props: Properties = properties::parse(latin1_escape(&text).as_bytes())
        .map_err(|_| Failure::Code(ResponseCode::SYSTEM_ERROR, "string2Properties error".into()))?;
    let _serial = ctx.admin_state().update_lock.lock().await;
    let mut updated = ctx.settings();
    let black: Vec<String> = FIXED_BLACK_LIST
        .iter()
        .map(|k| k.to_string())
        .chain(updated.broker.config_black_list.split(';').map(str::to_string))
        .collect();
    if props.keys().any(|k| black.contains(k)) {
        return fail(ResponseCode::NO_PERMISSION, "Can not update config in black list.");
    }
    info!(caller, keys = ?props.keys().collect::<Vec<_>>(), "update broker config");
    // Java's properties2Object: unknown keys and unparsable values are skipped silently.
    let mut changed = Vec::new();
    for (k, v) in &props {
        let mut known = false;
        for obj in updated.objects_mut() {
            match obj.set(k, v) {
                Ok(true) => known = true,
                Ok(false) => {}
                Err(e) => warn!(key = %k, error = %e, "update broker config: value ignored"),
            }
        }
        if known {
            changed.push(k.clone());
        }
    }
    {
        let mut dv = ctx.admin_state().config_version.lock();
        dv.counter += 1;
        dv.timestamp = DataVersion::now().timestamp;
    }
    let meta = ctx.meta();
    meta.topics.set_policy(TopicPolicy { auto_create_topic_enable: updated.broker.auto_create_topic_enable });
    meta.groups.set_policy(GroupPolicy {
        auto_create_subscription_group: updated.broker.auto_create_subscription_group,
        enable_create_sys_group: updated.broker.enable_create_sys_group,
    });
    if props.contains_key("brokerPermission") {
        meta.topics.bump_data_version();
    }
    let path = config_store_path(&updated);
    let text = all_configs_text(&updated);
    ctx.apply_settings(updated, &changed);
    let written = tokio::task::spawn_blocking(move || string_to_file(&text, &path).map(|_| path)).await;
    match written {
        Ok(Ok(path)) => info!(path = %path.display(), "broker config written"),
        // Java logs a failed persist and still answers success.
        Ok(Err(e)) => warn!(error = %e, "writing the broker config file failed"),
        Err(e) => warn!(error = %e, "config write task failed"),
    }
    Ok(ok(req))
}
