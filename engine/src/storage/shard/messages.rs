//! The messages a shard answers (actix `Message` and `Handler`), and the answer types
//! that are not plain values.

use super::{Shard, StoredChunk};
use crate::data::write::{SeriesWrite, WriteOutcome};
use crate::encoding::rollup::Window;
use crate::storage::family::Family;
use crate::index::matcher::Matcher;
use crate::labels::Labels;
use crate::storage::{Error, PolicyId};
use actix::prelude::*;
use std::sync::Arc;
use std::time::Duration;

#[derive(Message)]
#[rtype(result = "Result<WriteOutcome, Error>")]
pub struct Write {
    pub policy: PolicyId,
    pub series: Vec<SeriesWrite>,
    /// Samples older than a series' newest are merged in (see `backfill`), not refused;
    /// without it, only those within the out-of-order window are.
    pub backfill: bool,
}

impl Handler<Write> for Shard {
    type Result = Result<WriteOutcome, Error>;
    fn handle(&mut self, msg: Write, _: &mut Context<Self>) -> Self::Result {
        match (msg.backfill, self.out_of_order_window_ms) {
            (true, _) => self.backfill(msg.policy, msg.series, None),
            (false, 0) => self.write(msg.policy, msg.series),
            (false, window) => self.backfill(msg.policy, msg.series, Some(window)),
        }
    }
}

/// Sets the out-of-order window (`--storage.out-of-order-window`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetOutOfOrderWindow(pub Duration);

impl Handler<SetOutOfOrderWindow> for Shard {
    type Result = ();
    fn handle(&mut self, SetOutOfOrderWindow(window): SetOutOfOrderWindow, _: &mut Context<Self>) {
        self.out_of_order_window_ms = window.as_millis().min(i64::MAX as u128) as i64;
    }
}

/// The series of a retention policy that match every matcher, with their ids.
#[derive(Message)]
#[rtype(result = "Vec<(Labels, u64)>")]
pub struct Select {
    pub policy: PolicyId,
    pub matchers: Arc<Vec<Matcher>>,
}

impl Handler<Select> for Shard {
    type Result = MessageResult<Select>;
    fn handle(&mut self, msg: Select, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.select(msg.policy, &msg.matchers))
    }
}

/// The chunks overlapping [min_t, max_t] of each series, in time order, in the order asked,
/// up to about `budget` bytes (see `ChunkPage`).
#[derive(Message)]
#[rtype(result = "Result<ChunkPage, Error>")]
pub struct ReadChunks {
    pub policy: PolicyId,
    pub ids: Vec<u64>,
    /// Where the first series starts (a resumed page); `i64::MIN` for a fresh one.
    pub first_from: i64,
    pub min_t: i64,
    pub max_t: i64,
    pub budget: usize,
    /// Sealed blocks come as XOR chunks again (for an answer that ships XOR chunks).
    pub xor: bool,
}

/// Chunks of a prefix of the series asked for. When `resume` is set, the last series is
/// cut short: ask again from it with `first_from = resume`.
#[derive(Default, Debug)]
pub struct ChunkPage {
    pub series: Vec<Vec<StoredChunk>>,
    pub resume: Option<i64>,
}

impl Handler<ReadChunks> for Shard {
    type Result = Result<ChunkPage, Error>;
    fn handle(&mut self, msg: ReadChunks, _: &mut Context<Self>) -> Self::Result {
        self.read_chunks(&msg)
    }
}

/// Label names, or the values of one label, of a retention policy's series that match every
/// matcher (all series without matchers), from the index (see `labels`): unsorted, unique.
#[derive(Message)]
#[rtype(result = "Vec<String>")]
pub struct LabelIndex {
    pub policy: PolicyId,
    pub matchers: Arc<Vec<Matcher>>,
    /// The time range asked for, both ends included (see `labels` for which series count).
    pub range: Option<(i64, i64)>,
    pub wanted: Wanted,
}

/// What `LabelIndex` answers.
#[derive(Clone, Debug)]
pub enum Wanted {
    Names,
    Values(String),
}

impl Handler<LabelIndex> for Shard {
    type Result = MessageResult<LabelIndex>;
    fn handle(&mut self, msg: LabelIndex, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.label_index(&msg))
    }
}

#[derive(Message)]
#[rtype(result = "Result<(), Error>")]
pub struct DropPolicy(pub PolicyId);

impl Handler<DropPolicy> for Shard {
    type Result = Result<(), Error>;
    fn handle(&mut self, msg: DropPolicy, _: &mut Context<Self>) -> Self::Result {
        self.drop_policy(msg.0)
    }
}

/// Retention: drops what of retention policy `policy` is older than `before`, and of its
/// tiers (`Tier::ALL` order) what is older than `tiers_before`; `i64::MIN` keeps all (see
/// `Shard::expire`).
#[derive(Message)]
#[rtype(result = "Result<Expired, Error>")]
pub struct Expire {
    pub policy: PolicyId,
    pub before: i64,
    pub tiers_before: [i64; 2],
}

/// What retention dropped: raw partitions, partitions of a tier, and series.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Expired {
    pub partitions: usize,
    pub tier_partitions: usize,
    pub series: usize,
}

