//! The range-query cache (issue 28): a Grafana panel asks its whole range again every 5–30 s,
//! and a PromQL range query evaluates every step on its own, so the answer over [start, end]
//! is the union of the answers over parts of the same step grid. `QueryCache::answer` keeps,
//! per query (`Key`: database, policy, query text, step, lookback, `max_source_resolution`), the answer of the steps
//! [cached_start, cached_end], evaluates only the steps a refresh asks that are not kept
//! (before and after them) and merges (`merge`): series matched by label set, points in time
//! order, series sorted by labels as the evaluator sorts a range answer, so the bytes are
//! those of an uncached answer.
//!
//! What is kept and for how long:
//! - only steps older than now minus the offset (`--query.cache-offset`): samples may still
//!   arrive for newer ones;
//! - an answer is kept with the change counter of its database taken before it was computed
//!   (`data::generation`, bumped by the storage after deletions, retention, catalog changes
//!   and writes of samples older than the offset), and is dropped when the counter moved;
//! - at most `--query.cache-max-bytes` (estimated), the least recently used answers go first.
//!
//! Queries that bypass it (`wanted`): `nocache=1`, a start off the step grid, and queries
//! whose steps read data after their own time (any `@`, a negative `offset`, as the query's
//! plan shows: `promql::build::Parsed::reads_only_the_past`), which later writes could
//! change. The HTTP handler (`prom_api::query_range`) decides, this module keeps and merges;
//! it knows nothing of how a part is evaluated.

use super::prom_params::Form;
use crate::data::generation::Generations;
use crate::metrics::Metrics;
use crate::promql::value::{Labels, Matrix, Point, Series};
use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};

/// What makes two range queries the same question: everything but their start and end that
/// can change an answer. Credentials are not in it: a caller either may read the database or
/// is refused before the cache is asked.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    pub db: String,
    /// As asked: `None` reads the default policy (a change of the default bumps every
    /// database's counter).
    pub rp: Option<String>,
    /// The query text as given.
    pub query: String,
    /// ms.
    pub step: i64,
    /// ms.
    pub lookback: i64,
    /// The tiers the query may read (`max_source_resolution`).
    pub resolution: crate::promql::tier::Resolution,
}

/// A kept answer: the series of the steps [start, end] (ms, on the key's step grid).
struct Entry {
    start: i64,
    end: i64,
    series: Arc<Matrix>,
    generation: u64,
    bytes: usize,
    used: u64,
}

/// The entries, and their order of last use.
#[derive(Default)]
struct Lru {
    entries: HashMap<Key, Entry>,
    by_use: BTreeMap<u64, Key>,
    bytes: usize,
    clock: u64,
}

impl Lru {
    fn remove(&mut self, key: &Key) -> Option<Entry> {
        let e = self.entries.remove(key)?;
        self.by_use.remove(&e.used);
        self.bytes -= e.bytes;
        Some(e)
    }
}

/// The cache of one server. A cluster member has none: changes on the other nodes do not
/// move this node's counters.
pub struct QueryCache {
    max_bytes: usize,
    offset_ms: i64,
    generations: Arc<Generations>,
    lru: Mutex<Lru>,
}

/// Whether the request may use the cache: no `nocache` (VictoriaMetrics' parameter, true
/// unless empty, `0`, `f`, `false` or `no`) and `start` on the step grid. The query must also
/// read nothing after its steps' own times (`Parsed::reads_only_the_past`, asked by the
/// handler of the query it has parsed).
pub fn wanted(form: &Form, start: i64, step: i64) -> bool {
    let nocache = !matches!(form.value("nocache").to_ascii_lowercase().as_str(), "" | "0" | "f" | "false" | "no");
    !nocache && start.rem_euclid(step) == 0
}

/// The steps of `series` in [from, to], without the series left with none.
pub fn clip(series: &Matrix, from: i64, to: i64) -> Matrix {
    let mut out = Vec::with_capacity(series.len());
    for s in series {
        let a = s.points.partition_point(|p| p.t < from);
        let b = s.points.partition_point(|p| p.t <= to);
        if a < b {
            out.push(Series { labels: s.labels.clone(), points: s.points[a..b].to_vec() });
        }
    }
    out
}

/// The answers of consecutive parts of one range, in time order, as the answer of the whole:
/// a series' points are those of each part in turn, and the series are sorted by labels.
pub fn merge(parts: Vec<Matrix>) -> Matrix {
    if parts.len() == 1 {
        return parts.into_iter().next().unwrap_or_default();
    }
    let mut by_labels: BTreeMap<Labels, Vec<Point>> = BTreeMap::new();
    for s in parts.into_iter().flatten() {
        by_labels.entry(s.labels).or_default().extend(s.points);
    }
    by_labels.into_iter().map(|(labels, points)| Series { labels, points }).collect()
}

/// The memory an entry takes, roughly: its key, and per series its labels and points.
fn estimate(key: &Key, series: &Matrix) -> usize {
    let labels = |l: &Labels| l.iter().map(|(n, v)| n.len() + v.len() + 48).sum::<usize>();
    let per_series: usize = series.iter().map(|s| 64 + labels(&s.labels) + s.points.len() * std::mem::size_of::<Point>()).sum();
    256 + key.query.len() + key.db.len() + per_series
}

/// What the cache holds for a key: its steps [start, end] and their answer.
struct Cached {
    start: i64,
    end: i64,
    series: Arc<Matrix>,
}

