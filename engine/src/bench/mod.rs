//! `gemini bench`: starts a `gemini serve` child on a fresh data directory (optionally pinned
//! to a CPU with `taskset`), pre-encodes a node_exporter-shaped remote write workload
//! (counters, gauges and constants over realistic label sets), sends it over concurrent
//! keep-alive connections the way Prometheus' remote-write shards do (each connection owns a
//! slice of the series and sends them in time order), then reports samples/s, request
//! latency, the time of a remote read of one metric and of a streamed remote read of
//! everything (each answer checked sample by sample against what was written, see `check`),
//! and, for the server's whole run up to and including the clean stop (which seals and
//! compacts), bytes on disk per sample (the whole data directory), its peak RSS and its CPU.
//! `--server victoria-metrics` and `--server prometheus` run the same workload against
//! VictoriaMetrics or a Prometheus remote write receiver (Debian's programs on the PATH), side
//! by side; VictoriaMetrics serves no remote read.

mod check;
mod workload;

use prost::Message;
use proto::prometheus as pb;
use std::collections::HashSet;
use workload::{encode, Workload, READ_METRIC};
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
    /// Gemini only: read once a background sealing pass has sealed what it can of the
    /// workload (its sealed-samples count stops growing), so that reads take sealed blocks.
    #[arg(long)]
    pub read_after_sealing: bool,
    /// Which server takes the workload.
    #[arg(long, value_enum, default_value_t = Server::Gemini)]
    pub server: Server,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum Server {
    Gemini,
    VictoriaMetrics,
    /// Prometheus as a remote write receiver (`--web.enable-remote-write-receiver`).
    Prometheus,
}

impl Server {
    /// Its readiness check: a path and the status that means ready.
    fn ready(self) -> (&'static str, u16) {
        match self {
            Server::Gemini => ("/ping", 204),
            Server::VictoriaMetrics => ("/health", 200),
            Server::Prometheus => ("/-/ready", 200),
        }
    }

    fn write_path(self) -> &'static str {
        match self {
            Server::Gemini => "/api/v1/write?db=prometheus",
            _ => "/api/v1/write",
        }
    }

    /// Its remote read endpoint; VictoriaMetrics serves none.
    fn read_path(self) -> Option<&'static str> {
        match self {
            Server::Gemini => Some("/api/v1/read?db=prometheus"),
            Server::VictoriaMetrics => None,
            Server::Prometheus => Some("/api/v1/read"),
        }
    }
}

/// CPU seconds (user + system) a process has used so far.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Peak resident set of a running process so far, KiB.
fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// What a server's whole run cost, read when it ended: CPU seconds (user + system) and peak
/// resident set in KiB.
#[derive(Debug, Default, Clone, Copy)]
struct Usage {
    cpu: f64,
    peak_rss_kib: u64,
}

/// `struct rusage` of Linux on a 64-bit target: two `struct timeval` and 14 `long`s.
#[repr(C)]
struct Rusage {
    utime: [std::ffi::c_long; 2],
    stime: [std::ffi::c_long; 2],
    maxrss: std::ffi::c_long,
    rest: [std::ffi::c_long; 13],
}

extern "C" {
    fn wait4(pid: i32, status: *mut i32, options: i32, rusage: *mut Rusage) -> i32;
}

/// Waits for a child to end, as `Child::wait` does, and also takes what its run cost from the
/// kernel (`wait4`): all its CPU and its peak RSS, the clean stop included, which /proc no
/// longer shows once the process is gone. The kernel's peak RSS of a child also counts the
/// memory it shared with its parent before it started its program (posix_spawn or fork, then
/// exec): the bench's own RSS when it started the child, so it starts its servers before it
/// makes the workload.
fn reap(child: std::process::Child) -> Result<(std::process::ExitStatus, Usage), String> {
    use std::os::unix::process::ExitStatusExt;
    const { assert!(std::mem::size_of::<Rusage>() == 144) };
    let pid = child.id() as i32;
    let (mut status, mut usage) = (0, Rusage { utime: [0; 2], stime: [0; 2], maxrss: 0, rest: [0; 13] });
    loop {
        // SAFETY: both pointers are to live locals of the types wait4 writes; `child` is ours
        // and not waited for yet (it is consumed here, so nothing else waits for it).
        if unsafe { wait4(pid, &mut status, 0, &mut usage) } == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait for server {pid}: {e}"));
        }
    }
    drop(child);
    let secs = |tv: [std::ffi::c_long; 2]| tv[0] as f64 + tv[1] as f64 / 1e6;
    Ok((std::process::ExitStatus::from_raw(status), Usage { cpu: secs(usage.utime) + secs(usage.stime), peak_rss_kib: usage.maxrss as u64 }))
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

