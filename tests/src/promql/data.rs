//! The differential test's data set: counters with resets, gauges, classic histograms, a gap
//! longer than the lookback, a series ended by a staleness marker, one that starts late and
//! NaN samples, written in time order to Prometheus and to gemini.

use crate::{post_url, PROTO_HEADERS};
use proto::prometheus as pb;
use std::collections::BTreeMap;

/// Scrape interval of most series.
pub const STEP_MS: i64 = 15_000;
/// Samples per 15 s series: steps 0..=STEPS, two hours.
pub const STEPS: i64 = 480;
/// Prometheus' stale marker, as remote write carries it.
pub const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// Landmarks of the data, in steps of 15 s from the start.
pub const GAP_FROM: i64 = 200; // `gappy_*` has no samples in steps 200..240: 10 min 15 s without
pub const GAP_TO: i64 = 240;
pub const STALE_AT: i64 = 300; // `stale_*` ends with a stale marker here, never resumed
pub const LATE_FROM: i64 = 260; // `late_*` starts here
pub const NAN_AT: [i64; 2] = [240, 241]; // `nan_gauge` holds an ordinary NaN here

/// Everything the data set writes, as remote-write requests in time order, and its times.
pub struct DataSet {
    /// Time of step 0, ms, a whole minute.
    pub start_ms: i64,
    /// Series → samples, as written.
    pub series: BTreeMap<Vec<(String, String)>, Vec<(i64, f64)>>,
    /// The requests: each holds a 5-minute slice of every series, in time order.
    pub requests: Vec<pb::WriteRequest>,
}

/// A deterministic generator (xorshift), so that every run writes the same shapes.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    /// In [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A jitter of -4..=4 ms.
    fn jitter(&mut self) -> i64 {
        (self.next() % 9) as i64 - 4
    }
}

