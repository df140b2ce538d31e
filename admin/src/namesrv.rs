//! Name server commands: `updateKvConfig`, `deleteKvConfig` (`UpdateKvConfigCommand`,
//! `DeleteKvConfigCommand`), `getNamesrvConfig`, `updateNamesrvConfig`
//! (`GetNamesrvConfigCommand`, `UpdateNamesrvConfigCommand`).

use indexmap::IndexMap;
use rmq_common::java::sized_hashmap_capacity;
use rmq_common::properties;

use crate::cli::{CommandLine, Opt, Options};
use crate::client::AdminClient;
use crate::error::{wrap, AdminError, Failure};
use crate::format::{java_split, java_trim, left};
use crate::jcoll::{concurrent_hashmap_order, hashmap_order_idx_cap};
use crate::{Ctx, SubCommand};

pub fn kv_commands() -> Vec<SubCommand> {
    vec![
        SubCommand {
            name: "updateKvConfig",
            alias: None,
            desc: "Create or update KV config.",
            options: |o: &mut Options| {
                o.add(Opt::new("s", "namespace", true, "set the namespace").required());
                o.add(Opt::new("k", "key", true, "set the key name").required());
                o.add(Opt::new("v", "value", true, "set the key value").required());
            },
            execute: |ctx, cl| Box::pin(update_kv(ctx, cl)),
        },
        SubCommand {
            name: "deleteKvConfig",
            alias: None,
            desc: "Delete KV config.",
            options: |o: &mut Options| {
                o.add(Opt::new("s", "namespace", true, "set the namespace").required());
                o.add(Opt::new("k", "key", true, "set the key name").required());
            },
            execute: |ctx, cl| Box::pin(delete_kv(ctx, cl)),
        },
    ]
}

pub fn config_commands() -> Vec<SubCommand> {
    vec![
        SubCommand {
            name: "getNamesrvConfig",
            alias: None,
            desc: "Get configs of name server.",
            options: |_: &mut Options| {},
            execute: |ctx, cl| Box::pin(get_config(ctx, cl)),
        },
        SubCommand {
            name: "updateNamesrvConfig",
            alias: None,
            desc: "Update configs of name server.",
            options: |o: &mut Options| {
                o.add(Opt::new("k", "key", true, "config key").required());
                o.add(Opt::new("v", "value", true, "config value").required());
            },
            execute: |ctx, cl| Box::pin(update_config(ctx, cl)),
        },
    ]
}

/// A required option's trimmed value (the parser guarantees presence).
fn required<'a>(cl: &'a CommandLine, name: &str) -> &'a str {
    java_trim(cl.value(name).unwrap_or_default())
}

async fn update_kv(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let (namespace, key, value) = (required(cl, "s"), required(cl, "k"), required(cl, "v"));
    // This command alone passes the trimmed -n to the admin client.
    let namesrv = cl.value("n").map(java_trim).map(str::to_string).or_else(|| ctx.namesrv.clone());
    let client = AdminClient::new(namesrv.as_deref());
    let result = client.put_kv_config(namespace, key, value).await;
    client.close().await;
    result.map_err(wrap("UpdateKvConfigCommand"))?;
    ctx.print("create or update kv config to namespace success.\n");
    Ok(())
}

async fn delete_kv(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let (namespace, key) = (required(cl, "s"), required(cl, "k"));
    let client = AdminClient::new(ctx.namesrv.as_deref());
    let result = client.delete_kv_config(namespace, key).await;
    client.close().await;
    result.map_err(wrap("DeleteKvConfigCommand"))?;
    ctx.print("delete kv config from namespace success.\n");
    Ok(())
}

/// The explicit server list these commands build from `-n` (`trim().split(";")`).
fn server_list(cl: &CommandLine) -> Option<Vec<String>> {
    let servers = cl.value("n").filter(|s| !s.is_empty())?;
    let list = java_split(java_trim(servers), ';');
    (!list.is_empty()).then_some(list)
}

async fn get_config(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let client = AdminClient::new(ctx.namesrv.as_deref());
    let servers = server_list(cl).unwrap_or_else(|| client.namesrv_list().to_vec());
    let result = client.namesrv_configs(&servers).await;
    client.close().await;
    let configs = result.map_err(wrap("GetNamesrvConfigCommand"))?;
    print_configs(ctx, configs).map_err(wrap("GetNamesrvConfigCommand"))
}

/// Prints the answers as Java iterates them: the `HashMap<String, Properties>(4)`
/// by address, each `Properties` (a `ConcurrentHashMap(8)` on Java 9+) by key.
fn print_configs(ctx: &mut Ctx, configs: Vec<(String, Vec<u8>)>) -> Result<(), AdminError> {
    let mut by_addr: IndexMap<String, Vec<u8>> = IndexMap::new();
    for (addr, body) in configs {
        by_addr.insert(addr, body);
    }
    let addrs: Vec<&str> = by_addr.keys().map(String::as_str).collect();
    let cap = sized_hashmap_capacity(4, addrs.len());
    for i in hashmap_order_idx_cap(&addrs, cap) {
        ctx.print(&format!("============{}============\n", addrs[i]));
        // Java's string2Properties returns null on a malformed text; iterating it throws.
        let props = properties::parse(&by_addr[i]).map_err(|_| AdminError::NullPointer)?;
        ctx.print(&config_lines(&props));
    }
    Ok(())
}

/// `"%-50s=  %s\n"` per entry, in `Properties` iteration order.
pub fn config_lines(props: &properties::Properties) -> String {
    let keys: Vec<&str> = props.keys().map(String::as_str).collect();
    let mut out = String::new();
    for i in concurrent_hashmap_order(&keys, 8) {
        out.push_str(&format!("{}=  {}\n", left(keys[i], 50), props[i]));
    }
    out
}

async fn update_config(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let (key, value) = (required(cl, "k"), required(cl, "v"));
    let explicit = server_list(cl);
    let client = AdminClient::new(ctx.namesrv.as_deref());
    let servers = explicit.clone().unwrap_or_else(|| client.namesrv_list().to_vec());
    // MixAll.properties2String: `key=value\n`, no escaping.
    let result = client.update_namesrv_config(servers, &format!("{key}={value}\n")).await;
    client.close().await;
    result.map_err(wrap("UpdateNamesrvConfigCommand"))?;
    let list = explicit.map(|l| format!("[{}]", l.join(", "))).unwrap_or_default();
    ctx.print(&format!("update name server config success!{list}\n{key} : {value}\n"));
    Ok(())
}
