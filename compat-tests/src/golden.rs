//! Finding the golden data (`../shared/golden` next to the workspace) and reading the
//! `*.summary.json` files written next to each capture.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use std::collections::BTreeMap;

/// Environment variable that overrides the golden directory.
pub const GOLDEN_ENV: &str = "RMQ_GOLDEN_DIR";

/// The default location: `<workspace>/../shared/golden`.
pub const DEFAULT_GOLDEN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/golden");

/// The golden directory (`$RMQ_GOLDEN_DIR` or the default), if it exists.
pub fn golden_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os(GOLDEN_ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => PathBuf::from(DEFAULT_GOLDEN_DIR),
    };
    dir.is_dir().then_some(dir)
}

/// The golden directory, or `None` after printing why the calling test is skipped.
pub fn golden_dir_or_skip(test: &str) -> Option<PathBuf> {
    let dir = golden_dir();
    if dir.is_none() {
        let shown = std::env::var(GOLDEN_ENV).unwrap_or_else(|_| DEFAULT_GOLDEN_DIR.to_string());
        eprintln!(
            "SKIPPED {test}: golden data not found at {shown} \
             (set {GOLDEN_ENV} to the shared/golden directory to run it)"
        );
    }
    dir
}

/// Whether a capture is of the raw HA replication protocol (`ha_*.pcap`), which is not
/// remoting traffic and cannot be split into remoting frames.
pub fn is_ha_capture(path: &Path) -> bool {
    path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("ha_"))
}

/// The `*.pcap` files of `<golden>/<version>/wire`, sorted by name.
pub fn wire_pcaps(golden: &Path, version: &str) -> std::io::Result<Vec<PathBuf>> {
    let dir = golden.join(version).join("wire");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    out.sort();
    Ok(out)
}

/// `<name>.summary.json` next to `<name>.pcap`.
pub fn summary_path(pcap: &Path) -> PathBuf {
    pcap.with_extension("summary.json")
}

/// A capture's summary, as written by the tool that produced the golden data.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub pcap: String,
    pub linktype: u32,
    pub packets: usize,
    pub tcp_connections: usize,
    /// Remoting frames (and, for HA captures, HA messages, which have no `code`).
    pub frames: Vec<serde_json::Value>,
}

/// One decoded remoting frame of a summary.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SummaryFrame {
    /// Capture time in seconds (microsecond resolution).
    pub t: f64,
    pub from: String,
    pub to: String,
    pub frame_length: u64,
    pub header_length: u64,
    /// "JSON" or "ROCKETMQ".
    pub serialize_type: String,
    /// The raw JSON header text (JSON frames).
    pub header_json: Option<String>,
    /// The binary header in hex (ROCKETMQ frames).
    pub header_binary_hex: Option<String>,
    pub code: i32,
    pub code_name: Option<String>,
    pub opaque: i32,
    pub flag: i32,
    /// Name (JSON) or number (ROCKETMQ).
    pub language: serde_json::Value,
    pub version: i32,
    pub remark: Option<String>,
    pub ext_fields: Option<BTreeMap<String, String>>,
    pub body_length: usize,
    /// Start of the body as text (truncated).
    pub body_preview: Option<String>,
}

impl Summary {
    pub fn load(path: &Path) -> Result<Summary, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The remoting frames (entries with a `code`), in file order.
    pub fn remoting_frames(&self) -> Result<Vec<SummaryFrame>, String> {
        self.frames
            .iter()
            .filter(|f| f.get("code").is_some())
            .enumerate()
            .map(|(i, f)| {
                serde_json::from_value(f.clone()).map_err(|e| format!("{}: remoting frame {i}: {e}", self.pcap))
            })
            .collect()
    }
}