impl DataSet {
    /// The data set ending about ten minutes before `now_ms`: two hours at 15 s.
    pub fn new(now_ms: i64) -> DataSet {
        let end = (now_ms - 10 * 60_000) / 60_000 * 60_000;
        let start_ms = end - STEPS * STEP_MS;
        let mut d = DataSet { start_ms, series: BTreeMap::new(), requests: Vec::new() };
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let at = |step: i64| start_ms + step * STEP_MS;

        // Counters: CPU seconds of two hosts, two CPUs, three modes. host-b restarts at step 200
        // (every counter of cpu 1 starts again from zero); host-a cpu 0 user resets at step 350.
        // host-b's scrapes carry a few ms of jitter.
        for (h, host) in ["host-a:9100", "host-b:9100"].into_iter().enumerate() {
            for cpu in ["0", "1"] {
                for (m, (mode, share)) in [("idle", 0.9), ("user", 0.07), ("system", 0.03)].into_iter().enumerate() {
                    let mut v = 1000.0 * (1 + h * 6 + m) as f64 + if cpu == "1" { 333.3 } else { 0.0 };
                    let mut samples = Vec::new();
                    for step in 0..=STEPS {
                        if host == "host-b:9100" && cpu == "1" && step == 200 {
                            v = 0.0;
                        }
                        if host == "host-a:9100" && cpu == "0" && mode == "user" && step == 350 {
                            v = 0.5;
                        }
                        v += 15.0 * share * (0.5 + rng.unit());
                        let t = if h == 1 { at(step) + rng.jitter() } else { at(step) };
                        samples.push((t, v));
                    }
                    d.add(&[("__name__", "node_cpu_seconds_total"), ("job", "node"), ("instance", host), ("cpu", cpu), ("mode", mode)], samples);
                }
            }
            // Gauges of the same hosts: large values, and an info metric for group_left.
            let mut mem = 8.0e9 - h as f64 * 3.0e9;
            let samples = (0..=STEPS)
                .map(|step| {
                    mem += (rng.unit() - 0.6) * 4.0e6;
                    (at(step), mem.round())
                })
                .collect();
            d.add(&[("__name__", "node_memory_free_bytes"), ("job", "node"), ("instance", host)], samples);
            let version = ["6.1.0", "5.10.0"][h];
            d.add(&[("__name__", "node_uname_info"), ("job", "node"), ("instance", host), ("version", version)], (0..=STEPS).map(|s| (at(s), 1.0)).collect());
            // up: host-b is down around its restart.
            let samples = (0..=STEPS).map(|s| (at(s), if h == 1 && (195..205).contains(&s) { 0.0 } else { 1.0 })).collect();
            d.add(&[("__name__", "up"), ("job", "node"), ("instance", host)], samples);
        }

        // Counters of an API: 10.0.0.1 scraped every 15 s with jitter, 10.0.0.2 every 30 s.
        // 10.0.0.2 POST 200 resets at step 320. Distinct fractional parts keep topk free of ties
        // (which series of a tie topk keeps is Prometheus' heap order, not a property to copy).
        for (i, inst) in ["10.0.0.1:8080", "10.0.0.2:8080"].into_iter().enumerate() {
            let every = if i == 0 { 1 } else { 2 };
            for (k, (method, code)) in [("GET", "200"), ("GET", "500"), ("POST", "200"), ("POST", "500")].into_iter().enumerate() {
                let mut v = (i * 4 + k) as f64 * 1013.0 + 7.0 + (i * 4 + k + 1) as f64 / 16.0;
                let per_step = [20.0, 1.0, 6.0, 0.25][k];
                let mut samples = Vec::new();
                for step in (0..=STEPS).step_by(every) {
                    if i == 1 && method == "POST" && code == "200" && step == 320 {
                        v = 3.0 + (i * 4 + k + 1) as f64 / 16.0;
                    }
                    v += (per_step * every as f64 * (0.5 + rng.unit())).round();
                    samples.push((if i == 0 { at(step) + rng.jitter() } else { at(step) }, v));
                }
                d.add(&[("__name__", "http_requests_total"), ("job", "api"), ("instance", inst), ("method", method), ("code", code)], samples);
            }
            let samples = (0..=STEPS).step_by(every).map(|s| (at(s), 1.0)).collect();
            d.add(&[("__name__", "up"), ("job", "api"), ("instance", inst)], samples);
            // A small integer gauge with zeros: count_values, changes.
            let samples = (0..=STEPS).step_by(every).map(|s| (at(s), (rng.next() % 4) as f64)).collect();
            d.add(&[("__name__", "queue_depth"), ("job", "api"), ("instance", inst)], samples);
        }

        // Classic histograms of two handlers; /b restarts (every series from zero) at step 260.
        let bounds = [0.05, 0.1, 0.5, 1.0, 5.0];
        let les = ["0.05", "0.1", "0.5", "1", "5", "+Inf"];
        for (hi, handler) in ["/a", "/b"].into_iter().enumerate() {
            let mut buckets = [0.0f64; 6];
            let (mut sum, mut count) = (0.0, 0.0);
            let mut series: Vec<Vec<(i64, f64)>> = vec![Vec::new(); 8];
            for step in 0..=STEPS {
                if hi == 1 && step == 260 {
                    buckets = [0.0; 6];
                    sum = 0.0;
                    count = 0.0;
                }
                for _ in 0..(3 + rng.next() % (4 + hi as u64 * 6)) {
                    let x = rng.unit().powi(3) * if hi == 0 { 2.0 } else { 8.0 };
                    for (b, bound) in bounds.iter().enumerate() {
                        if x <= *bound {
                            buckets[b] += 1.0;
                        }
                    }
                    buckets[5] += 1.0;
                    sum += x;
                    count += 1.0;
                }
                for b in 0..6 {
                    series[b].push((at(step), buckets[b]));
                }
                series[6].push((at(step), sum));
                series[7].push((at(step), count));
            }
            for (b, samples) in series.into_iter().enumerate() {
                let name = match b {
                    6 => "request_duration_seconds_sum",
                    7 => "request_duration_seconds_count",
                    _ => "request_duration_seconds_bucket",
                };
                let mut labels = vec![("__name__", name), ("job", "api"), ("handler", handler)];
                if b < 6 {
                    labels.push(("le", les[b]));
                }
                d.add(&labels, samples);
            }
        }

        // Gauges of three rooms: a swings below zero, b is fractional, c is zero but for a few
        // steps (division by it gives infinities and NaN).
        for room in ["a", "b", "c"] {
            let samples = (0..=STEPS)
                .map(|s| {
                    let v = match room {
                        "a" => 6.0 * (s as f64 / 23.0).sin() + rng.unit() - 0.5,
                        "b" => 21.5 + (rng.unit() * 100.0).round() / 40.0,
                        _ => [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.5, 0.0, -0.5, 0.0][(s % 10) as usize] * (s % 3) as f64,
                    };
                    (at(s), v)
                })
                .collect();
            d.add(&[("__name__", "temperature_celsius"), ("job", "sensor"), ("room", room)], samples);
        }

        // A gauge and a counter with a gap longer than the 5-minute lookback.
        let in_gap = |s: i64| (GAP_FROM..GAP_TO).contains(&s);
        d.add(&[("__name__", "gappy_gauge"), ("job", "gap")], (0..=STEPS).filter(|s| !in_gap(*s)).map(|s| (at(s), s as f64 * 0.5 - 40.0)).collect());
        d.add(&[("__name__", "gappy_total"), ("job", "gap")], (0..=STEPS).filter(|s| !in_gap(*s)).map(|s| (at(s), s as f64 * 2.0)).collect());

        // A gauge and a counter ended by a stale marker, never resumed.
        for (name, f) in [("stale_gauge", 0.25), ("stale_total", 3.0)] {
            let mut samples: Vec<(i64, f64)> = (0..STALE_AT).map(|s| (at(s), 100.0 + s as f64 * f)).collect();
            samples.push((at(STALE_AT), f64::from_bits(STALE_NAN)));
            d.add(&[("__name__", name), ("job", "stale")], samples);
        }

        // Series that start late; the counter starts far from zero.
        d.add(&[("__name__", "late_gauge"), ("job", "late")], (LATE_FROM..=STEPS).map(|s| (at(s), (s % 7) as f64 - 3.0)).collect());
        d.add(&[("__name__", "late_total"), ("job", "late")], (LATE_FROM..=STEPS).map(|s| (at(s), 500.0 + (s - LATE_FROM) as f64 * 1.5)).collect());

        // A gauge with ordinary NaN samples; its quarters keep it from ever equalling a
        // temperature (`topk(2, nan_gauge or temperature_celsius)` must have no ties: which of
        // two equal series topk keeps is Prometheus' heap order, and in a range query even the
        // order of its input is Go's map order).
        d.add(&[("__name__", "nan_gauge"), ("job", "nan")], (0..=STEPS).map(|s| (at(s), if NAN_AT.contains(&s) { f64::NAN } else { 1.25 + (s % 3) as f64 })).collect());

        // Two series whose label sets are the same once `__name__` is dropped.
        d.add(&[("__name__", "dup_a"), ("job", "dup"), ("instance", "x")], (0..=STEPS).map(|s| (at(s), 1.0)).collect());
        d.add(&[("__name__", "dup_b"), ("job", "dup"), ("instance", "x")], (0..=STEPS).map(|s| (at(s), 2.0)).collect());

        // The requests, as Prometheus sends them: each a time slice of every series.
        let slice = 5 * 60_000;
        let mut from = start_ms - slice;
        while from <= start_ms + STEPS * STEP_MS {
            let timeseries: Vec<pb::TimeSeries> = d
                .series
                .iter()
                .filter_map(|(labels, samples)| {
                    let samples: Vec<pb::Sample> = samples.iter().filter(|(t, _)| (from..from + slice).contains(t)).map(|&(timestamp, value)| pb::Sample { value, timestamp }).collect();
                    (!samples.is_empty()).then(|| pb::TimeSeries {
                        labels: labels.iter().map(|(n, v)| pb::Label { name: n.clone(), value: v.clone() }).collect(),
                        samples,
                        ..Default::default()
                    })
                })
                .collect();
            if !timeseries.is_empty() {
                d.requests.push(pb::WriteRequest { timeseries, metadata: vec![] });
            }
            from += slice;
        }
        d
    }

