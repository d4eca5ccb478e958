//! InfluxQL aggregates over points `(time ns, value)`: the functions, `GROUP BY time`
//! windows and `fill`. Semantics follow InfluxDB 1.x: `stddev` is the sample deviation (null
//! under two points, from a running mean), `percentile` picks the point at rank
//! floor(n·p/100 + 0.5), selectors (`first last min max percentile`) keep the time of the
//! point they chose, and an empty window counts 0 under `fill(null)`.

use super::ast::Fill;
use super::error::StatementError;
use std::collections::BTreeMap;

pub const FUNCTIONS: [&str; 11] = ["mean", "median", "min", "max", "sum", "count", "first", "last", "spread", "stddev", "percentile"];

/// One aggregate column: the function and, for `percentile`, its argument.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub func: String,
    pub arg: f64,
}

impl Call {
    pub fn is_selector(&self) -> bool {
        matches!(self.func.as_str(), "first" | "last" | "min" | "max" | "percentile")
    }

    /// The value over `points` (sorted by time) and, for selectors, the chosen point's time.
    pub fn reduce(&self, points: &[(i64, f64)]) -> Option<(i64, f64)> {
        let (t0, _) = *points.first()?;
        let values = || points.iter().map(|p| p.1);
        let n = points.len() as f64;
        let pick = |better: fn(f64, f64) -> bool| points.iter().copied().reduce(|a, b| if better(b.1, a.1) { b } else { a });
        match self.func.as_str() {
            "count" => Some((t0, n)),
            "sum" => Some((t0, values().sum())),
            "mean" => Some((t0, values().sum::<f64>() / n)),
            // On a tie in time (points of several series) InfluxDB keeps the larger value.
            "first" => points.iter().copied().take_while(|p| p.0 == t0).reduce(|a, b| if b.1 > a.1 { b } else { a }),
            "last" => {
                let t1 = points[points.len() - 1].0;
                points.iter().rev().copied().take_while(|p| p.0 == t1).reduce(|a, b| if b.1 > a.1 { b } else { a })
            }
            "min" => pick(|b, a| b < a),
            "max" => pick(|b, a| b > a),
            "spread" => Some((t0, values().fold(f64::MIN, f64::max) - values().fold(f64::MAX, f64::min))),
            "stddev" => {
                if points.len() < 2 {
                    return None;
                }
                // InfluxDB 1.6's two passes over the numbers: a running mean, then the squared
                // deviations from it.
                let numbers = || values().filter(|v| !v.is_nan());
                let (mean, count) = numbers().fold((0.0, 0.0), |(mean, count), v| (mean + (v - mean) / (count + 1.0), count + 1.0));
                Some((t0, (numbers().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1.0)).sqrt()))
            }
            "median" => {
                let mut sorted: Vec<f64> = values().collect();
                sorted.sort_by(f64::total_cmp);
                let mid = sorted.len() / 2;
                Some((t0, if sorted.len() % 2 == 1 { sorted[mid] } else { (sorted[mid - 1] + sorted[mid]) / 2.0 }))
            }
            "percentile" => {
                let mut sorted = points.to_vec();
                sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
                let rank = (n * self.arg / 100.0 + 0.5).floor() as i64 - 1;
                usize::try_from(rank).ok().and_then(|i| sorted.get(i).copied())
            }
            _ => None,
        }
    }
}

/// The windows of a query: `every` = None is one window over the whole range, reported at
/// `start` (or at the chosen point for a lone selector).
#[derive(Debug, Clone, Copy)]
pub struct Windows {
    pub start: i64,
    pub end: i64,
    pub every: Option<i64>,
    pub offset: i64,
}

/// Most windows one series may produce, so a typo like `GROUP BY time(1s)` over years with a
/// fill fails with a message instead of exhausting memory.
pub const MAX_WINDOWS: i64 = 1_000_000;

impl Windows {
    pub fn floor(&self, t: i64) -> i64 {
        match self.every {
            Some(every) => (t - self.offset).div_euclid(every) * every + self.offset,
            None => self.start,
        }
    }
}

/// What of the answer is wanted: rows are produced only up to `offset + limit` from the
/// start (or from the end when `descending`), so a `LIMIT` over a long range stays cheap.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub rows: usize,
    pub descending: bool,
}

/// The windows of one group that hold a point: for each window's start, the time its row
/// reports and each call's value.
pub type Occupied = BTreeMap<i64, (i64, Vec<Option<f64>>)>;

