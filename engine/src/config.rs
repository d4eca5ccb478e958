//! The server's options (`gemini serve`): command line, TOML configuration file and `GEMINI_*` environment variables.
//! Precedence: flag, then environment variable, then the `--config` file, then the default.

mod duration;
pub mod flags;

pub use duration::{format_prometheus_duration, parse_duration, parse_prometheus_duration, DurationError};
use clap::Args;
use serde::Deserialize;
use std::path::PathBuf;

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML file with the same keys as the flags below, in snake_case
    /// (http_addr, data_dir, shards, max_body_bytes, databases, retention (or retention_raw),
    /// retention_5m, retention_1h, retention_check_interval, sync_writes, http_workers, tls_cert, tls_key), an `[auth]` table with `enabled` and
    /// `protect_metrics`, a `[query]` table with `timeout`, `max_samples`, `lookback_delta`,
    /// `cache_max_bytes` and `cache_offset`, a `[downsample]` table with `delay`.
    #[arg(long, env = "GEMINI_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address to serve HTTP on [default: 127.0.0.1:8086].
    #[arg(long, env = "GEMINI_HTTP_ADDR")]
    pub http_addr: Option<String>,
    /// Directory of the embedded storage [default: ./data].
    #[arg(long, env = "GEMINI_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Number of shard actors; fixed when the data directory is created [default: number of cores].
    #[arg(long, env = "GEMINI_SHARDS")]
    pub shards: Option<usize>,
    /// Largest request body accepted after decompression, in bytes [default: 33554432 (32 MiB)].
    #[arg(long, env = "GEMINI_MAX_BODY_BYTES")]
    pub max_body_bytes: Option<usize>,
    /// Databases created at start, comma separated [default: prometheus].
    #[arg(long, env = "GEMINI_DATABASES", value_delimiter = ',')]
    pub databases: Option<Vec<String>>,
    /// How long the default retention policy of the databases created at start keeps raw data,
    /// set at every start: a number and `ms`, `s`, `m`, `h`, `d`, `w` or `y` (at least 1h), or
    /// `0` / `inf` for forever (`--retention` is the same flag). Without it, policies stay as
    /// InfluxQL statements left them.
    #[arg(long = "retention.raw", visible_alias = "retention", env = "GEMINI_RETENTION")]
    pub retention: Option<String>,
    /// How long the 5-minute downsampled tier of those policies keeps data, set at every start
    /// like --retention.raw; at least as long as raw data [default: as InfluxQL left it; a new
    /// policy's tier keeps data as long as the next finer data].
    #[arg(long = "retention.5m", env = "GEMINI_RETENTION_5M")]
    pub retention_5m: Option<String>,
    /// How long the 1-hour downsampled tier of those policies keeps data, like --retention.5m;
    /// at least as long as the 5-minute tier.
    #[arg(long = "retention.1h", env = "GEMINI_RETENTION_1H")]
    pub retention_1h: Option<String>,
    /// How often expired partitions are dropped [default: 1m].
    #[arg(long, env = "GEMINI_RETENTION_CHECK_INTERVAL")]
    pub retention_check_interval: Option<String>,
    /// fsync the write-ahead log before acknowledging each write, for power-loss safety; without
    /// it an acknowledged write survives a crash or kill -9 of the server [default: false].
    #[arg(long, env = "GEMINI_SYNC_WRITES", num_args = 0..=1, default_missing_value = "true")]
    pub sync_writes: Option<bool>,
    /// HTTP worker threads [default: number of cores].
    #[arg(long, env = "GEMINI_HTTP_WORKERS")]
    pub http_workers: Option<usize>,
    /// Require credentials (u/p parameters, Basic or `Token u:p`) on every endpoint but /ping
    /// and /health; while no user exists only `CREATE USER … WITH ALL PRIVILEGES` is accepted
    /// [default: false].
    #[arg(long, env = "GEMINI_AUTH_ENABLED", num_args = 0..=1, default_missing_value = "true")]
    pub auth_enabled: Option<bool>,
    /// With auth enabled, require credentials on /metrics too [default: false].
    #[arg(long, env = "GEMINI_AUTH_PROTECT_METRICS", num_args = 0..=1, default_missing_value = "true")]
    pub auth_protect_metrics: Option<bool>,
    /// PEM certificate chain: serve HTTPS (HTTP/2 and HTTP/1.1) instead of HTTP; needs --tls-key.
    #[arg(long, env = "GEMINI_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "GEMINI_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Admin user created at start when no user exists (with GEMINI_ADMIN_PASSWORD).
    #[arg(long, env = "GEMINI_ADMIN_USER")]
    pub admin_user: Option<String>,
    /// Password of `--admin-user`; only read from the environment, never from the command line.
    #[arg(skip = std::env::var("GEMINI_ADMIN_PASSWORD").ok())]
    pub admin_password: Option<String>,
    /// This node's address as the other nodes reach it (`host:port`); with peers it is one node
    /// of a cluster, which also needs the secret in GEMINI_CLUSTER_SECRET.
    #[arg(long = "cluster.self", env = "GEMINI_CLUSTER_SELF")]
    pub cluster_self: Option<String>,
    /// The cluster's nodes, comma separated (this one included or not).
    #[arg(long = "cluster.peers", env = "GEMINI_CLUSTER_PEERS", value_delimiter = ',')]
    pub cluster_peers: Option<Vec<String>>,
    /// A file with one node per line, re-read when it changes; instead of --cluster.peers.
    #[arg(long = "cluster.peers-file", env = "GEMINI_CLUSTER_PEERS_FILE")]
    pub cluster_peers_file: Option<PathBuf>,
    /// Copies of each series across the nodes [default: 1].
    #[arg(long = "cluster.replication-factor", env = "GEMINI_CLUSTER_REPLICATION_FACTOR")]
    pub cluster_replication_factor: Option<usize>,
    /// The secret of the requests between nodes; only read from the environment.
    #[arg(skip = std::env::var("GEMINI_CLUSTER_SECRET").ok())]
    pub cluster_secret: Option<String>,
    /// Longest a PromQL query may run (a Prometheus duration like 2m or 1m30s); a query's own
    /// `timeout` parameter can only shorten it [default: 2m].
    #[arg(long = "query.timeout", env = "GEMINI_QUERY_TIMEOUT")]
    pub query_timeout: Option<String>,
    /// Most samples a PromQL query may hold in memory at once [default: 50000000].
    #[arg(long = "query.max-samples", env = "GEMINI_QUERY_MAX_SAMPLES")]
    pub query_max_samples: Option<usize>,
    /// How far back an instant vector selector looks for a sample; a query's own
    /// `lookback_delta` parameter overrides it [default: 5m].
    #[arg(long = "query.lookback-delta", env = "GEMINI_QUERY_LOOKBACK_DELTA")]
    pub query_lookback_delta: Option<String>,
    /// Memory for cached PromQL range-query answers, in bytes; the least recently used answers
    /// go first; 0 turns the cache off. A cluster member never caches [default: 268435456 (256 MiB)].
    #[arg(long = "query.cache-max-bytes", env = "GEMINI_QUERY_CACHE_MAX_BYTES")]
    pub query_cache_max_bytes: Option<usize>,
    /// Steps newer than now minus this (a Prometheus duration) are always computed and never
    /// cached: samples may still arrive for them [default: 5m].
    #[arg(long = "query.cache-offset", env = "GEMINI_QUERY_CACHE_OFFSET")]
    pub query_cache_offset: Option<String>,
    /// How long after a time partition ends its 5-minute downsampled tier is written (a
    /// Prometheus duration; samples arriving later for it are unlikely by then) [default: 1h].
    #[arg(long = "downsample.delay", env = "GEMINI_DOWNSAMPLE_DELAY")]
    pub downsample_delay: Option<String>,
    /// Serve Prometheus' admin API (`/api/v1/admin/tsdb/delete_series`, `clean_tombstones`,
    /// `snapshot`); with auth on, to admin users only [default: false].
    #[arg(long = "web.enable-admin-api", env = "GEMINI_WEB_ENABLE_ADMIN_API", num_args = 0..=1, default_missing_value = "true")]
    pub web_enable_admin_api: Option<bool>,
    /// Write one JSON line per PromQL and InfluxQL query to this file, as Prometheus' query log.
    #[arg(long = "query.log-file", env = "GEMINI_QUERY_LOG_FILE")]
    pub query_log_file: Option<PathBuf>,
    /// Log queries that take longer (a Prometheus duration) at `warn` level, with or without
    /// the log file [default: off].
    #[arg(long = "query.slow-threshold", env = "GEMINI_QUERY_SLOW_THRESHOLD")]
    pub query_slow_threshold: Option<String>,
    /// How much older than its series' newest sample a written sample may be and still be
    /// stored, merged in (a Prometheus duration, as Prometheus' out_of_order_time_window);
    /// older ones are refused [default: 0s: every older sample is refused].
    #[arg(long = "storage.out-of-order-window", env = "GEMINI_STORAGE_OUT_OF_ORDER_WINDOW")]
    pub storage_out_of_order_window: Option<String>,
    /// The most new series this node makes in an hour (a sliding 60 minutes); the samples of
    /// further new series are refused (HTTP 400), known series keep ingesting [default: 0: no limit].
    #[arg(long = "storage.max-hourly-series", env = "GEMINI_STORAGE_MAX_HOURLY_SERIES")]
    pub storage_max_hourly_series: Option<u64>,
    /// The most new series this node makes in a day (a sliding 24 hours) [default: 0: no limit].
    #[arg(long = "storage.max-daily-series", env = "GEMINI_STORAGE_MAX_DAILY_SERIES")]
    pub storage_max_daily_series: Option<u64>,
    /// The most series one database holds on this node, all its retention policies together
    /// [default: 0: no limit].
    #[arg(long = "storage.max-series-per-database", env = "GEMINI_STORAGE_MAX_SERIES_PER_DATABASE")]
    pub storage_max_series_per_database: Option<u64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct DownsampleFile {
    delay: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct QueryFile {
    timeout: Option<String>,
    max_samples: Option<usize>,
    lookback_delta: Option<String>,
    cache_max_bytes: Option<usize>,
    cache_offset: Option<String>,
    log_file: Option<PathBuf>,
    slow_threshold: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct StorageFile {
    out_of_order_window: Option<String>,
    max_hourly_series: Option<u64>,
    max_daily_series: Option<u64>,
    max_series_per_database: Option<u64>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct WebFile {
    enable_admin_api: Option<bool>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    #[serde(rename = "self")]
    self_name: Option<String>,
    peers: Option<Vec<String>>,
    peers_file: Option<PathBuf>,
    replication_factor: Option<usize>,
    secret: Option<String>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct AuthFile {
    enabled: Option<bool>,
    protect_metrics: Option<bool>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    http_addr: Option<String>,
    data_dir: Option<PathBuf>,
    shards: Option<usize>,
    max_body_bytes: Option<usize>,
    databases: Option<Vec<String>>,
    #[serde(alias = "retention_raw")]
    retention: Option<String>,
    retention_5m: Option<String>,
    retention_1h: Option<String>,
    retention_check_interval: Option<String>,
    sync_writes: Option<bool>,
    http_workers: Option<usize>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    #[serde(default)]
    auth: AuthFile,
    #[serde(default)]
    cluster: ClusterFile,
    #[serde(default)]
    query: QueryFile,
    #[serde(default)]
    downsample: DownsampleFile,
    #[serde(default)]
    web: WebFile,
    #[serde(default)]
    storage: StorageFile,
}

/// The settings the server runs with, every one resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The `--config` file read, if any.
    pub config_file: Option<PathBuf>,
    pub http_addr: String,
    pub data_dir: PathBuf,
    pub shards: usize,
    pub max_body_bytes: usize,
    pub databases: Vec<String>,
    /// Nanoseconds (0 = forever) for the default policy of `databases`: its raw data.
    pub retention: Option<i64>,
    /// The same for its downsampled tiers (`Tier::ALL` order: 5m, 1h).
    pub tier_retention: [Option<i64>; 2],
    pub retention_check_interval: std::time::Duration,
    pub sync_writes: bool,
    pub http_workers: usize,
    pub auth: Auth,
    /// (certificate, key) PEM files: HTTPS only.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// Admin (name, password) to create when no user exists.
    pub admin: Option<(String, String)>,
    /// Set when this node is one of a cluster.
    pub cluster: Option<crate::cluster::ClusterConfig>,
    pub query: QueryLimits,
    pub query_cache: QueryCache,
    /// How long after a partition's end it is downsampled.
    pub downsample_delay: std::time::Duration,
    /// Whether Prometheus' admin API is served.
    pub admin_api: bool,
    pub query_log: QueryLog,
    /// How much older than its series' newest a sample may be and be merged in.
    pub out_of_order_window: std::time::Duration,
    /// `--storage.max-*-series`.
    pub series_limits: crate::storage::series_limits::SeriesLimits,
}

/// Where queries are logged, `--query.log-file` and `--query.slow-threshold`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryLog {
    pub file: Option<PathBuf>,
    pub slow_threshold: Option<std::time::Duration>,
}

/// The PromQL settings of `--query.*`, as Prometheus names them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryLimits {
    pub timeout: std::time::Duration,
    pub max_samples: usize,
    pub lookback_delta: std::time::Duration,
}

impl Default for QueryLimits {
    /// Prometheus' defaults.
    fn default() -> QueryLimits {
        QueryLimits { timeout: std::time::Duration::from_secs(120), max_samples: 50_000_000, lookback_delta: std::time::Duration::from_secs(300) }
    }
}

/// The range-query cache's settings, `--query.cache-*`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueryCache {
    /// 0: no cache.
    pub max_bytes: usize,
    /// Steps newer than now minus this are never cached.
    pub offset: std::time::Duration,
}

