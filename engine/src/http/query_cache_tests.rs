//! The range-query cache's rules, with answers from the real evaluator: parts of a range merged
//! give the bytes of the whole range's answer (series that start or end inside it included),
//! a refresh evaluates only the steps not kept, what is newer than the offset is never kept, a
//! moved change counter or another key misses, the bypass rules, and eviction by last use.

use super::*;
use crate::index::matcher::{MatchKind, Matcher};
use crate::promql::build::{plan, Span};
use crate::promql::eval::Limits;
use crate::promql::plan::MatchOp;
use crate::promql::run::{run, Steps};
use crate::promql::tier::Resolution;
use crate::promql::value::{Stored, Value, STALE_NAN_BITS};
use std::cell::RefCell;
use std::time::{Duration, Instant};

const MIN: i64 = 60_000;
/// A whole minute, so that the step grid of 1 min holds it.
const T0: i64 = 28_333_333 * MIN;
const LOOKBACK: i64 = 5 * MIN;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    Labels::new(pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect())
}

/// One hour of samples every 15 s: `x` counters (one from the start, one starting at 30 min,
/// one ending at 20 min with a stale marker, one with a gap from 33 to 43 min) and a gauge `y`
/// with a NaN.
fn data() -> Vec<Series> {
    let every = |from: i64, to: i64, f: &dyn Fn(i64) -> f64| (from..=to).step_by(15).map(|s| Point { t: T0 + s * 1000, v: f(s) }).collect::<Vec<_>>();
    let mut ending = every(0, 1200, &|s| 2.0 * s as f64);
    ending.push(Point { t: T0 + 1215_000, v: f64::from_bits(STALE_NAN_BITS) });
    let mut gappy = every(0, 1980, &|s| s as f64 / 3.0);
    gappy.extend(every(2580, 3600, &|s| s as f64 / 3.0));
    vec![
        Series { labels: labels(&[("__name__", "x"), ("job", "a"), ("i", "1")]), points: every(0, 3600, &|s| s as f64 * 1.5) },
        Series { labels: labels(&[("__name__", "x"), ("job", "a"), ("i", "2")]), points: every(1800, 3600, &|s| (s - 1800) as f64) },
        Series { labels: labels(&[("__name__", "x"), ("job", "b"), ("i", "3")]), points: ending },
        Series { labels: labels(&[("__name__", "x"), ("job", "b"), ("i", "4")]), points: gappy },
        Series { labels: labels(&[("__name__", "y"), ("job", "a")]), points: every(0, 3600, &|s| if s == 1500 { f64::NAN } else { (s % 300) as f64 }) },
    ]
}

fn matches(m: &crate::promql::plan::LabelMatcher, l: &Labels) -> bool {
    let kind = match m.op {
        MatchOp::Equal => MatchKind::Equal,
        MatchOp::NotEqual => MatchKind::NotEqual,
        MatchOp::Regex => MatchKind::Regex,
        MatchOp::NotRegex => MatchKind::NotRegex,
    };
    Matcher::new(kind, &m.name, &m.value).unwrap().matches_value(l.get(&m.name))
}

/// The evaluator's answer to the range query `q` over [start, end] at `step` (ms).
fn eval(q: &str, start: i64, end: i64, step: i64) -> Matrix {
    let p = plan(q, Span { start, end, lookback: LOOKBACK }).unwrap();
    let all = data();
    let reads: Vec<Vec<Stored>> = p.reads.iter().map(|r| all.iter().filter(|s| r.matchers.iter().all(|m| matches(m, &s.labels))).map(|s| Stored::decoded(s.labels.clone(), s.points.clone())).collect()).collect();
    let limits = Limits { deadline: Instant::now() + Duration::from_secs(10), max_samples: 10_000_000 };
    match run(&p, &reads, Steps { start, end, step, lookback: LOOKBACK }, limits).unwrap() {
        Value::Matrix(m) => m,
        other => panic!("{q}: {other:?}"),
    }
}

