//! `gemini bench`: starts a `gemini serve` child on a fresh data directory (optionally pinned
//! to a CPU with `taskset`), pre-encodes a node_exporter-shaped remote write workload
//! (counters, gauges and constants over realistic label sets), sends it over concurrent
//! keep-alive connections the way Prometheus' remote-write shards do (each connection owns a
//! slice of the series and sends them in time order), then reports samples/s, request
//! latency, bytes on disk per sample after a clean stop (the whole data directory), the
//! server's peak RSS and CPU, and the time of a remote read whose answer it checks against
//! what it wrote.

use prost::Message;
use proto::prometheus as pb;
use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
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
    /// Servers started as one cluster on loopback; connections are spread over them.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Copies of each series in the cluster.
    #[arg(long, default_value_t = 1)]
    pub replication_factor: usize,
    /// Start the server(s) with `--sync-writes` (fsync the write-ahead log before each
    /// acknowledgement), to measure what it costs.
    #[arg(long)]
    pub sync_writes: bool,
}

/// The metric the bench reads back after the load.
const READ_METRIC: &str = "node_cpu_seconds_total";

/// Label set (sorted by name) → samples in time order.
type Written = HashMap<Vec<(String, String)>, Vec<(i64, f64)>>;

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

/// How a series moves: its kind, the typical change per scrape, the step values are rounded
/// to (1 for byte and packet counts, 0.01 for CPU seconds and load …) and how often it changes.
#[derive(Clone, Copy)]
struct Shape {
    kind: Kind,
    rate: f64,
    quantum: f64,
    activity: f64,
}

const fn shape(kind: Kind, rate: f64, quantum: f64, activity: f64) -> Shape {
    Shape { kind, rate, quantum, activity }
}

const CONSTANT: Shape = shape(Kind::Constant, 0.0, 1.0, 0.0);

struct SeriesSpec {
    labels: Vec<pb::Label>,
    shape: Shape,
    value: f64,
    /// The scrape target it comes from: all series of a scrape share its timestamp.
    target: usize,
}

