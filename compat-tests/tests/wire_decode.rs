//! Every remoting frame of every golden capture (Java 4.9.8 and 5.3.3) decodes with our
//! codec, matches the decoded summary written next to the capture, and survives
//! re-encoding:
//! * ROCKETMQ (binary) headers re-encode to exactly the captured bytes;
//! * JSON headers re-encode to exactly the captured bytes (fastjson's key order on top,
//!   `extFields` in the order they arrived, which the decoder keeps), decode to the same
//!   command and parse to the same JSON value as the captured header.
//!
//! The HA captures (`ha_*.pcap`) are NOT remoting traffic: they carry the raw HA
//! replication protocol (offset reports, transfer headers + commitlog bytes), so they
//! are only checked to read and reassemble cleanly, never split into remoting frames.

use std::collections::BTreeMap;
use std::path::Path;

use bytes::BytesMut;
use rmq_compat_tests::golden::{self, Summary, SummaryFrame};
use rmq_compat_tests::pcap::Capture;
use rmq_compat_tests::tcp::RawFrame;
use rmq_remoting::codec::{decode, decode_frame, encode_to_vec, FrameLimits, DEFAULT_MAX_FRAME};
use rmq_remoting::{RemotingCommand, SerializeType};

const VERSIONS: [&str; 2] = ["java-4.9.8", "java-5.3.3"];

#[derive(Default)]
struct Tally {
    pcaps: usize,
    frames: usize,
    binary_exact: usize,
    json_frames: usize,
    json_byte_identical: usize,
    problems: Vec<String>,
}

#[test]
fn every_captured_frame_decodes_and_round_trips() {
    let Some(golden) = golden::golden_dir_or_skip("every_captured_frame_decodes_and_round_trips") else { return };
    let mut t = Tally::default();
    for version in VERSIONS {
        let pcaps = golden::wire_pcaps(&golden, version).expect("list wire captures");
        assert!(!pcaps.is_empty(), "no captures in {version}/wire");
        for pcap in pcaps {
            if golden::is_ha_capture(&pcap) {
                check_ha_capture(&pcap, &mut t);
            } else {
                check_remoting_capture(&pcap, &mut t);
            }
        }
    }
    eprintln!(
        "wire_decode: {} remoting captures, {} frames; {} ROCKETMQ frames re-encoded byte-exactly; \
         {} of {} JSON headers re-encoded byte-identically",
        t.pcaps, t.frames, t.binary_exact, t.json_byte_identical, t.json_frames
    );
    assert!(t.problems.is_empty(), "{} problems:\n{}", t.problems.len(), t.problems.join("\n"));
}

/// HA captures: the reader must handle them (no errors, all bytes reassembled), nothing more.
fn check_ha_capture(pcap: &Path, t: &mut Tally) {
    let name = pcap.file_name().unwrap().to_string_lossy().to_string();
    let summary = Summary::load(&golden::summary_path(pcap)).unwrap();
    match Capture::open(pcap) {
        Err(e) => t.problems.push(format!("{name}: {e}")),
        Ok(cap) => {
            if cap.packets != summary.packets || cap.connections.len() != summary.tcp_connections {
                t.problems.push(format!(
                    "{name}: {} packets / {} connections, summary says {} / {}",
                    cap.packets,
                    cap.connections.len(),
                    summary.packets,
                    summary.tcp_connections
                ));
            }
            for c in &cap.connections {
                for from_client in [true, false] {
                    let h = c.half(from_client);
                    if h.unassembled_bytes() != 0 || h.stats.conflicting_bytes != 0 {
                        t.problems.push(format!("{name}: {c}: reassembly gap or conflicting retransmit"));
                    }
                }
            }
        }
    }
}

