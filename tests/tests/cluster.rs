//! Three (then four) `gemini` processes on loopback as one cluster: any node takes writes and
//! reads (remote read and PromQL alike), every series has its copies, a node lost with replication factor 2 loses no write
//! and no read, replication factor 1 answers 503 naming the missing node, the peer file grows
//! the cluster, and statements reach every node, also one that was down when they ran; a read
//! of many frames streams through any node with every copy merged away.

use proto::prometheus as pb;
use tests::cluster::*;
use tests::*;

/// How long a node may take to take another node's catalog changes.
const CATCH_UP: std::time::Duration = std::time::Duration::from_secs(15);

fn everything() -> pb::Query {
    query_all(vec![matcher(2, "__name__", ".+")])
}

/// How long a node leaves a peer that failed or refused a copy before trying it again.
const DOWN_FOR: std::time::Duration = std::time::Duration::from_secs(10);

/// The names `SHOW DATABASES` lists, from a successful answer (no error).
fn database_names(g: &Gemini) -> Vec<String> {
    let a = g.query("SHOW DATABASES");
    let result = &a["results"][0];
    assert!(result.get("error").is_none(), "{a}");
    assert_eq!(result["series"][0]["name"], "databases", "{a}");
    let values = result["series"][0]["values"].as_array().unwrap_or_else(|| panic!("{a}"));
    values.iter().map(|v| v[0].as_str().unwrap_or_else(|| panic!("{a}")).to_string()).collect()
}

/// The peers a node's `/health` lists.
fn peer_names(g: &Gemini) -> Vec<String> {
    let a = g.get("/health");
    assert_eq!(a.status, 200, "{}", a.text());
    let health: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    health["peers"].as_array().unwrap_or_else(|| panic!("{health}")).iter().map(|p| p["name"].as_str().unwrap().to_string()).collect()
}

/// Series held by one node alone, from its own metrics.
fn local_series(g: &Gemini) -> u64 {
    let metrics = g.get("/metrics").text();
    metrics.lines().find_map(|l| l.strip_prefix("gemini_active_series ")).unwrap().parse().unwrap()
}

/// The sum of a counter over its labels (every peer) in `g`'s /metrics.
fn metric_sum(g: &Gemini, name: &str) -> u64 {
    let metrics = g.get("/metrics").text();
    metrics.lines().filter(|l| l.starts_with(&format!("{name}{{"))).map(|l| l.rsplit(' ').next().unwrap().parse::<u64>().unwrap()).sum()
}

/// Series `i` of the gauge `name`: one sample, worth `i`, at `t`.
fn gauge(name: &str, i: usize, t: i64) -> pb::TimeSeries {
    series(&[("__name__", name), ("i", &i.to_string())], &[(t, i as f64)])
}

/// What reads must answer after `gauge(name, i, t)` for every `i` in `which` and `t` in
/// `times`: each series' samples, time and value.
fn gauges(name: &str, which: impl IntoIterator<Item = usize>, times: &[i64]) -> Series {
    let key = |i: usize| vec![("__name__".to_string(), name.to_string()), ("i".to_string(), i.to_string())];
    which.into_iter().map(|i| (key(i), times.iter().map(|t| (*t, (i as f64).to_bits())).collect())).collect()
}

/// Every series of `db` read through `g` (SAMPLES) is exactly `want`.
fn assert_holds(g: &Gemini, db: &str, want: &Series, when: &str) {
    let got = g.read_samples(db, everything());
    assert!(got == *want, "{when}, through {}: {:?}", g.port, first_difference(&got, want));
}

