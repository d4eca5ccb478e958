//! `gemini bench`: starts a `gemini serve` child on a fresh data directory (optionally pinned
//! to a CPU with `taskset`), pre-encodes a node_exporter-shaped remote write workload
//! (counters, gauges and constants over realistic label sets), sends it over concurrent
//! keep-alive connections the way Prometheus' remote-write shards do (each connection owns a
//! slice of the series and sends them in time order), then reports samples/s, request
//! latency, bytes on disk per sample after a clean stop, and the server's peak RSS.

use prost::Message;
use proto::prometheus as pb;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Number of series.
    #[arg(long, default_value_t = 100_000)]
    pub series: usize,
    /// Scrapes of every series, 15 s apart.
    #[arg(long, default_value_t = 30)]
    pub scrapes: usize,
    /// Concurrent keep-alive connections (Prometheus remote-write shards).
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Samples per request (Prometheus' max_samples_per_send).
    #[arg(long, default_value_t = 2000)]
    pub batch: usize,
    /// Pin the server to this CPU with `taskset -c` (run the bench itself under `taskset` too).
    #[arg(long)]
    pub server_cpu: Option<usize>,
    /// Shards of the server [default: the server's default].
    #[arg(long)]
    pub shards: Option<usize>,
    /// Data directory for the server; a temporary one is used and removed when not given.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// A tiny deterministic generator, so every run sends the same workload.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Constant,
}

struct SeriesSpec {
    labels: Vec<pb::Label>,
    kind: Kind,
    value: f64,
}

/// The label sets of one node_exporter target: about 250 series, like a real one.
fn node_target(host: usize, out: &mut Vec<SeriesSpec>, rng: &mut Rng) {
    let instance = format!("host-{host:05}:9100");
    let mut push = |name: &str, extra: &[(&str, String)], kind: Kind, rng: &mut Rng| {
        let mut labels: Vec<(String, String)> = vec![
            ("__name__".into(), name.into()),
            ("instance".into(), instance.clone()),
            ("job".into(), "node".into()),
        ];
        labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        labels.sort();
        let value = match kind {
            Kind::Counter => (rng.next() % 1_000_000) as f64,
            Kind::Gauge => rng.unit() * 100.0,
            Kind::Constant => [1.0, 4.0, 8_254_029_824.0][(rng.next() % 3) as usize],
        };
        out.push(SeriesSpec { labels: labels.into_iter().map(|(name, value)| pb::Label { name, value }).collect(), kind, value });
    };
    for cpu in 0..8 {
        for mode in ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"] {
            push("node_cpu_seconds_total", &[("cpu", cpu.to_string()), ("mode", mode.into())], Kind::Counter, rng);
        }
    }
    for dev in ["eth0", "eth1", "lo", "docker0"] {
        for m in ["receive_bytes", "transmit_bytes", "receive_packets", "transmit_packets", "receive_errs", "transmit_errs", "receive_drop", "transmit_drop"] {
            push(&format!("node_network_{m}_total"), &[("device", dev.into())], Kind::Counter, rng);
        }
        push("node_network_up", &[("device", dev.into())], Kind::Constant, rng);
        push("node_network_mtu_bytes", &[("device", dev.into())], Kind::Constant, rng);
    }
    for (dev, mp) in [("/dev/sda1", "/"), ("/dev/sda2", "/home"), ("tmpfs", "/run"), ("/dev/sdb1", "/var")] {
        for m in ["avail_bytes", "free_bytes", "files_free"] {
            push(&format!("node_filesystem_{m}"), &[("device", dev.into()), ("fstype", "ext4".into()), ("mountpoint", mp.into())], Kind::Gauge, rng);
        }
        for m in ["size_bytes", "files", "readonly"] {
            push(&format!("node_filesystem_{m}"), &[("device", dev.into()), ("fstype", "ext4".into()), ("mountpoint", mp.into())], Kind::Constant, rng);
        }
    }
    for dev in ["sda", "sdb"] {
        for m in ["read_bytes", "written_bytes", "reads_completed", "writes_completed", "io_time_seconds", "read_time_seconds", "write_time_seconds"] {
            push(&format!("node_disk_{m}_total"), &[("device", dev.into())], Kind::Counter, rng);
        }
    }
    for m in ["MemAvailable", "MemFree", "Cached", "Buffers", "Active", "Inactive", "Dirty", "Slab", "AnonPages", "Mapped", "Shmem", "SwapFree"] {
        push(&format!("node_memory_{m}_bytes"), &[], Kind::Gauge, rng);
    }
    for m in ["MemTotal", "SwapTotal", "HugePages_Total", "Hugepagesize"] {
        push(&format!("node_memory_{m}_bytes"), &[], Kind::Constant, rng);
    }
    for m in ["node_load1", "node_load5", "node_load15", "node_procs_running", "node_procs_blocked", "go_goroutines", "process_resident_memory_bytes", "node_entropy_available_bits", "node_filefd_allocated", "node_sockstat_TCP_inuse"] {
        push(m, &[], Kind::Gauge, rng);
    }
    for m in ["node_context_switches_total", "node_intr_total", "node_forks_total", "process_cpu_seconds_total", "go_gc_duration_seconds_count", "node_scrape_collector_duration_seconds_sum"] {
        push(m, &[], Kind::Counter, rng);
    }
    for m in ["node_boot_time_seconds", "node_uname_info", "node_exporter_build_info", "node_time_zone_offset_seconds", "go_info"] {
        push(m, &[], Kind::Constant, rng);
    }
}

