//! Installed clients and their drivers: `drivers()` runs `scripts/install-clients.sh` once per test
//! binary; a driver run is collected into a [`Run`] (JSON events, exit code, stderr); a driver in
//! the background is a [`Running`] (killed on drop).

use super::*;

#[derive(Clone, Debug)]
pub(crate) struct Driver {
    pub(crate) name: &'static str,
    pub(crate) program: PathBuf,
    pub(crate) prefix: Vec<String>,
    pub(crate) env: Vec<(String, String)>,
}

/// Runs the install script once per test binary. `None`: skipped by `RMQ_COMPAT_CLIENTS=0`.
pub(crate) fn drivers() -> Option<&'static Vec<Driver>> {
    static DRIVERS: OnceLock<Option<Vec<Driver>>> = OnceLock::new();
    DRIVERS
        .get_or_init(|| {
            let want = std::env::var("RMQ_COMPAT_CLIENTS").unwrap_or_default();
            if want == "0" || want == "none" {
                println!("SKIPPED: RMQ_COMPAT_CLIENTS={want}: third-party client tests not run");
                return None;
            }
            let t = Instant::now();
            let out = Command::new("bash")
                .arg(format!("{ROOT}/scripts/install-clients.sh"))
                .stderr(Stdio::inherit())
                .output()
                .expect("run scripts/install-clients.sh");
            assert!(out.status.success(), "scripts/install-clients.sh failed ({:?})", out.status);
            eprintln!("install-clients.sh: {:.1}s", t.elapsed().as_secs_f64());
            let manifest: HashMap<String, String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
                .collect();
            let mut ds = Vec::new();
            let py = |name: &'static str, key: &str| {
                manifest.get(key).map(|p| Driver {
                    name,
                    program: PathBuf::from(p),
                    prefix: vec![format!("{CLIENTS_DIR}/python/driver.py")],
                    env: vec![("PYTHONDONTWRITEBYTECODE".into(), "1".into())],
                })
            };
            ds.extend(py("cpp050", "RMQ_CLIENT_CPP050_PYTHON"));
            ds.extend(py("cpp044", "RMQ_CLIENT_CPP044_PYTHON"));
            if let (Some(node), Some(path)) = (manifest.get("RMQ_CLIENT_NODE"), manifest.get("RMQ_CLIENT_NODE_PATH")) {
                ds.push(Driver {
                    name: "ali-ons",
                    program: PathBuf::from(node),
                    prefix: vec![format!("{CLIENTS_DIR}/node/driver.js")],
                    env: vec![("NODE_PATH".into(), path.clone())],
                });
            }
            if let Some(bin) = manifest.get("RMQ_CLIENT_RUST_BIN") {
                ds.push(Driver { name: "rust", program: PathBuf::from(bin), prefix: vec![], env: vec![] });
            }
            // RMQ_COMPAT_CLIENTS=all (default) must give all four.
            if want.is_empty() || want == "all" || want == "1" {
                let names: Vec<_> = ds.iter().map(|d| d.name).collect();
                assert_eq!(names, ["cpp050", "cpp044", "ali-ons", "rust"], "manifest: {manifest:?}");
            }
            Some(ds)
        })
        .as_ref()
}

/// One driver run: its JSON events, exit code, and stderr (for failure messages).
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) client: &'static str,
    pub(crate) what: String,
    pub(crate) code: Option<i32>,
    pub(crate) events: Vec<Value>,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn of(&self, event: &str) -> Vec<&Value> {
        self.events.iter().filter(|e| e["event"] == event).collect()
    }

    pub(crate) fn unsupported(&self) -> bool {
        self.code == Some(2)
    }

    pub(crate) fn context(&self) -> String {
        let events: Vec<String> = self.events.iter().map(|e| e.to_string()).collect();
        let tail: String = self.stderr.chars().rev().take(3000).collect::<Vec<_>>().into_iter().rev().collect();
        format!(
            "[{} {}] exit {:?}\nevents:\n  {}\nstderr (tail):\n{}",
            self.client,
            self.what,
            self.code,
            events.join("\n  "),
            tail
        )
    }
}

/// A driver process running in the background; its events are collected as they come.
pub(crate) struct Running {
    pub(crate) client: &'static str,
    pub(crate) what: String,
    pub(crate) child: Child,
    pub(crate) events: Arc<Mutex<Vec<Value>>>,
    pub(crate) reader: Option<std::thread::JoinHandle<()>>,
    pub(crate) stderr_path: PathBuf,
    pub(crate) _home: tempfile::TempDir,
}