/// The series of one node_exporter target, about 580 of them, in the mix measured on the
/// node_exporter 1.5 series of the captured traffic in `shared/fixtures`: two thirds never
/// change (info, flags, sizes, limits), most counters move every scrape, a few gauges are
/// noisy floats (collector durations, the clock).
fn node_target(host: usize, out: &mut Vec<SeriesSpec>, rng: &mut Rng) {
    let instance = format!("host-{host:05}:9100");
    let mut push = |name: &str, extra: &[(&str, String)], shape: Shape, rng: &mut Rng| {
        let mut labels: Vec<(String, String)> =
            vec![("__name__".into(), name.into()), ("instance".into(), instance.clone()), ("job".into(), "node".into())];
        labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        labels.sort();
        let start = match shape.kind {
            Kind::Constant => [0.0, 1.0, 4.0, 1500.0, 8_254_029_824.0, 1_699_000_000.0][(rng.next() % 6) as usize],
            _ => ((rng.next() % 10_000_000) as f64 * 7.0 / shape.quantum).round() * shape.quantum,
        };
        out.push(SeriesSpec {
            labels: labels.into_iter().map(|(name, value)| pb::Label { name, value }).collect(),
            shape,
            value: start,
            target: host,
        });
    };
    let counter = |rate, quantum, activity| shape(Kind::Counter, rate, quantum, activity);
    let gauge = |rate, quantum, activity| shape(Kind::Gauge, rate, quantum, activity);
    let rare = counter(1.0, 1.0, 0.02);
    for cpu in 0..8 {
        for (mode, share, activity) in [
            ("idle", 12.0, 1.0), ("iowait", 0.05, 0.3), ("irq", 0.0, 0.0), ("nice", 0.01, 0.05),
            ("softirq", 0.02, 0.5), ("steal", 0.0, 0.0), ("system", 0.8, 1.0), ("user", 2.0, 1.0),
        ] {
            push("node_cpu_seconds_total", &[("cpu", cpu.to_string()), ("mode", mode.into())], counter(share, 0.01, activity), rng);
        }
        for mode in ["guest", "guest_nice"] {
            push("node_cpu_guest_seconds_total", &[("cpu", cpu.to_string()), ("mode", mode.into())], CONSTANT, rng);
        }
    }
    for (dev, busy) in [("eth0", 1.0), ("eth1", 0.3), ("lo", 0.5), ("docker0", 0.1)] {
        for (m, rate) in [("receive_bytes", 200_000.0), ("transmit_bytes", 150_000.0), ("receive_packets", 900.0), ("transmit_packets", 700.0)] {
            push(&format!("node_network_{m}_total"), &[("device", dev.into())], counter(rate, 1.0, busy), rng);
        }
        for m in ["receive_errs", "transmit_errs", "receive_drop", "transmit_drop", "receive_fifo", "transmit_fifo", "receive_frame", "transmit_colls", "receive_compressed", "transmit_compressed", "receive_multicast", "transmit_carrier"] {
            push(&format!("node_network_{m}_total"), &[("device", dev.into())], rare, rng);
        }
        for m in ["up", "mtu_bytes", "speed_bytes", "carrier", "flags", "iface_id", "iface_link", "address_assign_type", "dormant", "protocol_type", "transmit_queue_length", "net_dev_group", "carrier_changes_total", "info"] {
            push(&format!("node_network_{m}"), &[("device", dev.into())], CONSTANT, rng);
        }
    }
    for (dev, mp) in [("/dev/sda1", "/"), ("/dev/sda2", "/home"), ("tmpfs", "/run"), ("/dev/sdb1", "/var")] {
        let fs = [("device", dev.to_string()), ("fstype", "ext4".to_string()), ("mountpoint", mp.to_string())];
        for m in ["avail_bytes", "free_bytes"] {
            push(&format!("node_filesystem_{m}"), &fs, gauge(40_960.0, 4096.0, 0.5), rng);
        }
        push("node_filesystem_files_free", &fs, gauge(10.0, 1.0, 0.2), rng);
        for m in ["size_bytes", "files", "readonly", "device_error"] {
            push(&format!("node_filesystem_{m}"), &fs, CONSTANT, rng);
        }
    }
    for dev in ["sda", "sdb"] {
        for (m, rate, quantum) in [
            ("read_bytes", 80_000.0, 512.0), ("written_bytes", 300_000.0, 512.0), ("reads_completed", 20.0, 1.0),
            ("writes_completed", 60.0, 1.0), ("io_time_seconds", 0.2, 0.001), ("read_time_seconds", 0.05, 0.001),
            ("write_time_seconds", 0.3, 0.001), ("io_time_weighted_seconds", 0.4, 0.001),
        ] {
            push(&format!("node_disk_{m}_total"), &[("device", dev.into())], counter(rate, quantum, 0.9), rng);
        }
        for m in ["reads_merged", "writes_merged", "discards_completed", "discards_merged", "discarded_sectors", "discard_time_seconds", "flush_requests", "flush_requests_time_seconds"] {
            push(&format!("node_disk_{m}_total"), &[("device", dev.into())], rare, rng);
        }
        push("node_disk_io_now", &[("device", dev.into())], gauge(1.0, 1.0, 0.2), rng);
        push("node_disk_info", &[("device", dev.into())], CONSTANT, rng);
    }
    for i in 0..54 {
        let s = if i < 18 { gauge(1_048_576.0, 4096.0, 0.7) } else { gauge(4096.0, 4096.0, 0.02) };
        push(&format!("node_memory_M{i:02}_bytes"), &[], s, rng);
    }
    for i in 0..40 {
        let s = if i < 8 { counter(50.0, 1.0, 0.8) } else { rare };
        push(&format!("node_netstat_N{i:02}"), &[], s, rng);
    }
    for collector in 0..46 {
        let c = [("collector", format!("c{collector:02}"))];
        push("node_scrape_collector_duration_seconds", &c, gauge(0.0005, 1e-9, 1.0), rng);
        push("node_scrape_collector_success", &c, CONSTANT, rng);
    }
    for i in 0..17 {
        push(&format!("node_timex_T{i:02}"), &[], if i < 3 { gauge(10.0, 1.0, 0.1) } else { CONSTANT }, rng);
    }
    for i in 0..30 {
        push(&format!("node_misc_G{i:02}"), &[], if i < 8 { gauge(5.0, 1.0, 0.2) } else { CONSTANT }, rng);
    }
    for i in 0..18 {
        push(&format!("node_vmstat_V{i:02}_total"), &[], counter(500.0, 1.0, 0.8), rng);
    }
    for (m, s) in [
        ("node_load1", gauge(0.3, 0.01, 1.0)), ("node_load5", gauge(0.1, 0.01, 1.0)), ("node_load15", gauge(0.05, 0.01, 1.0)),
        ("node_procs_running", gauge(2.0, 1.0, 0.7)), ("node_procs_blocked", gauge(1.0, 1.0, 0.1)),
        ("node_time_seconds", counter(15.0, 1e-9, 1.0)), ("node_context_switches_total", counter(30_000.0, 1.0, 1.0)),
        ("node_intr_total", counter(20_000.0, 1.0, 1.0)), ("node_forks_total", counter(30.0, 1.0, 1.0)),
    ] {
        push(m, &[], s, rng);
    }
    for i in 0..23 {
        push(&format!("go_memstats_S{i:02}_bytes"), &[], if i < 12 { gauge(65_536.0, 8.0, 0.6) } else { CONSTANT }, rng);
    }
    for (m, s) in [
        ("go_goroutines", gauge(1.0, 1.0, 0.3)), ("go_threads", CONSTANT), ("go_gc_duration_seconds_count", counter(1.0, 1.0, 0.5)),
        ("go_gc_duration_seconds_sum", counter(0.0003, 1e-9, 0.5)), ("process_cpu_seconds_total", counter(0.05, 0.01, 0.9)),
        ("process_resident_memory_bytes", gauge(65_536.0, 4096.0, 0.6)), ("process_open_fds", gauge(1.0, 1.0, 0.1)),
        ("process_max_fds", CONSTANT), ("process_start_time_seconds", CONSTANT), ("process_virtual_memory_bytes", CONSTANT),
        ("node_boot_time_seconds", CONSTANT), ("node_uname_info", CONSTANT), ("node_os_info", CONSTANT),
        ("node_exporter_build_info", CONSTANT), ("node_textfile_scrape_error", CONSTANT), ("go_info", CONSTANT),
    ] {
        push(m, &[], s, rng);
    }
    for code in ["200", "500", "503"] {
        push("promhttp_metric_handler_requests_total", &[("code", code.into())], counter(1.0, 1.0, if code == "200" { 1.0 } else { 0.0 }), rng);
    }
}

