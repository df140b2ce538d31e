//! Replaying captured client -> server exchanges against one of our servers.
//!
//! A [`Scene`] is built from one or more captures: every TCP connection whose
//! server port is the replayed one becomes a [`SceneConn`] (a connection seen in
//! an earlier capture of the scene and continued, without a handshake, in a later
//! one is the same connection), every request on it a [`Step`] paired with the
//! response Java sent (matched by opaque on that connection). [`run`] opens one
//! fresh connection of ours per captured connection, sends the requests in capture
//! time order with the same code/language/version/flag/remark/extFields/body
//! (the opaque is assigned by our channel, responses are matched by it), and closes
//! our connection when the capture shows that connection's FIN/RST.

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Duration;

use rmq_remoting::codec::{decode_frame, DEFAULT_MAX_FRAME};
use rmq_remoting::transport::{Channel, Client, ClientConfig};
use rmq_remoting::{RemotingCommand, SerializeType};

use crate::pcap::{Capture, Timestamp};

#[derive(Debug, Clone)]
pub struct SceneConn {
    /// e.g. `mqadmin_updateTopic.pcap 127.0.0.1:49338 -> 127.0.0.1:19876`.
    pub label: String,
    pub client: SocketAddrV4,
    pub server: SocketAddrV4,
    /// Header serialization of the captured requests (our channel sends with this).
    pub serialize: SerializeType,
    /// When the capture shows the connection closing (first FIN or RST).
    pub closed_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub conn: usize,
    /// When the request frame was complete in the capture.
    pub ts: Timestamp,
    pub pcap: String,
    pub request: RemotingCommand,
    /// Java's response; `None` for oneway requests or when the capture lacks it.
    pub java_response: Option<RemotingCommand>,
}

#[derive(Debug, Clone, Default)]
pub struct Scene {
    pub name: String,
    pub conns: Vec<SceneConn>,
    pub steps: Vec<Step>,
    /// Frames seen but not replayed (e.g. server -> client requests, unmatched responses).
    pub notes: Vec<String>,
}

/// What happens, in capture time order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Request(usize),
    Close(usize),
}

/// Builds a scene from `pcaps` (merged in time order), keeping connections to `server_port`.
pub fn build_scene(name: &str, pcaps: &[PathBuf], server_port: u16) -> Result<Scene, String> {
    let mut scene = Scene { name: name.to_string(), ..Scene::default() };
    // Open scene connections by 4-tuple, for continuation across captures.
    let mut open: HashMap<(SocketAddrV4, SocketAddrV4), usize> = HashMap::new();
    let mut caps = Vec::new();
    for p in pcaps {
        let cap = Capture::open(p).map_err(|e| e.to_string())?;
        caps.push(cap);
    }
    caps.sort_by_key(|c| c.connections.iter().map(|c| c.first_ts).min());
    for cap in &caps {
        let pcap = cap.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut by_conn: HashMap<usize, usize> = HashMap::new();
        for c in cap.connections.iter().filter(|c| c.server.port() == server_port) {
            let key = (c.client, c.server);
            let idx = match open.get(&key) {
                Some(&i) if !c.opened_in_capture => i,
                _ => {
                    scene.conns.push(SceneConn {
                        label: format!("{pcap} {} -> {}", c.client, c.server),
                        client: c.client,
                        server: c.server,
                        serialize: SerializeType::Json,
                        closed_at: None,
                    });
                    scene.conns.len() - 1
                }
            };
            open.insert(key, idx);
            by_conn.insert(c.id, idx);
            if let Some(t) = c.closed_at() {
                scene.conns[idx].closed_at = Some(t);
                open.remove(&key);
            }
        }
        let mut responses: HashMap<(usize, i32), VecDeque<RemotingCommand>> = HashMap::new();
        for f in cap.remoting_frames(DEFAULT_MAX_FRAME).map_err(|e| e.to_string())? {
            let Some(&conn) = by_conn.get(&f.conn) else { continue };
            let cmd = decode_frame(f.after_length()).map_err(|e| format!("{pcap}: {e}"))?;
            match (f.from_client, cmd.is_response()) {
                (true, false) => {
                    scene.steps.push(Step { conn, ts: f.ts, pcap: pcap.clone(), request: cmd, java_response: None })
                }
                (false, true) => responses.entry((conn, cmd.opaque)).or_default().push_back(cmd),
                (false, false) => {
                    scene.notes.push(format!("{pcap}: server -> client request {} not replayed", cmd.describe()))
                }
                (true, true) => {
                    scene.notes.push(format!("{pcap}: client -> server response {} not replayed", cmd.describe()))
                }
            }
        }
        for s in scene.steps.iter_mut().filter(|s| s.pcap == pcap && !s.request.is_oneway()) {
            s.java_response = responses.get_mut(&(s.conn, s.request.opaque)).and_then(VecDeque::pop_front);
        }
        for ((conn, opaque), left) in responses {
            if !left.is_empty() {
                scene.notes.push(format!(
                    "{}: {} unmatched response(s) opaque {opaque}",
                    scene.conns[conn].label,
                    left.len()
                ));
            }
        }
    }
    // Each connection's requests share one serialization type in these captures; take the first.
    for (i, c) in scene.conns.iter_mut().enumerate() {
        if let Some(s) = scene.steps.iter().find(|s| s.conn == i) {
            c.serialize = s.request.serialize_type;
        }
    }
    Ok(scene)
}

