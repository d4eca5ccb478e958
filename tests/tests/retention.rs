//! Retention policies end to end: data older than a policy's duration goes a whole time
//! partition at a time and the disk space comes back; `rp=` picks the policy on remote write
//! and remote read; the `--retention` setting (what the operator writes) sets the default
//! policy of the configured databases.

use proto::prometheus as pb;
use std::path::Path;
use std::time::Duration;
use tests::*;

const MIN: i64 = 60_000;

/// Bytes of RocksDB table files under the data directory. RocksDB deletes table files while
/// it compacts: a walk during which a file or directory vanished is no measure (it would count
/// that file as nothing) and is walked again.
fn sst_bytes(dir: &Path) -> u64 {
    /// The total, or `None` when something listed was gone by the time it was looked at.
    fn walk(p: &Path) -> Option<u64> {
        let gone = |e: &std::io::Error| e.kind() == std::io::ErrorKind::NotFound;
        let entries = match std::fs::read_dir(p) {
            Ok(rd) => rd,
            Err(e) if gone(&e) => return None,
            Err(e) => panic!("{}: {e}", p.display()),
        };
        let mut total = 0;
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) if gone(&e) => return None,
                Err(e) => panic!("{}: {e}", p.display()),
            };
            let path = entry.path();
            let kind = match entry.file_type() {
                Ok(k) => k,
                Err(e) if gone(&e) => return None,
                Err(e) => panic!("{}: {e}", path.display()),
            };
            if kind.is_dir() {
                total += walk(&path)?;
            } else if path.extension().is_some_and(|x| x == "sst") {
                match entry.metadata() {
                    Ok(m) => total += m.len(),
                    Err(e) if gone(&e) => return None,
                    Err(e) => panic!("{}: {e}", path.display()),
                }
            }
        }
        Some(total)
    }
    for _ in 0..100 {
        if let Some(total) = walk(dir) {
            return total;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{}: files vanished during 100 walks in a row", dir.display());
}

/// `n` series of metric `name`, one sample every 15 s over [from, to) ms, noisy enough not to
/// compress to nothing.
fn load(name: &str, n: usize, from: i64, to: i64) -> pb::WriteRequest {
    let timeseries = (0..n)
        .map(|i| {
            let samples: Vec<(i64, f64)> = (from..to).step_by(15_000).map(|t| (t, ((t / 15_000) as f64 * 1.37 + i as f64).sin() * 1e3)).collect();
            series(&[("__name__", name), ("instance", &format!("host-{i}:9100")), ("job", "node")], &samples)
        })
        .collect();
    pb::WriteRequest { timeseries, metadata: vec![] }
}

fn samples_in(g: &Gemini, target: &str, name: &str) -> usize {
    g.read_samples(target, query_all(vec![matcher(0, "__name__", name)])).values().map(Vec::len).sum()
}

#[test]
fn expired_partitions_are_dropped_and_the_disk_space_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gemini::start(dir.path(), &["--databases", "metrics", "--retention-check-interval", "1s"]);
    let ok = |a: serde_json::Value| assert!(a["results"][0].get("error").is_none(), "{a}");
    ok(g.query("CREATE RETENTION POLICY one_hour ON metrics DURATION 1d REPLICATION 1 SHARD DURATION 1h"));

    let now = now_s() * 1000;
    // Two hours old and older, in the 1h-partitioned policy and in the default one (kept
    // forever); fresh samples in the short policy, which must stay.
    let old = load("old_metric", 400, now - 5 * 60 * MIN, now - 2 * 60 * MIN);
    for target in ["metrics&rp=one_hour", "metrics"] {
        assert_eq!(g.write(target, &old).status, 204);
    }
    assert_eq!(g.write("metrics&rp=one_hour", &load("fresh_metric", 20, now - 10 * MIN, now)).status, 204);
    let old_samples = 400 * 3 * 60 * 4;
    assert_eq!(samples_in(&g, "metrics&rp=one_hour", "old_metric"), old_samples);
    assert_eq!(samples_in(&g, "metrics", "old_metric"), old_samples);
    assert_eq!(samples_in(&g, "metrics", "fresh_metric"), 0, "policies are separate");

    // Everything on disk in table files, then measure.
    assert_eq!(g.terminate(), Some(0));
    let before = sst_bytes(dir.path());
    g.restart();
    assert_eq!(samples_in(&g, "metrics&rp=one_hour", "old_metric"), old_samples, "a day-long policy keeps them");

    // The trigger: the policy becomes 1h with 1h partitions; the next check drops them.
    ok(g.query("ALTER RETENTION POLICY one_hour ON metrics DURATION 1h"));
    wait_until("the old samples going", Duration::from_secs(30), || samples_in(&g, "metrics&rp=one_hour", "old_metric") == 0);
    assert_eq!(samples_in(&g, "metrics&rp=one_hour", "fresh_metric"), 20 * 40, "fresh samples stay");
    assert_eq!(samples_in(&g, "metrics", "old_metric"), old_samples, "the default policy keeps everything");
    let series = g.query_in("metrics", "SHOW SERIES FROM old_metric");
    assert_eq!(series["results"][0]["series"][0]["values"].as_array().unwrap().len(), 400, "the default policy's series are still listed: {series}");
    let metrics = g.get("/metrics").text();
    let dropped = metrics.lines().find_map(|l| l.strip_prefix("gemini_retention_series_dropped_total ")).unwrap();
    assert_eq!(dropped, "400", "the old series of the short policy are gone");

    wait_until("the disk space coming back", Duration::from_secs(30), || sst_bytes(dir.path()) < before * 3 / 4);
    let after = sst_bytes(dir.path());
    println!("table files: {before} bytes before, {after} after");

    // Nothing comes back after a restart.
    assert_eq!(g.terminate(), Some(0));
    g.restart();
    assert_eq!(samples_in(&g, "metrics&rp=one_hour", "old_metric"), 0);
    assert_eq!(samples_in(&g, "metrics&rp=one_hour", "fresh_metric"), 20 * 40);
}