fn workload(series: usize, rng: &mut Rng) -> Vec<SeriesSpec> {
    let mut out = Vec::with_capacity(series + 600);
    let mut host = 0;
    while out.len() < series {
        node_target(host, &mut out, rng);
        host += 1;
    }
    out.truncate(series);
    out
}

/// Advances a series by one scrape, as the real thing would move.
fn step(spec: &mut SeriesSpec, rng: &mut Rng) {
    let s = spec.shape;
    if rng.unit() >= s.activity {
        return;
    }
    let round = |v: f64| (v / s.quantum).round() * s.quantum;
    match s.kind {
        Kind::Counter => spec.value = round(spec.value + s.rate * (0.5 + rng.unit())),
        Kind::Gauge => spec.value = round((spec.value + (rng.unit() - 0.5) * 2.0 * s.rate).max(0.0)),
        Kind::Constant => {}
    }
}

/// Pre-encodes the requests of each connection, in time order, and keeps what was sent of
/// the series of `READ_METRIC`, to check the remote read against.
fn encode(args: &BenchArgs) -> (Vec<Vec<Vec<u8>>>, Written) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut specs = workload(args.series, &mut rng);
    let read: Vec<bool> = specs.iter().map(|s| s.labels.iter().any(|l| l.name == "__name__" && l.value == READ_METRIC)).collect();
    let mut sent: Vec<Vec<(i64, f64)>> = vec![Vec::new(); specs.len()];
    let mut per_conn: Vec<Vec<Vec<u8>>> = vec![Vec::new(); args.connections];
    let start = 1_700_000_000_000i64;
    let mut enc = snap::raw::Encoder::new();
    let targets = specs.last().map_or(0, |s| s.target + 1);
    for scrape in 0..args.scrapes {
        let t = start + scrape as i64 * 15_000;
        // A scrape's timestamp is when it started: now and then a millisecond late.
        let late: Vec<i64> = (0..targets).map(|_| (rng.unit() < 0.3) as i64).collect();
        for (c, conn) in per_conn.iter_mut().enumerate() {
            let mine: Vec<usize> = (c..specs.len()).step_by(args.connections).collect();
            for batch in mine.chunks(args.batch) {
                let ts = batch
                    .iter()
                    .map(|&i| {
                        let s = &mut specs[i];
                        step(s, &mut rng);
                        let sample = pb::Sample { value: s.value, timestamp: t + late[s.target] };
                        if read[i] {
                            sent[i].push((sample.timestamp, sample.value));
                        }
                        pb::TimeSeries { labels: s.labels.clone(), samples: vec![sample], ..Default::default() }
                    })
                    .collect();
                let body = pb::WriteRequest { timeseries: ts, metadata: vec![] }.encode_to_vec();
                conn.push(enc.compress_vec(&body).expect("snappy"));
            }
        }
    }
    let written = specs
        .iter()
        .zip(sent)
        .filter(|(_, samples)| !samples.is_empty())
        .map(|(s, samples)| (s.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect(), samples))
        .collect();
    (per_conn, written)
}

