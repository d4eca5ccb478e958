//! Three nodes in one process for the coordinator's and the handoff's tests, each with its own
//! storage, reached through a transport that a test can cut off per node (it refuses at once),
//! freeze (it never answers, as a stopped process) or make refuse writes after a number of
//! them; the transport logs every request it is asked, so a test can tell which node was asked
//! what, and wait until a node stalls.

use super::catalog_sync::{self, Entries};
use super::coordinator::Coordinator;
use super::handoff::{CopyKind, Handoff, HintKey};
use super::node::Node;
use super::transport::{PeerError, PeerRead, PeerSeries, Transport};
use super::{Cluster, ClusterConfig};
use crate::data::{Error, FieldPairs, Selection, SeriesPiece, SeriesStream, Tier, TierAnswer};
use crate::storage::series_store::local_stream;
use crate::index::matcher::{MatchKind, Matcher};
use crate::labels::Labels;
use crate::metrics::Metrics;
use crate::data::write::{SeriesWrite, WriteOutcome};
use crate::data::schema::Policies;
use crate::storage::{Storage, StorageOptions};
use futures_util::future::LocalBoxFuture;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub(super) const NODES: [&str; 3] = ["a:1", "b:1", "c:1"];

/// The longest a test waits for a node to be asked or to stall before it fails.
const WAIT_BOUND: Duration = Duration::from_secs(5);

/// A series with its samples, as written or read.
pub(super) type Samples = BTreeMap<Labels, Vec<(i64, f64)>>;

/// What the transport was asked, in order.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Event {
    /// A request reached `peer` (which may then refuse it or never answer): `what` is `write`,
    /// `read`, `series`, `select_tier`, `ping` or `catalog`; a write names its kind and, per
    /// series, the labels and the number of samples.
    Asked { peer: String, what: &'static str, kind: Option<String>, series: Vec<(Labels, usize)> },
    /// `peer` stopped answering a request: it is frozen, or its answer froze midway.
    Stalled { peer: String },
}

/// How the nodes behave now; shared by the transport and the fixture.
#[derive(Default)]
pub(super) struct Faults {
    /// Refuse every request.
    down: BTreeSet<String>,
    /// Never answer.
    frozen: BTreeSet<String>,
    /// How a node's answer to a read breaks.
    breaks: BTreeMap<String, Break>,
    /// Per node, how many more writes it takes before it refuses them.
    writes_left: BTreeMap<String, usize>,
}

/// How a node's answer to a read breaks once it has sent `after` series: it fails (the
/// connection is reset) or freezes (the process is stopped).
#[derive(Clone, Copy)]
struct Break {
    after: usize,
    freezes: bool,
}

/// Hands each request to the named node (`node::Node`), as its internal endpoint does.
pub(super) struct InProcess {
    nodes: BTreeMap<String, Arc<Node>>,
    faults: Arc<Mutex<Faults>>,
    events: Arc<tokio::sync::watch::Sender<Vec<Event>>>,
}

/// A node's answer to a read: its stream, series by series, as `/internal/v1/read` sends it.
struct NodeRead {
    peer: String,
    stream: SeriesStream,
    sent: usize,
    breaks: Option<Break>,
    events: Arc<tokio::sync::watch::Sender<Vec<Event>>>,
}

fn stall(events: &tokio::sync::watch::Sender<Vec<Event>>, peer: &str) -> impl std::future::Future<Output = ()> {
    events.send_modify(|e| e.push(Event::Stalled { peer: peer.to_string() }));
    std::future::pending::<()>()
}

impl PeerRead for NodeRead {
    fn next_series(&mut self) -> LocalBoxFuture<'_, Result<Option<PeerSeries>, PeerError>> {
        Box::pin(async move {
            if let Some(b) = self.breaks.filter(|b| b.after == self.sent) {
                if b.freezes {
                    stall(&self.events, &self.peer).await;
                }
                return Err(PeerError::Connect("connection reset by peer".into()));
            }
            self.sent += 1;
            self.stream.next_chunks().await.map_err(refused)
        })
    }
}