#[test]
fn three_nodes_with_two_copies_read_back_every_sample_once() {
    let files = tempfile::tempdir().unwrap();
    let c = cluster(3, 2, &files.path().join("peers"));
    let mut expected = fixture_writes();
    for samples in expected.values_mut() {
        samples.sort_by_key(|s| s.0);
        samples.dedup();
    }
    for (i, bin) in fixture_files("write-").iter().enumerate() {
        let a = send_captured(&c.nodes[(i * 7 + 1) % 3], bin);
        assert_eq!(a.status, 204, "{}: {}", bin.display(), a.text());
    }
    for g in &c.nodes {
        assert!(g.read_samples("prometheus", everything()) == expected, "SAMPLES through {}", g.port);
        assert!(g.read_streamed("prometheus", everything()) == expected, "streamed through {}", g.port);
    }
    // Two copies of each series, spread: no node holds everything. A forward that failed or
    // timed out (a loaded machine) sends that copy to the next node in hash order, which keeps
    // it besides handing it off: then a series may have a third copy, never more.
    let held: Vec<u64> = c.nodes.iter().map(local_series).collect();
    let total = expected.len() as u64;
    let mishaps: u64 = c.nodes.iter().map(|g| metric_sum(g, "gemini_cluster_forward_errors_total") + metric_sum(g, "gemini_cluster_failovers_total")).sum();
    match mishaps {
        0 => assert_eq!(held.iter().sum::<u64>(), 2 * total, "{held:?} for {total} series"),
        _ => assert!((2 * total..=3 * total).contains(&held.iter().sum::<u64>()), "{held:?} for {total} series after {mishaps} failed forwards"),
    }
    assert!(held.iter().all(|h| *h < total), "{held:?}");
    let metrics = c.nodes[0].get("/metrics").text();
    assert!(metrics.contains("gemini_cluster_forwarded_samples_total{peer="), "{metrics}");
    // InfluxQL answers for the whole cluster too, through any node: every sample of `up`, time
    // and value, in its series.
    let up: Series = expected.iter().filter(|(k, _)| k.iter().any(|(n, v)| n == "__name__" && v == "up")).map(|(k, s)| (k.clone(), s.clone())).collect();
    assert!(!up.is_empty());
    for g in &c.nodes {
        assert!(influxql_series(g, "SELECT value FROM up GROUP BY *") == up, "InfluxQL SELECT value FROM up through {}", g.port);
        let cardinality = g.query_in("prometheus", "SHOW SERIES CARDINALITY");
        assert_eq!(cardinality["results"][0]["series"][0]["values"][0][0].as_u64(), Some(total), "{cardinality}");
    }
}

#[test]
fn losing_any_one_node_loses_no_write_and_no_read() {
    let files = tempfile::tempdir().unwrap();
    let mut c = cluster(3, 2, &files.path().join("peers"));
    let mut written = 0;
    let t0 = now_s() * 1000 - 3_600_000;
    for victim in 0..3 {
        c.nodes[victim].kill9();
        // A writer keeps going through the others: every write succeeds.
        for round in 0..20 {
            let via = &c.nodes[(victim + 1 + round % 2) % 3];
            let t = t0 + (written as i64) * 1000;
            let req = pb::WriteRequest { timeseries: (0..50).map(|i| gauge("load", i, t)).collect(), metadata: vec![] };
            let a = via.write("prometheus", &req);
            assert_eq!(a.status, 204, "node {victim} down, write {round}: {}", a.text());
            written += 1;
        }
        // Reads through the survivors are complete: every sample written, time and value.
        let times: Vec<i64> = (0..written).map(|w| t0 + w as i64 * 1000).collect();
        let want = gauges("load", 0..50, &times);
        for g in c.nodes.iter().enumerate().filter(|(i, _)| *i != victim).map(|(_, g)| g) {
            let got = g.read_samples("prometheus", query_all(vec![matcher(0, "__name__", "load")]));
            assert!(got == want, "node {victim} down, through {}: {:?}", g.port, first_difference(&got, &want));
        }
        c.nodes[victim].restart();
        assert_eq!(c.nodes[victim].get("/ping").status, 204);
        let health: serde_json::Value = serde_json::from_slice(&c.nodes[victim].get("/health").body).unwrap();
        assert_eq!(health["peers"].as_array().unwrap().len(), 3, "{health}");
    }
    let failovers = c.nodes.iter().map(|g| g.get("/metrics").text()).filter(|m| m.contains("gemini_cluster_failovers_total{peer=")).count();
    assert!(failovers > 0, "copies went to the next node while one was down");
}

#[test]
fn one_copy_and_a_node_down_is_a_503_naming_it() {
    let files = tempfile::tempdir().unwrap();
    let mut c = cluster(3, 1, &files.path().join("peers"));
    let t = now_s() * 1000;
    let req = pb::WriteRequest { timeseries: (0..30).map(|i| gauge("up", i, t)).collect(), metadata: vec![] };
    assert_eq!(c.nodes[0].write("prometheus", &req).status, 204);
    assert_holds(&c.nodes[1], "prometheus", &gauges("up", 0..30, &[t]), "every node up");
    let gone = format!("127.0.0.1:{}", c.nodes[2].port);
    c.nodes[2].kill9();
    let body = snap::raw::Encoder::new().compress_vec(&prost::Message::encode_to_vec(&pb::ReadRequest { queries: vec![everything()], accepted_response_types: vec![] })).unwrap();
    let a = c.nodes[0].post("/api/v1/read?db=prometheus", &PROTO_HEADERS, &body);
    assert_eq!(a.status, 503, "{}", a.text());
    assert!(a.text().contains(&gone), "{}", a.text());
}

