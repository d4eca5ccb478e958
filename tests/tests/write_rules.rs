//! Remote write rules as a user sees them: status codes and error texts for bad input (and
//! that nothing changed afterwards), duplicates, out-of-order samples, special float values,
//! remote write 2.0 headers, databases and streamed reads.

use prost::Message;
use proto::{prometheus as pb, write_v2 as v2};
use tests::*;

const STALE: u64 = 0x7ff0_0000_0000_0002;

fn stored(g: &Gemini, db: &str) -> Series {
    g.read_samples(db, query_all(vec![matcher(2, "__name__", ".+")]))
}

fn wr(series: Vec<pb::TimeSeries>) -> pb::WriteRequest {
    pb::WriteRequest { timeseries: series, metadata: vec![] }
}

fn error_of(a: &Answer) -> String {
    let v: serde_json::Value = serde_json::from_slice(&a.body).unwrap_or_else(|_| panic!("JSON error body, got {:?}", a.text()));
    v["error"].as_str().expect("error field").to_string()
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--max-body-bytes", "100000"]);
    let good = wr(vec![series(&[("__name__", "up"), ("job", "a")], &[(1000, 1.0)])]);
    assert_eq!(g.write("prometheus", &good).status, 204);
    let before = stored(&g, "prometheus");
    assert_eq!(before.len(), 1);

    let proto_body = |r: &pb::WriteRequest| snap::raw::Encoder::new().compress_vec(&r.encode_to_vec()).unwrap();
    let post = |path: &str, headers: &[(&str, &str)], body: &[u8]| g.post(path, headers, body);
    let w = "/api/v1/prom/write?db=prometheus";

    let a = post(w, &PROTO_HEADERS, b"definitely not snappy");
    assert_eq!(a.status, 400);
    assert!(error_of(&a).contains("snappy"), "{}", a.text());

    let a = post(w, &PROTO_HEADERS, &snap::raw::Encoder::new().compress_vec(b"\xff\xff\xff\xff").unwrap());
    assert_eq!(a.status, 400);
    assert!(error_of(&a).contains("protobuf"), "{}", a.text());

    let big: Vec<pb::TimeSeries> =
        (0..3000).map(|i| series(&[("__name__", "big"), ("i", &i.to_string())], &[(1000, i as f64)])).collect();
    let a = g.write("prometheus", &wr(big));
    assert_eq!(a.status, 413, "{}", a.text());
    assert!(error_of(&a).contains("too large"));

    let a = post(w, &[("Content-Type", "application/json"), ("Content-Encoding", "snappy")], &proto_body(&good));
    assert_eq!(a.status, 415);
    assert!(error_of(&a).contains("application/json"));
    let a = post(w, &[("Content-Type", "application/x-protobuf"), ("Content-Encoding", "gzip")], &proto_body(&good));
    assert_eq!(a.status, 415);
    assert!(error_of(&a).contains("gzip"));
    let a = post(w, &[("Content-Type", "application/x-protobuf;proto=foo.Bar"), ("Content-Encoding", "snappy")], &proto_body(&good));
    assert_eq!(a.status, 415);

    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("job", "a")], "missing metric name"),
        (&[("__name__", "x"), ("b", "1"), ("a", "1")], "not sorted"),
        (&[("__name__", "x"), ("a", "1"), ("a", "2")], "duplicate label name"),
        (&[("__name__", "x"), ("a", "")], "empty value"),
    ];
    for (labels, why) in cases {
        // The bad series comes second: the good one before it must not be stored either.
        let req = wr(vec![series(&[("__name__", "ok"), ("n", "1")], &[(5000, 5.0)]), series(labels, &[(5000, 1.0)])]);
        let a = g.write("prometheus", &req);
        assert_eq!(a.status, 400, "{labels:?}");
        assert!(error_of(&a).contains(why), "{labels:?}: {}", a.text());
    }

    let a = g.write("nope", &good);
    assert_eq!(a.status, 404);
    assert_eq!(error_of(&a), "database not found: nope");
    let a = post("/api/v1/prom/write", &PROTO_HEADERS, &proto_body(&good));
    assert_eq!(a.status, 400);
    assert_eq!(error_of(&a), "database is required");

    let bad_read = pb::ReadRequest { queries: vec![query_all(vec![matcher(2, "job", "(")])], accepted_response_types: vec![] };
    let a = post("/api/v1/prom/read?db=prometheus", &PROTO_HEADERS, &snap::raw::Encoder::new().compress_vec(&bad_read.encode_to_vec()).unwrap());
    assert_eq!(a.status, 400);
    assert!(error_of(&a).contains("invalid regular expression"), "{}", a.text());

    assert_eq!(stored(&g, "prometheus"), before, "bad requests changed stored data");
    assert_eq!(g.get("/ping").status, 204, "server still serving");
}

