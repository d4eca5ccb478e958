//! The cluster: which peers exist (a fixed list or a file re-read when it changes) and which
//! of them are reachable, and how long a request to one may take (`ask`). Placement is in
//! `placement.rs`; what a write or read does with it in `coordinator.rs` (a read's answers are
//! merged as they stream in by `merge.rs`), which reaches the other nodes through
//! `transport.rs`; they answer through `node.rs`, the node side of that protocol. The catalog
//! is kept the same everywhere by `catalog_sync.rs`. There is no consensus: every node
//! computes the same owners from the same peer list, and Kubernetes gives the pods stable
//! names.

pub mod catalog_sync;
pub mod coordinator;
pub mod handoff;
pub mod merge;
pub mod node;
pub mod placement;
#[cfg(test)]
mod test_nodes;
pub mod tier_read;
pub mod transport;

use futures_util::future::{select, Either};
use std::collections::BTreeMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};
use transport::PeerError;

/// The header that carries the cluster secret on internal requests.
pub const SECRET_HEADER: &str = "X-Gemini-Cluster-Secret";
/// The header of a read answered without some nodes (down or too slow), naming them
/// (`X-Gemini-Skipped-Nodes`).
pub const SKIPPED_HEADER: &str = "x-gemini-skipped-nodes";
/// Longest wait for a peer's answer to a write: a peer that takes longer is marked down and
/// its copies go to the next node, so that two slow peers in a row still fit in Prometheus'
/// 30 s remote write timeout.
pub const WRITE_BUDGET: Duration = Duration::from_secs(3);
/// Longest wait for a peer's answer to a read, a series listing or a catalog exchange.
pub const READ_BUDGET: Duration = Duration::from_secs(10);
/// How often a peer marked down is probed (`/ping`), and how long a probe waits.
pub const PROBE_EVERY: Duration = Duration::from_secs(1);
pub const PROBE_BUDGET: Duration = Duration::from_secs(1);

#[derive(Clone, Debug, PartialEq)]
pub struct ClusterConfig {
    /// This node's name in the peer list (`host:port`, how the others reach it).
    pub self_name: String,
    pub peers: Vec<String>,
    /// A file with one peer per line, re-read when it changes; wins over `peers`.
    pub peers_file: Option<PathBuf>,
    pub replication_factor: usize,
    pub secret: String,
}

/// Why a cluster cannot be set up, or its peer file not taken.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("a cluster needs a secret (GEMINI_CLUSTER_SECRET) for the requests between its nodes")]
    NoSecret,
    #[error("cluster.replication-factor must be at least 1")]
    NoReplication,
    /// The list must name this node, spelled as `--cluster.self` is.
    #[error("the peer list {names:?} does not name this node, {self_name:?} (--cluster.self)")]
    SelfMissing { names: Vec<String>, self_name: String },
    #[error("peer file {}: {source}", path.display())]
    PeerFile { path: PathBuf, source: std::io::Error },
    /// A peer file whose list is refused; the list stays as it was.
    #[error("peer file {}: {source}; keeping the list as it was", path.display())]
    Refused { path: PathBuf, source: Box<ConfigError> },
}

/// The peer list (this node included) with the names' hashes, as placement wants them.
#[derive(Debug)]
pub struct Peers {
    pub names: Vec<String>,
    pub hashes: Vec<u64>,
}

impl Peers {
    /// The list must name this node, spelled as `--cluster.self` is: a node listed under two
    /// names would take two copies of a series.
    fn new(names: Vec<String>, self_name: &str) -> Result<Peers, ConfigError> {
        let mut names: Vec<String> = names.iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
        if !names.iter().any(|n| n == self_name) {
            return Err(ConfigError::SelfMissing { names, self_name: self_name.to_string() });
        }
        names.sort();
        names.dedup();
        let hashes = names.iter().map(|n| placement::peer_hash(n)).collect();
        Ok(Peers { names, hashes })
    }
}

/// How the last request from this node to a peer ended: it answered with a 2xx, or it failed
/// (no connection, a timeout, another status) with this error. Every internal request records
/// it, and the catalog exchange makes one to every peer every 3 s, so it is that fresh (or
/// the request is still waiting for an answer, at most 10 s); a peer that no request to has
/// ended yet has none.
#[derive(Clone, Debug, PartialEq)]
pub enum Contact {
    Answered,
    Failed(String),
}

