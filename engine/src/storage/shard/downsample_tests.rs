//! Tests of downsampling (`downsample`): the 5-minute tier of sealed partitions against
//! figures worked out by hand, read through the data interface; what backfill, `DELETE`,
//! retention and a restart do to it; and a shard stopped dead in the middle of a partition.

use super::Shard;
use crate::data::write::SeriesWrite;
use crate::data::{Selection, TierAnswer};
use crate::encoding::rollup::{Tier, Window};
use crate::encoding::STALE_NAN_BITS;
use crate::index::matcher::{MatchKind, Matcher};
use crate::labels::Labels;
use crate::model::PolicyOptions;
use crate::storage::family::Family;
use crate::storage::series_store::local_data;
use crate::storage::testing::*;
use crate::storage::{catalog, Policies};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

pub(super) const S: i64 = 1000;
pub(super) const POLICY: u32 = 1;
/// The start of an hour: the partitions below are the hours from it.
pub(super) const T0: i64 = 1_800_000_000_000 / HOUR * HOUR;

/// A counter over two one-hour partitions with resets, gaps, staleness markers and a NaN, then
/// one sample three hours on, which moves the series on (seconds from `T0`, value).
pub(super) fn counter() -> Vec<(i64, f64)> {
    let stale = f64::from_bits(STALE_NAN_BITS);
    let at = [(10, 1.0), (70, 3.0), (130, 2.0), (190, stale), (250, 5.0), (310, 6.5), (430, 0.5), (3310, 8.0), (3590, 9.0), (3610, stale), (3910, 10.0), (4210, f64::NAN), (4270, 4.0), (10_810, 11.0)];
    at.iter().map(|&(s, v)| (T0 + s * S, v)).collect()
}

/// A window's figures, times in seconds from `T0`.
fn figures(w: &Window) -> String {
    let s = |t: i64| (t - T0) / S;
    format!("{} n={} sum={} min={} max={} first={:?} last={:?} resets={}", s(w.start), w.count, w.sum, w.min, w.max, (s(w.first.0), w.first.1), (s(w.last.0), w.last.1), w.resets)
}

/// Worked out by hand from `counter()`: markers are no values; a value below the one before
/// is a reset, which adds the value before it to `resets`; NaN is a value but no reset, and
/// min and max pass over it; the windows without a value (10–55 min, 60–65 min) are absent.
/// The last is the window of the open chunk, in the fourth hour.
const BY_HAND: [&str; 6] = [
    "0 n=4 sum=11 min=1 max=5 first=(10, 1.0) last=(250, 5.0) resets=3",
    "300 n=2 sum=7 min=0.5 max=6.5 first=(310, 6.5) last=(430, 0.5) resets=6.5",
    "3300 n=2 sum=17 min=8 max=9 first=(3310, 8.0) last=(3590, 9.0) resets=0",
    "3900 n=1 sum=10 min=10 max=10 first=(3910, 10.0) last=(3910, 10.0) resets=0",
    "4200 n=2 sum=NaN min=4 max=4 first=(4210, NaN) last=(4270, 4.0) resets=0",
    "10800 n=1 sum=11 min=11 max=11 first=(10810, 11.0) last=(10810, 11.0) resets=0",
];

pub(super) fn selection(min_t: i64, max_t: i64) -> Selection {
    Selection { matchers: vec![Matcher::new(MatchKind::Equal, "__name__", "c").unwrap()], min_t, max_t }
}

/// The figures of each series' windows, and where the tier ends (seconds from `T0`).
pub(super) fn answer(a: TierAnswer) -> (Vec<(String, Vec<String>)>, i64) {
    let series = a.series.iter().map(|(l, w)| (l.get("__name__").to_string(), w.iter().map(figures).collect())).collect();
    (series, (a.through.max(T0 - HOUR) - T0) / S)
}

fn by_hand(windows: std::ops::Range<usize>) -> Vec<(String, Vec<String>)> {
    vec![("c".to_string(), BY_HAND[windows].iter().map(|s| s.to_string()).collect())]
}

