//! The web UI in a real browser: Debian's `chromium`, headless, opens pages of the real `gemini`
//! binary, runs their scripts, and the test reads the DOM it dumps (screenshots go under the
//! test's temp dir). A Prometheus `/graph?g0.expr=…` link draws the series written here with
//! their labels, the table tab shows their pinned instant values, a bad query shows the API's
//! parse error in a red box, the databases page lists a database the test created, the cluster
//! page shows a dead peer with its error and hinted-handoff backlog (as /health and /metrics
//! give them), and with auth on the page asks for credentials, then shows what the user may
//! read and the 403 of what not. Without `chromium` (`.ci/run` installs it) the tests fail.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use tests::*;

/// Two series, sampled every minute over the last 20 minutes, the last a minute ago (inside
/// PromQL's 5-minute lookback, so an instant query at now sees it).
fn write_temperatures(g: &Gemini, db: &str) {
    let now_ms = now_s() * 1000;
    let samples = |v: f64| (1..=20).rev().map(|m| (now_ms - m * 60_000, v)).collect::<Vec<_>>();
    let req = proto::prometheus::WriteRequest {
        timeseries: vec![
            series(&[("__name__", "ui_temperature"), ("room", "kitchen")], &samples(21.5)),
            series(&[("__name__", "ui_temperature"), ("room", "cellar")], &samples(12.25)),
        ],
        metadata: vec![],
    };
    let a = g.write(db, &req);
    assert_eq!(a.status, 204, "{}", a.text());
}

