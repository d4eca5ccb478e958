//! Downsampled aggregates, pure: what a tier keeps of one series in one window of its
//! resolution (windows `[k × resolution, (k + 1) × resolution)` counted from the epoch), and
//! the row format that stores a run of windows bit-exact over the block codec
//! (`encoding::block`). A window holds the count, sum, min and max of its values and, for
//! counters, what an exact `increase` needs, as Thanos' aggregated chunks keep it: the first
//! and last samples with their times, and `resets`, the sum of the value before each reset
//! (a value below the one before it), so that the increase across the window is
//! `last − first + resets`. Windows combine (`Window::merge`) into longer ones: a coarser tier,
//! or a query window of many. Prometheus' staleness markers are not values: windows skip them.
//!
//! # Row layout
//! ```text
//! row    = version:u8 (=1)  n:uvarint (1 ≤ n ≤ block::MAX_SAMPLES)  column × 9
//! column = len:uvarint  block          (an `encoding::block` of n samples)
//! column 0: (window start, count)
//! columns 1–8: (i, x_i) for i = 0..n: sum, min, max, first time − start, first value,
//!              last time − start, last value, resets
//! ```
//! Window starts carry the times; the other columns count 0, 1, … so their timestamps cost a
//! few bytes whatever the gaps.
//!
//! This module knows nothing of shards, keys or column families.

use super::block::{self, put_uvarint, BlockError, Reader};
use super::is_stale_nan;

/// The resolution of the 5-minute tier, ms.
pub const FIVE_MINUTES: i64 = 300_000;
/// The resolution of the 1-hour tier, ms.
pub const ONE_HOUR: i64 = 3_600_000;

/// A downsampled tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Tier {
    FiveMinutes,
    OneHour,
}

impl Tier {
    /// Every tier, finest first.
    pub const ALL: [Tier; 2] = [Tier::FiveMinutes, Tier::OneHour];

    /// The length of its windows, ms.
    pub fn resolution(self) -> i64 {
        match self {
            Tier::FiveMinutes => FIVE_MINUTES,
            Tier::OneHour => ONE_HOUR,
        }
    }

    /// Its name in flags, query parameters and metrics: `5m`, `1h`.
    pub fn name(self) -> &'static str {
        match self {
            Tier::FiveMinutes => "5m",
            Tier::OneHour => "1h",
        }
    }
}
/// Format version written as the first byte of every row.
pub const ROW_VERSION: u8 = 1;
const COLUMNS: usize = 9;

/// The aggregates of one series in one window.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    /// The window's first millisecond, a multiple of the resolution.
    pub start: i64,
    /// Values in the window (never 0 in a stored window).
    pub count: u64,
    /// Their sum, with Kahan–Neumaier compensation (as `sum_over_time` adds).
    pub sum: f64,
    /// The smallest and largest; NaN only when every value is (`min_over_time`'s rule).
    pub min: f64,
    pub max: f64,
    /// The first and last samples, (time ms, value).
    pub first: (i64, f64),
    pub last: (i64, f64),
    /// The sum of the value before each reset in the window.
    pub resets: f64,
}

/// Prometheus' `min_over_time` step: a value replaces the minimum when smaller, or when the
/// minimum so far is NaN.
fn min_of(a: f64, b: f64) -> f64 {
    if b < a || a.is_nan() {
        b
    } else {
        a
    }
}

fn max_of(a: f64, b: f64) -> f64 {
    if b > a || a.is_nan() {
        b
    } else {
        a
    }
}

impl Window {
    fn of(start: i64, t: i64, v: f64) -> Window {
        Window { start, count: 1, sum: v, min: v, max: v, first: (t, v), last: (t, v), resets: 0.0 }
    }

    /// The increase of a counter across the window: `last − first + resets`.
    pub fn increase(&self) -> f64 {
        self.last.1 - self.first.1 + self.resets
    }

    /// Adds `other`, whose samples all come after this one's; the start stays this one's.
    pub fn merge(&mut self, other: &Window) {
        self.count += other.count;
        self.sum += other.sum;
        self.min = min_of(self.min, other.min);
        self.max = max_of(self.max, other.max);
        if other.first.1 < self.last.1 {
            self.resets += self.last.1;
        }
        self.resets += other.resets;
        self.last = other.last;
    }

    /// The window's figures as bits, to compare windows exactly (NaN payloads too).
    pub fn bits(&self) -> [u64; 10] {
        let f = |v: f64| v.to_bits();
        [self.start as u64, self.count, f(self.sum), f(self.min), f(self.max), self.first.0 as u64, f(self.first.1), self.last.0 as u64, f(self.last.1), f(self.resets)]
    }
}

/// Kahan–Neumaier summation of one window's values.
#[derive(Default)]
struct Sum {
    sum: f64,
    c: f64,
}

