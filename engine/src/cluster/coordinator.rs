//! The cluster side of the data interface. A write is split by owner (see `placement`): this
//! node's part goes to its storage, the rest to the owners through the transport, all at once;
//! an owner that does not answer within its budget is marked down and its copy goes to the
//! next node in hash order, which keeps a hint and hands the copy over once the owner is back
//! (`handoff`); the write succeeds only when every series has its replication-factor copies.
//! Retries are harmless: a sample stored again is a duplicate, not a second sample. An import
//! (`SeriesStore::import`) is placed the same way, each copy merged in. A read
//! asks every node not marked down for its own series, which each streams in label order, and
//! merges the streams with this node's as they come (`merge`: a series at a time, one sample
//! per timestamp, memory for a series and a frame per node); nodes it passed over or that did
//! not start their answer within the budget are named in the answer, and with as many of them
//! as there are copies it fails naming them, never a silent partial answer. A node that fails
//! or stalls for the budget once its answer has started fails the read, naming it, and is
//! marked down. A peer marked down stays passed over until it answers a probe
//! (`probe_down_peers`, every second) or a request; requests waiting on a peer when it is
//! marked down give up at once.
//! A read of a downsampled tier asks the nodes the same way (`tier_read`).
//! Catalog changes and deletions are recorded and exchanged as `catalog_sync` describes.

use super::catalog_sync::{self, Entries};
use super::handoff::{CopyKind, Handoff};
use super::node::Node;
use super::merge::Merge;
use super::transport::{PeerError, Transport};
use super::{placement, Cluster, PROBE_BUDGET, PROBE_EVERY, READ_BUDGET, WRITE_BUDGET};
use crate::data::{Catalog, Deletion, Error, FieldPairs, Selection, SeriesStore, SeriesStream, Tier, TierAnswer, TimeRange};
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use crate::data::write::{SeriesWrite, WriteOutcome};
use crate::data::schema::Policies;
use crate::storage::Storage;
use futures_util::future::{join_all, LocalBoxFuture};
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Runs a deletion another node ran on this node's catalog (the InfluxQL executor's
/// `replay_deletion`).
pub type Replay = for<'a> fn(&'a dyn Catalog, Deletion) -> LocalBoxFuture<'a, Result<(), Box<dyn std::error::Error>>>;

pub struct Coordinator {
    pub cluster: Arc<Cluster>,
    /// This node's own data, as the other nodes reach it too.
    node: Arc<Node>,
    pub(super) transport: Box<dyn Transport>,
}

/// Per series in a write: the nodes in its order (the first replication-factor ones own it),
/// each node's state for it, the owner each node's copy stands in for, and the copies still
/// missing.
struct Placement {
    ranked: Vec<usize>,
    state: Vec<State>,
    stands_for: Vec<Option<usize>>,
    missing: usize,
}

#[derive(Clone, Copy, PartialEq)]
enum State {
    NotAsked,
    /// Passed over while marked down.
    PassedOver,
    /// Sent a copy, which it holds unless the request fails.
    Sent,
    Failed,
}

impl Placement {
    /// The owner the copy on `node` stands in for, when `node` is not an owner: the first one
    /// that holds no copy and has no other stand-in.
    fn owner_missing(&self, node: usize, copies: usize) -> Option<usize> {
        let owners = &self.ranked[..copies.min(self.ranked.len())];
        if owners.contains(&node) {
            return None;
        }
        let covered = |o: usize| self.state[o] == State::Sent || (0..self.state.len()).any(|n| self.state[n] == State::Sent && self.stands_for[n] == Some(o));
        owners.iter().copied().find(|o| !covered(*o))
    }
}

impl Coordinator {
    /// Loads the hints this node keeps for other nodes (see `handoff`).
    pub fn new(cluster: Arc<Cluster>, storage: Arc<Storage>, transport: Box<dyn Transport>, replay: Replay) -> Result<Coordinator, crate::data::StoreError> {
        Ok(Coordinator { cluster, node: Arc::new(Node::open(storage, replay)?), transport })
    }

    /// This node's side of the internal protocol, over its own data.
    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    /// This node's storage with the hints it keeps for others.
    pub fn handoff(&self) -> &Handoff {
        self.node.handoff()
    }

    pub fn storage(&self) -> &Arc<Storage> {
        self.node.storage()
    }

    /// Runs one request to `peer` for at most `budget` (see `Cluster::ask`).
    pub(super) async fn ask<T>(&self, peer: &str, budget: Duration, request: impl Future<Output = Result<T, PeerError>>) -> Result<T, PeerError> {
        self.cluster.ask(peer, budget, request).await
    }

