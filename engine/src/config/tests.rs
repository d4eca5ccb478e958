//! The settings' tests: flags over the environment over the file over the defaults, and the
//! errors that name what is wrong.

use super::*;

/// A config file with `text` (kept while the directory lives).
fn config_file(text: &str) -> (tempfile::TempDir, Option<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gemini.toml");
    std::fs::write(&path, text).unwrap();
    (dir, Some(path))
}

#[test]
fn flags_override_file_and_defaults_fill_in() {
    let (_dir, config) = config_file("http_addr = \"0.0.0.0:9999\"\ndata_dir = \"/var/lib/gemini\"\ndatabases = [\"a\", \"b\"]\n[auth]\nenabled = true\n");
    let cfg = ServeArgs { config, data_dir: Some("/x".into()), ..Default::default() }.resolve().unwrap();
    assert_eq!(cfg.http_addr, "0.0.0.0:9999");
    assert_eq!(cfg.data_dir, PathBuf::from("/x"));
    assert_eq!(cfg.databases, vec!["a", "b"]);
    assert_eq!(cfg.max_body_bytes, 32 << 20);
    assert!(!cfg.sync_writes);
    assert_eq!(cfg.auth, Auth { enabled: true, protect_metrics: false });
}

#[test]
fn query_settings_from_flags_file_and_defaults() {
    let (_dir, config) = config_file("[query]\ntimeout = \"30s\"\nmax_samples = 1000\n");
    let cfg = ServeArgs { config, query_lookback_delta: Some("1m30s".into()), ..Default::default() }.resolve().unwrap();
    let secs = std::time::Duration::from_secs;
    assert_eq!(cfg.query, QueryLimits { timeout: secs(30), max_samples: 1000, lookback_delta: secs(90) });
    assert_eq!(ServeArgs::default().resolve().unwrap().query, QueryLimits { timeout: secs(120), max_samples: 50_000_000, lookback_delta: secs(300) });
    let e = ServeArgs { query_timeout: Some("2 minutes".into()), ..Default::default() }.resolve().unwrap_err().to_string();
    assert_eq!(e, "query timeout: not a valid duration string: \"2 minutes\"");
}

#[test]
fn query_cache_settings_from_flags_file_and_defaults() {
    let defaults = ServeArgs::default().resolve().unwrap().query_cache;
    assert_eq!(defaults, QueryCache { max_bytes: 268_435_456, offset: std::time::Duration::from_secs(300) });
    let (_dir, config) = config_file("[query]\ncache_max_bytes = 0\ncache_offset = \"1m\"\n");
    let cfg = ServeArgs { config, query_cache_offset: Some("30s".into()), ..Default::default() }.resolve().unwrap();
    assert_eq!(cfg.query_cache, QueryCache { max_bytes: 0, offset: std::time::Duration::from_secs(30) });
    let e = ServeArgs { query_cache_offset: Some("5 min".into()), ..Default::default() }.resolve().unwrap_err().to_string();
    assert_eq!(e, "query cache offset: not a valid duration string: \"5 min\"");
}

#[test]
fn downsample_delay_from_flag_file_and_default() {
    assert_eq!(ServeArgs::default().resolve().unwrap().downsample_delay, std::time::Duration::from_secs(3600));
    let (_dir, config) = config_file("[downsample]\ndelay = \"2h\"\n");
    assert_eq!(ServeArgs { config: config.clone(), ..Default::default() }.resolve().unwrap().downsample_delay, std::time::Duration::from_secs(7200));
    let cfg = ServeArgs { config, downsample_delay: Some("90m".into()), ..Default::default() }.resolve().unwrap();
    assert_eq!(cfg.downsample_delay, std::time::Duration::from_secs(5400));
    let e = ServeArgs { downsample_delay: Some("an hour".into()), ..Default::default() }.resolve().unwrap_err().to_string();
    assert_eq!(e, "downsample delay: not a valid duration string: \"an hour\"");
}

