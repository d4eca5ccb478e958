//! Which reads a tier answers (`choose`), and tier answers against raw ones: the same query
//! evaluated over raw samples and over their 5-minute and 1-hour windows (`rollup::aggregate`,
//! what downsampling stores), on data with a counter reset, a gap and a staleness marker,
//! with the tier ending part way (`through`) as it does before the newest partitions are
//! downsampled. The raw evaluation is the one the differential tests hold to Prometheus 2.42.

use super::*;
use crate::encoding::rollup::{aggregate, FIVE_MINUTES, ONE_HOUR};
use crate::encoding::STALE_NAN_BITS;
use crate::promql::build::{plan, Span};
use crate::promql::eval::Limits;
use crate::promql::run::{run, Steps};
use crate::promql::testing::l;
use crate::promql::value::{Series, Stored, TierPart, Value};
use std::time::{Duration, Instant};

const M5: i64 = FIVE_MINUTES;
const H: i64 = ONE_HOUR;
/// The first step of the evaluation tests: a whole day, so every tier is aligned.
const T0: i64 = 19_000 * 24 * H;

fn chosen(q: &str, start: i64, step: i64, resolution: Resolution) -> Vec<Option<Tier>> {
    let steps = Steps { start, end: start + 10 * step, step, lookback: M5 };
    let p = plan(q, Span { start, end: steps.end, lookback: M5 }).unwrap();
    choose(&p.root, p.reads.len(), steps, resolution).into_iter().map(|t| t.map(|t| t.tier)).collect()
}

#[test]
fn the_parameter_names_raw_a_tier_or_auto() {
    assert_eq!(Resolution::parse(""), Ok(Resolution::Auto));
    assert_eq!(Resolution::parse("auto"), Ok(Resolution::Auto));
    assert_eq!(Resolution::parse("raw"), Ok(Resolution::Raw));
    assert_eq!(Resolution::parse("0s"), Ok(Resolution::Raw));
    assert_eq!(Resolution::parse("5m"), Ok(Resolution::Upto(Tier::FiveMinutes)));
    assert_eq!(Resolution::parse("1h"), Ok(Resolution::Upto(Tier::OneHour)));
    assert_eq!(Resolution::parse("10m").unwrap_err(), "max_source_resolution must be raw, 5m, 1h or auto, not \"10m\"");
}

#[test]
fn auto_takes_the_coarsest_tier_at_most_a_fifth_of_the_step() {
    let (five, hour) = (Some(Tier::FiveMinutes), Some(Tier::OneHour));
    assert_eq!(chosen("sum by (mode) (rate(x[5m]))", T0, H, Resolution::Auto), [five]);
    // Hours are merges of 5-minute windows: where the grid fits, the hours answer the same.
    assert_eq!(chosen("sum by (mode) (rate(x[1h]))", T0, H, Resolution::Auto), [hour]);
    assert_eq!(chosen("sum by (mode) (rate(x[1h]))", T0, 30 * 60_000, Resolution::Auto), [five], "steps off the hour grid");
    assert_eq!(chosen("rate(x[5h])", T0, 5 * H, Resolution::Auto), [hour]);
    assert_eq!(chosen("rate(x[1h])", T0, 25 * 60_000, Resolution::Auto), [five]);
    assert_eq!(chosen("rate(x[1h])", T0, 4 * H, Resolution::Auto), [hour], "a fifth of 4h allows 5m; the hours fit");
    assert_eq!(chosen("rate(x[1h])", T0, 20 * 60_000, Resolution::Auto), [None], "5 × 5m is more than the step");
    assert_eq!(chosen("rate(x[1h])", T0, M5, Resolution::Upto(Tier::FiveMinutes)), [five]);
    assert_eq!(chosen("rate(x[1h])", T0, H, Resolution::Upto(Tier::OneHour)), [hour]);
    assert_eq!(chosen("rate(x[5h])", T0, 5 * H, Resolution::Upto(Tier::FiveMinutes)), [five]);
    assert_eq!(chosen("rate(x[1h])", T0, H, Resolution::Raw), [None]);
    assert_eq!(chosen("rate(x[1h])", T0 + 60_000, H, Resolution::Auto), [None], "steps off the 5m grid");
    assert_eq!(chosen("rate(x[1h])", T0, H + 60_000, Resolution::Auto), [None], "a step that is no multiple of 5m");
    let p = plan("rate(x[1h])", Span { start: T0, end: T0, lookback: M5 }).unwrap();
    assert_eq!(choose(&p.root, 1, Steps { start: T0, end: T0, step: 0, lookback: M5 }, Resolution::Auto), [None], "instant queries read raw");
}

