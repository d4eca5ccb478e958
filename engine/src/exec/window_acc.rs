//! One window's aggregates over one field, fed point by point (a series' samples in time
//! order) and merged series by series (in the row path's series order), so that `SELECT`'s
//! fast path (`select_fast.rs`) gets the answers `query::aggregate::Call::reduce` gives over
//! the window's points sorted by (time, series), without keeping them: count, sum, mean,
//! min, max, first, last and spread in constant memory, with the same choices on ties and
//! NaN. `median`, `percentile` and `stddev` keep the window's points (InfluxDB 1.6 keeps them
//! too: its `stddev` is two passes over them) and hand them to `reduce`.
//! A tier's window of one series becomes the accumulator its samples would make (`of_tier`).
//! The one difference: a sum over several series adds each series' partial sum in series
//! order, as InfluxDB 1.6 does (a call iterator per series, merged), where the row path adds
//! point by point in time order; the two agree whenever the sums are exact.

use super::select::NS_PER_MS;
use crate::encoding::rollup::Window;
use crate::query::aggregate::Call;

/// A point: time (ns) and value.
type Point = (i64, f64);

/// The aggregates of the points of one window seen so far.
#[derive(Debug, Clone)]
pub struct WindowAcc {
    count: u64,
    sum: f64,
    /// `spread`'s folds, as `reduce` starts them: f64::MIN.max(..) and f64::MAX.min(..).
    high: f64,
    low: f64,
    /// The first point in (time, series) order, and the largest value that is not NaN at its
    /// time (the first such on ties).
    head: Point,
    first: Option<Point>,
    /// The last point in (time, series) order, and the largest value that is not NaN at its
    /// time (the last such on ties).
    tail: Point,
    last: Option<Point>,
    /// The smallest and largest values that are not NaN, the earliest on ties.
    min: Option<Point>,
    max: Option<Point>,
    /// (time, series, value) of every point, for the calls that need them all.
    points: Option<Vec<(i64, u32, f64)>>,
}

/// `v` when it is a number: NaN is never chosen after the first point.
fn number(p: Point) -> Option<Point> {
    (!p.1.is_nan()).then_some(p)
}

impl WindowAcc {
    /// The aggregates of the single point (t, v) of series `series`; `keep_points` when a call
    /// needs every point.
    pub fn new(t: i64, v: f64, series: u32, keep_points: bool) -> WindowAcc {
        let p = (t, v);
        WindowAcc {
            count: 1,
            sum: -0.0 + v,
            high: f64::MIN.max(v),
            low: f64::MAX.min(v),
            head: p,
            first: number(p),
            tail: p,
            last: number(p),
            min: number(p),
            max: number(p),
            points: keep_points.then(|| vec![(t, series, v)]),
        }
    }

    /// The aggregates of one series' samples in a window of a downsampled tier, as `new` and
    /// `add` make them from the samples: count, sum (added with compensation: equal up to
    /// rounding), first and last point and the smallest and largest values that are not NaN
    /// (a tier window's min and max are NaN only when every value is). Times of the min and
    /// max are the first point's: the tier keeps no other, and rows with `GROUP BY time`
    /// report the window's start. Not for the calls that keep points.
    pub fn of_tier(w: &Window) -> WindowAcc {
        let ns = |(t, v): (i64, f64)| (t * NS_PER_MS, v);
        let (head, tail) = (ns(w.first), ns(w.last));
        let at_head = |v: f64| number((head.0, v));
        WindowAcc {
            count: w.count,
            sum: w.sum,
            high: f64::MIN.max(w.max),
            low: f64::MAX.min(w.min),
            head,
            first: number(head),
            tail,
            last: number(tail),
            min: at_head(w.min),
            max: at_head(w.max),
            points: None,
        }
    }