impl Default for QueryCache {
    fn default() -> QueryCache {
        QueryCache { max_bytes: 256 << 20, offset: std::time::Duration::from_secs(300) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Auth {
    pub enabled: bool,
    pub protect_metrics: bool,
}

/// Why the server's options do not make a configuration; the text is what `gemini serve` prints.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read config file {}: {source}", path.display())]
    ReadFile { path: PathBuf, source: std::io::Error },
    #[error("config file {}: {source}", path.display())]
    File { path: PathBuf, source: toml::de::Error },
    #[error("retention: {0}")]
    Retention(DurationError),
    #[error("retention.{0}: {1}")]
    TierRetention(&'static str, DurationError),
    #[error("retention_check_interval: {0}")]
    RetentionCheckInterval(DurationError),
    #[error("retention_check_interval must be more than 0")]
    ZeroRetentionCheckInterval,
    #[error("TLS needs both --tls-cert and --tls-key")]
    TlsHalf,
    #[error("--admin-user needs the password in GEMINI_ADMIN_PASSWORD")]
    AdminPassword,
    #[error("query timeout: {0}")]
    QueryTimeout(DurationError),
    #[error("query lookback delta: {0}")]
    LookbackDelta(DurationError),
    #[error("query cache offset: {0}")]
    CacheOffset(DurationError),
    #[error("downsample delay: {0}")]
    DownsampleDelay(DurationError),
    #[error("query slow threshold: {0}")]
    SlowThreshold(DurationError),
    #[error("out-of-order window: {0}")]
    OutOfOrderWindow(DurationError),
    #[error("cluster peers need --cluster.self: this node's address as the others reach it")]
    ClusterSelf,
    #[error("shards, http_workers and max_body_bytes must be at least 1")]
    ZeroSize,
    #[error("query timeout, lookback delta and max samples must be more than 0")]
    ZeroQueryLimit,
}

fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

impl ServeArgs {
    pub fn resolve(self) -> Result<Config, Error> {
        let file = match &self.config {
            None => FileConfig::default(),
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| Error::ReadFile { path: path.clone(), source })?;
                toml::from_str(&text).map_err(|source| Error::File { path: path.clone(), source })?
            }
        };
        let tier = |name, r: Option<String>| r.map(|r| parse_duration(&r).map_err(|e| Error::TierRetention(name, e))).transpose();
        let cfg = Config {
            config_file: self.config.clone(),
            http_addr: self.http_addr.or(file.http_addr).unwrap_or_else(|| "127.0.0.1:8086".into()),
            data_dir: self.data_dir.or(file.data_dir).unwrap_or_else(|| "./data".into()),
            shards: self.shards.or(file.shards).unwrap_or_else(cores),
            max_body_bytes: self.max_body_bytes.or(file.max_body_bytes).unwrap_or(32 << 20),
            databases: (self.databases.or(file.databases).unwrap_or_else(|| vec!["prometheus".into()]))
                .into_iter()
                .filter(|d| !d.is_empty())
                .collect(),
            retention: self.retention.or(file.retention).map(|r| parse_duration(&r).map_err(Error::Retention)).transpose()?,
            tier_retention: [tier("5m", self.retention_5m.or(file.retention_5m))?, tier("1h", self.retention_1h.or(file.retention_1h))?],
            retention_check_interval: match self.retention_check_interval.or(file.retention_check_interval) {
                None => std::time::Duration::from_secs(60),
                Some(i) => match parse_duration(&i).map_err(Error::RetentionCheckInterval)? {
                    0 => return Err(Error::ZeroRetentionCheckInterval),
                    ns => std::time::Duration::from_nanos(ns as u64),
                },
            },
            sync_writes: self.sync_writes.or(file.sync_writes).unwrap_or(false),
            http_workers: self.http_workers.or(file.http_workers).unwrap_or_else(cores),
            auth: Auth {
                enabled: self.auth_enabled.or(file.auth.enabled).unwrap_or(false),
                protect_metrics: self.auth_protect_metrics.or(file.auth.protect_metrics).unwrap_or(false),
            },
            tls: match (self.tls_cert.or(file.tls_cert), self.tls_key.or(file.tls_key)) {
                (Some(c), Some(k)) => Some((c, k)),
                (None, None) => None,
                _ => return Err(Error::TlsHalf),
            },
            admin: match (self.admin_user, self.admin_password) {
                (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => Some((u, p)),
                (Some(u), _) if !u.is_empty() => return Err(Error::AdminPassword),
                _ => None,
            },
            cluster: None,
            query: QueryLimits {
                timeout: match self.query_timeout.or(file.query.timeout) {
                    None => QueryLimits::default().timeout,
                    Some(t) => parse_prometheus_duration(&t).map_err(Error::QueryTimeout)?,
                },
                max_samples: self.query_max_samples.or(file.query.max_samples).unwrap_or(QueryLimits::default().max_samples),
                lookback_delta: match self.query_lookback_delta.or(file.query.lookback_delta) {
                    None => QueryLimits::default().lookback_delta,
                    Some(t) => parse_prometheus_duration(&t).map_err(Error::LookbackDelta)?,
                },
            },
            query_cache: QueryCache {
                max_bytes: self.query_cache_max_bytes.or(file.query.cache_max_bytes).unwrap_or(QueryCache::default().max_bytes),
                offset: match self.query_cache_offset.or(file.query.cache_offset) {
                    None => QueryCache::default().offset,
                    Some(t) => parse_prometheus_duration(&t).map_err(Error::CacheOffset)?,
                },
            },
            downsample_delay: match self.downsample_delay.or(file.downsample.delay) {
                None => crate::storage::shard::DEFAULT_DOWNSAMPLE_DELAY,
                Some(t) => parse_prometheus_duration(&t).map_err(Error::DownsampleDelay)?,
            },
            admin_api: self.web_enable_admin_api.or(file.web.enable_admin_api).unwrap_or(false),
            query_log: QueryLog {
                file: self.query_log_file.or(file.query.log_file),
                slow_threshold: self.query_slow_threshold.or(file.query.slow_threshold).map(|t| parse_prometheus_duration(&t).map_err(Error::SlowThreshold)).transpose()?,
            },
            out_of_order_window: match self.storage_out_of_order_window.or(file.storage.out_of_order_window) {
                None => std::time::Duration::ZERO,
                Some(t) => parse_prometheus_duration(&t).map_err(Error::OutOfOrderWindow)?,
            },
            series_limits: crate::storage::series_limits::SeriesLimits {
                hourly: self.storage_max_hourly_series.or(file.storage.max_hourly_series).unwrap_or(0),
                daily: self.storage_max_daily_series.or(file.storage.max_daily_series).unwrap_or(0),
                per_database: self.storage_max_series_per_database.or(file.storage.max_series_per_database).unwrap_or(0),
            },
        };
        let mut cfg = cfg;
        let peers = self.cluster_peers.or(file.cluster.peers).unwrap_or_default();
        let peers_file = self.cluster_peers_file.or(file.cluster.peers_file);
        cfg.cluster = match self.cluster_self.or(file.cluster.self_name) {
            None if peers.is_empty() && peers_file.is_none() => None,
            None => return Err(Error::ClusterSelf),
            Some(self_name) => Some(crate::cluster::ClusterConfig {
                self_name,
                peers,
                peers_file,
                replication_factor: self.cluster_replication_factor.or(file.cluster.replication_factor).unwrap_or(1),
                secret: self.cluster_secret.or(file.cluster.secret).unwrap_or_default(),
            }),
        };
        if cfg.shards == 0 || cfg.http_workers == 0 || cfg.max_body_bytes == 0 {
            return Err(Error::ZeroSize);
        }
        if cfg.query.timeout.is_zero() || cfg.query.lookback_delta.is_zero() || cfg.query.max_samples == 0 {
            return Err(Error::ZeroQueryLimit);
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests;