/// The table bytes of the stopped servers' storage by column family and level, as one line:
/// `chunks 11.2 MB (L0 0.0, L1 11.2), …`.
fn table_report(dirs: &[PathBuf]) -> String {
    let mut by_kind: std::collections::BTreeMap<String, std::collections::BTreeMap<i32, u64>> = Default::default();
    for dir in dirs {
        match crate::storage::Storage::table_bytes(dir) {
            Ok(t) => {
                for ((kind, level), bytes) in t {
                    *by_kind.entry(kind).or_default().entry(level).or_default() += bytes;
                }
            }
            Err(e) => return format!("cannot read {}: {e}", dir.display()),
        }
    }
    let mb = |b: u64| b as f64 / 1e6;
    by_kind
        .iter()
        .map(|(kind, levels)| {
            let per_level: Vec<String> = levels.iter().map(|(l, b)| format!("L{l} {:.2}", mb(*b))).collect();
            format!("{kind} {:.2} MB ({})", mb(levels.values().sum()), per_level.join(", "))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Posts a remote read request and takes the whole answer: how long that took, and the answer
/// of a 200.
async fn timed_read(client: &awc::Client, url: &str, body: &[u8]) -> Result<(Duration, bytes::Bytes), String> {
    let t = Instant::now();
    let mut resp = client
        .post(url)
        .insert_header(("Content-Type", "application/x-protobuf"))
        .insert_header(("Content-Encoding", "snappy"))
        .send_body(body.to_vec())
        .await
        .map_err(|e| format!("remote read failed: {e}"))?;
    let answer = resp.body().limit(1 << 31).await.map_err(|e| format!("remote read failed: {e}"))?;
    let took = t.elapsed();
    if resp.status().as_u16() != 200 {
        return Err(format!("remote read answered {}: {}", resp.status(), String::from_utf8_lossy(&answer[..answer.len().min(500)])));
    }
    Ok((took, answer))
}

const SEALED: &str = "gemini_storage_sealed_samples_total";

/// One value of a server's `/metrics` (0 when it is not there).
async fn metric(client: &awc::Client, base: &str, name: &str) -> Result<f64, String> {
    let mut metrics = client.get(format!("{base}/metrics")).send().await.map_err(|e| format!("/metrics: {e}"))?;
    let text = String::from_utf8_lossy(&metrics.body().limit(1 << 24).await.map_err(|e| format!("/metrics: {e}"))?).into_owned();
    Ok(text.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse::<f64>().ok()).unwrap_or(0.0))
}

/// Waits until sealing has sealed something and its count has not moved for 3 s (2 min at most).
async fn wait_for_sealing(client: &awc::Client, base: &str) -> Result<(), String> {
    let (started, mut last, mut since) = (Instant::now(), -1.0, Instant::now());
    while started.elapsed() < Duration::from_secs(120) {
        let now = metric(client, base, SEALED).await?;
        if now != last {
            (last, since) = (now, Instant::now());
        } else if now > 0.0 && since.elapsed() >= Duration::from_secs(3) {
            return Ok(());
        }
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
    Err(format!("sealing did not settle within 2 minutes ({last} samples sealed)"))
}

/// A streamed remote read of every series over all time, best of 3: its time, the series and
/// frames of the answer. Each answer is checked, after its timing, against what the bench
/// wrote (`check::streamed_answer`).
async fn streamed_read_all(client: &awc::Client, url: &str, workload: &Workload) -> Result<(Duration, usize, usize), String> {
    let query = pb::ReadRequest {
        queries: vec![pb::Query { start_timestamp_ms: 0, end_timestamp_ms: i64::MAX, matchers: vec![pb::LabelMatcher { r#type: 2, name: "__name__".into(), value: ".+".into() }], hints: None }],
        accepted_response_types: vec![pb::read_request::ResponseType::StreamedXorChunks as i32],
    };
    let body = snap::raw::Encoder::new().compress_vec(&query.encode_to_vec()).map_err(|e| e.to_string())?;
    let mut best = (Duration::MAX, 0, 0);
    for _ in 0..3 {
        let (took, answer) = timed_read(client, url, &body).await?;
        let (series, _, frames) = check::streamed_answer(&answer, workload).map_err(|e| format!("streamed read of everything does not hold what the bench wrote: {e}"))?;
        best = (best.0.min(took), series, frames);
    }
    Ok(best)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
}

pub fn run(args: BenchArgs) -> Result<(), String> {
    if args.connections == 0 || args.batch == 0 {
        return Err("--connections and --batch must be at least 1".into());
    }
    let vm = args.server == Server::VictoriaMetrics;
    if args.server != Server::Gemini && args.nodes > 1 {
        return Err("only --server gemini runs as a cluster".into());
    }
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("gemini-bench-{}", std::process::id())));

    let nodes = args.nodes.max(1);
    let ports: Vec<u16> = (0..nodes)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").map(|l| l.local_addr().unwrap().port()).map_err(|e| e.to_string()))
        .collect::<Result<_, _>>()?;
    let peers: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut servers = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let program = match args.server {
            Server::Gemini => exe.clone(),
            Server::VictoriaMetrics => PathBuf::from("victoria-metrics"),
            Server::Prometheus => PathBuf::from("prometheus"),
        };
        let mut cmd = match args.server_cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let dir = if nodes == 1 { data_dir.clone() } else { data_dir.join(format!("node-{i}")) };
        if vm {
            cmd.arg(format!("-storageDataPath={}", dir.display())).arg(format!("-httpListenAddr=127.0.0.1:{port}")).arg("-retentionPeriod=100y").arg("-loggerLevel=ERROR");
            servers.push(cmd.stdout(Stdio::null()).spawn().map_err(|e| format!("start victoria-metrics (apt-get install victoria-metrics): {e}"))?);
            continue;
        }
        if args.server == Server::Prometheus {
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let config = dir.join("prometheus.yml");
            std::fs::write(&config, "global:\n  scrape_interval: 15s\n").map_err(|e| format!("{}: {e}", config.display()))?;
            cmd.arg(format!("--config.file={}", config.display()))
                .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
                .arg(format!("--web.listen-address=127.0.0.1:{port}"))
                .arg("--web.enable-remote-write-receiver")
                .arg("--log.level=error");
            servers.push(cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().map_err(|e| format!("start prometheus (apt-get install prometheus): {e}"))?);
            continue;
        }
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
    // The workload is made after the servers start: a child's peak RSS as the kernel keeps it
    // (see `reap`) counts the bench's own RSS when it was started.
    eprintln!("encoding {} series x {} scrapes ...", args.series, args.scrapes);
    let workload = Workload::new(args.series, args.scrapes);
    let requests = encode(&args, &workload);
    let samples = workload.sample_count() as u64;
    let wire: usize = requests.iter().flatten().map(Vec::len).sum();
    let bases: Vec<String> = peers.iter().map(|p| format!("http://{p}")).collect();
    let base = bases[0].clone();

    let result = actix_web::rt::System::new().block_on(async {
        let client = awc::Client::builder().timeout(Duration::from_secs(120)).finish();
        let ready = Instant::now();
        for base in &bases {
            let (path, ok) = args.server.ready();
            while client.get(format!("{base}{path}")).send().await.ok().map(|r| r.status().as_u16()) != Some(ok) {
                if ready.elapsed() > Duration::from_secs(60) {
                    return Err("server did not start".to_string());
                }
                actix_web::rt::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let started = Instant::now();
        let tasks = requests.into_iter().enumerate().map(|(i, bodies)| {
            let path = args.server.write_path();
            let (client, url) = (client.clone(), format!("{}{path}", bases[i % bases.len()]));
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
        if args.read_after_sealing && args.server == Server::Gemini {
            wait_for_sealing(&client, &base).await?;
        }
        let Some(read_path) = args.server.read_path() else {
            return Ok((elapsed, latencies, (Duration::ZERO, 0, 0), (Duration::ZERO, 0, 0), (0.0, 0.0)));
        };
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
            let (took, answer) = timed_read(&client, &format!("{base}{read_path}"), &body).await?;
            let (series, samples) = check::samples_answer(&answer, &workload, READ_METRIC).map_err(|e| format!("remote read of {READ_METRIC} does not hold what the bench wrote: {e}"))?;
            read = (read.0.min(took), series, samples);
        }
        let everything = streamed_read_all(&client, &format!("{base}{read_path}"), &workload).await?;
        if args.server != Server::Gemini {
            return Ok((elapsed, latencies, read, everything, (0.0, 0.0)));
        }
        // What sealing did before the clean stop, which runs the last pass.
        let sealing = (metric(&client, &base, SEALED).await?, metric(&client, &base, "gemini_storage_seal_seconds_total").await?);
        Ok((elapsed, latencies, read, everything, sealing))
    });
    let cpu_before_stop: f64 = pids.iter().filter_map(|p| cpu_seconds(*p)).sum();
    let rss_before_stop: u64 = pids.iter().filter_map(|p| peak_rss_kib(*p)).sum();
    // A clean stop stores open chunks and flushes memtables, so disk holds everything.
    for pid in &pids {
        let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    }
    let (mut exits, mut usage) = (Vec::new(), Usage::default());
    for server in servers {
        let (exit, u) = reap(server)?;
        exits.push(exit);
        usage.cpu += u.cpu;
        usage.peak_rss_kib += u.peak_rss_kib;
    }
    let outcome = result.and_then(|r| match exits.iter().find(|e| !e.success()) {
        Some(exit) => Err(format!("server exited with {exit}")),
        None => Ok(r),
    });
    let disk = outcome.and_then(|r| {
        let mut usage = DiskUsage::default();
        disk_usage(&data_dir, &mut usage, &mut HashSet::new()).map(|()| (r, usage))
    });
    let node_dirs: Vec<PathBuf> = (0..nodes).map(|i| if nodes == 1 { data_dir.clone() } else { data_dir.join(format!("node-{i}")) }).collect();
    let tables = if args.server == Server::Gemini { table_report(&node_dirs) } else { "n/a (not Gemini)".to_string() };
    if args.data_dir.is_none() {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    let ((elapsed, mut latencies, (read, read_series, read_samples), (streamed, streamed_series, frames), (sealed, seal_seconds)), disk) = disk?;
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
    println!("                 tables by column family (summed over shards and nodes; bytes by level): {tables}");
    println!(
        "server peak RSS: {:.1} MB: the whole run, the clean stop included; {:.1} MB before the clean stop (sum over {nodes} server(s))",
        usage.peak_rss_kib as f64 / 1024.0,
        rss_before_stop as f64 / 1024.0
    );
    println!(
        "server CPU:      {:.1} s, {:.2} µs per sample: the whole run, of which {:.1} s in the clean stop (sum over {nodes} server(s))",
        usage.cpu,
        usage.cpu * 1e6 / samples as f64,
        usage.cpu - cpu_before_stop
    );
    if vm {
        println!("remote read:     n/a (VictoriaMetrics does not serve remote read)");
        return Ok(());
    }
    println!("remote read:     {READ_METRIC} of every target, every scrape ({read_series} series, {read_samples} samples, all checked against what was written), best of 3: {:.1} ms", read.as_secs_f64() * 1e3);
    println!("streamed read:   everything, STREAMED_XOR_CHUNKS ({streamed_series} series, all {samples} samples decoded and checked against what was written, {frames} frames), best of 3: {:.1} ms", streamed.as_secs_f64() * 1e3);
    if args.server != Server::Gemini {
        return Ok(());
    }
    match sealed > 0.0 {
        true => println!("sealing:         {sealed:.0} samples sealed before the stop, in {seal_seconds:.2} s of shard time ({:.0} ms per million samples)", seal_seconds * 1e9 / sealed),
        false => println!("sealing:         nothing sealed before the stop (the clean stop seals what is ready)"),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_args() -> BenchArgs {
        BenchArgs { series: 1000, scrapes: 3, connections: 2, batch: 300, server_cpu: None, shards: None, data_dir: None, nodes: 1, replication_factor: 1, sync_writes: false, read_after_sealing: false, server: Server::Gemini }
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
        let args = small_args();
        let reqs = encode(&args, &Workload::new(args.series, args.scrapes));
        assert_eq!(reqs.len(), 2);
        let workload = Workload::new(args.series, args.scrapes);
        let mut total = 0;
        let mut sent: Vec<Vec<(i64, f64)>> = vec![Vec::new(); workload.series_count()];
        for bodies in &reqs {
            for b in bodies {
                let raw = snap::raw::Decoder::new().decompress_vec(b).unwrap();
                let req = pb::WriteRequest::decode(raw.as_slice()).unwrap();
                assert!(req.timeseries.len() <= 300);
                total += req.timeseries.len();
                for ts in req.timeseries {
                    let labels: Vec<(String, String)> = ts.labels.into_iter().map(|l| (l.name, l.value)).collect();
                    sent[workload.find(&labels).expect("a series of the workload")].extend(ts.samples.iter().map(|s| (s.timestamp, s.value)));
                }
            }
        }
        assert_eq!(total, 3000);
        // What the checks regenerate is what was sent, bit for bit.
        for (i, samples) in sent.iter().enumerate() {
            let want: Vec<(i64, f64)> = workload.samples(i).collect();
            assert_eq!(samples.iter().map(|(t, v)| (*t, v.to_bits())).collect::<Vec<_>>(), want.iter().map(|(t, v)| (*t, v.to_bits())).collect::<Vec<_>>(), "series {i}");
        }
    }
}
