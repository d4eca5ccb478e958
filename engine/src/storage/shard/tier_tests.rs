//! Tests of the 1-hour tier and of retention per tier (`downsample`, `tier`, `retention`):
//! hours against figures worked out by hand from the raw samples, a shard stopped dead while
//! making them, and raw data dropped before the tiers that outlive it, across restarts.

use super::downsample_tests::{answer, contents, counter, downsampled_through, selection, write_day, DAY0, NOW, POLICY, S, T0};
use super::Shard;
use crate::encoding::rollup::Tier;
use crate::model::PolicyOptions;
use crate::storage::family::Family;
use crate::storage::series_store::local_data;
use crate::storage::testing::*;
use crate::storage::{catalog, Policies, Storage};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// The hours of `counter()`, worked out by hand from its raw samples as `BY_HAND` in
/// `downsample_tests` works out its 5-minute windows: the first hour's 1, 3, 2, 5, 6.5, 0.5,
/// 8, 9 (resets after 3 and 6.5), the second's 10, NaN, 4 (NaN is no reset, and 4 follows
/// NaN), the fourth's open chunk.
const HOURS: [&str; 3] = [
    "0 n=8 sum=35 min=0.5 max=9 first=(10, 1.0) last=(3590, 9.0) resets=9.5",
    "3600 n=3 sum=NaN min=4 max=10 first=(3910, 10.0) last=(4270, 4.0) resets=0",
    "10800 n=1 sum=11 min=11 max=11 first=(10810, 11.0) last=(10810, 11.0) resets=0",
];

/// The 5-minute windows of `counter()` from the second hour on (`BY_HAND[3..]`).
const LATER_5M: [&str; 3] = [
    "3900 n=1 sum=10 min=10 max=10 first=(3910, 10.0) last=(3910, 10.0) resets=0",
    "4200 n=2 sum=NaN min=4 max=4 first=(4210, NaN) last=(4270, 4.0) resets=0",
    "10800 n=1 sum=11 min=11 max=11 first=(10810, 11.0) last=(10810, 11.0) resets=0",
];

fn of_c(windows: &[&str]) -> Vec<(String, Vec<String>)> {
    match windows {
        [] => vec![],
        w => vec![("c".to_string(), w.iter().map(|s| s.to_string()).collect())],
    }
}

/// Each series' windows of `tier` over the first four hours, and where the tier ends (seconds
/// from `T0`; -3600: nowhere).
async fn read(storage: &Arc<Storage>, tier: Tier) -> (Vec<(String, Vec<String>)>, i64) {
    let data = local_data(storage.clone());
    answer(data.select_tier("db", Policies::All, selection(T0, T0 + 4 * HOUR), tier).await.unwrap())
}

/// A policy `hours` of one-hour partitions keeping raw data `raw` hours and the tiers as given.
async fn with_counter(dir: &std::path::Path, raw: i64, tiers: [Option<i64>; 2]) -> Arc<Storage> {
    let hours = PolicyOptions { duration: Some(raw * catalog::HOUR_NS), shard_duration: Some(catalog::HOUR_NS), ..Default::default() };
    let storage = Arc::new(open(dir));
    storage.create_database("db", None).unwrap();
    storage.create_policy("db", "hours", &hours).unwrap();
    set_tier_durations(&storage, tiers);
    storage.write("db", Some("hours"), vec![series("c", counter())]).await.unwrap();
    storage.seal_all().await.unwrap();
    storage
}

/// Sets the tier durations of policy `hours` in the catalog in memory (the statements that
/// set them are not this layer's).
fn set_tier_durations(storage: &Storage, tiers: [Option<i64>; 2]) {
    let mut c = storage.catalog.write().unwrap();
    let db = c.databases.get_mut("db").unwrap();
    db.policies.iter_mut().find(|p| p.name == "hours").unwrap().tier_durations = tiers;
}

