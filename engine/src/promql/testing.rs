//! What the operator and aggregation tests share: label sets written as in Prometheus' .test
//! files, and a comparison of vectors to 1e-9.

use super::value::{Labels, Point, Sample, Vector};

/// The step time the operator and aggregation tests evaluate at.
pub const TS: i64 = 3_000_000;

/// `name{a="1", b="2"}` as in the .test files (values without quotes or commas).
pub fn l(s: &str) -> Labels {
    let (name, mut rest) = match s.find('{') {
        Some(i) => (&s[..i], &s[i + 1..s.len() - 1]),
        None => (s, ""),
    };
    let mut pairs = Vec::new();
    if !name.is_empty() {
        pairs.push(("__name__".to_string(), name.to_string()));
    }
    loop {
        rest = rest.trim_start_matches([',', ' ']);
        if rest.is_empty() {
            break;
        }
        let eq = rest.find('=').unwrap();
        let after = &rest[eq + 2..];
        let end = after.find('"').unwrap();
        pairs.push((rest[..eq].trim().to_string(), after[..end].to_string()));
        rest = &after[end + 1..];
    }
    Labels::new(pairs)
}

fn close(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

/// Compares as sets (sorted by labels), or in order when `ordered`.
pub fn check_as(mut got: Vector, want: &[(&str, f64)], ordered: bool) {
    let mut want: Vector = want.iter().map(|(s, v)| Sample { labels: l(s), point: Point { t: TS, v: *v } }).collect();
    if !ordered {
        got.sort_by(|a, b| a.labels.cmp(&b.labels));
        want.sort_by(|a, b| a.labels.cmp(&b.labels));
    }
    let show = |x: &Vector| x.iter().map(|s| format!("{} {}", s.labels, s.point.v)).collect::<Vec<_>>();
    assert_eq!(got.len(), want.len(), "got {:?} want {:?}", show(&got), show(&want));
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.labels, w.labels, "got {:?} want {:?}", show(&got), show(&want));
        assert!(close(g.point.v, w.point.v), "{}: got {} want {}", g.labels, g.point.v, w.point.v);
        assert_eq!(g.point.t, TS);
    }
}

pub fn check(got: Vector, want: &[(&str, f64)]) {
    check_as(got, want, false)
}
