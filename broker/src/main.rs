//! `mqbroker`: flags as Java's `BrokerStartup` (-c, -n, -p, -m, -h) and its
//! exit codes: -1 start failure, -3 initialization (store/metadata) failure or
//! a bad name server address / slave id, -4 controller+DLedger, 0 after -p/-m.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use rmq_broker::config::{BrokerSettings, ConfigError};
use rmq_broker::{Broker, BrokerError};

// glibc malloc cost a fifth of the send path (arena locks, consolidation) in a
// profile under rmq-bench load; jemalloc keeps idle RSS about the same.
#[cfg(unix)]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser, Debug)]
#[command(name = "mqbroker", about = "RocketMQ broker (drop-in replacement)")]
struct Args {
    /// Broker config properties file
    #[arg(short = 'c', long = "configFile")]
    config_file: Option<PathBuf>,
    /// Name server address list, eg: '192.168.0.1:9876;192.168.0.2:9876'
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv_addr: Option<String>,
    /// Print all config items
    #[arg(short = 'p', long = "printConfigItem")]
    print_config: bool,
    /// Print important config items
    #[arg(short = 'm', long = "printImportantConfig")]
    print_important: bool,
}

/// Java's `System.exit(n)` as a process status (n & 0xff).
fn exit(code: i32) -> ExitCode {
    ExitCode::from((code & 0xff) as u8)
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("RMQ_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let mut settings = BrokerSettings::defaults();
    if let Some(path) = &args.config_file {
        match settings.apply_file(path) {
            Ok(unknown) => {
                for k in unknown {
                    tracing::warn!(key = %k, file = %path.display(), "unknown config key ignored");
                }
            }
            Err(e) => {
                eprintln!("{e}");
                return exit(-1);
            }
        }
    }
    // -n overrides namesrvAddr of the file, as Java applies the command line last
    if let Some(n) = &args.namesrv_addr {
        settings.broker.namesrv_addr = Some(n.clone());
    }
    if let Err(e) = settings.finish() {
        println!("{e}");
        return exit(match e {
            ConfigError::Startup { exit_code, .. } => exit_code,
            _ => -1,
        });
    }
    if args.print_config {
        print!("{}", settings.print_all());
        return exit(0);
    }
    if args.print_important {
        print!("{}", settings.print_important());
        return exit(0);
    }
    match run(settings) {
        Ok(()) => exit(0),
        Err(e) => {
            eprintln!("{e:#}");
            let code = match e.downcast_ref::<BrokerError>() {
                Some(BrokerError::Meta(_) | BrokerError::Store(_) | BrokerError::DelayLevel(_)) => -3,
                _ => -1,
            };
            exit(code)
        }
    }
}

fn run(settings: BrokerSettings) -> anyhow::Result<()> {
    // the same condition the store applies (Java's isTransientStorePoolEnable)
    let write_buffer = settings.store.transient_store_pool_enable && settings.store.flush_disk_type == "ASYNC_FLUSH";
    let rt = rmq_broker::runtime::build(write_buffer).context("starting the runtime")?;
    rt.block_on(async move {
        let namesrv = settings.broker.namesrv_addr.clone();
        let name = settings.broker.broker_name.clone();
        let mut stop = rmq_remoting::transport::ShutdownSignal::register()?;
        let handle = Broker::start(settings).await?;
        let mut tip = format!("The broker[{}, {}] boot success. serializeType=JSON", name, handle.broker_addr());
        if let Some(n) = namesrv {
            tip.push_str(&format!(" and name server is {n}"));
        }
        println!("{tip}");
        stop.wait().await;
        handle.shutdown().await;
        anyhow::Ok(())
    })
}
