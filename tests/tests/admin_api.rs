//! Prometheus' admin API end to end (issue 30): `delete_series`, `clean_tombstones` and
//! `snapshot` on gemini and on a real Prometheus 2.42 started with `--web.enable-admin-api`,
//! both holding the differential test's data set; the answers after each call must be the
//! same. A snapshot taken while a writer sends must hold every sample acknowledged before the
//! call, and a server started on it must answer them. Without the flag, and for a user who is
//! not an admin, the endpoints are refused as Prometheus refuses them.

use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tests::promql::*;
use tests::*;

const MIN: i64 = 60_000;

/// Prometheus gzips even its empty 204 unless asked not to.
const IDENTITY: [(&str, &str); 1] = [("Accept-Encoding", "identity")];

fn admin(base: &str, call: &str) -> Answer {
    post_url(&format!("{base}/api/v1/admin/tsdb/{call}"), &IDENTITY, b"")
}

/// The same range query on both; gemini's answer must equal Prometheus'.
fn same_range(p: &Prometheus, g: &Gemini, q: &str, start: i64, end: i64, what: &str) -> Reply {
    let params = [("query", q.to_string()), ("start", secs(start)), ("end", secs(end)), ("step", "60".to_string())];
    let want = ask(&p.url(""), "/api/v1/query_range", &params, false);
    assert!(want.ok(), "{what}: Prometheus answers {}", want.text);
    let got = ask(&g.url(""), "/api/v1/query_range", &params, false);
    assert!(got.ok(), "{what}: gemini answers {}", got.text);
    compare(&want, &got, false).unwrap_or_else(|e| panic!("{what}: {q}: {e}"));
    got
}

/// The series endpoint on both; the same label sets.
fn same_series(p: &Prometheus, g: &Gemini, selector: &str, what: &str) -> usize {
    let params = [("match[]", selector.to_string())];
    let want = ask(&p.url(""), "/api/v1/series", &params, false);
    let got = ask(&g.url(""), "/api/v1/series", &params, false);
    assert!(want.ok() && got.ok(), "{what}: {} / {}", want.text, got.text);
    assert_eq!(got.json["data"], want.json["data"], "{what}: {selector}");
    got.json["data"].as_array().unwrap().len()
}

/// How many series gemini lists for `selector`.
fn series_count(g: &Gemini, selector: &str) -> usize {
    let got = ask(&g.url(""), "/api/v1/series", &[("match[]", selector.to_string())], false);
    assert!(got.ok(), "{}", got.text);
    got.json["data"].as_array().unwrap().len()
}