fn workload(series: usize, rng: &mut Rng) -> Vec<SeriesSpec> {
    let mut out = Vec::with_capacity(series + 300);
    let mut host = 0;
    while out.len() < series {
        node_target(host, &mut out, rng);
        host += 1;
    }
    out.truncate(series);
    out
}

/// Advances every series by one scrape, as the real thing would move.
fn step(spec: &mut SeriesSpec, rng: &mut Rng) {
    match spec.kind {
        Kind::Counter => spec.value += (rng.next() % 4096) as f64 * if rng.next() % 4 == 0 { 0.0 } else { 1.0 },
        Kind::Gauge => spec.value = (spec.value + (rng.unit() - 0.5) * 2.0).max(0.0),
        Kind::Constant => {}
    }
}

/// Pre-encodes the requests of each connection, in time order.
fn encode(args: &BenchArgs) -> Vec<Vec<Vec<u8>>> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut specs = workload(args.series, &mut rng);
    let mut per_conn: Vec<Vec<Vec<u8>>> = vec![Vec::new(); args.connections];
    let start = 1_700_000_000_000i64;
    let mut enc = snap::raw::Encoder::new();
    for scrape in 0..args.scrapes {
        let t = start + scrape as i64 * 15_000;
        for (c, conn) in per_conn.iter_mut().enumerate() {
            let mine: Vec<usize> = (c..specs.len()).step_by(args.connections).collect();
            for batch in mine.chunks(args.batch) {
                let ts = batch
                    .iter()
                    .map(|&i| {
                        let s = &mut specs[i];
                        step(s, &mut rng);
                        // Real scrapes jitter by a millisecond or two now and then.
                        let jitter = if rng.next() % 10 == 0 { (rng.next() % 3) as i64 } else { 0 };
                        pb::TimeSeries { labels: s.labels.clone(), samples: vec![pb::Sample { value: s.value, timestamp: t + jitter }], ..Default::default() }
                    })
                    .collect();
                let body = pb::WriteRequest { timeseries: ts, metadata: vec![] }.encode_to_vec();
                conn.push(enc.compress_vec(&body).expect("snappy"));
            }
        }
    }
    per_conn
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Bytes of RocksDB's table files and write-ahead logs (not its info logs).
fn stored_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            total += stored_bytes(&p);
        } else if p.extension().is_some_and(|x| x == "sst" || x == "log") {
            total += e.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    total
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
}

