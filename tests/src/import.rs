//! What the import tests share (issue 31): a few series over hours written to Prometheus through
//! its remote-write receiver, Prometheus' own remote read answer of them, a Gemini holding a
//! newer hour of the same series, and the merge both should add up to.

use crate::*;
use proto::prometheus as pb;
use proto::remote::snappy_message;

pub const STEP: i64 = 15_000;
pub const HOUR: i64 = 3_600_000;

/// The series: a counter of two instances, a gauge with a NaN, and `up`.
pub fn label_sets() -> Vec<Vec<(&'static str, &'static str)>> {
    vec![
        vec![("__name__", "imp_requests_total"), ("instance", "a"), ("job", "api")],
        vec![("__name__", "imp_requests_total"), ("instance", "b"), ("job", "api")],
        vec![("__name__", "imp_temperature"), ("room", "x")],
        vec![("__name__", "imp_up"), ("job", "api")],
    ]
}

/// The value of series `i` at step `n`: irregular, so that XOR chunks carry real bits.
pub fn value(i: usize, n: i64) -> f64 {
    match i {
        0 | 1 => (n * n % 97 + n * (i as i64 + 3)) as f64,
        2 if n % 700 == 0 => f64::NAN,
        2 => 20.0 + ((n * 7919) % 1000) as f64 / 37.0,
        _ => 1.0,
    }
}

/// Every series' samples at `from, from + STEP, …` up to `to` (both included), as write
/// requests of 5 minutes each, in time order.
pub fn requests(from: i64, to: i64) -> Vec<pb::WriteRequest> {
    let mut out = Vec::new();
    let mut start = from;
    while start <= to {
        let end = (start + 5 * 60_000 - 1).min(to);
        let timeseries = label_sets()
            .iter()
            .enumerate()
            .map(|(i, labels)| {
                let samples: Vec<(i64, f64)> = (start..=end).step_by(STEP as usize).map(|t| (t, value(i, t / STEP))).collect();
                series(labels, &samples)
            })
            .collect();
        out.push(pb::WriteRequest { timeseries, metadata: vec![] });
        start = end + 1;
    }
    out
}

/// A Prometheus started with `flags` (and its remote-write receiver) holding `requests(from, to)`.
pub fn prometheus_holding(from: i64, to: i64, flags: &[&str]) -> Prometheus {
    let flags: Vec<&str> = ["--web.enable-remote-write-receiver"].into_iter().chain(flags.iter().copied()).collect();
    let p = Prometheus::start_with("scrape_configs: []\n", &flags);
    for req in requests(from, to) {
        let a = post_url(&p.url("/api/v1/write"), &PROTO_HEADERS, &write_body(&req));
        assert_eq!(a.status, 204, "{}", a.text());
    }
    p
}

pub fn everything() -> pb::Query {
    query_all(vec![matcher(2, "__name__", "imp_.+")])
}

/// Prometheus' own answer: a SAMPLES remote read of everything.
pub fn prometheus_samples(p: &Prometheus) -> Series {
    let body = snappy_message(&pb::ReadRequest { queries: vec![everything()], accepted_response_types: vec![] }).unwrap();
    let a = post_url(&p.url("/api/v1/read"), &PROTO_HEADERS, &body);
    assert_eq!(a.status, 200, "{}", a.text());
    to_series(decode_samples(&a.body).results.remove(0).timeseries)
}

/// A Gemini holding the newer hour, written through /api/v1/write.
pub fn gemini_with_newer_hour(dir: &std::path::Path, from: i64, to: i64) -> Gemini {
    let g = Gemini::start(dir, &[]);
    for req in requests(from, to) {
        let a = g.post("/api/v1/write", &PROTO_HEADERS, &write_body(&req));
        assert_eq!(a.status, 204, "{}", a.text());
    }
    g
}

/// Prometheus' samples with the newer hour after them.
pub fn merged(old: &Series, newer: &Series) -> Series {
    let mut want = old.clone();
    for (k, v) in newer {
        want.entry(k.clone()).or_default().extend(v.iter().copied());
    }
    want
}

