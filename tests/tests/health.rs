//! `/health` in a cluster tells each peer's reachability from how this node's last request to
//! it ended: a live node is `reachable: true`, a port where nothing listens is
//! `reachable: false` with the error within a few seconds (the catalog exchange contacts every
//! peer every 3 s), and a peer that accepts connections but never answers is `null` (not
//! known yet) until the request times out (10 s), then `false`.

use std::time::{Duration, Instant};
use tests::*;

const SECRET: &str = "health-test-secret";

fn peer<'a>(health: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    health["peers"].as_array().expect("peers listed").iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{name} missing from {health}"))
}

fn health(g: &Gemini) -> serde_json::Value {
    let a = g.get("/health");
    assert_eq!(a.status, 200, "{}", a.text());
    serde_json::from_slice(&a.body).unwrap()
}

#[test]
fn health_tells_live_dead_and_silent_peers_apart() {
    std::env::set_var("GEMINI_CLUSTER_SECRET", SECRET);
    // Accepts connections (the kernel completes the handshake) and never answers.
    let silent_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent = format!("127.0.0.1:{}", silent_listener.local_addr().unwrap().port());
    // Nothing listens here.
    let dead = format!("127.0.0.1:{}", free_port());
    let (a_port, b_port) = (free_port(), free_port());
    let (a_name, b_name) = (format!("127.0.0.1:{a_port}"), format!("127.0.0.1:{b_port}"));
    let peers = [a_name.as_str(), b_name.as_str(), dead.as_str(), silent.as_str()].join(",");
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let node = |port: u16, me: &str, dir: &std::path::Path| {
        Gemini::start_on(port, dir, &["--cluster.self", me, "--cluster.peers", &peers, "--cluster.replication-factor", "2"])
    };
    let _b = node(b_port, &b_name, b_dir.path());
    let started = Instant::now();
    let a = node(a_port, &a_name, a_dir.path());

    // The first request to the silent peer cannot end before its 10 s timeout: until then
    // nothing is known of it.
    let first = health(&a);
    if started.elapsed() < Duration::from_secs(9) {
        assert_eq!(peer(&first, &silent)["reachable"], serde_json::Value::Null, "no request to {silent} has ended yet: {first}");
    } else {
        eprintln!("node started too slowly ({:?}) to see the silent peer before its timeout", started.elapsed());
    }
    assert_eq!(peer(&first, &a_name), &serde_json::json!({ "name": a_name, "reachable": true }), "this node itself");

    // Within a few exchanges: the live peer answered, the dead one did not.
    let mut last = serde_json::Value::Null;
    wait_until("the live peer reachable and the dead one not", Duration::from_secs(10), || {
        last = health(&a);
        peer(&last, &b_name)["reachable"] == true && peer(&last, &dead)["reachable"] == false
    });
    let gone = peer(&last, &dead);
    assert!(gone["error"].as_str().is_some_and(|e| !e.is_empty()), "an unreachable peer comes with the error: {gone}");
    assert_eq!(peer(&last, &b_name), &serde_json::json!({ "name": b_name, "reachable": true }));

    // The silent peer turns unreachable once its request times out.
    wait_until("the silent peer unreachable", Duration::from_secs(25), || {
        last = health(&a);
        peer(&last, &silent)["reachable"] == false
    });
    assert!(started.elapsed() >= Duration::from_secs(10), "the silent peer failed only at its 10 s timeout, not before: {last}");
    assert_eq!(last["status"], "pass", "unreachable peers do not fail the node's own health: {last}");
    assert_eq!(last["peers"].as_array().unwrap().len(), 4, "{last}");
    drop(silent_listener);
}