const QUERIES: &[&str] = &[
    "x",
    "rate(x[5m])",
    "sum by (job) (rate(x[5m]))",
    "count(x)",
    "-x",
    "x offset 5m",
    "max_over_time(rate(x[2m])[10m:1m])",
    "time()",
    "absent(nope)",
    "label_replace(x, \"k\", \"$1\", \"i\", \"(.*)\")",
    "topk(1, x)",
    "x > 2000",
    "changes(y[10m])",
    "avg_over_time(y[3m])",
    "timestamp(x)",
    "y / on(job) group_left sum by (job) (x)",
];

#[test]
fn parts_merged_give_the_bytes_of_the_whole_answer() {
    let (start, end) = (T0 + 2 * MIN, T0 + 65 * MIN + 30_000);
    for q in QUERIES {
        let whole = eval(q, start, end, MIN);
        assert!(!whole.is_empty(), "{q}: the data must answer something");
        let want = crate::http::prom_format::matrix_data(&whole);
        // Splits before, inside and after the series that start, end and pause.
        for split in [start, T0 + 10 * MIN, T0 + 20 * MIN, T0 + 30 * MIN, T0 + 38 * MIN, T0 + 64 * MIN] {
            let parts = vec![eval(q, start, split, MIN), eval(q, split + MIN, end, MIN)];
            assert_eq!(crate::http::prom_format::matrix_data(&merge(parts)), want, "{q} split after {}", (split - T0) / MIN);
        }
        let three = vec![eval(q, start, T0 + 15 * MIN, MIN), eval(q, T0 + 16 * MIN, T0 + 40 * MIN, MIN), eval(q, T0 + 41 * MIN, end, MIN)];
        assert_eq!(crate::http::prom_format::matrix_data(&merge(three)), want, "{q} in three parts");
        // A kept answer cut to a smaller range is that range's answer.
        let (a, b) = (T0 + 25 * MIN, T0 + 45 * MIN);
        assert_eq!(crate::http::prom_format::matrix_data(&clip(&whole, a, b)), crate::http::prom_format::matrix_data(&eval(q, a, b, MIN)), "{q} clipped");
    }
    // The data holds what the test is about: a series only in the later part, one only in the
    // earlier part.
    let early = eval("x", start, T0 + 20 * MIN, MIN);
    let late = eval("x", T0 + 35 * MIN, end, MIN);
    assert!(early.iter().all(|s| s.labels.get("i") != "2") && late.iter().any(|s| s.labels.get("i") == "2"));
    assert!(early.iter().any(|s| s.labels.get("i") == "3") && late.iter().all(|s| s.labels.get("i") != "3"));
}

fn key(q: &str) -> Key {
    Key { db: "db".into(), rp: None, query: q.into(), step: MIN, lookback: LOOKBACK, resolution: Resolution::Auto }
}

/// Asks `cache` for `key` over [start, end] at `now`; answers the JSON and the ranges evaluated.
async fn ask(cache: &QueryCache, metrics: &Metrics, key: Key, start: i64, end: i64, now: i64) -> (String, Vec<(i64, i64)>) {
    let asked = RefCell::new(Vec::new());
    let q = key.query.clone();
    let part = |from: i64, to: i64| {
        asked.borrow_mut().push((from, to));
        std::future::ready(Ok::<_, ()>((eval(&q, from, to, MIN), Vec::new())))
    };
    let (m, warnings) = cache.answer(key, start, end, now, metrics, part).await.unwrap();
    assert!(warnings.is_empty());
    (crate::http::prom_format::matrix_data(&m), asked.into_inner())
}

fn counts(m: &Metrics) -> (u64, u64) {
    (m.query_cache_hits.load(Relaxed), m.query_cache_misses.load(Relaxed))
}

