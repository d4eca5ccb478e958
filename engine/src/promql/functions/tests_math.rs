//! Tests of the element-wise functions, clamp, round, the calendar functions, time, pi,
//! scalar, vector, timestamp and sort. Expected values are from Prometheus v2.42.0
//! promql/testdata/functions.test and aggregators.test (cited by their `eval` line) or
//! computed by hand.

use super::testutil::*;
use crate::promql::value::{Point, Sample, Value};

const NAN: f64 = f64::NAN;

fn test_clamp() -> Value {
    vector(&[
        (&[("__name__", "test_clamp"), ("src", "clamp-a")], -50.),
        (&[("__name__", "test_clamp"), ("src", "clamp-b")], 0.),
        (&[("__name__", "test_clamp"), ("src", "clamp-c")], 100.),
    ])
}

fn values(name: &str, args: Vec<Value>) -> Vec<f64> {
    call(name, 0, args, vec![], 0, 0).unwrap().iter().map(|s| s.point.v).collect()
}

#[test]
fn clamp_functions_test() {
    // eval instant at 0m clamp_max(test_clamp, 75) etc.; the metric name is dropped.
    let out = call("clamp_max", 0, vec![test_clamp(), scalar(75.)], vec![], 0, 0).unwrap();
    assert_eq!(pairs(&out)[2], (lbls(&[("src", "clamp-c")]), 75.));
    assert_eq!(values("clamp_max", vec![test_clamp(), scalar(75.)]), [-50., 0., 75.]);
    assert_eq!(values("clamp_min", vec![test_clamp(), scalar(-25.)]), [-25., 0., 100.]);
    assert_eq!(values("clamp", vec![test_clamp(), scalar(-25.), scalar(75.)]), [-25., 0., 75.]);
    // clamp(test_clamp, 0, NaN) and clamp(test_clamp, NaN, 0): all NaN.
    assert!(values("clamp", vec![test_clamp(), scalar(0.), scalar(NAN)]).iter().all(|v| v.is_nan()));
    assert!(values("clamp", vec![test_clamp(), scalar(NAN), scalar(0.)]).iter().all(|v| v.is_nan()));
    // clamp(test_clamp, 5, -5): nothing.
    assert!(values("clamp", vec![test_clamp(), scalar(5.), scalar(-5.)]).is_empty());
}

#[test]
fn sgn_functions_test() {
    // eval instant at 0m sgn(test_sgn)
    let v = vector(&[
        (&[("src", "a")], f64::NEG_INFINITY),
        (&[("src", "b")], f64::INFINITY),
        (&[("src", "c")], NAN),
        (&[("src", "d")], -50.),
        (&[("src", "e")], 0.),
        (&[("src", "f")], 100.),
    ]);
    let got = values("sgn", vec![v]);
    assert_eq!([got[0], got[1], got[3], got[4], got[5]], [-1., 1., -1., 0., 1.]);
    assert!(got[2].is_nan());
}

#[test]
fn round_aggregators_test() {
    // aggregators.test: http_requests{group="production",job="api-server"} is 100 and 200
    // at 50m; eval instant at 50m round(<expr>[, to_nearest]).
    let v = |a: f64, b: f64| vector(&[(&[("instance", "0")], a), (&[("instance", "1")], b)]);
    assert_eq!(values("round", vec![v(0.004 * 100., 0.004 * 200.)]), [0., 1.]);
    assert_eq!(values("round", vec![v(-1. * (0.004 * 100.), -1. * (0.004 * 200.))]), [0., -1.]);
    assert_eq!(values("round", vec![v(0.005 * 100., 0.005 * 200.)]), [1., 1.]);
    assert_eq!(values("round", vec![v(-1. * (0.005 * 100.), -1. * (0.005 * 200.))]), [0., -1.]);
    assert_eq!(values("round", vec![v(1. + 0.005 * 100., 1. + 0.005 * 200.)]), [2., 2.]);
    assert_eq!(values("round", vec![v(-1. * (1. + 0.005 * 100.), -1. * (1. + 0.005 * 200.))]), [-1., -2.]);
    let r = |a: f64, b: f64, n: f64| values("round", vec![v(a, b), scalar(n)]);
    let close = |got: Vec<f64>, want: [f64; 2]| got.iter().zip(want).for_each(|(g, w)| assert_close(*g, w, 1e-12));
    close(r(0.0005 * 100., 0.0005 * 200., 0.1), [0.1, 0.1]);
    close(r(2.1 + 0.0005 * 100., 2.1 + 0.0005 * 200., 0.1), [2.2, 2.2]);
    close(r(5.2 + 0.0005 * 100., 5.2 + 0.0005 * 200., 0.1), [5.3, 5.3]);
    close(r(-1. * (5.2 + 0.0005 * 100.), -1. * (5.2 + 0.0005 * 200.), 0.1), [-5.2, -5.3]);
    close(r(0.025 * 100., 0.025 * 200., 5.), [5., 5.]);
    close(r(0.045 * 100., 0.045 * 200., 5.), [5., 10.]);
}

