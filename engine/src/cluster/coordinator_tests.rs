//! The coordinator against the data interface without HTTP: three nodes in one process, each
//! with its own storage, reached through a transport that a test can cut off per node (it
//! refuses at once) or freeze (it never answers, as a stopped process).

use super::*;
use crate::cluster::transport::{PeerRead, PeerSeries};
use crate::cluster::ClusterConfig;
use crate::data::SeriesPiece;
use crate::storage::shard::StoredChunk;
use crate::index::matcher::MatchKind;
use crate::metrics::Metrics;
use crate::storage::StorageOptions;
use std::collections::BTreeSet;
use std::sync::Mutex;

const NODES: [&str; 3] = ["a:1", "b:1", "c:1"];

/// Hands each request to the named node's storage, as its internal endpoint would; nodes in
/// `down` do not answer.
struct InProcess {
    nodes: BTreeMap<String, Arc<Handoff>>,
    down: Arc<Mutex<BTreeSet<String>>>,
    frozen: Arc<Mutex<BTreeSet<String>>>,
    breaks: Arc<Mutex<BTreeMap<String, Break>>>,
}

/// How a node's answer to a read breaks once it has sent `after` series: it fails (the
/// connection is reset) or freezes (the process is stopped).
#[derive(Clone, Copy)]
struct Break {
    after: usize,
    freezes: bool,
}

/// A node's answer to a read: its storage's stream, series by series, as `/internal/v1/read`
/// sends it.
struct NodeRead {
    stream: SeriesStream,
    sent: usize,
    breaks: Option<Break>,
}

impl PeerRead for NodeRead {
    fn next_series(&mut self) -> LocalBoxFuture<'_, Result<Option<PeerSeries>, PeerError>> {
        Box::pin(async move {
            if let Some(b) = self.breaks.filter(|b| b.after == self.sent) {
                if b.freezes {
                    std::future::pending::<()>().await;
                }
                return Err(PeerError("connection reset by peer".into()));
            }
            self.sent += 1;
            self.stream.next_chunks().await.map_err(refused)
        })
    }
}

impl InProcess {
    /// A frozen node's requests never end.
    async fn unless_frozen(&self, peer: &str) {
        if self.frozen.lock().unwrap().contains(peer) {
            std::future::pending::<()>().await;
        }
    }

    fn node(&self, peer: &str) -> Result<&Arc<Storage>, PeerError> {
        if self.down.lock().unwrap().contains(peer) {
            return Err(PeerError(format!("{peer}: connection refused")));
        }
        self.nodes.get(peer).map(|h| h.storage()).ok_or_else(|| PeerError(format!("{peer}: unknown node")))
    }
}

fn refused(e: impl std::fmt::Display) -> PeerError {
    PeerError(e.to_string())
}

impl Transport for InProcess {
    fn write<'a>(&'a self, peer: &'a str, db: &'a str, rp: Option<&'a str>, series: &'a [SeriesWrite], fields: &'a FieldPairs, kind: CopyKind<'a>) -> LocalBoxFuture<'a, Result<WriteOutcome, PeerError>> {
        Box::pin(async move {
            self.unless_frozen(peer).await;
            self.node(peer)?.register_fields(db, fields).map_err(refused)?;
            self.nodes[peer].store_copy(db, rp, series.to_vec(), kind).await.map_err(refused)
        })
    }

    fn read<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, selection: &'a Selection) -> LocalBoxFuture<'a, Result<Box<dyn PeerRead>, PeerError>> {
        Box::pin(async move {
            self.unless_frozen(peer).await;
            let stream = SeriesStream::local(self.node(peer)?.clone(), db, which, selection.clone()).await.map_err(refused)?;
            let breaks = self.breaks.lock().unwrap().get(peer).copied();
            Ok(Box::new(NodeRead { stream, sent: 0, breaks }) as Box<dyn PeerRead>)
        })
    }

    fn series<'a>(&'a self, peer: &'a str, db: &'a str, which: Policies<'a>, matchers: &'a [Matcher]) -> LocalBoxFuture<'a, Result<Vec<Labels>, PeerError>> {
        Box::pin(async move {
            self.unless_frozen(peer).await; Ok(self.node(peer)?.select(db, which, matchers.to_vec()).await.map_err(refused)?.into_iter().map(|s| s.labels).collect()) })
    }

    fn ping<'a>(&'a self, peer: &'a str) -> LocalBoxFuture<'a, Result<(), PeerError>> {
        Box::pin(async move {
            self.unless_frozen(peer).await; self.node(peer).map(|_| ()) })
    }

    fn catalog<'a>(&'a self, peer: &'a str, entries: &'a Entries) -> LocalBoxFuture<'a, Result<Entries, PeerError>> {
        Box::pin(async move {
            self.unless_frozen(peer).await;
            let storage = self.node(peer)?;
            catalog_sync::merge(storage, entries.clone(), |d| crate::exec::delete::replay_deletion(storage, d)).await.map_err(refused)?;
            catalog_sync::load(storage).map_err(refused)
        })
    }
}