#[test]
fn data_written_older_than_a_one_hour_policy_goes_at_the_next_check() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--databases", "metrics", "--retention-check-interval", "1s"]);
    let a = g.query("CREATE RETENTION POLICY one_hour ON metrics DURATION 1h REPLICATION 1 SHARD DURATION 1h DEFAULT");
    assert!(a["results"][0].get("error").is_none(), "{a}");
    let now = now_s() * 1000;
    // Without rp= the write goes to the default policy, now one_hour.
    assert_eq!(g.write("metrics", &load("old_metric", 10, now - 3 * 60 * MIN, now - 2 * 60 * MIN)).status, 204);
    assert_eq!(g.write("metrics", &load("fresh_metric", 10, now - 5 * MIN, now)).status, 204);
    wait_until("the old samples going", Duration::from_secs(30), || samples_in(&g, "metrics", "old_metric") == 0);
    assert_eq!(samples_in(&g, "metrics&rp=one_hour", "fresh_metric"), 10 * 20);
    assert_eq!(samples_in(&g, "metrics&rp=autogen", "fresh_metric"), 0);

    // A policy that does not exist is named, for writes and reads alike.
    let missing = g.write("metrics&rp=nope", &load("x", 1, now - MIN, now));
    assert_eq!((missing.status, missing.text().as_str()), (404, r#"{"error":"retention policy not found: nope"}"#));
    let body = snap::raw::Encoder::new().compress_vec(&prost::Message::encode_to_vec(&pb::ReadRequest { queries: vec![], accepted_response_types: vec![] })).unwrap();
    let read = g.post("/api/v1/prom/read?db=metrics&rp=nope", &PROTO_HEADERS, &body);
    assert_eq!((read.status, read.text().as_str()), (404, r#"{"error":"retention policy not found: nope"}"#));
    let lines = g.post("/write?db=metrics&rp=nope", &[], b"cpu value=1");
    assert_eq!(lines.status, 404, "{}", lines.text());
}

#[test]
fn the_retention_setting_sets_the_default_policy_of_configured_databases() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gemini::start(dir.path(), &["--databases", "prometheus", "--retention", "30d"]);
    let show = |g: &Gemini| g.query_in("prometheus", "SHOW RETENTION POLICIES")["results"][0]["series"][0]["values"].clone();
    assert_eq!(show(&g), serde_json::json!([["autogen", "720h0m0s", "24h0m0s", 1, true]]));
    assert_eq!(g.terminate(), Some(0));
    drop(g);
    // Started again with another setting: the setting wins over what was stored.
    g = Gemini::start(dir.path(), &["--databases", "prometheus", "--retention", "1d"]);
    assert_eq!(show(&g), serde_json::json!([["autogen", "24h0m0s", "1h0m0s", 1, true]]));
    drop(g);
    let bad = std::process::Command::new(bin("gemini")).args(["serve", "--retention", "30 days"]).output().unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("retention: invalid duration \"30 days\""), "{}", String::from_utf8_lossy(&bad.stderr));
}

/// `SHOW RETENTION POLICIES` of `db`: its columns and rows.
fn policies(g: &Gemini, db: &str) -> (serde_json::Value, serde_json::Value) {
    let a = g.query_in(db, "SHOW RETENTION POLICIES");
    let s = &a["results"][0]["series"][0];
    (s["columns"].clone(), s["values"].clone())
}

#[test]
fn downsampled_tiers_keep_data_as_long_as_flags_and_influxql_say() {
    use serde_json::json;
    const INFLUX_COLUMNS: [&str; 5] = ["name", "duration", "shardGroupDuration", "replicaN", "default"];
    const TIER_COLUMNS: [&str; 7] = ["name", "duration", "shardGroupDuration", "replicaN", "default", "downsample5mDuration", "downsample1hDuration"];
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gemini::start(dir.path(), &["--databases", "prometheus", "--retention.raw", "30d", "--retention.5m", "365d", "--retention.1h", "inf"]);
    assert_eq!(policies(&g, "prometheus"), (json!(TIER_COLUMNS), json!([["autogen", "720h0m0s", "24h0m0s", 1, true, "8760h0m0s", "0s"]])));

    // InfluxQL: InfluxDB's columns until a tier has a duration of its own.
    let ok = |a: serde_json::Value| assert!(a["results"][0].get("error").is_none(), "{a}");
    ok(g.query("CREATE DATABASE other WITH DURATION 7d NAME week"));
    assert_eq!(policies(&g, "other"), (json!(INFLUX_COLUMNS), json!([["week", "168h0m0s", "24h0m0s", 1, true]])));
    ok(g.query("CREATE RETENTION POLICY month ON other DURATION 30d DOWNSAMPLE 5m DURATION 90d DEFAULT"));
    ok(g.query("ALTER RETENTION POLICY month ON other DOWNSAMPLE 1h DURATION 730d"));
    let want = json!([["week", "168h0m0s", "24h0m0s", 1, false, "168h0m0s", "168h0m0s"], ["month", "720h0m0s", "24h0m0s", 1, true, "2160h0m0s", "17520h0m0s"]]);
    assert_eq!(policies(&g, "other"), (json!(TIER_COLUMNS), want.clone()));
    let refused = g.query("ALTER RETENTION POLICY month ON other DOWNSAMPLE 5m DURATION 7d");
    assert_eq!(refused["results"][0]["error"], "downsample 5m duration must not be shorter than the retention policy duration", "{refused}");
    let bad = g.post(&format!("/query?q={}", urlencode("ALTER RETENTION POLICY month ON other DOWNSAMPLE 10m DURATION 1d")), &[], b"");
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert!(bad.text().contains("error parsing query: found 600000000000ns, expected 5m, 1h at line 1, char 50"), "{}", bad.text());
    assert_eq!(policies(&g, "other").1, want, "nothing changed");

    // Started again with only the raw duration (`--retention`, the same flag): the tiers keep theirs.
    assert_eq!(g.terminate(), Some(0));
    drop(g);
    g = Gemini::start(dir.path(), &["--databases", "prometheus", "--retention", "60d"]);
    assert_eq!(policies(&g, "prometheus").1, json!([["autogen", "1440h0m0s", "24h0m0s", 1, true, "8760h0m0s", "0s"]]));
    assert_eq!(policies(&g, "other").1, want, "databases not made at start are as InfluxQL left them");
    drop(g);
    // A tier shorter than the raw data is refused at start, naming the database and policy.
    let port = free_port().to_string();
    let args = ["serve", "--data-dir", dir.path().to_str().unwrap(), "--http-addr", &format!("127.0.0.1:{port}"), "--databases", "prometheus", "--retention.5m", "7d"];
    let out = std::process::Command::new(bin("gemini")).args(args).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("retention of database prometheus, policy autogen: downsample 5m duration must not be shorter than the retention policy duration"), "{stderr}");
}
