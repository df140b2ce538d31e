//! Our daemons for the client tests: free ports, `mqnamesrv`/`mqbroker` built from this workspace,
//! a [`Daemon`] that is stopped (SIGTERM, then SIGKILL) on drop.

use super::*;

/// The child gets SIGKILL when the thread that started it ends, so a test run that is itself
/// killed (CI timeout) leaves no daemon or client behind. (Normal and panicking runs stop their
/// children on drop first.)
pub(crate) fn die_with_parent(cmd: &mut Command) {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::process::CommandExt;
        // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A port p with p-2 (the Java broker's fast/VIP port) and p+1 (HA) also free.
pub(crate) fn free_broker_port() -> u16 {
    for _ in 0..200 {
        let p = free_port();
        if p > 1026 && p < 65534 && [p - 2, p + 1].iter().all(|q| TcpListener::bind(("127.0.0.1", *q)).is_ok()) {
            return p;
        }
    }
    panic!("no free broker port triple");
}

pub(crate) fn wait_listening(port: u16, limit: Duration) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(30));
    }
    false
}

/// Builds `bin` of workspace package `package` into the target dir this test runs from (a no-op
/// when fresh). `None` when the workspace declares no such binary.
pub(crate) fn workspace_bin(package: &str, bin: &str) -> Option<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let meta = Command::new(&cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(ROOT)
        .output()
        .expect("cargo metadata");
    let meta: Value = serde_json::from_slice(&meta.stdout).expect("cargo metadata JSON");
    let declared = meta["packages"].as_array().into_iter().flatten().any(|p| {
        p["name"] == package
            && p["targets"]
                .as_array()
                .into_iter()
                .flatten()
                .any(|t| t["name"] == bin && t["kind"].as_array().is_some_and(|k| k.iter().any(|k| k == "bin")))
    });
    if !declared {
        return None;
    }
    // target/<profile>/deps/clients-HASH -> target/<profile>
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
    let target_dir = profile_dir.parent().unwrap();
    let mut cmd = Command::new(&cargo);
    cmd.args(["build", "--locked", "-p", package, "--bin", bin]).current_dir(ROOT).env("CARGO_TARGET_DIR", target_dir);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        cmd.arg("--release");
    }
    let st = cmd.status().expect("cargo build");
    assert!(st.success(), "cargo build -p {package} --bin {bin} failed");
    let path = profile_dir.join(bin);
    assert!(path.exists(), "{} missing after cargo build", path.display());
    Some(path)
}

pub(crate) struct Daemon {
    pub(crate) name: &'static str,
    pub(crate) child: Child,
    pub(crate) port: u16,
    pub(crate) dir: tempfile::TempDir,
}

impl Daemon {
    pub(crate) fn start(name: &'static str, bin: &Path, conf_text: &str, port: u16) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let conf = dir.path().join(format!("{name}.properties"));
        // `{dir}` in the text: this daemon's own temp dir (stores, kv config), removed on drop.
        std::fs::write(&conf, conf_text.replace("{dir}", &dir.path().display().to_string())).unwrap();
        let log = std::fs::File::create(dir.path().join(format!("{name}.log"))).unwrap();
        let mut cmd = Command::new(bin);
        die_with_parent(&mut cmd);
        let child = cmd
            .arg("-c")
            .arg(&conf)
            .env("HOME", dir.path())
            .env("ROCKETMQ_HOME", dir.path())
            .env("RMQ_LOG", std::env::var("RMQ_LOG").unwrap_or_else(|_| "info".into()))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", bin.display()));
        let mut d = Daemon { name, child, port, dir };
        if !wait_listening(port, Duration::from_secs(20)) {
            panic!("{name} did not listen on {port}; log:\n{}", d.log());
        }
        if let Ok(Some(st)) = d.child.try_wait() {
            panic!("{name} exited: {st:?}; log:\n{}", d.log());
        }
        d
    }

    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{}.log", self.name))).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) fn start_namesrv() -> Daemon {
    let bin = workspace_bin("rmq-namesrv", "mqnamesrv").expect("the workspace builds mqnamesrv");
    let port = free_port();
    let conf = format!("listenPort={port}\nbindAddress=127.0.0.1\nkvConfigPath={{dir}}/kvConfig.json\n");
    Daemon::start("namesrv", &bin, &conf, port)
}