struct Fixture {
    _dirs: Vec<tempfile::TempDir>,
    storages: Vec<Arc<Storage>>,
    /// b's and c's storage with their hints.
    handoffs: Vec<Arc<Handoff>>,
    /// The nodes that refuse requests now, and those that never answer.
    down: Arc<Mutex<BTreeSet<String>>>,
    frozen: Arc<Mutex<BTreeSet<String>>>,
    breaks: Arc<Mutex<BTreeMap<String, Break>>>,
    /// Node a's coordinator.
    a: Coordinator,
}

impl Fixture {
    fn new(down: &[&str]) -> Fixture {
        let dirs: Vec<tempfile::TempDir> = NODES.iter().map(|_| tempfile::tempdir().unwrap()).collect();
        let storages: Vec<Arc<Storage>> = dirs
            .iter()
            .map(|d| {
                let s = Storage::open(StorageOptions { data_dir: d.path().into(), shards: 1, sync_writes: false }, Arc::new(Metrics::default())).unwrap();
                s.create_database("db", None).unwrap();
                catalog_sync::record_local(&s, "config", false).unwrap();
                Arc::new(s)
            })
            .collect();
        let config = ClusterConfig { self_name: NODES[0].into(), peers: NODES.iter().map(|n| n.to_string()).collect(), peers_file: None, replication_factor: 2, secret: "s".into() };
        let down = Arc::new(Mutex::new(down.iter().map(|d| d.to_string()).collect()));
        let frozen = Arc::new(Mutex::new(BTreeSet::new()));
        let breaks = Arc::new(Mutex::new(BTreeMap::new()));
        let handoffs: Vec<Arc<Handoff>> = storages[1..].iter().map(|s| Arc::new(Handoff::open(s.clone()).unwrap())).collect();
        let nodes = NODES[1..].iter().zip(&handoffs).map(|(n, h)| (n.to_string(), h.clone())).collect();
        let transport = InProcess { nodes, down: down.clone(), frozen: frozen.clone(), breaks: breaks.clone() };
        let a = Coordinator::new(Arc::new(Cluster::new(config).unwrap()), storages[0].clone(), Box::new(transport), crate::exec::delete::replay_deletion).unwrap();
        Fixture { _dirs: dirs, storages, handoffs, down, frozen, breaks, a }
    }

    fn bring_back(&self, node: &str) {
        self.down.lock().unwrap().remove(node);
        self.frozen.lock().unwrap().remove(node);
    }

    fn freeze(&self, node: &str) {
        self.frozen.lock().unwrap().insert(node.to_string());
    }

    /// Node `node`'s answers to reads break after `after` series.
    fn break_reads(&self, node: &str, after: usize, freezes: bool) {
        self.breaks.lock().unwrap().insert(node.to_string(), Break { after, freezes });
    }

    /// Stores a series (labels sorted by name) on node `i` alone, placement aside.
    async fn put(&self, i: usize, labels: &[(&str, &str)], samples: &[(i64, f64)]) {
        let labels = Labels::from_sorted(labels.iter().copied());
        let outcome = self.storages[i].write("db", None, vec![SeriesWrite { hash: labels.stable_hash(), labels, samples: samples.to_vec() }]).await.unwrap();
        assert_eq!(outcome.rejected, 0);
    }

    /// A read through a, whole: every series with its samples in the range, and the nodes
    /// left out.
    async fn read(&self, selection: Selection) -> Result<(Vec<(Labels, Vec<(i64, f64)>)>, Vec<String>), Error> {
        let mut stream = self.a.read("db", Policies::One(None), selection).await?;
        let mut out = Vec::new();
        while let Some(s) = stream.next_series().await? {
            out.push(s);
        }
        Ok((out, stream.skipped().to_vec()))
    }

