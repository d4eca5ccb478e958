//! Differential test against the real InfluxDB 1.6 (Debian's `influxdb`): `influxd` is
//! started on free ports with its own temporary directories, and the same statements, line
//! protocol and Prometheus remote writes go to it and to gemini. Every answer (status and
//! JSON) must be equal, except the listed deliberate differences, which must still differ.
//! A statement that reads (SELECT, SHOW) must find something in InfluxDB (a row or an error)
//! unless it is listed in `EXPECTED_EMPTY` with the reason: two empty answers prove nothing.
//! `SELECT`s that Gemini answers from its downsampled tiers are compared too.

use proto::prometheus as pb;
use std::time::Duration;
use tests::influxd::{holds_nothing, query, Influxd};
use tests::*;

/// 2023-11-14T22:13:20Z in milliseconds.
const T0: i64 = 1_700_000_000_000;

fn remote_write() -> pb::WriteRequest {
    let mut timeseries = Vec::new();
    for (instance, base) in [("a:9100", 1.0), ("b:9100", 3.0)] {
        let samples: Vec<(i64, f64)> = (0..40).map(|i| (T0 + i * 15_000, base + (i % 7) as f64 * 0.25)).collect();
        timeseries.push(series(&[("__name__", "node_load1"), ("instance", instance), ("job", "node")], &samples));
        let up: Vec<(i64, f64)> = (0..40).filter(|i| i % 9 != 4).map(|i| (T0 + i * 15_000, 1.0)).collect();
        timeseries.push(series(&[("__name__", "up"), ("instance", instance), ("job", "node")], &up));
    }
    pb::WriteRequest { timeseries, metadata: vec![] }
}

const LINES: &str = "cpu,host=a,dc=eu value=1,usage=10 1700000000\n\
cpu,host=a,dc=eu value=3 1700000070\n\
cpu,host=b,dc=us value=5,usage=20 1700000065\n\
cpu,host=b,dc=us value=7 1700000200\n\
cpu,host=c value=2.5 1700000130\n\
mem,host=a value=4 1700000061\n";

