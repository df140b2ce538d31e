//! Delay levels (Java `ScheduleMessageService`, `HookUtils.handleScheduleMessage`).
//!
//! A message with `DELAY` = L > 0 is stored in `SCHEDULE_TOPIC_XXXX` queue L-1
//! with `REAL_TOPIC`/`REAL_QID` added; the store writes its deliver time as the
//! consume-queue tags code. [`start`] runs one delivery task per level that
//! re-stores due messages in their real topic, in queue order, and keeps each
//! level's next offset in `delayOffset.json` (`Meta::delay_offsets`), so
//! delivery resumes where it stopped after a restart.

mod deliver;
mod levels;

use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use levels::{park, DelayLevels, LevelError, ScheduleHook};

use crate::processor::BrokerState;

/// Installs the send-path hook and starts delivery (Java starts the service on masters;
/// the tasks idle while the broker is a slave).
pub fn start(state: &Arc<BrokerState>, levels: DelayLevels, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let levels = Arc::new(levels);
    *state.delay.write() = Some(Arc::new(ScheduleHook { levels: (*levels).clone(), flavor: state.flavor }));
    deliver::log_start(state, &levels);
    deliver::spawn(state.clone(), levels, stop)
}