impl QueryCache {
    /// A cache of at most `max_bytes` that never keeps steps newer than `now - offset_ms`,
    /// valid while `generations` do not move.
    pub fn new(max_bytes: usize, offset_ms: i64, generations: Arc<Generations>) -> QueryCache {
        QueryCache { max_bytes, offset_ms: offset_ms.max(0), generations, lru: Mutex::new(Lru::default()) }
    }

    /// The entry of `key` if it is still valid at `generation` (a stale one goes).
    fn get(&self, key: &Key, generation: u64) -> Option<Cached> {
        let mut lru = self.lru.lock().unwrap();
        if lru.entries.get(key)?.generation != generation {
            lru.remove(key);
            return None;
        }
        lru.clock += 1;
        let now = lru.clock;
        let e = lru.entries.get_mut(key)?;
        let previous = std::mem::replace(&mut e.used, now);
        let cached = Cached { start: e.start, end: e.end, series: e.series.clone() };
        lru.by_use.remove(&previous);
        lru.by_use.insert(now, key.clone());
        Some(cached)
    }

    /// Keeps the answer of the steps [start, end] of `key`, computed at `generation`, in place
    /// of what `key` held; the least recently used entries go until it fits. An answer larger
    /// than the whole cache is not kept.
    fn put(&self, key: Key, start: i64, end: i64, series: Arc<Matrix>, generation: u64) {
        let bytes = estimate(&key, &series);
        let mut lru = self.lru.lock().unwrap();
        lru.remove(&key);
        if bytes > self.max_bytes {
            return;
        }
        while lru.bytes + bytes > self.max_bytes {
            let Some((_, oldest)) = lru.by_use.pop_first() else { break };
            lru.remove(&oldest);
        }
        lru.clock += 1;
        let used = lru.clock;
        lru.by_use.insert(used, key.clone());
        lru.bytes += bytes;
        lru.entries.insert(key, Entry { start, end, series, generation, bytes, used });
    }

    /// The bytes held, estimated, and the number of entries.
    pub fn size(&self) -> (usize, usize) {
        let lru = self.lru.lock().unwrap();
        (lru.bytes, lru.entries.len())
    }

    /// The answer of the range query `key` over [start, end] (ms; `start` on the step grid)
    /// at `now_ms`, with its warnings: the kept steps it covers, and `eval(from, to)` for the
    /// parts it does not; then, when something was evaluated, the steps older than the offset
    /// are kept for the next time. Counts a hit when a kept part was used, a miss otherwise.
    pub async fn answer<F, Fut, E>(&self, key: Key, start: i64, end: i64, now_ms: i64, metrics: &Metrics, mut eval: F) -> Result<(Arc<Matrix>, Vec<String>), E>
    where
        F: FnMut(i64, i64) -> Fut,
        Fut: Future<Output = Result<(Matrix, Vec<String>), E>>,
    {
        let step = key.step;
        let last = start + (end - start) / step * step;
        // Taken before anything is read: a change while this evaluates makes what it keeps
        // stale at once.
        let generation = self.generations.current(&key.db);
        // The newest step that may be kept: strictly before now - offset.
        let keepable = (now_ms - self.offset_ms - 1).div_euclid(step) * step;
        // What is kept and still older than the offset (it always is, unless the clock went
        // back), when it meets the range asked.
        let cached = self.get(&key, generation).and_then(|c| {
            let end = c.end.min(keepable);
            (c.start <= end && c.start <= last && end >= start).then_some((end, c))
        });
        let Some((kept_end, c)) = cached else {
            metrics.query_cache_misses.fetch_add(1, Relaxed);
            let (answer, warnings) = eval(start, end).await?;
            let answer = Arc::new(answer);
            self.keep(key, start, last.min(keepable), &answer, &warnings, generation);
            return Ok((answer, warnings));
        };
        metrics.query_cache_hits.fetch_add(1, Relaxed);
        if c.start <= start && last <= kept_end {
            let whole = c.start == start && c.end == last;
            return Ok((if whole { c.series } else { Arc::new(clip(&c.series, start, last)) }, Vec::new()));
        }
        let mut parts = Vec::with_capacity(3);
        let mut warnings = Vec::new();
        if start < c.start {
            let (m, w) = eval(start, c.start - step).await?;
            parts.push(m);
            warnings.extend(w);
        }
        parts.push(clip(&c.series, start.max(c.start), last.min(kept_end)));
        if last > kept_end {
            let (m, w) = eval(kept_end + step, end).await?;
            parts.push(m);
            warnings.extend(w);
        }
        let answer = Arc::new(merge(parts));
        self.keep(key, start, last.min(keepable), &answer, &warnings, generation);
        Ok((answer, warnings))
    }

    /// Keeps the steps [start, to] of a computed answer of the steps from `start` to `last`
    /// (all of them when `to` is the answer's last step), unless there are none or the
    /// evaluation warned (a cluster node skipped).
    fn keep(&self, key: Key, start: i64, to: i64, answer: &Arc<Matrix>, warnings: &[String], generation: u64) {
        if !warnings.is_empty() || to < start {
            return;
        }
        let last_step = answer.iter().filter_map(|s| s.points.last()).map(|p| p.t).max().unwrap_or(i64::MIN);
        let kept = if last_step <= to { answer.clone() } else { Arc::new(clip(answer, start, to)) };
        self.put(key, start, to, kept, generation);
    }
}

#[cfg(test)]
#[path = "query_cache_tests.rs"]
mod tests;