#[test]
fn the_peer_file_grows_the_cluster_and_statements_reach_every_node() {
    let files = tempfile::tempdir().unwrap();
    let peers = files.path().join("peers");
    let mut c = cluster(3, 2, &peers);
    let ok = |a: serde_json::Value| assert!(a["results"][0].get("error").is_none(), "{a}");
    // A database made on one node takes writes through another.
    ok(c.nodes[0].query("CREATE DATABASE shared"));
    let t = now_s() * 1000;
    let old = pb::WriteRequest { timeseries: (0..40).map(|i| gauge("old", i, t)).collect(), metadata: vec![] };
    assert_eq!(c.nodes[1].write("shared", &old).status, 204);

    // A fourth node joins: the others re-read the file.
    let port = free_port();
    let mut names = std::fs::read_to_string(&peers).unwrap();
    names.push_str(&format!("\n127.0.0.1:{port}"));
    std::fs::write(&peers, names).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fourth = start_node(port, dir.path(), 2, &peers);
    let fourth_name = format!("127.0.0.1:{port}");
    for g in &c.nodes {
        wait_until(&format!("{} reads the grown peer file", g.port), CATCH_UP, || peer_names(g).contains(&fourth_name));
    }
    // The new node may not have the database yet: then its copies go to the next nodes.
    let early = pb::WriteRequest { timeseries: (0..40).map(|i| gauge("early", i, t)).collect(), metadata: vec![] };
    let a = c.nodes[2].write("shared", &early);
    assert_eq!(a.status, 204, "{}", a.text());
    // The catalog exchange gives the new node the database; a peer that refused a copy is
    // tried again after 10 s.
    wait_until("the new node has the database", CATCH_UP, || database_names(&fourth).contains(&"shared".to_string()));
    // Written again (the same samples) until the new node takes its share: if it refused the
    // early copies, at most 10 s after that.
    let new = pb::WriteRequest { timeseries: (0..40).map(|i| gauge("new", i, t)).collect(), metadata: vec![] };
    wait_until("the new node takes copies of new series", CATCH_UP + DOWN_FOR, || {
        let a = c.nodes[2].write("shared", &new);
        assert_eq!(a.status, 204, "{}", a.text());
        own_series(&fourth, "shared", "new") > 0
    });
    c.nodes.push(fourth);
    let mut want = gauges("old", 0..40, &[t]);
    want.extend(gauges("early", 0..40, &[t]));
    want.extend(gauges("new", 0..40, &[t]));
    for g in &c.nodes {
        assert_holds(g, "shared", &want, "old, early and new series");
    }
    let fourth = &c.nodes[3];
    assert_eq!(own_series(fourth, "shared", "old"), 0, "old series stay where they were");
    let new_held = own_series(fourth, "shared", "new");
    assert!(new_held > 0 && new_held < 40, "the new node holds its share of the new series: {new_held}");
    // DROP DATABASE reaches every node.
    ok(c.nodes[3].query("DROP DATABASE shared"));
    for g in &c.nodes {
        let dbs = database_names(g);
        assert!(dbs.contains(&"prometheus".to_string()) && !dbs.contains(&"shared".to_string()), "{dbs:?} through {}", g.port);
    }
    let _ = &mut c;
}

