//! Starts ONLY the rocketmq-rust broker (crates.io `rocketmq-broker` 1.0.x) for
//! `scripts/bench-broker.sh --with-rocketmq-rust`. Built as its own cargo project in a
//! cache dir (never part of this workspace or CI); no name server, controller, proxy,
//! metrics endpoint, health probe or diagnostics endpoint is started.
//!
//! Usage: rocketmq-rust-broker --namesrv 127.0.0.1:9876 --listen-port 10911 --ha-port 10912
//!            --store DIR [--broker-name N] [--cluster C]
//!
//! The configuration is the crate's own defaults (`BrokerConfig::default()`,
//! `MessageStoreConfig::default()`, what its `rocketmq-broker-rust` binary runs with when no
//! config file is given: ASYNC_MASTER, ASYNC_FLUSH, local file store, 1 GiB commitlog files)
//! with only the addresses, ports, names and store path replaced. (Its TOML loader gives every
//! store field marked plain `#[serde(default)]` a zero instead of the `Default` value, e.g.
//! `deleteFileBatchMax=0`, and a broker configured that way fails its readiness check.)
//!
//! Before anything binds or dials, every address the broker would use is checked to be
//! loopback: brokerIp1/brokerIp2 (advertised; their defaults are the machine's external
//! address), bindAddress (normal listener and the fast listener at listenPort-2),
//! haListenAddress (default 0.0.0.0), every namesrvAddr; controller mode, DNS name-server
//! lookup and slave roles (which dial haMasterAddress) are refused, and so are the env
//! variables that would open a health probe, diagnostics endpoint or OTLP exporter. The same
//! start sequence as the crate's binary follows (runtime owner, remoting defaults,
//! telemetry/logging, lifecycle, `Builder::boot_with_lifecycle`); SIGTERM/SIGINT stop it.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

use anyhow::{bail, Context, Result};
use rocketmq_broker::config::broker_config::BrokerConfig;
use rocketmq_broker::config::validated::ValidatedBrokerConfig;
use rocketmq_broker::{build_broker_telemetry_bootstrap_config, Builder};
use rocketmq_model::common::mq_version::CURRENT_VERSION;
use rocketmq_protocol::protocol::remoting_command_facade::initialize_remoting_defaults;
use rocketmq_runtime::{ChildServiceContext, RuntimeConfig, RuntimeOwner, ServiceLifecycle, ShutdownReason};
use rocketmq_security_api::{SecurityBootstrapConfig, SecurityBootstrapProfile};
use rocketmq_store::MessageStoreConfig;

fn loopback_host(what: &str, host: &str) -> Result<()> {
    match host.trim().parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => Ok(()),
        _ => bail!("{what} = {host:?} is not a loopback IP address; refusing to start"),
    }
}

fn loopback_endpoint(what: &str, endpoint: &str) -> Result<()> {
    let addrs: Vec<SocketAddr> = endpoint
        .trim()
        .to_socket_addrs()
        .with_context(|| format!("{what} = {endpoint:?} is not host:port"))?
        .collect();
    if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
        bail!("{what} = {endpoint:?} is not loopback-only; refusing to start");
    }
    Ok(())
}

/// Every address of the validated configuration, checked before any listener or client exists.
fn check_loopback_only(cfg: &ValidatedBrokerConfig) -> Result<Vec<SocketAddr>> {
    let b = cfg.broker();
    let s = cfg.store();
    loopback_host("broker.brokerIp1", b.broker_ip1.as_str())?;
    match b.broker_ip2.as_ref() {
        Some(ip2) => loopback_host("broker.brokerIp2", ip2.as_str())?,
        None => bail!("broker.brokerIp2 must be set (its default is the machine's external address)"),
    }
    let bind: IpAddr = b.broker_server_config.bind_address.parse().context("broker.brokerServerConfig.bindAddress")?;
    if !bind.is_loopback() {
        bail!("broker.brokerServerConfig.bindAddress = {bind} is not loopback");
    }
    if !s.ha_listen_address.is_loopback() {
        bail!("store.haListenAddress = {} is not loopback", s.ha_listen_address);
    }
    let namesrv = b.namesrv_addr.as_ref().map(|a| a.to_string()).unwrap_or_default();
    let list: Vec<&str> = namesrv.split(';').map(str::trim).filter(|a| !a.is_empty()).collect();
    if list.is_empty() {
        bail!("broker.namesrvAddr must be set (the default would be tried otherwise)");
    }
    for a in list {
        loopback_endpoint("broker.namesrvAddr", a)?;
    }
    if b.enable_controller_mode {
        bail!("broker.enableControllerMode must be false (it dials controllerAddr)");
    }
    if b.fetch_name_srv_addr_by_dns_lookup {
        bail!("broker.fetchNameSrvAddrByDnsLookup must be false");
    }
    if s.ha_master_address.is_some() || format!("{:?}", s.broker_role).to_ascii_lowercase().contains("slave") {
        bail!("only a master without haMasterAddress is started here");
    }
    for var in ["ROCKETMQ_HEALTH_BIND_ADDR", "ROCKETMQ_RUNTIME_DIAGNOSTICS_MODE", "ROCKETMQ_RUNTIME_DIAGNOSTICS_BIND_ADDR", "OTEL_EXPORTER_OTLP_ENDPOINT"] {
        if std::env::var_os(var).is_some() {
            bail!("{var} is set; unset it (no probe, diagnostics or exporter endpoint is wanted)");
        }
    }
    let port = u16::try_from(b.listen_port).context("broker.listenPort")?;
    let ha_port = u16::try_from(s.ha_listen_port).context("store.haListenPort")?;
    Ok(vec![
        SocketAddr::new(bind, port),
        SocketAddr::new(bind, port.checked_sub(2).context("listenPort - 2")?),
        SocketAddr::new(s.ha_listen_address, ha_port),
    ])
}

