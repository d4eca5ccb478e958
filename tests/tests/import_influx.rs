//! `gemini import influx` end to end (issue 31): a real InfluxDB 1.6 (Debian's `influxd`) is
//! loaded with the `influx` CLI (`influx -import`: three days of three measurements, tags,
//! float, integer and boolean fields, written out of time order), and the real
//! `influx_inspect export` writes its data out, plain and `-compress`ed. `influx_inspect` is
//! not in Debian's binary packages: `.ci/run` builds it from Debian's source package of the
//! same InfluxDB 1.6.7. A Gemini that already holds the newest day of one series imports the
//! export; then `SELECT` and `SHOW` answers equal InfluxDB's (raw, a `GROUP BY time` aggregate,
//! tag conditions). Booleans are the one deliberate difference: Gemini stores them as 1 and 0
//! (it stores numbers), so InfluxDB's `true`/`false` are compared as 1/0. Imported again (the
//! gzip file): the same answers. Resumed from `--state`: the recorded lines skipped, the same
//! answers. A refused line (a string field) fails the import naming its line number; a policy
//! missing in Gemini fails it before anything is sent.

use serde_json::Value;
use std::path::Path;
use std::process::Command;
use tests::influxd::{holds_nothing, query, Influxd};
use tests::*;

/// 2023-11-14T00:00:00Z in seconds: the first of the three days.
const T0: i64 = 1_699_920_000;
const DAY: i64 = 86_400;

/// The points, in seconds, in time order: (measurement, tags, fields, time).
fn points() -> Vec<String> {
    let mut out = Vec::new();
    for (h, (host, dc)) in [("a", "eu"), ("b", "eu"), ("c", "us")].iter().enumerate() {
        for i in 0..288 {
            let value = ((i * 37 + h * 11) % 101) as f64 / 4.0 + h as f64;
            let up = if (i + h) % 5 == 0 { "false" } else { "true" };
            out.push(format!("cpu,host={host},dc={dc} value={value},busy={}i,up={up} {}", (i * 13 + h) % 17, T0 + i as i64 * 900));
        }
    }
    for (h, host) in ["a", "b"].iter().enumerate() {
        for i in 0..72 {
            out.push(format!("mem,host={host} free={}i,used={} {}", (i * 7919 + h * 31) % 100_000, i as f64 * 0.5 + h as f64, T0 + i as i64 * 3600));
        }
    }
    for i in 0..12 {
        out.push(format!("disk,host=a,path=/data used={} {}", 40.0 + (i * i % 13) as f64 * 1.5, T0 + i * 6 * 3600));
    }
    out
}

/// Samples (fields) per measurement in `points()`: what the export holds, one field a line.
const EXPORTED: [(&str, u64); 3] = [("cpu", 3 * 288 * 3), ("disk", 12), ("mem", 2 * 72 * 2)];

/// The newest day of `cpu,host=a`: what Gemini holds before the import.
fn newest_day_of_cpu_a() -> String {
    points().into_iter().filter(|p| p.starts_with("cpu,host=a,") && p.rsplit(' ').next().unwrap().parse::<i64>().unwrap() >= T0 + 2 * DAY).map(|p| p + "\n").collect()
}

/// The points in `influx -import`'s format, out of time order (a fixed permutation).
fn influx_import_file() -> String {
    let points = points();
    let n = points.len();
    assert!(n < 7919, "7919 is a prime above {n}: i * 7919 % n is a permutation");
    let mut text = "# DDL\nCREATE DATABASE src\n# DML\n# CONTEXT-DATABASE: src\n".to_string();
    for i in 0..n {
        text.push_str(&points[i * 7919 % n]);
        text.push('\n');
    }
    text
}

/// Runs `gemini import influx --file <file> --to <g> --db <db>` with `extra`: success,
/// standard output and error.
fn import(g: &Gemini, file: &Path, db: &str, extra: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin("gemini")).args(["import", "influx", "--file"]).arg(file).args(["--to", &g.url(""), "--db", db]).args(extra).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// InfluxDB's booleans as Gemini stores them: 1 and 0.
fn booleans_as_numbers(v: Value) -> Value {
    match v {
        Value::Bool(b) => Value::from(b as u8),
        Value::Array(a) => Value::Array(a.into_iter().map(booleans_as_numbers).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, booleans_as_numbers(v))).collect()),
        other => other,
    }
}

