//! `messageDelayLevel` and where a delayed message waits (Java
//! `ScheduleMessageService.parseDelayLevel` and
//! `HookUtils.transformDelayLevelMessage`, 4.9.8 `CommitLog.asyncPutMessage`).

use rmq_store::config_files::JavaFlavor;
use rmq_store::record::{TRANSACTION_COMMIT_TYPE, TRANSACTION_NOT_TYPE, TRANSACTION_TYPE_MASK};
use thiserror::Error;

use crate::meta::system::SCHEDULE_TOPIC;
use crate::processor::props::JavaProps;
use crate::processor::DelayHook;
use crate::stored::{java_int, props_string, DELAY, REAL_QID, REAL_TOPIC};

/// A `messageDelayLevel` Java would refuse to load (its broker does not start).
#[derive(Debug, Error, PartialEq, Eq)]
#[error("messageDelayLevel {value:?}: level {level} ({part:?}) is not <number><s|m|h|d>")]
pub struct LevelError {
    pub value: String,
    pub level: usize,
    pub part: String,
}

/// The delay of every level (1-based) in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayLevels {
    ms: Vec<i64>,
}

impl DelayLevels {
    /// `parseDelayLevel`: split on single spaces, each part a number and one unit letter.
    pub fn parse(value: &str) -> Result<DelayLevels, LevelError> {
        let mut ms = Vec::new();
        for (i, part) in value.split(' ').enumerate() {
            let err = || LevelError { value: value.to_string(), level: i + 1, part: part.to_string() };
            let Some(unit) = part.chars().last() else { return Err(err()) };
            let mult = match unit {
                's' => 1000,
                'm' => 60_000,
                'h' => 3_600_000,
                'd' => 86_400_000,
                _ => return Err(err()),
            };
            let num: i64 = part[..part.len() - 1].parse().map_err(|_| err())?;
            ms.push(num.wrapping_mul(mult));
        }
        Ok(DelayLevels { ms })
    }

    /// `maxDelayLevel`.
    pub fn max_level(&self) -> i32 {
        self.ms.len() as i32
    }

    /// Delay of `level`, if the table has it.
    pub fn delay_ms(&self, level: i32) -> Option<i64> {
        usize::try_from(level).ok()?.checked_sub(1).and_then(|i| self.ms.get(i)).copied()
    }

    /// `computeDeliverTimestamp` (one second for a level without an entry).
    pub fn deliver_timestamp(&self, level: i32, store_timestamp: i64) -> i64 {
        store_timestamp + self.delay_ms(level).unwrap_or(1000)
    }
}

/// `transformDelayLevelMessage` on a message's map: when it has a delay level
/// and a NOT/COMMIT transaction type, clamps the level, records the real topic
/// and queue, and returns where it waits (`SCHEDULE_TOPIC_XXXX`, level - 1).
pub fn park(
    levels: &DelayLevels,
    topic: &str,
    queue_id: i32,
    sys_flag: i32,
    p: &mut JavaProps,
) -> Option<(String, i32)> {
    if !matches!(sys_flag & TRANSACTION_TYPE_MASK, TRANSACTION_NOT_TYPE | TRANSACTION_COMMIT_TYPE) {
        return None;
    }
    // getDelayTimeLevel: Integer.parseInt of DELAY; what Java could not parse never delays here
    let mut level = p.get(DELAY).and_then(java_int).unwrap_or(0);
    if level <= 0 {
        return None;
    }
    if level > levels.max_level() {
        level = levels.max_level();
        p.put(DELAY, &level.to_string());
    }
    p.put(REAL_TOPIC, topic);
    p.put(REAL_QID, &queue_id.to_string());
    Some((SCHEDULE_TOPIC.to_string(), level - 1))
}

/// The hook the send path calls (`BrokerState::delay`).
pub struct ScheduleHook {
    pub levels: DelayLevels,
    pub flavor: JavaFlavor,
}

