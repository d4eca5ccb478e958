//! Tests of `select_tier`: which tier a statement may read, which groups it answers, that a
//! tier's windows fold into the values their samples give (NaN, staleness markers, ties,
//! several series), and `SELECT`s on a downsampled store answering what they answer raw.

use super::*;
use crate::data::write::SeriesWrite;
use crate::encoding::rollup::{self, FIVE_MINUTES, ONE_HOUR};
use crate::encoding::STALE_NAN_BITS;
use crate::exec::select_fast::fold_groups;
use crate::exec::{run, Params, Principal};
use crate::metrics::Metrics;
use crate::model::PolicyOptions;
use crate::query::influxql;
use crate::storage::{Storage, StorageOptions};
use std::time::Duration;

const MIN_NS: i64 = 60_000_000_000;

fn call(func: &str) -> Call {
    Call { func: func.into(), arg: if func == "percentile" { 90.0 } else { 0.0 } }
}

fn calls(funcs: &[&str]) -> Vec<Call> {
    funcs.iter().map(|f| call(f)).collect()
}

fn grouped(minutes: i64, offset_minutes: i64) -> Windows {
    Windows { start: 0, end: i64::MAX, every: Some(minutes * MIN_NS), offset: offset_minutes * MIN_NS }
}

#[test]
fn the_coarsest_tier_dividing_interval_and_offset_answers_the_calls_it_can() {
    let (five, hour) = (Some(Tier::FiveMinutes), Some(Tier::OneHour));
    let mean = calls(&["mean"]);
    for (minutes, offset, want) in [(5, 0, five), (15, 0, five), (60, 0, hour), (1440, 0, hour), (120, 60, hour), (60, 5, five), (60, -10, five), (7, 0, None), (1, 0, None), (60, 1, None)] {
        assert_eq!(choose(&grouped(minutes, offset), &mean, Resolution::Auto), want, "time({minutes}m, {offset}m)");
    }
    let every = calls(&["count", "sum", "mean", "min", "max", "spread", "first", "last"]);
    assert_eq!(choose(&grouped(60, 0), &every, Resolution::Auto), hour);
    for other in ["median", "percentile", "stddev"] {
        assert_eq!(choose(&grouped(60, 0), &calls(&["count", other]), Resolution::Auto), None, "{other}");
    }
    assert_eq!(choose(&grouped(60, 0), &mean, Resolution::Raw), None);
    assert_eq!(choose(&grouped(60, 0), &mean, Resolution::Upto(Tier::FiveMinutes)), five);
    assert_eq!(choose(&grouped(5, 0), &mean, Resolution::Upto(Tier::OneHour)), five);
    assert_eq!(choose(&Windows { every: None, ..grouped(60, 0) }, &mean, Resolution::Auto), None, "no GROUP BY time");
}

#[test]
fn whole_groups_lie_inside_the_range() {
    let grid = Grid { every: 15 * 60_000, offset: 5 * 60_000 };
    let m = 60_000;
    assert_eq!(whole_groups(grid, (5 * m, 50 * m - 1)), (5 * m, 50 * m), "the range is whole groups");
    assert_eq!(whole_groups(grid, (5 * m + 1, 50 * m - 2)), (20 * m, 35 * m), "partial groups at both edges");
    assert_eq!(whole_groups(grid, (-11 * m, 49 * m)), (-10 * m, 35 * m), "before the epoch; [35m, 50m) is not whole");
    let (from, to) = whole_groups(grid, (6 * m, 19 * m));
    assert!(from >= to, "no whole group");
}

/// Samples (ms, value) of three series over two hours with NaN, staleness markers, infinities,
/// gaps, equal values and samples at the same times in several series.
fn samples() -> Vec<Vec<(i64, f64)>> {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let a: Vec<(i64, f64)> = (0..720)
        .map(|i| {
            let v = match i {
                90 => f64::NAN,   // the first sample of a 15-minute group
                95 => f64::NAN,   // inside a window
                200 => stale,
                300 => f64::INFINITY,
                _ => ((i * 7) % 23) as f64 * 0.25 - 2.0,
            };
            (i * 10_000, v)
        })
        .filter(|(t, _)| !(1_000_000..1_400_000).contains(t))
        .collect();
    let b: Vec<(i64, f64)> = (0..240).map(|i| (i * 30_000, if i == 40 { stale } else { (i % 5) as f64 })).collect();
    let c: Vec<(i64, f64)> = (0..100).map(|i| (3_600_000 + i * 36_000, if i % 9 == 0 { f64::NAN } else { -(i as f64) })).collect();
    vec![a, b, c]
}