#[test]
fn duplicates_out_of_order_and_special_values() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    let specials = [(1000, f64::NAN), (2000, f64::from_bits(STALE)), (3000, f64::INFINITY), (4000, f64::NEG_INFINITY), (5000, 5e-324)];
    let req = wr(vec![series(&[("__name__", "special")], &specials)]);
    assert_eq!(g.write("prometheus", &req).status, 204);
    // A retried request is accepted silently and stores nothing twice.
    assert_eq!(g.write("prometheus", &req).status, 204);
    let got = stored(&g, "prometheus");
    let want: Vec<(i64, u64)> = specials.iter().map(|(t, v)| (*t, v.to_bits())).collect();
    assert_eq!(got[&vec![("__name__".to_string(), "special".to_string())]], want, "bit-exact, stored once");

    // A retried request whose samples already sit in full chunks is idempotent too; a changed
    // value among them is not.
    let long: Vec<(i64, f64)> = (0..300).map(|i| (10_000 + i * 1000, i as f64)).collect();
    let req = wr(vec![series(&[("__name__", "long")], &long)]);
    assert_eq!(g.write("prometheus", &req).status, 204);
    let a = g.write("prometheus", &req);
    assert_eq!(a.status, 204, "retry: {}", a.text());
    let mut changed = long.clone();
    changed[5].1 = -1.0;
    let a = g.write("prometheus", &wr(vec![series(&[("__name__", "long")], &changed)]));
    assert_eq!(a.status, 400);
    assert!(error_of(&a).starts_with("1 sample(s) rejected, 299 written"), "{}", a.text());
    let got = stored(&g, "prometheus");
    let want: Vec<(i64, u64)> = long.iter().map(|(t, v)| (*t, v.to_bits())).collect();
    assert_eq!(got[&vec![("__name__".to_string(), "long".to_string())]], want);

    // Older than the newest, and same timestamp with another value: rejected, named, rest kept.
    let req = wr(vec![
        series(&[("__name__", "special")], &[(4500, 1.0), (5000, 2.0), (6000, 3.0)]),
        series(&[("__name__", "other")], &[(1000, 7.0)]),
    ]);
    let a = g.write("prometheus", &req);
    assert_eq!(a.status, 400, "{}", a.text());
    let e = error_of(&a);
    assert!(e.contains("out of order sample") && e.contains("special{}"), "{e}");
    let got = stored(&g, "prometheus");
    assert_eq!(got[&vec![("__name__".to_string(), "other".to_string())]], vec![(1000, 7f64.to_bits())]);
    assert_eq!(got[&vec![("__name__".to_string(), "special".to_string())]].last(), Some(&(6000, 3f64.to_bits())));
    let a = g.write("prometheus", &wr(vec![series(&[("__name__", "other")], &[(1000, 8.0)])]));
    assert_eq!(a.status, 400);
    assert!(error_of(&a).contains("duplicate sample for timestamp"), "{}", a.text());
}

