//! Who is connected: producer groups (for transaction check-backs) and consumer
//! groups (subscriptions, rebalance notifications), fed by HEART_BEAT and
//! UNREGISTER_CLIENT and cleaned when connections close or go quiet.

mod consumer;
mod producer;

pub use consumer::{ConsumerGroupInfo, ConsumerManager, RegisterChange};
pub use producer::ProducerManager;

use std::time::Instant;

use rmq_remoting::codec::LanguageCode;
use rmq_remoting::transport::Channel;

/// `ClientChannelInfo`: one client connection in a group.
#[derive(Debug, Clone)]
pub struct ClientChannel {
    pub channel: Channel,
    pub client_id: String,
    pub language: LanguageCode,
    pub version: i32,
    pub last_update: Instant,
}

/// `channelExpiredTimeout`: a client silent this long is dropped (Java: 120 s).
pub const CHANNEL_EXPIRED: std::time::Duration = std::time::Duration::from_secs(120);