/// Statements whose answers must be equal.
const SAME: &[&str] = &[
    "SHOW DATABASES",
    "SHOW USERS",
    "SHOW MEASUREMENTS",
    "SHOW MEASUREMENTS WITH MEASUREMENT =~ /o/ LIMIT 2",
    "SHOW TAG KEYS FROM cpu",
    "SHOW TAG VALUES WITH KEY = host",
    "SHOW TAG VALUES FROM up WITH KEY IN (instance, job)",
    "SHOW FIELD KEYS",
    "SHOW SERIES FROM mem",
    "SHOW SERIES FROM cpu WHERE dc = 'eu' OR host = 'c'",
    "SHOW SERIES CARDINALITY",
    "SHOW SERIES EXACT CARDINALITY",
    "SELECT * FROM cpu",
    "SELECT value FROM cpu WHERE host = 'a' OR value > 4 ORDER BY time DESC LIMIT 3",
    "SELECT usage, value, dc FROM cpu WHERE dc != ''",
    "SELECT mean(*) FROM cpu GROUP BY host",
    "SELECT mean(value), max(value), min(value), count(value), sum(value), spread(value) FROM node_load1 GROUP BY instance",
    "SELECT median(value), stddev(value), percentile(value, 90), first(value), last(value) FROM node_load1",
    "SELECT max(value) FROM node_load1 WHERE instance =~ /^b/",
    "SELECT mean(value) FROM node_load1 WHERE time >= '2023-11-14T22:13:00Z' AND time < '2023-11-14T22:23:00Z' GROUP BY time(1m)",
    "SELECT count(value) FROM up WHERE time >= 1700000000s AND time <= 1700000600s GROUP BY time(2m, 30s), instance, job fill(none)",
    "SELECT count(value) FROM up WHERE time >= 1700000000000ms AND time <= 1700000600000ms GROUP BY time(1m) fill(previous)",
    "SELECT mean(value) FROM cpu WHERE time >= 1700000000s AND time < 1700000300s GROUP BY time(1m), host fill(linear)",
    "SELECT mean(value) FROM cpu WHERE time >= 1700000000s AND time < 1700000300s GROUP BY time(1m) fill(-1) ORDER BY time DESC LIMIT 3 OFFSET 1",
    "SELECT value FROM /cpu|mem/ WHERE host = 'a'",
    // Aggregates over one field (the fast path): windows with gaps, empty windows filled,
    // several groups, ties in time (first, last) and in value (min, max), tag conditions.
    "SELECT first(value), last(value), min(value), max(value) FROM node_load1 WHERE time >= 1700000000s AND time < 1700000600s GROUP BY time(2m)",
    "SELECT count(value), sum(value), mean(value), spread(value) FROM up WHERE time >= 1700000000s AND time < 1700000600s GROUP BY time(1m), instance fill(none)",
    "SELECT sum(value), count(value) FROM up WHERE time >= 1700000000s AND time < 1700000900s GROUP BY time(90s) fill(linear)",
    "SELECT median(value), percentile(value, 75), stddev(value) FROM node_load1 WHERE time >= 1700000000s AND time < 1700000600s GROUP BY time(3m), instance",
    "SELECT first(value), last(value), count(value) FROM cpu WHERE time >= 1700000000s AND time < 1700000300s GROUP BY time(1m) fill(0)",
    "SELECT max(value), min(value) FROM cpu WHERE time >= 1700000000s AND time < 1700000300s GROUP BY time(1m), * fill(previous)",
    "SELECT last(value) FROM cpu WHERE host != 'c' GROUP BY dc",
    "SELECT min(value) FROM node_load1 WHERE instance = 'b:9100'",
    "SELECT mean(value) FROM node_load1 WHERE time >= 1700000000s AND time < 1700000600s GROUP BY time(1m), instance ORDER BY time DESC LIMIT 2",
    "SELECT value FROM /cpu|mem/ WHERE host = 'a' ORDER BY time DESC",
    "SELECT value FROM cpu GROUP BY *",
    "SELECT value FROM cpu GROUP BY host SLIMIT 2 SOFFSET 1",
    "SELECT mean(value) FROM cpu GROUP BY dc SLIMIT 1 SOFFSET 1",
    "SELECT mean(value) AS m, mean(value) FROM cpu",
    "SELECT value, mean(value) FROM cpu",
    "SELECT bogus(value) FROM cpu",
    "SELECT value FROM missing",
    "SELECT FROM cpu",
    // Prometheus series keep `__name__` as a tag, as in InfluxDB 1.6 and openGemini.
    "SHOW TAG KEYS",
    "SHOW TAG KEYS FROM up",
    "SHOW TAG VALUES WITH KEY = __name__",
    "SHOW SERIES",
    "SHOW SERIES FROM up",
    "SHOW SERIES WHERE __name__ = 'up'",
    "SELECT * FROM up",
    "SELECT last(value) FROM up GROUP BY *",
    "SELECT count(value) FROM /up|node_load1/ GROUP BY __name__",
    "SELECT value FROM up WHERE __name__ = 'up' AND instance = 'a:9100' LIMIT 2",
    // Errors in InfluxDB's words, and a missing database, which InfluxDB answers with nothing.
    "SELEC value FROM up",
    "SHOW MEASUREMENTS ON nope",
];

