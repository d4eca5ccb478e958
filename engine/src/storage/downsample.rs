//! What `Storage` asks of its shards for the downsampled tiers (see `shard::downsample`):
//! downsampling what is pending now, the delay after a partition's end, and reads of a
//! tier's windows (5-minute or 1-hour) with how far the tier reaches.

use super::shard::{self, TierPage};
use super::{Error, Policies, PolicyId, SelectedSeries, Storage};
use crate::encoding::rollup::{Tier, Window};
use futures_util::future::join_all;
use std::collections::BTreeMap;
use std::time::Duration;

impl Storage {
    /// Sets how long after its end a partition is downsampled (`--downsample.delay`).
    pub fn set_downsample_delay(&self, delay: Duration) {
        for s in &self.shards {
            s.do_send(shard::SetDownsampleDelay(delay));
        }
    }

    /// Sets how much older than a series' newest sample a write may be and be merged in
    /// (`--storage.out-of-order-window`); zero refuses them all.
    pub fn set_out_of_order_window(&self, window: Duration) {
        for s in &self.shards {
            s.do_send(shard::SetOutOfOrderWindow(window));
        }
    }

    /// Sets the series limits (`--storage.max-*-series`, see `series_limits`).
    pub fn set_series_limits(&self, limits: super::series_limits::SeriesLimits) {
        self.admission.set_limits(limits);
    }

    /// Downsamples every partition pending at `now_ms` in every shard, for at most `budget` in
    /// each (at least one step); answers whether every shard finished.
    pub async fn downsample_for(&self, now_ms: i64, budget: Duration) -> Result<bool, Error> {
        let mut finished = true;
        for r in join_all(self.shards.iter().map(|s| s.send(shard::Downsample { now_ms, budget }))).await {
            finished &= r??;
        }
        Ok(finished)
    }

    /// The windows of `tier` overlapping [min_t, max_t] of each series (in the order given),
    /// and the time before which the tier holds every sample of the policies `which` of `db`
    /// in every shard (`i64::MIN`: none).
    pub async fn read_tier(&self, db: &str, which: Policies<'_>, series: &[SelectedSeries], tier: Tier, min_t: i64, max_t: i64) -> Result<(Vec<Vec<Window>>, i64), Error> {
        let mut asks: BTreeMap<(PolicyId, usize), Vec<u64>> = BTreeMap::new();
        for policy in self.policy_ids(db, which)? {
            for shard in 0..self.shards.len() {
                asks.insert((policy, shard), Vec::new());
            }
        }
        for s in series {
            asks.entry((s.policy, s.shard)).or_default().push(s.id);
        }
        let pages = asks.into_iter().map(|((policy, shard), ids)| async move {
            let page: Result<TierPage, Error> = self.shards[shard].send(shard::ReadTier { policy, ids, tier, min_t, max_t }).await?;
            page.map(|p| ((policy, shard), p))
        });
        let mut by_shard = BTreeMap::new();
        let mut through: Option<i64> = None;
        for page in join_all(pages).await {
            let (at, page) = page?;
            through = match (through, page.through) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            by_shard.insert(at, page.series.into_iter());
        }
        let windows = series.iter().map(|s| by_shard.get_mut(&(s.policy, s.shard)).and_then(|it| it.next()).unwrap_or_default()).collect();
        Ok((windows, through.unwrap_or(i64::MIN)))
    }
}