async fn run(ctx: ChildServiceContext, lifecycle: ServiceLifecycle, config: ValidatedBrokerConfig) -> Result<()> {
    initialize_remoting_defaults(CURRENT_VERSION as i32).context("remoting defaults")?;
    let telemetry = build_broker_telemetry_bootstrap_config(config.broker());
    let filter = rocketmq_observability::LogFilterResolver::resolve(rocketmq_observability::LogFilterInputs {
        runtime: None,
        cli: None,
        environment: rocketmq_observability::read_rust_log().context("RUST_LOG")?.as_deref(),
        config: None,
        legacy_config: None,
    })
    .context("log filter")?;
    let guard = rocketmq_observability::install_global_with_filter_and_service_context(&telemetry, filter, &ctx)
        .await
        .context("telemetry/logging bootstrap")?;
    lifecycle.start(&ctx).await.context("lifecycle start")?;
    Builder::new(ctx, guard)
        .with_validated_config(config)
        .build()
        .boot_with_lifecycle(lifecycle)
        .await
        .context("broker lifecycle")?;
    Ok(())
}

struct Options {
    namesrv: String,
    listen_port: u32,
    ha_port: usize,
    store: String,
    broker_name: String,
    cluster: String,
}

fn options() -> Result<Options> {
    let mut o = Options {
        namesrv: String::new(),
        listen_port: 0,
        ha_port: 0,
        store: String::new(),
        broker_name: "rocketmq-rust-broker".into(),
        cluster: "RocketmqRustCluster".into(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().with_context(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--namesrv" => o.namesrv = value,
            "--listen-port" => o.listen_port = value.parse().context("--listen-port")?,
            "--ha-port" => o.ha_port = value.parse().context("--ha-port")?,
            "--store" => o.store = value,
            "--broker-name" => o.broker_name = value,
            "--cluster" => o.cluster = value,
            _ => bail!("unknown flag {flag}"),
        }
    }
    if o.namesrv.is_empty() || o.listen_port == 0 || o.ha_port == 0 || o.store.is_empty() {
        bail!("usage: rocketmq-rust-broker --namesrv ADDR --listen-port P --ha-port H --store DIR [--broker-name N] [--cluster C]");
    }
    Ok(o)
}

fn main() -> Result<()> {
    let o = options()?;
    let loopback = IpAddr::from([127, 0, 0, 1]);
    let mut broker = BrokerConfig::default();
    broker.broker_identity.broker_name = o.broker_name.as_str().into();
    broker.broker_identity.broker_cluster_name = o.cluster.as_str().into();
    broker.broker_identity.broker_id = 0;
    broker.broker_ip1 = "127.0.0.1".into();
    broker.broker_ip2 = Some("127.0.0.1".into());
    broker.listen_port = o.listen_port;
    broker.broker_server_config.bind_address = "127.0.0.1".into();
    broker.namesrv_addr = Some(o.namesrv.as_str().into());
    broker.store_path_root_dir = o.store.as_str().into();
    broker.enable_controller_mode = false;
    broker.fetch_name_srv_addr_by_dns_lookup = false;
    let mut store = MessageStoreConfig::default();
    store.store_path_root_dir = o.store.as_str().into();
    store.ha_listen_address = loopback;
    store.ha_listen_port = o.ha_port;
    let role = format!("{:?}", store.broker_role);
    let flush = format!("{:?}", store.flush_disk_type);
    if role != "AsyncMaster" || flush != "AsyncFlush" {
        bail!("expected the crate defaults ASYNC_MASTER/ASYNC_FLUSH, got {role}/{flush}");
    }
    let config = ValidatedBrokerConfig::try_from_parts(broker, store).context("invalid broker configuration")?;
    let listeners = check_loopback_only(&config)?;
    // The crate's own guard: the development profile refuses any non-loopback listener.
    SecurityBootstrapConfig::new(SecurityBootstrapProfile::DevelopmentInsecureLoopback)
        .validate(&listeners)
        .map_err(|e| anyhow::anyhow!("loopback listener check: {e}"))?;
    eprintln!(
        "rocketmq-rust-broker: loopback-only config ok, listeners {listeners:?}, name server {}, {role}/{flush}, store {}",
        o.namesrv, o.store
    );

    let owner = RuntimeOwner::plan(RuntimeConfig::broker_default())
        .map_err(|e| anyhow::anyhow!("runtime plan: {e:?}"))?
        .build()
        .context("build runtime")?;
    let ctx = owner.root_context().component("rocketmq-broker-runtime");
    let lifecycle = ServiceLifecycle::from_env("rocketmq-broker").context("lifecycle")?;
    let result = owner.block_on(run(ctx, lifecycle.clone(), config));
    if result.is_err() {
        lifecycle.mark_failed();
    }
    let request = lifecycle.shutdown_request().unwrap_or_else(|| lifecycle.request_shutdown(ShutdownReason::Internal));
    let _ = owner.shutdown_runtime_blocking_until(request.deadline);
    result
}
