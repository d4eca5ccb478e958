//! `gemini import remote-read` end to end (issue 31): a real Prometheus 2.42 holds three hours
//! of a few series (written through its remote-write receiver), a Gemini already holds the
//! newer hour of the same series; after the import, a remote read of everything from Gemini
//! holds exactly what Prometheus' own remote read answers (bit for bit) plus the newer hour.
//! Run twice: the same. Interrupted (the first slices recorded in `--state`) and resumed:
//! nothing lost. `--dry-run` writes nothing. And the import path itself: another value at a
//! stored time is refused with 400 naming the series, the rest stored.

use proto::prometheus as pb;
use proto::remote::snappy_message;
use std::process::Command;
use tests::import::*;
use tests::*;

/// Runs `gemini import remote-read` with `extra` flags: success, standard output and error.
fn import(p: &Prometheus, g: &Gemini, range: (i64, i64), extra: &[&str]) -> (bool, String, String) {
    let out = Command::new(bin("gemini"))
        .args(["import", "remote-read", "--from", &p.url("/api/v1/read"), "--to", &g.url(""), "--slice", "30m", "--parallel", "3"])
        .args(["--start", &format!("{}", range.0 / 1000), "--end", &format!("{:.3}", range.1 as f64 / 1000.0)])
        .args(extra)
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn history_from_prometheus_lands_beside_the_newer_hour_once_and_resumes() {
    let now = now_s() * 1000 / STEP * STEP;
    // Three hours (720 samples a series), then the newer hour (241) from `now - 1h` on.
    let (old_from, old_to) = (now - 4 * HOUR, now - HOUR - STEP);
    let (new_from, new_to) = (now - HOUR, now);
    let range = (old_from, new_from - 1);
    let p = prometheus_holding(old_from, old_to, &[]);
    let old = prometheus_samples(&p);
    assert_eq!(old.len(), 4);
    assert!(old.values().all(|s| s.len() == 720), "three hours every 15 s: {:?}", old.values().map(Vec::len).collect::<Vec<_>>());
    assert!(old.values().flatten().any(|(_, v)| f64::from_bits(*v).is_nan()), "the NaN is there");

    let dir = tempfile::tempdir().unwrap();
    let g = gemini_with_newer_hour(dir.path(), new_from, new_to);
    let newer = g.read_samples("prometheus", everything());
    assert!(newer.values().all(|s| s.len() == 241), "the newer hour");
    let want = merged(&old, &newer);

    // A dry run lists the 6 slices and what they hold, and writes nothing.
    let (ok, out, err) = import(&p, &g, range, &["--dry-run"]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().filter(|l| l.starts_with("slice ")).count(), 6, "{out}");
    assert!(out.contains("would import 6 slices: 24 series, 2880 samples"), "{out}");
    assert_eq!(g.read_samples("prometheus", everything()), newer, "a dry run writes nothing");

    let (ok, _, err) = import(&p, &g, range, &[]);
    assert!(ok, "{err}");
    assert!(err.contains("imported 6 slices: 24 series, 2880 samples"), "{err}");
    let got = g.read_samples("prometheus", everything());
    assert_eq!(got, want, "Prometheus' samples and the newer hour");
    assert_eq!(g.read_streamed("prometheus", everything()), want, "streamed too");

    // Again: nothing duplicated.
    let (ok, _, err) = import(&p, &g, range, &[]);
    assert!(ok, "{err}");
    assert_eq!(g.read_samples("prometheus", everything()), want, "a second import changes nothing");

    // Interrupted after the first hour (its two slices recorded in the state file), resumed.
    let dir2 = tempfile::tempdir().unwrap();
    let g2 = gemini_with_newer_hour(dir2.path(), new_from, new_to);
    let state = dir2.path().join("import.state");
    let state_arg = state.to_str().unwrap();
    let (ok, _, err) = import(&p, &g2, (old_from, old_from + HOUR - 1), &["--state", state_arg]);
    assert!(ok, "{err}");
    let lines = std::fs::read_to_string(&state).unwrap();
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert_ne!(g2.read_samples("prometheus", everything()), want, "only the first hour so far");
    let (ok, _, err) = import(&p, &g2, range, &["--state", state_arg]);
    assert!(ok, "{err}");
    assert!(err.contains("imported 4 slices (2 skipped as done before)"), "{err}");
    assert_eq!(std::fs::read_to_string(&state).unwrap().lines().count(), 6);
    assert_eq!(g2.read_samples("prometheus", everything()), want, "resumed: nothing lost");

    // A source that does not answer: the import fails naming the slices.
    let (ok, _, err) = Command::new(bin("gemini"))
        .args(["import", "remote-read", "--from", &format!("http://127.0.0.1:{}/api/v1/read", free_port()), "--to", &g.url("")])
        .args(["--start", "1700000000", "--end", "1700003600"])
        .output()
        .map(|o| (o.status.success(), (), String::from_utf8_lossy(&o.stderr).into_owned()))
        .unwrap();
    assert!(!ok);
    assert!(err.contains("2 of 2 slices failed") && err.contains("2023-11-14T22:13:20Z.."), "{err}");
}

#[test]
fn the_import_path_merges_history_and_refuses_another_value_at_a_stored_time() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    let t = (now_s() - 3600) * 1000 / 60_000 * 60_000;
    let up = [("__name__", "imp_up"), ("job", "api")];
    let other = [("__name__", "imp_other")];
    let wr = |ts: Vec<pb::TimeSeries>| write_body(&pb::WriteRequest { timeseries: ts, metadata: vec![] });
    let a = g.post("/api/v1/write", &PROTO_HEADERS, &wr(vec![series(&up, &[(t, 1.0), (t + 120_000, 1.0)])]));
    assert_eq!(a.status, 204, "{}", a.text());
    // An ordinary write refuses the older sample; the import path merges it.
    let a = g.post("/api/v1/write", &PROTO_HEADERS, &wr(vec![series(&up, &[(t + 60_000, 0.0)])]));
    assert_eq!(a.status, 400, "{}", a.text());
    let a = g.post("/api/v1/import", &PROTO_HEADERS, &wr(vec![series(&up, &[(t - 60_000, 0.5), (t + 60_000, 0.0), (t + 120_000, 1.0)])]));
    assert_eq!(a.status, 204, "{}", a.text());
    // Another value at a stored time: 400 naming the series; the rest is stored.
    let a = g.post("/api/v1/import", &PROTO_HEADERS, &wr(vec![series(&up, &[(t - 120_000, 0.25), (t, 9.0)]), series(&other, &[(t, 3.0)])]));
    assert_eq!(a.status, 400, "{}", a.text());
    assert!(a.text().contains("duplicate sample for timestamp") && a.text().contains(r#"imp_up{job=\"api\"}"#), "{}", a.text());
    let got = g.read_samples("prometheus", query_all(vec![matcher(2, "__name__", "imp_.+")]));
    let bits = |pairs: &[(i64, f64)]| pairs.iter().map(|(t, v)| (*t, v.to_bits())).collect::<Vec<_>>();
    let key = |pairs: &[(&str, &str)]| pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect::<Vec<_>>();
    assert_eq!(got[&key(&up)], bits(&[(t - 120_000, 0.25), (t - 60_000, 0.5), (t, 1.0), (t + 60_000, 0.0), (t + 120_000, 1.0)]));
    assert_eq!(got[&key(&other)], bits(&[(t, 3.0)]));
    // A remote write 2.0 body is not an import.
    let v2 = [("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request"), ("Content-Encoding", "snappy")];
    let a = g.post("/api/v1/import", &v2, &wr(vec![]));
    assert_eq!(a.status, 415, "{}", a.text());
}

#[test]
fn from_another_gemini_into_one_with_auth_needs_the_write_grant() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let source = Gemini::start(d1.path(), &[]);
    let t = (now_s() - 7200) * 1000 / 60_000 * 60_000;
    let samples: Vec<(i64, f64)> = (0..60).map(|i| (t + i * 60_000, i as f64 / 3.0)).collect();
    let req = pb::WriteRequest { timeseries: vec![series(&[("__name__", "imp_moved"), ("job", "x")], &samples)], metadata: vec![] };
    assert_eq!(source.post("/api/v1/write", &PROTO_HEADERS, &write_body(&req)).status, 204);
    let g = Gemini::start(d2.path(), &["--auth-enabled"]);
    let admin = [("Authorization", "Token admin:a")];
    assert_eq!(g.post(&format!("/query?q={}", urlencode("CREATE USER admin WITH PASSWORD 'a' WITH ALL PRIVILEGES")), &[], b"").status, 200);
    let setup = "CREATE USER importer WITH PASSWORD 'i'; GRANT WRITE ON prometheus TO importer";
    assert_eq!(g.post(&format!("/query?q={}", urlencode(setup)), &admin, b"").status, 200);
    let run = |user: &[&str]| {
        let out = Command::new(bin("gemini"))
            .args(["import", "remote-read", "--from", &source.url("/api/v1/read"), "--to", &g.url(""), "--start", &(t / 1000).to_string(), "--end", &(t / 1000 + 3600).to_string()])
            .args(user)
            .env_remove("GEMINI_USERNAME")
            .env_remove("GEMINI_PASSWORD")
            .output()
            .unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = run(&[]);
    assert!(!ok && err.contains("401"), "{err}");
    let (ok, err) = run(&["--username", "importer", "--password", "i"]);
    assert!(ok, "{err}");
    assert!(err.contains("60 samples"), "{err}");
    let body = snappy_message(&pb::ReadRequest { queries: vec![everything()], accepted_response_types: vec![] }).unwrap();
    let a = g.post("/api/v1/read", &[PROTO_HEADERS[0], PROTO_HEADERS[1], admin[0]], &body);
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(to_series(decode_samples(&a.body).results.remove(0).timeseries), source.read_samples("prometheus", everything()));
}