/// Deliberate differences: the statement, why, and Gemini's answer (status, JSON with
/// `epoch=s`), pinned here; the test checks Gemini answers exactly that and InfluxDB does not.
const DIFFERENT: &[(&str, &str, u16, &str)] = &[
    (
        "SELECT value FROM cpu GROUP BY * SLIMIT 2 SOFFSET 1",
        "InfluxDB 1.6 applies SLIMIT/SOFFSET with GROUP BY * in series-key order, not in the order it prints the groups; Gemini limits the groups as printed",
        200,
        r#"{"results":[{"statement_id":0,"series":[{"name":"cpu","tags":{"dc":"eu","host":"a"},"columns":["time","value"],"values":[[1700000000,1],[1700000070,3]]},{"name":"cpu","tags":{"dc":"us","host":"b"},"columns":["time","value"],"values":[[1700000065,5],[1700000200,7]]}]}]}"#,
    ),
    (
        "SELECT value FROM cpu WHERE time > now() - 1h OR host = 'a'",
        "InfluxDB silently answers nothing for a time bound inside OR; Gemini names the problem",
        200,
        r#"{"results":[{"statement_id":0,"error":"invalid time condition: time bounds can only be joined to the rest of the condition with AND"}]}"#,
    ),
];

/// Reads that InfluxDB 1.6 answers with no row and no error, on purpose, with the reason. Any
/// other read answered so fails the test, and so does a read listed here that finds something.
const EXPECTED_EMPTY: &[(&str, &str)] = &[
    ("SELECT value FROM missing", "a measurement that was never written: no series and no error"),
    ("SHOW MEASUREMENTS ON nope", "InfluxDB 1.6 answers a database that does not exist with no rows and no error"),
];

/// What is wrong with InfluxDB's answer to `q` as a test's ground truth: a read not listed in
/// `EXPECTED_EMPTY` that finds nothing, or a listed one that finds something.
fn vacuous(q: &str, influxdb: &(u16, serde_json::Value)) -> Option<String> {
    let read = ["SELECT", "SHOW"].iter().any(|w| q.starts_with(w));
    match (read && holds_nothing(influxdb), EXPECTED_EMPTY.iter().find(|(e, _)| *e == q)) {
        (true, None) => Some(format!("{q}\n  InfluxDB 1.6 finds nothing ({}): make it read something, or list it in EXPECTED_EMPTY with the reason", influxdb.1)),
        (false, Some((_, why))) => Some(format!("{q} is listed as finding nothing ({why}), but InfluxDB 1.6 answers {} {}", influxdb.0, influxdb.1)),
        _ => None,
    }
}

