//! The broker's replication role as runtime state: read on every send and
//! pull, changed while running (admin, later the controller), and pushed
//! down to the store so its writer takes client puts or replicated bytes,
//! and to the HA service so it follows a master only while slave.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use rmq_store::append::Role as StoreRole;

use crate::config::BrokerRole;
use crate::ha::BrokerHa;
use crate::store::{MessageStore, MessageStoreError};

/// Current role; cheap to read from any thread.
pub struct RoleState {
    role: AtomicU8,
    ha: Option<Arc<BrokerHa>>,
}

impl std::fmt::Debug for RoleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RoleState").field("role", &self.get()).field("ha", &self.ha.is_some()).finish()
    }
}

fn encode(r: BrokerRole) -> u8 {
    match r {
        BrokerRole::AsyncMaster => 0,
        BrokerRole::SyncMaster => 1,
        BrokerRole::Slave => 2,
    }
}

fn decode(v: u8) -> BrokerRole {
    match v {
        0 => BrokerRole::AsyncMaster,
        1 => BrokerRole::SyncMaster,
        _ => BrokerRole::Slave,
    }
}

/// What the store's writer does in a broker role.
pub fn store_role(r: BrokerRole) -> StoreRole {
    match r {
        BrokerRole::Slave => StoreRole::Slave,
        BrokerRole::AsyncMaster | BrokerRole::SyncMaster => StoreRole::Master,
    }
}

impl RoleState {
    /// Without replication (store-only uses and tests).
    pub fn new(r: BrokerRole) -> RoleState {
        RoleState { role: AtomicU8::new(encode(r)), ha: None }
    }

    /// A broker's role, switching its HA service along.
    pub fn with_ha(r: BrokerRole, ha: Arc<BrokerHa>) -> RoleState {
        RoleState { role: AtomicU8::new(encode(r)), ha: Some(ha) }
    }

    pub fn get(&self) -> BrokerRole {
        decode(self.role.load(Ordering::Acquire))
    }

    pub fn is_slave(&self) -> bool {
        self.get() == BrokerRole::Slave
    }

    /// Switches the store first, then what requests see: a send accepted as
    /// master always reaches a writer that still takes puts. Replication
    /// stops before the store leaves the slave role (no replicated append
    /// lands in a master's log) and starts after it entered it.
    pub async fn change(&self, store: &MessageStore, to: BrokerRole) -> Result<u64, MessageStoreError> {
        let from = self.get();
        if to == BrokerRole::Slave {
            // requests see slave first: no new put queues behind the switch
            self.role.store(encode(to), Ordering::Release);
        } else if let Some(ha) = &self.ha {
            ha.set_role(to).await;
        }
        match store.set_role(store_role(to)).await {
            Ok(end) => {
                self.role.store(encode(to), Ordering::Release);
                if let (BrokerRole::Slave, Some(ha)) = (to, &self.ha) {
                    ha.set_role(to).await;
                }
                tracing::info!(from = from.name(), to = to.name(), end, "broker role changed");
                Ok(end)
            }
            Err(e) => {
                self.role.store(encode(from), Ordering::Release);
                if let Some(ha) = &self.ha {
                    ha.set_role(from).await;
                }
                Err(e)
            }
        }
    }
}