#[test]
fn a_node_that_was_down_catches_up_on_databases_policies_and_users() {
    let files = tempfile::tempdir().unwrap();
    let mut c = cluster_with(3, 2, &files.path().join("peers"), &["--web.enable-admin-api"]);
    let ok = |a: serde_json::Value| assert!(a["results"][0].get("error").is_none(), "{a}");
    let t = now_s() * 1000;
    for db in ["gone", "again", "kept"] {
        ok(c.nodes[0].query(&format!("CREATE DATABASE {db}")));
        let req = pb::WriteRequest { timeseries: (0..30).map(|i| gauge("old", i, t)).collect(), metadata: vec![] };
        assert_eq!(c.nodes[1].write(db, &req).status, 204);
    }
    assert!(local_series(&c.nodes[2]) > 0, "the third node holds copies");
    c.nodes[2].kill9();
    // Every statement succeeds while a node is down; it takes them when it returns.
    for q in [
        "CREATE DATABASE fresh WITH DURATION 2d NAME two_days",
        "CREATE RETENTION POLICY hourly ON prometheus DURATION 1h REPLICATION 1 DEFAULT",
        "DROP DATABASE gone",
        "DROP DATABASE again",
        "CREATE DATABASE again",
        "CREATE USER ann WITH PASSWORD 'pw'",
        "GRANT READ ON fresh TO ann",
    ] {
        ok(c.nodes[0].query(q));
    }
    // Deletions too: 11 series dropped, 11 emptied, 1 deleted by Prometheus' admin API (its
    // regular expressions are anchored: `3` is only "3"), 7 left.
    ok(c.nodes[1].query_in("kept", "DROP SERIES FROM old WHERE i =~ /^1/"));
    ok(c.nodes[0].query_in("kept", "DELETE FROM old WHERE i =~ /^2/"));
    let a = c.nodes[1].post(&format!("/api/v1/admin/tsdb/delete_series?db=kept&match[]={}", urlencode("old{i=~\"3\"}")), &[], b"");
    assert_eq!(a.status, 204, "{}", a.text());
    c.nodes[2].restart();
    let back = &c.nodes[2];
    // Entries are applied in order (databases, policies, users): the grant comes last.
    let grants = || back.query("SHOW GRANTS FOR ann")["results"][0]["series"][0]["values"].clone();
    wait_until("the grant", CATCH_UP, || grants() == serde_json::json!([["fresh", "READ"]]));
    let dbs = database_names(back);
    assert!(dbs.contains(&"fresh".to_string()) && !dbs.contains(&"gone".to_string()), "{dbs:?}");
    let rps = back.query("SHOW RETENTION POLICIES ON prometheus");
    assert_eq!(rps["results"][0]["series"][0]["values"][1], serde_json::json!(["hourly", "1h0m0s", "1h0m0s", 1, true]), "{rps}");
    let rps = back.query("SHOW RETENTION POLICIES ON fresh");
    assert_eq!(rps["results"][0]["series"][0]["values"][0][0], "two_days", "{rps}");
    // What it held of the dropped databases went with them, also of the one made again, and
    // so did the series deleted while it was away: through every node 7 are left.
    wait_until("the deletions", CATCH_UP, || own_series(back, "kept", "old") <= 7);
    assert_eq!(local_series(back), own_series(back, "kept", "old") as u64);
    let kept = gauges("old", [0, 4, 5, 6, 7, 8, 9], &[t]);
    for g in &c.nodes {
        assert_holds(g, "kept", &kept, "the series neither dropped nor emptied");
        assert_holds(g, "again", &Series::new(), "a database dropped and made again");
    }
    // It takes writes for the new database, as every node does.
    let req = pb::WriteRequest { timeseries: (0..30).map(|i| gauge("new", i, t)).collect(), metadata: vec![] };
    let a = back.write("fresh", &req);
    assert_eq!(a.status, 204, "{}", a.text());
    assert_holds(&c.nodes[0], "fresh", &gauges("new", 0..30, &[t]), "written through the node that was down");
}

#[test]
fn the_first_admin_waits_until_every_peer_was_reached_then_holds_on_every_node() {
    std::env::set_var("GEMINI_CLUSTER_SECRET", SECRET);
    let files = tempfile::tempdir().unwrap();
    let peers = files.path().join("peers");
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    std::fs::write(&peers, ports.iter().map(|p| format!("127.0.0.1:{p}\n")).collect::<String>()).unwrap();
    let dirs: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let start = |i: usize| start_node_with(ports[i], dirs[i].path(), 2, &peers, &["--auth-enabled"]);
    let first = start(0);
    let _second = start(1);
    let create = format!("/query?q={}", urlencode("CREATE USER root WITH PASSWORD 'pw' WITH ALL PRIVILEGES"));
    // The third node may hold users of its own: no anonymous admin until it was reached.
    let a = first.post(&create, &[], b"");
    assert_eq!(a.status, 503, "{}", a.text());
    assert!(a.text().contains("once this node has reached every peer"), "{}", a.text());
    let third = start(2);
    wait_until("the first admin is accepted", CATCH_UP, || first.post(&create, &[], b"").status == 200);
    let root = [("Authorization", "Basic cm9vdDpwdw==")]; // root:pw
    wait_until("the admin reaches the third node", CATCH_UP, || third.post("/query?q=SHOW%20DATABASES", &root, b"").status == 200);
    assert_eq!(third.post("/query?q=SHOW%20DATABASES", &[], b"").status, 401);
    assert_eq!(third.post(&create, &[], b"").status, 401, "no second anonymous admin");
}

