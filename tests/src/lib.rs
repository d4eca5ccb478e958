//! Helpers for the end-to-end tests: start the real `gemini` binary on a free port, speak
//! remote write and remote read to it, and decode streamed answers independently of the
//! engine's own code (frames with CRC checks, XOR chunks with a separate decoder). Bodies and
//! frames are split with `proto::remote`, the wire level the engine shares; what the frames
//! hold is checked here.

pub mod cluster;
pub mod import;
pub mod influxd;
pub mod promql;
pub mod tiers;
pub mod xor;

use prost::Message;
use proto::prometheus as pb;
use proto::remote::{snappy_message, split_frame, unsnappy};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Where `cargo build --release --bins` put the binaries: beside this test's own directory.
/// Fails with a clear message when the binary is missing or older than its sources (a test
/// would otherwise pass or fail against code that is no longer there).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir.join(name);
    assert!(path.exists(), "{} is missing: run `cargo build --release --bins` first", path.display());
    let built = std::fs::metadata(&path).and_then(|m| m.modified()).unwrap();
    let sources: &[&str] = match name {
        "gemini" => &["engine/src", "engine/ui", "engine/Cargo.toml", "proto"],
        "gemini-operator" | "crdgen" => &["operator/src", "operator/Cargo.toml"],
        _ => &[],
    };
    if let Some((changed, newest)) = sources.iter().filter_map(|s| newest_file(&project_root().join(s))).max_by_key(|(_, t)| *t) {
        assert!(
            newest <= built,
            "{} is older than its sources ({} changed after it was built): run `cargo build --release --bins` first",
            path.display(),
            changed.display()
        );
    }
    path
}

/// The most recently modified file under `path` (or `path` itself), with its time.
fn newest_file(path: &Path) -> Option<(PathBuf, SystemTime)> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_dir() {
        return Some((path.to_path_buf(), meta.modified().ok()?));
    }
    std::fs::read_dir(path).ok()?.filter_map(|e| newest_file(&e.ok()?.path())).max_by_key(|(_, t)| *t)
}

/// A tool `.ci/run` installs (helm, kubernetes-validate), found on PATH.
pub fn tool_path(name: &str) -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()));
    found.unwrap_or_else(|| panic!("{name} is not on PATH: `bash .ci/run` installs it"))
}

/// The workspace root. Looked up at run time, not baked in: a test binary reused from a build
/// in another checkout must read this checkout's files and neighbours.
pub fn project_root() -> PathBuf {
    Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("run by cargo test")).join("..")
}

pub fn fixtures_dir() -> PathBuf {
    project_root().join("../shared/fixtures/prometheus-2.42")
}

/// The captured `write-*` or `read-*` bodies, in capture order.
pub fn fixture_files(prefix: &str) -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(fixtures_dir())
        .expect("shared/fixtures/prometheus-2.42 beside the project")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with(prefix) && n.ends_with(".bin")
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no {prefix}*.bin fixtures");
    files
}

/// Path and headers Prometheus sent with a body.
pub fn captured_request(bin: &std::path::Path) -> (String, Vec<(String, String)>) {
    let meta: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bin.with_extension("headers.json")).unwrap()).unwrap();
    let headers = meta["headers"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| !["Host", "Content-Length"].contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    (meta["path"].as_str().unwrap().to_string(), headers)
}

/// Sends a captured body with the path and headers Prometheus used.
pub fn send_captured(g: &Gemini, bin: &std::path::Path) -> Answer {
    let (path, headers) = captured_request(bin);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    g.post(&path, &headers, &std::fs::read(bin).unwrap())
}

/// Every sample the captured writes carry, series → samples.
pub fn fixture_writes() -> Series {
    let mut expected: Series = BTreeMap::new();
    for bin in fixture_files("write-") {
        let raw = unsnappy(&std::fs::read(&bin).unwrap()).unwrap();
        let req = pb::WriteRequest::decode(raw.as_slice()).unwrap();
        for (k, v) in to_series(req.timeseries) {
            expected.entry(k).or_default().extend(v);
        }
    }
    expected
}

