//! A real InfluxDB 1.6 (Debian's `influxd`) on free ports with its own directories, and its
//! `/query` answers as (status, JSON): the reference that InfluxDB-facing tests compare with.

use crate::{agent, free_port, post_url, require_influxd_1_6, urlencode};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Influxd {
    child: Child,
    pub base: String,
    /// Where it keeps its data (`data/`) and write-ahead log (`wal/`).
    pub dir: PathBuf,
}

impl Influxd {
    pub fn start(dir: &Path) -> Influxd {
        require_influxd_1_6();
        let (http, rpc) = (free_port(), free_port());
        let d = dir.display();
        let config = format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{rpc}\"\n[meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n[http]\n  bind-address = \"127.0.0.1:{http}\"\n  log-enabled = false\n[monitor]\n  store-enabled = false\n"
        );
        std::fs::write(dir.join("influxd.conf"), config).unwrap();
        let child = Command::new("/usr/bin/influxd")
            .arg("-config")
            .arg(dir.join("influxd.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("influxd (apt-get install influxdb) must be installed");
        let base = format!("http://127.0.0.1:{http}");
        let deadline = Instant::now() + Duration::from_secs(60);
        while agent().get(&format!("{base}/ping")).call().map(|r| r.status().as_u16()).ok() != Some(204) {
            assert!(Instant::now() < deadline, "influxd did not answer /ping within 60 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        Influxd { child, base, dir: dir.to_path_buf() }
    }

    /// Its HTTP port.
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `POST <base>/query?db=&epoch=&q=`: status and JSON.
pub fn query(base: &str, db: &str, q: &str, epoch: &str) -> (u16, serde_json::Value) {
    let a = post_url(&format!("{base}/query?db={db}&epoch={epoch}&q={}", urlencode(q)), &[], b"");
    (a.status, serde_json::from_slice(&a.body).unwrap_or_else(|_| panic!("{q}: not JSON: {}", a.text())))
}

/// Whether an answer holds nothing: a success whose every statement has no error and no row.
pub fn holds_nothing(answer: &(u16, serde_json::Value)) -> bool {
    let rows = |r: &serde_json::Value| r["series"].as_array().is_some_and(|series| series.iter().any(|s| s["values"].as_array().is_some_and(|v| !v.is_empty())));
    answer.0 == 200 && answer.1["results"].as_array().is_some_and(|results| results.iter().all(|r| r.get("error").is_none() && !rows(r)))
}
