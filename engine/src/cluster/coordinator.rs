//! The cluster side of the data interface. A write is split by owner (see `placement`): this
//! node's part goes to its storage, the rest to the owners through the transport; an owner
//! that does not answer is marked down and its copy goes to the next node in hash order, and
//! the write succeeds only when every series has its replication-factor copies. Retries are
//! harmless: a sample stored again is a duplicate, not a second sample. A read asks every node
//! for its own samples and merges them by series, one sample per timestamp; with as many nodes
//! unreachable as there are copies it fails naming them, never a silent partial answer.
//! Catalog changes and deletions are recorded and exchanged as `catalog_sync` describes.

use super::catalog_sync::{self, Deletion, Entries};
use super::transport::{PeerError, PeerSeries, Transport};
use super::{placement, Cluster, Contact};
use crate::data::{Error, FieldPairs, Selection, SeriesStream};
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use crate::storage::shard::{SeriesWrite, WriteOutcome};
use crate::storage::{Policies, Storage};
use futures_util::future::{join_all, LocalBoxFuture};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;

/// Runs a deletion another node ran on this node's storage (the InfluxQL executor's
/// `replay_deletion`).
pub type Replay = for<'a> fn(&'a Storage, Deletion) -> LocalBoxFuture<'a, Result<(), String>>;

pub struct Coordinator {
    pub cluster: Arc<Cluster>,
    storage: Arc<Storage>,
    transport: Box<dyn Transport>,
    replay: Replay,
}

/// Per series in a write: the nodes in its order, each node's state for it (0: not asked,
/// 1: passed over while marked down, 2: sent a copy), and the copies still missing.
struct Placement {
    ranked: Vec<usize>,
    state: Vec<u8>,
    missing: usize,
}

impl Coordinator {
    pub fn new(cluster: Arc<Cluster>, storage: Arc<Storage>, transport: Box<dyn Transport>, replay: Replay) -> Coordinator {
        Coordinator { cluster, storage, transport, replay }
    }

    pub fn storage(&self) -> &Arc<Storage> {
        &self.storage
    }

    /// Runs one request to `peer`, recording how it ended (`/health` shows it).
    async fn ask<T>(&self, peer: &str, request: impl Future<Output = Result<T, PeerError>>) -> Result<T, PeerError> {
        let result = request.await;
        self.cluster.record_contact(peer, match &result {
            Ok(_) => Contact::Answered,
            Err(e) => Contact::Failed(e.0.clone()),
        });
        result
    }

    /// The first node in the series' order not sent a copy yet, passing over those marked down;
    /// when only those are left, they are tried anyway (they may be back).
    fn pick(&self, p: &mut Placement, names: &[String], me: usize) -> Option<usize> {
        for &n in &p.ranked {
            if p.state[n] == 2 {
                continue;
            }
            if n == me || !self.cluster.is_down(&names[n]) {
                return Some(n);
            }
            if p.state[n] == 0 {
                self.cluster.count(&names[n], |s| s.failovers += 1);
                p.state[n] = 1;
            }
        }
        p.ranked.iter().copied().find(|n| p.state[*n] < 2)
    }