/// The rows of one group, ascending: for each window its start and one value per call, after
/// `fill`. `points[c]` are call c's points, sorted by time. A lone selector without
/// `GROUP BY time` reports its point's time.
pub fn rows(calls: &[Call], points: &[Vec<(i64, f64)>], windows: &Windows, fill: Fill, wanted: Wanted) -> Result<Vec<(i64, Vec<Option<f64>>)>, StatementError> {
    // Every window holding a point, with each call's value there (and a lone selector's time).
    let mut occupied: Occupied = BTreeMap::new();
    for (c, (call, pts)) in calls.iter().zip(points).enumerate() {
        let mut rest = &pts[..];
        while let Some(&(t, _)) = rest.first() {
            let start = windows.floor(t);
            let take = match windows.every {
                Some(every) => rest.partition_point(|p| p.0 < start + every),
                None => rest.len(),
            };
            let entry = occupied.entry(start).or_insert_with(|| (start, vec![None; calls.len()]));
            if let Some(chosen) = call.reduce(&rest[..take]) {
                entry.1[c] = Some(chosen.1);
                entry.0 = row_time(calls, windows, start, chosen);
            }
            rest = &rest[take..];
        }
    }
    fill_windows(calls, occupied, windows, fill, wanted)
}

/// The time a window's row reports when a call chose `chosen` there: the window's `start`,
/// or the chosen point's time for a lone selector without `GROUP BY time`.
pub fn row_time(calls: &[Call], windows: &Windows, start: i64, chosen: (i64, f64)) -> i64 {
    if calls.len() == 1 && calls[0].is_selector() && windows.every.is_none() {
        chosen.0
    } else {
        start
    }
}

/// The rows of one group from its `occupied` windows (see `rows`), after `fill`.
pub fn fill_windows(calls: &[Call], occupied: Occupied, windows: &Windows, fill: Fill, wanted: Wanted) -> Result<Vec<(i64, Vec<Option<f64>>)>, StatementError> {
    let (Some(every), false) = (windows.every, fill == Fill::None) else {
        let mut out: Vec<_> = occupied.into_values().collect();
        for row in out.iter_mut() {
            for (v, call) in row.1.iter_mut().zip(calls) {
                if v.is_none() && call.func == "count" {
                    *v = Some(0.0);
                }
            }
        }
        return Ok(out);
    };
    let (first, last) = (windows.floor(windows.start), windows.floor(windows.end));
    let total = (last as i128 - first as i128) / every as i128 + 1;
    let count = total.min(wanted.rows as i128);
    if count > MAX_WINDOWS as i128 {
        return Err(StatementError::TooManyWindows { every_s: every / 1_000_000_000, count, max: MAX_WINDOWS });
    }
    let from = if wanted.descending { first + (total - count) as i64 * every } else { first };
    let mut out = Vec::with_capacity(count as usize);
    for i in 0..count as i64 {
        let start = from + i * every;
        let values = (0..calls.len()).map(|c| value_at(&occupied, start, c, &calls[c], fill)).collect();
        out.push((start, values));
    }
    Ok(out)
}