#[actix_web::test]
async fn a_refresh_evaluates_only_the_steps_not_kept() {
    let generations = Arc::new(Generations::default());
    let cache = QueryCache::new(1 << 30, 5 * MIN, generations.clone());
    let m = Metrics::default();
    let q = "sum by (job) (rate(x[5m]))";
    // "Now" is 50 min 10 s in: steps up to 45 min may be kept.
    let now = T0 + 50 * MIN + 10_000;
    let (start, end) = (T0 + 10 * MIN, T0 + 50 * MIN);
    let (got, asked) = ask(&cache, &m, key(q), start, end, now).await;
    assert_eq!(got, crate::http::prom_format::matrix_data(&eval(q, start, end, MIN)));
    assert_eq!(asked, vec![(start, end)]);
    assert_eq!(counts(&m), (0, 1));

    // The same panel 2 min later, its range moved by 2 steps: only the steps from 46 min on
    // (those of the last 5 min before the first "now" were not kept) are evaluated.
    let (start2, end2) = (start + 2 * MIN, end + 2 * MIN + 20_000);
    let (got, asked) = ask(&cache, &m, key(q), start2, end2, now + 2 * MIN).await;
    assert_eq!(got, crate::http::prom_format::matrix_data(&eval(q, start2, end2, MIN)));
    assert_eq!(asked, vec![(T0 + 46 * MIN, end2)]);
    assert_eq!(counts(&m), (1, 1));

    // A range inside what is kept is read only; a range starting earlier evaluates the steps
    // before the kept ones too.
    let (got, asked) = ask(&cache, &m, key(q), start2 + 5 * MIN, start2 + 20 * MIN, now + 2 * MIN).await;
    assert_eq!((got, asked), (crate::http::prom_format::matrix_data(&eval(q, start2 + 5 * MIN, start2 + 20 * MIN, MIN)), vec![]));
    let (got, asked) = ask(&cache, &m, key(q), start, start2 + 20 * MIN, now + 2 * MIN).await;
    assert_eq!(got, crate::http::prom_format::matrix_data(&eval(q, start, start2 + 20 * MIN, MIN)));
    assert_eq!(asked, vec![(start, start2 - MIN)]);
    assert_eq!(counts(&m), (3, 1));

    // A change of the database's past: everything is evaluated again.
    generations.bump("db");
    let (_, asked) = ask(&cache, &m, key(q), start, end, now).await;
    assert_eq!(asked, vec![(start, end)]);
    assert_eq!(counts(&m), (3, 2));
    // Another database's change does not matter.
    generations.bump("other");
    let (_, asked) = ask(&cache, &m, key(q), start, end, now).await;
    assert_eq!(asked, vec![(T0 + 46 * MIN, end)]);
}

#[actix_web::test]
async fn nothing_newer_than_the_offset_is_kept() {
    let cache = QueryCache::new(1 << 30, 5 * MIN, Arc::new(Generations::default()));
    let m = Metrics::default();
    // The whole range is within the offset: nothing kept, the next ask misses again.
    let now = T0 + 22 * MIN;
    for _ in 0..2 {
        let (_, asked) = ask(&cache, &m, key("x"), T0 + 18 * MIN, T0 + 22 * MIN, now).await;
        assert_eq!(asked, vec![(T0 + 18 * MIN, T0 + 22 * MIN)]);
    }
    assert_eq!(counts(&m), (0, 2));
    assert_eq!(cache.size().1, 0);
    // A step exactly at now - offset is not kept either.
    let now = T0 + 30 * MIN;
    ask(&cache, &m, key("x"), T0 + 10 * MIN, T0 + 30 * MIN, now).await;
    let (_, asked) = ask(&cache, &m, key("x"), T0 + 10 * MIN, T0 + 30 * MIN, now).await;
    assert_eq!(asked, vec![(T0 + 25 * MIN, T0 + 30 * MIN)]);
    // A clock gone back 3 min: the kept steps now newer than now - offset are evaluated again.
    let (got, asked) = ask(&cache, &m, key("x"), T0 + 10 * MIN, T0 + 24 * MIN, now - 3 * MIN).await;
    assert_eq!(asked, vec![(T0 + 22 * MIN, T0 + 24 * MIN)]);
    assert_eq!(got, crate::http::prom_format::matrix_data(&eval("x", T0 + 10 * MIN, T0 + 24 * MIN, MIN)));
}