fn series_name(labels: &[(String, String)]) -> String {
    let pairs: Vec<String> = labels.iter().map(|(n, v)| format!("{n}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Checks a SAMPLES answer (snappy-compressed `ReadResponse`) to the one-query remote read of
/// `READ_METRIC`: every series the bench wrote is there once, with exactly the samples it
/// wrote (same timestamps, same value bits, in time order), and nothing else. Returns the
/// number of series and samples.
fn check_read(body: &[u8], written: &Written) -> Result<(usize, usize), String> {
    let raw = snap::raw::Decoder::new().decompress_vec(body).map_err(|e| format!("not snappy-compressed: {e}"))?;
    let response = pb::ReadResponse::decode(raw.as_slice()).map_err(|e| format!("not a prometheus.ReadResponse: {e}"))?;
    let [result] = response.results.as_slice() else {
        return Err(format!("{} query results for one query", response.results.len()));
    };
    let mut seen = HashSet::new();
    let mut samples = 0;
    for ts in &result.timeseries {
        let mut labels: Vec<(String, String)> = ts.labels.iter().map(|l| (l.name.clone(), l.value.clone())).collect();
        labels.sort();
        let name = series_name(&labels);
        let Some(want) = written.get(&labels) else {
            return Err(format!("series {name} was never written"));
        };
        if !seen.insert(labels) {
            return Err(format!("series {name} is in the answer twice"));
        }
        let got: Vec<(i64, f64)> = ts.samples.iter().map(|s| (s.timestamp, s.value)).collect();
        let same = |a: &(i64, f64), b: &(i64, f64)| a.0 == b.0 && a.1.to_bits() == b.1.to_bits();
        if let Some(i) = (0..got.len().max(want.len())).find(|&i| !matches!((got.get(i), want.get(i)), (Some(a), Some(b)) if same(a, b))) {
            return Err(format!(
                "series {name}: {} samples, {} written; first difference at sample {i}: got {:?}, written {:?}",
                got.len(),
                want.len(),
                got.get(i),
                want.get(i)
            ));
        }
        samples += got.len();
    }
    if seen.len() < written.len() {
        let missing = written.keys().find(|k| !seen.contains(*k)).expect("a missing series");
        return Err(format!("{} of {} series written are missing, {} among them", written.len() - seen.len(), written.len(), series_name(missing)));
    }
    Ok((seen.len(), samples))
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// Apparent sizes under a data directory, as `du -b` counts them: every file and directory
/// (a hard-linked file once, a symbolic link as itself).
#[derive(Debug, Default, PartialEq)]
struct DiskUsage {
    total: u64,
    /// RocksDB table files (`*.sst`).
    tables: u64,
    /// RocksDB write-ahead logs (`*.log`).
    wal: u64,
}

fn disk_usage(path: &Path, usage: &mut DiskUsage, links: &mut HashSet<(u64, u64)>) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_dir() && meta.nlink() > 1 && !links.insert((meta.dev(), meta.ino())) {
        return Ok(());
    }
    usage.total += meta.len();
    if meta.is_dir() {
        for entry in std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))? {
            disk_usage(&entry.map_err(|e| format!("{}: {e}", path.display()))?.path(), usage, links)?;
        }
    } else if meta.is_file() {
        match path.extension().and_then(|x| x.to_str()) {
            Some("sst") => usage.tables += meta.len(),
            Some("log") => usage.wal += meta.len(),
            _ => {}
        }
    }
    Ok(())
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
    let (requests, written) = encode(&args);
    let samples = (args.series * args.scrapes) as u64;
    let wire: usize = requests.iter().flatten().map(Vec::len).sum();

    let nodes = args.nodes.max(1);
    let ports: Vec<u16> = (0..nodes)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").map(|l| l.local_addr().unwrap().port()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let peers: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut servers = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let mut cmd = match args.server_cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        let dir = if nodes == 1 { data_dir.clone() } else { data_dir.join(format!("node-{i}")) };
        cmd.arg("serve").arg("--http-addr").arg(format!("127.0.0.1:{port}")).arg("--data-dir").arg(&dir);
        if let Some(s) = args.shards {
            cmd.arg("--shards").arg(s.to_string());
        }
        if args.sync_writes {
            cmd.arg("--sync-writes=true");
        }
        if nodes > 1 {
            cmd.arg("--cluster.self").arg(&peers[i]).arg("--cluster.peers").arg(peers.join(","));
            cmd.arg("--cluster.replication-factor").arg(args.replication_factor.to_string()).env("GEMINI_CLUSTER_SECRET", "bench");
        }
        servers.push(cmd.env("RUST_LOG", "warn").stdout(Stdio::null()).spawn().map_err(|e| format!("start server: {e}"))?);
    }
    let pids: Vec<u32> = servers.iter().map(|s| s.id()).collect();
    let bases: Vec<String> = peers.iter().map(|p| format!("http://{p}")).collect();
    let base = bases[0].clone();

    let result = actix_web::rt::System::new().block_on(async {
        let client = awc::Client::builder().timeout(Duration::from_secs(120)).finish();
        let ready = Instant::now();
        for base in &bases {
            while client.get(format!("{base}/ping")).send().await.ok().map(|r| r.status().as_u16()) != Some(204) {
                if ready.elapsed() > Duration::from_secs(60) {
                    return Err("server did not start".to_string());
                }
                actix_web::rt::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let started = Instant::now();
        let tasks = requests.into_iter().enumerate().map(|(i, bodies)| {
            let (client, url) = (client.clone(), format!("{}/api/v1/write?db=prometheus", bases[i % bases.len()]));
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
        let elapsed = started.elapsed();
        // A remote read of READ_METRIC of every target (all scrapes) as SAMPLES, best of 3,
        // through the first server (in a cluster it asks every node and merges); each answer
        // is checked, after its timing, against what the bench wrote.
        let query = pb::ReadRequest {
            queries: vec![pb::Query {
                start_timestamp_ms: 0,
                end_timestamp_ms: i64::MAX,
                matchers: vec![pb::LabelMatcher { r#type: 0, name: "__name__".into(), value: READ_METRIC.into() }],
                hints: None,
            }],
            accepted_response_types: vec![pb::read_request::ResponseType::Samples as i32],
        };
        let body = snap::raw::Encoder::new().compress_vec(&query.encode_to_vec()).map_err(|e| e.to_string())?;
        let mut read = (Duration::MAX, 0, 0);
        for _ in 0..3 {
            let t = Instant::now();
            let mut resp = client
                .post(format!("{base}/api/v1/read?db=prometheus"))
                .insert_header(("Content-Type", "application/x-protobuf"))
                .insert_header(("Content-Encoding", "snappy"))
                .send_body(body.clone())
                .await
                .map_err(|e| format!("remote read failed: {e}"))?;
            let answer = resp.body().limit(1 << 30).await.map_err(|e| format!("remote read failed: {e}"))?;
            let took = t.elapsed();
            if resp.status().as_u16() != 200 {
                let text = String::from_utf8_lossy(&answer[..answer.len().min(500)]).into_owned();
                return Err(format!("remote read answered {}: {text}", resp.status()));
            }
            let (series, samples) = check_read(&answer, &written).map_err(|e| format!("remote read of {READ_METRIC} does not hold what the bench wrote: {e}"))?;
            read = (read.0.min(took), series, samples);
        }
        Ok((elapsed, latencies, read))
    });
    let rss: u64 = pids.iter().filter_map(|p| peak_rss_kib(*p)).sum();
    let cpu: f64 = pids.iter().filter_map(|p| cpu_seconds(*p)).sum();
    // A clean stop stores open chunks and flushes memtables, so disk holds everything.
    for pid in &pids {
        let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    }
    let mut exits = Vec::new();
    for mut server in servers {
        exits.push(server.wait().map_err(|e| e.to_string())?);
    }
    let outcome = result.and_then(|r| match exits.iter().find(|e| !e.success()) {
        Some(exit) => Err(format!("server exited with {exit}")),
        None => Ok(r),
    });
    let disk = outcome.and_then(|r| {
        let mut usage = DiskUsage::default();
        disk_usage(&data_dir, &mut usage, &mut HashSet::new()).map(|()| (r, usage))
    });
    if args.data_dir.is_none() {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    let ((elapsed, mut latencies, (read, read_series, read_samples)), disk) = disk?;
    latencies.sort();
    let copies = match (nodes, args.replication_factor.min(nodes)) {
        (1, _) => "single node, one copy".to_string(),
        (n, 1) => format!("{n} nodes, one copy"),
        (n, c) => format!("{n} nodes, all {c} copies of every sample"),
    };
    println!("workload:        {} series x {} scrapes = {} samples in {} requests ({:.1} MB snappy on the wire)", args.series, args.scrapes, samples, latencies.len(), wire as f64 / 1e6);
    println!("ingest:          {:.0} samples/s ({:.2} s, --sync-writes {})", samples as f64 / elapsed.as_secs_f64(), elapsed.as_secs_f64(), if args.sync_writes { "on" } else { "off" });
    println!("latency:         p50 {:.2} ms, p99 {:.2} ms", percentile(&latencies, 0.5).as_secs_f64() * 1e3, percentile(&latencies, 0.99).as_secs_f64() * 1e3);
    println!("disk:            {} bytes, {:.3} bytes/sample: the whole data directory after a clean stop, apparent sizes as du -b counts ({copies})", disk.total, disk.total as f64 / samples as f64);
    println!("                 of which tables (*.sst) {}, WAL (*.log) {}, the rest (MANIFEST, OPTIONS, info LOGs, directories …) {}", disk.tables, disk.wal, disk.total - disk.tables - disk.wal);
    println!("server peak RSS: {:.1} MB (sum over {nodes} server(s))", rss as f64 / 1024.0);
    println!("server CPU:      {:.1} s, {:.2} µs per sample (sum over {nodes} server(s))", cpu, cpu * 1e6 / samples as f64);
    println!("remote read:     {READ_METRIC} of every target, every scrape ({read_series} series, {read_samples} samples, all checked against what was written): {:.1} ms", read.as_secs_f64() * 1e3);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_args() -> BenchArgs {
        BenchArgs { series: 1000, scrapes: 3, connections: 2, batch: 300, server_cpu: None, shards: None, data_dir: None, nodes: 1, replication_factor: 1, sync_writes: false }
    }

    /// A SAMPLES answer as a server would send it: snappy over a protobuf `ReadResponse`.
    fn answer(series: &[(Vec<(String, String)>, Vec<(i64, f64)>)]) -> Vec<u8> {
        let timeseries = series
            .iter()
            .map(|(labels, samples)| pb::TimeSeries {
                labels: labels.iter().rev().map(|(name, value)| pb::Label { name: name.clone(), value: value.clone() }).collect(),
                samples: samples.iter().map(|&(timestamp, value)| pb::Sample { timestamp, value }).collect(),
                ..Default::default()
            })
            .collect();
        let response = pb::ReadResponse { results: vec![pb::QueryResult { timeseries }] };
        snap::raw::Encoder::new().compress_vec(&response.encode_to_vec()).unwrap()
    }

    #[test]
    fn read_check_accepts_exactly_what_was_written() {
        let (_, written) = encode(&small_args());
        // 1000 series span two targets of about 580, each with 64 CPU-mode series of the
        // metric; three samples each.
        assert_eq!(written.len(), 128);
        assert!(written.values().all(|s| s.len() == 3));
        let all: Vec<_> = written.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(check_read(&answer(&all), &written), Ok((128, 384)));

        let mut missing_series = all.clone();
        missing_series.pop();
        assert!(check_read(&answer(&missing_series), &written).unwrap_err().contains("1 of 128 series written are missing"));
        let mut missing_sample = all.clone();
        missing_sample[5].1.remove(1);
        assert!(check_read(&answer(&missing_sample), &written).unwrap_err().contains("2 samples, 3 written"));
        let mut other_value = all.clone();
        other_value[7].1[2].1 += 0.01;
        assert!(check_read(&answer(&other_value), &written).unwrap_err().contains("first difference at sample 2"));
        let mut twice = all.clone();
        twice.push(all[0].clone());
        assert!(check_read(&answer(&twice), &written).unwrap_err().contains("twice"));
        let mut stranger = all.clone();
        stranger[0].0.push(("zone".into(), "a".into()));
        assert!(check_read(&answer(&stranger), &written).unwrap_err().contains("never written"));
        assert!(check_read(b"Service Unavailable", &written).is_err());
    }

    #[test]
    fn disk_usage_counts_every_file_and_directory() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("shard-0");
        std::fs::create_dir(&db).unwrap();
        for (name, len) in [("000012.sst", 1000), ("000013.log", 300), ("MANIFEST-000005", 70), ("OPTIONS-000007", 9000), ("LOG", 500), ("LOG.old.1700000000", 400), ("CURRENT", 16)] {
            std::fs::write(db.join(name), vec![0u8; len]).unwrap();
        }
        std::fs::hard_link(db.join("000012.sst"), dir.path().join("checkpoint.sst")).unwrap();
        let dirs = std::fs::metadata(dir.path()).unwrap().len() + std::fs::metadata(&db).unwrap().len();
        let mut usage = DiskUsage::default();
        disk_usage(dir.path(), &mut usage, &mut HashSet::new()).unwrap();
        assert_eq!(usage, DiskUsage { total: dirs + 1000 + 300 + 70 + 9000 + 500 + 400 + 16, tables: 1000, wal: 300 });
    }

    #[test]
    fn workload_has_the_asked_shape() {
        let reqs = encode(&small_args()).0;
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
