//! HA settings (the `MessageStoreConfig` keys) and the per-Java-version rules.

use std::time::Duration;

/// Which Java broker's behaviour to reproduce where 4.9.8 and 5.3.3 differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HaFlavor {
    V4_9_8,
    V5_3_3,
}

/// How a SYNC_MASTER put waits for its slaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckRule {
    /// 4.9.8 `CommitLog#submitReplicaRequest`: no connected slave, or the
    /// slaves' best ack more than `fallbehind_max` bytes behind the put's end,
    /// answers SLAVE_NOT_AVAILABLE at once; otherwise wait until any slave
    /// acked the put's end.
    AnySlave { fallbehind_max: u64 },
    /// 5.3.3 `CommitLog#handleHA` (classic mode): `inSyncReplicas` copies,
    /// the master counting as one; 0 or 1 means no wait at all.
    InSyncReplicas { replicas: i32 },
}

#[derive(Debug, Clone)]
pub struct HaConfig {
    pub flavor: HaFlavor,
    /// `haSendHeartbeatInterval`: master heartbeat / slave report when idle.
    pub heartbeat_interval: Duration,
    /// `haHousekeepingInterval`: a connection that read nothing for this long is closed.
    pub housekeeping_interval: Duration,
    /// `haTransferBatchSize`: bytes per master frame at most.
    pub transfer_batch_size: usize,
    /// `slaveTimeout`: how long a SYNC_MASTER put waits for its acks.
    pub slave_timeout: Duration,
    pub ack_rule: AckRule,
    /// How long the slave waits after a failed connect (Java: 5 s).
    pub reconnect_backoff: Duration,
    /// Connect timeout of the slave (Java `RemotingUtil.connect`: 5 s).
    pub connect_timeout: Duration,
    /// How often an idle master connection re-checks the log when no new-data
    /// signal arrives (Java `allWaitForRunning(100)`).
    pub idle_poll: Duration,
}

impl Default for HaConfig {
    fn default() -> Self {
        HaConfig {
            flavor: HaFlavor::V5_3_3,
            heartbeat_interval: Duration::from_millis(5000),
            housekeeping_interval: Duration::from_millis(20000),
            transfer_batch_size: 32 * 1024,
            slave_timeout: Duration::from_millis(3000),
            ack_rule: AckRule::InSyncReplicas { replicas: 1 },
            reconnect_backoff: Duration::from_millis(5000),
            connect_timeout: Duration::from_millis(5000),
            idle_poll: Duration::from_millis(100),
        }
    }
}

impl HaConfig {
    /// 4.9.8's master closes a connection whose (non-first) report is beyond
    /// its own log end; 5.3.3 dropped that check.
    pub fn closes_on_slave_ahead(&self) -> bool {
        self.flavor == HaFlavor::V4_9_8
    }
}

/// `haMasterAddress` is used only when it is at least this long (Java's check).
pub const HA_ADDRESS_MIN_LENGTH: usize = 6;

/// Java 4.9.8 `BrokerStartup` always sets `haListenPort = listenPort + 1`; 5.3.3
/// presets 0 and derives `listenPort + 1` only when the file left it at 0 or less.
/// `configured` is the value after that derivation (`BrokerSettings::finish`).
/// A `listenPort` of 0 (ephemeral, tests) makes the derived HA port ephemeral
/// too (the derivation gave 1, never a usable port); an explicit 5.3.3 value wins.
pub fn ha_listen_port(flavor: HaFlavor, listen_port: i32, configured: i32) -> i32 {
    match flavor {
        HaFlavor::V4_9_8 if listen_port <= 0 => 0,
        HaFlavor::V4_9_8 => listen_port + 1,
        HaFlavor::V5_3_3 if listen_port <= 0 && configured <= 1 => 0,
        HaFlavor::V5_3_3 if configured > 0 => configured,
        HaFlavor::V5_3_3 => listen_port + 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_port_rules_per_version() {
        assert_eq!(ha_listen_port(HaFlavor::V4_9_8, 10911, 30000), 10912);
        assert_eq!(ha_listen_port(HaFlavor::V5_3_3, 10911, 30000), 30000);
        assert_eq!(ha_listen_port(HaFlavor::V5_3_3, 10911, 0), 10912);
        assert_eq!(ha_listen_port(HaFlavor::V5_3_3, 10911, -1), 10912);
        assert_eq!(ha_listen_port(HaFlavor::V4_9_8, 0, 0), 0);
        assert_eq!(ha_listen_port(HaFlavor::V5_3_3, 0, 0), 0);
        assert_eq!(ha_listen_port(HaFlavor::V5_3_3, 0, 1), 0);
        assert_eq!(ha_listen_port(HaFlavor::V5_3_3, 0, 20000), 20000);
    }
}
