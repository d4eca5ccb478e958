//! `POST /write` with InfluxDB line protocol, from the real `influx` CLI's INSERT and from raw
//! HTTP: the points come back through Prometheus remote read as the series `m{tags}` (field
//! `value`) and `m_<field>{tags}`, and InfluxQL as fields of `m`; bad lines are named while good ones are kept.

use tests::*;

fn bits(v: f64) -> u64 {
    v.to_bits()
}

fn read_name(g: &Gemini, name: &str) -> Series {
    g.read_samples("prometheus", query_all(vec![matcher(0, "__name__", name)]))
}

fn key(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
}

/// A server with `body` written to `prometheus` as line protocol (the directory goes last).
fn gemini_with_lines(body: &str) -> (Gemini, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    assert_eq!(g.post("/write?db=prometheus", &[], body.as_bytes()).status, 204);
    (g, dir)
}

#[test]
fn influx_cli_insert_is_read_back_by_remote_read() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gemini::start(dir.path(), &[]);
    for line in ["INSERT cpu,host=a,region=eu value=0.5,idle=97i 1700000000000000000", "INSERT cpu,host=a,region=eu value=0.75 1700000015000000000"] {
        let (ok, out) = g.influx(&["-database", "prometheus", "-execute", line]);
        assert!(ok, "{line}: {out}");
    }
    let cpu = read_name(&g, "cpu");
    assert_eq!(cpu[&key(&[("__name__", "cpu"), ("host", "a"), ("region", "eu")])], vec![(1_700_000_000_000, bits(0.5)), (1_700_000_015_000, bits(0.75))]);
    let idle = read_name(&g, "cpu_idle");
    assert_eq!(idle[&key(&[("__name__", "cpu_idle"), ("host", "a"), ("region", "eu")])], vec![(1_700_000_000_000, bits(97.0))]);
    let (_, text) = g.influx(&["-database", "prometheus", "-execute", "show measurements"]);
    assert!(text.contains("cpu\n") && !text.contains("cpu_idle"), "field idle is part of measurement cpu: {text}");
    let v = g.query_in("prometheus", "SHOW FIELD KEYS; SELECT * FROM cpu");
    assert_eq!(v["results"][0]["series"], serde_json::json!([{"name": "cpu", "columns": ["fieldKey", "fieldType"], "values": [["idle", "float"], ["value", "float"]]}]));
    assert_eq!(
        v["results"][1]["series"],
        serde_json::json!([{"name": "cpu", "columns": ["time", "host", "idle", "region", "value"], "values": [
            ["2023-11-14T22:13:20Z", "a", 97, "eu", 0.5],
            ["2023-11-14T22:13:35Z", "a", null, "eu", 0.75]
        ]}])
    );
    g.terminate();
    g.restart();
    let v = g.query_in("prometheus", "SHOW MEASUREMENTS; SELECT mean(*) FROM cpu");
    assert_eq!(v["results"][0]["series"][0]["values"], serde_json::json!([["cpu"]]), "the field registry survives a restart");
    assert_eq!(v["results"][1]["series"][0]["columns"], serde_json::json!(["time", "mean_idle", "mean_value"]));
}