/// Loads `path` of `g` in headless chromium and answers the DOM once the page's scripts have
/// run; with `screenshot`, also saves a picture of it as `<dir>/<screenshot>.png`.
fn browse(dir: &Path, url: &str, screenshot: Option<&str>) -> String {
    let chromium = tool_path("chromium");
    let profile = tempfile::tempdir_in(dir).unwrap();
    // Headless chromium waits for ever on some pages (an HTTP auth challenge): 30 s at most.
    let run = |extra: &[String]| {
        let out_path = profile.path().join("stdout");
        let mut child = Command::new(&chromium)
            .args(["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--window-size=1200,800"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .args(extra)
            .arg(url)
            .stdout(std::fs::File::create(&out_path).unwrap())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("run chromium");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("chromium did not finish {url} within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(status.success(), "chromium {url}: {status}");
        std::fs::read_to_string(&out_path).unwrap()
    };
    if let Some(name) = screenshot {
        let png = dir.join(format!("{name}.png"));
        run(&[format!("--screenshot={}", png.display())]);
        assert!(std::fs::metadata(&png).map(|m| m.len() > 1000).unwrap_or(false), "no screenshot at {}", png.display());
    }
    run(&["--dump-dom".to_string()])
}

/// The texts of the elements that start with `open` (such as `<td class="value">`), in order.
fn texts(dom: &str, open: &str) -> Vec<String> {
    dom.match_indices(open)
        .map(|(i, _)| {
            let rest = &dom[i + open.len()..];
            rest[..rest.find('<').unwrap_or(rest.len())].replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        })
        .collect()
}

/// The value of attribute `name` on every element that has it.
fn attributes(dom: &str, name: &str) -> Vec<String> {
    texts(dom, &format!(" {name}=\"")).into_iter().map(|t| t[..t.find('"').unwrap_or(t.len())].to_string()).collect()
}

const KITCHEN: &str = r#"ui_temperature{room="kitchen"}"#;
const CELLAR: &str = r#"ui_temperature{room="cellar"}"#;

#[test]
fn graph_link_draws_the_series_and_the_table_shows_their_values() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(&dir.path().join("data"), &[]);
    write_temperatures(&g, "prometheus");
    let home = g.get("/");
    assert_eq!((home.status, home.content_type.as_str()), (200, "text/html; charset=utf-8"), "/ leads to the UI (the redirect to /graph followed)");

    // A link as Prometheus' own UI makes it: the graph tab over the last hour.
    let dom = browse(dir.path(), &g.url("/graph?g0.expr=ui_temperature&g0.tab=0&g0.range_input=1h"), Some("graph"));
    assert_eq!(attributes(&dom, "data-series-count"), ["2"], "{dom}");
    let mut legend = texts(&dom, r#"<span class="labels">"#);
    legend.sort();
    assert_eq!(legend, [CELLAR, KITCHEN], "the legend names both series by their labels");
    let lines: Vec<String> = texts(&dom, r#"<path class="series" d=""#);
    assert_eq!(lines.len(), 2, "one line per series: {dom}");
    for line in &lines {
        assert!(line.matches('L').count() >= 15, "a line through 20 samples a minute apart: {line}");
    }
    // The value axis spans both series' values, 12.25 and 21.5.
    let axis: Vec<f64> = texts(&dom, r#"text-anchor="end">"#).iter().map(|t| t.parse().unwrap()).collect();
    assert!(axis.len() >= 3, "{dom}");
    let (low, high) = (axis.iter().cloned().fold(f64::MAX, f64::min), axis.iter().cloned().fold(f64::MIN, f64::max));
    assert!(low <= 12.25 && high >= 21.5 && high - low < 20.0, "value axis from {low} to {high}");
    assert!(texts(&dom, r#"<div class="alert alert-danger" role="alert">"#).is_empty(), "no error: {dom}");

    // The table tab: the instant query's values, as the API answers them.
    let dom = browse(dir.path(), &g.url("/graph?g0.expr=ui_temperature&g0.tab=1"), Some("table"));
    let labels = texts(&dom, r#"<td class="labels">"#);
    let values = texts(&dom, r#"<td class="value">"#);
    let mut rows: Vec<(String, String)> = labels.into_iter().zip(values).collect();
    rows.sort();
    assert_eq!(rows, [(CELLAR.to_string(), "12.25".to_string()), (KITCHEN.to_string(), "21.5".to_string())], "{dom}");

    // A bad query: the API's parse error, in Prometheus' red alert box.
    let api = g.get("/api/v1/query_range?query=rate(&start=0&end=60&step=15");
    assert_eq!(api.status, 400, "{}", api.text());
    let error: serde_json::Value = serde_json::from_slice(&api.body).unwrap();
    let error = error["error"].as_str().unwrap().to_string();
    assert!(error.contains("unclosed left parenthesis"), "Prometheus' words: {error}");
    let dom = browse(dir.path(), &g.url("/graph?g0.expr=rate(&g0.tab=0&g0.range_input=1h"), Some("error"));
    assert_eq!(texts(&dom, r#"<div class="alert alert-danger" role="alert">"#), [format!("Error executing query: {error}")], "{dom}");
    assert!(attributes(&dom, "data-series-count").is_empty(), "nothing drawn for a bad query");
}

#[test]
fn cardinality_and_status_pages_show_what_the_status_api_answers() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(&dir.path().join("data"), &["--query.slow-threshold", "3s"]);
    write_temperatures(&g, "prometheus");
    let dom = browse(dir.path(), &g.url("/tsdb-status"), Some("tsdb-status"));
    // Two series of one metric, 20 samples each (one chunk each), three label pairs.
    assert_eq!(row(&dom, "ui_temperature"), ["ui_temperature", "2"], "series by metric name: {dom}");
    assert_eq!(row(&dom, "room=kitchen"), ["room=kitchen", "1"], "series by label pair: {dom}");
    let section = &dom[dom.find("Head Stats").unwrap_or_else(|| panic!("no head stats: {dom}"))..];
    assert_eq!(texts(section, "<td>")[..3], ["2", "2", "3"], "series, chunks, label pairs: {section}");
    let dom = browse(dir.path(), &g.url("/status"), Some("status"));
    assert_eq!(row(&dom, "query.slow-threshold"), ["query.slow-threshold", "3s"], "the flag as the server runs with it: {dom}");
    assert!(row(&dom, "storageRetention").len() == 2, "runtime information: {dom}");
}

#[test]
fn databases_page_lists_the_databases_and_their_policies() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(&dir.path().join("data"), &[]);
    g.query("CREATE DATABASE weather WITH DURATION 30d NAME month");
    let dom = browse(dir.path(), &g.url("/databases"), Some("databases"));
    assert!(attributes(&dom, "data-db").contains(&"weather".to_string()), "{dom}");
    let section = &dom[dom.find(r#"data-db="weather""#).unwrap()..];
    let cells = texts(section, "<td>");
    assert_eq!(cells[..2], ["month", "720h0m0s"], "the policy's name and duration as SHOW RETENTION POLICIES gives them: {section}");
}

#[test]
fn with_auth_the_page_asks_for_credentials_and_shows_what_the_user_may_read() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(&dir.path().join("data"), &["--auth-enabled"]);
    let admin = [("Authorization", "Basic YWRtaW46YWRtaW4tcGFzcw==")]; // admin:admin-pass
    assert_eq!(g.post("/query?q=CREATE%20USER%20admin%20WITH%20PASSWORD%20'admin-pass'%20WITH%20ALL%20PRIVILEGES", &[], b"").status, 200);
    let setup = "CREATE DATABASE secret; CREATE USER reader WITH PASSWORD 'r-pass'; GRANT READ ON prometheus TO reader";
    assert_eq!(g.post(&format!("/query?q={}", urlencode(setup)), &admin, b"").status, 200);
    let write = g.post("/api/v1/prom/write?db=prometheus&u=admin&p=admin-pass", &PROTO_HEADERS, &write_body(&proto::prometheus::WriteRequest {
        timeseries: vec![series(&[("__name__", "ui_temperature"), ("room", "kitchen")], &[(now_s() * 1000 - 60_000, 21.5)])],
        metadata: vec![],
    }));
    assert_eq!(write.status, 204, "{}", write.text());

    // The assets need no credentials; the API does, so the page shows the login form.
    assert_eq!(g.get("/ui/graph.js").status, 200);
    let dom = browse(dir.path(), &g.url("/graph?g0.expr=ui_temperature&g0.tab=1"), Some("login"));
    assert!(dom.contains(r#"<form id="login">"#), "the login form is shown: {dom}");
    assert!(dom.contains("The server asks for credentials (unable to parse authentication credentials)"), "{dom}");

    // Signed in (`u` and `p` in the address, as the API takes them): the readable database's values.
    let signed_in = |path: &str| g.url(&format!("{path}&u=reader&p=r-pass"));
    let dom = browse(dir.path(), &signed_in("/graph?g0.expr=ui_temperature&g0.tab=1"), Some("signed-in"));
    assert!(dom.contains("signed in as reader"), "{dom}");
    assert!(dom.contains(r#"<form id="login" hidden="">"#), "no login form once signed in: {dom}");
    assert_eq!(texts(&dom, r#"<td class="value">"#), ["21.5"], "{dom}");

    // A database the user may not read: the API's 403, in the red box.
    let dom = browse(dir.path(), &signed_in("/graph?db=secret&g0.expr=ui_temperature&g0.tab=1"), None);
    let alerts = texts(&dom, r#"<div class="alert alert-danger" role="alert">"#);
    assert_eq!(alerts, [r#"Error executing query: "reader" user is not authorized to read from database "secret""#], "{dom}");
}

/// The cells of the table row whose first cell is `first`, tags stripped.
fn row(dom: &str, first: &str) -> Vec<String> {
    let start = dom.find(&format!(">{first}</td>")).unwrap_or_else(|| panic!("no row {first}: {dom}"));
    let rest = &dom[start + 1..];
    let cells = &rest[..rest.find("</tr>").unwrap()];
    cells.split("</td>").filter(|c| !c.is_empty()).map(|c| {
        let mut text = String::new();
        let mut in_tag = false;
        for ch in c.chars() {
            match ch {
                '<' => in_tag = true,
                '>' => in_tag = false,
                _ if !in_tag => text.push(ch),
                _ => {}
            }
        }
        text
    }).collect()
}

#[test]
fn cluster_page_shows_the_peers_and_the_handoff_backlog() {
    std::env::set_var("GEMINI_CLUSTER_SECRET", "web-ui-test-secret");
    let dir = tempfile::tempdir().unwrap();
    let dead = format!("127.0.0.1:{}", free_port()); // nothing listens here
    let (a_port, b_port) = (free_port(), free_port());
    let (a_name, b_name) = (format!("127.0.0.1:{a_port}"), format!("127.0.0.1:{b_port}"));
    let peers = [a_name.as_str(), b_name.as_str(), dead.as_str()].join(",");
    let node = |port: u16, me: &str, data: &str| {
        Gemini::start_on(port, &dir.path().join(data), &["--cluster.self", me, "--cluster.peers", &peers, "--cluster.replication-factor", "2"])
    };
    let _b = node(b_port, &b_name, "b");
    let a = node(a_port, &a_name, "a");
    let health = || -> serde_json::Value { serde_json::from_slice(&a.get("/health").body).unwrap() };
    let reachable = |h: &serde_json::Value, name: &str| h["peers"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap()["reachable"].clone();
    wait_until("b reachable and the dead peer not", Duration::from_secs(15), || {
        let h = health();
        reachable(&h, &b_name) == true && reachable(&h, &dead) == false
    });
    // Two copies of each series: where the dead peer owns one, the third node takes it and
    // holds it for the peer (hinted handoff). Of 40 series, some are this node's to hold
    // (each with a chance of about 1/3; none of 40 with one of about 1e-7).
    let hosts: Vec<String> = (0..40).map(|i| format!("h{i}")).collect();
    let t = now_s() * 1000 - 60_000;
    let timeseries = hosts.iter().map(|h| series(&[("__name__", "ui_load"), ("host", h)], &[(t, 1.0)])).collect();
    let w = a.write("prometheus", &proto::prometheus::WriteRequest { timeseries, metadata: vec![] });
    assert_eq!(w.status, 204, "{}", w.text());

    let dom = browse(dir.path(), &a.url("/cluster"), Some("cluster"));
    let h = health();
    let error = h["peers"].as_array().unwrap().iter().find(|p| p["name"] == dead.as_str()).unwrap()["error"].as_str().unwrap().to_string();
    let metrics = a.get("/metrics").text();
    let backlog = metrics.lines().find_map(|l| l.strip_prefix(&format!("gemini_cluster_handoff_pending_series{{peer=\"{dead}\"}} "))).expect("the dead peer's backlog").to_string();
    assert_ne!(backlog, "0", "series held for the dead peer: {metrics}");
    assert_eq!(row(&dom, &dead), [dead.clone(), "unreachable".into(), error, backlog], "{dom}");
    assert_eq!(row(&dom, &b_name)[..2], [b_name.clone(), "reachable".to_string()], "{dom}");
    assert_eq!(row(&dom, &a_name)[..2], [a_name.clone(), "reachable".to_string()], "{dom}");
}