/// Per peer: what was forwarded to it and what failed.
#[derive(Default, Debug, Clone, Copy)]
pub struct PeerStats {
    pub forwarded_samples: u64,
    pub forward_errors: u64,
    /// Copies that went to the next node in hash order because this one was down.
    pub failovers: u64,
    /// Probes sent while it was marked down.
    pub probes: u64,
    /// Reads answered without it (it was down or did not answer in time).
    pub read_skips: u64,
    /// Samples this node held for it while it was down and delivered once it was back.
    pub handed_off_samples: u64,
}

pub struct Cluster {
    pub self_name: String,
    pub replication_factor: usize,
    secret: String,
    peers_file: Option<PathBuf>,
    peers: RwLock<Arc<Peers>>,
    /// The peer file's text as last read.
    file_seen: Mutex<Option<String>>,
    /// Peers marked down, since when: requests pass them over until a probe or a request
    /// they answer brings them back.
    down: Mutex<BTreeMap<String, Instant>>,
    /// Bumped whenever a peer is marked down, so requests still waiting on it give up.
    went_down: tokio::sync::watch::Sender<u64>,
    /// Per peer: how the last request to it ended (see `Contact`).
    contacts: Mutex<BTreeMap<String, Contact>>,
    stats: Mutex<BTreeMap<String, PeerStats>>,
    /// Set once every peer has exchanged catalogs with this node.
    catalog_synced: AtomicBool,
}

impl Cluster {
    pub fn new(cfg: ClusterConfig) -> Result<Cluster, ConfigError> {
        if cfg.secret.is_empty() {
            return Err(ConfigError::NoSecret);
        }
        if cfg.replication_factor == 0 {
            return Err(ConfigError::NoReplication);
        }
        let listed = if cfg.peers_file.is_some() { vec![cfg.self_name.clone()] } else { cfg.peers };
        let c = Cluster {
            peers: RwLock::new(Arc::new(Peers::new(listed, &cfg.self_name)?)),
            self_name: cfg.self_name,
            replication_factor: cfg.replication_factor,
            secret: cfg.secret,
            peers_file: cfg.peers_file,
            file_seen: Mutex::new(None),
            down: Mutex::new(BTreeMap::new()),
            went_down: tokio::sync::watch::Sender::new(0),
            contacts: Mutex::new(BTreeMap::new()),
            stats: Mutex::new(BTreeMap::new()),
            catalog_synced: AtomicBool::new(false),
        };
        c.reload_peers()?;
        Ok(c)
    }

