//! `gemini import tsdb`: reads the blocks of a Prometheus data or snapshot directory straight
//! from disk (`block`, `index`; `decbuf` reads the bytes) and writes their series through
//! Gemini's import path. Blocks go one after the other, each cut into `--parallel` parts of its
//! series read and sent at the same time; a block counts as done once Gemini acknowledged all
//! of it, then its ULID goes to the state file. Blocks that overlap are fine: a sample sent
//! twice is stored once. The head's write-ahead log is not read.

mod block;
mod decbuf;
mod index;
#[cfg(test)]
mod tests;

use super::batch::{Batcher, Target, TargetArgs};
use super::progress::Progress;
use super::state::State;
use super::{parse_time, rfc3339, Error};
use crate::index::matcher::Matcher;
use block::{Block, BlockDir, Window};
use std::cell::RefCell;
use std::path::PathBuf;

/// Said when the directory holds a write-ahead log.
pub const WAL_LEFT_OUT: &str = "the head's WAL is not read: take a snapshot, which writes the head as a block";

#[derive(clap::Args, Debug, Clone)]
pub struct TsdbArgs {
    /// Prometheus' data directory (its --storage.tsdb.path), a snapshot in it
    /// (snapshots/<name>, from POST /api/v1/admin/tsdb/snapshot) or one block directory. Every
    /// block is read; the head's write-ahead log (wal/, chunks_head/) is not: take a snapshot,
    /// which writes the head as a block.
    #[arg(long)]
    pub dir: PathBuf,
    #[command(flatten)]
    pub target: TargetArgs,
    /// First time to copy: RFC 3339 (2026-12-01T00:00:00Z) or Unix seconds [default: all].
    #[arg(long, value_parser = parse_time)]
    pub start: Option<i64>,
    /// Last time to copy (included): RFC 3339 or Unix seconds [default: all].
    #[arg(long, value_parser = parse_time)]
    pub end: Option<i64>,
    /// Series selector to copy; repeat for several (a series matching any is copied).
    #[arg(long = "match", default_value = r#"{__name__=~".+"}"#)]
    pub matches: Vec<String>,
    /// Parts of a block read and sent at the same time.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// File that records each block's ULID once Gemini acknowledged all of it, one a line (with
    /// the times read when --start/--end cut the block); a rerun with the same file and flags
    /// skips those blocks.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// List the blocks and, per block, the series and samples it would copy; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// What a block (or a part of one) yielded.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Counts {
    series: u64,
    samples: u64,
    histogram_chunks: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.series += other.series;
        self.samples += other.samples;
        self.histogram_chunks += other.histogram_chunks;
    }
}

/// A block as the user reads it: its ULID and time range.
fn block_name(dir: &BlockDir) -> String {
    format!("{} ({}..{})", dir.meta.ulid, rfc3339(dir.meta.min_time), rfc3339(dir.meta.max_time - 1))
}

/// A block's line in the state file: its ULID, and the part of it read when `range` cuts it.
fn state_line(dir: &BlockDir, (start, end): (i64, i64)) -> String {
    let (min, max) = (dir.meta.min_time, dir.meta.max_time - 1);
    match start <= min && max <= end {
        true => dir.meta.ulid.clone(),
        false => format!("{} {},{}", dir.meta.ulid, start.max(min), end.min(max)),
    }
}

/// What one run shares among its blocks.
struct Run<'a> {
    args: &'a TsdbArgs,
    selectors: &'a [Vec<Matcher>],
    /// [start, end], both included.
    range: (i64, i64),
    target: Target,
    progress: RefCell<Progress>,
}