    /// A read of `everything` through a while `node` (frozen) is marked down 100 ms into it
    /// by another request: it ends within 2 s.
    async fn read_marking_down(&self, node: &str) -> Result<(Vec<(Labels, Vec<(i64, f64)>)>, Vec<String>), Error> {
        let mark = async {
            actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
            self.a.cluster.mark_down(node);
        };
        let started = std::time::Instant::now();
        let (read, ()) = futures_util::future::join(self.read(everything()), mark).await;
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
        read
    }

    /// A read through a as its pieces come, chunks undecoded.
    async fn pieces(&self, selection: Selection) -> Result<Vec<SeriesPiece>, Error> {
        let mut stream = self.a.read("db", Policies::One(None), selection).await?;
        let mut out = Vec::new();
        while let Some(p) = stream.next().await? {
            out.push(p);
        }
        Ok(out)
    }
}

fn series(n: usize) -> Vec<SeriesWrite> {
    (0..n)
        .map(|i| {
            let instance = format!("host{i}:9100");
            let labels = Labels::from_sorted([("__name__", "up"), ("instance", instance.as_str())]);
            SeriesWrite { hash: labels.stable_hash(), labels, samples: vec![(1_000, i as f64), (2_000, 1.0)] }
        })
        .collect()
}

fn everything() -> Selection {
    Selection { matchers: vec![Matcher::new(MatchKind::Equal, "__name__", "up").unwrap()], min_t: i64::MIN, max_t: i64::MAX }
}

/// Per node, the instances of the series it holds.
async fn held(f: &Fixture) -> Vec<BTreeSet<String>> {
    let mut out = Vec::new();
    for s in &f.storages {
        let found = s.select("db", Policies::One(None), everything().matchers).await.unwrap();
        out.push(found.iter().map(|s| s.labels.get("instance").to_string()).collect());
    }
    out
}

#[actix_web::test]
async fn a_write_with_one_peer_down_gives_every_series_two_copies_elsewhere() {
    let f = Fixture::new(&["b:1"]);
    let outcome = f.a.write("db", None, series(30), &FieldPairs::new()).await.unwrap();
    assert_eq!((outcome.accepted, outcome.new_series, outcome.rejected), (60, 30, 0), "each series counted once");
    assert!(f.a.cluster.is_down("b:1"), "the peer that failed is marked down");
    let held = held(&f).await;
    assert!(held[1].is_empty(), "nothing reached the down node");
    for i in 0..30 {
        let instance = format!("host{i}:9100");
        let copies = held.iter().filter(|h| h.contains(&instance)).count();
        assert_eq!(copies, 2, "{instance}: two copies, on a and c");
    }
    // A read through a with b still down is complete: every series has a copy on a or c.
    let (read, left_out) = f.read(everything()).await.unwrap();
    assert_eq!(left_out, vec!["b:1".to_string()], "the read names the node it was made without");
    assert_eq!(read.len(), 30);
    assert!(read.iter().all(|(_, samples)| samples.len() == 2), "one sample per timestamp, copies merged");
    let labels = f.a.series("db", Policies::One(None), everything().matchers).await.unwrap();
    assert_eq!(labels.len(), 30);
}

#[actix_web::test]
async fn with_as_many_nodes_down_as_copies_writes_and_reads_fail_naming_them() {
    let f = Fixture::new(&["b:1", "c:1"]);
    let e = f.a.write("db", None, series(10), &FieldPairs::new()).await.unwrap_err();
    assert!(matches!(&e, Error::TooFewCopies { copies: 2, down } if *down == vec!["b:1".to_string(), "c:1".to_string()]), "{e:?}");
    assert_eq!(e.to_string(), "cannot store 2 copies of every series: unreachable peers b:1, c:1");
    let e = f.read(everything()).await.unwrap_err();
    assert_eq!(e.to_string(), "peers unreachable: b:1, c:1 (replication factor 2: the answer would be incomplete)");
}

