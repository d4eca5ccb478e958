//! End to end with the real Prometheus (Debian's `prometheus` 2.42): one Prometheus scrapes
//! itself and remote-writes into gemini; a second one with an empty local store and
//! `remote_read` pointed at gemini answers `/api/v1/query_range` with the same values.

use std::time::Duration;
use tests::*;

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