    /// Writes every series to its replication-factor owners; see the module doc.
    pub async fn write(&self, db: &str, rp: Option<&str>, series: Vec<SeriesWrite>, fields: &FieldPairs) -> Result<WriteOutcome, Error> {
        let peers = self.cluster.peers();
        let copies = self.cluster.replication_factor.min(peers.names.len());
        let me = peers.names.iter().position(|p| *p == self.cluster.self_name).expect("self is a peer");
        let mut wants: Vec<Placement> = series
            .iter()
            .map(|s| Placement { ranked: placement::ranked(s.hash, &peers.hashes), state: vec![0; peers.names.len()], missing: copies })
            .collect();
        let mut total = WriteOutcome::default();
        loop {
            let mut batches: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
            for (i, p) in wants.iter_mut().enumerate() {
                for _ in 0..p.missing {
                    let Some(node) = self.pick(p, &peers.names, me) else {
                        let down = peers.names.iter().filter(|n| self.cluster.is_down(n)).cloned().collect();
                        return Err(Error::TooFewCopies { copies, down });
                    };
                    p.state[node] = 2;
                    batches.entry(node).or_default().push(i);
                }
            }
            if batches.is_empty() {
                break;
            }
            let (series, names) = (&series, &peers.names);
            let sends = batches.into_iter().map(|(node, idx)| async move {
                let part: Vec<SeriesWrite> = idx.iter().map(|i| series[*i].clone()).collect();
                let result = match node == me {
                    true => Ok(self.storage.write(db, rp, part).await),
                    false => {
                        let peer = &names[node];
                        let sent = self.ask(peer, self.transport.write(peer, db, rp, &part, fields)).await;
                        if sent.is_ok() {
                            let samples: usize = part.iter().map(|s| s.samples.len()).sum();
                            self.cluster.count(peer, |s| s.forwarded_samples += samples as u64);
                        }
                        sent.map(Ok)
                    }
                };
                (node, idx, result)
            });
            for (node, idx, result) in join_all(sends).await {
                match result {
                    Ok(stored) => {
                        total.merge(stored?);
                        for i in idx {
                            wants[i].missing -= 1;
                        }
                        if node != me {
                            self.cluster.mark_up(&peers.names[node]);
                        }
                    }
                    Err(PeerError(e)) => {
                        tracing::warn!(peer = %peers.names[node], error = %e, "peer unreachable: its copies go to the next node");
                        self.cluster.mark_down(&peers.names[node]);
                    }
                }
            }
        }
        // Every series was stored `copies` times: count it once; a sample refused by any copy is
        // refused.
        let once = |n: u64| n / copies as u64;
        let rejected = if total.rejected > 0 { once(total.rejected).max(1) } else { 0 };
        Ok(WriteOutcome { accepted: once(total.accepted), duplicates: once(total.duplicates), new_series: once(total.new_series), rejected, rejections: total.rejections })
    }

    /// The answers of the other nodes; a node that did not answer is marked down, and when as
    /// many nodes as there are copies did not, the error names them.
    fn tally<T>(&self, answers: Vec<(&String, Result<T, PeerError>)>, what: &str) -> Result<Vec<T>, Error> {
        let mut missing = Vec::new();
        let mut out = Vec::new();
        for (peer, answer) in answers {
            match answer {
                Ok(a) => out.push(a),
                Err(PeerError(e)) => {
                    tracing::warn!(%peer, error = %e, what, "peer unreachable");
                    self.cluster.mark_down(peer);
                    missing.push(peer.clone());
                }
            }
        }
        if missing.len() >= self.cluster.replication_factor {
            return Err(Error::PeersUnreachable { peers: missing, replication_factor: self.cluster.replication_factor });
        }
        Ok(out)
    }

    fn others(&self) -> Vec<String> {
        self.cluster.peers().names.iter().filter(|p| **p != self.cluster.self_name).cloned().collect()
    }

    /// Every node's samples of the series matching `selection`, merged: labels order, one
    /// sample per timestamp.
    pub async fn read(&self, db: &str, which: Policies<'_>, selection: Selection) -> Result<Vec<PeerSeries>, Error> {
        let mut merged: BTreeMap<Labels, BTreeMap<i64, f64>> = BTreeMap::new();
        let mut add = |labels: Labels, samples: Vec<(i64, f64)>| {
            if !samples.is_empty() {
                let into = merged.entry(labels).or_default();
                for (t, v) in samples {
                    into.entry(t).or_insert(v);
                }
            }
        };
        let mut local = SeriesStream::local(self.storage.clone(), db, which, selection.clone()).await?;
        while let Some((labels, samples)) = local.next_series().await? {
            add(labels, samples);
        }
        let others = self.others();
        let selection = &selection;
        let asks = others.iter().map(|p| async move { (p, self.ask(p, self.transport.read(p, db, which, selection)).await) });
        for answer in self.tally(join_all(asks).await, "read")? {
            for (labels, samples) in answer {
                add(labels, samples);
            }
        }
        Ok(merged.into_iter().map(|(labels, samples)| (labels, samples.into_iter().collect())).collect())
    }