async fn reopen(storage: Arc<Storage>, dir: &std::path::Path) -> Arc<Storage> {
    storage.shutdown().await.unwrap();
    drop(Arc::into_inner(storage).expect("the only handle"));
    Arc::new(open(dir))
}

#[actix_web::test]
async fn hours_are_the_figures_worked_out_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let storage = with_counter(dir.path(), 6, [None; 2]).await;
    assert_eq!(read(&storage, Tier::OneHour).await, (vec![], 0), "nothing made yet");
    // At 2:59 the first hour only (the second ended 59 minutes ago, within the delay).
    assert!(storage.downsample_for(T0 + 3 * HOUR - 60 * S, Duration::MAX).await.unwrap());
    assert_eq!(read(&storage, Tier::OneHour).await, (of_c(&HOURS[..1]), 3600));
    assert!(storage.downsample_for(T0 + 3 * HOUR, Duration::MAX).await.unwrap());
    assert_eq!(read(&storage, Tier::OneHour).await, (of_c(&HOURS[..2]), 7200));
    assert_eq!((storage.metrics.downsample_windows_1h.load(Relaxed), storage.metrics.downsample_pending.load(Relaxed)), (2, 0));
    assert!(storage.downsample_for(T0 + 10 * HOUR, Duration::MAX).await.unwrap());
    assert_eq!(read(&storage, Tier::OneHour).await, (of_c(&HOURS), 14400), "and the open chunk's hour");
    let rendered = storage.metrics.render(0);
    assert!(rendered.contains("gemini_downsample_samples_total{tier=\"5m\"} 6\ngemini_downsample_samples_total{tier=\"1h\"} 3\n"), "{rendered}");

    // A backfill into the first hour removes both tiers from there on; made anew with it.
    let out = storage.backfill("db", Some("hours"), vec![series("c", vec![(T0 + 620 * S, 2.0)])]).await.unwrap();
    assert_eq!(out.accepted, 1);
    assert_eq!(read(&storage, Tier::OneHour).await, (vec![], 0));
    assert_eq!(read(&storage, Tier::FiveMinutes).await, (vec![], 0));
    assert!(storage.downsample_for(T0 + 10 * HOUR, Duration::MAX).await.unwrap());
    let first = "0 n=9 sum=37 min=0.5 max=9 first=(10, 1.0) last=(3590, 9.0) resets=9.5";
    assert_eq!(read(&storage, Tier::OneHour).await, (of_c(&[first, HOURS[1], HOURS[2]]), 14400));

    // DROP SERIES takes its hours with it.
    let c = storage.select("db", Policies::All, selection(0, 0).matchers).await.unwrap();
    storage.delete_series(&c).await.unwrap();
    assert_eq!(read(&storage, Tier::OneHour).await.0, vec![]);
}

/// A shard stopped dead while making a partition's hours goes on after the restart where it
/// stopped: each tier is the one of a shard that ran through, byte for byte, and every window
/// is written once.
#[test]
fn a_shard_stopped_in_the_middle_of_the_hours_goes_on_where_it_stopped() {
    let now = NOW;
    let whole_dir = tempfile::tempdir().unwrap();
    let whole = downsampled_through(whole_dir.path());
    let want = (contents(&whole, Family::Rollup5m), contents(&whole, Family::Rollup1h));
    // Per day a marker and a row per series: two hours each, then the open chunk's one.
    assert_eq!(want.1.len(), 2 * (1 + 5));
    assert_eq!(whole.metrics.downsample_windows_1h.load(Relaxed), 5 * 2 + 5);

    let dir = tempfile::tempdir().unwrap();
    let mut shard = Shard::open_for_test(dir.path(), &[POLICY]);
    write_day(&mut shard, DAY0);
    shard.downsample.step_samples = 1;
    // A series a step: five steps make the first day's 5-minute tier, two more two hours.
    for _ in 0..7 {
        assert!(shard.downsample_step(now).unwrap());
    }
    assert_eq!((shard.metrics.downsample_windows_5m.load(Relaxed), shard.metrics.downsample_windows_1h.load(Relaxed)), (5 * 24, 2 * 2));
    assert_eq!(shard.metrics.downsample_pending.load(Relaxed), 2, "the first day's hours and the second day");
    drop(shard);

    let mut shard = Shard::open_for_test(dir.path(), &[POLICY]);
    assert_eq!((shard.downsample.current_tier, shard.downsample.current.map(|(_, _, id)| id)), (Tier::OneHour, Some(3)));
    assert!(shard.downsample_all(now, Duration::MAX).unwrap());
    assert_eq!((shard.metrics.downsample_windows_5m.load(Relaxed), shard.metrics.downsample_windows_1h.load(Relaxed)), (5, 3 * 2 + 5), "none again");
    assert_eq!((contents(&shard, Family::Rollup5m), contents(&shard, Family::Rollup1h)), want, "the same keys and bytes");
    drop(shard);

    let mut shard = Shard::open_for_test(dir.path(), &[POLICY]);
    assert!(!shard.downsample_step(now).unwrap(), "done is done");
    assert_eq!(shard.metrics.downsample_pending.load(Relaxed), 0);
}