fn check_remoting_capture(pcap: &Path, t: &mut Tally) {
    let name = pcap.file_name().unwrap().to_string_lossy().to_string();
    let summary = Summary::load(&golden::summary_path(pcap)).unwrap();
    let expected = summary.remoting_frames().unwrap();
    t.pcaps += 1;
    let cap = match Capture::open(pcap) {
        Ok(c) => c,
        Err(e) => return t.problems.push(format!("{name}: {e}")),
    };
    if cap.packets != summary.packets || cap.connections.len() != summary.tcp_connections {
        t.problems.push(format!(
            "{name}: {} packets / {} connections, summary says {} / {}",
            cap.packets,
            cap.connections.len(),
            summary.packets,
            summary.tcp_connections
        ));
    }
    let streams = match cap.remoting_streams(DEFAULT_MAX_FRAME) {
        Ok(s) => s,
        Err(e) => return t.problems.push(format!("{name}: {e}")),
    };
    // Per direction, frames in stream order on both sides.
    let mut ours: BTreeMap<(String, String), Vec<RawFrame>> = BTreeMap::new();
    let mut total = 0;
    for s in &streams {
        let c = &cap.connections[s.conn];
        if s.trailing_bytes != 0 || s.unassembled_bytes != 0 {
            t.problems.push(format!(
                "{name}: {c}: {} trailing / {} unassembled bytes after the last frame",
                s.trailing_bytes, s.unassembled_bytes
            ));
        }
        check_streaming_decode(&name, &c.half(s.from_client).data, s.frames.len(), t);
        total += s.frames.len();
        ours.entry((s.src.to_string(), s.dst.to_string())).or_default().extend(s.frames.iter().cloned());
    }
    if total != expected.len() {
        t.problems.push(format!("{name}: {total} frames decoded, summary lists {}", expected.len()));
    }
    let mut theirs: BTreeMap<(String, String), Vec<&SummaryFrame>> = BTreeMap::new();
    for f in &expected {
        theirs.entry((f.from.clone(), f.to.clone())).or_default().push(f);
    }
    for (dir, exp) in &theirs {
        let got = ours.get(dir).map(Vec::as_slice).unwrap_or(&[]);
        if got.len() != exp.len() {
            t.problems.push(format!(
                "{name}: {} -> {}: {} frames, summary lists {}",
                dir.0,
                dir.1,
                got.len(),
                exp.len()
            ));
        }
        for (i, (raw, want)) in got.iter().zip(exp.iter()).enumerate() {
            let at = format!("{name}: {} -> {} frame {i} (code {}, opaque {})", dir.0, dir.1, want.code, want.opaque);
            check_frame(&at, raw, want, t);
        }
    }
    t.frames += total;
}

/// The streaming decoder must split the reassembled stream into the same number of frames.
fn check_streaming_decode(name: &str, data: &[u8], want: usize, t: &mut Tally) {
    let mut buf = BytesMut::from(data);
    let mut n = 0;
    loop {
        match decode(&mut buf, FrameLimits::default()) {
            Ok(Some(_)) => n += 1,
            Ok(None) => break,
            Err(e) => return t.problems.push(format!("{name}: streaming decode failed after {n} frames: {e}")),
        }
    }
    if n != want || !buf.is_empty() {
        t.problems.push(format!("{name}: streaming decode gave {n} frames (+{} bytes), expected {want}", buf.len()));
    }
}

fn check_frame(at: &str, raw: &RawFrame, want: &SummaryFrame, t: &mut Tally) {
    let mut bad = |what: String| t.problems.push(format!("{at}: {what}"));
    let cmd = match decode_frame(raw.after_length()) {
        Ok(c) => c,
        Err(e) => return bad(format!("does not decode: {e}")),
    };
    // Capture time: the summary's `t` is the time of the packet completing the frame.
    if raw.ts.as_micros() != (want.t * 1e6).round() as u64 {
        bad(format!("completed at {}, summary says {:.6}", raw.ts, want.t));
    }
    let frame_len = raw.bytes.len() as u64 - 4;
    let header_len = (u32::from_be_bytes(raw.bytes[4..8].try_into().unwrap()) & 0x00ff_ffff) as usize;
    let header = &raw.bytes[8..8 + header_len];
    let ser = cmd.serialize_type.name();
    let body_len = cmd.body_len();
    let fields = [
        ("frameLength", frame_len.to_string(), want.frame_length.to_string()),
        ("headerLength", header_len.to_string(), want.header_length.to_string()),
        ("code", cmd.code.to_string(), want.code.to_string()),
        ("opaque", cmd.opaque.to_string(), want.opaque.to_string()),
        ("flag", cmd.flag.to_string(), want.flag.to_string()),
        ("serializeType", ser.to_string(), want.serialize_type.clone()),
        ("version", cmd.version.to_string(), want.version.to_string()),
        ("remark", format!("{:?}", cmd.remark), format!("{:?}", want.remark)),
        ("bodyLength", body_len.to_string(), want.body_length.to_string()),
        ("language", language_of(&cmd), summary_language(&want.language)),
    ];
    for (field, got, exp) in fields {
        if got != exp {
            bad(format!("{field}: ours {got}, summary {exp}"));
        }
    }
    let ours_ext: Option<BTreeMap<String, String>> =
        cmd.ext_fields.as_ref().map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect());
    let ext_ok = match cmd.serialize_type {
        // The binary header cannot tell "no extFields" from "empty extFields".
        SerializeType::RocketMq => ours_ext.clone().unwrap_or_default() == want.ext_fields.clone().unwrap_or_default(),
        SerializeType::Json => ours_ext == want.ext_fields,
    };
    if !ext_ok {
        bad(format!("extFields: ours {ours_ext:?}, summary {:?}", want.ext_fields));
    }
    if let Some(problem) = preview_mismatch(cmd.body.as_deref().unwrap_or(&[]), want.body_preview.as_deref()) {
        bad(problem);
    }
    match cmd.serialize_type {
        SerializeType::RocketMq => {
            if want.header_binary_hex.as_deref() != Some(hex(header).as_str()) {
                bad("captured header bytes differ from the summary's headerBinaryHex".into());
            }
            if encode_to_vec(&cmd) == raw.bytes.as_ref() {
                t.binary_exact += 1;
            } else {
                bad("re-encoding the ROCKETMQ command does not give back the captured frame bytes".into());
            }
        }
        SerializeType::Json => check_json_frame(at, raw, &cmd, header, want, t),
    }
}