/// Call `c`'s value in the window at `start`, filled from the occupied windows around it.
fn value_at(occupied: &Occupied, start: i64, c: usize, call: &Call, fill: Fill) -> Option<f64> {
    if let Some(v) = occupied.get(&start).and_then(|w| w.1[c]) {
        return Some(v);
    }
    let before = || occupied.range(..start).rev().find_map(|(t, w)| w.1[c].map(|v| (*t, v)));
    let after = || occupied.range(start + 1..).find_map(|(t, w)| w.1[c].map(|v| (*t, v)));
    match fill {
        Fill::Null | Fill::None => (call.func == "count").then_some(0.0),
        Fill::Value(v) => Some(v),
        Fill::Previous => before().map(|(_, v)| v),
        Fill::Linear => match (before(), after()) {
            (Some((t0, a)), Some((t1, b))) => Some(a + (b - a) * (start - t0) as f64 / (t1 - t0) as f64),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;
    const ALL: Wanted = Wanted { rows: usize::MAX, descending: false };

    fn call(func: &str) -> Call {
        Call { func: func.into(), arg: 0.0 }
    }

    #[test]
    fn functions_match_influxdb() {
        let pts = [(60 * S, 1.0), (65 * S, 5.0), (70 * S, 3.0), (200 * S, 7.0)];
        let value = |f: &str| call(f).reduce(&pts).unwrap();
        assert_eq!(value("mean").1, 4.0);
        assert_eq!(value("median").1, 4.0);
        assert_eq!(value("max"), (200 * S, 7.0));
        assert_eq!(value("min"), (60 * S, 1.0));
        assert_eq!(value("spread").1, 6.0);
        assert_eq!(value("count").1, 4.0);
        assert_eq!(value("sum").1, 16.0);
        assert_eq!(value("first"), (60 * S, 1.0));
        assert_eq!(value("last"), (200 * S, 7.0));
        assert!((value("stddev").1 - 2.581988897471611).abs() < 1e-15);
        assert_eq!(Call { func: "percentile".into(), arg: 50.0 }.reduce(&pts), Some((70 * S, 3.0)));
        assert_eq!(Call { func: "percentile".into(), arg: 0.0 }.reduce(&pts), None);
        assert_eq!(call("stddev").reduce(&pts[..1]), None);
        assert_eq!(call("mean").reduce(&[]), None);
        let ties = [(0, 1.0), (0, 3.0), (5, 4.0), (5, 2.0)];
        assert_eq!((call("first").reduce(&ties), call("last").reduce(&ties)), (Some((0, 3.0)), Some((5, 4.0))));
    }

    #[test]
    fn stddev_rounds_as_influxdb_1_6() {
        // InfluxDB 1.6 answers 0.4821628984130369 here; a mean of sum / n gives 0.48216289841303694.
        let values = [1.0, 1.25, 1.5, 1.75, 2.0, 2.25, 2.5, 1.0, 1.25, 1.5, 1.75, 2.0];
        let pts: Vec<(i64, f64)> = values.iter().enumerate().map(|(i, v)| (i as i64 * 15 * S, *v)).collect();
        assert_eq!(call("stddev").reduce(&pts), Some((0, 0.4821628984130369)));
        let with_nan: Vec<(i64, f64)> = pts.iter().copied().chain([(200 * S, f64::NAN)]).collect();
        assert_eq!(call("stddev").reduce(&with_nan), Some((0, 0.4821628984130369)), "NaN is left out, as InfluxDB does");
    }

    fn windows(start: i64, end: i64) -> Windows {
        Windows { start, end, every: Some(60 * S), offset: 0 }
    }

    #[test]
    fn windows_and_fill() {
        let a = vec![(60 * S, 1.0), (70 * S, 3.0), (200 * S, 7.0)];
        let w = windows(0, 300 * S - 1);
        let count = rows(&[call("count"), call("mean")], &[a.clone(), a.clone()], &w, Fill::Null, ALL).unwrap();
        let expect: Vec<(i64, Vec<Option<f64>>)> = vec![
            (0, vec![Some(0.0), None]),
            (60 * S, vec![Some(2.0), Some(2.0)]),
            (120 * S, vec![Some(0.0), None]),
            (180 * S, vec![Some(1.0), Some(7.0)]),
            (240 * S, vec![Some(0.0), None]),
        ];
        assert_eq!(count, expect);
        let linear = rows(&[call("mean")], &[a.clone()], &w, Fill::Linear, ALL).unwrap();
        assert_eq!(linear.iter().map(|r| r.1[0]).collect::<Vec<_>>(), vec![None, Some(2.0), Some(4.5), Some(7.0), None]);
        let previous = rows(&[call("mean")], &[a.clone()], &w, Fill::Previous, ALL).unwrap();
        assert_eq!(previous.iter().map(|r| r.1[0]).collect::<Vec<_>>(), vec![None, Some(2.0), Some(2.0), Some(7.0), Some(7.0)]);
        let none = rows(&[call("mean")], &[a.clone()], &w, Fill::None, ALL).unwrap();
        assert_eq!(none.iter().map(|r| r.0).collect::<Vec<_>>(), vec![60 * S, 180 * S]);
        let number = rows(&[call("count")], &[a.clone()], &w, Fill::Value(-1.0), ALL).unwrap();
        assert_eq!(number[0].1[0], Some(-1.0));
        let offset = Windows { offset: 30 * S, ..windows(0, 179 * S) };
        let starts = rows(&[call("count")], &[a.clone()], &offset, Fill::Null, ALL).unwrap();
        assert_eq!(starts.iter().map(|r| r.0).collect::<Vec<_>>(), vec![-30 * S, 30 * S, 90 * S, 150 * S]);
        let whole = Windows { start: 0, end: i64::MAX, every: None, offset: 0 };
        assert_eq!(rows(&[call("max")], &[a.clone()], &whole, Fill::Null, ALL).unwrap(), vec![(200 * S, vec![Some(7.0)])]);
        assert_eq!(rows(&[call("max"), call("min")], &[a.clone(), a.clone()], &whole, Fill::Null, ALL).unwrap()[0].0, 0);
        assert!(rows(&[call("max")], &[vec![]], &whole, Fill::Null, ALL).unwrap().is_empty());
        let years = windows(0, 10_000_000 * 60 * S);
        assert!(rows(&[call("mean")], &[a.clone()], &years, Fill::Null, ALL).unwrap_err().to_string().contains("more than the 1000000 allowed"));
        assert_eq!(rows(&[call("mean")], &[a.clone()], &years, Fill::None, ALL).unwrap().len(), 2);
        let last_two = rows(&[call("mean")], &[a.clone()], &years, Fill::Previous, Wanted { rows: 2, descending: true }).unwrap();
        assert_eq!(last_two, vec![((10_000_000 - 1) * 60 * S, vec![Some(7.0)]), (10_000_000 * 60 * S, vec![Some(7.0)])]);
        let first = rows(&[call("mean")], &[a.clone()], &years, Fill::Null, Wanted { rows: 2, descending: false }).unwrap();
        assert_eq!(first, vec![(0, vec![None]), (60 * S, vec![Some(2.0)])]);
    }
}
