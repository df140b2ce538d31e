//! `brokerStatus`, `getBrokerConfig`, `updateBrokerConfig` (`BrokerStatusSubCommand`,
//! `GetBrokerConfigCommand`, `UpdateBrokerConfigSubCommand`).

use rmq_common::properties;

use crate::broker_api::{self, NO_MASTER};
use crate::cli::{CommandLine, Opt, Options};
use crate::client::AdminClient;
use crate::error::{wrap, AdminError, Failure};
use crate::format::{java_trim, left};
use crate::namesrv::config_lines;
use crate::{Ctx, SubCommand};

pub fn status_commands() -> Vec<SubCommand> {
    vec![SubCommand {
        name: "brokerStatus",
        alias: None,
        desc: "Fetch broker runtime status data.",
        options: |o: &mut Options| {
            o.add_group(
                vec![
                    Opt::new("b", "brokerAddr", true, "Broker address"),
                    Opt::new("c", "clusterName", true, "which cluster"),
                ],
                true,
            );
        },
        execute: |ctx, cl| Box::pin(status_execute(ctx, cl)),
    }]
}

pub fn update_commands() -> Vec<SubCommand> {
    vec![SubCommand {
        name: "updateBrokerConfig",
        alias: None,
        desc: "Update broker's config.",
        options: |o: &mut Options| {
            o.add(Opt::new("b", "brokerAddr", true, "update which broker"));
            o.add(Opt::new("c", "clusterName", true, "update which cluster"));
            o.add(Opt::new("a", "updateAllBroker", true, "update all brokers include slave"));
            o.add(Opt::new("k", "key", true, "config key").required());
            o.add(Opt::new("v", "value", true, "config value").required());
        },
        execute: |ctx, cl| Box::pin(update_execute(ctx, cl)),
    }]
}

pub fn get_commands() -> Vec<SubCommand> {
    vec![SubCommand {
        name: "getBrokerConfig",
        alias: None,
        desc: "Get broker config by cluster or special broker.",
        options: |o: &mut Options| {
            o.add(Opt::new("b", "brokerAddr", true, "get which broker"));
            o.add(Opt::new("c", "clusterName", true, "get which cluster"));
        },
        execute: |ctx, cl| Box::pin(get_execute(ctx, cl)),
    }]
}

fn value<'a>(cl: &'a CommandLine, k: &str) -> &'a str {
    java_trim(cl.value(k).unwrap_or_default())
}

async fn status_execute(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let mut client = AdminClient::new(ctx.namesrv.as_deref());
    let result = status_run(ctx, &mut client, cl).await;
    client.close().await;
    result.map_err(wrap("BrokerStatusSubCommand"))
}

/// `printBrokerRuntimeStats`: the table sorted by key (`TreeMap`).
async fn print_stats(ctx: &mut Ctx, client: &AdminClient, addr: &str, with_addr: bool) -> Result<(), AdminError> {
    let kv = client.broker_runtime_info(addr).await?;
    let mut entries: Vec<(&String, &String)> = kv.table.iter().collect();
    entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    for (k, v) in entries {
        if with_addr {
            ctx.print(&format!("{} {}: {v}\n", left(addr, 24), left(k, 32)));
        } else {
            ctx.print(&format!("{}: {v}\n", left(k, 32)));
        }
    }
    Ok(())
}

async fn status_run(ctx: &mut Ctx, client: &mut AdminClient, cl: &CommandLine) -> Result<(), AdminError> {
    if cl.has("b") {
        return print_stats(ctx, client, value(cl, "b"), false).await;
    }
    let info = client.broker_cluster_info().await?;
    for addr in broker_api::all_addrs(&info, value(cl, "c"), &mut |s| ctx.print(s)) {
        if let Err(e) = print_stats(ctx, client, &addr, true).await {
            ctx.eprint(&format!("{e}\n"));
        }
    }
    Ok(())
}

async fn get_execute(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let mut client = AdminClient::new(ctx.namesrv.as_deref());
    let result = get_run(ctx, &mut client, cl).await;
    client.close().await;
    result.map_err(wrap("GetBrokerConfigCommand"))
}

/// `getAndPrint`: the prefix line, then `"%-50s=  %s\n"` per property, then a blank line.
async fn get_and_print(ctx: &mut Ctx, client: &AdminClient, prefix: &str, addr: &str) -> Result<(), AdminError> {
    ctx.print(prefix);
    if addr == NO_MASTER {
        return Ok(());
    }
    let text = client.broker_config(addr).await?;
    match properties::parse(&text) {
        Ok(props) => ctx.print(&config_lines(&props)),
        Err(_) => {
            ctx.print(&format!("Broker[{addr}] has no config property!\n"));
            return Ok(());
        }
    }
    ctx.print("\n");
    Ok(())
}

async fn get_run(ctx: &mut Ctx, client: &mut AdminClient, cl: &CommandLine) -> Result<(), AdminError> {
    if cl.has("b") {
        let addr = value(cl, "b").to_string();
        return get_and_print(ctx, client, &format!("============{addr}============\n"), &addr).await;
    }
    if cl.has("c") {
        let info = client.broker_cluster_info().await?;
        for (master, slaves) in broker_api::masters_and_slaves(&info, value(cl, "c"), &mut |s| ctx.print(s)) {
            get_and_print(ctx, client, &format!("============Master: {master}============\n"), &master).await?;
            for slave in slaves {
                let prefix = format!("============My Master: {master}=====Slave: {slave}============\n");
                get_and_print(ctx, client, &prefix, &slave).await?;
            }
        }
    }
    // Neither option: Java prints nothing.
    Ok(())
}

async fn update_execute(ctx: &mut Ctx, cl: &CommandLine) -> Result<(), Failure> {
    let mut client = AdminClient::new(ctx.namesrv.as_deref());
    let result = update_run(ctx, &mut client, cl).await;
    client.close().await;
    result.map_err(wrap("UpdateBrokerConfigSubCommand"))
}

async fn update_run(ctx: &mut Ctx, client: &mut AdminClient, cl: &CommandLine) -> Result<(), AdminError> {
    let props = vec![(value(cl, "k").to_string(), value(cl, "v").to_string())];
    if cl.has("b") {
        let addr = value(cl, "b").to_string();
        client.update_broker_config(&addr, &props).await?;
        ctx.print(&format!("update broker config success, {addr}\n"));
        return Ok(());
    }
    if cl.has("c") {
        let info = client.broker_cluster_info().await?;
        let cluster = value(cl, "c");
        let addrs = if cl.has("a") {
            broker_api::all_addrs(&info, cluster, &mut |s| ctx.print(s))
        } else {
            broker_api::master_addrs(&info, cluster, &mut |s| ctx.print(s))
        };
        for addr in addrs {
            match client.update_broker_config(&addr, &props).await {
                Ok(()) => ctx.print(&format!("update broker config success, {addr}\n")),
                Err(e) => ctx.eprint(&format!("{e}\n")),
            }
        }
        return Ok(());
    }
    let cmds = update_commands();
    ctx.print(&crate::usage::help("mqadmin updateBrokerConfig", &cmds[0].all_options()));
    Ok(())
}