#[actix_web::test]
async fn sealed_partitions_are_downsampled_to_the_figures_worked_out_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let hours = PolicyOptions { duration: Some(6 * catalog::HOUR_NS), shard_duration: Some(catalog::HOUR_NS), ..Default::default() };
    let storage = Arc::new(open(dir.path()));
    storage.create_database("db", None).unwrap();
    storage.create_policy("db", "hours", &hours).unwrap();
    storage.write("db", Some("hours"), vec![series("c", counter())]).await.unwrap();
    storage.seal_all().await.unwrap();
    assert_eq!(storage.metrics.sealed_samples.load(Relaxed), 13, "both hours sealed");
    let data = local_data(storage.clone());
    let read = |min_t: i64, max_t: i64| {
        let data = data.clone();
        async move { answer(data.select_tier("db", Policies::All, selection(min_t, max_t), Tier::FiveMinutes).await.unwrap()) }
    };
    assert_eq!(read(T0, T0 + 4 * HOUR).await, (vec![], 0), "nothing downsampled yet: the tier ends where the data begins");

    // At 2:59 the second hour ended 59 minutes ago: within the delay (an hour), it waits.
    assert!(storage.downsample_for(T0 + 3 * HOUR - 60 * S, Duration::MAX).await.unwrap());
    assert_eq!(read(T0, T0 + 4 * HOUR).await, (by_hand(0..3), 3600), "the first hour");
    assert!(storage.downsample_for(T0 + 3 * HOUR, Duration::MAX).await.unwrap());
    assert_eq!(read(T0, T0 + 4 * HOUR).await, (by_hand(0..5), 7200), "both hours");
    assert_eq!((storage.metrics.downsample_windows_5m.load(Relaxed), storage.metrics.downsample_pending.load(Relaxed)), (5, 0));
    // A time range: the windows that overlap it.
    assert_eq!(read(T0 + 6 * 60 * S, T0 + 56 * 60 * S).await.0, by_hand(1..3));
    assert_eq!(read(T0 + 4 * 60 * S, T0 + 5 * 60 * S).await.0, by_hand(0..2), "both windows touch it");

    // After a restart the tier is there and nothing is done again.
    drop(data);
    storage.shutdown().await.unwrap();
    drop(Arc::into_inner(storage).expect("the only handle"));
    let storage = Arc::new(open(dir.path()));
    assert!(storage.downsample_for(T0 + 3 * HOUR, Duration::MAX).await.unwrap());
    assert_eq!(storage.metrics.downsample_windows_5m.load(Relaxed), 0, "nothing written again");
    let data = local_data(storage.clone());
    let read = |min_t: i64, max_t: i64| {
        let data = data.clone();
        async move { answer(data.select_tier("db", Policies::All, selection(min_t, max_t), Tier::FiveMinutes).await.unwrap()) }
    };
    assert_eq!(read(T0, T0 + 4 * HOUR).await, (by_hand(0..5), 7200), "after a restart");

    // A backfill into the first hour removes its tier, which is made anew with the sample.
    let out = storage.backfill("db", Some("hours"), vec![series("c", vec![(T0 + 620 * S, 2.0)])]).await.unwrap();
    assert_eq!(out.accepted, 1);
    assert_eq!(read(T0, T0 + 4 * HOUR).await, (vec![], 0), "the tier from the first hour on is gone");
    // Made anew at 10:00, and the fourth hour, where the series stopped in its open chunk.
    assert!(storage.downsample_for(T0 + 10 * HOUR, Duration::MAX).await.unwrap());
    let mut with_backfill = by_hand(0..6);
    with_backfill[0].1.insert(2, "600 n=1 sum=2 min=2 max=2 first=(620, 2.0) last=(620, 2.0) resets=0".to_string());
    assert_eq!(read(T0, T0 + 4 * HOUR).await, (with_backfill.clone(), 14400), "made anew");

    // DELETE of the second hour's first window: that hour's tier is made anew without it.
    let c = storage.select("db", Policies::All, selection(0, 0).matchers).await.unwrap();
    storage.delete_points(&c, T0 + 3900 * S, T0 + 4199 * S).await.unwrap();
    assert!(storage.downsample_for(T0 + 10 * HOUR, Duration::MAX).await.unwrap());
    with_backfill[0].1.remove(4);
    assert_eq!(read(T0, T0 + 4 * HOUR).await, (with_backfill.clone(), 14400), "without the deleted window");

    // Retention (6 h) at 7:30 drops the first hour, tier and all.
    storage.enforce_retention(T0 + 7 * HOUR + 1800 * S).await.unwrap();
    assert_eq!(read(T0, T0 + 4 * HOUR).await.0, vec![("c".to_string(), with_backfill[0].1[4..].to_vec())]);
    // DROP SERIES takes its windows with it.
    storage.delete_series(&c).await.unwrap();
    assert_eq!(read(T0, T0 + 4 * HOUR).await.0, vec![]);
}