pub fn run(args: BenchArgs) -> Result<(), String> {
    if args.connections == 0 || args.batch == 0 {
        return Err("--connections and --batch must be at least 1".into());
    }
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("gemini-bench-{}", std::process::id())));
    eprintln!("encoding {} series x {} scrapes ...", args.series, args.scrapes);
    let requests = encode(&args);
    let samples = (args.series * args.scrapes) as u64;
    let wire: usize = requests.iter().flatten().map(Vec::len).sum();

    let port = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?.local_addr().unwrap().port();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = match args.server_cpu {
        Some(cpu) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(cpu.to_string()).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.arg("serve").arg("--http-addr").arg(format!("127.0.0.1:{port}")).arg("--data-dir").arg(&data_dir);
    if let Some(s) = args.shards {
        cmd.arg("--shards").arg(s.to_string());
    }
    let mut server = cmd.env("RUST_LOG", "warn").stdout(Stdio::null()).spawn().map_err(|e| format!("start server: {e}"))?;
    let pid = server.id();
    let base = format!("http://127.0.0.1:{port}");

    let result = actix_web::rt::System::new().block_on(async {
        let client = awc::Client::builder().timeout(Duration::from_secs(120)).finish();
        let ready = Instant::now();
        while client.get(format!("{base}/ping")).send().await.ok().map(|r| r.status().as_u16()) != Some(204) {
            if ready.elapsed() > Duration::from_secs(60) {
                return Err("server did not start".to_string());
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        let url = format!("{base}/api/v1/write?db=prometheus");
        let started = Instant::now();
        let tasks = requests.into_iter().map(|bodies| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let mut lat = Vec::with_capacity(bodies.len());
                for body in bodies {
                    let t = Instant::now();
                    let resp = client
                        .post(&url)
                        .insert_header(("Content-Type", "application/x-protobuf"))
                        .insert_header(("Content-Encoding", "snappy"))
                        .send_body(body)
                        .await
                        .map_err(|e| format!("request failed: {e}"))?;
                    if resp.status().as_u16() != 204 {
                        return Err(format!("status {}", resp.status()));
                    }
                    lat.push(t.elapsed());
                }
                Ok::<_, String>(lat)
            }
        });
        let mut latencies = Vec::new();
        for r in futures_util::future::join_all(tasks).await {
            latencies.extend(r?);
        }
        Ok((started.elapsed(), latencies))
    });
    let rss = peak_rss_kib(pid);
    // A clean stop stores open chunks and flushes memtables, so disk holds everything.
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let exit = server.wait().map_err(|e| e.to_string())?;
    let (elapsed, mut latencies) = result?;
    if !exit.success() {
        return Err(format!("server exited with {exit}"));
    }
    latencies.sort();
    let disk = stored_bytes(&data_dir);
    println!("workload:        {} series x {} scrapes = {} samples in {} requests ({:.1} MB snappy on the wire)", args.series, args.scrapes, samples, latencies.len(), wire as f64 / 1e6);
    println!("ingest:          {:.0} samples/s ({:.2} s)", samples as f64 / elapsed.as_secs_f64(), elapsed.as_secs_f64());
    println!("latency:         p50 {:.2} ms, p99 {:.2} ms", percentile(&latencies, 0.5).as_secs_f64() * 1e3, percentile(&latencies, 0.99).as_secs_f64() * 1e3);
    println!("disk:            {} bytes, {:.3} bytes/sample (SST + WAL after a clean stop)", disk, disk as f64 / samples as f64);
    match rss {
        Some(kib) => println!("server peak RSS: {:.1} MB", kib as f64 / 1024.0),
        None => println!("server peak RSS: unknown"),
    }
    if args.data_dir.is_none() {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workload_has_the_asked_shape() {
        let args = BenchArgs { series: 1000, scrapes: 3, connections: 2, batch: 300, server_cpu: None, shards: None, data_dir: None };
        let reqs = encode(&args);
        assert_eq!(reqs.len(), 2);
        let mut total = 0;
        for bodies in &reqs {
            for b in bodies {
                let raw = snap::raw::Decoder::new().decompress_vec(b).unwrap();
                let req = pb::WriteRequest::decode(raw.as_slice()).unwrap();
                assert!(req.timeseries.len() <= 300);
                total += req.timeseries.len();
            }
        }
        assert_eq!(total, 3000);
    }
}