    /// Adds point (t, v) of series `series`, no earlier than any point added before.
    pub fn add(&mut self, t: i64, v: f64, series: u32) {
        self.count += 1;
        self.sum += v;
        self.high = self.high.max(v);
        self.low = self.low.min(v);
        if let Some(p) = number((t, v)) {
            if t == self.head.0 && self.first.is_none_or(|f| v > f.1) {
                self.first = Some(p);
            }
            if t > self.tail.0 {
                self.last = None;
            }
            if self.last.is_none_or(|l| v >= l.1) {
                self.last = Some(p);
            }
            if self.min.is_none_or(|m| v < m.1) {
                self.min = Some(p);
            }
            if self.max.is_none_or(|m| v > m.1) {
                self.max = Some(p);
            }
        } else if t > self.tail.0 {
            self.last = None;
        }
        self.tail = (t, v);
        if let Some(points) = self.points.as_mut() {
            points.push((t, series, v));
        }
    }

    /// Merges the aggregates of a later series' points in the same window.
    pub fn merge(&mut self, other: WindowAcc) {
        self.count += other.count;
        self.sum += other.sum;
        self.high = self.high.max(other.high);
        self.low = self.low.min(other.low);
        if other.head.0 < self.head.0 {
            (self.head, self.first) = (other.head, other.first);
        } else if other.head.0 == self.head.0 {
            if let Some(f) = other.first.filter(|f| self.first.is_none_or(|s| f.1 > s.1)) {
                self.first = Some(f);
            }
        }
        if other.tail.0 > self.tail.0 {
            self.last = other.last;
        } else if other.tail.0 == self.tail.0 {
            if let Some(l) = other.last.filter(|l| self.last.is_none_or(|s| l.1 >= s.1)) {
                self.last = Some(l);
            }
        }
        if other.tail.0 >= self.tail.0 {
            self.tail = other.tail;
        }
        let earlier_on_ties = |a: Option<Point>, b: Option<Point>, better: fn(f64, f64) -> bool| match (a, b) {
            (Some(a), Some(b)) if better(b.1, a.1) || (b.1 == a.1 && b.0 < a.0) => Some(b),
            (None, b) => b,
            (a, _) => a,
        };
        self.min = earlier_on_ties(self.min, other.min, |b, a| b < a);
        self.max = earlier_on_ties(self.max, other.max, |b, a| b > a);
        if let (Some(points), Some(more)) = (self.points.as_mut(), other.points) {
            points.extend(more);
        }
    }

    /// The time of the window's first point.
    pub fn first_time(&self) -> i64 {
        self.head.0
    }

    /// What `call.reduce` answers over the window's points sorted by (time, series).
    pub fn value(&self, call: &Call) -> Option<Point> {
        let t0 = self.head.0;
        let n = self.count as f64;
        // A NaN first (or, for `last`, last) point is what `reduce` keeps; otherwise the best number.
        let or_head = |best: Option<Point>| if self.head.1.is_nan() { Some(self.head) } else { best };
        match call.func.as_str() {
            "count" => Some((t0, n)),
            "sum" => Some((t0, self.sum)),
            "mean" => Some((t0, self.sum / n)),
            "first" => or_head(self.first),
            "last" => if self.tail.1.is_nan() { Some(self.tail) } else { self.last },
            "min" => or_head(self.min),
            "max" => or_head(self.max),
            "spread" => Some((t0, self.high - self.low)),
            _ => {
                let mut points = self.points.clone().expect("points kept for median, percentile and stddev");
                points.sort_by_key(|p| (p.0, p.1));
                let points: Vec<Point> = points.into_iter().map(|p| (p.0, p.2)).collect();
                call.reduce(&points)
            }
        }
    }
}

