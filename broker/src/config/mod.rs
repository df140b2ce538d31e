//! Broker settings: `BrokerConfig`, `MessageStoreConfig` and the Netty keys, read
//! from the `-c` file and flags with Java's rules and `BrokerStartup`'s checks.

mod broker_config;
mod store_config;

use std::path::{Path, PathBuf};

use rmq_common::config::{self, ConfigObject};
use rmq_common::properties::{self, Properties};
use rmq_remoting::netty_config::{NettyClientConfig, NettyServerConfig};
use thiserror::Error;

pub use broker_config::BrokerConfig;
pub use store_config::MessageStoreConfig;

#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
    #[error(transparent)]
    Value(#[from] rmq_common::config::ConfigError),
    /// A setting combination Java refuses at startup; `exit_code` is Java's.
    #[error("{message}")]
    Startup { message: String, exit_code: i32 },
}

/// How the broker replicates, from `brokerRole`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerRole {
    AsyncMaster,
    SyncMaster,
    Slave,
}

impl BrokerRole {
    pub fn parse(s: &str) -> Option<BrokerRole> {
        match s.trim() {
            "ASYNC_MASTER" => Some(BrokerRole::AsyncMaster),
            "SYNC_MASTER" => Some(BrokerRole::SyncMaster),
            "SLAVE" => Some(BrokerRole::Slave),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BrokerRole::AsyncMaster => "ASYNC_MASTER",
            BrokerRole::SyncMaster => "SYNC_MASTER",
            BrokerRole::Slave => "SLAVE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlushDiskType {
    AsyncFlush,
    SyncFlush,
}

impl FlushDiskType {
    pub fn parse(s: &str) -> Option<FlushDiskType> {
        match s.trim() {
            "ASYNC_FLUSH" => Some(FlushDiskType::AsyncFlush),
            "SYNC_FLUSH" => Some(FlushDiskType::SyncFlush),
            _ => None,
        }
    }
}

/// Everything `mqbroker` reads before it starts.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    pub broker: BrokerConfig,
    pub server: NettyServerConfig,
    pub client: NettyClientConfig,
    pub store: MessageStoreConfig,
    /// The `-c` file; runtime config updates are written back to it.
    pub config_file: Option<PathBuf>,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        BrokerSettings::defaults()
    }
}

impl BrokerSettings {
    /// Java's presets before the file is read: listen port 10911, haListenPort 0 (= listenPort + 1).
    pub fn defaults() -> BrokerSettings {
        BrokerSettings {
            broker: BrokerConfig::default(),
            server: NettyServerConfig { listen_port: 10911, ..NettyServerConfig::default() },
            client: NettyClientConfig::default(),
            store: MessageStoreConfig { ha_listen_port: 0, ..MessageStoreConfig::default() },
            config_file: None,
        }
    }

    pub fn objects_mut(&mut self) -> [&mut dyn ConfigObject; 4] {
        [&mut self.broker, &mut self.server, &mut self.client, &mut self.store]
    }

    pub fn objects(&self) -> [&dyn ConfigObject; 4] {
        [&self.broker, &self.server, &self.client, &self.store]
    }

    /// Applies a `-c` file; returns keys no config object knows (the caller warns).
    pub fn apply_file(&mut self, path: &Path) -> Result<Vec<String>, ConfigError> {
        let props = properties::load_file(path)
            .map_err(|e| ConfigError::File { path: path.to_path_buf(), reason: e.to_string() })?;
        let unknown =
            self.apply(&props).map_err(|e| ConfigError::File { path: path.to_path_buf(), reason: e.to_string() })?;
        self.config_file = Some(path.to_path_buf());
        Ok(unknown)
    }

    pub fn apply(&mut self, props: &Properties) -> Result<Vec<String>, ConfigError> {
        Ok(config::apply(props, &mut self.objects_mut())?.unknown_keys)
    }