#[actix_web::test]
async fn catalog_changes_reach_the_peers_and_a_node_that_was_down_catches_up() {
    let f = Fixture::new(&["c:1"]);
    let storage = f.a.storage().clone();
    let made: Result<(), Error> = f.a.change_catalog(async { Ok(storage.create_database("made_on_a", None)?) }).await;
    made.unwrap();
    let has = |i: usize| f.storages[i].databases().contains(&"made_on_a".to_string());
    assert!(has(1), "b took the change at once");
    assert!(!has(2), "c was down");
    // A database made on b alone comes to a at the next exchange, and both go to c once it is back.
    f.storages[1].create_database("made_on_b", None).unwrap();
    catalog_sync::record_local(&f.storages[1], "b:1", true).unwrap();
    assert!(!f.a.exchange().await, "c did not answer");
    assert!(f.storages[0].databases().contains(&"made_on_b".to_string()));
    f.bring_back("c:1");
    assert!(!f.a.cluster.is_down("c:1"), "a failed exchange does not mark a peer down");
    assert!(f.a.exchange().await);
    assert_eq!(f.storages[2].databases(), vec!["db", "made_on_a", "made_on_b"]);
}

#[actix_web::test]
async fn a_frozen_peer_costs_one_write_its_budget_and_later_requests_nothing() {
    let f = Fixture::new(&[]);
    f.freeze("b:1");
    let started = std::time::Instant::now();
    let outcome = f.a.write("db", None, series(30), &FieldPairs::new()).await.unwrap();
    let first = started.elapsed();
    assert_eq!((outcome.accepted, outcome.new_series), (60, 30));
    assert!(first >= WRITE_BUDGET && first < WRITE_BUDGET * 2, "the first write waits out the budget once: {first:?}");
    assert!(f.a.cluster.is_down("b:1"));
    // Later writes and reads pass the frozen node over without asking it.
    let started = std::time::Instant::now();
    f.a.write("db", None, series(30), &FieldPairs::new()).await.unwrap();
    let (read, left_out) = f.read(everything()).await.unwrap();
    assert!(started.elapsed() < std::time::Duration::from_millis(500), "{:?}", started.elapsed());
    assert_eq!(left_out, vec!["b:1".to_string()]);
    assert_eq!(read.len(), 30, "every series has a copy on a or c");
    for i in 0..30 {
        let instance = format!("host{i}:9100");
        assert_eq!(held(&f).await.iter().filter(|h| h.contains(&instance)).count(), 2, "{instance}");
    }
}

#[actix_web::test]
async fn requests_waiting_on_a_peer_give_up_when_another_marks_it_down() {
    let f = Fixture::new(&[]);
    f.freeze("b:1");
    let (_, left_out) = f.read_marking_down("b:1").await.unwrap();
    assert_eq!(left_out, vec!["b:1".to_string()]);
}

#[actix_web::test]
async fn a_probe_brings_back_a_peer_that_answers_and_only_that_one() {
    let f = Fixture::new(&[]);
    f.a.cluster.mark_down("b:1");
    f.a.cluster.mark_down("c:1");
    f.freeze("c:1");
    f.a.probe_once().await;
    assert!(!f.a.cluster.is_down("b:1"), "b answers its ping");
    assert!(f.a.cluster.is_down("c:1"), "c is still frozen");
    assert_eq!(f.a.cluster.stats()["c:1"].probes, 1);
    f.bring_back("c:1");
    f.a.probe_once().await;
    assert!(!f.a.cluster.is_down("c:1"));
}

fn named(name: &str, min_t: i64, max_t: i64) -> Selection {
    Selection { matchers: vec![Matcher::new(MatchKind::Equal, "__name__", name).unwrap()], min_t, max_t }
}

/// Every sample of chunks, none cut off.
fn decoded(chunks: &[StoredChunk]) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    for c in chunks {
        c.each(|t, v| out.push((t, v))).expect("a chunk that decodes");
    }
    out
}

#[actix_web::test]
async fn copies_on_two_nodes_are_merged_one_sample_per_timestamp_the_first_node_winning() {
    let f = Fixture::new(&[]);
    // The same series on a and on c, both holding 2 000 and 3 000 (with other values on c),
    // each with a sample the other lacks; and 300 samples (three chunks) on b and c alike.
    f.put(0, &[("__name__", "m"), ("instance", "x")], &[(1_000, 1.0), (2_000, 2.0), (3_000, 3.0)]).await;
    f.put(2, &[("__name__", "m"), ("instance", "x")], &[(2_000, 20.0), (3_000, 30.0), (4_000, 4.0)]).await;
    let long: Vec<(i64, f64)> = (0..300).map(|i| (i * 1_000, i as f64)).collect();
    f.put(1, &[("__name__", "m"), ("instance", "y")], &long).await;
    f.put(2, &[("__name__", "m"), ("instance", "y")], &long).await;
    let (read, left_out) = f.read(named("m", i64::MIN, i64::MAX)).await.unwrap();
    assert!(left_out.is_empty());
    let instances: Vec<&str> = read.iter().map(|(l, _)| l.get("instance")).collect();
    assert_eq!(instances, vec!["x", "y"], "each series once");
    assert_eq!(read[0].1, vec![(1_000, 1.0), (2_000, 2.0), (3_000, 3.0), (4_000, 4.0)]);
    assert_eq!(read[1].1, long, "no sample twice");
}