/// The statements compared, over the three days. Raw rows of several series come grouped by
/// series: InfluxDB orders rows of the same time from different series by its series ids, which
/// follow the order it first saw them in.
fn statements() -> Vec<String> {
    let days = format!("time >= {T0}s AND time < {}s", T0 + 3 * DAY);
    vec![
        "SHOW MEASUREMENTS".into(),
        "SHOW TAG KEYS".into(),
        "SHOW TAG VALUES WITH KEY = host".into(),
        "SHOW TAG VALUES FROM cpu WITH KEY IN (dc, host)".into(),
        "SHOW SERIES".into(),
        "SELECT * FROM cpu GROUP BY host".into(),
        "SELECT * FROM mem WHERE host = 'b'".into(),
        "SELECT * FROM disk".into(),
        format!("SELECT value, busy, up FROM cpu WHERE dc = 'eu' AND time >= {}s AND time < {}s GROUP BY *", T0 + DAY + 3600, T0 + DAY + 6 * 3600),
        format!("SELECT mean(value), max(busy), sum(busy), count(up) FROM cpu WHERE {days} GROUP BY time(6h), host"),
        format!("SELECT last(used), min(free), count(free) FROM mem WHERE {days} GROUP BY time(1d), host"),
        "SELECT count(value) FROM cpu WHERE host = 'a'".into(),
    ]
}

/// Each statement whose answer from Gemini (`db`) differs from InfluxDB's (`src`), both
/// answers named; a statement InfluxDB answers with nothing is one too (it would prove nothing).
fn differences(influx: &Influxd, g: &Gemini, db: &str) -> Vec<String> {
    let mut out = Vec::new();
    for q in statements() {
        for epoch in ["", "s"] {
            let reference = query(&influx.base, "src", &q, epoch);
            if holds_nothing(&reference) || reference.0 != 200 || reference.1["results"][0].get("error").is_some() {
                out.push(format!("{q}: InfluxDB 1.6 answers {} {}: nothing to compare", reference.0, reference.1));
            }
            let want = (reference.0, booleans_as_numbers(reference.1));
            let got = query(&g.url(""), db, &q, epoch);
            if got != want {
                out.push(format!("{q} (epoch={epoch:?})\n  InfluxDB 1.6: {} {}\n  gemini:       {} {}", want.0, want.1, got.0, got.1));
            }
        }
    }
    out
}

fn assert_same(influx: &Influxd, g: &Gemini, db: &str, when: &str) {
    let d = differences(influx, g, db);
    assert!(d.is_empty(), "{when}: {} differences:\n{}", d.len(), d.join("\n"));
}

