//! Consumer and delay offsets past a queue's new end: `config/consumerOffset.json`
//! (`topic@group` → queue → offset) and `config/delayOffset.json` (delay level →
//! offset in `SCHEDULE_TOPIC_XXXX` queue level−1) are clamped to the queue's
//! max offset (Java `getMaxOffsetInQueue`, 0 for a queue without files).
//!
//! A file is rewritten only when a value changes, in the flavor (4.9.8 or
//! 5.3.3) and layout it was written in, through the store crate's writer
//! (`.tmp`, previous content to `.bak`, rename), so running it again is a no-op.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rmq_store::cleanup::{clean_queue, Mode};
use rmq_store::config_files::{
    self, backup_path, ConfigFile, ConsumerOffsetFile, DelayOffsetFile, JavaFlavor, LoadedFrom,
};
use rmq_store::dispatch::{store_geometry, JavaVersion, SCHEDULE_TOPIC};
use rmq_store::StoreDir;
use serde::{Deserialize, Serialize};

use super::error::Result;
use super::log::queue_max_quick;

/// One offset lowered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clamp {
    pub file: String,
    /// `topic@group`, or `level N` in delayOffset.json.
    pub key: String,
    pub queue_id: i32,
    pub from: i64,
    pub to: i64,
}

/// Java's `getMaxOffsetInQueue` as its recovery leaves it (every unit of the
/// last file read), 0 for a queue without files.
fn exact_max(dir: &StoreDir, cq_size: u64, topic: &str, queue_id: i32) -> Result<i64> {
    let qdir = dir.consume_queue_dir().join(topic).join(queue_id.to_string());
    if !qdir.is_dir() {
        return Ok(0);
    }
    let q = clean_queue(&qdir, cq_size, 0, 0, None, &Mode::DryRun)?;
    match q.error {
        Some(e) => Err(e.into()),
        None => Ok(q.max_offset()),
    }
}

/// The queues the two offset files name.
fn named_queues(c: &ConsumerOffsetFile, d: &DelayOffsetFile) -> BTreeSet<(String, i32)> {
    let mut out = BTreeSet::new();
    for (key, queues) in &c.offset_table {
        if let Some((topic, _)) = key.split_once('@') {
            out.extend(queues.keys().map(|q| (topic.to_string(), *q)));
        }
    }
    out.extend(d.offset_table.keys().map(|level| (SCHEDULE_TOPIC.to_string(), level - 1)));
    out
}

/// Offsets above `max(topic, queue)` in the slave's offset files.
fn clamps(
    consumer: &ConsumerOffsetFile,
    delay: &DelayOffsetFile,
    max: &dyn Fn(&str, i32) -> i64,
) -> (Vec<Clamp>, ConsumerOffsetFile, DelayOffsetFile) {
    let mut out = Vec::new();
    let mut c = consumer.clone();
    for (key, queues) in c.offset_table.iter_mut() {
        // Java keys are `topic@group`; a key without '@' names no queue
        let Some((topic, _)) = key.split_once('@') else {
            continue;
        };
        for (qid, off) in queues.iter_mut() {
            let m = max(topic, *qid);
            if *off > m {
                out.push(Clamp {
                    file: ConsumerOffsetFile::FILE_NAME.into(),
                    key: key.clone(),
                    queue_id: *qid,
                    from: *off,
                    to: m,
                });
                *off = m;
            }
        }
    }
    let mut d = delay.clone();
    for (level, off) in d.offset_table.iter_mut() {
        let m = max(SCHEDULE_TOPIC, level - 1);
        if *off > m {
            let key = format!("level {level}");
            out.push(Clamp { file: DelayOffsetFile::FILE_NAME.into(), key, queue_id: level - 1, from: *off, to: m });
            *off = m;
        }
    }
    (out, c, d)
}

struct Current<T> {
    value: T,
    layout: config_files::Layout,
    flavor: JavaFlavor,
    from: LoadedFrom,
}

fn load<T: ConfigFile>(config_dir: &Path, fallback: JavaFlavor) -> Result<Current<T>> {
    let l = config_files::load_in::<T>(config_dir)?;
    let path = match l.from {
        LoadedFrom::Backup => backup_path(&config_dir.join(T::FILE_NAME)),
        _ => config_dir.join(T::FILE_NAME),
    };
    // keep the flavor the file was written in when one reproduces it exactly
    let text = std::fs::read(&path).unwrap_or_default();
    let flavor = [JavaFlavor::V4_9_8, JavaFlavor::V5_3_3]
        .into_iter()
        .find(|f| l.value.to_json(*f, l.layout).as_bytes() == text.as_slice())
        .unwrap_or(fallback);
    Ok(Current { value: l.value, layout: l.layout, flavor, from: l.from })
}

