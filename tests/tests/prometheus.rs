//! End to end with the real Prometheus (Debian's `prometheus` 2.42): one Prometheus scrapes
//! itself and remote-writes into gemini; a second one with an empty local store and
//! `remote_read` pointed at gemini answers `/api/v1/query_range` with the same values.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tests::*;

struct Prometheus {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(config: &str) -> Prometheus {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = config.replace("SELF_PORT", &port.to_string());
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
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

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{}", self.port, path)
    }

    fn query_range(&self, q: &str, start: i64, end: i64) -> serde_json::Value {
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

fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() as i64
}

#[test]
fn prometheus_reads_back_what_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    let writer = Prometheus::start(&format!(
        r#"
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: prometheus
    static_configs: [{{targets: ['127.0.0.1:SELF_PORT']}}]
remote_write:
  - url: "http://127.0.0.1:{}/api/v1/prom/write?db=prometheus"
    queue_config: {{batch_send_deadline: 1s}}
"#,
        g.port
    ));
    let start = now_s();
    std::thread::sleep(Duration::from_secs(20));
    let end = now_s() - 3;
    // Wait until gemini holds samples up to `end` (remote write ships within ~1 s).
    let up = || g.read_samples("prometheus", query_all(vec![matcher(0, "__name__", "up")]));
    for _ in 0..100 {
        if up().values().any(|s| s.last().is_some_and(|(t, _)| *t >= end * 1000)) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));

    let reader = Prometheus::start(&format!(
        r#"
global: {{scrape_interval: 1h}}
remote_read:
  - url: "http://127.0.0.1:{}/api/v1/prom/read?db=prometheus"
    read_recent: true
"#,
        g.port
    ));
    let queries = [
        "up",
        "prometheus_http_requests_total",
        "rate(prometheus_tsdb_head_samples_appended_total[5s])",
        "sum by (handler) (prometheus_http_requests_total)",
        "go_goroutines",
    ];
    for q in queries {
        let want = writer.query_range(q, start, end);
        assert!(!want.as_array().unwrap().is_empty(), "{q}: the writer has data");
        let got = reader.query_range(q, start, end);
        assert_eq!(got, want, "{q}: remote read through gemini differs from the writer's own store");
    }
}