#[test]
fn same_statements_and_writes_give_the_same_answers_as_influxdb_1_6() {
    let (idir, gdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let influx = Influxd::start(idir.path());
    let g = Gemini::start(gdir.path(), &["--databases", ""]);
    let bases = [influx.base.clone(), g.url("")];

    let mut answers = Vec::new();
    for base in &bases {
        let create = query(base, "", "CREATE DATABASE metrics", "");
        // A user, so that SHOW USERS has a row (auth is off: anyone may create one).
        let user = query(base, "", "CREATE USER reader WITH PASSWORD 'secret'", "");
        let lines = post_url(&format!("{base}/write?db=metrics&precision=s"), &[], LINES.as_bytes()).status;
        let prom = post_url(&format!("{base}/api/v1/prom/write?db=metrics"), &PROTO_HEADERS, &write_body(&remote_write())).status;
        let unknown_db = post_url(&format!("{base}/write?db=nope"), &[], b"cpu value=1").status;
        answers.push((create, user, lines, prom, unknown_db));
    }
    assert_eq!(answers[0], answers[1], "(CREATE DATABASE, CREATE USER, line protocol, remote write, write to a missing database)");
    assert_eq!(answers[1].3, 204);

    let mut mismatches = Vec::new();
    // A change over GET runs with a warning, as in InfluxDB 1.x.
    let get = |base: &str| {
        let mut r = agent().get(&format!("{base}/query?q={}", urlencode("CREATE DATABASE by_get"))).call().unwrap();
        (r.status().as_u16(), serde_json::from_slice::<serde_json::Value>(&r.body_mut().read_to_vec().unwrap()).unwrap())
    };
    let (a, b) = (get(&bases[0]), get(&bases[1]));
    if a != b {
        mismatches.push(format!("GET CREATE DATABASE\n  InfluxDB 1.6: {a:?}\n  gemini:       {b:?}"));
    }
    mismatches.extend(differences(&bases, "metrics", SAME, &["", "ms"]));
    for (q, reason, status, answer) in DIFFERENT {
        let (a, b) = (query(&bases[0], "metrics", q, "s"), query(&bases[1], "metrics", q, "s"));
        let expected = (*status, serde_json::from_str::<serde_json::Value>(answer).unwrap());
        if b != expected {
            mismatches.push(format!("{q} ({reason})\n  gemini:   {} {}\n  expected: {} {}", b.0, b.1, expected.0, expected.1));
        }
        if a == b {
            mismatches.push(format!("{q} is listed as different ({reason}) but both answered {} {}", a.0, a.1));
        }
    }
    assert!(mismatches.is_empty(), "{} differences:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// Retention policy statements, in order: each answer must be equal.
const POLICY_STATEMENTS: &[&str] = &[
    "CREATE DATABASE rp_db",
    "SHOW RETENTION POLICIES ON rp_db",
    "CREATE RETENTION POLICY one ON rp_db DURATION 1h REPLICATION 1 SHARD DURATION 1h",
    "CREATE RETENTION POLICY one ON rp_db DURATION 1h REPLICATION 1 SHARD DURATION 1h",
    "CREATE RETENTION POLICY one ON rp_db DURATION 2h REPLICATION 1",
    "CREATE RETENTION POLICY d3 ON rp_db DURATION 3d REPLICATION 1",
    "CREATE RETENTION POLICY d200 ON rp_db DURATION 200d REPLICATION 2",
    "CREATE RETENTION POLICY odd ON rp_db DURATION 1h30m15s REPLICATION 1 SHARD DURATION 1h1s",
    "CREATE RETENTION POLICY short ON rp_db DURATION 30m REPLICATION 1",
    "CREATE RETENTION POLICY wide ON rp_db DURATION 1h REPLICATION 1 SHARD DURATION 2h",
    "CREATE RETENTION POLICY x ON nope DURATION 1h REPLICATION 1",
    "CREATE RETENTION POLICY x ON rp_db DURATION 1h REPLICATION 0",
    "ALTER RETENTION POLICY one ON rp_db DURATION 3h DEFAULT",
    "ALTER RETENTION POLICY one ON rp_db SHARD DURATION 30m",
    "ALTER RETENTION POLICY autogen ON rp_db DURATION 2h",
    "ALTER RETENTION POLICY nope ON rp_db DURATION 3h",
    "ALTER RETENTION POLICY one ON rp_db DURATION 30m",
    "SHOW RETENTION POLICIES ON rp_db",
    "SHOW RETENTION POLICIES",
    "DROP RETENTION POLICY d3 ON rp_db",
    "DROP RETENTION POLICY d3 ON rp_db",
    "DROP RETENTION POLICY x ON nope",
    "CREATE DATABASE other WITH DURATION 3d SHARD DURATION 30m NAME short",
    "SHOW RETENTION POLICIES ON other",
    "CREATE DATABASE tiny WITH DURATION 30m",
    "SHOW RETENTION POLICIES ON rp_db",
];

/// After writes to two policies: reads by policy, then with the default policy dropped.
const POLICY_READS: &[&str] = &[
    "SELECT * FROM cpu",
    "SELECT * FROM d200.cpu",
    "SELECT * FROM rp_db.d200.cpu",
    "SELECT * FROM rp_db.nope.cpu",
    "SHOW MEASUREMENTS",
    "DROP RETENTION POLICY one ON rp_db",
    "SHOW RETENTION POLICIES ON rp_db",
    "SELECT * FROM cpu",
    "SELECT * FROM d200.cpu",
];

/// Runs `statements` in order on InfluxDB (`bases[0]`) and gemini (`bases[1]`) with `db=`,
/// each with every `epoch=` of `epochs`; answers each one whose status or JSON differs, with
/// both answers, and each read whose emptiness is not as `EXPECTED_EMPTY` says (`vacuous`).
fn differences(bases: &[String; 2], db: &str, statements: &[&str], epochs: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for q in statements {
        for (i, epoch) in epochs.iter().enumerate() {
            let (a, b) = (query(&bases[0], db, q, epoch), query(&bases[1], db, q, epoch));
            if a != b {
                out.push(format!("{q} (epoch={epoch:?})\n  InfluxDB 1.6: {} {}\n  gemini:       {} {}", a.0, a.1, b.0, b.1));
            }
            out.extend(vacuous(q, &a).filter(|_| i == 0));
        }
    }
    out
}

#[test]
fn retention_policies_behave_as_in_influxdb_1_6() {
    let (idir, gdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let influx = Influxd::start(idir.path());
    let g = Gemini::start(gdir.path(), &["--databases", ""]);
    let bases = [influx.base.clone(), g.url("")];
    let mut mismatches = differences(&bases, "rp_db", POLICY_STATEMENTS, &[""]);
    // Recent points (InfluxDB refuses points beyond a policy's duration).
    let t = now_s() - 60;
    let writes: Vec<Vec<u16>> = bases
        .iter()
        .map(|base| {
            [("", "cpu,host=a value=1"), ("&rp=one", "cpu,host=b value=2"), ("&rp=d200", "cpu,host=c value=3\nmem value=4")]
                .iter()
                .map(|(rp, lines)| {
                    let body = lines.lines().map(|l| format!("{l} {t}\n")).collect::<String>();
                    post_url(&format!("{base}/write?db=rp_db&precision=s{rp}"), &[], body.as_bytes()).status
                })
                .collect()
        })
        .collect();
    assert_eq!(writes[0], writes[1], "writes to the default policy, to one and to d200");
    assert_eq!(writes[1], vec![204, 204, 204]);
    mismatches.extend(differences(&bases, "rp_db", POLICY_READS, &[""]));
    assert!(mismatches.is_empty(), "{} differences:\n{}", mismatches.len(), mismatches.join("\n"));

    // Deliberate difference: a write to a policy that does not exist.
    let status = |base: &str, rp: &str| post_url(&format!("{base}/write?db=rp_db&precision=s{rp}"), &[], format!("cpu value=1 {t}").as_bytes());
    for rp in ["", "&rp=nope"] {
        let (a, b) = (status(&bases[0], rp), status(&bases[1], rp));
        assert_eq!(a.status, 500, "InfluxDB 1.6 answers 500 (which Prometheus retries forever): {}", a.text());
        assert_eq!(b.status, 404, "Gemini answers 404 like a missing database: {}", b.text());
        assert_eq!(a.text().trim(), b.text(), "the same message");
    }
}

/// Deleting statements, in order, after the same line protocol: each answer must be equal.
const DELETES: &[&str] = &[
    "DROP MEASUREMENT nope",
    "DROP SERIES FROM nope",
    "DROP SERIES WHERE time > 0",
    "DROP SERIES FROM cpu WHERE host = 'b'",
    "SHOW SERIES",
    "DELETE FROM cpu WHERE time < 1700000060s",
    "SELECT value FROM cpu",
    "SHOW SERIES",
    "DELETE FROM cpu WHERE time > 1700000060s",
    "SHOW SERIES",
    "DELETE WHERE host = 'x'",
    "DROP MEASUREMENT disk",
    "SHOW MEASUREMENTS",
    "DROP SERIES FROM /m.*/",
    "SHOW MEASUREMENTS",
];

#[test]
fn deleting_statements_behave_as_in_influxdb_1_6() {
    let (idir, gdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let influx = Influxd::start(idir.path());
    let g = Gemini::start(gdir.path(), &["--databases", ""]);
    // `load` outlives every delete, so the last SHOW MEASUREMENTS finds it (and no other).
    let lines = "cpu,host=a value=1,usage=2 1700000000\ncpu,host=a value=2 1700000100\ncpu,host=b value=3 1700000000\nmem,host=a value=4 1700000000\ndisk,host=a value=5 1700000000\nload,host=a value=6 1700000000\n";
    let bases = [influx.base.clone(), g.url("")];
    for base in &bases {
        assert_eq!(query(base, "", "CREATE DATABASE del", "").0, 200);
        assert_eq!(post_url(&format!("{base}/write?db=del&precision=s"), &[], lines.as_bytes()).status, 204);
    }
    let mismatches = differences(&bases, "del", DELETES, &[""]);
    assert!(mismatches.is_empty(), "{} differences:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// `SELECT`s Gemini answers from its downsampled tiers: six hours of line protocol three weeks
/// old (a float and an integer field, two hosts, every 30 s), downsampled by Gemini before the
/// statements run; each answer must be InfluxDB 1.6's, and the tiers must have been read.
#[test]
fn selects_from_downsampled_tiers_answer_as_influxdb_1_6() {
    let (idir, gdir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let influx = Influxd::start(idir.path());
    let g = Gemini::start(gdir.path(), &["--databases", "", "--downsample.delay", "1s"]);
    let bases = [influx.base.clone(), g.url("")];
    // A day inside a 7-day partition (the default policy's) that ended weeks ago, in seconds.
    let (day, week) = (86_400, 7 * 86_400);
    let t0 = (now_s() - 3 * week).div_euclid(week) * week + day;
    let mut lines = String::new();
    for i in 0..720 {
        for (host, scale) in [("a", 1), ("b", 3)] {
            let used = ((i * 7) % 29) as f64 * 0.25 * scale as f64;
            lines.push_str(&format!("disk,host={host} used={used},free={}i {}\n", (i % 13) * scale, t0 + 7 + i * 30));
        }
    }
    for base in &bases {
        assert_eq!(query(base, "", "CREATE DATABASE metrics", "").0, 200);
        assert_eq!(post_url(&format!("{base}/write?db=metrics&precision=s"), &[], lines.as_bytes()).status, 204);
    }
    // Two series of each field, a window in each of the six hours.
    wait_until("the hours are downsampled", Duration::from_secs(120), || {
        tests::cluster::metric(&g, "gemini_downsample_samples_total{tier=\"1h\"}") >= 24.0 && tests::cluster::metric(&g, "gemini_downsample_pending_partitions") == 0.0
    });
    let tier_reads = || ["5m", "1h"].map(|tier| tests::cluster::metric(&g, &format!("gemini_query_tier_reads_total{{tier=\"{tier}\"}}")));
    // From 0:07:30 to 5:03 after t0: partial groups at both edges.
    let range = format!("time >= {}s AND time <= {}s", t0 + 450, t0 + 18_180);
    let statements = [
        format!("SELECT count(used), sum(used), mean(used), min(used), max(used) FROM disk WHERE {range} GROUP BY time(5m), host"),
        format!("SELECT count(free), sum(free), mean(free), min(free), max(free), spread(free) FROM disk WHERE {range} GROUP BY time(1h)"),
        format!("SELECT first(used), last(used), spread(used) FROM disk WHERE {range} AND host = 'b' GROUP BY time(15m) fill(none)"),
    ];
    let before = tier_reads();
    let mismatches = differences(&bases, "metrics", &statements.iter().map(String::as_str).collect::<Vec<_>>(), &["", "s"]);
    assert!(mismatches.is_empty(), "{} differences:\n{}", mismatches.len(), mismatches.join("\n"));
    let after = tier_reads();
    assert!(after[0] > before[0] && after[1] > before[1], "the tiers were not read: {before:?} → {after:?}");
}
