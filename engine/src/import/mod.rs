//! `gemini import`: copies history into a running Gemini (or cluster) through its import path
//! (`POST /api/v1/import`, which merges samples older than a series' newest instead of refusing
//! them). `gemini import remote-read` reads any Prometheus remote-read endpoint (`remote_read`)
//! in time slices, several at once, and writes each slice's series in bounded batches
//! (`batch`); `progress` shows how far it got, `state` remembers the slices that arrived so that
//! a rerun skips them. `gemini import influx` (`influx`) streams a file `influx_inspect export`
//! wrote (`influx_export`) to `POST /api/v1/import/influx`, the same merge for line protocol.
//! Re-importing anything is harmless: an exact duplicate is idempotent.
//! Only the command-line side lives here: it speaks HTTP to the source and to Gemini and
//! never touches storage.

mod batch;
mod influx;
mod influx_export;
mod progress;
mod remote_read;
mod state;
mod tsdb;

use crate::index::matcher::Matcher;
pub use influx::InfluxArgs;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    #[command(subcommand)]
    pub source: Source,
}

#[derive(clap::Subcommand, Debug)]
pub enum Source {
    /// Copy from a Prometheus remote-read endpoint (Prometheus, Thanos sidecar or querier,
    /// another Gemini, openGemini) in time slices. Streamed chunks when the source offers them,
    /// plain samples otherwise. Re-importing a slice is harmless (exact duplicates are
    /// idempotent), so an interrupted import can simply be run again; `--state` makes the rerun
    /// skip the slices that already arrived.
    RemoteRead(RemoteReadArgs),
    /// Read the blocks of a Prometheus data directory or snapshot straight from disk (a
    /// stopped or dead Prometheus will do). The head's write-ahead log is not read: take a
    /// snapshot (POST /api/v1/admin/tsdb/snapshot), which writes the head as a block. `--state`
    /// makes a rerun skip the blocks that already arrived.
    Tsdb(tsdb::TsdbArgs),
    /// Import a file `influx_inspect export` wrote (InfluxDB 1.x line protocol, plain or gzip)
    /// into one database, merged into series that hold newer samples; `--state` makes a rerun
    /// skip the lines that arrived.
    Influx(InfluxArgs),
}

#[derive(clap::Args, Debug, Clone)]
pub struct RemoteReadArgs {
    /// The source's remote read URL, e.g. http://prometheus:9090/api/v1/read.
    #[arg(long)]
    pub from: String,
    #[command(flatten)]
    pub target: batch::TargetArgs,
    /// First time to copy: RFC 3339 (2026-12-01T00:00:00Z) or Unix seconds.
    #[arg(long, value_parser = parse_time)]
    pub start: i64,
    /// Last time to copy (included): RFC 3339 or Unix seconds.
    #[arg(long, value_parser = parse_time)]
    pub end: i64,
    /// Series selector to copy; repeat for several (each read on its own).
    #[arg(long = "match", default_value = r#"{__name__=~".+"}"#)]
    pub matches: Vec<String>,
    /// Length of a time slice: one remote read per slice and selector.
    #[arg(long, default_value = "1h", value_parser = parse_slice)]
    pub slice: Duration,
    /// Slices copied at the same time.
    #[arg(long, default_value_t = 4)]
    pub parallel: usize,
    /// File that records each slice once Gemini acknowledged it (start,end in ms, one a line);
    /// a rerun with the same file skips those slices.
    #[arg(long)]
    pub state: Option<std::path::PathBuf>,
    /// List the slices and, per slice, the series and samples it would copy; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Why an import failed; its text is what `gemini import` prints.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("--start {start} is after --end {end}")]
    EmptyRange { start: String, end: String },
    #[error("--parallel and --batch must be at least 1")]
    Zero,
    #[error("--match {selector}: {why}")]
    Selector { selector: String, why: String },
    #[error("state file {path}: {source}")]
    State { path: String, source: std::io::Error },
    #[error("{} of {total} slices failed: {}", failed.len(), failed.join("; "))]
    Slices { failed: Vec<String>, total: usize },
    #[error("{0}")]
    Tsdb(String),
    #[error(transparent)]
    Influx(#[from] influx::Error),
}

/// `--start`/`--end`: RFC 3339 or Unix seconds (with a fraction) → ms.
pub fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<f64>() {
        if seconds.is_finite() {
            return Ok((seconds * 1000.0).round() as i64);
        }
    }
    text.parse::<jiff::Timestamp>().map(|t| t.as_millisecond()).map_err(|e| format!("{text:?} is neither RFC 3339 nor Unix seconds: {e}"))
}