/// Raw data kept two hours, the 5-minute tier four, the hours forever: retention drops each
/// after its time, the tiers stay readable where raw data is gone, after restarts too, and
/// nothing is downsampled again.
#[actix_web::test]
async fn each_tier_is_kept_for_its_own_time() {
    let dir = tempfile::tempdir().unwrap();
    let tiers = [Some(4 * catalog::HOUR_NS), Some(0)];
    let storage = with_counter(dir.path(), 2, tiers).await;
    assert!(storage.downsample_for(T0 + 10 * HOUR, Duration::MAX).await.unwrap());
    let raw = |storage: Arc<Storage>| async move { values_of(&storage, Some("hours"), "c").await.iter().map(|(t, _)| (t - T0) / S).collect::<Vec<i64>>() };

    // At 5:30 the raw hours before 3:30 go (the first two); the 5-minute tier's before 1:30.
    let gone = storage.enforce_retention(T0 + 5 * HOUR + 1800 * S).await.unwrap();
    assert_eq!((gone.partitions, gone.tier_partitions, gone.series), (2, 1, 0), "{gone:?}");
    let after_first = |storage: Arc<Storage>| async move {
        assert_eq!(raw(storage.clone()).await, vec![10_810], "the fourth hour's sample");
        assert_eq!(read(&storage, Tier::FiveMinutes).await, (of_c(&LATER_5M), 14400), "the second hour on");
        assert_eq!(read(&storage, Tier::OneHour).await, (of_c(&HOURS), 14400), "every hour");
    };
    after_first(storage.clone()).await;
    let storage = reopen(storage, dir.path()).await;
    after_first(storage.clone()).await;
    assert!(storage.downsample_for(T0 + 10 * HOUR, Duration::MAX).await.unwrap());
    let written = [&storage.metrics.downsample_windows_5m, &storage.metrics.downsample_windows_1h].map(|m| m.load(Relaxed));
    assert_eq!((written, storage.metrics.downsample_pending.load(Relaxed)), ([0, 0], 0), "nothing made again");

    // At 7:30 the last raw hour goes, its open chunk with it, and the tier's second hour.
    set_tier_durations(&storage, tiers);
    let gone = storage.enforce_retention(T0 + 7 * HOUR + 1800 * S).await.unwrap();
    assert_eq!((gone.partitions, gone.tier_partitions, gone.series), (1, 1, 0), "{gone:?}");
    let after_second = |storage: Arc<Storage>| async move {
        assert_eq!(raw(storage.clone()).await, Vec::<i64>::new());
        assert_eq!(read(&storage, Tier::FiveMinutes).await, (of_c(&LATER_5M[2..]), 14400));
        assert_eq!(read(&storage, Tier::OneHour).await, (of_c(&HOURS), 14400));
    };
    after_second(storage.clone()).await;
    let storage = reopen(storage, dir.path()).await;
    after_second(storage.clone()).await;

    // At 9:00 the 5-minute tier is gone; the hours stay, and so does the series, for them.
    set_tier_durations(&storage, tiers);
    let gone = storage.enforce_retention(T0 + 9 * HOUR).await.unwrap();
    assert_eq!((gone.partitions, gone.tier_partitions, gone.series), (0, 1, 0), "{gone:?}");
    assert_eq!(read(&storage, Tier::FiveMinutes).await, (vec![], -3600));
    assert_eq!(read(&storage, Tier::OneHour).await, (of_c(&HOURS), 14400));
    let storage = reopen(storage, dir.path()).await;
    assert_eq!(read(&storage, Tier::OneHour).await, (of_c(&HOURS), 14400), "after a restart");
    assert!(storage.downsample_for(T0 + 10 * HOUR, Duration::MAX).await.unwrap());
    assert_eq!(storage.metrics.downsample_windows_5m.load(Relaxed), 0);
}