impl Handler<Expire> for Shard {
    type Result = Result<Expired, Error>;
    fn handle(&mut self, msg: Expire, _: &mut Context<Self>) -> Self::Result {
        self.expire(msg.policy, msg.before, msg.tiers_before)
    }
}

/// Deletes the samples in [min_t, max_t] of the given series (see `Shard::delete_points`).
#[derive(Message)]
#[rtype(result = "Result<usize, Error>")]
pub struct DeletePoints {
    pub ids: Vec<u64>,
    pub min_t: i64,
    pub max_t: i64,
}

impl Handler<DeletePoints> for Shard {
    type Result = Result<usize, Error>;
    fn handle(&mut self, msg: DeletePoints, _: &mut Context<Self>) -> Self::Result {
        self.delete_points(&msg.ids, msg.min_t, msg.max_t)
    }
}

/// Deletes the given series of this shard with all their data; answers how many existed.
#[derive(Message)]
#[rtype(result = "Result<usize, Error>")]
pub struct DeleteSeries(pub Vec<u64>);

impl Handler<DeleteSeries> for Shard {
    type Result = Result<usize, Error>;
    fn handle(&mut self, msg: DeleteSeries, _: &mut Context<Self>) -> Self::Result {
        self.delete_series(&msg.0)
    }
}

/// Downsamples what is pending at `now_ms` (see `downsample`), for at most `budget` (at least
/// one step); answers whether nothing is left.
#[derive(Message)]
#[rtype(result = "Result<bool, Error>")]
pub struct Downsample {
    pub now_ms: i64,
    pub budget: Duration,
}

impl Handler<Downsample> for Shard {
    type Result = Result<bool, Error>;
    fn handle(&mut self, msg: Downsample, _: &mut Context<Self>) -> Self::Result {
        self.downsample_all(msg.now_ms, msg.budget)
    }
}

/// How long after its end a partition is downsampled (`--downsample.delay`).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetDownsampleDelay(pub Duration);

impl Handler<SetDownsampleDelay> for Shard {
    type Result = ();
    fn handle(&mut self, SetDownsampleDelay(delay): SetDownsampleDelay, _: &mut Context<Self>) {
        self.downsample.delay_ms = delay.as_millis().min(i64::MAX as u128) as i64;
    }
}

/// The windows of `tier` overlapping [min_t, max_t] of each series (see `TierPage`).
#[derive(Message)]
#[rtype(result = "Result<TierPage, Error>")]
pub struct ReadTier {
    pub policy: PolicyId,
    pub ids: Vec<u64>,
    pub tier: crate::encoding::rollup::Tier,
    pub min_t: i64,
    pub max_t: i64,
}

/// The windows of each series asked for, in the order asked, and the time before which the
/// shard's tier of the policy holds every sample (`None`: the shard has no data of it).
#[derive(Debug, Default)]
pub struct TierPage {
    pub series: Vec<Vec<Window>>,
    pub through: Option<i64>,
}

impl Handler<ReadTier> for Shard {
    type Result = Result<TierPage, Error>;
    fn handle(&mut self, msg: ReadTier, _: &mut Context<Self>) -> Self::Result {
        self.read_tier(&msg)
    }
}

/// The longest a shutdown spends sealing: the rest of a stop (checkpoint, flushes, small
/// compactions) and Kubernetes' default grace period of 30 s must leave room.
const SHUTDOWN_SEALING: Duration = Duration::from_secs(10);

/// Seals what is ready (for at most `SHUTDOWN_SEALING`), stores open chunks, truncates the
/// log and flushes every column family of the shard; sent at shutdown, so that a restart has
/// nothing to replay and no stale log on disk.
#[derive(Message)]
#[rtype(result = "Result<(), Error>")]
pub struct Shutdown;

/// Seals every chunk that is ready now (see `seal`), whatever time the last pass ran, for at
/// most this long (at least one step); answers whether it finished.
#[derive(Message)]
#[rtype(result = "Result<bool, Error>")]
pub struct Seal(pub Duration);

impl Handler<Seal> for Shard {
    type Result = Result<bool, Error>;
    fn handle(&mut self, Seal(budget): Seal, _: &mut Context<Self>) -> Self::Result {
        self.seal_all(budget)
    }
}

impl Handler<Shutdown> for Shard {
    type Result = Result<(), Error>;
    fn handle(&mut self, _: Shutdown, _: &mut Context<Self>) -> Self::Result {
        // Downsampling goes on after the next start, from its marker.
        self.downsample.stopped = true;
        if !self.seal_all(SHUTDOWN_SEALING)? {
            tracing::info!(shard = self.index, "sealing stopped for the shutdown; it goes on after the next start");
        }
        self.checkpoint()?;
        for family in Family::EVERY {
            self.db.flush_cf(self.cf(family))?;
        }
        // A flush keeps log entries that the checkpoint's range delete covers, older snapshots
        // of open chunks linger in `head`, and sealed chunks in `chunks` until their deletions
        // meet them: compacting those (small) drops them.
        for family in [Family::Log, Family::Head, Family::Chunks] {
            self.db.compact_range_cf(self.cf(family), None::<&[u8]>, None::<&[u8]>);
        }
        Ok(())
    }
}
