//! Tests of a tier read over the cluster (`tier_read`): on the three in-process nodes
//! (`test_nodes`), two copies of every series downsampled where they are, read through node a:
//! each series once with the windows of its samples, `through` the smallest node's, a node
//! down passed over while the other copy answers and the read failing as a raw read fails when
//! no copy is left; the merge of copies that differ, and the wire format bit for bit.

use super::*;
use crate::cluster::test_nodes::{Fixture, NODES};
use crate::data::write::SeriesWrite;
use crate::data::FieldPairs;
use crate::encoding::rollup::aggregate;
use crate::encoding::STALE_NAN_BITS;
use crate::index::matcher::{MatchKind, Matcher};
use std::time::Duration;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const WEEK: i64 = 7 * 24 * HOUR;
/// The start of a partition of the default policy (7 days from the epoch), after the time the
/// tests run: no write is late (one into a partition ready to downsample when it comes waits
/// the delay after it), and `downsample_for` says what time it is.
const W0: i64 = 1_900_000_000_000 / WEEK * WEEK;

/// 30 gauges `g`, each with two hours of a sample a minute in the second day of week `week`
/// (from `W0`), value `i` + minute % 7.
fn gauges(week: i64) -> Vec<SeriesWrite> {
    (0..30)
        .map(|i| {
            let instance = format!("host{i:02}");
            let labels = Labels::from_sorted([("__name__", "g"), ("instance", instance.as_str())]);
            let samples = (0..120).map(|m| (W0 + week * WEEK + 24 * HOUR + 30_000 + m * MINUTE, (i + m % 7) as f64)).collect();
            SeriesWrite { hash: labels.stable_hash(), labels, samples }
        })
        .collect()
}

/// Writes weeks 0 and 1 through a (two copies of each series) and seals every node.
async fn two_weeks(f: &Fixture) -> Vec<SeriesWrite> {
    let mut all = Vec::new();
    for week in [0, 1] {
        let writes = gauges(week);
        f.a.write("db", None, writes.clone(), &FieldPairs::new()).await.unwrap();
        all.extend(writes);
    }
    for s in &f.storages {
        s.seal_all().await.unwrap();
    }
    all
}

/// Downsamples node `i` as at `now_ms` (a partition is ready an hour after its end).
async fn downsample(f: &Fixture, i: usize, now_ms: i64) {
    assert!(f.storages[i].downsample_for(now_ms, Duration::MAX).await.unwrap());
}

/// The 5-minute windows of `g` over both weeks through a.
async fn read(f: &Fixture) -> Result<TierAnswer, Error> {
    let selection = Selection { matchers: vec![Matcher::new(MatchKind::Equal, "__name__", "g").unwrap()], min_t: W0, max_t: W0 + 2 * WEEK };
    f.a.read_tier("db", Policies::One(None), selection, Tier::FiveMinutes).await
}

/// Per series (label order), the 5-minute windows of its samples before `through`, as bits.
fn expected(writes: &[SeriesWrite], through: i64) -> Vec<(Labels, Vec<[u64; 10]>)> {
    let mut by_labels: BTreeMap<Labels, Vec<(i64, f64)>> = BTreeMap::new();
    for w in writes {
        by_labels.entry(w.labels.clone()).or_default().extend(w.samples.iter().filter(|s| s.0 < through));
    }
    by_labels.into_iter().map(|(l, samples)| (l, aggregate(&samples, Tier::FiveMinutes.resolution()).iter().map(Window::bits).collect())).collect()
}

fn bits(answer: &TierAnswer) -> Vec<(Labels, Vec<[u64; 10]>)> {
    answer.series.iter().map(|(l, w)| (l.clone(), w.iter().map(Window::bits).collect())).collect()
}

#[actix_web::test]
async fn copies_are_read_once_and_the_tier_ends_where_the_slowest_node_ends() {
    let f = Fixture::new(&[]);
    let writes = two_weeks(&f).await;
    let before = read(&f).await.unwrap();
    assert_eq!((before.series.len(), before.through), (0, W0), "nothing downsampled yet: the tier ends where the data begins");
    for i in 0..3 {
        downsample(&f, i, W0 + 3 * WEEK).await;
    }
    let answer = read(&f).await.unwrap();
    assert_eq!(answer.through, W0 + 2 * WEEK, "both weeks, on every node");
    assert_eq!(answer.series.len(), 30);
    assert_eq!(bits(&answer), expected(&writes, i64::MAX), "each series once, its windows bit for bit");
    assert_eq!(answer.series[0].1.len(), 2 * 24, "two hours of 5-minute windows in each week");
    for node in &NODES[1..] {
        assert_eq!(f.asked(node).iter().filter(|w| **w == "select_tier").count(), 2, "{node} was asked each time");
    }

    // Node c downsampled only the first week: the tier ends there, also for the series whose
    // copies are on a and b, which hold the second week's windows.
    let f = Fixture::new(&[]);
    let writes = two_weeks(&f).await;
    downsample(&f, 0, W0 + 3 * WEEK).await;
    downsample(&f, 1, W0 + 3 * WEEK).await;
    downsample(&f, 2, W0 + WEEK + 2 * HOUR).await;
    let answer = read(&f).await.unwrap();
    assert_eq!(answer.through, W0 + WEEK, "c's tier ends with the first week");
    assert_eq!(bits(&answer), expected(&writes, W0 + WEEK), "no window after the tier's end");
}

