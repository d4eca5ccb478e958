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
    /// Servers started as one cluster on loopback; connections are spread over them.
    #[arg(long, default_value_t = 1)]
    pub nodes: usize,
    /// Copies of each series in the cluster.
    #[arg(long, default_value_t = 1)]
    pub replication_factor: usize,
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

/// Pre-encodes the requests of each connection, in time order.
fn encode(args: &BenchArgs) -> Vec<Vec<Vec<u8>>> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut specs = workload(args.series, &mut rng);
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
                        pb::TimeSeries { labels: s.labels.clone(), samples: vec![sample], ..Default::default() }
                    })
                    .collect();
                let body = pb::WriteRequest { timeseries: ts, metadata: vec![] }.encode_to_vec();
                conn.push(enc.compress_vec(&body).expect("snappy"));
            }
        }
    }
    per_conn
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
        // A remote read of node_cpu_seconds_total of every target (all scrapes), best of 3, through the
        // first server: in a cluster it asks every node and merges.
        let query = pb::ReadRequest {
            queries: vec![pb::Query {
                start_timestamp_ms: 0,
                end_timestamp_ms: i64::MAX,
                matchers: vec![pb::LabelMatcher { r#type: 0, name: "__name__".into(), value: "node_cpu_seconds_total".into() }],
                hints: None,
            }],
            accepted_response_types: vec![],
        };
        let body = snap::raw::Encoder::new().compress_vec(&query.encode_to_vec()).map_err(|e| e.to_string())?;
        let mut read = Duration::MAX;
        for _ in 0..3 {
            let t = Instant::now();
            let mut resp = client.post(format!("{base}/api/v1/read?db=prometheus")).insert_header(("Content-Encoding", "snappy")).send_body(body.clone()).await.map_err(|e| format!("read failed: {e}"))?;
            resp.body().limit(1 << 30).await.map_err(|e| e.to_string())?;
            read = read.min(t.elapsed());
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
    let (elapsed, mut latencies, read) = result?;
    if let Some(exit) = exits.iter().find(|e| !e.success()) {
        return Err(format!("server exited with {exit}"));
    }
    latencies.sort();
    let disk = stored_bytes(&data_dir);
    println!("workload:        {} series x {} scrapes = {} samples in {} requests ({:.1} MB snappy on the wire)", args.series, args.scrapes, samples, latencies.len(), wire as f64 / 1e6);
    println!("ingest:          {:.0} samples/s ({:.2} s)", samples as f64 / elapsed.as_secs_f64(), elapsed.as_secs_f64());
    println!("latency:         p50 {:.2} ms, p99 {:.2} ms", percentile(&latencies, 0.5).as_secs_f64() * 1e3, percentile(&latencies, 0.99).as_secs_f64() * 1e3);
    println!("disk:            {} bytes, {:.3} bytes/sample (SST + WAL after a clean stop)", disk, disk as f64 / samples as f64);
    println!("server peak RSS: {:.1} MB (sum over {nodes} server(s))", rss as f64 / 1024.0);
    println!("server CPU:      {:.1} s, {:.2} µs per sample (sum over {nodes} server(s))", cpu, cpu * 1e6 / samples as f64);
    println!("remote read:     node_cpu_seconds_total of every target, every scrape: {:.1} ms", read.as_secs_f64() * 1e3);
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
        let args = BenchArgs { series: 1000, scrapes: 3, connections: 2, batch: 300, server_cpu: None, shards: None, data_dir: None, nodes: 1, replication_factor: 1 };
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
