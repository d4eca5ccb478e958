//! The values `gemini serve` runs with, by flag name, as Prometheus' `/api/v1/status/flags`
//! lists its own: every flag of `ServeArgs` (clap lists them) with its resolved value as
//! text, whether it came from the command line, the environment, the configuration file or
//! the default; "" for a flag that is unset and has no default.

use super::{format_prometheus_duration, Config, ServeArgs};
use std::collections::BTreeMap;
use std::path::Path;

/// Every flag's name (without `--`) and value.
pub fn values(cfg: &Config) -> BTreeMap<String, String> {
    names().into_iter().map(|name| {
        let text = value(cfg, &name).unwrap_or_default();
        (name, text)
    }).collect()
}

fn names() -> Vec<String> {
    let command = <ServeArgs as clap::Args>::augment_args(clap::Command::new("serve"));
    command.get_arguments().filter_map(|a| a.get_long()).map(str::to_string).collect()
}

/// The value of flag `name`; `None` for a flag this list does not know (a test keeps it
/// complete).
fn value(cfg: &Config, name: &str) -> Option<String> {
    let path = |p: &Path| p.display().to_string();
    let duration = |d: std::time::Duration| format_prometheus_duration(d.as_millis() as u64);
    let retention = |ns: Option<i64>| match ns {
        None => String::new(),
        Some(0) => "inf".to_string(),
        Some(ns) => format_prometheus_duration((ns / 1_000_000) as u64),
    };
    let cluster = cfg.cluster.as_ref();
    Some(match name {
        "config" => cfg.config_file.as_deref().map(path).unwrap_or_default(),
        "http-addr" => cfg.http_addr.clone(),
        "data-dir" => path(&cfg.data_dir),
        "shards" => cfg.shards.to_string(),
        "max-body-bytes" => cfg.max_body_bytes.to_string(),
        "databases" => cfg.databases.join(","),
        "retention.raw" => retention(cfg.retention),
        "retention.5m" => retention(cfg.tier_retention[0]),
        "retention.1h" => retention(cfg.tier_retention[1]),
        "retention-check-interval" => duration(cfg.retention_check_interval),
        "sync-writes" => cfg.sync_writes.to_string(),
        "http-workers" => cfg.http_workers.to_string(),
        "auth-enabled" => cfg.auth.enabled.to_string(),
        "auth-protect-metrics" => cfg.auth.protect_metrics.to_string(),
        "tls-cert" => cfg.tls.as_ref().map(|(cert, _)| path(cert)).unwrap_or_default(),
        "tls-key" => cfg.tls.as_ref().map(|(_, key)| path(key)).unwrap_or_default(),
        "admin-user" => cfg.admin.as_ref().map(|(user, _)| user.clone()).unwrap_or_default(),
        "cluster.self" => cluster.map(|c| c.self_name.clone()).unwrap_or_default(),
        "cluster.peers" => cluster.map(|c| c.peers.join(",")).unwrap_or_default(),
        "cluster.peers-file" => cluster.and_then(|c| c.peers_file.as_deref()).map(path).unwrap_or_default(),
        "cluster.replication-factor" => cluster.map_or(1, |c| c.replication_factor).to_string(),
        "query.timeout" => duration(cfg.query.timeout),
        "query.max-samples" => cfg.query.max_samples.to_string(),
        "query.lookback-delta" => duration(cfg.query.lookback_delta),
        "query.cache-max-bytes" => cfg.query_cache.max_bytes.to_string(),
        "query.cache-offset" => duration(cfg.query_cache.offset),
        "downsample.delay" => duration(cfg.downsample_delay),
        "web.enable-admin-api" => cfg.admin_api.to_string(),
        "query.log-file" => cfg.query_log.file.as_deref().map(path).unwrap_or_default(),
        "query.slow-threshold" => cfg.query_log.slow_threshold.map(duration).unwrap_or_default(),
        "storage.out-of-order-window" => duration(cfg.out_of_order_window),
        "storage.max-hourly-series" => cfg.series_limits.hourly.to_string(),
        "storage.max-daily-series" => cfg.series_limits.daily.to_string(),
        "storage.max-series-per-database" => cfg.series_limits.per_database.to_string(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_flag_has_its_value() {
        let cfg = ServeArgs::default().resolve().unwrap();
        for name in names() {
            assert!(value(&cfg, &name).is_some(), "flag --{name} is missing from config::flags::value");
        }
    }

    #[test]
    fn defaults_and_given_values_as_text() {
        let args = ServeArgs { retention: Some("30d".into()), query_timeout: Some("90s".into()), databases: Some(vec!["a".into(), "b".into()]), ..Default::default() };
        let flags = values(&args.resolve().unwrap());
        let get = |name: &str| flags.get(name).map(String::as_str);
        assert_eq!(get("retention.raw"), Some("30d"));
        assert_eq!(get("retention.5m"), Some(""));
        assert_eq!(get("query.timeout"), Some("1m30s"));
        assert_eq!(get("query.lookback-delta"), Some("5m"));
        assert_eq!(get("databases"), Some("a,b"));
        assert_eq!(get("http-addr"), Some("127.0.0.1:8086"));
        assert_eq!(get("sync-writes"), Some("false"));
        assert_eq!(get("cluster.replication-factor"), Some("1"));
        assert_eq!(get("config"), Some(""));
        assert_eq!(get("help"), None);
    }
}