    fn add(&mut self, labels: &[(&str, &str)], samples: Vec<(i64, f64)>) {
        let mut labels: Vec<(String, String)> = labels.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        labels.sort();
        assert!(samples.windows(2).all(|w| w[0].0 < w[1].0), "timestamps of {labels:?} increase");
        assert!(self.series.insert(labels, samples).is_none());
    }

    pub fn sample_count(&self) -> usize {
        self.series.values().map(Vec::len).sum()
    }

    /// Time of a step, ms.
    pub fn at(&self, step: i64) -> i64 {
        self.start_ms + step * STEP_MS
    }

    /// The last step's time, ms.
    pub fn end_ms(&self) -> i64 {
        self.at(STEPS)
    }

    /// A query with its placeholders replaced: `$MID` (one hour in) and `$EARLY` (20 minutes
    /// in), as float seconds for `@`.
    pub fn expand(&self, q: &str) -> String {
        q.replace("$MID", &secs(self.start_ms + 3_600_000)).replace("$EARLY", &secs(self.start_ms + 1_200_000))
    }

    /// Writes every request to Prometheus' remote-write receiver; panics unless each is taken.
    pub fn write_to_prometheus(&self, base: &str) {
        for (i, req) in self.requests.iter().enumerate() {
            let a = post_url(&format!("{base}/api/v1/write"), &PROTO_HEADERS, &crate::write_body(req));
            assert_eq!(a.status, 204, "Prometheus refused request {i}: {}", a.text());
        }
    }

    /// Writes every request to gemini's remote write; panics unless each is taken.
    pub fn write_to_gemini(&self, g: &crate::Gemini) {
        for (i, req) in self.requests.iter().enumerate() {
            let a = g.write("prometheus", req);
            assert!(a.status == 204 || a.status == 200, "gemini refused request {i}: {} {}", a.status, a.text());
        }
    }
}

/// Milliseconds as RFC 3339 (UTC), the other time format of the HTTP API.
pub fn rfc3339(ms: i64) -> String {
    let (days, rest) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let (h, m, s, milli) = (rest / 3_600_000, rest / 60_000 % 60, rest / 1000 % 60, rest % 1000);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z")
}

/// Milliseconds as the float seconds of the HTTP API.
pub fn secs(ms: i64) -> String {
    format!("{}.{:03}", ms.div_euclid(1000), ms.rem_euclid(1000))
}