/// Waits for `done`, checking every 200 ms; fails naming `what` after `within`.
pub fn wait_until(what: &str, within: Duration, done: impl FnMut() -> bool) {
    wait_checking_every(Duration::from_millis(200), what, within, done)
}

/// `wait_until`, checking every `every` (a test that acts at a moment of some progress).
pub fn wait_checking_every(every: Duration, what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "{what} did not happen within {within:?}");
        std::thread::sleep(every);
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// An HTTP answer: status, headers we care about, body.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut r = r.expect("HTTP request");
    let headers = r.headers().iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string())).collect();
    let content_type = r.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let body = r.body_mut().with_config().limit(1 << 30).read_to_vec().expect("read body");
    Answer { status: r.status().as_u16(), content_type, headers, body }
}

/// A POST to any server.
pub fn post_url(url: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut req = agent().post(url);
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    answer(req.send(body))
}

/// A snappy-compressed remote write 1.0 body.
pub fn write_body(req: &pb::WriteRequest) -> Vec<u8> {
    snappy_message(req).unwrap()
}

pub struct Gemini {
    child: Option<Child>,
    pub port: u16,
    pub data_dir: PathBuf,
    args: Vec<String>,
    /// `RUST_LOG` of a server whose log the test reads (`start_logged`); its standard error goes
    /// to `log_path()`, appended run after run.
    log_filter: Option<String>,
}

impl Gemini {
    /// Starts `gemini serve` on a free port with `data_dir` and extra flags; waits for `/ping`.
    pub fn start(data_dir: &Path, extra: &[&str]) -> Gemini {
        Gemini::start_on(free_port(), data_dir, extra)
    }

    /// `start` on a given port (a cluster's nodes must know each other's ports first).
    pub fn start_on(port: u16, data_dir: &Path, extra: &[&str]) -> Gemini {
        Gemini::launch(port, data_dir, extra, None)
    }

    /// `start` with `RUST_LOG=filter` and standard error kept in `log_path()` for the test to read.
    pub fn start_logged(data_dir: &Path, extra: &[&str], filter: &str) -> Gemini {
        Gemini::launch(free_port(), data_dir, extra, Some(filter))
    }

    fn launch(port: u16, data_dir: &Path, extra: &[&str], log_filter: Option<&str>) -> Gemini {
        let args = extra.iter().map(|s| s.to_string()).collect();
        let mut g = Gemini { child: None, port, data_dir: data_dir.to_path_buf(), args, log_filter: log_filter.map(str::to_string) };
        g.spawn();
        g
    }

    /// Where a server started with `start_logged` writes its log: in its data directory.
    pub fn log_path(&self) -> PathBuf {
        self.data_dir.join("test-stderr.log")
    }

