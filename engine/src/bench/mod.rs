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
//!
//! The bench's options are in `args`, the servers it starts and what they cost in `servers`,
//! the load in `load`, the reads in `reads` (checked by `check`), the PromQL range queries of
//! `--queries` in `queries`, the data directory in `disk`, what it prints in `report`; here
//! the run from start to stop.

mod args;
mod check;
mod disk;
mod load;
mod queries;
mod reads;
mod report;
mod servers;
mod workload;

pub use args::{BenchArgs, Server};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use workload::{encode, Workload, READ_METRIC};

/// Why a bench run failed; its text is what `gemini bench` prints.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("--connections and --batch must be at least 1")]
    ZeroConnectionsOrBatch,
    #[error("only --server gemini runs as a cluster")]
    ClusterNotGemini,
    /// No loopback port for a server.
    #[error("{0}")]
    Port(std::io::Error),
    /// The bench's own program, which it starts as `gemini serve`.
    #[error("{0}")]
    CurrentExe(std::io::Error),
    #[error("start {what}: {source}")]
    Start { what: &'static str, source: std::io::Error },
    /// A file or directory of the servers' data.
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("wait for server {pid}: {source}")]
    Wait { pid: i32, source: std::io::Error },
    #[error("server did not start")]
    NotStarted,
    /// A request that got no answer; `what` says which.
    #[error("{what}: {source}")]
    Send { what: &'static str, source: awc::error::SendRequestError },
    /// An answer whose body could not be read; `what` says which.
    #[error("{what}: {source}")]
    Body { what: &'static str, source: awc::error::PayloadError },
    /// A write answered otherwise than 204.
    #[error("status {0}")]
    WriteStatus(awc::http::StatusCode),
    #[error("remote read answered {status}: {body}")]
    ReadStatus { status: awc::http::StatusCode, body: String },
    #[error(transparent)]
    Snappy(#[from] snap::Error),
    #[error("remote read of {metric} does not hold what the bench wrote: {0}", metric = READ_METRIC)]
    SamplesCheck(check::Error),
    #[error("streamed read of everything does not hold what the bench wrote: {0}")]
    StreamedCheck(check::Error),
    #[error("sealing did not settle within 2 minutes ({sealed} samples sealed)")]
    SealingUnsettled { sealed: f64 },
    /// A range query of `--queries` that did not answer a success with series.
    #[error("range query {promql}: {why}")]
    Query { promql: String, why: String },
    #[error("server exited with {0}")]
    Exited(std::process::ExitStatus),
}

impl Error {
    fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io { path: path.to_path_buf(), source }
    }
}

pub fn run(args: BenchArgs) -> Result<(), Error> {
    if args.connections == 0 || args.batch == 0 {
        return Err(Error::ZeroConnectionsOrBatch);
    }
    if args.server != Server::Gemini && args.nodes > 1 {
        return Err(Error::ClusterNotGemini);
    }
    let data_dir = args
        .data_dir
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("gemini-bench-{}", std::process::id())));

    let nodes = args.nodes.max(1);
    let ports: Vec<u16> = (0..nodes)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").map(|l| l.local_addr().unwrap().port()).map_err(Error::Port))
        .collect::<Result<_, _>>()?;
    let peers: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
    let servers = servers::start(&args, &data_dir, &peers)?;
    let pids: Vec<u32> = servers.iter().map(|s| s.id()).collect();
    // The workload is made after the servers start: a child's peak RSS as the kernel keeps it
    // (see `servers::reap`) counts the bench's own RSS when it was started.
    eprintln!("encoding {} series x {} scrapes ...", args.series, args.scrapes);
    let only: &[&str] = if args.long_range { &queries::LONG_RANGE_METRICS } else { &[] };
    let workload = Workload::new(args.series, args.scrapes, only);
    let requests = encode(&args, &workload);
    let samples = workload.sample_count() as u64;
    let wire: usize = requests.iter().flatten().map(Vec::len).sum();
    let bases: Vec<String> = peers.iter().map(|p| format!("http://{p}")).collect();

    let result = actix_web::rt::System::new().block_on(load::drive(&args, &bases, requests, &workload));
    let cpu_before_stop: f64 = pids.iter().filter_map(|p| servers::cpu_seconds(*p)).sum();
    let rss_before_stop: u64 = pids.iter().filter_map(|p| servers::peak_rss_kib(*p)).sum();
    // A clean stop stores open chunks and flushes memtables, so disk holds everything.
    for pid in &pids {
        let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    }
    let (mut exits, mut usage) = (Vec::new(), servers::Usage::default());
    for server in servers {
        let (exit, u) = servers::reap(server)?;
        exits.push(exit);
        usage.cpu += u.cpu;
        usage.peak_rss_kib += u.peak_rss_kib;
    }
    let outcome = result.and_then(|r| match exits.iter().find(|e| !e.success()) {
        Some(exit) => Err(Error::Exited(*exit)),
        None => Ok(r),
    });
    let measured = outcome.and_then(|r| {
        let mut usage = disk::DiskUsage::default();
        disk::disk_usage(&data_dir, &mut usage, &mut HashSet::new()).map(|()| (r, usage))
    });
    let node_dirs: Vec<PathBuf> = (0..nodes).map(|i| servers::node_dir(&data_dir, nodes, i)).collect();
    let tables = if args.server == Server::Gemini { disk::table_report(&node_dirs) } else { "n/a (not Gemini)".to_string() };
    if args.data_dir.is_none() {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    let (loaded, disk) = measured?;
    report::Report { nodes, samples, wire, loaded, disk, tables, usage, before_stop: (cpu_before_stop, rss_before_stop) }.print(&args);
    Ok(())
}