    /// Re-reads the peer file; a new list takes effect when it names this node (a file caught
    /// half-written, or empty, leaves the list as it was).
    pub fn reload_peers(&self) -> Result<(), ConfigError> {
        let Some(path) = &self.peers_file else { return Ok(()) };
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::PeerFile { path: path.clone(), source })?;
        let mut seen = self.file_seen.lock().unwrap();
        if seen.as_deref() == Some(text.as_str()) {
            return Ok(());
        }
        let names: Vec<String> = text.lines().map(|l| l.split('#').next().unwrap_or("").to_string()).collect();
        let peers = Peers::new(names, &self.self_name).map_err(|e| ConfigError::Refused { path: path.clone(), source: Box::new(e) })?;
        tracing::info!(peers = ?peers.names, "cluster peers");
        *self.peers.write().unwrap() = Arc::new(peers);
        *seen = Some(text);
        Ok(())
    }

    pub fn peers(&self) -> Arc<Peers> {
        self.peers.read().unwrap().clone()
    }

    /// Whether a request carries the cluster secret (compared in constant time).
    pub fn admits(&self, given: Option<&[u8]>) -> bool {
        let Some(given) = given else { return false };
        let want = self.secret.as_bytes();
        given.len() == want.len() && given.iter().zip(want).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn is_down(&self, peer: &str) -> bool {
        self.down.lock().unwrap().contains_key(peer)
    }

    /// The peers marked down now.
    pub fn down_peers(&self) -> Vec<String> {
        self.down.lock().unwrap().keys().cloned().collect()
    }

    /// Marks `peer` down after a request to it failed; requests still waiting on it give up.
    pub fn mark_down(&self, peer: &str) {
        let newly = self.down.lock().unwrap().insert(peer.to_string(), Instant::now()).is_none();
        self.stats.lock().unwrap().entry(peer.to_string()).or_default().forward_errors += 1;
        if newly {
            tracing::warn!(%peer, "peer marked down: requests pass it over until it answers a probe");
            self.went_down.send_modify(|n| *n += 1);
        }
    }

    /// Brings `peer` back after it answered.
    pub fn mark_up(&self, peer: &str) {
        if let Some(since) = self.down.lock().unwrap().remove(peer) {
            tracing::info!(%peer, down_for = ?since.elapsed(), "peer back");
        }
    }

    /// Resolves once `peer` is marked down (from now on).
    pub async fn until_down(&self, peer: &str) {
        let mut changes = self.went_down.subscribe();
        while changes.changed().await.is_ok() {
            if self.is_down(peer) {
                return;
            }
        }
        std::future::pending::<()>().await
    }

    /// Runs one request to `peer` for at most `budget`, recording how it ended (`/health`
    /// shows it). A peer that is up when asked and is marked down by another request meanwhile
    /// fails this one at once.
    pub async fn ask<T>(&self, peer: &str, budget: Duration, request: impl Future<Output = Result<T, PeerError>>) -> Result<T, PeerError> {
        let was_down = self.is_down(peer);
        let gone = async {
            if was_down {
                std::future::pending::<()>().await;
            }
            self.until_down(peer).await
        };
        let (request, late, gone) = (std::pin::pin!(request), std::pin::pin!(actix_web::rt::time::sleep(budget)), std::pin::pin!(gone));
        let result = match select(request, select(late, gone)).await {
            Either::Left((answer, _)) => answer,
            Either::Right((Either::Left(_), _)) => Err(PeerError::Timeout(budget)),
            Either::Right((Either::Right(_), _)) => Err(PeerError::MarkedDown),
        };
        self.record_contact(peer, match &result {
            Ok(_) => Contact::Answered,
            Err(e) => Contact::Failed(e.to_string()),
        });
        result
    }

    /// Records how a request to `peer` ended.
    pub fn record_contact(&self, peer: &str, outcome: Contact) {
        self.contacts.lock().unwrap().insert(peer.to_string(), outcome);
    }

    /// How the last request to `peer` ended; `None` before the first one ended.
    pub fn last_contact(&self, peer: &str) -> Option<Contact> {
        self.contacts.lock().unwrap().get(peer).cloned()
    }

    pub fn count(&self, peer: &str, change: impl FnOnce(&mut PeerStats)) {
        change(self.stats.lock().unwrap().entry(peer.to_string()).or_default());
    }

    /// Whether this node has exchanged catalogs with every peer since it started: until then
    /// it may lack users or databases the others have.
    pub fn catalog_synced(&self) -> bool {
        self.catalog_synced.load(Relaxed)
    }

    pub fn set_catalog_synced(&self) {
        self.catalog_synced.store(true, Relaxed);
    }

    pub fn stats(&self) -> BTreeMap<String, PeerStats> {
        self.stats.lock().unwrap().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(peers: &[&str]) -> ClusterConfig {
        ClusterConfig {
            self_name: "b:8086".into(),
            peers: peers.iter().map(|s| s.to_string()).collect(),
            peers_file: None,
            replication_factor: 2,
            secret: "s3cret".into(),
        }
    }

    #[test]
    fn peers_include_self_sorted_once_and_the_file_is_reread() {
        let c = Cluster::new(config(&["c:8086", " a:8086", "c:8086", "", "b:8086"])).unwrap();
        assert_eq!(c.peers().names, vec!["a:8086", "b:8086", "c:8086"]);
        let missing = Cluster::new(config(&["a:8086", "c:8086"])).err().unwrap().to_string();
        assert!(missing.contains("does not name this node, \"b:8086\""), "{missing}");
        assert!(c.admits(Some(b"s3cret")) && !c.admits(Some(b"s3creT")) && !c.admits(None));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("peers");
        std::fs::write(&file, "a:8086\nb:8086 # me\n").unwrap();
        let c = Cluster::new(ClusterConfig { peers_file: Some(file.clone()), ..config(&[]) }).unwrap();
        assert_eq!(c.peers().names, vec!["a:8086", "b:8086"]);
        std::fs::write(&file, "a:8086\nb:8086\nd:8086\n").unwrap();
        c.reload_peers().unwrap();
        assert_eq!(c.peers().names, vec!["a:8086", "b:8086", "d:8086"]);
        // Caught half-written: the list stays.
        std::fs::write(&file, "").unwrap();
        assert!(c.reload_peers().is_err());
        assert_eq!(c.peers().names, vec!["a:8086", "b:8086", "d:8086"]);
        assert_eq!(Cluster::new(ClusterConfig { secret: String::new(), ..config(&[]) }).err().unwrap().to_string(), "a cluster needs a secret (GEMINI_CLUSTER_SECRET) for the requests between its nodes");
    }
}