    /// What a server started with `start_logged` has logged so far, over all its runs.
    pub fn log(&self) -> String {
        assert!(self.log_filter.is_some(), "start it with start_logged to read its log");
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let mut command = Command::new(bin("gemini"));
        command.arg("serve").arg("--http-addr").arg(format!("127.0.0.1:{}", self.port)).arg("--data-dir").arg(&self.data_dir).args(&self.args).stdout(Stdio::null());
        match &self.log_filter {
            None => command.env("RUST_LOG", std::env::var("GEMINI_TEST_LOG").unwrap_or_else(|_| "warn".into())),
            Some(filter) => {
                let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path()).expect("open the test log");
                command.env("RUST_LOG", filter).stderr(log)
            }
        };
        let child = command.spawn().expect("start gemini");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        let tls = self.args.iter().any(|a| a == "--tls-cert");
        loop {
            // Over TLS the test itself checks /ping with its CA; here the port answering is enough.
            if tls && std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Ok(r) = agent().get(&self.url("/ping")).call() {
                if r.status().as_u16() == 204 {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("gemini exited at start: {status}");
            }
            assert!(Instant::now() < deadline, "gemini did not answer /ping within 60 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs the real `influx` CLI against this server: (exit status success, stdout + stderr).
    pub fn influx(&self, args: &[&str]) -> (bool, String) {
        let out = Command::new("influx")
            .args(["-host", "127.0.0.1", "-port", &self.port.to_string()])
            .args(args)
            .output()
            .expect("the influx CLI (apt-get install influxdb-client) must be installed");
        (out.status.success(), String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGKILL and wait.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            c.wait().unwrap();
        }
    }

    /// SIGTERM; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        Command::new("kill").arg("-TERM").arg(c.id().to_string()).status().unwrap();
        c.wait().unwrap().code()
    }

    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        self.spawn();
    }

    pub fn get(&self, path: &str) -> Answer {
        answer(agent().get(&self.url(path)).call())
    }

    pub fn post(&self, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        post_url(&self.url(path), headers, body)
    }

    /// InfluxQL over `/query` (POST, as the influx CLI does); returns the parsed JSON.
    pub fn query(&self, q: &str) -> serde_json::Value {
        self.query_in("", q)
    }

    /// `/query` with `db=` set: a 200 answer's JSON.
    pub fn query_in(&self, db: &str, q: &str) -> serde_json::Value {
        let path = format!("/query?db={}&q={}", urlencode(db), urlencode(q));
        let a = self.post(&path, &[], b"");
        assert_eq!(a.status, 200, "{q}: {}", a.text());
        serde_json::from_slice(&a.body).unwrap()
    }

    /// A remote write 1.0 request, snappy-compressed, to `/api/v1/prom/write?db=`.
    pub fn write(&self, db: &str, req: &pb::WriteRequest) -> Answer {
        self.post(&format!("/api/v1/prom/write?db={db}"), &PROTO_HEADERS, &write_body(req))
    }

    /// Remote read with the given accepted response types; panics unless 200.
    pub fn read(&self, db: &str, req: &pb::ReadRequest) -> Answer {
        let body = snappy_message(req).unwrap();
        let a = self.post(&format!("/api/v1/prom/read?db={db}"), &PROTO_HEADERS, &body);
        assert_eq!(a.status, 200, "remote read: {}", a.text());
        a
    }

    /// SAMPLES read of one query: series labels (as a sorted list) → samples.
    pub fn read_samples(&self, db: &str, query: pb::Query) -> Series {
        let a = self.read(db, &pb::ReadRequest { queries: vec![query], accepted_response_types: vec![] });
        let resp = decode_samples(&a.body);
        assert_eq!(resp.results.len(), 1);
        to_series(resp.results.into_iter().next().unwrap().timeseries)
    }

    /// STREAMED_XOR_CHUNKS read of one query, decoded independently.
    pub fn read_streamed(&self, db: &str, query: pb::Query) -> Series {
        let a = self.read(db, &pb::ReadRequest { queries: vec![query.clone()], accepted_response_types: vec![1] });
        assert_eq!(a.content_type, STREAMED);
        decode_streamed(&a.body, query.start_timestamp_ms, query.end_timestamp_ms)
    }
}

/// The content type of a STREAMED_XOR_CHUNKS answer.
pub const STREAMED: &str = "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// The samples in [min_t, max_t] of a STREAMED_XOR_CHUNKS answer, decoded independently;
/// series without any left out.
pub fn decode_streamed(body: &[u8], min_t: i64, max_t: i64) -> Series {
    let mut out = Series::new();
    for msg in decode_frames(body) {
        for s in msg.chunked_series {
            let key = labels_key(&s.labels);
            let entry = out.entry(key).or_default();
            for c in s.chunks {
                assert_eq!(c.r#type, pb::chunk::Encoding::Xor as i32);
                for (t, v) in xor::decode(&c.data) {
                    assert!(t >= c.min_time_ms && t <= c.max_time_ms, "sample outside its chunk's bounds");
                    if t >= min_t && t <= max_t {
                        entry.push((t, v));
                    }
                }
            }
        }
    }
    out.retain(|_, v| !v.is_empty());
    out
}

impl Drop for Gemini {
    fn drop(&mut self) {
        self.kill9();
    }
}

pub const PROTO_HEADERS: [(&str, &str); 3] =
    [("Content-Type", "application/x-protobuf"), ("Content-Encoding", "snappy"), ("X-Prometheus-Remote-Write-Version", "0.1.0")];

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Series → samples as (timestamp, value bits), so NaNs compare bit for bit.
pub type Series = BTreeMap<Vec<(String, String)>, Vec<(i64, u64)>>;

pub fn labels_key(labels: &[pb::Label]) -> Vec<(String, String)> {
    labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect()
}

pub fn to_series(ts: Vec<pb::TimeSeries>) -> Series {
    let mut out = Series::new();
    for t in ts {
        out.entry(labels_key(&t.labels)).or_default().extend(t.samples.iter().map(|s| (s.timestamp, s.value.to_bits())));
    }
    out
}

pub fn decode_samples(body: &[u8]) -> pb::ReadResponse {
    let raw = unsnappy(body).expect("SAMPLES answer is snappy");
    pb::ReadResponse::decode(raw.as_slice()).expect("SAMPLES answer is a ReadResponse")
}

/// Splits a streamed answer into messages, checking each frame's size and CRC32-C.
pub fn decode_frames(mut body: &[u8]) -> Vec<pb::ChunkedReadResponse> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let frame = split_frame(body).expect("a frame length").expect("a whole frame");
        let (header, len, crc, msg) = (frame.varint_len, frame.message.len(), frame.crc, frame.message);
        assert!(header + 4 + len <= 1 << 20, "a frame of {} bytes, header included, is over 1 MiB", header + 4 + len);
        assert_eq!(crc, crc32c::crc32c(msg), "frame CRC mismatch");
        out.push(pb::ChunkedReadResponse::decode(msg).expect("frame holds a ChunkedReadResponse"));
        body = &body[frame.len()..];
    }
    out
}

