//! Late samples and the tiers: samples written to a partition ready to downsample (a sender
//! catching up after an outage, history written in time order) remove its tier, if it has one,
//! in the write's batch, and it is downsampled (anew) only once the delay has passed after the
//! last such write, with every sample.

use crate::data::{Selection, Tier};
use crate::index::matcher::{MatchKind, Matcher};
use crate::model::PolicyOptions;
use crate::storage::series_store::local_data;
use crate::storage::testing::*;
use crate::storage::{catalog, Policies};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

#[actix_web::test]
async fn samples_appended_to_a_downsampled_partition_wait_for_the_delay_and_are_downsampled_with_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let hours = PolicyOptions { duration: Some(0), shard_duration: Some(catalog::HOUR_NS), ..Default::default() };
    let storage = Arc::new(open(dir.path()));
    storage.create_database("db", None).unwrap();
    storage.create_policy("db", "hours", &hours).unwrap();
    let now = crate::clock::now_ms();
    // An hour that ended four hours ago: ready to downsample (the delay is an hour).
    let t0 = (now - 5 * HOUR).div_euclid(HOUR) * HOUR;
    let at = |minutes: std::ops::Range<i64>| minutes.map(|m| (t0 + m * 60_000 + 7_000, m as f64)).collect::<Vec<_>>();
    storage.write("db", Some("hours"), vec![series("c", at(0..20))]).await.unwrap();
    let data = local_data(storage.clone());
    let read = || {
        let data = data.clone();
        async move {
            let matchers = vec![Matcher::new(MatchKind::Equal, "__name__", "c").unwrap()];
            let a = data.select_tier("db", Policies::All, Selection { matchers, min_t: t0, max_t: t0 + HOUR }, Tier::FiveMinutes).await.unwrap();
            let counts: Vec<u64> = a.series.iter().flat_map(|(_, w)| w.iter().map(|w| w.count)).collect();
            (counts, a.through - t0)
        }
    };
    // History arrives late too: it waits for the delay after it.
    assert!(storage.downsample_for(now, Duration::MAX).await.unwrap());
    assert_eq!(read().await, (vec![], 0), "within the delay after the write");
    assert_eq!(storage.metrics.downsample_pending.load(Relaxed), 1, "pending while it waits");
    assert!(storage.downsample_for(now + 2 * HOUR, Duration::MAX).await.unwrap());
    assert_eq!(read().await, (vec![5; 4], HOUR), "the first 20 minutes, in four windows");

    // The rest of the hour arrives late: the tier is gone at once, and waits for the delay.
    let out = storage.write("db", Some("hours"), vec![series("c", at(20..60))]).await.unwrap();
    assert_eq!(out.accepted, 40);
    assert_eq!(read().await, (vec![], 0), "the tier of the hour is gone with the write");
    assert!(storage.downsample_for(now + HOUR - 1000, Duration::MAX).await.unwrap());
    assert_eq!(read().await, (vec![], 0), "within the delay after the late write");
    assert!(storage.downsample_for(now + 2 * HOUR, Duration::MAX).await.unwrap());
    assert_eq!(read().await, (vec![5; 12], HOUR), "made anew with the whole hour");
    assert_eq!(storage.metrics.downsample_pending.load(Relaxed), 0);

    // Sent again (a retry): duplicates change nothing, the tier stays.
    let out = storage.write("db", Some("hours"), vec![series("c", at(50..60))]).await.unwrap();
    assert_eq!((out.accepted, out.duplicates), (0, 10));
    assert_eq!(read().await, (vec![5; 12], HOUR), "a retry keeps the tier");
}