#[actix_web::test]
async fn a_series_on_one_node_alone_passes_through_as_stored() {
    let f = Fixture::new(&[]);
    let samples: Vec<(i64, f64)> = (0..500).map(|i| (i * 15_000, (i % 7) as f64)).collect();
    f.put(1, &[("__name__", "m"), ("instance", "only-b")], &samples).await;
    // A range inside the series: the chunks on its edges hold samples outside it.
    let range = || named("m", 1_000_000, 6_000_000);
    let mut on_b = SeriesStream::local(f.storages[1].clone(), "db", Policies::One(None), range()).await.unwrap();
    let (_, stored) = on_b.next_chunks().await.unwrap().unwrap();
    let pieces = f.pieces(range()).await.unwrap();
    assert_eq!(pieces.len(), 1);
    assert!(pieces[0].last && pieces[0].labels.get("instance") == "only-b");
    let bytes = |chunks: &[StoredChunk]| chunks.iter().map(|c| (c.min_t, c.max_t, c.data.clone())).collect::<Vec<_>>();
    assert_eq!(bytes(&pieces[0].chunks), bytes(&stored), "the chunks as b stores them");
    let passed = decoded(&pieces[0].chunks);
    assert!(passed.first().unwrap().0 < 1_000_000 && passed.last().unwrap().0 > 6_000_000, "not decoded and cut: {:?}", (passed.first(), passed.last()));
    assert!(samples.windows(passed.len()).any(|w| w == passed.as_slice()), "a run of the samples written");
}

#[actix_web::test]
async fn series_interleaved_across_the_nodes_come_once_each_in_label_order() {
    let f = Fixture::new(&[]);
    // 60 series, each on one node, on two or on all three, by its number; and two whose order
    // as label sets (the encoded bytes: "a" after "ab") is not the order of their label lists.
    let mut want = BTreeMap::new();
    for i in 0..60i64 {
        let instance = format!("host{i:02}");
        let on: &[usize] = match i % 5 {
            0 => &[0],
            1 => &[1],
            2 => &[2],
            3 => &[1, 2],
            _ => &[0, 1, 2],
        };
        for n in on {
            f.put(*n, &[("__name__", "m"), ("instance", &instance)], &[(i * 10, i as f64)]).await;
        }
        want.insert(Labels::from_sorted([("__name__", "m"), ("instance", instance.as_str())]), vec![(i * 10, i as f64)]);
    }
    for (n, name) in [(1, "a"), (2, "ab"), (0, "ab")] {
        f.put(n, &[("__name__", "m"), (name, "v")], &[(5, 5.0)]).await;
        want.insert(Labels::from_sorted([("__name__", "m"), (name, "v")]), vec![(5, 5.0)]);
    }
    let (read, _) = f.read(named("m", i64::MIN, i64::MAX)).await.unwrap();
    assert!(read.windows(2).all(|w| w[0].0 < w[1].0), "strictly in label order: {:?}", read.iter().map(|(l, _)| l).collect::<Vec<_>>());
    assert_eq!(read.into_iter().collect::<BTreeMap<_, _>>(), want);
}

