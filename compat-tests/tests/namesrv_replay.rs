//! Replays the name-server traffic of the golden captures against OUR name server and
//! compares every response with the one Java sent.
//!
//! Scenes (each on one fresh name server, because broker liveness depends on the
//! broker connections staying open and the 4.9.8 captures were one name-server run
//! spread over several pcaps):
//! * A, 4.9.8: `broker_register_namesrv.pcap` (broker-b master + slave of GoldenHACluster;
//!   broker-b was stopped before the next scene).
//! * B, 4.9.8: every other 4.9.8 capture with traffic to port 19876, merged in time order
//!   (broker-w's registration connection stays open across them).
//! * C, 5.3.3: `broker_namesrv_5x.pcap`. Port 19877 of 5.3.3 is the controller (own
//!   captures, `broker_controller.pcap`): never replayed here.
//!   The HA captures (`ha_*.pcap`) are raw HA protocol, not remoting: never replayed.
//!
//! Compared per response: code, flag, remark, language, version, serialize type,
//! extFields (as a map) and the body (JSON value after lenient parsing, plus the quoted /
//! bare form of every map key). The exemptions are listed in [`exemptions`], each with
//! its reason; nothing else is skipped.

use std::path::PathBuf;

use rmq_compat_tests::compare::{compare_response, Comparison, Policy};
use rmq_compat_tests::golden;
use rmq_compat_tests::pcap::Capture;
use rmq_compat_tests::replay::{self, ReplayOptions, Scene};

const NAMESRV_PORT: u16 = 19876;

/// One exemption from the comparison, with the reason it is legitimate.
struct Exemption {
    what: &'static str,
    applies_to: &'static str,
    reason: &'static str,
}

/// Everything the comparison leaves out. (No body field is exempt: none of the name-server
/// responses in these captures carries a timestamp or a dataVersion of the name server.
/// REGISTER_BROKER answers have no body since no ORDER_TOPIC_CONFIG KV entry exists; the
/// bodies of GET_ROUTEINFO_BY_TOPIC, GET_BROKER_CLUSTER_INFO and
/// GET_ALL_TOPIC_LIST_FROM_NAMESERVER have no time-dependent fields.)
fn exemptions() -> Vec<Exemption> {
    vec![
        Exemption {
            what: "header version",
            applies_to: "4.9.8 scenes",
            reason: "the version field is the sender's MQVersion ordinal: Java 4.9.8 answers 409, our \
                     server is a 5.3.3 name server and answers 479 (V5_3_3). Compared in the 5.3.3 scene.",
        },
        Exemption {
            what: "header serializeType",
            applies_to: "4.9.8 scenes",
            reason: "4.9.8 answers in the request's serialize type, 5.3.3 (which we implement; default \
                     NamesrvSettings) in its configured type, JSON by default (remoting.md §1). Compared \
                     in the 5.3.3 scene. extFields are then compared with 'absent' == 'empty', because \
                     the ROCKETMQ header Java used cannot tell them apart.",
        },
        Exemption {
            what: "element order of body /topicList and /clusterAddrTable/* arrays",
            applies_to: "all scenes",
            reason: "Java types are HashSet<String> (TopicList.topicList, ClusterInfo.clusterAddrTable \
                     values): the order is Java's hash iteration order, clients read them into sets. \
                     Elements are still compared as sets; order differences are printed.",
        },
    ]
}

fn policy(v4: bool) -> Policy {
    Policy {
        ignore_version: v4,
        ignore_serialize_type: v4,
        unordered_arrays: vec!["/topicList".into(), "/clusterAddrTable/*".into()],
        ignored_body_paths: vec![],
    }
}

fn wire(golden: &std::path::Path, version: &str, name: &str) -> PathBuf {
    golden.join(version).join("wire").join(name)
}

/// The captures of `version` with connections to the name server port (HA captures are raw
/// HA protocol, not remoting, and are left out).
fn namesrv_pcaps(golden: &std::path::Path, version: &str) -> Vec<PathBuf> {
    golden::wire_pcaps(golden, version)
        .expect("list captures")
        .into_iter()
        .filter(|p| !golden::is_ha_capture(p))
        .filter(|p| {
            let cap = Capture::open(p).unwrap_or_else(|e| panic!("{e}"));
            cap.connections.iter().any(|c| c.server.port() == NAMESRV_PORT)
        })
        .collect()
}

fn file_names(paths: &[PathBuf]) -> Vec<String> {
    paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect()
}

/// The comparison must see differences where there are some: Java's own answers to the same
/// request at two moments with different cluster state differ.
fn negative_control(scene: &Scene) {
    let bodies: Vec<_> =
        scene.steps.iter().filter(|s| s.request.code == 106).filter_map(|s| s.java_response.clone()).collect();
    let (first, last) = (bodies.first().expect("106 responses"), bodies.last().expect("106 responses"));
    assert_ne!(first.body, last.body, "negative control needs two different cluster infos");
    let c = compare_response(first, last, &policy(false));
    assert!(!c.diffs.is_empty(), "the comparison found no difference between different bodies");
    let mut renumbered = first.clone();
    renumbered.code = 1;
    renumbered.set_ext("x", "y");
    assert_eq!(compare_response(first, &renumbered, &policy(false)).diffs.len(), 2);
}

