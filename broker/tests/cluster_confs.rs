//! The shipped `conf/2m-2s-async` files start a cluster of two name servers and
//! two broker sets (`mqbroker -c`, the files as shipped plus ports, addresses and
//! store paths appended, as `scripts/start-cluster.sh` does), and `mqadmin
//! clusterList` prints it as Java 5.3.3 does: one row per broker address, the
//! sets by name, master (BID 0) before slave (BID 1), masters ACTIVATED, slaves not.

#[path = "slave_util/mod.rs"]
mod slave_util;

#[path = "../../admin/tests/common/java_cluster_format.rs"]
mod java_format;
use java_format::{java_header, java_row};
use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rmq_namesrv::{NameServer, NamesrvSettings};
use slave_util::broker_port;

/// A `mqbroker` child, stopped (SIGTERM, then SIGKILL) on drop.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn start(conf: &Path, log: PathBuf) -> Daemon {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_mqbroker"));
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
        let out = std::fs::File::create(&log).unwrap();
        let child = cmd
            .arg("-c")
            .arg(conf)
            .env("RMQ_LOG", "info")
            .stdout(Stdio::from(out.try_clone().unwrap()))
            .stderr(Stdio::from(out))
            .spawn()
            .unwrap();
        Daemon { child, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM: the broker's clean shutdown (unregisters, persists)
        #[cfg(unix)]
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        #[cfg(not(unix))]
        let _ = self.child.kill();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `mqadmin clusterList -n <namesrv>` through the mqadmin library: (status, stdout, stderr).
fn cluster_list(namesrv: &str) -> (i32, String, String) {
    let (out, err) = (Buf::default(), Buf::default());
    let ctx = rmq_admin::Ctx { out: Box::new(out.clone()), err: Box::new(err.clone()), namesrv: None };
    let args: Vec<String> = ["clusterList", "-n", namesrv].iter().map(|s| s.to_string()).collect();
    let code = rmq_admin::run(&args, ctx);
    let text = |b: &Buf| String::from_utf8(b.0.lock().unwrap().clone()).unwrap();
    (code, text(&out), text(&err))
}

/// The columns of a row printed with [`java_row`] (none of ours overflows its width).
fn columns(row: &str) -> Vec<String> {
    let widths =
        [(22, 2), (22, 2), (4, 2), (22, 1), (16, 2), (16, 2), (30, 2), (22, 2), (11, 2), (12, 2), (8, 2), (10, 0)];
    let mut out = Vec::new();
    let mut pos = 0;
    for (w, gap) in widths {
        out.push(row.get(pos..pos + w).unwrap_or_else(|| panic!("short row {row:?}")).trim().to_string());
        pos += w + gap;
    }
    out
}

fn wait_listening(port: u16, d: &Daemon) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(30), "broker on {port} never listened:\n{}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn two_name_servers_two_broker_sets_from_2m_2s_async() {
    let conf_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conf/2m-2s-async");
    let d = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let ns: Vec<_> = (0..2)
        .map(|i| rt.block_on(NameServer::start(NamesrvSettings::for_test(&d.path().join(format!("ns{i}"))))).unwrap())
        .collect();
    let ns_list = ns.iter().map(|n| n.local_addr().to_string()).collect::<Vec<_>>().join(";");

    // masters first: a slave learns its master from its first registration
    let mut daemons = Vec::new();
    let mut addrs = std::collections::HashMap::new();
    for name in ["broker-a", "broker-b", "broker-a-s", "broker-b-s"] {
        let shipped = std::fs::read_to_string(conf_dir.join(format!("{name}.properties"))).unwrap();
        let port = broker_port();
        let store = d.path().join(name);
        let conf = d.path().join(format!("{name}.properties"));
        let text = format!(
            "{shipped}\n# local cluster overrides\nlistenPort={port}\nnamesrvAddr={ns_list}\nbrokerIP1=127.0.0.1\n\
             brokerIP2=127.0.0.1\nbindAddress=127.0.0.1\nstorePathRootDir={}\nstorePathCommitLog={}\n\
             mappedFileSizeCommitLog=1048576\n",
            store.display(),
            store.join("commitlog").display()
        );
        std::fs::write(&conf, text).unwrap();
        let dmn = Daemon::start(&conf, d.path().join(format!("{name}.log")));
        wait_listening(port, &dmn);
        addrs.insert(name, format!("127.0.0.1:{port}"));
        daemons.push(dmn);
    }
    let logs = || daemons.iter().map(Daemon::log).collect::<Vec<_>>().join("\n----\n");

    for n in &ns {
        let n = n.local_addr().to_string();
        let t = Instant::now();
        let (code, out, err) = loop {
            let got = cluster_list(&n);
            if got.1.lines().count() == 5 || t.elapsed() > Duration::from_secs(30) {
                break got;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert_eq!(code, 0, "clusterList -n {n}: {err}\n{}", logs());
        let lines: Vec<&str> = out.split_inclusive('\n').collect();
        assert_eq!(lines.len(), 5, "name server {n}:\n{out}\n{err}\n{}", logs());
        assert_eq!(lines[0], java_header());
        println!("clusterList -n {n}:\n{out}");
        let want = [
            ("broker-a", "0", "broker-a", "true"),
            ("broker-a", "1", "broker-a-s", "false"),
            ("broker-b", "0", "broker-b", "true"),
            ("broker-b", "1", "broker-b-s", "false"),
        ];
        for (line, (set, bid, conf, active)) in lines[1..].iter().zip(want) {
            let c = columns(line);
            let version = rmq_remoting::codec::Version::CURRENT.desc();
            let expected: [&str; 12] = [
                "DefaultCluster",
                set,
                bid,
                &addrs[conf],
                version,
                "0.00(0,0ms)",
                "0.00(0,0ms|0,0ms)",
                "0-0(0.0w, 0.0, 0.0)",
                "0",
                &c[9],
                &c[10],
                active,
            ];
            let as_java = java_row(&[
                expected[0],
                expected[1],
                expected[2],
                expected[3],
                expected[4],
                "     0.00(0,0ms)",
                "     0.00(0,0ms|0,0ms)",
                expected[7],
                expected[8],
                expected[9],
                expected[10],
                expected[11],
            ]);
            assert_eq!(*line, as_java, "row of {conf}");
            // no message yet: earliestMessageTimeStamp -1, so hours since the epoch
            let hours: f64 = c[9].parse().unwrap();
            let now_h =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64() / 3600.0;
            assert!((hours - now_h).abs() < 0.1, "#Hour {hours} vs {now_h}");
            let space: f64 = c[10].parse().unwrap();
            assert!((0.0..=1.0).contains(&space) && c[10].len() == 6, "#SPACE {:?}", c[10]);
        }
    }
    drop(daemons);
    for n in ns {
        rt.block_on(n.shutdown());
    }
}