#[actix_web::test]
async fn merged_copies_are_cut_to_the_range_and_series_without_a_sample_in_it_are_left_out() {
    let f = Fixture::new(&[]);
    let samples: Vec<(i64, f64)> = (0..100).map(|i| (i * 1_000, i as f64)).collect();
    // Copies that differ (b has one sample more) are merged; copies alike pass through.
    let mut more = samples.clone();
    more.insert(1, (500, 0.5));
    f.put(0, &[("__name__", "m"), ("instance", "differ")], &samples).await;
    f.put(1, &[("__name__", "m"), ("instance", "differ")], &more).await;
    f.put(0, &[("__name__", "m"), ("instance", "alike")], &samples).await;
    f.put(2, &[("__name__", "m"), ("instance", "alike")], &samples).await;
    // Samples on both sides of the range, none in it: one copy, then two that differ.
    let around = [(0, 1.0), (100_000, 2.0)];
    f.put(1, &[("__name__", "m"), ("instance", "around-one")], &around).await;
    f.put(0, &[("__name__", "m"), ("instance", "around-two")], &around).await;
    f.put(2, &[("__name__", "m"), ("instance", "around-two")], &[(0, 1.0), (100_000, 3.0)]).await;
    let pieces = f.pieces(named("m", 10_500, 50_500)).await.unwrap();
    let names: Vec<&str> = pieces.iter().map(|p| p.labels.get("instance")).collect();
    assert_eq!(names, vec!["alike", "differ"]);
    let alike = decoded(&pieces[0].chunks);
    assert!(alike.first().unwrap().0 < 10_500, "passed through as stored: {:?}", alike.first());
    assert_eq!(decoded(&pieces[1].chunks), samples[11..=50].to_vec(), "merged: no sample outside [10 500, 50 500]");
}

#[actix_web::test]
async fn a_peer_failing_in_the_middle_of_its_answer_fails_the_read_naming_it() {
    let f = Fixture::new(&[]);
    f.a.write("db", None, series(30), &FieldPairs::new()).await.unwrap();
    f.break_reads("b:1", 3, false);
    let e = f.read(everything()).await.unwrap_err();
    assert!(matches!(&e, Error::PeerFailed { peer, .. } if peer == "b:1"), "{e:?}");
    assert_eq!(e.to_string(), "peer b:1 failed in the middle of the read: connection reset by peer");
    assert!(f.a.cluster.is_down("b:1"), "marked down");
    // The next read passes it over and is whole from a and c.
    let (read, left_out) = f.read(everything()).await.unwrap();
    assert_eq!(left_out, vec!["b:1".to_string()]);
    assert_eq!(read.len(), 30);
    assert!(read.iter().all(|(_, samples)| samples.len() == 2));
}

#[actix_web::test]
async fn a_peer_frozen_in_the_middle_of_its_answer_costs_the_read_its_budget_at_most() {
    let f = Fixture::new(&[]);
    f.a.write("db", None, series(30), &FieldPairs::new()).await.unwrap();
    f.break_reads("c:1", 2, true);
    let started = std::time::Instant::now();
    let e = f.read(everything()).await.unwrap_err();
    let took = started.elapsed();
    assert!(took >= READ_BUDGET && took < READ_BUDGET + std::time::Duration::from_secs(2), "{took:?}");
    assert_eq!(e.to_string(), "peer c:1 failed in the middle of the read: no answer within 10 s");
    assert!(f.a.cluster.is_down("c:1"));
    // Back up and frozen again: another request marking it down ends the wait at once.
    f.a.cluster.mark_up("c:1");
    assert_eq!(f.read_marking_down("c:1").await.unwrap_err().to_string(), "peer c:1 failed in the middle of the read: marked down while this request waited");
}

/// Per instance, the samples `storage` holds of `up`.
async fn samples_on(storage: &Arc<Storage>) -> BTreeMap<String, Vec<(i64, f64)>> {
    let mut stream = SeriesStream::local(storage.clone(), "db", Policies::One(None), everything()).await.unwrap();
    let mut out = BTreeMap::new();
    while let Some((labels, samples)) = stream.next_series().await.unwrap() {
        out.insert(labels.get("instance").to_string(), samples);
    }
    out
}

