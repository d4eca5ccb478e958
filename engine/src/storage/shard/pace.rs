//! How the shard's background jobs that work a partition at a time (downsampling,
//! compaction) pace themselves on the shard's thread, between writes: a step every
//! `STEP_EVERY` while a partition is under way; when a look finds nothing to do, the next look
//! only after `LOOK_EVERY`.

use std::time::{Duration, Instant};

/// How often a job's timer fires.
pub(super) const STEP_EVERY: Duration = Duration::from_millis(50);
/// How often a job with nothing under way looks for a partition.
const LOOK_EVERY: Duration = Duration::from_secs(10);

/// When a job's last look found nothing to do.
#[derive(Default)]
pub(super) struct Pace {
    idle_since: Option<Instant>,
}

impl Pace {
    /// Whether the job skips this turn: nothing under way, and its last look, which found
    /// nothing, was less than `LOOK_EVERY` ago.
    pub(super) fn resting(&self, under_way: bool) -> bool {
        !under_way && self.idle_since.is_some_and(|t| t.elapsed() < LOOK_EVERY)
    }

    /// Notes what a turn found: work (a step was made) or nothing.
    pub(super) fn found(&mut self, work: bool) {
        if !work {
            self.idle_since = Some(Instant::now());
        }
    }
}