fn flavor_of(java: JavaVersion) -> JavaFlavor {
    match java {
        JavaVersion::V4_9_8 => JavaFlavor::V4_9_8,
        JavaVersion::V5_3_3 => JavaFlavor::V5_3_3,
    }
}

/// What clamping would change. `adjust(topic, queue, max now)` gives a
/// queue's max offset after the planned steps.
pub(crate) fn predict(dir: &StoreDir, java: JavaVersion, adjust: &dyn Fn(&str, i32, i64) -> i64) -> Result<Vec<Clamp>> {
    let cd = dir.config_dir();
    let c = load::<ConsumerOffsetFile>(&cd, flavor_of(java))?;
    let d = load::<DelayOffsetFile>(&cd, flavor_of(java))?;
    let mut maxes = BTreeMap::new();
    for (t, q) in named_queues(&c.value, &d.value) {
        let now = queue_max_quick(&dir.consume_queue_dir().join(&t).join(q.to_string()))?;
        maxes.insert((t.clone(), q), adjust(&t, q, now));
    }
    Ok(clamps(&c.value, &d.value, &|t, q| maxes.get(&(t.to_string(), q)).copied().unwrap_or(0)).0)
}

/// Clamps the offsets against the queues as they are on disk now.
/// `before_write(files)` runs before a file is rewritten (backups);
/// `between()` runs between the two files (crash tests).
pub(crate) fn apply(
    dir: &StoreDir,
    java: JavaVersion,
    before_write: &mut dyn FnMut(&[PathBuf]) -> Result<()>,
    between: &mut dyn FnMut(),
) -> Result<Vec<Clamp>> {
    let cd = dir.config_dir();
    let c = load::<ConsumerOffsetFile>(&cd, flavor_of(java))?;
    let d = load::<DelayOffsetFile>(&cd, flavor_of(java))?;
    let (cq_size, _) = store_geometry(dir)?;
    let mut maxes = BTreeMap::new();
    for (t, q) in named_queues(&c.value, &d.value) {
        let m = exact_max(dir, cq_size, &t, q)?;
        maxes.insert((t, q), m);
    }
    let max = |t: &str, q: i32| maxes.get(&(t.to_string(), q)).copied().unwrap_or(0);
    let (all, new_c, new_d) = clamps(&c.value, &d.value, &max);
    if new_c != c.value && c.from != LoadedFrom::Missing {
        let p = cd.join(ConsumerOffsetFile::FILE_NAME);
        before_write(&[p.clone(), backup_path(&p)])?;
        config_files::write(&p, &new_c, c.flavor, c.layout)?;
    }
    between();
    if new_d != d.value && d.from != LoadedFrom::Missing {
        let p = cd.join(DelayOffsetFile::FILE_NAME);
        before_write(&[p.clone(), backup_path(&p)])?;
        config_files::write(&p, &new_d, d.flavor, d.layout)?;
    }
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_only_offsets_past_the_queue_end() {
        let mut c = ConsumerOffsetFile::default();
        c.commit_offset("T", "g", 0, 5);
        c.commit_offset("T", "g", 1, 9);
        c.offset_table.insert("no-separator".into(), [(0, 100)].into_iter().collect());
        let mut d = DelayOffsetFile::default();
        d.offset_table.insert(2, 7);
        d.offset_table.insert(3, 1);
        let max = |t: &str, q: i32| match (t, q) {
            ("T", 0) => 5,
            ("T", 1) => 4,
            (SCHEDULE_TOPIC, 1) => 3,
            _ => 0,
        };
        let (v, c2, d2) = clamps(&c, &d, &max);
        assert_eq!(v.len(), 3, "{v:?}");
        assert_eq!((c2.offset("T", "g", 0), c2.offset("T", "g", 1)), (Some(5), Some(4)));
        assert_eq!(c2.offset_table["no-separator"][&0], 100);
        assert_eq!((d2.offset_table[&2], d2.offset_table[&3]), (3, 0));
        let (v, ..) = clamps(&c2, &d2, &max);
        assert!(v.is_empty(), "a second pass changes nothing");
    }
}
