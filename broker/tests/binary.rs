//! `mqbroker` flags and exit codes (Java `BrokerStartup`).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

fn mqbroker() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mqbroker"));
    c.env("RMQ_LOG", "warn");
    c
}

#[test]
fn print_flags_and_startup_checks() {
    let d = tempfile::tempdir().unwrap();
    let conf = d.path().join("broker.conf");
    std::fs::write(
        &conf,
        format!("brokerName=bx\nstorePathRootDir={}\nnamesrvAddr=1.2.3.4:9876\n", d.path().join("s").display()),
    )
    .unwrap();
    let out = mqbroker().args(["-c", conf.to_str().unwrap(), "-n", "127.0.0.1:9999", "-p"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("brokerName=bx"), "{text}");
    assert!(text.contains("namesrvAddr=127.0.0.1:9999"), "-n overrides the file");
    let out = mqbroker().args(["-c", conf.to_str().unwrap(), "-m"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("brokerName=bx") && !text.contains("sendMessageThreadPoolNums"), "{text}");
    // Java: System.exit(-3) for an illegal name server address or a slave with id 0
    let out = mqbroker().args(["-c", conf.to_str().unwrap(), "-n", "nonsense", "-p"]).output().unwrap();
    assert_eq!(out.status.code(), Some(253));
    std::fs::write(&conf, "brokerRole=SLAVE\nbrokerId=0\n").unwrap();
    let out = mqbroker().args(["-c", conf.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(253));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Slave's brokerId must be > 0"));
}

#[test]
fn starts_serves_and_stops_on_sigterm() {
    let d = tempfile::tempdir().unwrap();
    let conf = d.path().join("broker.conf");
    let root = d.path().join("store");
    std::fs::write(
        &conf,
        format!(
            "brokerName=bx\nbrokerIP1=127.0.0.1\nbindAddress=127.0.0.1\nlistenPort=0\nstorePathRootDir={}\nmappedFileSizeCommitLog=65536\n",
            root.display()
        ),
    )
    .unwrap();
    let mut child = mqbroker().args(["-c", conf.to_str().unwrap()]).stdout(Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("The broker[bx, 127.0.0.1:"), "{line}");
    assert!(root.join("abort").exists());
    std::process::Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    let mut status = None;
    for _ in 0..100 {
        if let Some(s) = child.try_wait().unwrap() {
            status = Some(s);
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(status.expect("stopped within 5 s").code(), Some(0));
    assert!(!root.join("abort").exists(), "clean stop");
}
