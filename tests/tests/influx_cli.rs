//! The real `influx` CLI (Debian's influxdb-client) manages databases through `/query`.

use tests::*;

fn influx(g: &Gemini, args: &[&str]) -> String {
    let (ok, text) = g.influx(args);
    assert!(ok, "influx {args:?} failed: {text}");
    text
}

#[test]
fn influx_cli_creates_lists_and_shows_measurements() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &["--databases", ""]);
    influx(&g, &["-execute", "create database prometheus"]);
    influx(&g, &["-execute", "CREATE DATABASE other"]);
    let out = influx(&g, &["-execute", "show databases"]);
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines, vec!["name: databases", "name", "----", "prometheus", "other"], "{out}");

    let w = proto::prometheus::WriteRequest {
        timeseries: vec![
            series(&[("__name__", "up"), ("job", "node")], &[(1000, 1.0)]),
            series(&[("__name__", "node_load1"), ("job", "node")], &[(1000, 0.5)]),
        ],
        metadata: vec![],
    };
    assert_eq!(g.write("prometheus", &w).status, 204);
    let out = influx(&g, &["-database", "prometheus", "-execute", "show measurements"]);
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines, vec!["name: measurements", "name", "----", "node_load1", "up"], "{out}");

    influx(&g, &["-execute", "drop database other"]);
    let out = influx(&g, &["-execute", "show databases"]);
    assert!(!out.contains("other"), "{out}");
    // As with InfluxDB 1.6 and its CLI: SHOW SERIES names the missing database, SHOW
    // MEASUREMENTS lists nothing and succeeds.
    let (_, out) = g.influx(&["-database", "nope", "-execute", "show series"]);
    assert!(out.contains("database not found: nope"), "{out}");
    let (ok, out) = g.influx(&["-database", "nope", "-execute", "show measurements"]);
    assert!(ok && out.trim().is_empty(), "{out}");
}