#[test]
fn only_reads_whose_every_use_a_tier_answers_read_it() {
    let five = Some(Tier::FiveMinutes);
    for q in ["irate(x[1h])", "quantile_over_time(0.5, x[1h])", "rate(x[7m])", "rate(x[1h] offset 1m)", "rate(x[1h] @ 100)", "max_over_time(rate(x[5m])[1h:5m])", "timestamp(x)", "rate(x[1h]) + irate(x[1h])"] {
        assert_eq!(chosen(q, T0, H, Resolution::Auto), [None], "{q}");
    }
    assert_eq!(chosen("rate(x[1h] offset 1h) / x", T0, H, Resolution::Auto), [five]);
    assert_eq!(chosen("max_over_time(x[1h]) + irate(y[1h])", T0, H, Resolution::Auto), [Some(Tier::OneHour), None]);
    // The 5-minute lookback of a plain selector is no multiple of an hour: the finer tier.
    assert_eq!(chosen("rate(x[5h]) / x", T0, 5 * H, Resolution::Auto), [five]);
    assert_eq!(chosen("rate(x[5h]) / y", T0, 5 * H, Resolution::Auto), [Some(Tier::OneHour), five]);
}

/// Twelve hours of 15 s scrapes, 7 s off the minute as scrapes are (no sample on a window's
/// edge): a counter with a reset and a 40-minute gap, a gauge with a staleness marker.
fn data() -> Vec<Series> {
    let mut counter = Vec::new();
    let mut gauge = Vec::new();
    let mut c = 1000.0;
    for i in 0..(12 * 240) {
        let t = T0 + 7_000 + i * 15_000;
        c += (i % 7) as f64 * 1.5;
        if i == 500 {
            c = 3.0;
        }
        if !(800..960).contains(&i) {
            counter.push(Point { t, v: c });
        }
        let v = if i == 300 { f64::from_bits(STALE_NAN_BITS) } else { ((i as f64) / 17.0).sin() * 100.0 + 0.1 * i as f64 };
        if !(310..330).contains(&i) {
            gauge.push(Point { t, v });
        }
    }
    vec![Series { labels: l(r#"c{job="a"}"#), points: counter }, Series { labels: l(r#"g{job="a"}"#), points: gauge }]
}

/// `q` evaluated every `step` over the data, raw (`tier` None) or with `tier`'s windows up to
/// `through` and raw samples from `through − reach` on, as `promql::fetch` reads them.
fn evaluate(q: &str, step: i64, tier: Option<(Tier, i64)>) -> Vec<Series> {
    let steps = Steps { start: T0 + H, end: T0 + 13 * H, step, lookback: M5 };
    let p = plan(q, Span { start: steps.start, end: steps.end, lookback: M5 }).unwrap();
    let reads = choose(&p.root, p.reads.len(), steps, Resolution::Auto);
    let series: Vec<Vec<Stored>> = p
        .reads
        .iter()
        .zip(&reads)
        .map(|(r, read)| {
            let name = &r.matchers[0].value;
            data()
                .into_iter()
                .filter(|s| s.labels.get("__name__") == name)
                .map(|s| match (tier, read) {
                    (Some((want, through)), Some(read)) => {
                        assert_eq!(read.tier, want, "{q}: the tier chosen");
                        let samples: Vec<(i64, f64)> = s.points.iter().filter(|p| p.t < through).map(|p| (p.t, p.v)).collect();
                        let windows = aggregate(&samples, want.resolution());
                        let raw: Vec<Point> = s.points.iter().copied().filter(|p| p.t >= through - read.reach).collect();
                        Stored { tier: Some(TierPart { through, windows }), ..Stored::decoded(s.labels.clone(), raw) }
                    }
                    (Some(_), None) => panic!("{q}: no tier chosen"),
                    (None, _) => Stored::decoded(s.labels, s.points),
                })
                .collect()
        })
        .collect();
    let limits = Limits { deadline: Instant::now() + Duration::from_secs(10), max_samples: 1_000_000 };
    match run(&p, &series, steps, limits).unwrap() {
        Value::Matrix(m) => m,
        v => panic!("{q}: {v:?}"),
    }
}

/// Raw and tier answers: the same series and steps, values equal (`exact`) or within 1e-9.
fn same(q: &str, step: i64, tier: Tier, through: i64, exact: bool) {
    let raw = evaluate(q, step, None);
    let tiered = evaluate(q, step, Some((tier, through)));
    assert!(!raw.is_empty() && raw.iter().all(|s| s.points.len() > 1), "{q}: raw answers too little: {raw:?}");
    assert_eq!(raw.len(), tiered.len(), "{q}");
    for (r, t) in raw.iter().zip(&tiered) {
        assert_eq!(r.labels, t.labels, "{q}");
        assert_eq!(r.points.iter().map(|p| p.t).collect::<Vec<_>>(), t.points.iter().map(|p| p.t).collect::<Vec<_>>(), "{q} {}: steps", r.labels);
        for (a, b) in r.points.iter().zip(&t.points) {
            let close = a.v == b.v || (!exact && (a.v - b.v).abs() <= 1e-9 * a.v.abs().max(b.v.abs()));
            assert!(close, "{q} {} at {}: raw {} tier {}", r.labels, a.t, a.v, b.v);
        }
    }
}

#[test]
fn tier_answers_equal_raw_ones_with_resets_gaps_and_staleness() {
    for (finest, step) in [(Tier::FiveMinutes, M5 * 5), (Tier::FiveMinutes, H), (Tier::OneHour, 5 * H)] {
        for through in [T0 + 13 * H, T0 + 7 * H] {
            for range in [finest.resolution() * 2, 2 * H, 5 * H] {
                if range % finest.resolution() != 0 || (finest == Tier::OneHour && range < H) {
                    continue;
                }
                // The hours answer where their grid fits (steps and range whole hours).
                let tier = if step % H == 0 && range % H == 0 { Tier::OneHour } else { finest };
                let r = format!("{}m", range / 60_000);
                for f in ["min_over_time", "max_over_time", "count_over_time", "last_over_time", "present_over_time"] {
                    same(&format!("{f}(g[{r}])"), step, tier, through, true);
                    same(&format!("{f}(c[{r}])"), step, tier, through, true);
                }
                for f in ["sum_over_time", "avg_over_time", "rate", "increase", "delta"] {
                    same(&format!("{f}(g[{r}])"), step, tier, through, false);
                    same(&format!("{f}(c[{r}])"), step, tier, through, false);
                }
                same(&format!("sum by (job) (rate(c[{r}]))"), step, tier, through, false);
            }
        }
    }
}

#[test]
fn a_plain_selector_takes_the_last_value_of_its_lookback() {
    for through in [T0 + 13 * H, T0 + 7 * H] {
        same("c", M5 * 5, Tier::FiveMinutes, through, true);
        same("c * 2 + max_over_time(c[10m])", H, Tier::FiveMinutes, through, true);
    }
}