    /// The label sets of the series matching every matcher on any node, sorted and unique.
    pub async fn series(&self, db: &str, which: Policies<'_>, matchers: Vec<Matcher>) -> Result<Vec<Labels>, Error> {
        let local = self.storage.select(db, which, matchers.clone()).await?;
        let mut all: BTreeSet<Labels> = local.into_iter().map(|s| s.labels).collect();
        let others = self.others();
        let matchers = &matchers;
        let asks = others.iter().map(|p| async move { (p, self.ask(p, self.transport.series(p, db, which, matchers)).await) });
        for answer in self.tally(join_all(asks).await, "series")? {
            all.extend(answer);
        }
        Ok(all.into_iter().collect())
    }

    /// Runs a catalog change under the catalog lock, records it and sends it to the nodes this
    /// node can reach now (the others take it at their next exchange). A change that cannot
    /// be recorded fails, even though it ran here.
    pub async fn change_catalog<T, E: From<Error>>(&self, change: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        let changing = self.cluster.catalog_lock.lock().await;
        let outcome = change.await;
        let recorded = catalog_sync::record_local(&self.storage, &self.cluster.self_name, true).map(|c| !c.is_empty());
        drop(changing);
        self.share(recorded).await?;
        outcome
    }

    /// Records a deletion that ran here for the other nodes and sends it to them.
    pub async fn share_deletion(&self, db: &str, statement: &str) -> Result<(), Error> {
        let recorded = catalog_sync::record_deletion(&self.storage, &self.cluster.self_name, db, statement).map(|()| true);
        self.share(recorded).await
    }

    async fn share(&self, recorded: Result<bool, crate::storage::Error>) -> Result<(), Error> {
        match recorded {
            Ok(true) => {
                self.exchange().await;
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => Err(Error::NotShared { node: self.cluster.self_name.clone(), reason: e.to_string() }),
        }
    }

    /// Merges another node's catalog entries here, under the catalog lock; deletions run
    /// through `replay`. Answers how many entries changed something.
    pub async fn take(&self, theirs: Entries) -> Result<usize, crate::storage::Error> {
        let _changing = self.cluster.catalog_lock.lock().await;
        catalog_sync::merge(&self.storage, theirs, |d| (self.replay)(&self.storage, d)).await
    }

    /// Sends this node's catalog entries to every other node and merges their answers;
    /// answers whether every node answered.
    pub async fn exchange(&self) -> bool {
        let entries = match catalog_sync::load(&self.storage) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "catalog entries");
                return false;
            }
        };
        let others = self.others();
        let entries = &entries;
        let asks = others.iter().map(|p| async move { (p, self.ask(p, self.transport.catalog(p, entries)).await) });
        let mut everyone = true;
        for (peer, answer) in join_all(asks).await {
            let merged = match answer {
                Ok(theirs) => self.take(theirs).await,
                Err(PeerError(e)) => {
                    // A node that is down is tried again at the next exchange.
                    tracing::debug!(%peer, error = %e, "catalog exchange: peer unreachable");
                    everyone = false;
                    continue;
                }
            };
            match merged {
                Ok(0) => {}
                Ok(n) => tracing::info!(%peer, changes = n, "catalog: took changes from a peer"),
                Err(e) => {
                    tracing::warn!(%peer, error = %e, "catalog exchange failed");
                    everyone = false;
                }
            }
        }
        everyone
    }

    /// Exchanges catalogs with the other nodes every `every`, for as long as the server runs;
    /// notes when every peer has answered once.
    pub async fn keep_in_step(self: Arc<Self>, every: std::time::Duration) {
        let mut tick = actix_web::rt::time::interval(every);
        loop {
            tick.tick().await;
            if self.exchange().await {
                self.cluster.set_catalog_synced();
            }
        }
    }
}

#[cfg(test)]
#[path = "coordinator_tests.rs"]
mod tests;
