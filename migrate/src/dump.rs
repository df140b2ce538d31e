//! `rmq-migrate dump`: every message record, optionally filtered.

use std::io::Write;

use base64::Engine;
use rmq_store::record::{split_keys, MessageRecord};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::cli::{DumpArgs, DumpFilter};
use crate::progress::Progress;
use crate::source::{Item, ItemKind, Store};

pub fn sha256_hex(b: &[u8]) -> String {
    let d = Sha256::digest(b);
    d.iter().map(|x| format!("{x:02x}")).collect()
}

impl DumpFilter {
    /// Whether a record at `phys` passes the filter (`m` is None for BLANK).
    pub fn matches(&self, phys: u64, m: Option<&MessageRecord>) -> bool {
        if self.from.is_some_and(|f| phys < f) || self.to.is_some_and(|t| phys >= t) {
            return false;
        }
        let needs_msg = self.topic.is_some() || self.queue.is_some() || self.key.is_some() || self.msg_id.is_some();
        let Some(m) = m else { return !needs_msg };
        if self.topic.as_ref().is_some_and(|t| *t != m.topic) || self.queue.is_some_and(|q| q != m.queue_id) {
            return false;
        }
        if let Some(k) = &self.key {
            let in_keys = m.keys().is_some_and(|ks| split_keys(ks).any(|x| x == k));
            if !in_keys && m.uniq_key() != Some(k.as_str()) {
                return false;
            }
        }
        if let Some(id) = &self.msg_id {
            if !m.offset_msg_id().eq_ignore_ascii_case(id) && m.uniq_key() != Some(id.as_str()) {
                return false;
            }
        }
        true
    }
}

/// The JSON object of one message record.
pub fn message_json(item: &Item, m: &MessageRecord, root: &std::path::Path, body: bool, decompress: bool) -> Value {
    let props: Map<String, Value> = m.properties.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
    let mut o = json!({
        "physical_offset": item.physical_offset,
        "total_size": m.total_size,
        "topic": m.topic,
        "queue_id": m.queue_id,
        "queue_offset": m.queue_offset,
        "sys_flag": m.sys_flag,
        "flag": m.flag,
        "offset_msg_id": m.offset_msg_id(),
        "uniq_key": m.uniq_key(),
        "tags": m.tags(),
        "keys": m.keys(),
        "properties": props,
        "born_timestamp": m.born_timestamp,
        "born_host": m.born_host.to_string(),
        "store_timestamp": m.store_timestamp,
        "store_host": m.store_host.to_string(),
        "reconsume_times": m.reconsume_times,
        "prepared_transaction_offset": m.prepared_transaction_offset,
        "body_crc": m.body_crc,
        "body_len": m.body.len(),
        "body_sha256": sha256_hex(&m.body),
        "version": m.version.as_str(),
        "physical_offset_field": m.physical_offset,
        "file": item.file.strip_prefix(root).unwrap_or(item.file).to_string_lossy(),
        "file_pos": item.file_pos,
        "compression": m.compression_type().ok().flatten().map(|c| c.name()),
    });
    let obj = o.as_object_mut().expect("object");
    if let Some(h) = item.dledger {
        obj.insert("dledger_index".into(), json!(h.index));
        obj.insert("dledger_term".into(), json!(h.term));
    }
    if body {
        obj.insert("body".into(), json!(base64::engine::general_purpose::STANDARD.encode(&m.body)));
    }
    if decompress && m.is_compressed() {
        match m.decompressed_body() {
            Ok(b) => {
                obj.insert("decompressed_body_len".into(), json!(b.len()));
                obj.insert("decompressed_body_sha256".into(), json!(sha256_hex(&b)));
                if body {
                    obj.insert("decompressed_body".into(), json!(base64::engine::general_purpose::STANDARD.encode(&b)));
                }
            }
            Err(e) => {
                obj.insert("decompress_error".into(), json!(e.to_string()));
            }
        }
    }
    o
}

fn text_line(item: &Item, m: &MessageRecord) -> String {
    format!(
        "{} size={} topic={} queue={} qoffset={} msgId={} uniqKey={} tags={} keys={} born={}@{} store={}@{} body={}B",
        item.physical_offset,
        m.total_size,
        m.topic,
        m.queue_id,
        m.queue_offset,
        m.offset_msg_id(),
        m.uniq_key().unwrap_or("-"),
        m.tags().unwrap_or("-"),
        m.keys().unwrap_or("-"),
        m.born_host,
        m.born_timestamp,
        m.store_host,
        m.store_timestamp,
        m.body.len()
    )
}

/// CLI entry: prints records; returns the exit code (1 when the store has
/// structural errors, after printing what could be read).
pub fn run(args: &DumpArgs, out: &mut dyn Write) -> anyhow::Result<i32> {
    let store = Store::open(&args.store)?;
    let progress = Progress::bytes(store.total_bytes(), "dump");
    let mut write_err: Option<std::io::Error> = None;
    let root = store.root().to_path_buf();
    let outcome = store.scan(&|p| progress.set(p), &mut |item| {
        if write_err.is_some() {
            return;
        }
        let res = match &item.kind {
            ItemKind::Message(m) => {
                if !args.filter.matches(item.physical_offset, Some(m)) {
                    return;
                }
                if args.json {
                    let v = message_json(item, m, &root, args.body, args.decompress);
                    serde_json::to_writer(&mut *out, &v).map_err(std::io::Error::from).and_then(|_| writeln!(out))
                } else {
                    writeln!(out, "{}", text_line(item, m))
                }
            }
            ItemKind::Blank { total_size, remaining } => {
                if !args.include_blank || !args.filter.matches(item.physical_offset, None) {
                    return;
                }
                if args.json {
                    let v = json!({"physical_offset": item.physical_offset, "total_size": total_size, "kind": "BLANK",
                        "remaining_in_file": remaining,
                        "file": item.file.strip_prefix(&root).unwrap_or(item.file).to_string_lossy(), "file_pos": item.file_pos});
                    serde_json::to_writer(&mut *out, &v).map_err(std::io::Error::from).and_then(|_| writeln!(out))
                } else {
                    writeln!(out, "{} BLANK size={total_size}", item.physical_offset)
                }
            }
        };
        if let Err(e) = res {
            write_err = Some(e);
        }
    });
    progress.finish();
    if let Some(e) = write_err {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(0);
        }
        return Err(e.into());
    }
    for i in &outcome.issues {
        tracing::error!("{i}");
        eprintln!("error: {i}");
    }
    Ok(if outcome.issues.is_empty() { 0 } else { 1 })
}