impl InProcess {
    /// Logs the request; a frozen node's requests never end.
    async fn asked(&self, peer: &str, what: &'static str, kind: Option<String>, series: Vec<(Labels, usize)>) {
        self.events.send_modify(|e| e.push(Event::Asked { peer: peer.to_string(), what, kind, series }));
        if self.faults.lock().unwrap().frozen.contains(peer) {
            stall(&self.events, peer).await;
        }
    }

    fn node(&self, peer: &str) -> Result<&Arc<Node>, PeerError> {
        if self.faults.lock().unwrap().down.contains(peer) {
            return Err(PeerError::Connect(format!("{peer}: connection refused")));
        }
        self.nodes.get(peer).ok_or_else(|| PeerError::Connect(format!("{peer}: unknown node")))
    }
}

fn refused(e: impl std::fmt::Display) -> PeerError {
    PeerError::Connect(e.to_string())
}

impl Transport for InProcess {
    fn write<'a>(&'a self, peer: &'a str, db: &'a str, rp: Option<&'a str>, series: &'a [SeriesWrite], fields: &'a FieldPairs, kind: CopyKind<'a>) -> LocalBoxFuture<'a, Result<WriteOutcome, PeerError>> {
        Box::pin(async move {
            self.asked(peer, "write", Some(format!("{kind:?}")), series.iter().map(|s| (s.labels.clone(), s.samples.len())).collect()).await;
            let node = self.node(peer)?;
            if let Some(left) = self.faults.lock().unwrap().writes_left.get_mut(peer) {
                if *left == 0 {
                    return Err(PeerError::Connect(format!("{peer}: connection reset by peer")));
                }
                *left -= 1;
            }
            node.write(db, rp, series.to_vec(), fields, kind).await.map_err(refused)
        })
    }

    fn read<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, selection: &'a Selection) -> LocalBoxFuture<'a, Result<Box<dyn PeerRead>, PeerError>> {
        Box::pin(async move {
            self.asked(peer, "read", None, Vec::new()).await;
            let stream = self.node(peer)?.read(db, which, selection.clone()).await.map_err(refused)?;
            let breaks = self.faults.lock().unwrap().breaks.get(peer).copied();
            Ok(Box::new(NodeRead { peer: peer.to_string(), stream, sent: 0, breaks, events: self.events.clone() }) as Box<dyn PeerRead>)
        })
    }

    fn series<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, matchers: &'a [Matcher]) -> LocalBoxFuture<'a, Result<Vec<Labels>, PeerError>> {
        Box::pin(async move {
            self.asked(peer, "series", None, Vec::new()).await;
            self.node(peer)?.series(db, which, matchers.to_vec()).await.map_err(refused)
        })
    }

    fn labels<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, matchers: &'a [Matcher], range: Option<(i64, i64)>, label: Option<&'a str>) -> LocalBoxFuture<'a, Result<Vec<String>, PeerError>> {
        Box::pin(async move {
            self.asked(peer, "labels", None, Vec::new()).await;
            self.node(peer)?.labels(db, which, matchers.to_vec(), range, label).await.map_err(refused)
        })
    }

    fn tier<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, selection: &'a Selection, tier: Tier) -> LocalBoxFuture<'a, Result<TierAnswer, PeerError>> {
        Box::pin(async move {
            self.asked(peer, "select_tier", None, Vec::new()).await;
            let answer = self.node(peer)?.read_tier(db, which, selection.clone(), tier).await.map_err(refused)?;
            // Through the wire format, as `/internal/v1/select_tier` sends it.
            super::tier_read::decode(&super::tier_read::encode(&answer)).map_err(refused)
        })
    }

    fn ping<'a>(&'a self, peer: &'a str) -> LocalBoxFuture<'a, Result<(), PeerError>> {
        Box::pin(async move {
            self.asked(peer, "ping", None, Vec::new()).await;
            self.node(peer).map(|_| ())
        })
    }

    fn catalog<'a>(&'a self, peer: &'a str, entries: &'a Entries) -> LocalBoxFuture<'a, Result<Entries, PeerError>> {
        Box::pin(async move {
            self.asked(peer, "catalog", None, Vec::new()).await;
            self.node(peer)?.catalog(entries.clone()).await.map_err(refused)
        })
    }
}