#[test]
fn admin_api_query_log_and_out_of_order_window_from_flags_and_file() {
    let cfg = ServeArgs::default().resolve().unwrap();
    assert_eq!((cfg.admin_api, cfg.query_log.clone(), cfg.out_of_order_window), (false, QueryLog::default(), std::time::Duration::ZERO));
    let (_dir, config) = config_file("[web]\nenable_admin_api = true\n[query]\nlog_file = \"/tmp/q.log\"\nslow_threshold = \"2s\"\n[storage]\nout_of_order_window = \"30m\"\n");
    let cfg = ServeArgs { config: config.clone(), ..Default::default() }.resolve().unwrap();
    assert!(cfg.admin_api);
    assert_eq!(cfg.query_log, QueryLog { file: Some("/tmp/q.log".into()), slow_threshold: Some(std::time::Duration::from_secs(2)) });
    assert_eq!(cfg.out_of_order_window, std::time::Duration::from_secs(1800));
    let cfg = ServeArgs { config, web_enable_admin_api: Some(false), storage_out_of_order_window: Some("1h".into()), ..Default::default() }.resolve().unwrap();
    assert_eq!((cfg.admin_api, cfg.out_of_order_window), (false, std::time::Duration::from_secs(3600)));
    let e = ServeArgs { storage_out_of_order_window: Some("soon".into()), ..Default::default() }.resolve().unwrap_err().to_string();
    assert_eq!(e, "out-of-order window: not a valid duration string: \"soon\"");
    let e = ServeArgs { query_slow_threshold: Some("slow".into()), ..Default::default() }.resolve().unwrap_err().to_string();
    assert_eq!(e, "query slow threshold: not a valid duration string: \"slow\"");
}

#[test]
fn retention_per_tier_from_flags_and_file() {
    const DAY: i64 = 86_400_000_000_000;
    let (_dir, config) = config_file("retention_raw = \"30d\"\nretention_5m = \"1y\"\nretention_1h = \"inf\"\n");
    let cfg = ServeArgs { config: config.clone(), ..Default::default() }.resolve().unwrap();
    assert_eq!((cfg.retention, cfg.tier_retention), (Some(30 * DAY), [Some(365 * DAY), Some(0)]));
    let cfg = ServeArgs { config, retention_5m: Some("400d".into()), ..Default::default() }.resolve().unwrap();
    assert_eq!(cfg.tier_retention, [Some(400 * DAY), Some(0)], "a flag over the file");
    assert_eq!(ServeArgs::default().resolve().unwrap().tier_retention, [None, None]);
    let e = ServeArgs { retention_1h: Some("a year".into()), ..Default::default() }.resolve().unwrap_err().to_string();
    assert_eq!(e, "retention.1h: invalid duration \"a year\": expected a number and ms, s, m, h, d, w or y (like 30d), or inf");
}

#[test]
fn unknown_key_is_named() {
    let (_dir, config) = config_file("http_adr = \"x\"\n");
    let err = ServeArgs { config, ..Default::default() }.resolve().unwrap_err().to_string();
    assert!(err.contains("http_adr"), "{err}");
}

#[test]
fn series_limits_from_flags_and_file() {
    use crate::storage::series_limits::SeriesLimits;
    assert_eq!(ServeArgs::default().resolve().unwrap().series_limits, SeriesLimits::default(), "no limit by default");
    let (_dir, config) = config_file("[storage]\nmax_hourly_series = 1000\nmax_daily_series = 5000\nmax_series_per_database = 90000\n");
    let cfg = ServeArgs { config: config.clone(), ..Default::default() }.resolve().unwrap();
    assert_eq!(cfg.series_limits, SeriesLimits { hourly: 1000, daily: 5000, per_database: 90000 });
    let cfg = ServeArgs { config, storage_max_hourly_series: Some(10), ..Default::default() }.resolve().unwrap();
    assert_eq!(cfg.series_limits, SeriesLimits { hourly: 10, daily: 5000, per_database: 90000 }, "a flag wins over the file");
}
