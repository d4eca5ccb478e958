//! A cluster under partial failure (issue 18, items 1–4 and 6): three nodes on loopback with
//! two copies of each series, one or two of them frozen with SIGSTOP (a hung disk, a paused
//! pod) rather than killed. What a request waited for is told from the nodes' `/metrics`, not
//! from the clock: a frozen node answers nothing, so every request sent to it fails and is
//! counted (`gemini_cluster_forward_errors_total`).
//!
//! - `a_frozen_node_does_not_stall_the_others`: with one node frozen, Prometheus-shaped writes
//!   through the other two all succeed, while it stays frozen: each node's first request to it
//!   finds it out and marks it down, and every later write passes it over without asking it
//!   (its failed requests stay as they were, its copies go to another node); a remote read and
//!   a PromQL query through the others are complete, do not ask it, and name the node they
//!   skipped; after SIGCONT a background probe brings it back and writes reach it again.
//! - `reads_with_as_many_nodes_down_as_copies_still_fail_naming_them`: with two of three nodes
//!   frozen a read answers 503 naming both, never a partial 200; the first read asks them and
//!   marks them down, the second does not ask them again.
//! - `a_frozen_node_gets_the_copies_written_while_it_was_frozen`, and the same with the node
//!   killed and restarted, or with a node holding hints for it restarted meanwhile (item 4):
//!   the copies the others took for it while it was away reach it once it is back, and every
//!   owner ends with every sample.
//!
//! Frozen nodes are always resumed (`Frozen` sends SIGCONT when dropped, also on a failure).
//! The tests run one at a time: their budgets must not share two cores with another cluster.

use proto::prometheus as pb;
use std::time::{Duration, Instant};
use tests::cluster::*;
use tests::*;

/// How long a resumed node may take to be found up again by the probe.
const BACK_UP: Duration = Duration::from_secs(15);
const SKIPPED: &str = "X-Gemini-Skipped-Nodes";
const DB: &str = "prometheus";

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The metric names of the load, for one regex matcher.
const METRICS: &str = "node_(cpu_seconds_total|memory_MemAvailable_bytes|load1|network_receive_bytes_total|filesystem_avail_bytes)";

/// 200 series as node_exporter names them: 10 instances × (2 CPUs × 8 modes + 4 others),
/// written 10 samples at a time, 15 s apart, going forward from three hours ago; every sample
/// written is kept to compare with what is read back.
struct Load {
    labels: Vec<Vec<(String, String)>>,
    t0: i64,
    samples: i64,
    expected: Series,
}

impl Load {
    fn new() -> Load {
        let mut labels = Vec::new();
        for i in 0..10 {
            let instance = format!("10.0.{}.{}:9100", i / 4, 10 + i);
            let common = [("instance", instance.as_str()), ("job", "node")];
            for cpu in ["0", "1"] {
                for mode in ["idle", "iowait", "irq", "nice", "softirq", "steal", "system", "user"] {
                    labels.push(sorted(&common, &[("__name__", "node_cpu_seconds_total"), ("cpu", cpu), ("mode", mode)]));
                }
            }
            labels.push(sorted(&common, &[("__name__", "node_memory_MemAvailable_bytes")]));
            labels.push(sorted(&common, &[("__name__", "node_load1")]));
            labels.push(sorted(&common, &[("__name__", "node_network_receive_bytes_total"), ("device", "eth0")]));
            labels.push(sorted(&common, &[("__name__", "node_filesystem_avail_bytes"), ("device", "/dev/sda1"), ("fstype", "ext4"), ("mountpoint", "/")]));
        }
        assert_eq!(labels.len(), 200);
        Load { labels, t0: (now_s() - 3 * 3600) * 1000, samples: 0, expected: Series::new() }
    }

