//! The cluster: which peers exist (a fixed list or a file re-read when it changes), which of
//! them are reachable, and the internal requests between them. Placement is in
//! `placement.rs`; what a write or read does with it is in `http/cluster.rs`. There is no
//! consensus: every node computes the same owners from the same peer list, and Kubernetes
//! gives the pods stable names.

pub mod placement;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

/// The header that carries the cluster secret on internal requests.
pub const SECRET_HEADER: &str = "X-Gemini-Cluster-Secret";
/// How long a peer that failed a request is skipped before it is tried again.
const DOWN_FOR: Duration = Duration::from_secs(5);

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

/// The peer list (this node included) with the names' hashes, as placement wants them.
#[derive(Debug)]
pub struct Peers {
    pub names: Vec<String>,
    pub hashes: Vec<u64>,
}

impl Peers {
    fn new(mut names: Vec<String>, self_name: &str) -> Peers {
        names.retain(|n| !n.trim().is_empty());
        for n in names.iter_mut() {
            *n = n.trim().to_string();
        }
        if !names.iter().any(|n| n == self_name) {
            names.push(self_name.to_string());
        }
        names.sort();
        names.dedup();
        let hashes = names.iter().map(|n| placement::peer_hash(n)).collect();
        Peers { names, hashes }
    }
}

/// Per peer: what was forwarded to it and what failed.
#[derive(Default, Debug, Clone, Copy)]
pub struct PeerStats {
    pub forwarded_samples: u64,
    pub forward_errors: u64,
    /// Copies that went to the next node in hash order because this one was down.
    pub failovers: u64,
}

pub struct Cluster {
    pub self_name: String,
    pub replication_factor: usize,
    secret: String,
    peers_file: Option<PathBuf>,
    peers: RwLock<Arc<Peers>>,
    file_seen: Mutex<Option<SystemTime>>,
    down_until: Mutex<BTreeMap<String, Instant>>,
    stats: Mutex<BTreeMap<String, PeerStats>>,
}

impl Cluster {
    pub fn new(cfg: ClusterConfig) -> Result<Cluster, String> {
        if cfg.secret.is_empty() {
            return Err("a cluster needs a secret (GEMINI_CLUSTER_SECRET) for the requests between its nodes".into());
        }
        if cfg.replication_factor == 0 {
            return Err("cluster.replication-factor must be at least 1".into());
        }
        let c = Cluster {
            peers: RwLock::new(Arc::new(Peers::new(cfg.peers, &cfg.self_name))),
            self_name: cfg.self_name,
            replication_factor: cfg.replication_factor,
            secret: cfg.secret,
            peers_file: cfg.peers_file,
            file_seen: Mutex::new(None),
            down_until: Mutex::new(BTreeMap::new()),
            stats: Mutex::new(BTreeMap::new()),
        };
        c.reload_peers()?;
        Ok(c)
    }

    /// Re-reads the peer file when its modification time changed.
    pub fn reload_peers(&self) -> Result<(), String> {
        let Some(path) = &self.peers_file else { return Ok(()) };
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).map_err(|e| format!("peer file {}: {e}", path.display()))?;
        let mut seen = self.file_seen.lock().unwrap();
        if *seen == Some(modified) {
            return Ok(());
        }
        let text = std::fs::read_to_string(path).map_err(|e| format!("peer file {}: {e}", path.display()))?;
        let names: Vec<String> = text.lines().map(|l| l.split('#').next().unwrap_or("").to_string()).collect();
        let peers = Peers::new(names, &self.self_name);
        tracing::info!(peers = ?peers.names, "cluster peers");
        *self.peers.write().unwrap() = Arc::new(peers);
        *seen = Some(modified);
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
        self.down_until.lock().unwrap().get(peer).is_some_and(|until| Instant::now() < *until)
    }

    pub fn mark_down(&self, peer: &str) {
        self.down_until.lock().unwrap().insert(peer.to_string(), Instant::now() + DOWN_FOR);
        self.stats.lock().unwrap().entry(peer.to_string()).or_default().forward_errors += 1;
    }

    pub fn mark_up(&self, peer: &str) {
        self.down_until.lock().unwrap().remove(peer);
    }

    pub fn count(&self, peer: &str, change: impl FnOnce(&mut PeerStats)) {
        change(self.stats.lock().unwrap().entry(peer.to_string()).or_default());
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
        let c = Cluster::new(config(&["c:8086", " a:8086", "c:8086", ""])).unwrap();
        assert_eq!(c.peers().names, vec!["a:8086", "b:8086", "c:8086"]);
        assert!(c.admits(Some(b"s3cret")) && !c.admits(Some(b"s3creT")) && !c.admits(None));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("peers");
        std::fs::write(&file, "a:8086\nb:8086 # me\n").unwrap();
        let c = Cluster::new(ClusterConfig { peers_file: Some(file.clone()), ..config(&[]) }).unwrap();
        assert_eq!(c.peers().names, vec!["a:8086", "b:8086"]);
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&file, "a:8086\nb:8086\nd:8086\n").unwrap();
        c.reload_peers().unwrap();
        assert_eq!(c.peers().names, vec!["a:8086", "b:8086", "d:8086"]);
        assert_eq!(Cluster::new(ClusterConfig { secret: String::new(), ..config(&[]) }).err().unwrap(), "a cluster needs a secret (GEMINI_CLUSTER_SECRET) for the requests between its nodes");
    }
}