    /// The first node in the series' order not sent a copy yet, passing over those marked down;
    /// when only those are left, they are tried anyway (they may be back).
    fn pick(&self, p: &mut Placement, names: &[String], me: usize) -> Option<usize> {
        for &n in &p.ranked {
            if matches!(p.state[n], State::Sent | State::Failed) {
                continue;
            }
            if n == me || !self.cluster.is_down(&names[n]) {
                return Some(n);
            }
            if p.state[n] == State::NotAsked {
                self.cluster.count(&names[n], |s| s.failovers += 1);
                p.state[n] = State::PassedOver;
            }
        }
        p.ranked.iter().copied().find(|n| matches!(p.state[*n], State::NotAsked | State::PassedOver))
    }

    /// Writes every series to its replication-factor owners; see the module doc.
    pub async fn write(&self, db: &str, rp: Option<&str>, series: Vec<SeriesWrite>, fields: &FieldPairs) -> Result<WriteOutcome, Error> {
        self.place(db, rp, series, fields, false).await
    }

    /// `write`, except that every copy merges older samples in (`CopyKind::Imported`).
    pub async fn import(&self, db: &str, rp: Option<&str>, series: Vec<SeriesWrite>, fields: &FieldPairs) -> Result<WriteOutcome, Error> {
        self.place(db, rp, series, fields, true).await
    }