/// Raw data whose time is up waits for its 5-minute tier when that outlives it; a tier kept
/// less long than raw data loses its rows and is not made again from the raw data left.
#[actix_web::test]
async fn raw_data_waits_for_its_tier_and_a_shorter_tier_is_not_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let storage = with_counter(dir.path(), 2, [Some(0), Some(0)]).await;
    let gone = storage.enforce_retention(T0 + 5 * HOUR + 1800 * S).await.unwrap();
    assert_eq!((gone.partitions, gone.tier_partitions), (0, 0), "not downsampled yet: {gone:?}");
    assert_eq!(values_of(&storage, Some("hours"), "c").await.len(), counter().len());
    assert!(storage.downsample_for(T0 + 10 * HOUR, Duration::MAX).await.unwrap());
    let gone = storage.enforce_retention(T0 + 5 * HOUR + 1800 * S).await.unwrap();
    assert_eq!((gone.partitions, gone.tier_partitions), (2, 0), "{gone:?}");
    assert_eq!(read(&storage, Tier::OneHour).await, (of_c(&HOURS), 14400));
    drop(storage);

    let dir = tempfile::tempdir().unwrap();
    let tiers = [Some(catalog::HOUR_NS), Some(0)];
    let storage = with_counter(dir.path(), 6, tiers).await;
    assert!(storage.downsample_for(T0 + 10 * HOUR, Duration::MAX).await.unwrap());
    // At 4:30 the 5-minute tier of the first two hours goes; their raw data stays.
    let gone = storage.enforce_retention(T0 + 4 * HOUR + 1800 * S).await.unwrap();
    assert_eq!((gone.partitions, gone.tier_partitions), (0, 2), "{gone:?}");
    assert_eq!(read(&storage, Tier::FiveMinutes).await, (of_c(&LATER_5M[2..]), 14400));
    let storage = reopen(storage, dir.path()).await;
    assert!(storage.downsample_for(T0 + 10 * HOUR, Duration::MAX).await.unwrap());
    assert_eq!((storage.metrics.downsample_windows_5m.load(Relaxed), storage.metrics.downsample_pending.load(Relaxed)), (0, 0), "not made again");
    assert_eq!(read(&storage, Tier::FiveMinutes).await, (of_c(&LATER_5M[2..]), 14400));
    assert_eq!(values_of(&storage, Some("hours"), "c").await.len(), counter().len());
    // At 8:30 the raw data of the first two hours goes, and the rest of the 5-minute tier.
    set_tier_durations(&storage, tiers);
    let gone = storage.enforce_retention(T0 + 8 * HOUR + 1800 * S).await.unwrap();
    assert_eq!((gone.partitions, gone.tier_partitions), (2, 3), "{gone:?}");
    assert_eq!(read(&storage, Tier::FiveMinutes).await, (vec![], -3600));
    assert_eq!(read(&storage, Tier::OneHour).await, (of_c(&HOURS), 14400));
}