    /// The next write: 10 more samples of every series (values exact in binary).
    fn next(&mut self) -> pb::WriteRequest {
        let timeseries = self.labels.iter().enumerate().map(|(s, labels)| {
            let samples: Vec<(i64, f64)> = (self.samples..self.samples + 10).map(|k| (self.t0 + 15_000 * k, s as f64 * 1000.0 + k as f64 * 0.25)).collect();
            self.expected.entry(labels.clone()).or_default().extend(samples.iter().map(|(t, v)| (*t, v.to_bits())));
            let labels: Vec<(&str, &str)> = labels.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            series(&labels, &samples)
        });
        let req = pb::WriteRequest { timeseries: timeseries.collect(), metadata: vec![] };
        self.samples += 10;
        req
    }

    /// The newest timestamp written, in seconds.
    fn last_s(&self) -> i64 {
        (self.t0 + 15_000 * (self.samples - 1)) / 1000
    }
}

fn sorted(a: &[(&str, &str)], b: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = a.iter().chain(b).map(|(n, v)| (n.to_string(), v.to_string())).collect();
    labels.sort();
    labels
}

/// A write through `g`: its answer and how long it took.
fn timed_write(g: &Gemini, req: &pb::WriteRequest) -> (Answer, Duration) {
    let start = Instant::now();
    let a = g.write(DB, req);
    (a, start.elapsed())
}

/// A remote read (SAMPLES) of the load through `g`: the answer (a 200), its series, its time.
fn read_load(g: &Gemini) -> (Answer, Series, Duration) {
    let req = pb::ReadRequest { queries: vec![query_all(vec![matcher(2, "__name__", METRICS)])], accepted_response_types: vec![] };
    let start = Instant::now();
    let a = g.read(DB, &req);
    let took = start.elapsed();
    let mut results = decode_samples(&a.body).results;
    assert_eq!(results.len(), 1);
    let got = to_series(results.remove(0).timeseries);
    (a, got, took)
}

/// How `got` differs from `expected`, in a few numbers (empty when equal).
fn difference(expected: &Series, got: &Series) -> String {
    let missing = expected.keys().filter(|k| !got.contains_key(*k)).count();
    let extra = got.keys().filter(|k| !expected.contains_key(*k)).count();
    let (mut short, mut long, mut other) = (0, 0, 0);
    for (k, want) in expected {
        match got.get(k) {
            Some(have) if have.len() < want.len() => short += 1,
            Some(have) if have.len() > want.len() => long += 1,
            Some(have) if have != want => other += 1,
            _ => {}
        }
    }
    let samples = |s: &Series| s.values().map(Vec::len).sum::<usize>();
    if expected == got {
        return String::new();
    }
    format!(
        "{} series, {} samples read for {} series, {} samples written: {missing} series missing, {extra} unexpected, \
         {short} with samples missing, {long} with samples twice or more, {other} with other values",
        got.len(),
        samples(got),
        expected.len(),
        samples(expected)
    )
}

fn millis(d: Duration) -> String {
    format!("{:.0} ms", d.as_secs_f64() * 1000.0)
}