/// The number right before `word` in the summary line (`imported 2892 lines: …`) of `stderr`.
fn count_before(stderr: &str, word: &str) -> u64 {
    let summary = stderr.lines().find(|l| l.starts_with("imported ")).unwrap_or_else(|| panic!("no summary in {stderr}"));
    let at = summary.find(&format!(" {word}")).unwrap_or_else(|| panic!("no {word:?} in {summary}"));
    summary[..at].rsplit(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap_or_else(|_| panic!("no number before {word:?} in {summary}"))
}

#[test]
fn an_export_of_influxdb_1_6_imported_answers_as_influxdb() {
    let (idir, gdir, files) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let influx = Influxd::start(idir.path());
    let input = files.path().join("points.txt");
    std::fs::write(&input, influx_import_file()).unwrap();
    let out = Command::new("influx").args(["-host", "127.0.0.1", "-port", &influx.port().to_string(), "-import", "-path"]).arg(&input).args(["-precision", "s"]).output().unwrap();
    let said = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.contains(&format!("Processed {} inserts", points().len())) && said.contains("Failed 0 inserts"), "influx -import: {said}");

    let (plain, gzip) = (files.path().join("export.txt"), files.path().join("export.gz"));
    for (out, extra) in [(&plain, &[][..]), (&gzip, &["-compress", "-database", "src"][..])] {
        let run = Command::new(tool_path("influx_inspect"))
            .args(["export", "-datadir"])
            .arg(influx.dir.join("data"))
            .arg("-waldir")
            .arg(influx.dir.join("wal"))
            .arg("-out")
            .arg(out)
            .args(extra)
            .output()
            .unwrap();
        assert!(run.status.success(), "influx_inspect export {extra:?}: {}", String::from_utf8_lossy(&run.stderr));
    }
    let exported = std::fs::read_to_string(&plain).unwrap();
    assert!(exported.contains("# DDL\nCREATE DATABASE src WITH NAME autogen\n# DML\n# CONTEXT-DATABASE:src\n# CONTEXT-RETENTION-POLICY:autogen\n"), "the export format: {}", &exported[..300.min(exported.len())]);
    assert_eq!(std::fs::read(&gzip).unwrap()[..2], [0x1f, 0x8b], "-compress writes gzip");

    let g = Gemini::start(gdir.path(), &["--databases", ""]);
    for db in ["dst", "resumed"] {
        assert_eq!(query(&g.url(""), "", &format!("CREATE DATABASE {db}"), "").0, 200);
    }
    let newest = g.post("/write?db=dst&precision=s", &[], newest_day_of_cpu_a().as_bytes());
    assert_eq!(newest.status, 204, "{}", newest.text());

    // --dry-run counts and sends nothing.
    let (ok, stdout, stderr) = import(&g, &gzip, "dst", &["--dry-run"]);
    assert!(ok, "{stderr}");
    for (measurement, samples) in EXPORTED {
        assert!(stdout.contains(&format!("measurement {measurement}: {samples} lines, {samples} samples")), "{measurement}: {stdout}");
    }
    let all: u64 = EXPORTED.iter().map(|(_, n)| n).sum();
    assert!(stdout.contains(&format!("would import {all} lines, {all} samples of 3 measurements into policies autogen; 0 lines do not parse")), "{stdout}");
    let (_, count) = query(&g.url(""), "dst", "SELECT count(value) FROM cpu", "");
    assert_eq!(count["results"][0]["series"][0]["values"][0][1], 96, "only the newest day of cpu,host=a before the import: {count}");

    let (ok, _, stderr) = import(&g, &plain, "dst", &["--batch", "500"]);
    assert!(ok, "{stderr}");
    assert_eq!(count_before(&stderr, "lines"), all, "{stderr}");
    assert_eq!(count_before(&stderr, "samples in"), all, "{stderr}");
    assert_same(&influx, &g, "dst", "after the import");

    let (ok, _, stderr) = import(&g, &gzip, "dst", &[]);
    assert!(ok, "the gzip export, imported again: {stderr}");
    assert_same(&influx, &g, "dst", "imported twice");

    // Resumed: the state of a whole run with its later ranges dropped, as if it had been cut
    // short after four batches; the rerun sends the rest, a third run nothing.
    let state = files.path().join("import.state");
    let state_flag = ["--state", state.to_str().unwrap(), "--batch", "300"];
    let (ok, _, stderr) = import(&g, &plain, "resumed", &state_flag);
    assert!(ok, "{stderr}");
    let recorded = std::fs::read_to_string(&state).unwrap();
    assert!(recorded.lines().count() > 6, "one range a batch: {recorded}");
    std::fs::write(&state, recorded.lines().take(4).map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    let (ok, _, stderr) = import(&g, &plain, "resumed", &state_flag);
    assert!(ok, "{stderr}");
    assert_eq!(count_before(&stderr, "lines skipped as done before"), 4 * 300, "{stderr}");
    assert_eq!(count_before(&stderr, "lines ("), all - 4 * 300, "{stderr}");
    let (ok, _, stderr) = import(&g, &plain, "resumed", &state_flag);
    assert!(ok, "{stderr}");
    assert_eq!((count_before(&stderr, "lines ("), count_before(&stderr, "lines skipped as done before")), (0, all), "all recorded: nothing sent again: {stderr}");
    assert_same(&influx, &g, "resumed", "resumed");
}

/// What `influx_inspect export` writes, with one line Gemini cannot store (a string field).
const WITH_A_STRING: &str = "# INFLUXDB EXPORT: 1677-09-21T00:12:43Z - 2262-04-11T23:47:16Z\n\
# DDL\n\
CREATE DATABASE logs WITH NAME autogen\n\
# DML\n\
# CONTEXT-DATABASE:logs\n\
# CONTEXT-RETENTION-POLICY:autogen\n\
# writing tsm data\n\
app,host=a level=3i 1700000000000000000\n\
app,host=a msg=\"disk full\" 1700000000000000000\n\
app,host=a level=4i 1700000060000000000\n";

#[test]
fn a_refused_line_and_a_missing_policy_fail_the_import_naming_them() {
    let (gdir, files) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let g = Gemini::start(gdir.path(), &["--databases", ""]);
    assert_eq!(query(&g.url(""), "", "CREATE DATABASE logs", "").0, 200);
    let file = files.path().join("logs.txt");
    std::fs::write(&file, WITH_A_STRING).unwrap();

    let (ok, _, stderr) = import(&g, &file, "logs", &["--rp", "nope"]);
    assert!(!ok, "a policy Gemini does not have");
    assert!(stderr.contains("retention policy \"nope\"") && stderr.contains("retention policy not found: nope"), "{stderr}");
    let (ok, _, stderr) = import(&g, &file, "missing", &[]);
    assert!(!ok && stderr.contains("database not found: missing"), "{stderr}");
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let out = Command::new(bin("gemini")).args(["import", "influx", "--file"]).arg(&file).args(["--to", &nobody, "--db", "logs"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains(&nobody), "no Gemini there: {stderr}");
    let (_, nothing) = query(&g.url(""), "logs", "SELECT * FROM app", "");
    assert!(nothing["results"][0].get("series").is_none(), "nothing sent: {nothing}");

    let (ok, _, stderr) = import(&g, &file, "logs", &[]);
    assert!(!ok, "a refused line fails the import: {stderr}");
    assert!(stderr.contains("a line was refused") && stderr.contains("line 9: unable to parse 'app,host=a msg=\"disk full\" 1700000000000000000'") && stderr.contains("is a string"), "{stderr}");
    assert_eq!(count_before(&stderr, "lines"), 2, "{stderr}");
    let (status, rows) = query(&g.url(""), "logs", "SELECT level FROM app", "s");
    assert_eq!(status, 200);
    assert_eq!(rows["results"][0]["series"][0]["values"], serde_json::json!([[1700000000, 3], [1700000060, 4]]), "the other lines arrived: {rows}");
}