pub fn label(name: &str, value: &str) -> pb::Label {
    pb::Label { name: name.into(), value: value.into() }
}

pub fn matcher(kind: i32, name: &str, value: &str) -> pb::LabelMatcher {
    pb::LabelMatcher { r#type: kind, name: name.into(), value: value.into() }
}

/// A query over all time for the given matchers.
pub fn query_all(matchers: Vec<pb::LabelMatcher>) -> pb::Query {
    pb::Query { start_timestamp_ms: i64::MIN, end_timestamp_ms: i64::MAX, matchers, hints: None }
}

/// One series with the given samples.
pub fn series(labels: &[(&str, &str)], samples: &[(i64, f64)]) -> pb::TimeSeries {
    pb::TimeSeries {
        labels: labels.iter().map(|(n, v)| label(n, v)).collect(),
        samples: samples.iter().map(|&(t, v)| pb::Sample { timestamp: t, value: v }).collect(),
        ..Default::default()
    }
}

/// A bare writer for a server another thread may kill: connection errors are `None`.
pub struct Client {
    port: u16,
    agent: ureq::Agent,
}

impl Gemini {
    pub fn client_for(port: u16) -> Client {
        Client { port, agent: agent() }
    }
}

impl Client {
    pub fn write(&self, db: &str, req: &pb::WriteRequest) -> Option<u16> {
        let body = write_body(req);
        let mut r = self.agent.post(&format!("http://127.0.0.1:{}/api/v1/prom/write?db={db}", self.port));
        for (n, v) in PROTO_HEADERS {
            r = r.header(n, v);
        }
        r.send(&body[..]).ok().map(|resp| resp.status().as_u16())
    }
}

/// A real Prometheus (Debian's `prometheus`) with its own directory; `SELF_PORT` in the
/// configuration becomes its own port.
pub struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    pub fn start(config: &str) -> Prometheus {
        Prometheus::start_with(config, &[])
    }

    /// `start` with extra command-line flags (e.g. `--web.enable-remote-write-receiver`).
    pub fn start_with(config: &str, flags: &[&str]) -> Prometheus {
        require_prometheus_2_42();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = config.replace("SELF_PORT", &port.to_string());
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus (apt-get install prometheus) must be installed");
        let p = Prometheus { child, port, _dir: dir };
        for _ in 0..300 {
            if agent().get(&p.url("/-/ready")).call().is_ok_and(|r| r.status() == 200) {
                return p;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("prometheus did not become ready");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    /// Its `--storage.tsdb.path`, which outlives `stop`.
    pub fn data_dir(&self) -> PathBuf {
        self._dir.path().join("data")
    }

    /// Kills it and waits for it to exit; its directory stays until it is dropped.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `/api/v1/query_range` with step 1 s; the result series sorted by labels.
    pub fn query_range(&self, q: &str, start: i64, end: i64) -> serde_json::Value {
        let url = self.url(&format!("/api/v1/query_range?query={}&start={start}&end={end}&step=1", urlencode(q)));
        let mut r = agent().get(&url).call().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap();
        assert_eq!(v["status"], "success", "{q}: {v}");
        let mut result = v["data"]["result"].as_array().unwrap().clone();
        result.sort_by_key(|s| s["metric"].to_string());
        serde_json::Value::Array(result)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The version a reference program reports: the first word starting with a digit (after an
/// optional `v`) of the first line of `program args`, stdout or else stderr.
fn reported_version(program: &str, args: &[&str], install: &str) -> (String, String) {
    let out = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run `{program}` ({e}): {install}"));
    let text = String::from_utf8_lossy(if out.stdout.is_empty() { &out.stderr } else { &out.stdout }).into_owned();
    let line = text.lines().next().unwrap_or("").trim().to_string();
    let version = line
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|w| w.strip_prefix('v').unwrap_or(w))
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .unwrap_or("")
        .to_string();
    (version, line)
}

/// Fails with a clear message unless `program args` reports a version starting with `want`
/// (e.g. `2.42.`); checked once per test binary.
fn require_version(checked: &'static std::sync::OnceLock<Result<(), String>>, program: &str, args: &[&str], want: &str, why: &str, install: &str) {
    let result = checked.get_or_init(|| {
        let (version, line) = reported_version(program, args, install);
        if version.starts_with(want) {
            Ok(())
        } else {
            Err(format!("these tests assume {program} {want}x ({why}), but `{program} {}` reports {version:?} ({line:?}); {install}", args.join(" ")))
        }
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The tests compare with, and replay traffic captured from, Prometheus 2.42: fails with a clear
/// message unless `prometheus --version` is 2.42.x. `Prometheus::start` calls it.
pub fn require_prometheus_2_42() {
    static CHECKED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let why = "the fixtures are its traffic and its answers are the reference";
    require_version(&CHECKED, "prometheus", &["--version"], "2.42.", why, "install Debian 12's prometheus 2.42 (apt-get install prometheus)");
}

/// The differential test compares with InfluxDB 1.6: fails with a clear message unless
/// `influxd version` is 1.6.x. The differential test calls it where it starts `influxd`.
pub fn require_influxd_1_6() {
    static CHECKED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let why = "the differential test takes its answers as the reference";
    require_version(&CHECKED, "/usr/bin/influxd", &["version"], "1.6.", why, "install Debian 12's influxdb 1.6 (apt-get install influxdb)");
}

pub fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

/// A Prometheus scraping itself every second and remote-writing to the given `remote_write:`
/// list items (YAML, indented by two spaces).
pub fn self_scraping_prometheus(remote_write: &str) -> Prometheus {
    Prometheus::start(&format!(
        "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: prometheus\n    static_configs: [{{targets: ['127.0.0.1:SELF_PORT']}}]\nremote_write:\n{remote_write}"
    ))
}

/// Lines with their runs of spaces collapsed and blank lines dropped, as the `influx` CLI pads
/// its columns.
pub fn words(text: &str) -> Vec<String> {
    text.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|l| !l.is_empty()).collect()
}