impl Sum {
    fn add(&mut self, v: f64) {
        let t = self.sum + v;
        self.c += if self.sum.abs() >= v.abs() { (self.sum - t) + v } else { (v - t) + self.sum };
        self.sum = t;
    }

    fn total(&self) -> f64 {
        match self.sum.is_infinite() {
            true => self.sum,
            false => self.sum + self.c,
        }
    }
}

/// The windows of `resolution` ms of one series' samples (in time order), staleness markers
/// skipped; windows without a value are left out.
pub fn aggregate(samples: &[(i64, f64)], resolution: i64) -> Vec<Window> {
    let mut out: Vec<Window> = Vec::new();
    let mut sum = Sum::default();
    for &(t, v) in samples.iter().filter(|s| !is_stale_nan(s.1)) {
        let start = t.div_euclid(resolution) * resolution;
        match out.last_mut() {
            Some(w) if w.start == start => {
                w.count += 1;
                sum.add(v);
                w.min = min_of(w.min, v);
                w.max = max_of(w.max, v);
                if v < w.last.1 {
                    w.resets += w.last.1;
                }
                w.last = (t, v);
            }
            _ => {
                if let Some(w) = out.last_mut() {
                    w.sum = sum.total();
                }
                sum = Sum::default();
                sum.add(v);
                out.push(Window::of(start, t, v));
            }
        }
    }
    if let Some(w) = out.last_mut() {
        w.sum = sum.total();
    }
    out
}

/// The windows of `resolution` ms (a multiple of theirs) that `windows` (in start order) make
/// together: each the merge of the finer windows in it, its sum added with compensation.
pub fn coarsen(windows: &[Window], resolution: i64) -> Vec<Window> {
    let span = |w: &Window| w.start.div_euclid(resolution);
    windows
        .chunk_by(|a, b| span(a) == span(b))
        .map(|group| {
            let mut out = Window { start: span(&group[0]) * resolution, ..group[0] };
            let mut sum = Sum::default();
            sum.add(group[0].sum);
            for w in &group[1..] {
                out.merge(w);
                sum.add(w.sum);
            }
            out.sum = sum.total();
            out
        })
        .collect()
}

/// Windows of the same start (pieces of one window stored apart) merged, in start order; the
/// pieces of a window must come in time order.
pub fn merge_same_starts(mut windows: Vec<Window>) -> Vec<Window> {
    // Rows read in key order are in order already, each start once: the common case.
    if windows.windows(2).all(|w| w[0].start < w[1].start) {
        return windows;
    }
    windows.sort_by_key(|w| (w.start, w.first.0));
    let mut out: Vec<Window> = Vec::with_capacity(windows.len());
    for w in windows {
        match out.last_mut() {
            Some(last) if last.start == w.start => last.merge(&w),
            _ => out.push(w),
        }
    }
    out
}

/// A run of windows (starts increasing, at most `block::MAX_SAMPLES`) as a row.
pub fn encode_row(windows: &[Window]) -> Vec<u8> {
    let columns: [Vec<(i64, f64)>; COLUMNS] = std::array::from_fn(|c| {
        windows
            .iter()
            .enumerate()
            .map(|(i, w)| match c {
                0 => (w.start, w.count as f64),
                _ => (i as i64, [w.sum, w.min, w.max, (w.first.0 - w.start) as f64, w.first.1, (w.last.0 - w.start) as f64, w.last.1, w.resets][c - 1]),
            })
            .collect()
    });
    let mut out = vec![ROW_VERSION];
    put_uvarint(&mut out, windows.len() as u64);
    for column in columns {
        let bytes = block::encode(&column);
        put_uvarint(&mut out, bytes.len() as u64);
        out.extend_from_slice(&bytes);
    }
    out
}

/// The windows of a row, bit for bit as written.
pub fn decode_row(row: &[u8]) -> Result<Vec<Window>, BlockError> {
    let mut out = Vec::new();
    decode_row_into(row, |_| true, &mut out)?;
    Ok(out)
}

