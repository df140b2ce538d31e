//! The `mqnamesrv` binary: `-c FILE` listens on the file's listenPort, `-p` prints config.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn listens_on_the_config_files_port_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let conf = dir.path().join("namesrv.conf");
    let mut f = std::fs::File::create(&conf).unwrap();
    // Java-style file: spaces around '=', a comment, a key Java does not know.
    writeln!(
        f,
        "# test\nlistenPort = {port}\nbindAddress=127.0.0.1\nkvConfigPath={}\nnotAKey=1",
        dir.path().join("kv.json").display()
    )
    .unwrap();
    drop(f);
    let mut child = Command::new(env!("CARGO_BIN_EXE_mqnamesrv"))
        .arg("-c")
        .arg(&conf)
        .env("HOME", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut up = false;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let pid = child.id() as i32;
    // SIGTERM, as mqshutdown sends.
    send_sigterm(pid);
    let status = child.wait().unwrap();
    assert!(up, "mqnamesrv did not listen on {port}");
    assert!(status.success(), "exit status {status:?}");
}

fn send_sigterm(pid: i32) {
    Command::new("kill").arg("-TERM").arg(pid.to_string()).status().unwrap();
}

#[test]
fn print_config_lists_every_key_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("n.conf");
    std::fs::write(&conf, "listenPort=19876\norderMessageEnable=true\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mqnamesrv")).arg("-c").arg(&conf).arg("-p").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for line in ["listenPort=19876", "orderMessageEnable=true", "kvConfigPath=", "serverChannelMaxIdleTimeSeconds=120"]
    {
        assert!(text.lines().any(|l| l.starts_with(line)), "missing {line} in:\n{text}");
    }
}

#[test]
fn malformed_value_is_an_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("n.conf");
    std::fs::write(&conf, "listenPort=98x76\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_mqnamesrv")).arg("-c").arg(&conf).arg("-p").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("listenPort"), "{err}");
}