/// p50, p99 and max of some durations.
fn percentiles(took: &[Duration]) -> String {
    let mut sorted = took.to_vec();
    sorted.sort();
    let at = |q: f64| sorted[((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1];
    format!("p50 {}, p99 {}, max {}", millis(at(0.5)), millis(at(0.99)), millis(*sorted.last().unwrap()))
}

/// A node's counts about one peer, from its `/metrics` (every line must be there).
#[derive(Debug, Clone, Copy, PartialEq)]
struct PeerCounts {
    /// 1 while the node has the peer marked down.
    down: f64,
    /// Requests to the peer that failed or ran out of their budget: a frozen peer fails every
    /// request it is sent, so this counts the requests that waited on it.
    errors: f64,
    /// Copies passed over to the next node because the peer was down.
    failovers: f64,
    /// Reads answered without the peer.
    skips: f64,
    /// Samples forwarded to the peer (it answered).
    forwarded: f64,
}

fn counts(g: &Gemini, peer: &str) -> PeerCounts {
    let line = |name: &str| metric(g, &format!("{name}{{peer=\"{peer}\"}}"));
    PeerCounts {
        down: line("gemini_cluster_peer_down"),
        errors: line("gemini_cluster_forward_errors_total"),
        failovers: line("gemini_cluster_failovers_total"),
        skips: line("gemini_cluster_read_skips_total"),
        forwarded: line("gemini_cluster_forwarded_samples_total"),
    }
}

#[test]
fn a_frozen_node_does_not_stall_the_others() {
    let _serial = serial();
    let files = tempfile::tempdir().unwrap();
    let c = cluster(3, 2, &files.path().join("peers"));
    let (n0, n1) = (&c.nodes[0], &c.nodes[1]);
    let frozen_name = node_name(&c.nodes[2]);
    let down = format!("gemini_cluster_peer_down{{peer=\"{frozen_name}\"}}");
    let probes = format!("gemini_cluster_probes_total{{peer=\"{frozen_name}\"}}");
    let mut load = Load::new();

    // With every node up, through node 0 and node 1 alternately.
    let mut before = Vec::new();
    for w in 0..4 {
        let (a, took) = timed_write(&c.nodes[w % 2], &load.next());
        assert_eq!(a.status, 204, "write {w} with every node up: {}", a.text());
        before.push(took);
    }
    eprintln!("4 writes of 200 series × 10 samples, every node up: {}", percentiles(&before));
    for g in [n0, n1] {
        let up = counts(g, &frozen_name);
        assert!(up.down == 0.0 && up.errors == 0.0 && up.forwarded > 0.0, "node {}'s counts for node 2 with every node up: {up:?}", g.port);
    }

    let frozen = Frozen::new(&[&c.nodes[2]]);
    eprintln!("froze node 2 ({frozen_name})");
    // Each coordinating node finds the frozen peer out by itself, on its first write to it
    // (nodes do not tell each other) or on delivering the copies another node took for it:
    // that request waits for its budget, fails on node 2 and marks it down (a request to node 2
    // still waiting then fails at once), and its copies go on to another node. Writes
    // alternate, so writes 0 and 1 are each node's first. Every later write, through either
    // node, passes node 2 over without asking it: a request to it could only fail (it answers
    // nothing while frozen), so the failed requests to it stay as they were after write 2.
    let mut took = Vec::new();
    let mut failovers = [0.0; 2];
    let mut settled: Option<[f64; 2]> = None;
    for w in 0..40 {
        let via = w % 2;
        let (a, t) = timed_write(&c.nodes[via], &load.next());
        eprintln!("write {w:2} via node {via}: {} in {}", a.status, millis(t));
        took.push(t);
        assert_eq!(a.status, 204, "write {w} via node {via} with node 2 frozen: {}", a.text());
        let now = [counts(n0, &frozen_name), counts(n1, &frozen_name)];
        assert!(now[via].down == 1.0 && now[via].errors >= 1.0, "node {via} marks node 2 down on its first write: {:?}", now[via]);
        // (A first write sends node 2's copies on because it failed, not as passed over.)
        assert!(w < 2 || now[via].failovers > failovers[via], "write {w} passed node 2 over for its copies: {:?}", now[via]);
        failovers[via] = now[via].failovers;
        let errors = [now[0].errors, now[1].errors];
        match settled {
            None if w == 2 => settled = Some(errors),
            None => {}
            Some(then) => assert_eq!(errors, then, "failed requests to node 2 on nodes 0 and 1 after write {w}: a write waited on the frozen node"),
        }
    }
    eprintln!("40 writes with node 2 frozen: {}", percentiles(&took));

    // Everything written is read back once, through a node that knows the peer is down,
    // without asking it.
    let before_read = counts(n0, &frozen_name);
    let (a, got, read_took) = read_load(n0);
    eprintln!("remote read through node 0: {} series in {}, {SKIPPED}: {:?}", got.len(), millis(read_took), a.header(SKIPPED));
    let diff = difference(&load.expected, &got);
    assert!(diff.is_empty(), "the read through node 0 with node 2 frozen: {diff}");
    let skipped = a.header(SKIPPED).unwrap_or_else(|| panic!("no {SKIPPED} header on the read"));
    assert!(skipped.contains(&frozen_name), "{SKIPPED}: {skipped:?}, not naming {frozen_name}");
    let after_read = counts(n0, &frozen_name);
    assert_eq!(after_read, PeerCounts { skips: before_read.skips + 1.0, ..before_read }, "the read skipped node 2 without asking it");

    // PromQL too, with a warning naming the node it skipped.
    let before_query = counts(n1, &frozen_name);
    let answer = promql_answer(n1, "count(node_cpu_seconds_total)", load.last_s());
    eprintln!("PromQL count through node 1: {answer}");
    assert_eq!(answer["data"]["result"][0]["value"][1], "160", "{answer}");
    let warnings = answer["warnings"].as_array().unwrap_or_else(|| panic!("no warnings: {answer}"));
    assert!(warnings.iter().any(|w| w.as_str().is_some_and(|w| w.contains(&frozen_name))), "no warning names {frozen_name}: {answer}");
    let after_query = counts(n1, &frozen_name);
    assert_eq!(after_query.errors, before_query.errors, "the PromQL query asked the frozen node: {after_query:?}");
    assert!(after_query.skips > before_query.skips, "the PromQL query skipped node 2: {after_query:?}");
    assert_eq!([counts(n0, &frozen_name).errors, after_query.errors], settled.unwrap(), "failed requests to node 2 after the reads");

    // Resumed, the probe finds it up again; writes and reads go on without skipping it.
    frozen.resume();
    let resumed = Instant::now();
    wait_until("node 0 finds node 2 up again", BACK_UP, || metric(n0, &down) == 0.0 && metric(n0, &probes) > 0.0);
    eprintln!("node 2 up again for node 0 {} after SIGCONT; {probes} {}", millis(resumed.elapsed()), metric(n0, &probes));
    let before_write = counts(n0, &frozen_name);
    let (a, took) = timed_write(n0, &load.next());
    eprintln!("write after resuming: {} in {}", a.status, millis(took));
    assert_eq!(a.status, 204, "{}", a.text());
    let after_write = counts(n0, &frozen_name);
    assert!(after_write.forwarded > before_write.forwarded, "the write after resuming sent node 2 its copies: {after_write:?}");
    assert_eq!((after_write.errors, after_write.failovers), (before_write.errors, before_write.failovers), "the write after resuming went to node 2 and it answered");
    let (a, _, took) = read_load(n0);
    eprintln!("read after resuming: {}, {SKIPPED}: {:?}", millis(took), a.header(SKIPPED));
    assert_eq!(a.header(SKIPPED), None, "no node is skipped once node 2 is back");
}

#[test]
fn reads_with_as_many_nodes_down_as_copies_still_fail_naming_them() {
    let _serial = serial();
    let files = tempfile::tempdir().unwrap();
    let c = cluster(3, 2, &files.path().join("peers"));
    let mut load = Load::new();
    for w in 0..2 {
        let a = c.nodes[w].write(DB, &load.next());
        assert_eq!(a.status, 204, "{}", a.text());
    }
    let frozen_names = [node_name(&c.nodes[1]), node_name(&c.nodes[2])];
    let _frozen = Frozen::new(&[&c.nodes[1], &c.nodes[2]]);
    let request = pb::ReadRequest { queries: vec![query_all(vec![matcher(2, "__name__", METRICS)])], accepted_response_types: vec![] };
    let body = snap::raw::Encoder::new().compress_vec(&prost::Message::encode_to_vec(&request)).unwrap();
    // The first read finds them out: it asks both, each fails (after the read budget) and is
    // marked down. The second knows: it asks neither (their failed requests stay at one) and
    // answers at once, skipping both.
    for (attempt, errors, skips) in [("first", 1.0, 1.0), ("second", 1.0, 2.0)] {
        let start = Instant::now();
        let a = c.nodes[0].post(&format!("/api/v1/prom/read?db={DB}"), &PROTO_HEADERS, &body);
        let took = start.elapsed();
        let partial = if a.status == 200 { format!("{} of 200 series", decode_samples(&a.body).results[0].timeseries.len()) } else { a.text() };
        eprintln!("{attempt} read with nodes 1 and 2 frozen: {} in {}: {partial}", a.status, millis(took));
        assert_eq!(a.status, 503, "{attempt} read: {partial}");
        for name in &frozen_names {
            assert!(a.text().contains(name), "{attempt} read: the 503 does not name {name}: {}", a.text());
            let now = counts(&c.nodes[0], name);
            assert_eq!((now.down, now.errors, now.skips), (1.0, errors, skips), "{attempt} read: node 0's (down, failed requests, skips) for {name}: {now:?}");
        }
    }
}

/// How the node that was away comes back in a handoff test.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Away {
    /// Frozen with SIGSTOP, then resumed with SIGCONT.
    Frozen,
    /// Killed with SIGKILL, then started again on its data directory.
    Killed,
    /// Frozen; meanwhile node 1, which holds hints for it, is killed and started again; then
    /// resumed.
    FrozenWhileAFallbackRestarts,
}

/// Within this after the node is back, its copies are delivered.
const HANDOFF: Duration = Duration::from_secs(30);

/// Series `g` holds samples of for `peer` that are not delivered yet (its `/metrics`).
fn pending_for(g: &Gemini, peer: &str) -> f64 {
    let line = format!("gemini_cluster_handoff_pending_series{{peer=\"{peer}\"}}");
    metric(g, &line)
}

/// Three nodes with two copies each; node 2 is away (`away`) while 40 writes go through nodes
/// 0 and 1, and comes back: within `HANDOFF` the others have delivered everything they held for
/// it, and every owner of every series (the two nodes a fresh write with every node up puts it
/// on) holds every sample written, read from each node's own data. Writes go on as it comes
/// back, so it holds newer samples before the older ones reach it.
fn a_returning_node_gets_its_copies(away: Away) {
    let _serial = serial();
    let files = tempfile::tempdir().unwrap();
    let mut c = cluster(3, 2, &files.path().join("peers"));
    let away_name = node_name(&c.nodes[2]);
    let mut load = Load::new();
    for w in 0..4 {
        let a = c.nodes[w % 2].write(DB, &load.next());
        assert_eq!(a.status, 204, "write {w} with every node up: {}", a.text());
    }
    let frozen = match away {
        Away::Killed => {
            c.nodes[2].kill9();
            None
        }
        Away::Frozen | Away::FrozenWhileAFallbackRestarts => Some(Frozen::new(&[&c.nodes[2]])),
    };
    let away_from = Instant::now();
    let mut took = Vec::new();
    for w in 0..40 {
        let (a, t) = timed_write(&c.nodes[w % 2], &load.next());
        assert_eq!(a.status, 204, "write {w} with node 2 away ({away:?}): {}", a.text());
        took.push(t);
    }
    eprintln!("{away:?}: 40 writes with node 2 away: {}", percentiles(&took));
    let pending: Vec<f64> = (0..2).map(|i| pending_for(&c.nodes[i], &away_name)).collect();
    eprintln!("{away:?}: series held for node 2 on nodes 0 and 1: {pending:?}");
    assert!(pending.iter().all(|p| *p > 0.0), "nodes 0 and 1 both took copies for node 2: {pending:?}");

    if away == Away::FrozenWhileAFallbackRestarts {
        c.nodes[1].kill9();
        c.nodes[1].restart();
        assert_eq!(pending_for(&c.nodes[1], &away_name), pending[1], "node 1 keeps its hints across a kill -9 and restart");
    }
    let back = Instant::now();
    match frozen {
        Some(f) => f.resume(),
        None => c.nodes[2].restart(),
    }
    // Writes go on until nodes 0 and 1 have delivered all they held for node 2: node 2 takes
    // newer samples while (or before) the older ones reach it.
    let mut after = Vec::new();
    wait_until("nodes 0 and 1 deliver everything they hold for node 2, with writes going on", HANDOFF, || {
        let w = after.len();
        let (a, t) = timed_write(&c.nodes[w % 2], &load.next());
        assert_eq!(a.status, 204, "write {w} after node 2 is back ({away:?}): {}", a.text());
        after.push(t);
        (0..2).all(|i| pending_for(&c.nodes[i], &away_name) == 0.0)
    });
    eprintln!("{away:?}: {} writes as node 2 comes back: {}", after.len(), percentiles(&after));
    let delivered = back.elapsed();
    eprintln!("{away:?}: node 2 away for {}, its copies delivered {} after it was back", millis(back - away_from), millis(delivered));

    // The owners, from a fresh write once every node finds every other up.
    let names: Vec<String> = c.nodes.iter().map(node_name).collect();
    wait_until("every node finds every other up", BACK_UP, || {
        c.nodes.iter().enumerate().all(|(i, g)| names.iter().enumerate().filter(|(j, _)| *j != i).all(|(_, n)| metric(g, &format!("gemini_cluster_peer_down{{peer=\"{n}\"}}")) == 0.0))
    });
    let a = c.nodes[0].write(DB, &load.next());
    assert_eq!(a.status, 204, "the fresh write: {}", a.text());
    let fresh_t = load.last_s() * 1000;
    let held: Vec<Series> = c.nodes.iter().map(|g| own_samples(g, DB, vec![matcher(2, "__name__", METRICS)])).collect();
    let mut owned_by_2 = 0;
    let mut incomplete = Vec::new();
    for (labels, want) in &load.expected {
        let owners: Vec<usize> = (0..3).filter(|i| held[*i].get(labels).is_some_and(|s| s.iter().any(|(t, _)| *t == fresh_t))).collect();
        assert_eq!(owners.len(), 2, "{labels:?}: the fresh sample is on two nodes, {owners:?}");
        owned_by_2 += usize::from(owners.contains(&2));
        for o in owners {
            if held[o][labels] != *want {
                incomplete.push(format!("node {o} holds {} of {} samples of {labels:?}", held[o][labels].len(), want.len()));
            }
        }
    }
    eprintln!("{away:?}: node 2 owns {owned_by_2} of 200 series");
    assert!(owned_by_2 > 0);
    assert!(incomplete.is_empty(), "{away:?}: {} owners miss samples, e.g. {:?}", incomplete.len(), &incomplete[..incomplete.len().min(3)]);
    // Each series node 2 owns had 40 writes of 10 samples while it was away.
    let line = format!("gemini_cluster_handoff_delivered_samples_total{{peer=\"{away_name}\"}}");
    let handed: f64 = (0..2).map(|i| metric_value(&c.nodes[i], &line).unwrap_or(0.0)).sum();
    assert!(handed >= (owned_by_2 * 400) as f64, "{line}: {handed} on nodes 0 and 1, for {owned_by_2} series × 400 samples");
}

#[test]
fn a_frozen_node_gets_the_copies_written_while_it_was_frozen() {
    a_returning_node_gets_its_copies(Away::Frozen);
}

#[test]
fn a_killed_and_restarted_node_gets_the_copies_written_while_it_was_down() {
    a_returning_node_gets_its_copies(Away::Killed);
}

#[test]
fn hints_survive_a_restart_of_the_node_that_holds_them() {
    a_returning_node_gets_its_copies(Away::FrozenWhileAFallbackRestarts);
}