/// The windows of a row whose start `keep` takes, appended to `out` (no copy in between).
pub fn decode_row_into(row: &[u8], keep: impl Fn(i64) -> bool, out: &mut Vec<Window>) -> Result<(), BlockError> {
    let mut r = Reader::new(row);
    let version = r.u8("row version")?;
    if version != ROW_VERSION {
        return Err(BlockError::Version(version));
    }
    let n = r.uvarint("row window count")? as usize;
    if n == 0 || n > block::MAX_SAMPLES {
        return Err(BlockError::Invalid("row window count"));
    }
    let mut columns: Vec<Vec<(i64, f64)>> = Vec::with_capacity(COLUMNS);
    for c in 0..COLUMNS {
        let len = r.uvarint("row column")? as usize;
        let column = block::decode(r.take(len, "row column")?)?;
        let counted = c == 0 || column.iter().enumerate().all(|(i, s)| s.0 == i as i64);
        if column.len() != n || !counted {
            return Err(BlockError::Invalid("row column"));
        }
        columns.push(column);
    }
    r.end()?;
    let x = |c: usize, i: usize| columns[c][i].1;
    out.extend((0..n).filter(|&i| keep(columns[0][i].0)).map(|i| {
        let start = columns[0][i].0;
        Window { start, count: x(0, i) as u64, sum: x(1, i), min: x(2, i), max: x(3, i), first: (start + x(4, i) as i64, x(5, i)), last: (start + x(6, i) as i64, x(7, i)), resets: x(8, i) }
    }));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::STALE_NAN_BITS;

    const M: i64 = 60_000;

    /// A counter scraped each minute with a reset, a staleness marker, a gap and a NaN.
    fn samples() -> Vec<(i64, f64)> {
        let stale = f64::from_bits(STALE_NAN_BITS);
        vec![(0, 10.0), (M, 12.5), (2 * M, 3.0), (3 * M, stale), (4 * M, 4.0), (11 * M, 7.0), (12 * M, f64::NAN), (13 * M, 9.0)]
    }

    #[test]
    fn windows_hold_the_figures_computed_by_hand() {
        let w = aggregate(&samples(), FIVE_MINUTES);
        assert_eq!(w.len(), 2, "the window of 5–10 min has no sample");
        let a = w[0];
        // 10, 12.5, 3, 4: the marker is no value; one reset after 12.5.
        assert_eq!((a.start, a.count, a.sum, a.min, a.max), (0, 4, 29.5, 3.0, 12.5));
        assert_eq!((a.first, a.last, a.resets, a.increase()), ((0, 10.0), (4 * M, 4.0), 12.5, 6.5));
        let b = w[1];
        assert_eq!((b.start, b.count, b.first, b.last, b.resets), (10 * M, 3, (11 * M, 7.0), (13 * M, 9.0), 0.0));
        assert!(b.sum.is_nan());
        assert_eq!((b.min, b.max), (7.0, 9.0), "NaN is skipped by min and max when others are there");
    }

    #[test]
    fn merged_windows_are_the_windows_of_all_the_samples() {
        let all = aggregate(&samples(), 15 * M);
        let mut merged = aggregate(&samples(), FIVE_MINUTES);
        let second = merged.pop().unwrap();
        merged[0].merge(&second);
        // The step from 4 (last of the first) to 7 is no reset; all together as one window.
        assert_eq!(merged[0].bits()[1..], all[0].bits()[1..]);
        let pieces = vec![aggregate(&samples()[4..], 15 * M)[0], aggregate(&samples()[..4], 15 * M)[0]];
        assert_eq!(merge_same_starts(pieces)[0].bits(), all[0].bits(), "pieces in time order whatever their order given");
    }

    #[test]
    fn coarser_windows_are_the_windows_of_all_the_samples() {
        let fine = aggregate(&samples(), FIVE_MINUTES);
        let coarse = coarsen(&fine, 15 * M);
        assert_eq!(coarse.iter().map(Window::bits).collect::<Vec<_>>(), aggregate(&samples(), 15 * M).iter().map(Window::bits).collect::<Vec<_>>());
        // Compensated: 1e16 + 1 + 1 in three windows, where plain addition loses both ones.
        let big: Vec<(i64, f64)> = vec![(0, 1e16), (6 * M, 1.0), (11 * M, 1.0)];
        assert_eq!(coarsen(&aggregate(&big, FIVE_MINUTES), 15 * M)[0].sum, 1.0000000000000002e16);
        assert_eq!(coarsen(&[], ONE_HOUR).len(), 0);
    }

    #[test]
    fn rows_round_trip_bit_for_bit() {
        let mut s: Vec<(i64, f64)> = (0..2000).map(|i| (1_800_000_000_000 + i * 15_000 + 1_234, 1e6 + i as f64 * 0.25)).collect();
        s.extend([(1_800_030_000_000, -0.0), (1_800_030_060_000, f64::INFINITY), (1_800_030_100_000, 0.1 + 0.2)]);
        let windows = aggregate(&s, FIVE_MINUTES);
        let row = encode_row(&windows);
        let back = decode_row(&row).unwrap();
        assert_eq!(back.iter().map(Window::bits).collect::<Vec<_>>(), windows.iter().map(Window::bits).collect::<Vec<_>>());
        assert!(row.len() < windows.len() * 30, "{} bytes for {} windows", row.len(), windows.len());
    }

    #[test]
    fn broken_rows_are_errors() {
        let row = encode_row(&aggregate(&samples(), FIVE_MINUTES));
        for cut in [0, 1, 2, 5, row.len() - 1] {
            assert!(decode_row(&row[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = row.clone();
        longer.push(0);
        assert_eq!(decode_row(&longer).unwrap_err(), BlockError::Trailing(1));
        assert_eq!(decode_row(&[2, 1]).unwrap_err(), BlockError::Version(2));
    }
}