/// Every tier call's value in every group of `windows`, of the series given as parts.
fn folded(series: Vec<Vec<Part>>, windows: &Windows) -> Vec<(i64, Vec<Option<u64>>)> {
    let funcs = TIER_CALLS.map(call);
    let series: Vec<_> = series.into_iter().enumerate().map(|(i, parts)| (vec![("s".to_string(), i.to_string())], Labels::from_sorted([("s", i.to_string().as_str())]), parts)).collect();
    let (groups, _) = fold_groups(&series, &[], &funcs, windows).unwrap();
    let (_, occupied) = groups.into_iter().next().unwrap();
    occupied.into_iter().map(|(start, (_, values))| (start, values.into_iter().map(|v| v.map(f64::to_bits)).collect())).collect()
}

fn raw_part(samples: &[(i64, f64)]) -> Part {
    let mut c = crate::encoding::chunk::XorChunk::new();
    for (t, v) in samples {
        c.append(*t, *v);
    }
    let chunk = crate::encoding::piece::StoredChunk { min_t: c.min_time(), max_t: c.max_time(), data: c.into_bytes(), kind: crate::encoding::piece::Encoding::Xor };
    Part::Raw { chunks: vec![chunk], range: (i64::MIN, i64::MAX) }
}

#[test]
fn tier_windows_fold_into_what_their_samples_give() {
    let all = samples();
    for (minutes, offset) in [(5, 0), (15, 0), (15, 5), (60, 0), (120, 60)] {
        let windows = grouped(minutes, offset);
        let raw = folded(all.iter().map(|s| vec![raw_part(s)]).collect(), &windows);
        assert!(raw.len() >= 2, "time({minutes}m)");
        let five = folded(all.iter().map(|s| vec![Part::Tier(rollup::aggregate(s, FIVE_MINUTES))]).collect(), &windows);
        assert_eq!(five, raw, "5-minute windows, time({minutes}m, {offset}m)");
        if minutes % 60 == 0 && offset % 60 == 0 {
            let hours = folded(all.iter().map(|s| vec![Part::Tier(rollup::coarsen(&rollup::aggregate(s, FIVE_MINUTES), ONE_HOUR))]).collect(), &windows);
            assert_eq!(hours, raw, "hours, time({minutes}m)");
        }
        // Raw samples before the group boundary at or before 1:00, the tier after it.
        let at = windows.floor(ONE_HOUR * 1_000_000) / 1_000_000;
        let split: Vec<Vec<Part>> = all
            .iter()
            .map(|s| {
                let (head, tail): (Vec<_>, Vec<_>) = s.iter().partition(|p| p.0 < at);
                vec![raw_part(&head), Part::Tier(rollup::aggregate(&tail, FIVE_MINUTES))]
            })
            .collect();
        assert_eq!(folded(split, &windows), raw, "raw then tier, time({minutes}m, {offset}m)");
    }
}

const HOUR: i64 = ONE_HOUR;
/// The start of an hour; the store's partitions are hours from it.
const T0: i64 = 1_800_000_000_000 / HOUR * HOUR;

/// A store of `cpu{host}` (hosts a and b, 10 s apart, 4.5 hours from `T0`, with a NaN, a
/// staleness marker and a gap) in hour partitions, the first three downsampled.
async fn downsampled(dir: &std::path::Path, metrics: Arc<Metrics>) -> Data {
    let storage = Arc::new(Storage::open(StorageOptions { data_dir: dir.into(), shards: 2, sync_writes: false }, metrics).unwrap());
    let hours = PolicyOptions { shard_duration: Some(crate::storage::catalog::HOUR_NS), ..Default::default() };
    storage.create_database("db", Some(("hours", &hours))).unwrap();
    let stale = f64::from_bits(STALE_NAN_BITS);
    let series = [("a", 1.0), ("b", 3.0)].map(|(host, scale)| {
        let labels = Labels::from_sorted([("__name__", "cpu"), ("host", host)]);
        let samples = (0..1620)
            .filter(|i| host == "a" || !(400..700).contains(i))
            .map(|i| {
                let v = match (host, i) {
                    ("a", 450) => f64::NAN,
                    ("a", 470) => stale,
                    _ => ((i * 7) % 31) as f64 * 0.5 * scale,
                };
                (T0 + 3_000 + i * 10_000, v)
            })
            .collect();
        SeriesWrite { hash: labels.stable_hash(), labels, samples }
    });
    let data = crate::storage::series_store::local_data(storage.clone());
    assert_eq!(data.write("db", None, series.to_vec(), &Default::default()).await.unwrap().accepted, 1620 + 1320);
    storage.seal_all().await.unwrap();
    // At 4:00 the first three hours ended an hour ago (the default delay) or more.
    assert!(storage.downsample_for(T0 + 4 * HOUR, Duration::MAX).await.unwrap());
    data
}

/// The answer of `q` with `resolution`, as text (NaN compares equal that way).
async fn answer(data: &Data, q: &str, resolution: Resolution, reads: &[AtomicU64; 2]) -> String {
    let mut out = Vec::new();
    for (stmt, text) in influxql::parse_with_text(q).unwrap() {
        let params = Params { db: Some("db"), rp: None, tiers: TierUse { resolution, reads: Some(reads) } };
        out.extend(run(data, &Principal::Anyone, stmt, &text, &params).await.unwrap());
    }
    assert!(!out.is_empty(), "{q}: no answer");
    format!("{out:?}")
}