#[test]
fn promql_answers_alike_through_every_node_and_with_one_node_down() {
    let peers = tempfile::NamedTempFile::new().unwrap();
    let mut c = cluster(3, 2, peers.path());
    // 20 counters `pq_requests_total{instance="i<k>"}` growing by k every 15 s, for 10 minutes.
    let start_s = now_s() - 900;
    let timeseries = (0..20)
        .map(|k| {
            let samples: Vec<(i64, f64)> = (0..=40).map(|i| ((start_s + 15 * i) * 1000, (k * i) as f64)).collect();
            series(&[("__name__", "pq_requests_total"), ("instance", &format!("i{k:02}"))], &samples)
        })
        .collect();
    assert_eq!(c.nodes[0].write("prometheus", &pb::WriteRequest { timeseries, ..Default::default() }).status, 204);
    let end_s = start_s + 600;
    // Worked out by hand: at the last sample each counter k is at 40 k; 40 * (0 + 1 + ... + 19) = 7600.
    // Over any minute counter k grows by 4 k, which rate() reads as k / 15 per second.
    let check = |nodes: &[&Gemini]| {
        for g in nodes {
            assert_eq!(promql_value(g, "sum(pq_requests_total)", end_s), 7600.0);
            assert_eq!(promql_value(g, "count(pq_requests_total)", end_s), 20.0);
            let rate = promql_value(g, "sum(rate(pq_requests_total[1m]))", end_s);
            assert!((rate - 190.0 / 15.0).abs() < 1e-9, "{rate}");
            let top = promql(g, "topk(1, pq_requests_total)", end_s);
            assert_eq!(top.len(), 1, "{top:?}");
            assert_eq!(top[0]["metric"]["instance"], "i19", "{top:?}");
            let a = g.get(&format!("/api/v1/series?match[]=pq_requests_total&start={start_s}&end={end_s}"));
            assert_eq!(a.status, 200, "{}", a.text());
            let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
            assert_eq!(body["data"].as_array().map(|s| s.len()), Some(20), "{body}");
        }
    };
    check(&[&c.nodes[0], &c.nodes[1], &c.nodes[2]]);
    c.nodes[2].kill9();
    check(&[&c.nodes[0], &c.nodes[1]]);
}

/// Samples whose values change every bit of the mantissa: about 9 bytes each in XOR chunks.
fn noisy(seed: u64, t0: i64, n: usize) -> Vec<(i64, f64)> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407) | 1;
    (0..n)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (t0 + i as i64 * 1000, (x >> 11) as f64 / (1u64 << 53) as f64 * 1e6)
        })
        .collect()
}

