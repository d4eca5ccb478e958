//! The web UI in a real browser: Debian's `chromium`, headless, opens pages of the real `gemini`
//! binary, runs their scripts, and the test reads the DOM it dumps (screenshots go under the
//! test's temp dir). A Prometheus `/graph?g0.expr=…` link draws the series written here with
//! their labels, the table tab shows their pinned instant values, a bad query shows the API's
//! parse error in a red box, the databases page lists a database the test created, and with
//! auth on the page asks for credentials, then shows what the user may read and the 403 of
//! what not. Without `chromium` (`.ci/run` installs it) the tests fail.

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
