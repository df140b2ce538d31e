//! Delivery of due delayed messages (Java `DeliverDelayedMessageTimerTask`):
//! one task per level walks `SCHEDULE_TOPIC_XXXX` queue level-1 in order; a
//! unit whose deliver time (its tags code) has come is re-stored in its real
//! topic and queue, and the level's progress goes to `delayOffset.json`.

use std::sync::Arc;
use std::time::Duration;

use rmq_store::consume_queue::CqEntry;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{error, info, warn};

use super::DelayLevels;
use crate::meta::system::{SCHEDULE_TOPIC, TRANS_HALF_TOPIC};
use crate::processor::BrokerState;
use crate::stored::{java_int, now_ms, props_string, Stored, REAL_QID, REAL_TOPIC};

/// Java waits a second before the first pass and 100 ms between passes.
const FIRST_DELAY: Duration = Duration::from_millis(1000);
const WHILE: Duration = Duration::from_millis(100);
/// Units read per pass.
const BATCH: u64 = 32;

/// `correctDelayOffset`: a stored offset outside its queue is moved to the nearest end.
pub fn correct_offsets(state: &BrokerState, levels: &DelayLevels) {
    for level in 1..=levels.max_level() {
        let cur = state.meta.delay_offsets.get(level);
        let Some(q) = state.store.queues().find(SCHEDULE_TOPIC, level - 1) else { continue };
        if cur < 0 {
            continue;
        }
        let fixed = cur.clamp(q.min_offset(), q.max_offset().max(q.min_offset()));
        if fixed != cur {
            error!(level, from = cur, to = fixed, "correcting a delay offset outside its schedule queue");
            state.meta.delay_offsets.set(level, fixed);
        }
    }
}

/// Starts one delivery task per level; they end when `stop` turns true.
pub fn spawn(state: Arc<BrokerState>, levels: Arc<DelayLevels>, stop: watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    correct_offsets(&state, &levels);
    (1..=levels.max_level())
        .map(|level| tokio::spawn(run_level(state.clone(), levels.clone(), level, stop.clone())))
        .collect()
}

async fn run_level(state: Arc<BrokerState>, levels: Arc<DelayLevels>, level: i32, mut stop: watch::Receiver<bool>) {
    let mut offset = state.meta.delay_offsets.get(level).max(0);
    let mut wait = FIRST_DELAY;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
        if *stop.borrow() {
            return;
        }
        wait = match pass(&state, &levels, level, &mut offset).await {
            Ok(w) => w,
            Err(e) => {
                // Java: DELAY_FOR_A_PERIOD after an unexpected failure
                error!(level, offset, error = %e, "delivering delayed messages failed");
                Duration::from_secs(10)
            }
        };
    }
}

fn units(
    state: &BrokerState,
    level: i32,
    offset: i64,
) -> Result<Option<(Vec<CqEntry>, i64, i64)>, rmq_store::StoreError> {
    let Some(q) = state.store.queues().find(SCHEDULE_TOPIC, level - 1) else { return Ok(None) };
    Ok(Some((q.read_from(offset, BATCH)?, q.min_offset(), q.max_offset())))
}

/// One pass from `offset`; returns how long to wait before the next.
async fn pass(
    state: &Arc<BrokerState>,
    levels: &DelayLevels,
    level: i32,
    offset: &mut i64,
) -> Result<Duration, String> {
    // Java runs the service on a master only
    if state.role.is_slave() {
        return Ok(Duration::from_secs(1));
    }
    let s = state.clone();
    let at = *offset;
    let read = tokio::task::spawn_blocking(move || units(&s, level, at)).await.map_err(|e| e.to_string())?;
    let Some((units, min, max)) = read.map_err(|e| e.to_string())? else { return Ok(WHILE) };
    if units.is_empty() {
        if min > *offset {
            error!(level, offset = *offset, min, "schedule queue offset below its minimum, moving up");
            *offset = min;
        } else if max < *offset {
            error!(level, offset = *offset, max, "schedule queue offset past its maximum, moving back");
            *offset = max;
        }
        return Ok(WHILE);
    }
    let full = units.len() as u64 >= BATCH;
    let level_ms = levels.delay_ms(level).unwrap_or(1000);
    for u in units {
        let now = now_ms();
        // correctDeliverTimestamp: a time further out than the level's delay is due now
        let due = if u.tags_code > now + level_ms { now } else { u.tags_code };
        let cur = u.queue_offset as i64;
        if due > now {
            *offset = cur;
            state.meta.delay_offsets.set(level, cur);
            return Ok(WHILE.min(Duration::from_millis((due - now) as u64)));
        }
        *offset = cur + 1;
        let looked = Stored::look(&state.store, u.physical_offset, Some(u.size), state.flavor).await;
        let Some(stored) = looked.map_err(|e| e.to_string())? else { continue };
        let Some(msg) = time_up(state, &stored) else {
            error!(level, offset = cur, "delayed message without a usable REAL_TOPIC/REAL_QID, skipped");
            continue;
        };
        if msg.topic == TRANS_HALF_TOPIC {
            error!(level, offset = cur, "the real topic of a delayed message is the half topic, discarded");
            continue;
        }
        let r = state.store.put(msg).await;
        if !r.is_ok() {
            warn!(level, offset = cur, status = ?r.status, "delivering a delayed message failed, retrying");
            *offset = cur;
            return Ok(WHILE);
        }
        state.meta.delay_offsets.set(level, cur + 1);
    }
    Ok(if full { Duration::ZERO } else { WHILE })
}

/// `messageTimeUp`: the copy for the real topic. The stored properties are the
/// record's map re-serialized; DELAY (and the timer keys) leave only the map.
fn time_up(state: &BrokerState, s: &Stored) -> Option<rmq_store::append::MessageToStore> {
    let topic = s.prop(REAL_TOPIC)?.to_string();
    let queue = java_int(s.prop(REAL_QID)?)?;
    Some(s.copy_to(topic, queue, props_string(&s.props, state.flavor)))
}

/// Logged once at start.
pub fn log_start(state: &BrokerState, levels: &DelayLevels) {
    let progress: Vec<String> = state.meta.delay_offsets.all().iter().map(|(l, o)| format!("{l}:{o}")).collect();
    info!(levels = levels.max_level(), progress = %progress.join(","), "schedule service started");
}
