//! Real `mqbroker` processes for the replication tests: config files in a temp
//! dir, free loopback ports, start (waiting for the boot line), SIGKILL/SIGTERM,
//! and commitlog comparison on disk.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rmq_remoting::codec::header::FromExtFields;
use rmq_remoting::codec::{RemotingCommand, ResponseCode};
use rmq_remoting::protocol::send::SendMessageResponseHeader;
use rmq_remoting::transport::Client;

use crate::common::{send_header, send_v2};

/// A free loopback port (probe: bind, read, release).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A free port whose successor is free too (4.9.8 puts HA on listenPort + 1).
pub fn free_port_pair() -> u16 {
    for _ in 0..50 {
        let p = free_port();
        if p < u16::MAX && TcpListener::bind(("127.0.0.1", p + 1)).is_ok() {
            return p;
        }
    }
    panic!("no two consecutive free ports");
}

pub struct BrokerProc {
    pub name: String,
    pub conf: PathBuf,
    pub root: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

/// Config of one broker of set `broker-ha`; `extra` lines are appended.
pub fn conf_text(root: &Path, port: u16, namesrv: &str, id: i64, role: &str, extra: &str) -> String {
    format!(
        "brokerClusterName=HaCluster\nbrokerName=broker-ha\nbrokerId={id}\nbrokerRole={role}\n\
         brokerIP1=127.0.0.1\nbrokerIP2=127.0.0.1\nbindAddress=127.0.0.1\nlistenPort={port}\n\
         namesrvAddr={namesrv}\nstorePathRootDir={}\nmappedFileSizeCommitLog=1048576\n\
         mappedFileSizeConsumeQueue=6000\nmaxHashSlotNum=100\nmaxIndexNum=400\nflushDiskType=ASYNC_FLUSH\n{extra}\n",
        root.display()
    )
}

impl BrokerProc {
    /// Writes the config next to the store root (`<dir>/<name>.conf`).
    pub fn new(dir: &Path, name: &str, root: &Path, port: u16, text: &str) -> BrokerProc {
        let conf = dir.join(format!("{name}.conf"));
        std::fs::write(&conf, text).unwrap();
        BrokerProc { name: name.into(), conf, root: root.to_path_buf(), port, child: None }
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts `mqbroker -c` and waits for its boot line; stderr goes to `<name>.log`.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "{} already running", self.name);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.conf.with_extension("log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_mqbroker"))
            .args(["-c", self.conf.to_str().unwrap()])
            .env("RMQ_LOG", std::env::var("RMQ_HA_TEST_LOG").unwrap_or_else(|_| "info".into()))
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(out).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_default();
        if !line.contains("boot success") {
            let _ = child.kill();
            let _ = child.wait();
            let log = std::fs::read_to_string(self.conf.with_extension("log")).unwrap_or_default();
            panic!("{} did not start: {line:?}\n{log}", self.name);
        }
        self.child = Some(child);
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// SIGKILL, then reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            Command::new("kill").arg("-TERM").arg(c.id().to_string()).status().unwrap();
            let t = Instant::now();
            loop {
                if let Some(s) = c.try_wait().unwrap() {
                    assert!(s.success(), "{} exited with {s}", self.name);
                    return;
                }
                if t.elapsed() > Duration::from_secs(30) {
                    let _ = c.kill();
                    let _ = c.wait();
                    panic!("{} did not stop within 30 s", self.name);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(self.conf.with_extension("log")).unwrap_or_default()
    }
}

impl Drop for BrokerProc {
    fn drop(&mut self) {
        // a failing test must not leave brokers behind
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `(file name, bytes)` of a store's commitlog files.
pub fn commitlog_files(root: &Path) -> Vec<(String, Vec<u8>)> {
    dir_files(&root.join("commitlog"))
}

pub fn dir_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let Ok(rd) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut v: Vec<_> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter_map(|p| Some((p.file_name()?.to_string_lossy().into_owned(), std::fs::read(&p).ok()?)))
        .collect();
    v.sort();
    v
}

/// Same bytes in both commitlogs: equal same-named files; a file present on one
/// side only must be all zeros (a pre-created next file).
pub fn same_commitlog(a: &Path, b: &Path) -> bool {
    same_files(&commitlog_files(a), &commitlog_files(b))
}

pub use rmq_store::testutil::same_files;

/// Physical offset from an IPv4 offsetMsgId (ip 4, port 4, offset 8 bytes, hex).
pub fn offset_of_msg_id(id: &str) -> u64 {
    u64::from_str_radix(&id[id.len() - 16..], 16).unwrap()
}

/// One acknowledged send.
#[derive(Debug, Clone)]
pub struct Ack {
    pub code: ResponseCode,
    pub offset: u64,
    pub body: Vec<u8>,
}

pub fn body_for(seq: u64) -> Vec<u8> {
    let mut b = format!("ha-{seq:08}-").into_bytes();
    b.resize(64 + (seq % 13) as usize * 97, b'a' + (seq % 26) as u8);
    b
}

/// Sends message `seq` of topic `topic` and decodes the answer.
pub async fn send_one(c: &Client, addr: &str, topic: &str, seq: u64) -> Result<Ack, String> {
    let body = body_for(seq);
    let cmd: RemotingCommand = send_v2(&send_header(topic, (seq % 4) as i32, ""), &body);
    let r = c.invoke(addr, cmd, Duration::from_secs(10)).await.map_err(|e| e.to_string())?;
    let code = r.response_code();
    let offset =
        SendMessageResponseHeader::from_command(&r).ok().map(|h| offset_of_msg_id(&h.msg_id)).unwrap_or(u64::MAX);
    Ok(Ack { code, offset, body })
}
