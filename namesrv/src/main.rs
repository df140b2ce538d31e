//! `mqnamesrv`: flags as Java's `NamesrvStartup` (-c, -p, -h, -n).

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use rmq_namesrv::{NameServer, NamesrvSettings};

#[derive(Parser, Debug)]
#[command(name = "mqnamesrv", about = "RocketMQ name server (drop-in replacement)")]
struct Args {
    /// Name server config properties file
    #[arg(short = 'c', long = "configFile")]
    config_file: Option<PathBuf>,
    /// Print all config items and exit
    #[arg(short = 'p', long = "printConfigItem")]
    print_config: bool,
    /// Name server address list (accepted for compatibility; a name server does not use it)
    #[arg(short = 'n', long = "namesrvAddr")]
    namesrv_addr: Option<String>,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("RMQ_LOG").unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();
    let mut settings = NamesrvSettings::defaults();
    if let Some(path) = &args.config_file {
        let unknown = settings.apply_file(path).with_context(|| format!("loading {}", path.display()))?;
        for k in unknown {
            tracing::warn!(key = %k, file = %path.display(), "unknown config key ignored");
        }
    }
    if args.print_config {
        print!("{}", settings.print());
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async move {
        let mut stop = rmq_remoting::transport::ShutdownSignal::register()?;
        let handle = NameServer::start(settings).await?;
        println!("The Name Server boot success. serializeType=JSON, address {}", handle.local_addr());
        stop.wait().await;
        handle.shutdown().await;
        anyhow::Ok(())
    })
}