/// Whether `calls` need every point of a window (see `WindowAcc`).
pub fn keeps_points(calls: &[Call]) -> bool {
    calls.iter().any(|c| matches!(c.func.as_str(), "median" | "percentile" | "stddev"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::aggregate::FUNCTIONS;

    /// The accumulator of `series` (each a list of points in time order), series by series.
    fn fold(series: &[&[(i64, f64)]]) -> WindowAcc {
        let mut merged: Option<WindowAcc> = None;
        for (s, points) in series.iter().enumerate() {
            let mut acc = WindowAcc::new(points[0].0, points[0].1, s as u32, true);
            for &(t, v) in &points[1..] {
                acc.add(t, v, s as u32);
            }
            match merged.as_mut() {
                Some(m) => m.merge(acc),
                None => merged = Some(acc),
            }
        }
        merged.unwrap()
    }

    fn call(func: &str) -> Call {
        Call { func: func.into(), arg: if func == "percentile" { 50.0 } else { 0.0 } }
    }

    /// Every function's answer over the series' points as `reduce` sees them: sorted by time,
    /// then series.
    fn by_reduce(series: &[&[(i64, f64)]]) -> Vec<Option<(i64, f64)>> {
        let mut points: Vec<(i64, usize, f64)> = series.iter().enumerate().flat_map(|(s, ps)| ps.iter().map(move |p| (p.0, s, p.1))).collect();
        points.sort_by_key(|p| (p.0, p.1));
        let points: Vec<(i64, f64)> = points.into_iter().map(|p| (p.0, p.2)).collect();
        FUNCTIONS.iter().map(|f| call(f).reduce(&points)).collect()
    }

    fn bits(answers: Vec<Option<(i64, f64)>>) -> Vec<Option<(i64, u64)>> {
        answers.into_iter().map(|a| a.map(|(t, v)| (t, v.to_bits()))).collect()
    }

    #[test]
    fn one_series_gives_pinned_answers() {
        let acc = fold(&[&[(60, 1.0), (65, 5.0), (70, 3.0), (200, 7.0)]]);
        let got: Vec<Option<(i64, f64)>> = FUNCTIONS.iter().map(|f| acc.value(&call(f))).collect();
        // mean median min max sum count first last spread stddev percentile(50)
        let want = [(60, 4.0), (60, 4.0), (60, 1.0), (200, 7.0), (60, 16.0), (60, 4.0), (60, 1.0), (200, 7.0), (60, 6.0), (60, 2.581988897471611), (70, 3.0)];
        assert_eq!(got, want.map(Some).to_vec());
    }

    #[test]
    fn ties_in_time_and_value_choose_as_the_sorted_points_do() {
        // Two series with points at the same times and equal values: first keeps the larger
        // value at the first time (the earlier series on ties), last the larger at the last
        // time (the later series on ties), min and max the earliest point.
        let a: &[(i64, f64)] = &[(0, 1.0), (5, 4.0), (9, 2.0)];
        let b: &[(i64, f64)] = &[(0, 3.0), (5, 4.0), (9, 2.0)];
        let acc = fold(&[a, b]);
        assert_eq!(acc.value(&call("first")), Some((0, 3.0)));
        assert_eq!(acc.value(&call("last")), Some((9, 2.0)));
        assert_eq!(acc.value(&call("max")), Some((5, 4.0)));
        assert_eq!(acc.value(&call("min")), Some((0, 1.0)));
        for series in [vec![a, b], vec![b, a], vec![&a[1..], b], vec![b, &a[..1]]] {
            let acc = fold(&series);
            assert_eq!(bits(FUNCTIONS.iter().map(|f| acc.value(&call(f))).collect()), bits(by_reduce(&series)), "{series:?}");
        }
    }

    #[test]
    fn nan_and_infinities_choose_as_the_sorted_points_do() {
        let cases: Vec<Vec<&[(i64, f64)]>> = vec![
            vec![&[(0, f64::NAN), (5, 2.0)], &[(0, 1.0), (5, f64::NAN)]],
            vec![&[(0, 1.0), (5, f64::NAN)], &[(0, f64::NAN), (5, 2.0)]],
            vec![&[(0, 5.0), (3, f64::NAN)], &[(3, 3.0)], &[(3, 4.0)]],
            vec![&[(1, f64::INFINITY), (2, f64::NEG_INFINITY)], &[(0, -0.0), (2, 0.0)]],
            vec![&[(1, -0.0)], &[(1, -0.0)]],
        ];
        for series in cases {
            let acc = fold(&series);
            assert_eq!(bits(FUNCTIONS.iter().map(|f| acc.value(&call(f))).collect()), bits(by_reduce(&series)), "{series:?}");
        }
    }

    #[test]
    fn only_median_percentile_and_stddev_keep_points() {
        assert!(!keeps_points(&["mean", "sum", "count", "min", "max", "first", "last", "spread"].map(call)));
        for f in ["median", "percentile", "stddev"] {
            assert!(keeps_points(&[call("count"), call(f)]), "{f}");
        }
    }
}