fn check_json_frame(
    at: &str,
    raw: &RawFrame,
    cmd: &RemotingCommand,
    header: &[u8],
    want: &SummaryFrame,
    t: &mut Tally,
) {
    t.json_frames += 1;
    let mut bad = |what: String| t.problems.push(format!("{at}: {what}"));
    let Some(captured_json) = want.header_json.as_deref() else { return bad("summary has no headerJson".into()) };
    if header != captured_json.as_bytes() {
        bad("captured header bytes differ from the summary's headerJson".into());
    }
    let encoded = encode_to_vec(cmd);
    if encoded == raw.bytes.as_ref() {
        t.json_byte_identical += 1;
    } else {
        bad(format!(
            "re-encoded JSON frame differs from the captured bytes:\n  ours     {}\n  captured {}",
            String::from_utf8_lossy(&encoded),
            String::from_utf8_lossy(&raw.bytes)
        ));
    }
    let again = match decode_frame(bytes::Bytes::from(encoded.clone()).slice(4..)) {
        Ok(c) => c,
        Err(e) => return bad(format!("our re-encoded JSON frame does not decode: {e}")),
    };
    if &again != cmd {
        bad(format!("re-encode + decode differs from the first decode:\n  first {cmd:?}\n  again {again:?}"));
    }
    let our_header_len = (u32::from_be_bytes(encoded[4..8].try_into().unwrap()) & 0x00ff_ffff) as usize;
    let ours: serde_json::Value = match serde_json::from_slice(&encoded[8..8 + our_header_len]) {
        Ok(v) => v,
        Err(e) => return bad(format!("our JSON header is not JSON: {e}")),
    };
    let theirs: serde_json::Value = match serde_json::from_str(captured_json) {
        Ok(v) => v,
        Err(e) => return bad(format!("captured headerJson is not JSON: {e}")),
    };
    if ours != theirs {
        bad(format!(
            "our JSON header differs from the captured one (beyond key order):\n  ours     {}\n  captured {captured_json}",
            String::from_utf8_lossy(&encoded[8..8 + our_header_len])
        ));
    }
}

fn language_of(cmd: &RemotingCommand) -> String {
    cmd.language.name().to_string()
}

/// The summary writes the language by name for JSON headers and by number for ROCKETMQ ones.
fn summary_language(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => {
            rmq_remoting::LanguageCode::Known(n.as_u64().unwrap_or(7) as u8).name().to_string()
        }
        other => other.to_string(),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The summary's body preview is either the body text or `hex:` + hex bytes, truncated with
/// `...`; the body must start with it (and equal it when not truncated).
fn preview_mismatch(body: &[u8], preview: Option<&str>) -> Option<String> {
    let Some(p) = preview else {
        return (!body.is_empty())
            .then(|| format!("summary has no body preview but the body has {} bytes", body.len()));
    };
    let (p, truncated) = match p.strip_suffix("...") {
        Some(s) if !body.is_empty() => (s, true),
        _ => (p, false),
    };
    let (ours, theirs) = match p.strip_prefix("hex:") {
        Some(h) => (hex(body), h.to_string()),
        None => (String::from_utf8_lossy(body).into_owned(), p.to_string()),
    };
    let ok = if truncated { ours.starts_with(&theirs) && ours.len() > theirs.len() } else { ours == theirs };
    (!ok).then(|| format!("body does not match the summary's preview {:?}", preview.unwrap_or_default()))
}