#[test]
fn raw_writes_precision_partial_errors_and_status_codes() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    let body = "# a comment\nmem,host=b value=1,free=2.5 1700000000\n\nbad line here\nmem,host=b msg=\"text\" 1700000001\nmem,host=b value=3 1700000002\n";
    let a = g.post("/write?db=prometheus&precision=s", &[], body.as_bytes());
    assert_eq!(a.status, 400, "{}", a.text());
    let error: serde_json::Value = serde_json::from_slice(&a.body).unwrap();
    let error = error["error"].as_str().unwrap();
    assert!(error.starts_with("partial write: unable to parse 'bad line here': "), "{error}");
    assert!(error.contains("unable to parse 'mem,host=b msg=\"text\" 1700000001': field \"msg\" is a string"), "{error}");
    let mem = read_name(&g, "mem");
    assert_eq!(mem[&key(&[("__name__", "mem"), ("host", "b")])], vec![(1_700_000_000_000, bits(1.0)), (1_700_000_002_000, bits(3.0))], "good lines kept");
    assert_eq!(read_name(&g, "mem_free").values().next().unwrap(), &vec![(1_700_000_000_000, bits(2.5))]);

    assert_eq!(g.post("/write?db=prometheus&precision=ms", &[], b"up,job=x value=1 1700000000123").status, 204);
    assert_eq!(read_name(&g, "up").values().next().unwrap(), &vec![(1_700_000_000_123, bits(1.0))]);

    let gz = {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"gz value=7 1700000000000000000\n").unwrap();
        e.finish().unwrap()
    };
    assert_eq!(g.post("/write?db=prometheus", &[("Content-Encoding", "gzip")], &gz).status, 204);
    assert_eq!(read_name(&g, "gz").values().next().unwrap(), &vec![(1_700_000_000_000, bits(7.0))]);

    let a = g.post("/write?db=nope", &[], b"m value=1");
    assert_eq!(a.status, 404);
    assert!(a.text().contains("database not found"), "{}", a.text());
    let a = g.post("/write", &[], b"m value=1");
    assert_eq!(a.status, 400);
    assert!(a.text().contains("database is required"), "{}", a.text());
    let a = g.post("/write?db=prometheus&precision=d", &[], b"m value=1");
    assert_eq!(a.status, 400);
    assert!(a.text().contains("invalid precision"), "{}", a.text());
    assert_eq!(g.get("/write").status, 405);
    assert!(read_name(&g, "m").is_empty(), "refused requests store nothing");
}

#[test]
fn show_tag_keys_tag_values_and_field_keys() {
    let (g, _dir) = gemini_with_lines("cpu,host=a,region=eu value=1 1700000000000000000\ncpu,host=b value=2 1700000000000000000\nmem,host=a value=3 1700000000000000000\n");
    let v = g.query("SHOW TAG KEYS ON prometheus FROM cpu");
    assert_eq!(v["results"][0]["series"], serde_json::json!([{"name": "cpu", "columns": ["tagKey"], "values": [["host"], ["region"]]}]));
    let v = g.query("SHOW TAG VALUES ON prometheus WITH KEY = host");
    assert_eq!(
        v["results"][0]["series"],
        serde_json::json!([
            {"name": "cpu", "columns": ["key", "value"], "values": [["host", "a"], ["host", "b"]]},
            {"name": "mem", "columns": ["key", "value"], "values": [["host", "a"]]},
        ])
    );
    let v = g.query("SHOW FIELD KEYS ON prometheus FROM mem; SHOW TAG KEYS ON prometheus FROM nothing");
    assert_eq!(v["results"][0]["series"], serde_json::json!([{"name": "mem", "columns": ["fieldKey", "fieldType"], "values": [["value", "float"]]}]));
    assert_eq!(v["results"][1], serde_json::json!({"statement_id": 1}), "nothing matches: no series");
    let v = g.query("SHOW TAG KEYS");
    assert_eq!(v["results"][0]["error"], "database name required");
}

#[test]
fn show_series_and_cardinality() {
    let (g, _dir) = gemini_with_lines("cpu,host=a,region=eu\\ west value=1 1700000000000000000\ncpu,host=b value=2 1700000000000000000\nmem,host=a value=3 1700000000000000000\n");
    let v = g.query("SHOW SERIES ON prometheus");
    assert_eq!(v["results"][0]["series"], serde_json::json!([{"columns": ["key"], "values": [["cpu,host=a,region=eu\\ west"], ["cpu,host=b"], ["mem,host=a"]]}]));
    let v = g.query("SHOW SERIES ON prometheus FROM mem; SHOW SERIES CARDINALITY ON prometheus; SHOW SERIES CARDINALITY ON prometheus FROM cpu");
    assert_eq!(v["results"][0]["series"][0]["values"], serde_json::json!([["mem,host=a"]]));
    assert_eq!(v["results"][1]["series"], serde_json::json!([{"columns": ["cardinality estimation"], "values": [[3]]}]));
    assert_eq!(v["results"][2]["series"], serde_json::json!([{"name": "cpu", "columns": ["count"], "values": [[2]]}]));
    let v = g.query("SHOW SERIES EXACT CARDINALITY ON prometheus");
    assert_eq!(v["results"][0]["series"], serde_json::json!([{"name": "cpu", "columns": ["count"], "values": [[2]]}, {"name": "mem", "columns": ["count"], "values": [[1]]}]));
}