pub(super) struct Fixture {
    _dirs: Vec<tempfile::TempDir>,
    pub storages: Vec<Arc<Storage>>,
    /// b's and c's storage with their hints.
    pub handoffs: Vec<Arc<Handoff>>,
    faults: Arc<Mutex<Faults>>,
    events: Arc<tokio::sync::watch::Sender<Vec<Event>>>,
    /// Node a's coordinator.
    pub a: Coordinator,
}

/// A cluster of `NODES` with two copies of every series, seen from `self_name`.
fn config(self_name: &str) -> ClusterConfig {
    ClusterConfig { self_name: self_name.into(), peers: NODES.iter().map(|n| n.to_string()).collect(), peers_file: None, replication_factor: 2, secret: "s".into() }
}

/// A storage in `dir` with database `db`.
pub(super) fn storage_in(dir: &tempfile::TempDir) -> Arc<Storage> {
    let s = Storage::open(StorageOptions { data_dir: dir.path().into(), shards: 1, sync_writes: false }, Arc::new(Metrics::default())).unwrap();
    s.create_database("db", None).unwrap();
    Arc::new(s)
}

impl Fixture {
    /// The nodes, with those in `down` refusing requests.
    pub fn new(down: &[&str]) -> Fixture {
        let dirs: Vec<tempfile::TempDir> = NODES.iter().map(|_| tempfile::tempdir().unwrap()).collect();
        let storages: Vec<Arc<Storage>> = dirs.iter().map(storage_in).collect();
        for s in &storages {
            catalog_sync::record_local(s, "config", false).unwrap();
        }
        let faults = Arc::new(Mutex::new(Faults { down: down.iter().map(|d| d.to_string()).collect(), ..Faults::default() }));
        let events = Arc::new(tokio::sync::watch::Sender::new(Vec::new()));
        let handoffs: Vec<Arc<Handoff>> = storages[1..].iter().map(|s| Arc::new(Handoff::open(s.clone()).unwrap())).collect();
        let nodes = NODES[1..].iter().zip(&handoffs).map(|(n, h)| (n.to_string(), Arc::new(Node::new(h.clone(), crate::exec::delete::replay_deletion)))).collect();
        let transport = InProcess { nodes, faults: faults.clone(), events: events.clone() };
        let a = Coordinator::new(Arc::new(Cluster::new(config(NODES[0])).unwrap()), storages[0].clone(), Box::new(transport), crate::exec::delete::replay_deletion).unwrap();
        Fixture { _dirs: dirs, storages, handoffs, faults, events, a }
    }

    /// Node c's coordinator, its hints loaded from its storage, reaching a and b.
    pub fn coordinator_on_c(&self) -> Coordinator {
        let node = |h: Arc<Handoff>| Arc::new(Node::new(h, crate::exec::delete::replay_deletion));
        let nodes: BTreeMap<String, Arc<Node>> = [("a:1".to_string(), node(Arc::new(Handoff::open(self.storages[0].clone()).unwrap()))), ("b:1".to_string(), node(self.handoffs[0].clone()))].into();
        let transport = InProcess { nodes, faults: self.faults.clone(), events: self.events.clone() };
        Coordinator::new(Arc::new(Cluster::new(config(NODES[2])).unwrap()), self.storages[2].clone(), Box::new(transport), crate::exec::delete::replay_deletion).unwrap()
    }