/// `--slice`: a Prometheus duration (`1h`, `30m`, `1d`), not zero.
fn parse_slice(text: &str) -> Result<Duration, String> {
    match crate::config::parse_prometheus_duration(text) {
        Ok(d) if d.as_millis() > 0 => Ok(d),
        Ok(_) => Err("a slice must be longer than 0".to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// [start, end] (ms, both included) cut into slices of `length` ms, each [from, to] with both
/// ends included, one after the other with neither gap nor overlap.
pub fn slices(start: i64, end: i64, length: i64) -> Vec<(i64, i64)> {
    let mut out = Vec::new();
    let mut from = start;
    while from <= end {
        let to = from.saturating_add(length - 1).min(end);
        out.push((from, to));
        if to == i64::MAX {
            break;
        }
        from = to + 1;
    }
    out
}

/// A slice as the user reads it: its RFC 3339 ends.
pub fn slice_name((from, to): (i64, i64)) -> String {
    format!("{}..{}", rfc3339(from), rfc3339(to))
}

/// A time (ms) in RFC 3339, UTC.
fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or(ms.to_string(), |t| t.to_string())
}

/// Runs `gemini import`.
pub fn run(args: ImportArgs) -> Result<(), Error> {
    match args.source {
        Source::RemoteRead(args) => {
            if args.start > args.end {
                return Err(Error::EmptyRange { start: rfc3339(args.start), end: rfc3339(args.end) });
            }
            if args.parallel == 0 || args.target.batch == 0 {
                return Err(Error::Zero);
            }
            let selectors = parse_selectors(&args.matches)?;
            actix_web::rt::System::new().block_on(remote_read::copy(args, selectors))
        }
        Source::Tsdb(args) => {
            if let (Some(start), Some(end)) = (args.start, args.end) {
                if start > end {
                    return Err(Error::EmptyRange { start: rfc3339(start), end: rfc3339(end) });
                }
            }
            if args.parallel == 0 || args.target.batch == 0 {
                return Err(Error::Zero);
            }
            let selectors = parse_selectors(&args.matches)?;
            actix_web::rt::System::new().block_on(tsdb::copy(args, selectors))
        }
        Source::Influx(args) => Ok(actix_web::rt::System::new().block_on(influx::import(args))?),
    }
}

/// `--match` selectors, each a list of matchers.
fn parse_selectors(selectors: &[String]) -> Result<Vec<Vec<Matcher>>, Error> {
    selectors.iter().map(|s| crate::promql::selector::parse(s).map_err(|e| Error::Selector { selector: s.clone(), why: e.to_string() })).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_cover_the_range_without_gap_or_overlap() {
        assert_eq!(slices(0, 9, 5), vec![(0, 4), (5, 9)]);
        assert_eq!(slices(0, 10, 5), vec![(0, 4), (5, 9), (10, 10)]);
        assert_eq!(slices(3, 3, 3_600_000), vec![(3, 3)]);
        assert_eq!(slices(5, 4, 10), vec![]);
        let hour = 3_600_000;
        let s = slices(1_000, 1_000 + 3 * hour, hour);
        assert_eq!(s.len(), 4);
        assert!(s.windows(2).all(|w| w[1].0 == w[0].1 + 1));
        assert_eq!((s[0].0, s[3].1), (1_000, 1_000 + 3 * hour));
        assert_eq!(slices(i64::MAX - 1, i64::MAX, 10), vec![(i64::MAX - 1, i64::MAX)]);
    }

    #[test]
    fn times_are_rfc3339_or_unix_seconds() {
        assert_eq!(parse_time("1700000000"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("1700000000.25"), Ok(1_700_000_000_250));
        assert_eq!(parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000));
        assert_eq!(parse_time("2023-11-14T23:13:20.5+01:00"), Ok(1_700_000_000_500));
        assert!(parse_time("yesterday").unwrap_err().contains("neither RFC 3339 nor Unix seconds"));
        assert_eq!(parse_slice("90m"), Ok(Duration::from_secs(5400)));
        assert!(parse_slice("0").is_err());
        assert_eq!(slice_name((1_700_000_000_000, 1_700_003_599_999)), "2023-11-14T22:13:20Z..2023-11-14T23:13:19.999Z");
    }
}
