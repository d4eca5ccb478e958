//! Series limits (`--storage.max-hourly-series`, `--storage.max-daily-series`,
//! `--storage.max-series-per-database`; VictoriaMetrics' `-storage.maxHourlySeries` and
//! `-storage.maxDailySeries`, Mimir's `max_global_series_per_user`): a new series is stored only
//! while every limit allows one more; a series already stored always takes samples. Counted on
//! this node, by every shard through one shared `Admission`: the new series of the last 60
//! minutes and of the last 24 hours in one-minute buckets (kept in memory: after a restart the
//! windows start empty), and the series of each retention policy (from the index at start,
//! then as series come and go), summed over a database's policies.

use super::PolicyId;
use crate::data::write::SeriesLimit;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

const MINUTE_MS: i64 = 60_000;

/// The limits; 0 is none.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SeriesLimits {
    pub hourly: u64,
    pub daily: u64,
    pub per_database: u64,
}

/// New series in one-minute buckets over a window, with their sum.
#[derive(Default)]
struct Window {
    buckets: VecDeque<(i64, u64)>,
    sum: u64,
}

impl Window {
    /// The new series of the last `minutes` minutes before `minute` (included).
    fn count(&mut self, minute: i64, minutes: i64) -> u64 {
        while self.buckets.front().is_some_and(|(m, _)| *m <= minute - minutes) {
            self.sum -= self.buckets.pop_front().expect("a bucket").1;
        }
        self.sum
    }

    fn add(&mut self, minute: i64) {
        match self.buckets.back_mut() {
            Some((m, n)) if *m >= minute => *n += 1,
            _ => self.buckets.push_back((minute, 1)),
        }
        self.sum += 1;
    }
}

#[derive(Default)]
struct Counts {
    hour: Window,
    day: Window,
    per_policy: HashMap<PolicyId, u64>,
    /// Policy → every policy of its database, as the writes said (`note_database`).
    database_of: HashMap<PolicyId, Vec<PolicyId>>,
}

/// What every shard of a node asks before it makes a series (see the module doc). Without
/// limits it answers at once, without a lock: making series stays as cheap as it was.
#[derive(Default)]
pub struct Admission {
    /// `SeriesLimits`' three, in its order.
    limits: [AtomicU64; 3],
    counts: Mutex<Counts>,
}

impl Admission {
    /// Sets the limits; at start, before the first write (the series per policy are counted
    /// as series come only while a database limit is set).
    pub fn set_limits(&self, limits: SeriesLimits) {
        for (slot, value) in self.limits.iter().zip([limits.hourly, limits.daily, limits.per_database]) {
            slot.store(value, Relaxed);
        }
    }

    fn limits(&self) -> SeriesLimits {
        let [hourly, daily, per_database] = self.limits.each_ref().map(|l| l.load(Relaxed));
        SeriesLimits { hourly, daily, per_database }
    }

    /// Whether a database's series are limited: then each write names its database's
    /// policies first (`note_database`).
    pub fn limits_databases(&self) -> bool {
        self.limits().per_database > 0
    }

    /// The policies of one database, as the catalog has them now.
    pub fn note_database(&self, policies: &[PolicyId]) {
        let mut c = self.counts.lock().unwrap();
        for p in policies {
            if c.database_of.get(p).is_none_or(|known| known != policies) {
                c.database_of.insert(*p, policies.to_vec());
            }
        }
    }

    /// Counts a new series of `policy` made at `now_ms`, when every limit allows it; else the
    /// limit that is reached and its value.
    pub fn admit(&self, policy: PolicyId, now_ms: i64) -> Result<(), (SeriesLimit, u64)> {
        let limits = self.limits();
        if limits == SeriesLimits::default() {
            return Ok(());
        }
        let mut c = self.counts.lock().unwrap();
        let minute = now_ms.div_euclid(MINUTE_MS);
        if limits.hourly > 0 && c.hour.count(minute, 60) >= limits.hourly {
            return Err((SeriesLimit::Hourly, limits.hourly));
        }
        if limits.daily > 0 && c.day.count(minute, 24 * 60) >= limits.daily {
            return Err((SeriesLimit::Daily, limits.daily));
        }
        if limits.per_database > 0 {
            let alone = [policy];
            let database = c.database_of.get(&policy).map_or(&alone[..], Vec::as_slice);
            let held: u64 = database.iter().map(|p| c.per_policy.get(p).copied().unwrap_or(0)).sum();
            if held >= limits.per_database {
                return Err((SeriesLimit::Database, limits.per_database));
            }
        }
        if limits.hourly > 0 {
            c.hour.add(minute);
        }
        if limits.daily > 0 {
            c.day.add(minute);
        }
        *c.per_policy.entry(policy).or_default() += 1;
        Ok(())
    }

    /// `n` series of `policy` found in the index at start.
    pub fn loaded(&self, policy: PolicyId, n: u64) {
        *self.counts.lock().unwrap().per_policy.entry(policy).or_default() += n;
    }

    /// `n` series of `policy` deleted (by a deletion, retention or a dropped policy).
    pub fn gone(&self, policy: PolicyId, n: u64) {
        if let Some(held) = self.counts.lock().unwrap().per_policy.get_mut(&policy) {
            *held = held.saturating_sub(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;

    #[test]
    fn the_hourly_and_daily_windows_slide_by_the_minute() {
        let a = Admission::default();
        a.set_limits(SeriesLimits { hourly: 2, daily: 3, per_database: 0 });
        let t0 = 100 * 24 * HOUR;
        assert_eq!(a.admit(1, t0), Ok(()));
        assert_eq!(a.admit(1, t0 + 1), Ok(()));
        assert_eq!(a.admit(1, t0 + 2), Err((SeriesLimit::Hourly, 2)));
        assert_eq!(a.admit(1, t0 + HOUR - 1), Err((SeriesLimit::Hourly, 2)), "still within the hour");
        assert_eq!(a.admit(1, t0 + HOUR + 60_000), Ok(()), "an hour later");
        assert_eq!(a.admit(1, t0 + 2 * HOUR + 120_000), Err((SeriesLimit::Daily, 3)), "three today");
        assert_eq!(a.admit(1, t0 + 24 * HOUR + 60_000), Ok(()), "a day later");
    }

    #[test]
    fn a_database_counts_the_series_of_all_its_policies_as_they_come_and_go() {
        let a = Admission::default();
        a.set_limits(SeriesLimits { hourly: 0, daily: 0, per_database: 3 });
        a.loaded(1, 2);
        a.note_database(&[1, 2]);
        assert_eq!(a.admit(2, 0), Ok(()));
        assert_eq!(a.admit(2, 0), Err((SeriesLimit::Database, 3)));
        assert_eq!(a.admit(3, 0), Ok(()), "another database");
        a.gone(1, 1);
        assert_eq!(a.admit(1, 0), Ok(()));
        assert_eq!(a.admit(1, 0), Err((SeriesLimit::Database, 3)));
    }

    #[test]
    fn without_limits_every_series_is_admitted() {
        let a = Admission::default();
        for i in 0..10_000 {
            assert_eq!(a.admit(1, i), Ok(()));
        }
    }
}