#[test]
fn remote_write_2_with_symbols_headers_and_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    let req = v2::Request {
        symbols: ["", "__name__", "http_requests_total", "job", "api", "Requests served.", "requests"].map(String::from).to_vec(),
        timeseries: vec![v2::TimeSeries {
            labels_refs: vec![1, 2, 3, 4],
            samples: vec![v2::Sample { value: 1.0, timestamp: 1000 }, v2::Sample { value: 2.0, timestamp: 2000 }],
            metadata: Some(v2::Metadata { r#type: 1, help_ref: 5, unit_ref: 6 }),
            ..Default::default()
        }],
    };
    let body = snap::raw::Encoder::new().compress_vec(&req.encode_to_vec()).unwrap();
    let headers = [
        ("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request"),
        ("Content-Encoding", "snappy"),
        ("X-Prometheus-Remote-Write-Version", "2.0.0"),
    ];
    let a = g.post("/api/v1/write", &headers, &body);
    assert_eq!(a.status, 204, "{}", a.text());
    assert_eq!(a.header("X-Prometheus-Remote-Write-Samples-Written"), Some("2"));
    assert_eq!(a.header("X-Prometheus-Remote-Write-Histograms-Written"), Some("0"));
    assert_eq!(a.header("X-Prometheus-Remote-Write-Exemplars-Written"), Some("0"));
    let got = stored(&g, "prometheus");
    let key = vec![("__name__".to_string(), "http_requests_total".to_string()), ("job".to_string(), "api".to_string())];
    assert_eq!(got[&key], vec![(1000, 1f64.to_bits()), (2000, 2f64.to_bits())]);

    let mut hist = req.clone();
    hist.timeseries[0].histograms.push(v2::Histogram::default());
    let body = snap::raw::Encoder::new().compress_vec(&hist.encode_to_vec()).unwrap();
    let a = g.post("/api/v1/write", &headers, &body);
    assert_eq!(a.status, 400);
    assert!(error_of(&a).contains("native histograms are not supported"), "{}", a.text());
}

#[test]
fn reads_apply_matchers_ranges_and_every_query() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    let mut ts = Vec::new();
    for (job, dev) in [("node", "lo"), ("node", "eth0"), ("node", "wlan0"), ("prom", "")] {
        let mut labels = vec![("__name__", "bytes"), ("job", job)];
        if !dev.is_empty() {
            labels.insert(1, ("device", dev));
        }
        // 1000 samples every 15 s: several chunks per series.
        let samples: Vec<(i64, f64)> = (0..1000).map(|i| (1_700_000_000_000 + i * 15_000, (i * 3) as f64)).collect();
        ts.push(series(&labels, &samples));
    }
    assert_eq!(g.write("prometheus", &wr(ts)).status, 204);
    let q = |matchers, start, end| pb::Query { start_timestamp_ms: start, end_timestamp_ms: end, matchers, hints: None };
    let base = 1_700_000_000_000i64;
    let got = g.read_samples("prometheus", q(vec![matcher(2, "device", "lo|eth.*")], i64::MIN, i64::MAX));
    assert_eq!(got.len(), 2);
    let got = g.read_samples("prometheus", q(vec![matcher(0, "device", ""), matcher(0, "__name__", "bytes")], i64::MIN, i64::MAX));
    assert_eq!(got.len(), 1, "empty matcher selects the series without the label");
    let got = g.read_samples("prometheus", q(vec![matcher(3, "job", "no"), matcher(0, "__name__", "bytes")], i64::MIN, i64::MAX));
    assert_eq!(got.len(), 4, "regex is anchored: 'no' does not match 'node'");
    let got = g.read_samples("prometheus", q(vec![matcher(1, "job", "node")], base + 15_000, base + 30_000));
    let samples = got.values().next().unwrap();
    assert_eq!(samples.iter().map(|s| s.0).collect::<Vec<_>>(), vec![base + 15_000, base + 30_000], "inclusive range");

    // Every query of a request gets its result, in order.
    let req = pb::ReadRequest {
        queries: vec![q(vec![matcher(0, "job", "prom")], i64::MIN, i64::MAX), q(vec![matcher(0, "device", "lo")], base, base)],
        accepted_response_types: vec![],
    };
    let resp = decode_samples(&g.read("prometheus", &req).body);
    assert_eq!(resp.results.len(), 2);
    assert_eq!(resp.results[0].timeseries[0].samples.len(), 1000);
    assert_eq!(resp.results[1].timeseries[0].samples.len(), 1);

    // Streamed answers equal the SAMPLES answers, each frame tagged with its query.
    for m in [vec![matcher(2, "__name__", ".+")], vec![matcher(0, "device", "eth0")]] {
        let all = g.read_samples("prometheus", q(m.clone(), base + 100_000, base + 5_000_000));
        let streamed = g.read_streamed("prometheus", q(m, base + 100_000, base + 5_000_000));
        assert!(!all.is_empty());
        assert_eq!(streamed, all);
    }
    // A series with more than a frame of chunks streams over several frames, all of it.
    let mut state = 1u64;
    let noisy: Vec<(i64, f64)> = (0..150_000)
        .map(|i| {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (base + i * 1000, f64::from_bits(state >> 2))
        })
        .collect();
    assert_eq!(g.write("prometheus", &wr(vec![series(&[("__name__", "noisy")], &noisy)])).status, 204);
    let noisy_q = || q(vec![matcher(0, "__name__", "noisy")], i64::MIN, i64::MAX);
    let a = g.read("prometheus", &pb::ReadRequest { queries: vec![noisy_q()], accepted_response_types: vec![1] });
    assert!(decode_frames(&a.body).len() >= 2, "more than one frame");
    let streamed = g.read_streamed("prometheus", noisy_q());
    assert_eq!(streamed.values().next().unwrap().len(), 150_000);
    assert_eq!(streamed, g.read_samples("prometheus", noisy_q()));

    let a = g.read("prometheus", &pb::ReadRequest { queries: req.queries.clone(), accepted_response_types: vec![1, 0] });
    let frames = decode_frames(&a.body);
    assert_eq!(frames.first().unwrap().query_index, 0);
    assert_eq!(frames.last().unwrap().query_index, 1);
}