impl DelayHook for ScheduleHook {
    fn rewrite(&self, topic: &str, queue_id: i32, sys_flag: i32, props: &JavaProps) -> Option<(String, i32, String)> {
        // most sends have no DELAY: do not copy their map
        props.get(DELAY)?;
        let mut p = props.clone();
        let (t, q) = park(&self.levels, topic, queue_id, sys_flag, &mut p)?;
        Some((t, q, props_string(&p, self.flavor)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_java_and_refuses_what_java_refuses() {
        let l = DelayLevels::parse("1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h").unwrap();
        assert_eq!(l.max_level(), 18);
        assert_eq!(l.delay_ms(2), Some(5000));
        assert_eq!(l.delay_ms(18), Some(7_200_000));
        assert_eq!(l.deliver_timestamp(19, 10), 1010);
        assert_eq!(DelayLevels::parse("1d").unwrap().delay_ms(1), Some(86_400_000));
        let e = DelayLevels::parse("1s  5s").unwrap_err();
        assert_eq!((e.level, e.part.as_str()), (2, ""));
        assert_eq!(DelayLevels::parse("1s 5x").unwrap_err().level, 2);
        assert!(DelayLevels::parse("s").is_err());
    }

    #[test]
    fn parks_in_the_level_queue_and_clamps() {
        let l = DelayLevels::parse("1s 5s 10s").unwrap();
        let mut p = JavaProps::parse(Some("DELAY\u{1}9\u{2}TAGS\u{1}a"), 16);
        assert_eq!(park(&l, "T", 3, 0, &mut p), Some(("SCHEDULE_TOPIC_XXXX".into(), 2)));
        assert_eq!((p.get(DELAY), p.get(REAL_TOPIC), p.get(REAL_QID)), (Some("3"), Some("T"), Some("3")));
        let mut p = JavaProps::parse(Some("DELAY\u{1}1"), 16);
        assert_eq!(park(&l, "T", 0, 0x4, &mut p), None, "a prepared message is not delayed");
        let mut p = JavaProps::parse(Some("DELAY\u{1}0"), 16);
        assert_eq!(park(&l, "T", 0, 0, &mut p), None);
        let mut p = JavaProps::parse(Some("DELAY\u{1} 1"), 16);
        assert_eq!(park(&l, "T", 0, 0, &mut p), None);
    }

    #[test]
    fn the_golden_delay_record_rebuilds_byte_for_byte() {
        // golden plain/ seq 18: what 4.9.8's send path left in the map (WAIT put back), then the rewrite
        let sent = "KEYS\u{1}keyDelay\u{2}DELAY\u{1}2\u{2}UNIQ_KEY\u{1}7F0000011F405FFD2B276B4E57220012\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagDelay";
        let mut p = JavaProps::parse(Some(sent), 16);
        p.put("CLUSTER", "GoldenCluster");
        let w = p.remove(crate::stored::WAIT).unwrap();
        p.put(crate::stored::WAIT, &w);
        let hook = ScheduleHook { levels: DelayLevels::parse("1s 5s 10s").unwrap(), flavor: JavaFlavor::V4_9_8 };
        let (t, q, s) = hook.rewrite("GoldenTopicA", 3, 0, &p).unwrap();
        assert_eq!((t.as_str(), q), ("SCHEDULE_TOPIC_XXXX", 1));
        assert_eq!(s, "REAL_TOPIC\u{1}GoldenTopicA\u{2}KEYS\u{1}keyDelay\u{2}UNIQ_KEY\u{1}7F0000011F405FFD2B276B4E57220012\u{2}CLUSTER\u{1}GoldenCluster\u{2}DELAY\u{1}2\u{2}WAIT\u{1}true\u{2}TAGS\u{1}TagDelay\u{2}REAL_QID\u{1}3");
    }

    #[test]
    fn the_golden_5_3_3_delay_record_rebuilds_byte_for_byte() {
        // golden java-5.3.3 controller-mode: the map 5.x's send path built (128 buckets), then the hook
        let map = "MSG_REGION\u{1}DefaultRegion\u{2}UNIQ_KEY\u{1}7F00000167B35FFD2B276B63F8560033\u{2}CLUSTER\u{1}GoldenCtrlCluster\u{2}DELAY\u{1}1\u{2}TAGS\u{1}TagDelay\u{2}KEYS\u{1}keyDelay\u{2}WAIT\u{1}true\u{2}TRACE_ON\u{1}true";
        let p = JavaProps::parse(Some(map), 128);
        let hook = ScheduleHook { levels: DelayLevels::parse("1s 5s").unwrap(), flavor: JavaFlavor::V5_3_3 };
        let (_, q, s) = hook.rewrite("SmallTopicA", 0, 0, &p).unwrap();
        assert_eq!(q, 0);
        assert_eq!(s, "MSG_REGION\u{1}DefaultRegion\u{2}UNIQ_KEY\u{1}7F00000167B35FFD2B276B63F8560033\u{2}CLUSTER\u{1}GoldenCtrlCluster\u{2}DELAY\u{1}1\u{2}TAGS\u{1}TagDelay\u{2}KEYS\u{1}keyDelay\u{2}WAIT\u{1}true\u{2}TRACE_ON\u{1}true\u{2}REAL_TOPIC\u{1}SmallTopicA\u{2}REAL_QID\u{1}0\u{2}");
    }
}