/// Every key and value of one of a shard's families.
pub(super) fn contents(shard: &Shard, family: Family) -> Vec<(Vec<u8>, Vec<u8>)> {
    shard.db.iterator_cf(shard.cf(family), rocksdb::IteratorMode::Start).map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).unwrap()).collect()
}

/// The first day of `write_day`, and a time when both its days are ready to downsample.
pub(super) const DAY0: i64 = 1_800_000_000_000 / (24 * HOUR) * (24 * HOUR);
pub(super) const NOW: i64 = DAY0 + 50 * HOUR;

/// A shard in `dir` with `write_day` written and downsampled through at `NOW`.
pub(super) fn downsampled_through(dir: &std::path::Path) -> Shard {
    let mut whole = Shard::open_for_test(dir, &[POLICY]);
    write_day(&mut whole, DAY0);
    assert!(whole.downsample_all(NOW, Duration::MAX).unwrap());
    whole
}

/// Five series of two hours at 15 s in one day, each reset once, with a staleness marker,
/// then one sample each in the next day, which moves them on.
pub(super) fn write_day(shard: &mut Shard, day0: i64) {
    let writes = (0..5).map(|i| {
        let labels = Labels::from_sorted([("__name__", format!("s{i}").as_str())]);
        let mut samples: Vec<(i64, f64)> = (0..480).map(|j| (day0 + 1_234 + j * 15_000, ((j + 100 * i) % 300) as f64 * 0.5)).collect();
        samples[77].1 = f64::from_bits(STALE_NAN_BITS);
        samples.push((day0 + 24 * HOUR + 5_000, 1.0));
        SeriesWrite { hash: labels.stable_hash(), labels, samples }
    });
    let out = shard.write(POLICY, writes.collect()).unwrap();
    assert_eq!(out.accepted, 5 * 481);
    assert!(shard.seal_all(Duration::MAX).unwrap());
}

/// A shard stopped dead (no checkpoint, no flush: what RocksDB's log holds survives) after
/// two steps of a partition goes on after the restart where it stopped, and its tier is the
/// tier of a shard that ran through, byte for byte.
#[test]
fn a_shard_stopped_in_the_middle_of_a_partition_goes_on_where_it_stopped() {
    let (day0, now) = (DAY0, NOW);
    let whole_dir = tempfile::tempdir().unwrap();
    let whole = downsampled_through(whole_dir.path());
    let want = contents(&whole, Family::Rollup5m);
    // Per day a marker and a row per series: 24 windows (two hours), then the open chunk's one.
    assert_eq!(want.len(), 2 * (1 + 5));
    assert_eq!(whole.metrics.downsample_windows_5m.load(Relaxed), 5 * 24 + 5);

    let dir = tempfile::tempdir().unwrap();
    let mut shard = Shard::open_for_test(dir.path(), &[POLICY]);
    write_day(&mut shard, day0);
    shard.downsample.step_samples = 1;
    assert!(shard.downsample_step(now).unwrap() && shard.downsample_step(now).unwrap());
    assert_eq!((shard.metrics.downsample_windows_5m.load(Relaxed), shard.metrics.downsample_pending.load(Relaxed)), (2 * 24, 2), "two series done, both days pending");
    let first_two = contents(&shard, Family::Rollup5m);
    drop(shard);

    let mut shard = Shard::open_for_test(dir.path(), &[POLICY]);
    assert_eq!(shard.downsample.current.map(|(_, _, id)| id), Some(3), "the next series after the two");
    assert!(shard.downsample_step(now).unwrap());
    assert_eq!(shard.metrics.downsample_windows_5m.load(Relaxed), 3 * 24, "the other three, none again");
    assert!(shard.downsample_all(now, Duration::MAX).unwrap());
    let mut got = contents(&shard, Family::Rollup5m);
    assert_eq!(got, want, "the same keys and bytes");
    assert!(first_two[1..].iter().all(|kv| got.contains(kv)));
    assert!(!shard.downsample_step(now).unwrap(), "nothing left");
    drop(shard);

    // Done is done: a restart finds nothing pending.
    let mut shard = Shard::open_for_test(dir.path(), &[POLICY]);
    assert!(!shard.downsample_step(now).unwrap());
    assert_eq!(shard.metrics.downsample_pending.load(Relaxed), 0);
    got = contents(&shard, Family::Rollup5m);
    assert_eq!(got, want);
}