#[test]
fn databases_and_metadata_via_query() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gemini::start(dir.path(), &["--databases", "prometheus,extra"]);
    let v = g.query("SHOW DATABASES");
    assert_eq!(v["results"][0]["series"][0]["values"], serde_json::json!([["prometheus"], ["extra"]]), "creation order, as InfluxDB");
    g.query("CREATE DATABASE fresh");
    let w = wr(vec![series(&[("__name__", "up"), ("job", "x")], &[(1000, 1.0)]), series(&[("__name__", "go_goroutines")], &[(1000, 9.0)])]);
    assert_eq!(g.write("fresh", &w).status, 204);
    let meta = pb::WriteRequest {
        timeseries: vec![],
        metadata: vec![pb::MetricMetadata { r#type: 2, metric_family_name: "up".into(), help: "Up.".into(), unit: "".into() }],
    };
    assert_eq!(g.write("fresh", &meta).status, 204, "metadata-only write");
    let v = g.query("SHOW MEASUREMENTS ON fresh");
    assert_eq!(v["results"][0]["series"][0]["values"], serde_json::json!([["go_goroutines"], ["up"]]));
    let v = g.query("SHOW MEASUREMENTS");
    assert_eq!(v["results"][0]["error"], "database name required");
    let m = g.get("/metrics").text();
    assert!(m.contains("gemini_samples_ingested_total 2\n"), "{m}");
    assert!(m.contains("gemini_active_series 2\n"), "{m}");
    assert!(m.contains("gemini_http_requests_total{path=\"/api/v1/prom/write\",code=\"204\"} 2\n"), "{m}");
    g.query("DROP DATABASE fresh");
    assert_eq!(g.write("fresh", &w).status, 404);
    g.query("CREATE DATABASE fresh");
    assert!(stored(&g, "fresh").is_empty(), "a dropped database's data is gone");
    // ... and stays gone after a crash, while what was written since comes back.
    let later = wr(vec![series(&[("__name__", "later")], &[(2000, 2.0)])]);
    assert_eq!(g.write("fresh", &later).status, 204);
    g.kill9();
    g.restart();
    let after = stored(&g, "fresh");
    assert_eq!(after.keys().map(|k| k[0].1.as_str()).collect::<Vec<_>>(), vec!["later"]);
    let v = g.query("SHOW DATABASES");
    assert_eq!(v["results"][0]["series"][0]["values"], serde_json::json!([["prometheus"], ["extra"], ["fresh"]]));
    let a = g.post("/query?q=SHOW%20NONSENSE", &[], b"");
    assert_eq!(a.status, 400);
    assert!(error_of(&a).starts_with("error parsing query: found NONSENSE"), "{}", a.text());
    let a = g.get("/query?q=SHOW%20DATABASES");
    assert_eq!(a.status, 200);
    let a = g.get("/api/v1/write");
    assert_eq!(a.status, 405);
    assert_eq!(error_of(&a), "method GET is not allowed on /api/v1/write");
    assert_eq!(g.get("/nope").status, 404);
    let ping = g.get("/ping");
    assert_eq!(ping.status, 204);
    assert!(ping.header("X-Influxdb-Version").is_some());
    let m = g.get("/metrics").text();
    assert!(m.contains("gemini_active_series 1\n"), "only `later` is left: {m}");
}