#[actix_web::test]
async fn whatever_changes_the_answer_is_in_the_key() {
    let cache = QueryCache::new(1 << 30, 5 * MIN, Arc::new(Generations::default()));
    let m = Metrics::default();
    let now = T0 + 60 * MIN;
    ask(&cache, &m, key("x"), T0, T0 + 30 * MIN, now).await;
    let others = [
        Key { db: "db2".into(), ..key("x") },
        Key { rp: Some("autogen".into()), ..key("x") },
        key("x "),
        Key { lookback: 60_000, ..key("x") },
    ];
    for other in others {
        let (_, asked) = ask(&cache, &m, other.clone(), T0, T0 + 30 * MIN, now).await;
        assert_eq!(asked.len(), 1, "{other:?} must not use the answer of another key");
    }
    assert_eq!(counts(&m), (0, 5));
    let (_, asked) = ask(&cache, &m, key("x"), T0, T0 + 30 * MIN, now).await;
    assert!(asked.is_empty());
    assert_eq!(counts(&m), (1, 5));
}

#[test]
fn which_requests_bypass_the_cache() {
    let form = |q: &str| Form::new(q, b"");
    assert!(wanted(&form("query=rate(x[5m])"), 120_000, 60_000));
    assert!(wanted(&form("query=x&nocache=0"), 0, 15_000));
    assert!(wanted(&form("query=x&nocache=false"), 0, 15_000));
    for nocache in ["1", "true", "yes"] {
        assert!(!wanted(&form(&format!("query=x&nocache={nocache}")), 0, 15_000), "{nocache}");
    }
    // A start off the step grid.
    assert!(!wanted(&form("query=x"), 130_000, 60_000));
    // Steps that read after their own time, or a time the query's start or end picks.
    for q in ["x @ start()", "rate(x[5m] @ end())", "x @ 1700000000", "x offset -5m", "max_over_time(x[10m:1m] @ end())", "sum(rate(x[5m] offset -1m))", "x[10m:1m] offset -1m", "not ( valid"] {
        assert!(!reads_only_the_past(q), "{q}");
    }
    for q in ["x offset 5m", "rate(x[5m] offset 1h)", "max_over_time(rate(x[2m])[10m:1m] offset 1m)", "time()", "x{a=\"@ start()\"}"] {
        assert!(reads_only_the_past(q), "{q}");
    }
}

/// The check the handler makes of a query's selectors, on the text.
fn reads_only_the_past(query: &str) -> bool {
    crate::promql::build::parse(query).is_ok_and(|p| p.reads_only_the_past())
}

fn entry(n: usize) -> Arc<Matrix> {
    Arc::new(vec![Series { labels: labels(&[("__name__", "x")]), points: (0..n as i64).map(|i| Point { t: i * MIN, v: 1.0 }).collect() }])
}

#[test]
fn the_least_recently_used_answers_go_first() {
    let size = estimate(&key("a"), &entry(100));
    let cache = QueryCache::new(3 * size, 0, Arc::new(Generations::default()));
    for q in ["a", "b", "c"] {
        cache.put(key(q), 0, 99 * MIN, entry(100), 0);
    }
    assert_eq!(cache.size(), (3 * size, 3));
    assert!(cache.get(&key("a"), 0).is_some());
    cache.put(key("d"), 0, 99 * MIN, entry(100), 0);
    // "b" was used longest ago.
    assert!(cache.get(&key("b"), 0).is_none());
    for q in ["a", "c", "d"] {
        assert!(cache.get(&key(q), 0).is_some(), "{q}");
    }
    assert_eq!(cache.size(), (3 * size, 3));
    // Replacing an entry frees the old one; one larger than the cache is not kept (and the
    // old one of its key is gone).
    cache.put(key("a"), 0, 9 * MIN, entry(10), 0);
    assert_eq!(cache.size().1, 3);
    assert!(cache.size().0 < 3 * size);
    cache.put(key("c"), 0, 999 * MIN, entry(1000), 0);
    assert!(cache.get(&key("c"), 0).is_none());
    assert_eq!(cache.size().1, 2);
    // A stale entry goes when it is asked for.
    assert!(cache.get(&key("d"), 1).is_none());
    assert_eq!(cache.size().1, 1);
}