    /// `BrokerStartup#buildBrokerController` checks and derived values, in Java's order.
    pub fn finish(&mut self) -> Result<(), ConfigError> {
        if let Some(addrs) = self.broker.namesrv_addr.as_deref().filter(|a| !a.trim().is_empty()) {
            if rmq_common::env::parse_addr_list(addrs).is_err() {
                return Err(ConfigError::Startup {
                    message: format!(
                        "The Name Server Address[{addrs}] illegal, please set it as follows, \"127.0.0.1:9876;192.168.0.1:9876\""
                    ),
                    exit_code: -3,
                });
            }
        }
        let role = self.role()?;
        if FlushDiskType::parse(&self.store.flush_disk_type).is_none() {
            return Err(ConfigError::Startup {
                message: format!("flushDiskType {:?} is not ASYNC_FLUSH or SYNC_FLUSH", self.store.flush_disk_type),
                exit_code: -1,
            });
        }
        if role == BrokerRole::Slave {
            self.store.access_message_in_memory_max_ratio -= 10;
        }
        if !self.broker.enable_controller_mode {
            match role {
                BrokerRole::AsyncMaster | BrokerRole::SyncMaster => self.broker.broker_id = 0,
                BrokerRole::Slave if self.broker.broker_id <= 0 => {
                    return Err(ConfigError::Startup { message: "Slave's brokerId must be > 0".into(), exit_code: -3 })
                }
                BrokerRole::Slave => {}
            }
        }
        if self.store.enable_d_leger_commit_log {
            self.broker.broker_id = -1;
        }
        if self.broker.enable_controller_mode && self.store.enable_d_leger_commit_log {
            return Err(ConfigError::Startup {
                message: "The config enableControllerMode and enableDLegerCommitLog cannot both be true.".into(),
                exit_code: -4,
            });
        }
        if self.store.ha_listen_port <= 0 {
            self.store.ha_listen_port = self.server.listen_port + 1;
        }
        Ok(())
    }

    pub fn role(&self) -> Result<BrokerRole, ConfigError> {
        BrokerRole::parse(&self.store.broker_role).ok_or_else(|| ConfigError::Startup {
            message: format!("brokerRole {:?} is not ASYNC_MASTER, SYNC_MASTER or SLAVE", self.store.broker_role),
            exit_code: -1,
        })
    }

    /// `-p`: every key of every object.
    pub fn print_all(&self) -> String {
        config::print_entries(&self.objects())
    }

    /// `-m`: only the `@ImportantField` keys.
    pub fn print_important(&self) -> String {
        let important: Vec<&str> =
            BrokerConfig::IMPORTANT_KEYS.iter().chain(MessageStoreConfig::IMPORTANT_KEYS).copied().collect();
        let mut out = String::new();
        for obj in self.objects() {
            for (k, v) in obj.entries() {
                if important.contains(&k) {
                    out.push_str(&format!("{k}={v}\n"));
                }
            }
        }
        out
    }
}

/// `Runtime.availableProcessors()` for the thread-count defaults Java derives from it.
pub fn cpus() -> i32 {
    std::thread::available_parallelism().map(|n| n.get() as i32).unwrap_or(1)
}

/// `$HOME/store`.
pub fn default_store_root() -> String {
    rmq_common::env::user_home().unwrap_or_else(|| PathBuf::from(".")).join("store").display().to_string()
}

/// Java uses the local host name; `DEFAULT_BROKER` when it cannot be found.
pub fn default_broker_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "DEFAULT_BROKER".into())
}

/// `NetworkUtil.getLocalAddress()`: the first non-loopback IPv4 address. We find it by
/// asking the OS which source address it would use (no packet is sent); loopback if none.
pub fn local_address() -> String {
    let probe = std::net::UdpSocket::bind("0.0.0.0:0").and_then(|s| {
        s.connect("192.0.2.1:9")?;
        s.local_addr()
    });
    match probe {
        Ok(a) if !a.ip().is_unspecified() && !a.ip().is_loopback() => a.ip().to_string(),
        _ => "127.0.0.1".into(),
    }
}

#[cfg(test)]
mod tests;