impl Driver {
    pub(crate) fn spawn(&self, scenario: &str, args: &[String]) -> Running {
        let home = tempfile::tempdir().unwrap();
        let stderr_path = home.path().join("driver.stderr");
        let mut cmd = Command::new(&self.program);
        die_with_parent(&mut cmd);
        cmd.args(&self.prefix).arg(scenario).args(args);
        // HOME: the C++ client writes its logs and offset snapshots under $HOME.
        cmd.env("HOME", home.path()).env_remove("NAMESRV_ADDR").env_remove("http_proxy").env_remove("https_proxy");
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(std::fs::File::create(&stderr_path).unwrap());
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {:?}: {e}", self.program));
        let events = Arc::new(Mutex::new(Vec::new()));
        let out = child.stdout.take().unwrap();
        let ev = events.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => ev.lock().unwrap().push(v),
                    Err(_) => ev.lock().unwrap().push(serde_json::json!({"event": "stdout", "line": line})),
                }
            }
        });
        Running {
            client: self.name,
            what: format!("{scenario} {}", args.join(" ")),
            child,
            events,
            reader: Some(reader),
            stderr_path,
            _home: home,
        }
    }

    pub(crate) fn run(&self, scenario: &str, args: &[String]) -> Run {
        self.spawn(scenario, args).wait(Duration::from_secs(120))
    }
}

impl Running {
    pub(crate) fn has(&self, event: &str) -> bool {
        self.events.lock().unwrap().iter().any(|e| e["event"] == event)
    }

    /// Waits for the driver's `ready` event (or its exit).
    pub(crate) fn wait_ready(&mut self, limit: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < limit {
            if self.has("ready") {
                return true;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return self.has("ready");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Waits for exit (the drivers bound their own run time; `limit` is a backstop).
    pub(crate) fn wait(mut self, limit: Duration) -> Run {
        let t = Instant::now();
        let code = loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                break st.code();
            }
            if t.elapsed() > limit {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
        let mut stderr = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.stderr_path) {
            let _ = f.read_to_string(&mut stderr);
        }
        let events = std::mem::take(&mut *self.events.lock().unwrap());
        Run { client: self.client, what: self.what.clone(), code, events, stderr }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The `received` events of a consumer run, by (compat_run, compat_seq).
pub(crate) fn received(run: &Run) -> BTreeMap<(String, u64), Vec<Value>> {
    let mut m: BTreeMap<(String, u64), Vec<Value>> = BTreeMap::new();
    for e in run.of("received") {
        let p = &e["properties"];
        if let (Some(r), Some(seq)) = (p["compat_run"].as_str(), p["compat_seq"].as_str().and_then(|s| s.parse().ok()))
        {
            m.entry((r.to_string(), seq)).or_default().push(e.clone());
        }
    }
    m
}

/// Every `sent` event of `producer` received exactly once by `consumer`, same body, tags, keys.
pub(crate) fn assert_exactly_once(producer: &Run, run_id: &str, consumer: &Run) {
    let got = received(consumer);
    for s in producer.of("sent") {
        let seq = s["seq"].as_u64().unwrap();
        let r = got.get(&(run_id.to_string(), seq));
        let n = r.map_or(0, Vec::len);
        assert_eq!(
            n,
            1,
            "{run_id} seq {seq} received {n} times by {}\n{}\n{}",
            consumer.client,
            producer.context(),
            consumer.context()
        );
        let r = &r.unwrap()[0];
        assert_eq!(r["bodySha256"], s["bodySha256"], "body of {run_id}/{seq}\n{}", consumer.context());
        assert_eq!(r["bodyLen"], s["bodyLen"]);
        if s["tags"].as_str().is_some_and(|t| !t.is_empty()) {
            assert_eq!(r["tags"], s["tags"], "tags of {run_id}/{seq}");
        }
        let keys = s["keys"].as_str().unwrap();
        assert!(
            r["keys"].as_str().unwrap_or("").split(' ').any(|k| k == keys),
            "keys of {run_id}/{seq}: {}",
            r["keys"]
        );
    }
}

/// Builds argument vectors: `args(&[("--topic", "T"), ...])`.
pub(crate) fn args(pairs: &[(&str, String)]) -> Vec<String> {
    pairs.iter().flat_map(|(k, v)| [k.to_string(), v.clone()]).filter(|s| !s.is_empty()).collect()
}

pub(crate) fn s<T: ToString>(v: T) -> String {
    v.to_string()
}