#[test]
fn exp_ln_log_sqrt_functions_test() {
    // load 5m exp_root_log{l="x"} 10, {l="y"} 20; eval instant at 5m <fn>(exp_root_log)
    let v = |a: f64, b: f64| vector(&[(&[("l", "x")], a), (&[("l", "y")], b)]);
    let check = |name: &str, arg: Value, want: [f64; 2]| {
        let got = values(name, vec![arg]);
        assert_close(got[0], want[0], 1e-15);
        assert_close(got[1], want[1], 1e-15);
    };
    check("exp", v(10., 20.), [22026.465794806718, 485165195.4097903]);
    check("exp", v(0., 10.), [1., 22026.465794806718]);
    check("exp", v(-10., 0.), [4.5399929762484854e-05, 1.]);
    check("ln", v(10., 20.), [2.302585092994046, 2.995732273553991]);
    check("ln", v(0., 10.), [f64::NEG_INFINITY, 2.302585092994046]);
    check("ln", v(-10., 0.), [NAN, f64::NEG_INFINITY]);
    check("sqrt", v(10., 20.), [3.1622776601683795, 4.47213595499958]);
    check("log2", v(10., 20.), [3.3219280948873626, 4.321928094887363]);
    check("log2", v(0., 10.), [f64::NEG_INFINITY, 3.3219280948873626]);
    check("log2", v(-10., 0.), [NAN, f64::NEG_INFINITY]);
    check("log10", v(10., 20.), [1., 1.301029995663981]);
    check("log10", v(-10., 0.), [NAN, f64::NEG_INFINITY]);
    // Go's formulas, by hand: Log2 of a power of two is exact; Log10(x) is Log(x)*(1/Ln10),
    // which for 1e15 is 34.538776394910684 * 0.4342944819032518 = 14.999999999999998 (the
    // correctly rounded log10 is 15).
    assert_eq!(values("log2", vec![v(8., 0.5)]), [3., -1.]);
    assert_eq!(values("log10", vec![v(1e15, 1000.)]), [14.999999999999998, 3.]);
}

#[test]
fn trigonometry_by_hand() {
    let v = |a: f64| vector(&[(&[("__name__", "m")], a)]);
    assert_close(values("deg", vec![v(std::f64::consts::PI)])[0], 180., 1e-15);
    assert_close(values("rad", vec![v(180.)])[0], std::f64::consts::PI, 1e-15);
    assert_close(values("cos", vec![v(0.)])[0], 1., 0.);
    assert_close(values("atan", vec![v(1.)])[0], std::f64::consts::FRAC_PI_4, 1e-15);
    assert_close(values("cosh", vec![v(0.)])[0], 1., 0.);
    assert_close(values("asinh", vec![v(0.)])[0], 0., 0.);
    assert!(values("acosh", vec![v(0.)])[0].is_nan());
    assert_eq!(values("atanh", vec![v(1.)])[0], f64::INFINITY);
    let pi = call("pi", 0, vec![], vec![], 0, 0).unwrap();
    assert_eq!(pairs(&pi), vec![(lbls(&[]), std::f64::consts::PI)]);
}