    async fn place(&self, db: &str, rp: Option<&str>, series: Vec<SeriesWrite>, fields: &FieldPairs, import: bool) -> Result<WriteOutcome, Error> {
        let peers = self.cluster.peers();
        let copies = self.cluster.replication_factor.min(peers.names.len());
        let me = peers.names.iter().position(|p| *p == self.cluster.self_name).expect("self is a peer");
        let mut wants: Vec<Placement> = series
            .iter()
            .map(|s| Placement { ranked: placement::ranked(s.hash, &peers.hashes), state: vec![State::NotAsked; peers.names.len()], stands_for: vec![None; peers.names.len()], missing: copies })
            .collect();
        let mut total = WriteOutcome::default();
        loop {
            // Per (node, owner it stands in for): the series it gets a copy of.
            let mut batches: BTreeMap<(usize, Option<usize>), Vec<usize>> = BTreeMap::new();
            for (i, p) in wants.iter_mut().enumerate() {
                for _ in 0..p.missing {
                    let Some(node) = self.pick(p, &peers.names, me) else {
                        let down = peers.names.iter().filter(|n| self.cluster.is_down(n)).cloned().collect();
                        return Err(Error::TooFewCopies { copies, down });
                    };
                    let owner = p.owner_missing(node, copies);
                    p.state[node] = State::Sent;
                    p.stands_for[node] = owner;
                    batches.entry((node, owner)).or_default().push(i);
                }
            }
            if batches.is_empty() {
                break;
            }
            let (series, names) = (&series, &peers.names);
            let sends = batches.into_iter().map(|((node, owner), idx)| async move {
                let part: Vec<SeriesWrite> = idx.iter().map(|i| series[*i].clone()).collect();
                let stands_for = owner.map(|o| names[o].as_str());
                let kind = match (import, stands_for) {
                    (true, _) => CopyKind::Imported(stands_for),
                    (false, Some(o)) => CopyKind::StandingFor(o),
                    (false, None) => CopyKind::Owned,
                };
                let result = match node == me {
                    true => Ok(self.handoff().store_copy(db, rp, part, kind).await),
                    false => {
                        let peer = &names[node];
                        let sent = self.ask(peer, WRITE_BUDGET, self.transport.write(peer, db, rp, &part, fields, kind)).await;
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
                    Err(e) => {
                        tracing::warn!(peer = %peers.names[node], error = %e, "peer unreachable: its copies go to the next node");
                        self.cluster.mark_down(&peers.names[node]);
                        for i in idx {
                            wants[i].state[node] = State::Failed;
                        }
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

    /// Asks every node of `others` not marked down (`request`), within the read budget.
    /// Answers theirs and the nodes left out (passed over as down, or failed now and marked
    /// down); with as many left out as there are copies, the error names them.
    pub(super) async fn ask_others<'a, T>(&'a self, others: &'a [String], what: &str, request: impl Fn(&'a str) -> LocalBoxFuture<'a, Result<T, PeerError>>) -> Result<(Vec<T>, Vec<String>), Error> {
        let (down, up): (Vec<&String>, Vec<&String>) = others.iter().partition(|p| self.cluster.is_down(p));
        let mut missing: Vec<String> = down.into_iter().cloned().collect();
        let asks = up.into_iter().map(|p| {
            let asked = request(p);
            async move { (p, self.ask(p, READ_BUDGET, asked).await) }
        });
        let mut out = Vec::new();
        for (peer, answer) in join_all(asks).await {
            match answer {
                Ok(a) => out.push(a),
                Err(e) => {
                    tracing::warn!(%peer, error = %e, what, "peer unreachable");
                    self.cluster.mark_down(peer);
                    missing.push(peer.clone());
                }
            }
        }
        missing.sort();
        for peer in &missing {
            self.cluster.count(peer, |s| s.read_skips += 1);
        }
        if missing.len() >= self.cluster.replication_factor {
            return Err(Error::PeersUnreachable { peers: missing, replication_factor: self.cluster.replication_factor });
        }
        Ok((out, missing))
    }

    pub(super) fn others(&self) -> Vec<String> {
        self.cluster.peers().names.iter().filter(|p| **p != self.cluster.self_name).cloned().collect()
    }

    /// Every node's series matching `selection`, merged as they stream in (see `merge`), and
    /// the nodes left out (see `ask_others`): the peers' answers have started when this returns.
    pub async fn read(&self, db: &str, which: Policies<'_>, selection: Selection) -> Result<SeriesStream, Error> {
        let local = self.node.read(db, which, selection.clone()).await?;
        let (others, asked) = (self.others(), &selection);
        let (peers, left_out) = self
            .ask_others(&others, "read", |p| Box::pin(async move { self.transport.read(p, db, which, asked).await.map(|r| (p.to_string(), r)) }))
            .await?;
        Ok(SeriesStream::new(Box::new(Merge::new(self.cluster.clone(), local, peers, &selection)), (selection.min_t, selection.max_t), left_out))
    }

    /// The label sets of the series matching every matcher on any node (in their indexes, with
    /// or without samples), sorted and unique.
    pub async fn series(&self, db: &str, which: Policies<'_>, matchers: Vec<Matcher>) -> Result<Vec<Labels>, Error> {
        let mut all: BTreeSet<Labels> = self.node.series(db, which, matchers.clone()).await?.into_iter().collect();
        let (others, matchers) = (self.others(), &matchers);
        let (answers, _) = self.ask_others(&others, "series", |p| self.transport.series(p, db, which, matchers)).await?;
        for answer in answers {
            all.extend(answer);
        }
        Ok(all.into_iter().collect())
    }

    /// The label names (`label` `None`) or the values of `label` of every node's series
    /// matching every matcher, each node answering from its index (see `Node::labels`),
    /// sorted and unique.
    pub async fn labels(&self, db: &str, which: Policies<'_>, matchers: Vec<Matcher>, range: TimeRange, label: Option<&str>) -> Result<Vec<String>, Error> {
        let mut all: BTreeSet<String> = self.node.labels(db, which, matchers.clone(), range, label).await?.into_iter().collect();
        let (others, matchers) = (self.others(), &matchers);
        let (answers, _) = self.ask_others(&others, "labels", |p| self.transport.labels(p, db, which, matchers, range, label)).await?;
        for answer in answers {
            all.extend(answer);
        }
        Ok(all.into_iter().collect())
    }

    /// Runs a catalog change under the catalog lock, records it and sends it to the nodes this
    /// node can reach now (the others take it at their next exchange). A change that cannot
    /// be recorded fails, even though it ran here.
    pub async fn change_catalog<T, E: From<Error>>(&self, change: impl Future<Output = Result<T, E>>) -> Result<T, E> {
        let changing = self.node.lock_catalog().await;
        let outcome = change.await;
        let recorded = catalog_sync::record_local(self.storage(), &self.cluster.self_name, true).map(|c| !c.is_empty());
        drop(changing);
        self.share(recorded).await?;
        outcome
    }

    /// Records a deletion that ran here for the other nodes and sends it to them.
    pub async fn share_deletion(&self, db: &str, statement: &str) -> Result<(), Error> {
        let recorded = catalog_sync::record_deletion(self.storage(), &self.cluster.self_name, db, statement).map(|()| true);
        self.share(recorded).await
    }

    async fn share(&self, recorded: Result<bool, crate::data::StoreError>) -> Result<(), Error> {
        match recorded {
            Ok(true) => {
                self.exchange().await;
                Ok(())
            }
            Ok(false) => Ok(()),
            Err(e) => Err(Error::NotShared { node: self.cluster.self_name.clone(), reason: e.to_string() }),
        }
    }

    /// Merges another node's catalog entries here (see `Node::take`). Answers how many entries
    /// changed something.
    pub async fn take(&self, theirs: Entries) -> Result<usize, crate::data::StoreError> {
        self.node.take(theirs).await
    }

    /// Sends this node's catalog entries to every other node not marked down and merges their
    /// answers; answers whether every node answered.
    pub async fn exchange(&self) -> bool {
        let entries = match catalog_sync::load(self.storage()) {
            Ok(e) => e,
            Err(e) => {
                tracing::error!(error = %e, "catalog entries");
                return false;
            }
        };
        let others = self.others();
        let entries = &entries;
        let mut everyone = others.iter().all(|p| !self.cluster.is_down(p));
        let asks = others.iter().filter(|p| !self.cluster.is_down(p)).map(|p| async move { (p, self.ask(p, READ_BUDGET, self.transport.catalog(p, entries)).await) });
        for (peer, answer) in join_all(asks).await {
            let merged = match answer {
                Ok(theirs) => self.take(theirs).await,
                Err(e) => {
                    // Not marked down for this: at start-up the other nodes may not listen yet,
                    // and writes should not be placed around them. It is tried again next time.
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

    /// Probes the peers marked down every second, for as long as the server runs: one that
    /// answers its `/ping` is brought back.
    pub async fn probe_down_peers(self: Arc<Self>) {
        let mut tick = actix_web::rt::time::interval(PROBE_EVERY);
        loop {
            tick.tick().await;
            self.probe_once().await;
        }
    }

    /// One round of probes of the peers marked down, all at once.
    pub async fn probe_once(&self) {
        let down = self.cluster.down_peers();
        let probes = down.iter().map(|p| async move { (p, self.ask(p, PROBE_BUDGET, self.transport.ping(p)).await) });
        for (peer, answer) in join_all(probes).await {
            self.cluster.count(peer, |s| s.probes += 1);
            if answer.is_ok() {
                self.cluster.mark_up(peer);
            }
        }
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

/// The data interface over every node (see the module doc).
impl SeriesStore for Coordinator {
    fn write<'a>(&'a self, db: &'a str, rp: Option<&'a str>, series: Vec<SeriesWrite>, fields: &'a FieldPairs) -> LocalBoxFuture<'a, Result<WriteOutcome, Error>> {
        Box::pin(Coordinator::write(self, db, rp, series, fields))
    }

    /// Placed as a write is; each copy merged in.
    fn import<'a>(&'a self, db: &'a str, rp: Option<&'a str>, series: Vec<SeriesWrite>, fields: &'a FieldPairs) -> LocalBoxFuture<'a, Result<WriteOutcome, Error>> {
        Box::pin(Coordinator::import(self, db, rp, series, fields))
    }

    fn select<'a>(&'a self, db: &'a str, which: Policies<'a>, selection: Selection) -> LocalBoxFuture<'a, Result<SeriesStream, Error>> {
        Box::pin(self.read(db, which, selection))
    }

    /// Every node's windows, merged (see `tier_read`).
    fn select_tier<'a>(&'a self, db: &'a str, which: Policies<'a>, selection: Selection, tier: Tier) -> LocalBoxFuture<'a, Result<TierAnswer, Error>> {
        Box::pin(self.read_tier(db, which, selection, tier))
    }

    /// With a time range, the series of a read over it (the merge leaves out series without a
    /// sample in it); without, every node's index.
    fn series<'a>(&'a self, db: &'a str, which: Policies<'a>, matchers: Vec<Matcher>, range: TimeRange) -> LocalBoxFuture<'a, Result<Vec<Labels>, Error>> {
        Box::pin(async move {
            match range {
                Some((min_t, max_t)) => crate::data::series_with_samples(self.read(db, which, Selection { matchers, min_t, max_t }).await?, min_t, max_t).await,
                None => Coordinator::series(self, db, which, matchers).await,
            }
        })
    }

    fn label_values<'a>(&'a self, db: &'a str, which: Policies<'a>, name: &'a str, matchers: Vec<Matcher>, range: TimeRange) -> LocalBoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(self.labels(db, which, matchers, range, Some(name)))
    }

    fn label_names<'a>(&'a self, db: &'a str, which: Policies<'a>, matchers: Vec<Matcher>, range: TimeRange) -> LocalBoxFuture<'a, Result<Vec<String>, Error>> {
        Box::pin(self.labels(db, which, matchers, range, None))
    }

    fn change_catalog<'a>(&'a self, change: LocalBoxFuture<'a, ()>) -> LocalBoxFuture<'a, Result<(), Error>> {
        Box::pin(Coordinator::change_catalog(self, async move {
            change.await;
            Ok::<(), Error>(())
        }))
    }

    fn catalog_complete(&self) -> bool {
        self.cluster.catalog_synced()
    }

    fn share_deletion<'a>(&'a self, db: &'a str, statement: &'a str) -> LocalBoxFuture<'a, Result<(), Error>> {
        Box::pin(Coordinator::share_deletion(self, db, statement))
    }
}

#[cfg(test)]
#[path = "coordinator_tests.rs"]
mod tests;
