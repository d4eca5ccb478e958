//! The storage bumps a database's change counter (`data::generation`) after every change of
//! data already stored: late and backfilled writes, deletions, retention, catalog changes;
//! and not after a write of recent samples, or a retention check that drops nothing.

use super::testing::{minutes, open, series, HOUR};
use super::{catalog, Policies};
use crate::index::matcher::{MatchKind, Matcher};
use crate::model::PolicyOptions;

#[actix_web::test]
async fn every_change_of_the_past_bumps_its_database() {
    let dir = tempfile::tempdir().unwrap();
    let storage = open(dir.path());
    storage.create_database("db", None).unwrap();
    storage.create_database("other", None).unwrap();
    let one_hour = PolicyOptions { duration: Some(catalog::HOUR_NS), shard_duration: Some(catalog::HOUR_NS), ..Default::default() };
    storage.create_policy("db", "short", &one_hour).unwrap();
    let g = storage.generations();
    g.set_offset(5 * 60_000);
    let now = crate::clock::now_ms();
    // Runs `change`; answers whether it moved the counters of "db" and "other".
    macro_rules! moved {
        ($change:expr) => {{
            let (db, other) = (g.current("db"), g.current("other"));
            $change;
            (g.current("db") != db, g.current("other") != other)
        }};
    }
    assert_eq!(moved!(storage.write("db", None, vec![series("a", vec![(now - 4 * 60_000, 1.0), (now, 2.0)])]).await.unwrap()), (false, false), "recent samples");
    assert_eq!(moved!(storage.write("db", None, vec![series("b", vec![(now, 1.0)]), series("c", vec![(now - 6 * 60_000, 1.0)])]).await.unwrap()), (true, false), "a late sample");
    assert_eq!(moved!(storage.backfill("db", None, vec![series("a", vec![(now - 10 * 60_000, 0.5)])]).await.unwrap()), (true, false), "a handed-off sample");
    let a = storage.select("db", Policies::All, vec![Matcher::new(MatchKind::Equal, "__name__", "a").unwrap()]).await.unwrap();
    assert_eq!(moved!(storage.delete_points(&a, now - HOUR, now - 60_000).await.unwrap()), (true, false), "DELETE … WHERE time");
    assert_eq!(moved!(storage.delete_series(&a).await.unwrap()), (true, false), "DROP SERIES");
    assert_eq!(moved!(storage.write("db", Some("short"), vec![series("old", minutes(now - 5 * HOUR, now - 2 * HOUR))]).await.unwrap()), (true, false));
    assert_eq!(moved!(storage.enforce_retention(now).await.unwrap()), (true, false), "retention dropped data");
    assert_eq!(moved!(storage.enforce_retention(now).await.unwrap()), (false, false), "nothing to drop");
    assert_eq!(moved!(storage.alter_policy("db", "short", &PolicyOptions { default: true, ..one_hour }).unwrap()), (true, true), "a catalog change");
    assert_eq!(moved!(storage.drop_policy("db", "short").await.unwrap()), (true, true));
    assert_eq!(moved!(storage.drop_database("other").await.unwrap()), (true, true));
}