#[test]
fn deletes_and_snapshots_as_prometheus_does() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let d = DataSet::new(now);
    let p = Prometheus::start_with("scrape_configs: []\n", &["--web.enable-remote-write-receiver", "--web.enable-admin-api"]);
    d.write_to_prometheus(&p.url(""));
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--web.enable-admin-api"]);
    d.write_to_gemini(&g);
    let (start, end) = (d.start_ms, d.end_ms());
    let cpu = "node_cpu_seconds_total";
    same_range(&p, &g, cpu, start, end, "before any deletion");
    assert_eq!(same_series(&p, &g, "node_memory_free_bytes", "before"), 2);

    // The samples of one host in the middle hour.
    let (from, to) = (start + 30 * MIN, start + 90 * MIN);
    let call = format!("delete_series?match[]={}&start={}&end={}", urlencode("node_cpu_seconds_total{instance=\"host-b:9100\"}"), secs(from), secs(to));
    for base in [p.url(""), g.url("")] {
        let a = admin(&base, &call);
        assert_eq!(a.status, 204, "{base}: {}", a.text());
        assert!(a.body.is_empty(), "{base}: {}", a.text());
    }
    let after = same_range(&p, &g, cpu, start, end, "after deleting a range");
    let hole = after.json["data"]["result"].as_array().unwrap().iter().filter(|s| s["metric"]["instance"] == "host-b:9100").count();
    assert!(hole > 0, "host-b keeps its samples outside the range: {}", clip(&after.text));

    // Whole series, two selectors at once, with a POST form body.
    let form = format!("match[]={}&match[]={}", urlencode("node_memory_free_bytes"), urlencode("{__name__=\"http_requests_total\",code=\"500\"}"));
    for base in [p.url(""), g.url("")] {
        let a = post_url(&format!("{base}/api/v1/admin/tsdb/delete_series"), &[IDENTITY[0], ("Content-Type", "application/x-www-form-urlencoded")], form.as_bytes());
        assert_eq!(a.status, 204, "{base}: {}", a.text());
    }
    // Prometheus lists a deleted series until its head is compacted; its samples are gone.
    let gone = same_range(&p, &g, "node_memory_free_bytes", start, end, "after deleting the series");
    assert_eq!(gone.json["data"]["result"], serde_json::json!([]), "{}", gone.text);
    assert_eq!(series_count(&g, "node_memory_free_bytes"), 0, "gemini forgets a deleted series");
    assert!(same_series(&p, &g, "http_requests_total{code!=\"500\"}", "the other codes stay") > 0);
    same_range(&p, &g, "sum by (code) (rate(http_requests_total[5m]))", start, end, "after deleting one code");

    // Bad calls: the same status on both.
    for (call, why) in [("delete_series", "no match[]"), ("delete_series?match[]=rate(up[5m])", "not a selector"), ("delete_series?match[]=up&start=x", "bad start")] {
        let (want, got) = (admin(&p.url(""), call), admin(&g.url(""), call));
        assert_eq!((got.status, want.status), (400, 400), "{why}: {} / {}", want.text(), got.text());
        let body: serde_json::Value = serde_json::from_slice(&got.body).unwrap();
        assert_eq!((body["status"].as_str(), body["errorType"].as_str()), (Some("error"), Some("bad_data")), "{why}: {body}");
    }
    let get = |base: String| agent().get(&format!("{base}/api/v1/admin/tsdb/snapshot")).call().unwrap().status().as_u16();
    assert_eq!(get(g.url("")), get(p.url("")), "GET is not one of the admin API's methods");

    for base in [p.url(""), g.url("")] {
        let a = admin(&base, "clean_tombstones");
        assert_eq!(a.status, 204, "{base}: {}", a.text());
    }
    same_range(&p, &g, cpu, start, end, "after cleaning tombstones");

    // A snapshot: the same answer shape on both, and a data directory gemini starts on.
    let name_of = |a: &Answer| -> String {
        assert_eq!(a.status, 200, "{}", a.text());
        let body: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
        assert_eq!(body["status"], "success", "{body}");
        let name = body["data"]["name"].as_str().unwrap_or_else(|| panic!("no name in {body}")).to_string();
        let (time, hex) = name.split_once('-').unwrap_or_else(|| panic!("{name}"));
        assert!(time.len() == 16 && time.ends_with('Z') && &time[8..9] == "T", "{name}");
        assert!(hex.len() == 16 && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()), "{name}");
        name
    };
    name_of(&admin(&p.url(""), "snapshot"));
    let name = name_of(&admin(&g.url(""), "snapshot?skip_head=true"));
    let copy_dir = dir.path().join("snapshots").join(&name);
    assert!(copy_dir.is_dir(), "{} is missing", copy_dir.display());
    let copy = Gemini::start(&copy_dir, &[]);
    let params = [("query", cpu.to_string()), ("start", secs(start)), ("end", secs(end)), ("step", "60".to_string())];
    let want = ask(&g.url(""), "/api/v1/query_range", &params, false);
    let got = ask(&copy.url(""), "/api/v1/query_range", &params, false);
    assert!(want.ok() && got.ok(), "{} / {}", want.text, got.text);
    assert_eq!(got.json, want.json, "the snapshot answers as the server did");
    assert_eq!(series_count(&copy, "node_memory_free_bytes"), 0, "a deleted series stays deleted in the snapshot");
}