#[actix_web::test]
async fn a_node_down_is_passed_over_while_the_other_copy_answers() {
    let f = Fixture::new(&[]);
    let writes = two_weeks(&f).await;
    for i in 0..3 {
        downsample(&f, i, W0 + 3 * WEEK).await;
    }
    f.cut_off("b:1");
    let answer = read(&f).await.unwrap();
    assert!(f.a.cluster.is_down("b:1"), "the node that refused is marked down");
    assert_eq!(answer.through, W0 + 2 * WEEK);
    assert_eq!(bits(&answer), expected(&writes, i64::MAX), "every series from its other copy");
    // With as many nodes down as there are copies, some series has no copy left.
    f.cut_off("c:1");
    let e = read(&f).await.unwrap_err();
    assert_eq!(e.to_string(), "peers unreachable: b:1, c:1 (replication factor 2: the answer would be incomplete)");
}

/// A window starting at `start` minutes from `W0` of `count` samples, each worth 1.
fn window(start: i64, count: u64) -> Window {
    let t = W0 + start * MINUTE;
    Window { start: t, count, sum: count as f64, min: 1.0, max: 1.0, first: (t, 1.0), last: (t + 1, 1.0), resets: 0.0 }
}

fn starts_and_counts(answer: &TierAnswer) -> Vec<(String, Vec<(i64, u64)>)> {
    answer.series.iter().map(|(l, w)| (l.to_string(), w.iter().map(|w| ((w.start - W0) / MINUTE, w.count)).collect())).collect()
}

#[test]
fn copies_that_differ_merge_by_window_start_the_fuller_window_winning() {
    let (x, y) = (Labels::from_sorted([("__name__", "x")]), Labels::from_sorted([("__name__", "y")]));
    let a = TierAnswer { series: vec![(x.clone(), vec![window(0, 3), window(5, 2), window(15, 1)])], through: W0 + HOUR };
    let b = TierAnswer { series: vec![(x.clone(), vec![window(5, 4), window(10, 1), window(60, 9)]), (y.clone(), vec![window(60, 1)])], through: W0 + 2 * HOUR };
    let merged = merge(vec![a, b]);
    assert_eq!(merged.through, W0 + HOUR, "the smaller");
    // y's only window starts at the end of the tier: y is left out.
    assert_eq!(starts_and_counts(&merged), vec![(x.to_string(), vec![(0, 3), (5, 4), (10, 1), (15, 1)])]);
    let nothing = TierAnswer { series: Vec::new(), through: i64::MIN };
    let with_nothing = merge(vec![TierAnswer { series: vec![(y, vec![window(0, 1)])], through: W0 + HOUR }, nothing]);
    assert_eq!((with_nothing.series.len(), with_nothing.through), (0, i64::MIN), "a node without a tier makes the read raw");
}

#[test]
fn the_wire_format_keeps_every_bit() {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let odd_nan = f64::from_bits(0x7ff8_0000_dead_beef);
    let many: Vec<Window> = (0..crate::encoding::block::MAX_SAMPLES as i64 + 3).map(|i| window(5 * i, 1 + i as u64 % 5)).collect();
    let odd = vec![Window { start: -300_000, count: 7, sum: odd_nan, min: -0.0, max: f64::INFINITY, first: (-299_999, stale), last: (-1, f64::MIN_POSITIVE), resets: 1e300 }];
    let answer = TierAnswer { series: vec![(Labels::from_sorted([("__name__", "a"), ("x", "é")]), odd), (Labels::from_sorted([("__name__", "b")]), many)], through: 1_234_567 };
    let back = decode(&encode(&answer)).unwrap();
    assert_eq!(back.through, 1_234_567);
    assert_eq!(bits(&back), bits(&answer));
    let empty = decode(&encode(&TierAnswer::default())).unwrap();
    assert_eq!((empty.series.len(), empty.through), (0, i64::MIN));
    let bytes = encode(&answer);
    assert!(decode(&bytes[..bytes.len() - 1]).is_err(), "a cut answer does not decode");
}