fn time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).unwrap().to_string()
}

#[actix_web::test]
async fn grouped_selects_on_downsampled_data_answer_as_raw_data() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = Arc::new(Metrics::default());
    let data = downsampled(dir.path(), metrics).await;
    let reads: [AtomicU64; 2] = Default::default();
    let count = |reads: &[AtomicU64; 2]| reads.each_ref().map(|r| r.load(Relaxed));
    let whole = format!("time >= '{}' AND time < '{}'", time(T0), time(T0 + 5 * HOUR));
    // Partial groups at both edges, and groups after the tier's end (3:00).
    let partial = format!("time > '{}' AND time <= '{}'", time(T0 + 7 * 60_000 + 500), time(T0 + 4 * HOUR + 17 * 60_000));
    let everything = "count(value), sum(value), mean(value), min(value), max(value), spread(value), first(value), last(value)";
    let cases = [
        (format!("SELECT {everything} FROM cpu WHERE {whole} GROUP BY time(5m)"), [1, 0]),
        (format!("SELECT {everything} FROM cpu WHERE {partial} GROUP BY time(15m), host"), [1, 0]),
        (format!("SELECT {everything} FROM cpu WHERE {whole} GROUP BY time(1h), host"), [0, 1]),
        (format!("SELECT mean(value), max(value) FROM cpu WHERE {partial} AND host = 'b' GROUP BY time(1h) fill(none)"), [0, 1]),
        (format!("SELECT max(value) FROM cpu WHERE {whole} AND host =~ /a/ GROUP BY time(1h, 5m), * fill(0)"), [1, 0]),
        (format!("SELECT min(value) FROM cpu WHERE {partial} GROUP BY time(30m) ORDER BY time DESC LIMIT 3"), [1, 0]),
        // What no tier answers: read raw, not counted.
        (format!("SELECT percentile(value, 90), count(value) FROM cpu WHERE {whole} GROUP BY time(1h)"), [0, 0]),
        (format!("SELECT mean(value) FROM cpu WHERE {whole} GROUP BY time(7m)"), [0, 0]),
        (format!("SELECT mean(value) FROM cpu WHERE {whole}"), [0, 0]),
        (format!("SELECT mean(value) FROM cpu WHERE {whole} AND value > 3 GROUP BY time(1h)"), [0, 0]),
        // Only the hours after the tier's end: nothing to read from it.
        (format!("SELECT mean(value) FROM cpu WHERE time >= '{}' AND time < '{}' GROUP BY time(5m)", time(T0 + 3 * HOUR), time(T0 + 5 * HOUR)), [0, 0]),
    ];
    for (q, tier_reads) in cases {
        let before = count(&reads);
        let raw = answer(&data, &q, Resolution::Raw, &reads).await;
        assert_eq!(count(&reads), before, "{q}: raw read a tier");
        let tiered = answer(&data, &q, Resolution::Auto, &reads).await;
        assert_eq!(count(&reads), [before[0] + tier_reads[0], before[1] + tier_reads[1]], "{q}: tier reads");
        assert_eq!(tiered, raw, "{q}");
    }
    // `5m` keeps the hours from answering time(1h).
    let q = format!("SELECT sum(value) FROM cpu WHERE {whole} GROUP BY time(1h)");
    let before = count(&reads);
    let five = answer(&data, &q, Resolution::Upto(Tier::FiveMinutes), &reads).await;
    assert_eq!(count(&reads), [before[0] + 1, before[1]]);
    assert_eq!(five, answer(&data, &q, Resolution::Raw, &reads).await);
}

#[actix_web::test]
async fn staleness_markers_are_no_values_in_raw_answers() {
    let dir = tempfile::tempdir().unwrap();
    let data = downsampled(dir.path(), Arc::new(Metrics::default())).await;
    let reads: [AtomicU64; 2] = Default::default();
    // Host a's samples 460–479 (the marker at 470) lie in the group from 1:16:40 + 3 s.
    let (from, to) = (T0 + 3_000 + 460 * 10_000, T0 + 3_000 + 479 * 10_000);
    let q = format!("SELECT count(value) FROM cpu WHERE host = 'a' AND time >= '{}' AND time <= '{}'", time(from), time(to));
    let got = answer(&data, &q, Resolution::Raw, &reads).await;
    assert!(got.contains("Number(19.0)"), "{got}");
    let q = format!("SELECT value FROM cpu WHERE host = 'a' AND time >= '{}' AND time <= '{}'", time(from), time(to));
    let got = answer(&data, &q, Resolution::Raw, &reads).await;
    assert_eq!(got.matches("Time(").count(), 19, "{got}");
}
