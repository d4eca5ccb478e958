//! The servers under load: started as children (pinned to a CPU with `taskset` when asked, as
//! one cluster on loopback when there are several), and what their whole run cost, read from
//! /proc while they run and from the kernel (`wait4`) when they end.

use super::{BenchArgs, Error, Server};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The data directory of node `i` of `nodes`.
pub(super) fn node_dir(data_dir: &Path, nodes: usize, i: usize) -> PathBuf {
    if nodes == 1 { data_dir.to_path_buf() } else { data_dir.join(format!("node-{i}")) }
}

/// Starts `args.server` on each of `peers` (`127.0.0.1:port`) with its data under `data_dir`.
pub(super) fn start(args: &BenchArgs, data_dir: &Path, peers: &[String]) -> Result<Vec<Child>, Error> {
    let nodes = peers.len();
    let exe = std::env::current_exe().map_err(Error::CurrentExe)?;
    let mut servers = Vec::new();
    for (i, addr) in peers.iter().enumerate() {
        let program = match args.server {
            Server::Gemini => exe.clone(),
            Server::VictoriaMetrics => PathBuf::from("victoria-metrics"),
            Server::Prometheus => PathBuf::from("prometheus"),
            Server::Influxdb => PathBuf::from("influxd"),
        };
        let mut cmd = match args.server_cpu {
            Some(cpu) => {
                let mut c = Command::new("taskset");
                c.arg("-c").arg(cpu.to_string()).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let dir = node_dir(data_dir, nodes, i);
        let spawn = |cmd: &mut Command, what: &'static str| cmd.spawn().map_err(|source| Error::Start { what, source });
        match args.server {
            Server::VictoriaMetrics => {
                cmd.arg(format!("-storageDataPath={}", dir.display())).arg(format!("-httpListenAddr={addr}")).arg("-retentionPeriod=100y").arg("-loggerLevel=ERROR").arg("-search.disableCache");
                servers.push(spawn(cmd.stdout(Stdio::null()), "victoria-metrics (apt-get install victoria-metrics)")?);
            }
            Server::Prometheus => {
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                let config = dir.join("prometheus.yml");
                std::fs::write(&config, "global:\n  scrape_interval: 15s\n").map_err(|e| Error::io(&config, e))?;
                cmd.arg(format!("--config.file={}", config.display()))
                    .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
                    .arg(format!("--web.listen-address={addr}"))
                    .arg("--web.enable-remote-write-receiver")
                    .arg("--log.level=error");
                servers.push(spawn(cmd.stdout(Stdio::null()).stderr(Stdio::null()), "prometheus (apt-get install prometheus)")?);
            }
            Server::Influxdb => {
                std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
                let config = dir.join("influxdb.conf");
                std::fs::write(&config, influxdb_config(&dir, addr)).map_err(|e| Error::io(&config, e))?;
                cmd.arg("-config").arg(&config);
                servers.push(spawn(cmd.stdout(Stdio::null()).stderr(Stdio::null()), "influxd (apt-get install influxdb)")?);
            }
            Server::Gemini => {
                cmd.arg("serve").arg("--http-addr").arg(addr).arg("--data-dir").arg(&dir);
                if let Some(s) = args.shards {
                    cmd.arg("--shards").arg(s.to_string());
                }
                if args.sync_writes {
                    cmd.arg("--sync-writes=true");
                }
                if args.long_range {
                    // The workload is history written in minutes: downsample it soon after.
                    cmd.arg("--downsample.delay").arg("10s");
                }
                if nodes > 1 {
                    cmd.arg("--cluster.self").arg(addr).arg("--cluster.peers").arg(peers.join(","));
                    cmd.arg("--cluster.replication-factor").arg(args.replication_factor.to_string()).env("GEMINI_CLUSTER_SECRET", "bench");
                }
                servers.push(spawn(cmd.env("RUST_LOG", "warn").stdout(Stdio::null()), "server")?);
            }
        }
    }
    Ok(servers)
}

/// InfluxDB 1.x's configuration for a bench run: its data under `dir`, HTTP on `addr`, the
/// cluster RPC port chosen by the kernel, no limits on series or tag values, no reporting.
fn influxdb_config(dir: &Path, addr: &str) -> String {
    let d = dir.display();
    format!(
        "reporting-disabled = true\nbind-address = \"127.0.0.1:0\"\n[meta]\n  dir = \"{d}/meta\"\n[data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n  max-series-per-database = 0\n  max-values-per-tag = 0\n[http]\n  bind-address = \"{addr}\"\n  log-enabled = false\n[monitor]\n  store-enabled = false\n"
    )
}

/// CPU seconds (user + system) a process has used so far.
pub(super) fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Peak resident set of a running process so far, KiB.
pub(super) fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

/// What a server's whole run cost, read when it ended: CPU seconds (user + system) and peak
/// resident set in KiB.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Usage {
    pub cpu: f64,
    pub peak_rss_kib: u64,
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
pub(super) fn reap(child: Child) -> Result<(std::process::ExitStatus, Usage), Error> {
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
            return Err(Error::Wait { pid, source: e });
        }
    }
    drop(child);
    let secs = |tv: [std::ffi::c_long; 2]| tv[0] as f64 + tv[1] as f64 / 1e6;
    Ok((std::process::ExitStatus::from_raw(status), Usage { cpu: secs(usage.utime) + secs(usage.stime), peak_rss_kib: usage.maxrss as u64 }))
}