    /// `node` answers every request again.
    pub fn bring_back(&self, node: &str) {
        let mut faults = self.faults.lock().unwrap();
        faults.down.remove(node);
        faults.frozen.remove(node);
        faults.writes_left.remove(node);
    }

    /// `node` refuses every request from now on.
    pub fn cut_off(&self, node: &str) {
        self.faults.lock().unwrap().down.insert(node.to_string());
    }

    pub fn freeze(&self, node: &str) {
        self.faults.lock().unwrap().frozen.insert(node.to_string());
    }

    /// Node `node`'s answers to reads break after `after` series.
    pub fn break_reads(&self, node: &str, after: usize, freezes: bool) {
        self.faults.lock().unwrap().breaks.insert(node.to_string(), Break { after, freezes });
    }

    /// Node `node` stores the next `n` writes, and refuses those after them.
    pub fn writes_fail_after(&self, node: &str, n: usize) {
        self.faults.lock().unwrap().writes_left.insert(node.to_string(), n);
    }

    /// What `node` was asked so far, in order.
    pub fn asked(&self, node: &str) -> Vec<&'static str> {
        let events = self.events.borrow();
        events.iter().filter_map(|e| match e {
            Event::Asked { peer, what, .. } if peer == node => Some(*what),
            _ => None,
        }).collect()
    }

    /// The writes `node` was asked to store of kind `kind` (`Owned`, `HandedOff`, ...): per
    /// request, its series with their numbers of samples.
    pub fn writes_to(&self, node: &str, kind: &str) -> Vec<Vec<(Labels, usize)>> {
        self.events
            .borrow()
            .iter()
            .filter_map(|e| match e {
                Event::Asked { peer, what: "write", kind: Some(k), series } if peer == node && k == kind => Some(series.clone()),
                _ => None,
            })
            .collect()
    }

    /// How many times `node` stalled so far.
    pub fn stalls(&self, node: &str) -> usize {
        self.events.borrow().iter().filter(|e| matches!(e, Event::Stalled { peer } if peer == node)).count()
    }

    /// Waits until `node` has stalled `n` times in all; fails after `WAIT_BOUND`.
    pub async fn until_stalled(&self, node: &str, n: usize) {
        let mut seen = self.events.subscribe();
        let stalled = seen.wait_for(|e| e.iter().filter(|e| matches!(e, Event::Stalled { peer } if peer == node)).count() >= n);
        actix_web::rt::time::timeout(WAIT_BOUND, stalled).await.unwrap_or_else(|_| panic!("{node} did not stall {n} times")).unwrap();
    }

    /// Stores a series (labels sorted by name) on node `i` alone, placement aside.
    pub async fn put(&self, i: usize, labels: &[(&str, &str)], samples: &[(i64, f64)]) {
        let labels = Labels::from_sorted(labels.iter().copied());
        let outcome = self.storages[i].write("db", None, vec![SeriesWrite { hash: labels.stable_hash(), labels, samples: samples.to_vec() }]).await.unwrap();
        assert_eq!(outcome.rejected, 0);
    }

    /// A read through a, whole: every series with its samples in the range, and the nodes
    /// left out.
    pub async fn read(&self, selection: Selection) -> Result<(Vec<(Labels, Vec<(i64, f64)>)>, Vec<String>), Error> {
        let mut stream = self.a.read("db", Policies::One(None), selection).await?;
        let mut out = Vec::new();
        while let Some(s) = stream.next_series().await? {
            out.push(s);
        }
        Ok((out, stream.skipped().to_vec()))
    }

    /// A read of `everything` through a while `node` (frozen) is marked down by another
    /// request once the read waits on it (it stalled once more).
    pub async fn read_marking_down(&self, node: &str) -> Result<(Vec<(Labels, Vec<(i64, f64)>)>, Vec<String>), Error> {
        let stalls = self.stalls(node);
        let mark = async {
            self.until_stalled(node, stalls + 1).await;
            self.a.cluster.mark_down(node);
        };
        let (read, ()) = futures_util::future::join(self.read(everything()), mark).await;
        read
    }

    /// A read through a as its pieces come, chunks undecoded.
    pub async fn pieces(&self, selection: Selection) -> Result<Vec<SeriesPiece>, Error> {
        let mut stream = self.a.read("db", Policies::One(None), selection).await?;
        let mut out = Vec::new();
        while let Some(p) = stream.next().await? {
            out.push(p);
        }
        Ok(out)
    }
}