impl Scene {
    /// Requests and closes in capture time order (a close after the requests of the same instant).
    pub fn events(&self) -> Vec<Event> {
        let mut ev: Vec<(Timestamp, u8, usize, Event)> = Vec::new();
        for (i, s) in self.steps.iter().enumerate() {
            ev.push((s.ts, 0, i, Event::Request(i)));
        }
        for (i, c) in self.conns.iter().enumerate() {
            if let Some(t) = c.closed_at {
                ev.push((t, 1, i, Event::Close(i)));
            }
        }
        ev.sort_by_key(|e| (e.0, e.1, e.2));
        ev.into_iter().map(|e| e.3).collect()
    }
}

/// Replay pacing.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    pub response_timeout: Duration,
    /// Pause after a oneway request (nothing tells us when the server processed it).
    pub after_oneway: Duration,
    /// Pause after closing a connection, so the server sees the close before the next event.
    pub after_close: Duration,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            response_timeout: Duration::from_secs(5),
            after_oneway: Duration::from_millis(150),
            after_close: Duration::from_millis(300),
        }
    }
}

/// What our server answered to one step: `Ok(None)` for oneway requests.
pub type StepOutcome = Result<Option<RemotingCommand>, String>;

/// Replays the scene against `addr`; one outcome per step.
pub async fn run(scene: &Scene, addr: SocketAddr, opts: &ReplayOptions) -> Vec<StepOutcome> {
    let mut outcomes: Vec<StepOutcome> = vec![Err("not replayed".into()); scene.steps.len()];
    let mut channels: HashMap<usize, Channel> = HashMap::new();
    let mut closed: Vec<bool> = vec![false; scene.conns.len()];
    for ev in scene.events() {
        match ev {
            Event::Request(i) => {
                let step = &scene.steps[i];
                if closed[step.conn] {
                    outcomes[i] = Err("request after the capture closed its connection".into());
                    continue;
                }
                let ch = match channels.get(&step.conn) {
                    Some(ch) => ch.clone(),
                    None => {
                        let config =
                            ClientConfig { serialize: scene.conns[step.conn].serialize, ..ClientConfig::default() };
                        match Client::new(config).connect(&addr.to_string()).await {
                            Ok(ch) => {
                                channels.insert(step.conn, ch.clone());
                                ch
                            }
                            Err(e) => {
                                outcomes[i] = Err(format!("connect: {e}"));
                                continue;
                            }
                        }
                    }
                };
                let mut req = step.request.clone();
                req.opaque = 0;
                outcomes[i] = if req.is_oneway() {
                    let r = ch.invoke_oneway(req).map(|_| None).map_err(|e| e.to_string());
                    tokio::time::sleep(opts.after_oneway).await;
                    r
                } else {
                    ch.invoke(req, opts.response_timeout).await.map(Some).map_err(|e| e.to_string())
                };
            }
            Event::Close(c) => {
                closed[c] = true;
                if let Some(ch) = channels.remove(&c) {
                    ch.close();
                    tokio::time::sleep(opts.after_close).await;
                }
            }
        }
    }
    for (_, ch) in channels {
        ch.close();
    }
    outcomes
}