#[test]
fn a_streamed_read_of_many_frames_through_any_node_answers_every_sample_once() {
    let peers = tempfile::NamedTempFile::new().unwrap();
    let c = cluster(3, 2, peers.path());
    // Three series of 150 000 samples (about 1.2 MB each in chunks: more than a frame apiece)
    // and 600 of 10 samples, each stored on two of the three nodes.
    let t0 = now_s() * 1000 - 150_000 * 1000;
    let mut written: Series = Series::new();
    let mut requests: Vec<pb::WriteRequest> = Vec::new();
    for k in 0..3u64 {
        let samples = noisy(k, t0, 150_000);
        let labels = [("__name__", "big"), ("k", &k.to_string())];
        for part in samples.chunks(25_000) {
            requests.push(pb::WriteRequest { timeseries: vec![series(&labels, part)], ..Default::default() });
        }
        written.insert(labels.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(), samples.iter().map(|(t, v)| (*t, v.to_bits())).collect());
    }
    for batch in 0..6 {
        let timeseries = (batch * 100..(batch + 1) * 100)
            .map(|i| {
                let samples: Vec<(i64, f64)> = (0..10).map(|j| (t0 + j * 60_000, (i * 10 + j as usize) as f64)).collect();
                let instance = format!("host{i:03}");
                written.insert(vec![("__name__".into(), "small".into()), ("instance".into(), instance.clone())], samples.iter().map(|(t, v)| (*t, v.to_bits())).collect());
                series(&[("__name__", "small"), ("instance", &instance)], &samples)
            })
            .collect();
        requests.push(pb::WriteRequest { timeseries, ..Default::default() });
    }
    for (i, req) in requests.iter().enumerate() {
        let a = c.nodes[i % 3].write("prometheus", req);
        assert_eq!(a.status, 204, "write {i}: {}", a.text());
    }
    let held: Vec<u64> = c.nodes.iter().map(local_series).collect();
    assert_eq!(held.iter().sum::<u64>(), 2 * 603, "two copies of each series: {held:?}");
    // A part of the range too: copies are cut to it, the expected samples are those inside it.
    let mut hosts: Vec<String> = (0..600).map(|i| format!("host{i:03}")).collect();
    hosts.sort();
    let listing = |g: &Gemini, path: &str| {
        let a = g.get(path);
        assert_eq!(a.status, 200, "{path} through {}: {}", g.port, a.text());
        serde_json::from_slice::<serde_json::Value>(&a.body).unwrap()["data"].clone()
    };
    for g in &c.nodes {
        // Each node holds two thirds of the series: the listings are every node's indexes'.
        assert_eq!(listing(g, "/api/v1/labels"), serde_json::json!(["__name__", "instance", "k"]));
        assert_eq!(listing(g, "/api/v1/label/instance/values"), serde_json::json!(hosts));
        let after = format!("/api/v1/label/__name__/values?start={}", (t0 + 10 * 60_000) / 1000);
        assert_eq!(listing(g, &after), serde_json::json!(["big"]), "the small series end at t0 + 9 min");
    }
    let (from, to) = (t0 + 20_500, t0 + 130_000_500);
    let part: Series = written.iter().map(|(k, s)| (k.clone(), s.iter().copied().filter(|(t, _)| *t >= from && *t <= to).collect::<Vec<_>>())).filter(|(_, s)| !s.is_empty()).collect();
    for g in &c.nodes {
        let request = pb::ReadRequest { queries: vec![everything()], accepted_response_types: vec![1] };
        let frames = decode_frames(&g.read("prometheus", &request).body);
        assert!(frames.len() > 3, "{} frames through {}", frames.len(), g.port);
        let split = frames.windows(2).filter(|w| w[0].chunked_series.last().map(|s| &s.labels) == w[1].chunked_series.first().map(|s| &s.labels)).count();
        assert!(split >= 3, "each big series (over 1 MiB) goes on over frames: {split} through {}", g.port);
        let streamed = g.read_streamed("prometheus", everything());
        assert!(streamed == written, "streamed through {}: {} series of {}; differences: {:?}", g.port, streamed.len(), written.len(), first_difference(&streamed, &written));
        let samples = g.read_samples("prometheus", everything());
        assert!(samples == written, "SAMPLES through {}: {:?}", g.port, first_difference(&samples, &written));
        let range = pb::Query { start_timestamp_ms: from, end_timestamp_ms: to, ..everything() };
        let streamed = g.read_streamed("prometheus", range.clone());
        assert!(streamed == part, "streamed part through {}: {:?}", g.port, first_difference(&streamed, &part));
        let samples = g.read_samples("prometheus", range);
        assert!(samples == part, "SAMPLES part through {}: {:?}", g.port, first_difference(&samples, &part));
    }
}

/// Where two answers part: the first series whose samples differ, with the counts.
fn first_difference(got: &Series, want: &Series) -> Option<String> {
    let keys: std::collections::BTreeSet<_> = got.keys().chain(want.keys()).collect();
    keys.into_iter().find(|k| got.get(*k) != want.get(*k)).map(|k| format!("{k:?}: {:?} samples, {:?} written", got.get(k).map(Vec::len), want.get(k).map(Vec::len)))
}

/// An InfluxQL statement grouped by every tag, over `/query` with times in ms: each series'
/// samples under its tags (those it has), as written by remote write.
fn influxql_series(g: &Gemini, q: &str) -> Series {
    let a = g.post(&format!("/query?db=prometheus&epoch=ms&q={}", urlencode(q)), &[], b"");
    assert_eq!(a.status, 200, "{q}: {}", a.text());
    let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    let series = body["results"][0]["series"].as_array().unwrap_or_else(|| panic!("{q}: {body}"));
    let mut out = Series::new();
    for s in series {
        // GROUP BY * lists every tag key of the measurement, '' where a series has none.
        let mut key: Vec<(String, String)> = s["tags"].as_object().unwrap().iter().filter(|(_, v)| *v != "").map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string())).collect();
        key.sort();
        let rows = s["values"].as_array().unwrap().iter().map(|r| (r[0].as_i64().unwrap(), r[1].as_f64().unwrap_or_else(|| panic!("{q}: {r}")).to_bits()));
        out.insert(key, rows.collect());
    }
    out
}
