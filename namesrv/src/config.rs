//! Name server settings: `NamesrvConfig` keys plus the Netty server keys, read from the
//! `-c` file with Java's rules.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rmq_common::config::{self, ConfigObject};
use rmq_common::properties;
use rmq_remoting::codec::SerializeType;
use rmq_remoting::netty_config::{NettyClientConfig, NettyServerConfig};

use crate::error::NamesrvError;

rmq_common::config_object! {
    /// `NamesrvConfig` (common/namesrv/NamesrvConfig.java, 5.3.3 keys).
    pub struct NamesrvConfig {
        rocketmq_home: String = "rocketmqHome" => "",
        kv_config_path: String = "kvConfigPath" => "",
        config_store_path: String = "configStorePath" => "",
        product_env_name: String = "productEnvName" => "center",
        cluster_test: bool = "clusterTest" => false,
        order_message_enable: bool = "orderMessageEnable" => false,
        return_order_topic_config_to_broker: bool = "returnOrderTopicConfigToBroker" => true,
        client_request_thread_pool_nums: i32 = "clientRequestThreadPoolNums" => 8,
        default_thread_pool_nums: i32 = "defaultThreadPoolNums" => 16,
        client_request_thread_pool_queue_capacity: i32 = "clientRequestThreadPoolQueueCapacity" => 50000,
        default_thread_pool_queue_capacity: i32 = "defaultThreadPoolQueueCapacity" => 10000,
        scan_not_active_broker_interval: i64 = "scanNotActiveBrokerInterval" => 5000,
        un_register_broker_queue_capacity: i32 = "unRegisterBrokerQueueCapacity" => 3000,
        support_acting_master: bool = "supportActingMaster" => false,
        enable_all_topic_list: bool = "enableAllTopicList" => true,
        enable_topic_list: bool = "enableTopicList" => true,
        notify_min_broker_id_changed: bool = "notifyMinBrokerIdChanged" => false,
        enable_controller_in_namesrv: bool = "enableControllerInNamesrv" => false,
        need_wait_for_service: bool = "needWaitForService" => false,
        wait_seconds_for_service: i32 = "waitSecondsForService" => 45,
        delete_topic_with_broker_registration: bool = "deleteTopicWithBrokerRegistration" => false,
        config_black_list: String = "configBlackList" => "configBlackList;configStorePath;kvConfigPath",
    }
}

/// Everything the name server needs to start.
#[derive(Debug, Clone)]
pub struct NamesrvSettings {
    pub namesrv: NamesrvConfig,
    pub server: NettyServerConfig,
    pub client: NettyClientConfig,
    /// Where UPDATE_NAMESRV_CONFIG writes (the `-c` file, like Java).
    pub config_file: Option<PathBuf>,
    /// Response header serialization (`ROCKETMQ_SERIALIZE_TYPE`, default JSON as in 5.3.3).
    pub response_serialize: Option<SerializeType>,
}

impl NamesrvSettings {
    /// Java defaults: port 9876, files under `$HOME/namesrv/`.
    pub fn defaults() -> NamesrvSettings {
        let home = rmq_common::env::user_home().unwrap_or_else(|| PathBuf::from("."));
        let namesrv = NamesrvConfig {
            rocketmq_home: rmq_common::env::rocketmq_home().unwrap_or_default(),
            kv_config_path: home.join("namesrv").join("kvConfig.json").display().to_string(),
            config_store_path: home.join("namesrv").join("namesrv.properties").display().to_string(),
            ..NamesrvConfig::default()
        };
        // NamesrvStartup presets 9876 before reading the file.
        let server = NettyServerConfig { listen_port: 9876, ..NettyServerConfig::default() };
        let response_serialize = std::env::var("ROCKETMQ_SERIALIZE_TYPE")
            .ok()
            .and_then(|v| SerializeType::from_name(&v))
            .or(Some(SerializeType::Json));
        NamesrvSettings { namesrv, server, client: NettyClientConfig::default(), config_file: None, response_serialize }
    }

    /// For tests: an ephemeral port on 127.0.0.1 and all files under `dir`.
    pub fn for_test(dir: &Path) -> NamesrvSettings {
        let mut s = NamesrvSettings::defaults();
        s.server.bind_address = "127.0.0.1".into();
        s.server.listen_port = 0;
        s.namesrv.kv_config_path = dir.join("kvConfig.json").display().to_string();
        s.namesrv.config_store_path = dir.join("namesrv.properties").display().to_string();
        s
    }

    /// Applies a `-c` file. Unknown keys are returned for the caller to warn about.
    pub fn apply_file(&mut self, path: &Path) -> Result<Vec<String>, NamesrvError> {
        let props = properties::load_file(path)
            .map_err(|e| NamesrvError::ConfigFile { path: path.to_path_buf(), reason: e.to_string() })?;
        let report = config::apply(&props, &mut self.objects_mut())
            .map_err(|e| NamesrvError::ConfigFile { path: path.to_path_buf(), reason: e.to_string() })?;
        // Java replaces configStorePath with the -c file so runtime updates land there.
        self.namesrv.config_store_path = path.display().to_string();
        self.config_file = Some(path.to_path_buf());
        Ok(report.unknown_keys)
    }

    pub fn objects_mut(&mut self) -> [&mut dyn ConfigObject; 3] {
        [&mut self.namesrv, &mut self.server, &mut self.client]
    }

    pub fn objects(&self) -> [&dyn ConfigObject; 3] {
        [&self.namesrv, &self.server, &self.client]
    }

    /// `-p` output.
    pub fn print(&self) -> String {
        config::print_entries(&self.objects())
    }

    pub fn listen_addr(&self) -> Result<SocketAddr, NamesrvError> {
        let text = format!("{}:{}", self.server.bind_address.trim(), self.server.listen_port);
        text.parse().map_err(|_| NamesrvError::Bind {
            addr: text.clone(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not an ip:port"),
        })
    }

    pub fn idle_timeout(&self) -> Option<Duration> {
        let s = self.server.server_channel_max_idle_time_seconds;
        (s > 0).then(|| Duration::from_secs(s as u64))
    }
}
