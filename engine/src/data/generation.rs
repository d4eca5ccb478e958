//! Change counters of the stored data, per database, for whoever keeps answers computed from
//! it (the range-query cache of `http::query_cache`). The storage of a node bumps a database's
//! counter after every change that can alter what is stored at a time already past: a
//! deletion, retention, a dropped database or policy (any catalog change bumps every
//! database), and a write holding a sample older than `now - offset` (a late or backfilled
//! sample). A write whose samples are all newer than that does not bump: an answer kept for
//! steps before `now - offset` cannot change by it, as long as the answer reads no data
//! after its own step (no `@`, no negative `offset`; the cache checks that).
//! A reader takes the counter before it reads the data and keeps its answer with it; the
//! answer is stale once the counter moved. Counters only grow and are never forgotten, so a
//! database dropped and created again never finds its old answers valid.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

/// The change counters of one node's databases.
#[derive(Debug)]
pub struct Generations {
    /// Bumped by changes that concern every database (the catalog's).
    all: AtomicU64,
    per_db: Mutex<HashMap<String, u64>>,
    /// How far before now a written sample must be to bump its database (ms).
    offset_ms: AtomicI64,
}

/// The default of `--query.cache-offset`: 5 minutes, as VictoriaMetrics'
/// `-search.cacheTimestampOffset`.
pub const DEFAULT_OFFSET_MS: i64 = 5 * 60_000;

impl Default for Generations {
    fn default() -> Generations {
        Generations { all: AtomicU64::new(0), per_db: Mutex::new(HashMap::new()), offset_ms: AtomicI64::new(DEFAULT_OFFSET_MS) }
    }
}

impl Generations {
    /// The counter of `db`: it differs from every earlier value once `db` changed.
    pub fn current(&self, db: &str) -> u64 {
        let own = self.per_db.lock().unwrap().get(db).copied().unwrap_or(0);
        // Both parts only grow, so their sum moves whenever one does.
        self.all.load(Ordering::SeqCst) + own
    }

    /// `db` changed.
    pub fn bump(&self, db: &str) {
        *self.per_db.lock().unwrap().entry(db.to_string()).or_default() += 1;
    }

    /// Every database changed (or one cannot tell which).
    pub fn bump_all(&self) {
        self.all.fetch_add(1, Ordering::SeqCst);
    }

    /// Sets the age (ms) from which a written sample counts as a change of the past.
    pub fn set_offset(&self, offset_ms: i64) {
        self.offset_ms.store(offset_ms.max(0), Ordering::SeqCst);
    }

    /// A write to `db` whose oldest sample is at `oldest` (ms) was applied; `now_ms` is taken
    /// after it was. Bumps `db` when that sample is older than `now_ms - offset`.
    pub fn wrote(&self, db: &str, oldest: Option<i64>, now_ms: i64) {
        if oldest.is_some_and(|t| t < now_ms - self.offset_ms.load(Ordering::SeqCst)) {
            self.bump(db);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_move_with_changes_of_their_database() {
        let g = Generations::default();
        let (a0, b0) = (g.current("a"), g.current("b"));
        g.bump("a");
        assert_ne!(g.current("a"), a0);
        assert_eq!(g.current("b"), b0);
        let (a1, b1) = (g.current("a"), g.current("b"));
        g.bump_all();
        assert_ne!(g.current("a"), a1);
        assert_ne!(g.current("b"), b1);
    }

    #[test]
    fn only_writes_reaching_before_the_offset_bump() {
        let g = Generations::default();
        g.set_offset(300_000);
        let now = 1_000_000_000;
        let before = g.current("db");
        g.wrote("db", Some(now - 300_000), now);
        g.wrote("db", None, now);
        assert_eq!(g.current("db"), before, "a sample exactly at now - offset is not in any cached step");
        g.wrote("db", Some(now - 300_001), now);
        assert_ne!(g.current("db"), before);
    }
}