#[test]
fn date_functions_test() {
    let at = |name: &str, secs: f64| values(name, vec![vector(&[(&[("__name__", "x")], secs)])])[0];
    let now = |name: &str| call(name, 0, vec![], vec![], 0, 0).unwrap()[0].point.v;
    // eval instant at 0m year() / month() / ... (1970-01-01 00:00, a Thursday)
    assert_eq!(
        [now("year"), now("month"), now("day_of_month"), now("day_of_year"), now("day_of_week"), now("hour"), now("minute")],
        [1970., 1., 1., 1., 4., 0., 0.]
    );
    // ...(vector(1136239445)): 2006-01-02 22:04:05, a Monday
    let t = 1136239445.;
    assert_eq!(
        [at("year", t), at("month", t), at("day_of_month", t), at("day_of_year", t), at("day_of_week", t), at("hour", t), at("minute", t)],
        [2006., 1., 2., 2., 1., 22., 4.]
    );
    assert_eq!(at("year", 1230767999.), 2008.);
    assert_eq!(at("year", 1230768000.), 2009.);
    assert_eq!([at("month", 1456790399.), at("day_of_month", 1456790399.)], [2., 29.]);
    assert_eq!([at("month", 1456790400.), at("day_of_month", 1456790400.)], [3., 1.]);
    assert_eq!(at("day_of_year", 1483191420.), 366.);
    assert_eq!(at("day_of_year", 1672493820.), 365.);
    assert_eq!(at("days_in_month", 1454284800.), 29.);
    assert_eq!(at("days_in_month", 1485907200.), 28.);
    // By hand: 1969-12-31 23:59:59 (negative time), fractional seconds truncate.
    assert_eq!([at("year", -1.), at("hour", -1.), at("minute", -0.5)], [1969., 23., 0.]);
    assert_eq!(at("days_in_month", -1.), 31.);
    // The metric name is dropped.
    let out = call("hour", 0, vec![vector(&[(&[("__name__", "x"), ("a", "b")], 0.)])], vec![], 0, 0).unwrap();
    assert_eq!(out[0].labels, lbls(&[("a", "b")]));
}

#[test]
fn time_vector_scalar_timestamp_functions_test() {
    // eval instant at 1ms time() -> 0.001; at 50m -> 3000
    assert_eq!(call("time", 1, vec![], vec![], 0, 0).unwrap()[0].point.v, 0.001);
    assert_eq!(pairs(&call("time", 50 * M, vec![], vec![], 0, 0).unwrap()), vec![(lbls(&[]), 3000.)]);
    // eval instant at 0m vector(1) -> {} 1
    assert_eq!(pairs(&call("vector", 0, vec![scalar(1.)], vec![], 0, 0).unwrap()), vec![(lbls(&[]), 1.)]);
    // scalar(): the single value, else NaN.
    let one = vector(&[(&[("a", "b")], 7.)]);
    assert_eq!(pairs(&call("scalar", 0, vec![one], vec![], 0, 0).unwrap()), vec![(lbls(&[]), 7.)]);
    let two = vector(&[(&[("a", "b")], 7.), (&[("a", "c")], 8.)]);
    assert!(call("scalar", 0, vec![two], vec![], 0, 0).unwrap()[0].point.v.is_nan());
    assert!(call("scalar", 0, vec![Value::Vector(vec![])], vec![], 0, 0).unwrap()[0].point.v.is_nan());
    // load 10s metric 1 1; eval instant at 5s timestamp(metric) -> {} 0; at 10s -> {} 10
    for (ts, sample_t, want) in [(5 * S, 0, 0.), (10 * S, 10 * S, 10.)] {
        let arg = Value::Vector(vec![Sample { labels: lbls(&[("__name__", "metric")]), point: Point { t: sample_t, v: 1. } }]);
        let out = call("timestamp", ts, vec![arg], vec![], 0, 0).unwrap();
        assert_eq!(pairs(&out), vec![(lbls(&[]), want)]);
        assert_eq!(out[0].point.t, ts);
    }
}

