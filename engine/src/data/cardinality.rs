//! Cardinality of stored series, the figures of Prometheus' `/api/v1/status/tsdb`: how many
//! series and distinct label pairs, how many stored pieces and the sample time range, and
//! the top-N lists Prometheus 2.42 computes from its head's postings (tsdb/index/postings.go
//! `MemPostings.Stats`): series per metric name, values per label name, the bytes of a
//! label's distinct values, series per label pair.
//!
//! `read` takes the series through the data interface (`Data::select`), so one node and a
//! cluster (whose reads fan out and merge the copies) answer alike; `Cardinality` is the pure
//! part: series go in one by one, and `top` cuts the lists to a limit.
//!
//! What is counted: the series matching any of the matcher sets that hold a sample in the
//! time range. `chunks` counts their stored pieces holding a sample in the range (XOR chunks,
//! open or full, of at most 120 samples as Prometheus' head cuts them, and sealed blocks), what
//! a read of the range reads; `min_time`/`max_time` are the first and last sample times in it.

use super::schema::Policies;
use super::{Data, Error, Selection, StoreError};
use crate::encoding::piece::StoredChunk;
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use std::collections::{BTreeMap, HashMap};

/// One entry of a top-N list: a name and its count (Prometheus' `TSDBStat`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Stat {
    pub name: String,
    pub value: u64,
}

/// What one series adds: its stored pieces with a sample in the range, and the first and
/// last sample time in it (ms).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeriesFacts {
    pub chunks: u64,
    pub min_time: i64,
    pub max_time: i64,
}

/// The answer: head figures and the four lists, each sorted by value, largest first (equal
/// values by name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    pub num_series: u64,
    pub num_label_pairs: u64,
    pub chunk_count: u64,
    /// `i64::MAX` and `i64::MIN` without series, as Prometheus' empty head reports them.
    pub min_time: i64,
    pub max_time: i64,
    pub series_count_by_metric_name: Vec<Stat>,
    pub label_value_count_by_label_name: Vec<Stat>,
    pub memory_in_bytes_by_label_name: Vec<Stat>,
    pub series_count_by_label_value_pair: Vec<Stat>,
}

/// Series added so far, as postings: label name → value → number of series.
#[derive(Debug)]
pub struct Cardinality {
    series: u64,
    chunks: u64,
    min_time: i64,
    max_time: i64,
    postings: HashMap<String, HashMap<String, u64>>,
}

impl Default for Cardinality {
    fn default() -> Cardinality {
        Cardinality { series: 0, chunks: 0, min_time: i64::MAX, max_time: i64::MIN, postings: HashMap::new() }
    }
}

impl Cardinality {
    pub fn add(&mut self, labels: &Labels, facts: SeriesFacts) {
        self.series += 1;
        self.chunks += facts.chunks;
        self.min_time = self.min_time.min(facts.min_time);
        self.max_time = self.max_time.max(facts.max_time);
        for (name, value) in labels.iter() {
            let values = self.postings.entry(name.to_string()).or_default();
            *values.entry(value.to_string()).or_default() += 1;
        }
    }

    /// The figures, each list cut to its `limit` largest entries. As `MemPostings.Stats`:
    /// values per label name count distinct values; a label's bytes are the summed lengths of
    /// its distinct values; label pairs are named `name=value`.
    pub fn top(&self, limit: usize) -> Summary {
        let mut by_metric = Vec::new();
        let (mut values_by_name, mut bytes_by_name, mut by_pair) = (Vec::new(), Vec::new(), Vec::new());
        let mut num_label_pairs = 0;
        for (name, values) in &self.postings {
            num_label_pairs += values.len() as u64;
            values_by_name.push(Stat { name: name.clone(), value: values.len() as u64 });
            bytes_by_name.push(Stat { name: name.clone(), value: values.keys().map(|v| v.len() as u64).sum() });
            for (value, series) in values {
                if name == "__name__" {
                    by_metric.push(Stat { name: value.clone(), value: *series });
                }
                by_pair.push(Stat { name: format!("{name}={value}"), value: *series });
            }
        }
        Summary {
            num_series: self.series,
            num_label_pairs,
            chunk_count: self.chunks,
            min_time: self.min_time,
            max_time: self.max_time,
            series_count_by_metric_name: largest(by_metric, limit),
            label_value_count_by_label_name: largest(values_by_name, limit),
            memory_in_bytes_by_label_name: largest(bytes_by_name, limit),
            series_count_by_label_value_pair: largest(by_pair, limit),
        }
    }
}

/// The `limit` entries with the largest values, largest first; equal values by name (where
/// Prometheus' order of equal values is that of a Go map, i.e. random).
fn largest(mut stats: Vec<Stat>, limit: usize) -> Vec<Stat> {
    stats.sort_by(|a, b| b.value.cmp(&a.value).then_with(|| a.name.cmp(&b.name)));
    stats.truncate(limit);
    stats
}

/// What a series' `chunks` hold in [min_t, max_t]: `None` without a sample there. Only the
/// pieces that lie partly outside the range are decoded.
pub fn facts(chunks: &[StoredChunk], min_t: i64, max_t: i64) -> Result<Option<SeriesFacts>, crate::encoding::piece::Error> {
    let mut found: Option<SeriesFacts> = None;
    for c in chunks {
        let span = if c.min_t >= min_t && c.max_t <= max_t {
            Some((c.min_t, c.max_t))
        } else if c.max_t < min_t || c.min_t > max_t {
            None
        } else {
            let mut span: Option<(i64, i64)> = None;
            c.each_in(min_t, max_t, |t, _| span = Some(span.map_or((t, t), |(first, _)| (first, t))))?;
            span
        };
        if let Some((first, last)) = span {
            let f = found.get_or_insert(SeriesFacts { chunks: 0, min_time: first, max_time: last });
            f.chunks += 1;
            f.min_time = f.min_time.min(first);
            f.max_time = f.max_time.max(last);
        }
    }
    Ok(found)
}