/// `n` series of `up`, instances `host<i>:9100`, each with samples (1 000, i) and (2 000, 1).
pub(super) fn series(n: usize) -> Vec<SeriesWrite> {
    (0..n)
        .map(|i| {
            let instance = format!("host{i}:9100");
            let labels = Labels::from_sorted([("__name__", "up"), ("instance", instance.as_str())]);
            SeriesWrite { hash: labels.stable_hash(), labels, samples: vec![(1_000, i as f64), (2_000, 1.0)] }
        })
        .collect()
}

/// `series(30)` with one sample (t, v) each.
pub(super) fn one_sample(t: i64, v: f64) -> Vec<SeriesWrite> {
    series(30).into_iter().map(|s| SeriesWrite { samples: vec![(t, v)], ..s }).collect()
}

/// The series in label order, as a read answers them.
pub(super) fn listed(series: Samples) -> Vec<(Labels, Vec<(i64, f64)>)> {
    series.into_iter().collect()
}

/// The series of writes by label set, their samples in time order.
pub(super) fn written<'a>(writes: impl IntoIterator<Item = &'a [SeriesWrite]>) -> Samples {
    let mut out = Samples::new();
    for s in writes.into_iter().flatten() {
        out.entry(s.labels.clone()).or_default().extend(&s.samples);
    }
    for samples in out.values_mut() {
        samples.sort_by_key(|s| s.0);
    }
    out
}

pub(super) fn named(name: &str, min_t: i64, max_t: i64) -> Selection {
    Selection { matchers: vec![Matcher::new(MatchKind::Equal, "__name__", name).unwrap()], min_t, max_t }
}

/// Every series of `up`.
pub(super) fn everything() -> Selection {
    named("up", i64::MIN, i64::MAX)
}

/// The series `storage` holds matching `selection`, with their samples.
pub(super) async fn stored(storage: &Arc<Storage>, selection: Selection) -> Samples {
    let mut stream = local_stream(storage.clone(), "db", Policies::One(None), selection).await.unwrap();
    let mut out = Samples::new();
    while let Some((labels, samples)) = stream.next_series().await.unwrap() {
        out.insert(labels, samples);
    }
    out
}

/// Per node, the series of `up` it holds with their samples.
pub(super) async fn held(f: &Fixture) -> Vec<Samples> {
    let mut out = Vec::new();
    for s in &f.storages {
        out.push(stored(s, everything()).await);
    }
    out
}

/// Per series of `want`, the nodes holding it: two, each with every sample of it.
pub(super) async fn assert_two_whole_copies(f: &Fixture, want: &Samples) {
    let held = held(f).await;
    for (labels, samples) in want {
        let copies: Vec<&Vec<(i64, f64)>> = held.iter().filter_map(|h| h.get(labels)).collect();
        assert_eq!(copies, vec![samples; 2], "{labels}: two copies, each whole");
    }
    for h in &held {
        assert!(h.keys().all(|l| want.contains_key(l)), "no other series");
    }
}

/// The series `handoff` keeps hints for `owner` of, in order.
pub(super) fn hinted(handoff: &Handoff, owner: &str) -> Vec<Labels> {
    let mut out = Vec::new();
    let mut after: Option<HintKey> = None;
    loop {
        let batch = handoff.batch(owner, after.as_ref());
        let Some((last, _)) = batch.last() else { return out };
        after = Some(last.clone());
        out.extend(batch.into_iter().map(|(k, _)| k.labels));
    }
}