fn http_requests_at_50m() -> Value {
    // functions.test "Tests for sort/sort_desc": the series in label order, values at 50m.
    let l = |g: &'static str, i: &'static str, j: &'static str| -> [(&'static str, &'static str); 4] {
        [("__name__", "http_requests"), ("group", g), ("instance", i), ("job", j)]
    };
    let rows = [
        (l("canary", "0", "api-server"), 300.),
        (l("canary", "0", "app-server"), 700.),
        (l("canary", "1", "api-server"), 400.),
        (l("canary", "1", "app-server"), 800.),
        (l("canary", "2", "api-server"), NAN),
        (l("production", "0", "api-server"), 100.),
        (l("production", "0", "app-server"), 500.),
        (l("production", "1", "api-server"), 200.),
        (l("production", "1", "app-server"), 600.),
    ];
    let v: Vec<(&[(&str, &str)], f64)> = rows.iter().map(|(l, v)| (&l[..], *v)).collect();
    vector(&v)
}

#[test]
fn sort_functions_test() {
    // eval_ordered instant at 50m sort(http_requests): ascending, NaN last, names kept.
    let out = call("sort", 50 * M, vec![http_requests_at_50m()], vec![], 0, 0).unwrap();
    let got: Vec<f64> = out.iter().map(|s| s.point.v).collect();
    assert_eq!(got[..8], [100., 200., 300., 400., 500., 600., 700., 800.]);
    assert!(got[8].is_nan());
    assert_eq!(out[8].labels.get("instance"), "2");
    assert_eq!(out[0].labels.get("__name__"), "http_requests");
    // eval_ordered instant at 50m sort_desc(http_requests): descending, NaN last.
    let out = call("sort_desc", 50 * M, vec![http_requests_at_50m()], vec![], 0, 0).unwrap();
    let got: Vec<f64> = out.iter().map(|s| s.point.v).collect();
    assert_eq!(got[..8], [800., 700., 600., 500., 400., 300., 200., 100.]);
    assert!(got[8].is_nan());
    assert_eq!(out[0].labels.get("group"), "canary");
    assert_eq!(out[0].labels.get("job"), "app-server");
}

#[test]
fn date_functions_of_nan_and_inf() {
    // Go (1.19, amd64) converts NaN, ±Inf and out-of-range values to the minimum int64. Its
    // time arithmetic wraps: time.Unix(math.MaxInt64, 0).UTC() prints as the well-known
    // 292277026596-12-04 15:30:07, and math.MinInt64 wraps to the next second, 15:30:08.
    let at = |name: &str, secs: f64| values(name, vec![vector(&[(&[("a", "b")], secs)])])[0];
    for v in [NAN, f64::INFINITY, f64::NEG_INFINITY, 1e19] {
        assert_eq!(
            [at("year", v), at("month", v), at("day_of_month", v), at("hour", v), at("minute", v)],
            [292277026596., 12., 4., 15., 30.]
        );
    }
    assert_eq!(super::date::date_of_unix(i64::MAX).day, 4);
}

#[test]
fn lookup_knows_the_float_functions_of_2_42() {
    // FunctionCalls of promql/functions.go v2.42.0, without the native-histogram functions.
    let names = "abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil \
        changes clamp clamp_max clamp_min cos cosh count_over_time days_in_month day_of_month \
        day_of_week day_of_year deg delta deriv exp floor histogram_quantile holt_winters hour \
        idelta increase irate label_replace label_join ln log10 log2 last_over_time \
        max_over_time min_over_time minute month pi predict_linear present_over_time \
        quantile_over_time rad rate resets round scalar sgn sin sinh sort sort_desc sqrt \
        stddev_over_time stdvar_over_time sum_over_time tan tanh time timestamp vector year";
    assert_eq!(names.split_whitespace().count(), 67);
    for n in names.split_whitespace() {
        assert!(super::lookup(n).is_some(), "{n}");
    }
    for n in ["histogram_count", "histogram_sum", "histogram_fraction", "mad_over_time", "sort_by_label", "nope", "Rate"] {
        assert!(super::lookup(n).is_none(), "{n}");
    }
}