/// The cardinality of the series of `db` (policies `which`) matching any of `sets` (every
/// series when there are none) with a sample in [min_t, max_t].
pub async fn read(data: &Data, db: &str, which: Policies<'_>, sets: Vec<Vec<Matcher>>, (min_t, max_t): (i64, i64)) -> Result<Cardinality, Error> {
    let sets = if sets.is_empty() { vec![Vec::new()] } else { sets };
    // By label set: a series matching several sets counts once.
    let mut found: BTreeMap<Labels, SeriesFacts> = BTreeMap::new();
    for matchers in sets {
        let mut stream = data.select(db, which, Selection { matchers, min_t, max_t }).await?;
        while let Some((labels, chunks)) = stream.next_chunks().await? {
            let series_facts = facts(&chunks, min_t, max_t).map_err(|e| StoreError::Corrupt(format!("chunk in series {labels} ({})", e.what())))?;
            if let Some(f) = series_facts {
                found.insert(labels, f);
            }
        }
    }
    let mut cardinality = Cardinality::default();
    for (labels, f) in &found {
        cardinality.add(labels, *f);
    }
    Ok(cardinality)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::chunk::XorChunk;
    use crate::encoding::piece::Encoding;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        Labels::from_sorted(pairs.iter().copied())
    }

    fn stat(name: &str, value: u64) -> Stat {
        Stat { name: name.into(), value }
    }

    fn chunk(ts: &[i64]) -> StoredChunk {
        let mut c = XorChunk::new();
        for t in ts {
            c.append(*t, 1.0);
        }
        StoredChunk { min_t: c.min_time(), max_t: c.max_time(), data: c.into_bytes(), kind: Encoding::Xor }
    }

    fn one(chunks: u64, min_time: i64, max_time: i64) -> SeriesFacts {
        SeriesFacts { chunks, min_time, max_time }
    }

    #[test]
    fn figures_as_prometheus_postings_stats() {
        let mut c = Cardinality::default();
        c.add(&labels(&[("__name__", "up"), ("instance", "a:9100"), ("job", "node")]), one(1, 1_000, 5_000));
        c.add(&labels(&[("__name__", "up"), ("instance", "b:9100"), ("job", "node")]), one(2, 2_000, 9_000));
        c.add(&labels(&[("__name__", "http_requests_total"), ("code", "200"), ("job", "api")]), one(1, 500, 3_000));
        let s = c.top(10);
        assert_eq!((s.num_series, s.chunk_count, s.min_time, s.max_time), (3, 4, 500, 9_000));
        // __name__: up, http_requests_total; instance: a, b; job: node, api; code: 200.
        assert_eq!(s.num_label_pairs, 7);
        assert_eq!(s.series_count_by_metric_name, vec![stat("up", 2), stat("http_requests_total", 1)]);
        assert_eq!(s.label_value_count_by_label_name, vec![stat("__name__", 2), stat("instance", 2), stat("job", 2), stat("code", 1)]);
        // Distinct values' lengths: 2 + 19, 6 + 6, 4 + 3, 3.
        assert_eq!(s.memory_in_bytes_by_label_name, vec![stat("__name__", 21), stat("instance", 12), stat("job", 7), stat("code", 3)]);
        assert_eq!(
            s.series_count_by_label_value_pair,
            vec![stat("__name__=up", 2), stat("job=node", 2), stat("__name__=http_requests_total", 1), stat("code=200", 1), stat("instance=a:9100", 1), stat("instance=b:9100", 1), stat("job=api", 1)]
        );
        let s = c.top(2);
        assert_eq!(s.label_value_count_by_label_name, vec![stat("__name__", 2), stat("instance", 2)]);
        assert_eq!(s.series_count_by_label_value_pair, vec![stat("__name__=up", 2), stat("job=node", 2)]);
        assert_eq!(s.num_label_pairs, 7, "the head figures are not cut");
    }

    #[test]
    fn nothing_reads_as_an_empty_head() {
        let s = Cardinality::default().top(10);
        assert_eq!((s.num_series, s.num_label_pairs, s.chunk_count, s.min_time, s.max_time), (0, 0, 0, i64::MAX, i64::MIN));
        assert!(s.series_count_by_metric_name.is_empty() && s.series_count_by_label_value_pair.is_empty());
    }

    #[test]
    fn facts_count_the_pieces_with_samples_in_range_and_their_real_times() {
        let chunks = [chunk(&[100, 200, 300]), chunk(&[400, 500]), chunk(&[600, 700])];
        assert_eq!(facts(&chunks, 0, 1_000).unwrap(), Some(one(3, 100, 700)));
        // Cut inside the first and the last piece: the samples inside give the times.
        assert_eq!(facts(&chunks, 150, 650).unwrap(), Some(one(3, 200, 600)));
        // The range overlaps the first piece's span, but holds none of its samples.
        assert_eq!(facts(&chunks, 210, 290).unwrap(), None);
        assert_eq!(facts(&chunks, 250, 450).unwrap(), Some(one(2, 300, 400)));
        assert_eq!(facts(&chunks, 800, 900).unwrap(), None);
        assert_eq!(facts(&[], 0, 10).unwrap(), None);
    }
}