struct SceneReport {
    lines: Vec<String>,
    failures: Vec<String>,
    compared: usize,
    identical_bodies: usize,
}

async fn replay_scene(scene: &Scene, v4: bool) -> SceneReport {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = rmq_namesrv::NamesrvSettings::for_test(dir.path());
    let handle = rmq_namesrv::NameServer::start(settings).await.expect("start our name server");
    let outcomes = replay::run(scene, handle.local_addr(), &ReplayOptions::default()).await;
    handle.shutdown().await;
    let policy = policy(v4);
    let mut r = SceneReport { lines: Vec::new(), failures: Vec::new(), compared: 0, identical_bodies: 0 };
    r.lines.extend(scene.notes.iter().map(|n| format!("  note: {n}")));
    for (i, (step, outcome)) in scene.steps.iter().zip(outcomes).enumerate() {
        let req = &step.request;
        let what = format!(
            "{} step {i} [{}] {} {}{}",
            scene.name,
            scene.conns[step.conn].label,
            req.request_code(),
            req.ext_fields.as_ref().map(|e| format!("{e:?}")).unwrap_or_default(),
            if req.is_oneway() { " (oneway)" } else { "" }
        );
        let ours = match outcome {
            Err(e) => {
                r.failures.push(format!("{what}: no response from our name server: {e}"));
                continue;
            }
            Ok(None) => {
                r.lines.push(format!("  {what}: oneway, nothing to compare"));
                continue;
            }
            Ok(Some(ours)) => ours,
        };
        let Some(java) = &step.java_response else {
            r.lines.push(format!("  {what}: Java's response is not in the capture; ours: {}", ours.describe()));
            continue;
        };
        r.compared += 1;
        let c: Comparison = compare_response(java, &ours, &policy);
        if c.body_identical {
            r.identical_bodies += 1;
        }
        for t in &c.tolerated {
            r.lines.push(format!("  {what}: tolerated: {t}"));
        }
        if c.diffs.is_empty() {
            r.lines.push(format!("  {what}: OK{}", if c.body_identical { " (body byte-identical)" } else { "" }));
        }
        for d in c.diffs {
            r.failures.push(format!("{what}: {}:\n      java: {}\n      ours: {}", d.field, d.java, d.ours));
        }
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namesrv_responses_match_java() {
    let Some(golden) = golden::golden_dir_or_skip("namesrv_responses_match_java") else { return };
    // Scene B: every 4.9.8 capture with name-server traffic except scene A's.
    let b_pcaps: Vec<PathBuf> = namesrv_pcaps(&golden, "java-4.9.8")
        .into_iter()
        .filter(|p| !p.ends_with("broker_register_namesrv.pcap"))
        .collect();
    assert_eq!(
        file_names(&b_pcaps),
        [
            "broker_start_register_namesrv.pcap",
            "mqadmin_clusterList.pcap",
            "mqadmin_topicList.pcap",
            "mqadmin_updateTopic.pcap",
            "producer_namesrv_route.pcap",
            "send_single_rocketmq_serialize.pcap"
        ],
        "the 4.9.8 captures with name-server traffic changed"
    );
    // Scene C must hold all 5.3.3 name-server traffic (broker_controller.pcap is port 19877).
    assert_eq!(file_names(&namesrv_pcaps(&golden, "java-5.3.3")), ["broker_namesrv_5x.pcap"]);
    let scenes: Vec<(Scene, bool)> = vec![
        (
            replay::build_scene(
                "A(4.9.8)",
                &[wire(&golden, "java-4.9.8", "broker_register_namesrv.pcap")],
                NAMESRV_PORT,
            )
            .unwrap(),
            true,
        ),
        (replay::build_scene("B(4.9.8)", &b_pcaps, NAMESRV_PORT).unwrap(), true),
        (
            replay::build_scene("C(5.3.3)", &[wire(&golden, "java-5.3.3", "broker_namesrv_5x.pcap")], NAMESRV_PORT)
                .unwrap(),
            false,
        ),
    ];
    negative_control(&scenes[2].0);
    let mut failures = Vec::new();
    let mut out = String::new();
    for e in exemptions() {
        out.push_str(&format!("exempt: {} ({}): {}\n", e.what, e.applies_to, e.reason));
    }
    for (scene, v4) in &scenes {
        assert!(!scene.steps.is_empty(), "scene {} has no requests", scene.name);
        let missing = scene.steps.iter().filter(|s| !s.request.is_oneway() && s.java_response.is_none()).count();
        assert_eq!(missing, 0, "scene {}: Java responses missing from the capture", scene.name);
        let r = replay_scene(scene, *v4).await;
        out.push_str(&format!(
            "scene {}: {} connections ({} closed during the scene), {} requests, {} responses compared, \
             {} bodies byte-identical, {} differences\n",
            scene.name,
            scene.conns.len(),
            scene.conns.iter().filter(|c| c.closed_at.is_some()).count(),
            scene.steps.len(),
            r.compared,
            r.identical_bodies,
            r.failures.len()
        ));
        for l in &r.lines {
            out.push_str(l);
            out.push('\n');
        }
        failures.extend(r.failures);
    }
    eprintln!("{out}");
    assert!(failures.is_empty(), "{} response differences from Java:\n{}", failures.len(), failures.join("\n"));
}
