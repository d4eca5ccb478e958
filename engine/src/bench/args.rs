//! The bench's options (`gemini bench --help`) and the servers it can load, with what each
//! answers on: its readiness check, its write path and its read path.

use std::path::PathBuf;

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
    /// After the load, time the PromQL range queries of a dashboard over the whole workload
    /// (`bench::queries`), median of 3 each, through the server's Prometheus API.
    #[arg(long)]
    pub queries: bool,
    /// The shape of downsampling's bench (e.g. `--series 100 --scrapes 518400`, 90 days): only
    /// the series of the metrics its panels read (`queries::LONG_RANGE`); `--queries` then
    /// times those panels over the whole workload at step 1 h, on Gemini once downsampling has
    /// caught up, with `max_source_resolution=raw` and with `auto`.
    #[arg(long)]
    pub long_range: bool,
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
    /// InfluxDB 1.x through its Prometheus endpoint (`/api/v1/prom/write`): each metric a
    /// measurement with field `value`, as Gemini's InfluxQL sees it; `--queries` times
    /// InfluxQL statements on it.
    Influxdb,
}

impl Server {
    /// Its readiness check: a path and the status that means ready.
    pub(super) fn ready(self) -> (&'static str, u16) {
        match self {
            Server::Gemini => ("/ping", 204),
            Server::VictoriaMetrics => ("/health", 200),
            Server::Prometheus => ("/-/ready", 200),
            Server::Influxdb => ("/ping", 204),
        }
    }

    pub(super) fn write_path(self) -> &'static str {
        match self {
            Server::Gemini => "/api/v1/write?db=prometheus",
            Server::Influxdb => "/api/v1/prom/write?db=prometheus",
            _ => "/api/v1/write",
        }
    }

    /// Its remote read endpoint; VictoriaMetrics serves none.
    pub(super) fn read_path(self) -> Option<&'static str> {
        match self {
            Server::Gemini => Some("/api/v1/read?db=prometheus"),
            Server::VictoriaMetrics | Server::Influxdb => None,
            Server::Prometheus => Some("/api/v1/read"),
        }
    }
}