#[actix_web::test]
async fn copies_taken_for_a_down_owner_reach_it_once_it_is_back() {
    let f = Fixture::new(&["b:1"]);
    f.a.write("db", None, series(30), &FieldPairs::new()).await.unwrap();
    let later: Vec<SeriesWrite> = series(30).into_iter().map(|s| SeriesWrite { samples: vec![(3_000, 3.0)], ..s }).collect();
    f.a.write("db", None, later, &FieldPairs::new()).await.unwrap();
    let peers = f.a.cluster.peers();
    let owned_by_b: BTreeSet<String> = series(30).iter().filter(|s| placement::ranked(s.hash, &peers.hashes)[..2].contains(&1)).map(|s| s.labels.get("instance").to_string()).collect();
    let waiting = |h: &Handoff| h.pending().get("b:1").map_or(0, |p| p.series);
    let (on_a, on_c) = (waiting(f.a.handoff()), waiting(&f.handoffs[1]));
    assert_eq!(on_a + on_c, owned_by_b.len(), "one hint per series b owns, on the node that took its copy");
    assert!(on_a > 0 && on_c > 0, "both a and c stood in for b: {on_a} and {on_c}");
    assert!(samples_on(&f.storages[1]).await.is_empty());

    f.bring_back("b:1");
    f.a.probe_once().await;
    // b takes newer samples before the older ones reach it: those are merged in, not refused.
    let newer: Vec<SeriesWrite> = series(30).into_iter().map(|s| SeriesWrite { samples: vec![(4_000, 4.0)], ..s }).collect();
    f.a.write("db", None, newer, &FieldPairs::new()).await.unwrap();
    f.a.deliver_hints_once().await;
    assert_eq!(waiting(f.a.handoff()), 0, "a delivered its hints");
    assert_eq!(f.a.cluster.stats()["b:1"].handed_off_samples, 3 * on_a as u64);
    // c's hints were stored with its copies: a coordinator opened on c's storage finds them.
    let config = ClusterConfig { self_name: "c:1".into(), peers: NODES.iter().map(|n| n.to_string()).collect(), peers_file: None, replication_factor: 2, secret: "s".into() };
    let nodes: BTreeMap<String, Arc<Handoff>> = [("a:1".to_string(), Arc::new(Handoff::open(f.storages[0].clone()).unwrap())), ("b:1".to_string(), f.handoffs[0].clone())].into();
    let transport = InProcess { nodes, down: f.down.clone(), frozen: f.frozen.clone(), breaks: f.breaks.clone() };
    let c = Coordinator::new(Arc::new(Cluster::new(config).unwrap()), f.storages[2].clone(), Box::new(transport), crate::exec::delete::replay_deletion).unwrap();
    assert_eq!(waiting(c.handoff()), on_c);
    c.deliver_hints_once().await;
    assert_eq!(waiting(c.handoff()), 0);

    let on_b = samples_on(&f.storages[1]).await;
    assert_eq!(on_b.keys().cloned().collect::<BTreeSet<_>>(), owned_by_b, "b holds exactly the series it owns");
    for (instance, samples) in on_b {
        let i: f64 = instance.trim_start_matches("host").trim_end_matches(":9100").parse().unwrap();
        assert_eq!(samples, vec![(1_000, i), (2_000, 1.0), (3_000, 3.0), (4_000, 4.0)], "{instance}: every sample written while b was down, and after");
    }
    // The fallbacks keep their copies: every series still has two copies besides b's.
    let (a_holds, c_holds) = (samples_on(&f.storages[0]).await, samples_on(&f.storages[2]).await);
    assert!((0..30).all(|i| a_holds.contains_key(&format!("host{i}:9100")) && c_holds.contains_key(&format!("host{i}:9100"))));
}

#[actix_web::test]
async fn a_hint_touched_while_it_was_delivered_stays() {
    let dir = tempfile::tempdir().unwrap();
    let storage = Arc::new(Storage::open(StorageOptions { data_dir: dir.path().into(), shards: 1, sync_writes: false }, Arc::new(Metrics::default())).unwrap());
    storage.create_database("db", None).unwrap();
    let handoff = Handoff::open(storage.clone()).unwrap();
    handoff.store_copy("db", None, series(2), CopyKind::StandingFor("b:1")).await.unwrap();
    let read = handoff.batch("b:1", None);
    assert_eq!(read.len(), 2);
    assert_eq!((read[0].1.min_t, read[0].1.max_t), (1_000, 2_000));
    let later: Vec<SeriesWrite> = series(1).into_iter().map(|s| SeriesWrite { samples: vec![(5_000, 5.0)], ..s }).collect();
    handoff.store_copy("db", None, later, CopyKind::StandingFor("b:1")).await.unwrap();
    handoff.delivered(read).unwrap();
    assert_eq!(handoff.pending()["b:1"].series, 1, "the series written to meanwhile keeps its hint");
    let left = Handoff::open(storage.clone()).unwrap().batch("b:1", None);
    assert_eq!(left.len(), 1, "as stored");
    assert_eq!((left[0].1.min_t, left[0].1.max_t), (1_000, 5_000), "widened by the later write");
    handoff.store_copy("db", None, series(1), CopyKind::Owned).await.unwrap();
    assert_eq!(handoff.pending()["b:1"].series, 1, "a copy on an owner adds no hint");
}