#[test]
fn a_snapshot_taken_while_writing_holds_every_acknowledged_sample() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--web.enable-admin-api"]);
    let base_t = (now_s() - 3600) * 1000;
    let url = g.url("/api/v1/write");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let acked = std::sync::Arc::new(std::sync::atomic::AtomicI64::new(0));
    let writer = {
        let (stop, acked, url) = (stop.clone(), acked.clone(), url.clone());
        std::thread::spawn(move || {
            let mut i = 0i64;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let req = proto::prometheus::WriteRequest { timeseries: vec![series(&[("__name__", "written"), ("job", "w")], &[(base_t + i * 1000, i as f64)])], metadata: vec![] };
                let a = post_url(&url, &PROTO_HEADERS, &write_body(&req));
                assert_eq!(a.status, 204, "{}", a.text());
                i += 1;
                acked.store(i, std::sync::atomic::Ordering::SeqCst);
            }
            i
        })
    };
    wait_until("the writer is under way", Duration::from_secs(30), || acked.load(std::sync::atomic::Ordering::SeqCst) >= 200);
    let before = acked.load(std::sync::atomic::Ordering::SeqCst);
    let a = admin(&g.url(""), "snapshot");
    assert_eq!(a.status, 200, "{}", a.text());
    let name = serde_json::from_slice::<serde_json::Value>(&a.body).unwrap()["data"]["name"].as_str().unwrap().to_string();
    wait_until("the writer goes on", Duration::from_secs(30), || acked.load(std::sync::atomic::Ordering::SeqCst) >= before + 100);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let written = writer.join().unwrap();

    let read_all = |g: &Gemini| -> Vec<(i64, u64)> {
        let found = g.read_samples("prometheus", query_all(vec![matcher(0, "__name__", "written")]));
        found.into_values().next().unwrap_or_default()
    };
    let original = read_all(&g);
    assert_eq!(original.len() as i64, written, "the original keeps taking writes");
    let copy = Gemini::start(&dir.path().join("snapshots").join(&name), &[]);
    let snap = read_all(&copy);
    assert!(snap.len() as i64 >= before, "{} samples in the snapshot, {before} acknowledged before it", snap.len());
    let want: Vec<(i64, u64)> = (0..snap.len() as i64).map(|i| (base_t + i * 1000, (i as f64).to_bits())).collect();
    assert_eq!(snap, want, "the snapshot holds a prefix of what was written, without gaps");
}

#[test]
fn refused_without_the_flag_or_admin_rights() {
    let p = Prometheus::start_with("scrape_configs: []\n", &[]);
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    for call in ["delete_series?match[]=up", "clean_tombstones", "snapshot"] {
        let (want, got) = (admin(&p.url(""), call), admin(&g.url(""), call));
        assert_eq!(got.status, want.status, "{call}: {} / {}", want.text(), got.text());
        assert_eq!(got.text(), want.text(), "{call}");
    }
    assert!(!dir.path().join("snapshots").exists(), "nothing taken");

    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--web.enable-admin-api", "--auth-enabled"]);
    let q = |stmt: &str| post_url(&g.url(&format!("/query?u=root&p=secret&q={}", urlencode(stmt))), &[], b"");
    assert_eq!(post_url(&g.url(&format!("/query?q={}", urlencode("CREATE USER root WITH PASSWORD 'secret' WITH ALL PRIVILEGES"))), &[], b"").status, 200);
    assert_eq!(q("CREATE USER reader WITH PASSWORD 'pw'").status, 200);
    assert_eq!(q("GRANT READ ON prometheus TO reader").status, 200);
    let a = admin(&g.url(""), "snapshot");
    assert_eq!(a.status, 401, "{}", a.text());
    let a = post_url(&g.url("/api/v1/admin/tsdb/snapshot?u=reader&p=pw"), &[], b"");
    assert_eq!(a.status, 403, "{}", a.text());
    assert!(a.text().contains("admin"), "{}", a.text());
    assert!(!dir.path().join("snapshots").exists(), "nothing taken");
    let a = post_url(&g.url("/api/v1/admin/tsdb/snapshot?u=root&p=secret"), &[], b"");
    assert_eq!(a.status, 200, "{}", a.text());
}