impl Run<'_> {
    /// Copies (or, in a dry run, counts) one block, its series cut into parts.
    async fn block(&self, dir: BlockDir) -> Result<Counts, String> {
        let block = Block::open(dir)?;
        let ids = block.index.all_series().map_err(|e| format!("{}: {e}", block.dir.path.join("index").display()))?;
        let part = ids.len().div_ceil(self.args.parallel).max(1);
        let parts = futures_util::future::join_all(ids.chunks(part).map(|ids| self.part(&block, ids))).await;
        let mut counts = Counts::default();
        for result in parts {
            counts.add(result?);
        }
        Ok(counts)
    }

    /// The series `ids` of `block`: read, filtered, sent in batches.
    async fn part(&self, block: &Block, ids: &[u32]) -> Result<Counts, String> {
        let mut batcher = Batcher::new(self.args.target.batch);
        let mut window = Window::default();
        let mut counts = Counts::default();
        for &id in ids {
            let series = block.index.series(id).map_err(|e| format!("{}: {e}", block.dir.path.join("index").display()))?;
            if !self.selectors.iter().any(|all| all.iter().all(|m| m.matches(&series.labels))) {
                continue;
            }
            let read = block.samples(id, &series, self.range, &mut window)?;
            counts.histogram_chunks += read.histogram_chunks;
            if read.samples.is_empty() {
                continue;
            }
            counts.series += 1;
            counts.samples += read.samples.len() as u64;
            if self.args.dry_run {
                continue;
            }
            for request in batcher.push(series.labels, read.samples) {
                self.send(&request).await?;
            }
        }
        if let Some(request) = batcher.finish() {
            self.send(&request).await?;
        }
        Ok(counts)
    }

    async fn send(&self, request: &[crate::data::write::SeriesWrite]) -> Result<(), String> {
        self.target.send(request).await?;
        self.progress.borrow_mut().add(request.iter().map(|s| s.samples.len() as u64).sum());
        Ok(())
    }
}

/// Runs the import (see the module doc); fails naming every block that did not arrive.
pub async fn copy(args: TsdbArgs, selectors: Vec<Vec<Matcher>>) -> Result<(), Error> {
    let blocks = block::find(&args.dir).map_err(Error::Tsdb)?;
    let wal = block::has_wal(&args.dir);
    if blocks.is_empty() {
        let only_wal = if wal { format!(", only the head's write-ahead log; {WAL_LEFT_OUT}") } else { String::new() };
        return Err(Error::Tsdb(format!("{}: not a Prometheus TSDB directory: no blocks in it (directories named by a ULID holding meta.json){only_wal}", args.dir.display())));
    }
    if wal {
        tracing::warn!("{}: {WAL_LEFT_OUT}", args.dir.display());
    }
    let range = (args.start.unwrap_or(i64::MIN), args.end.unwrap_or(i64::MAX));
    let state_error = |source| Error::State { path: args.state.as_ref().map(|p| p.display().to_string()).unwrap_or_default(), source };
    let mut state = args.state.as_deref().map(State::load).transpose().map_err(state_error)?;
    let wanted: Vec<BlockDir> = blocks.into_iter().filter(|b| b.meta.min_time <= range.1 && b.meta.max_time > range.0).collect();
    let (done, todo): (Vec<BlockDir>, Vec<BlockDir>) = wanted.into_iter().partition(|b| state.as_ref().is_some_and(|s| s.has(&state_line(b, range))));
    let run = Run { args: &args, selectors: &selectors, range, target: args.target.target(), progress: RefCell::new(Progress::counting("block", todo.len())) };
    let (mut total, mut failed, mut listed) = (Counts::default(), Vec::new(), Vec::new());
    for dir in todo.iter().cloned() {
        let name = block_name(&dir);
        match run.block(dir.clone()).await {
            Ok(counts) if args.dry_run => listed.push((format!("{name}: {} series, {} samples (of {} stored)", counts.series, counts.samples, dir.meta.stats.num_samples), counts)),
            Ok(counts) => {
                if let Some(state) = state.as_mut() {
                    state.add(&state_line(&dir, range)).map_err(state_error)?;
                }
                total.add(counts);
                run.progress.borrow_mut().slice_done(&name, counts.series, counts.samples);
            }
            Err(e) => {
                run.progress.borrow_mut().slice_failed();
                failed.push(format!("{name}: {e}"));
            }
        }
    }
    let mut notes = String::new();
    if wal {
        notes.push_str(&format!("; {WAL_LEFT_OUT}"));
    }
    if args.dry_run {
        for (line, c) in &listed {
            println!("block {line}{}", histograms(c.histogram_chunks));
            total.add(*c);
        }
        println!("would import {} blocks: {} series, {} samples ({} skipped as done before){}{notes}", listed.len(), total.series, total.samples, done.len(), histograms(total.histogram_chunks));
    } else {
        eprintln!("{}{}{notes}", run.progress.borrow().summary(done.len()), histograms(total.histogram_chunks));
    }
    if failed.is_empty() {
        return Ok(());
    }
    Err(Error::Tsdb(format!("{} of {} blocks failed: {}", failed.len(), todo.len(), failed.join("; "))))
}

/// The note on skipped histogram chunks, if any.
fn histograms(chunks: u64) -> String {
    match chunks {
        0 => String::new(),
        n => format!(", {n} histogram chunks skipped (Gemini stores float samples)"),
    }
}
