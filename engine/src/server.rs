//! Start-up wiring: opens storage, creates the configured databases and users, picks the
//! data interface (this node's storage, or the cluster coordinator over every node's),
//! starts the background loops (retention, catalog exchange, probes, hinted handoff) and
//! serves HTTP until SIGTERM/SIGINT. The only module that names both implementations.

use crate::clock::now_ns;
use crate::{cluster, config, data, exec, http, metrics, model, storage, tls};
use std::sync::Arc;

/// Why the server could not start, or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Storage(#[from] crate::data::StoreError),
    #[error(transparent)]
    Tls(#[from] tls::Error),
    #[error(transparent)]
    Cluster(#[from] cluster::ConfigError),
    #[error("retention of database {db}, policy {rp}: {source}")]
    Retention { db: String, rp: String, source: crate::data::StoreError },
    #[error("query log file {path}: {source}")]
    QueryLog { path: String, source: std::io::Error },
    #[error("HTTP server on {addr}: {source}")]
    Http { addr: String, source: std::io::Error },
}

/// How often every node of a cluster exchanges catalogs with every other.
const CATALOG_EXCHANGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3);

/// Opens storage, creates the configured databases, serves HTTP until SIGTERM/SIGINT, then
/// stores every open chunk and returns.
pub async fn run(cfg: config::Config) -> Result<(), StartError> {
    let metrics = Arc::new(metrics::Metrics::default());
    let storage = Arc::new(storage::Storage::open(
        storage::StorageOptions { data_dir: cfg.data_dir.clone(), shards: cfg.shards, sync_writes: cfg.sync_writes },
        metrics.clone(),
    )?);
    for db in &cfg.databases {
        storage.create_database(db, None)?;
        if cfg.retention.is_some() || cfg.tier_retention != [None; 2] {
            // The configuration is the source of truth (the operator writes it); the shard
            // duration follows the duration, as InfluxDB picks it.
            let keep = model::PolicyOptions {
                duration: cfg.retention,
                shard_duration: cfg.retention.map(|_| 0),
                tier_durations: cfg.tier_retention,
                ..Default::default()
            };
            let rp = storage.database(db)?.default_policy;
            storage.alter_policy(db, &rp, &keep).map_err(|source| StartError::Retention { db: db.clone(), rp: rp.clone(), source })?;
        }
    }
    storage.set_downsample_delay(cfg.downsample_delay);
    storage.set_out_of_order_window(cfg.out_of_order_window);
    storage.set_series_limits(cfg.series_limits);
    actix_web::rt::spawn(enforce_retention(storage.clone(), cfg.retention_check_interval));
    if let Some((name, password)) = &cfg.admin {
        if storage.users().is_empty() {
            let admin = crate::data::users::UserStore::new_user(name, password, true)?;
            storage.change_user(name, |users| {
                users.insert(name.clone(), admin);
                Ok(())
            })?;
            tracing::info!(user = %name, "created the admin user");
        }
    }
    // The data interface: this node's store, or the coordinator over it and the peers'; the
    // catalog handle is this node's storage either way.
    let local: Arc<dyn data::SeriesStore> = Arc::new(storage::series_store::LocalStore(storage.clone()));
    let catalog: Arc<dyn data::Catalog> = storage.clone();
    let (store, coordinator) = match cfg.cluster.clone() {
        Some(c) => {
            let cluster = Arc::new(cluster::Cluster::new(c)?);
            if let Some((cert, _)) = &cfg.tls {
                tls::use_for_cluster(cert)?;
            }
            cluster::catalog_sync::record_local(&storage, &cluster.self_name, false)?;
            actix_web::rt::spawn(reload_peers(cluster.clone()));
            let transport = Box::new(cluster::transport::HttpTransport { secret: cluster.secret().to_string() });
            let coordinator = Arc::new(cluster::coordinator::Coordinator::new(cluster, storage.clone(), transport, exec::delete::replay_deletion)?);
            actix_web::rt::spawn(coordinator.clone().keep_in_step(CATALOG_EXCHANGE_EVERY));
            actix_web::rt::spawn(coordinator.clone().probe_down_peers());
            actix_web::rt::spawn(coordinator.clone().deliver_hints());
            (coordinator.clone() as Arc<dyn data::SeriesStore>, Some(coordinator))
        }
        None => (local.clone(), None),
    };
    let data = Arc::new(data::Data::new(store, catalog));
    let node = coordinator.as_ref().map(|c| c.node().clone());
    let query_cache = query_cache(&cfg, &storage);
    let log_file = cfg.query_log.file.as_deref();
    let query_log = http::query_log::QueryLog::open(log_file, cfg.query_log.slow_threshold)
        .map_err(|source| StartError::QueryLog { path: log_file.map(|p| p.display().to_string()).unwrap_or_default(), source })?;
    let state = http::AppState { data, coordinator, node, metrics, max_body_bytes: cfg.max_body_bytes, auth: cfg.auth, query: cfg.query, query_cache, admin_api: cfg.admin_api, query_log: Arc::new(query_log), info: Arc::new(http::ServerInfo::at_start(&cfg)) };
    let tls = match &cfg.tls {
        Some((cert, key)) => Some(tls::server_config(cert, key)?),
        None => None,
    };
    http::serve(state, &cfg.http_addr, cfg.http_workers, tls)
        .await
        .map_err(|source| StartError::Http { addr: cfg.http_addr.to_string(), source })?;
    tracing::info!("stopping: storing open chunks");
    storage.shutdown().await?;
    tracing::info!("stopped");
    Ok(())
}

/// The range-query cache, valid while this node's storage reports no change of the past
/// (`data::generation`); none when `--query.cache-max-bytes` is 0, and none in a cluster,
/// where the other nodes' changes would not be seen here.
fn query_cache(cfg: &config::Config, storage: &storage::Storage) -> Option<Arc<http::query_cache::QueryCache>> {
    let offset_ms = cfg.query_cache.offset.as_millis() as i64;
    let generations = storage.generations();
    generations.set_offset(offset_ms);
    if cfg.cluster.is_some() && cfg.query_cache.max_bytes > 0 {
        tracing::info!("the range-query cache is off: this node is one of a cluster");
    }
    (cfg.query_cache.max_bytes > 0 && cfg.cluster.is_none()).then(|| Arc::new(http::query_cache::QueryCache::new(cfg.query_cache.max_bytes, offset_ms, generations)))
}

/// Re-reads the cluster's peer file every 2 s (it changes when the operator scales).
async fn reload_peers(cluster: Arc<cluster::Cluster>) {
    let mut tick = actix_web::rt::time::interval(std::time::Duration::from_secs(2));
    loop {
        tick.tick().await;
        if let Err(e) = cluster.reload_peers() {
            tracing::error!(error = %e, "cluster peer file");
        }
    }
}

/// Drops expired data every `interval`, for as long as the server runs.
async fn enforce_retention(storage: Arc<storage::Storage>, interval: std::time::Duration) {
    let mut tick = actix_web::rt::time::interval(interval);
    loop {
        tick.tick().await;
        match storage.enforce_retention(now_ns() / 1_000_000).await {
            Ok(e) if e.partitions + e.series > 0 => tracing::info!(partitions = e.partitions, series = e.series, "retention dropped expired data"),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "retention check failed"),
        }
    }
}
