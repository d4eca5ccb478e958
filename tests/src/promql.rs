//! The PromQL differential test's parts (issue 15): one data set written the same way to the real
//! Prometheus 2.42 and to gemini, the queries asked of both, and a semantic comparison of two
//! answers of the Prometheus HTTP API. The cluster tests can reuse the data set, the queries and
//! the comparison.

use crate::{post_url, urlencode, PROTO_HEADERS};
use proto::prometheus as pb;
use serde_json::Value;
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

/// The queries asked both as `query` (at several times) and as `query_range`. `$MID` and
/// `$EARLY` are replaced by `DataSet::expand`. Every one is meant to succeed.
pub const QUERIES: &[&str] = &[
    // Selectors: the four matchers, a name matcher, an empty-value matcher.
    "node_cpu_seconds_total",
    "node_cpu_seconds_total{mode=\"idle\"}",
    "node_cpu_seconds_total{mode!=\"idle\",cpu=\"1\"}",
    "node_cpu_seconds_total{mode=~\"us.*|sys.*\"}",
    "node_cpu_seconds_total{mode!~\"i.*\",instance=~\"host-b.*\"}",
    "{__name__=~\"node_.*\",job=\"node\"}",
    "{job=\"api\"}",
    "{__name__=\"temperature_celsius\",room=~\"a|b\"}",
    "http_requests_total{absent_label=\"\"}",
    "http_requests_total{code=~\"5..\"}",
    "{__name__=~\".+_total\",job!=\"node\"}",
    "up",
    // Lookback, a gap, staleness, a late start.
    "gappy_gauge",
    "gappy_total",
    "stale_gauge",
    "stale_total",
    "late_gauge",
    "late_total",
    "nan_gauge",
    "rate(gappy_total[5m])",
    "rate(gappy_total[15m])",
    "rate(stale_total[5m])",
    "increase(late_total[10m])",
    "rate(late_total[5m])",
    // offset (also negative) and @.
    "http_requests_total offset 5m",
    "http_requests_total offset -5m",
    "rate(http_requests_total[5m] offset 10m)",
    "rate(http_requests_total[5m] offset -7m)",
    "temperature_celsius @ $MID",
    "rate(node_cpu_seconds_total[5m] @ $MID)",
    "http_requests_total @ start()",
    "http_requests_total @ end()",
    "sum(rate(node_cpu_seconds_total{mode=\"user\"}[5m] @ end()))",
    "temperature_celsius @ $MID offset 10m",
    "stale_gauge @ $EARLY",
    "gappy_gauge offset 1h",
    // Arithmetic, precedence, unary minus, literals.
    "node_memory_free_bytes / 1024 / 1024",
    "2 * temperature_celsius",
    "temperature_celsius - 10",
    "temperature_celsius + temperature_celsius",
    "temperature_celsius * -1.5",
    "temperature_celsius % 3",
    "-temperature_celsius % 2.5",
    "temperature_celsius ^ 2",
    "2 ^ temperature_celsius",
    "temperature_celsius / 0",
    "temperature_celsius{room=\"c\"} / temperature_celsius{room=\"c\"}",
    "1 / temperature_celsius{room=\"c\"}",
    "temperature_celsius atan2 1",
    "1 atan2 temperature_celsius",
    "temperature_celsius atan2 ignoring(room) group_left sum without(room) (temperature_celsius)",
    "1 + 2 * 3 ^ 2 ^ 2 % 7",
    "-2 ^ 2",
    "(-2) ^ 0.5",
    "2 ^ -1",
    "5 % -3",
    "-temperature_celsius",
    "-(-temperature_celsius)",
    "+temperature_celsius",
    "nan_gauge * 2",
    "request_duration_seconds_sum / request_duration_seconds_count",
    "rate(request_duration_seconds_sum[5m]) / rate(request_duration_seconds_count[5m])",
    "42",
    "-1.5e3",
    "0x1F",
    ".5",
    "Inf",
    "-Inf",
    "NaN",
    "1e-7",
    "3 * 4 - 12 / 3",
    "(1 + temperature_celsius) * 2",
    // Comparisons, with and without bool.
    "temperature_celsius > 0",
    "temperature_celsius >= 0",
    "temperature_celsius < 0",
    "temperature_celsius <= 0",
    "temperature_celsius == 0",
    "temperature_celsius != 0",
    "temperature_celsius > bool 0",
    "temperature_celsius >= bool 0",
    "temperature_celsius < bool 0",
    "temperature_celsius <= bool 21.5",
    "temperature_celsius == bool 0",
    "temperature_celsius != bool 0",
    "0 < temperature_celsius",
    "1 < bool 2",
    "2 == bool 2",
    "3 != bool 3",
    "NaN == bool NaN",
    "nan_gauge == nan_gauge",
    "nan_gauge != bool nan_gauge",
    "nan_gauge > 1",
    "node_memory_free_bytes < node_memory_free_bytes offset 30m",
    "http_requests_total{code=\"200\"} > bool on(instance, method) http_requests_total{code=\"500\"}",
    "http_requests_total > ignoring(code) group_left http_requests_total{code=\"500\"} * 5",
    "count(node_cpu_seconds_total) by (instance) > 5",
    // Vector matching: on, ignoring, group_left, group_right.
    "http_requests_total / ignoring(code) group_left sum without(code) (http_requests_total)",
    "sum without(code) (http_requests_total) / ignoring(code) group_right http_requests_total",
    "node_cpu_seconds_total * on(instance) group_left(version) node_uname_info",
    "node_uname_info * on(instance) group_right(version) rate(node_cpu_seconds_total[5m])",
    "up * on(instance) group_left node_memory_free_bytes",
    "rate(request_duration_seconds_sum[5m]) / on(handler) rate(request_duration_seconds_count[5m])",
    "temperature_celsius - on() group_left avg(temperature_celsius)",
    // and, or, unless.
    "up and on(instance) node_memory_free_bytes",
    "node_cpu_seconds_total and node_cpu_seconds_total{mode=\"idle\"}",
    "up or temperature_celsius",
    "up == 1 or on() vector(0)",
    "http_requests_total unless http_requests_total{code=\"500\"}",
    "http_requests_total unless on(instance) up == 0",
    "gappy_gauge or late_gauge or stale_gauge",
    "temperature_celsius and on() vector(1)",
    "gappy_gauge unless ignoring(job) late_gauge",
    "nan_gauge or on(job) up",
    // Aggregations with by and without.
    "sum(http_requests_total)",
    "sum by (instance) (http_requests_total)",
    "sum without (code, method) (http_requests_total)",
    "sum by (mode) (rate(node_cpu_seconds_total[5m]))",
    "sum(rate(http_requests_total[5m])) by (instance)",
    "avg by (job) ({job=~\"node|sensor\"})",
    "avg(node_memory_free_bytes)",
    "avg without (room) (temperature_celsius)",
    "min by (room) (temperature_celsius)",
    "min(temperature_celsius)",
    "max without (cpu) (node_cpu_seconds_total)",
    "count(up)",
    "count by (mode) (node_cpu_seconds_total)",
    "count without (instance) (up == 1)",
    "count(count by (mode) (node_cpu_seconds_total))",
    "group by (job) ({job=~\".+\"})",
    "group(node_cpu_seconds_total)",
    "stddev(temperature_celsius)",
    "stddev without (cpu) (rate(node_cpu_seconds_total[5m]))",
    "stdvar by (job) (queue_depth)",
    "stdvar(node_memory_free_bytes)",
    "topk(3, http_requests_total)",
    "topk by (instance) (2, http_requests_total)",
    "bottomk(2, temperature_celsius)",
    "bottomk without (mode) (1, rate(node_cpu_seconds_total[5m]))",
    "topk(scalar(count(up) or vector(3)) - 2, temperature_celsius)",
    "topk(2, nan_gauge or temperature_celsius)",
    "quantile(0.9, rate(http_requests_total[5m]))",
    "quantile by (instance) (0.5, http_requests_total)",
    "quantile(0, temperature_celsius)",
    "quantile(1.5, temperature_celsius)",
    "quantile(-1, temperature_celsius)",
    "count_values(\"value\", queue_depth)",
    "count_values without (instance) (\"depth\", queue_depth)",
    "count_values(\"v\", temperature_celsius)",
    "max(nan_gauge)",
    "max(nan_gauge or temperature_celsius)",
    "min(nan_gauge or temperature_celsius)",
    "sum(nan_gauge)",
    "avg(nan_gauge or temperature_celsius)",
    "sum by (le) (rate(request_duration_seconds_bucket[5m]))",
    "sum(sum by (instance) (rate(http_requests_total[2m])))",
    "sum by (job) (label_replace(up, \"job\", \"all\", \"\", \"\"))",
    // The *_over_time family.
    "avg_over_time(temperature_celsius[10m])",
    "min_over_time(temperature_celsius[10m])",
    "max_over_time(temperature_celsius[10m])",
    "sum_over_time(queue_depth[5m])",
    "count_over_time(http_requests_total[5m])",
    "quantile_over_time(0.3, temperature_celsius[15m])",
    "quantile_over_time(2, temperature_celsius[15m])",
    "stddev_over_time(temperature_celsius[10m])",
    "stdvar_over_time(node_memory_free_bytes[10m])",
    "last_over_time(stale_gauge[10m])",
    "last_over_time(gappy_gauge[10m])",
    "present_over_time(gappy_gauge[5m])",
    "present_over_time(stale_gauge[3m])",
    "count_over_time(stale_gauge[10m])",
    "absent_over_time(gappy_gauge[5m])",
    "absent_over_time(nonexistent_metric{job=\"x\"}[5m])",
    "absent_over_time(temperature_celsius[1m])",
    "avg_over_time(nan_gauge[5m])",
    "max_over_time(nan_gauge[5m])",
    "min_over_time(nan_gauge[5m])",
    // Rates and friends: extrapolation, resets, short windows.
    "rate(http_requests_total[5m])",
    "rate(http_requests_total[1m])",
    "rate(http_requests_total[45s])",
    "irate(http_requests_total[5m])",
    "irate(node_cpu_seconds_total[1m])",
    "increase(node_cpu_seconds_total[10m])",
    "increase(http_requests_total[1h])",
    "rate(node_cpu_seconds_total[1h])",
    "delta(temperature_celsius[10m])",
    "delta(node_memory_free_bytes[3m])",
    "idelta(temperature_celsius[5m])",
    "idelta(http_requests_total[2m])",
    "deriv(temperature_celsius[10m])",
    "deriv(node_memory_free_bytes[30m])",
    "predict_linear(node_memory_free_bytes[30m], 3600)",
    "predict_linear(temperature_celsius[10m], -600)",
    "holt_winters(temperature_celsius[10m], 0.5, 0.5)",
    "holt_winters(node_memory_free_bytes[15m], 0.1, 0.9)",
    "resets(http_requests_total[30m])",
    "resets(node_cpu_seconds_total[1h])",
    "changes(queue_depth[10m])",
    "changes(up[1h])",
    // Classic histograms.
    "histogram_quantile(0.9, sum by (le) (rate(request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.5, sum by (le, handler) (rate(request_duration_seconds_bucket[5m])))",
    "histogram_quantile(0.99, request_duration_seconds_bucket)",
    "histogram_quantile(0, rate(request_duration_seconds_bucket[10m]))",
    "histogram_quantile(1, rate(request_duration_seconds_bucket[10m]))",
    "histogram_quantile(1.5, rate(request_duration_seconds_bucket[10m]))",
    "histogram_quantile(-0.5, rate(request_duration_seconds_bucket[10m]))",
    "histogram_quantile(0.5, request_duration_seconds_bucket{le!=\"+Inf\"})",
    "histogram_quantile(0.75, rate(request_duration_seconds_bucket{handler=\"/b\"}[1m]))",
    // Label functions.
    "label_replace(http_requests_total, \"host\", \"$1\", \"instance\", \"(.*):.*\")",
    "label_replace(up, \"job\", \"\", \"job\", \".*\")",
    "label_replace(temperature_celsius, \"room\", \"x-$1\", \"room\", \"(a)\")",
    "label_replace(rate(node_cpu_seconds_total[5m]), \"short\", \"$1/$2\", \"mode\", \"(.)(.*)\")",
    "label_join(node_cpu_seconds_total, \"id\", \"-\", \"instance\", \"cpu\", \"mode\")",
    "label_join(up, \"instance\", \"\", \"job\", \"instance\")",
    "label_join(temperature_celsius, \"empty\", \",\")",
    // absent.
    "absent(nonexistent_metric)",
    "absent(nonexistent_metric{job=\"x\", instance=~\"y.*\", zone=\"z\"})",
    "absent(up)",
    "absent(gappy_gauge)",
    "absent(stale_gauge{job=\"stale\"})",
    "absent(sum(nonexistent_metric))",
    // Math.
    "abs(temperature_celsius)",
    "ceil(temperature_celsius)",
    "floor(temperature_celsius)",
    "round(temperature_celsius)",
    "round(temperature_celsius, 0.25)",
    "round(-temperature_celsius, 5)",
    "sqrt(temperature_celsius)",
    "exp(temperature_celsius / 10)",
    "exp(vector(1000))",
    "ln(temperature_celsius)",
    "log2(node_memory_free_bytes)",
    "log10(temperature_celsius)",
    "sgn(temperature_celsius)",
    "sin(temperature_celsius)",
    "cos(temperature_celsius)",
    "tan(temperature_celsius)",
    "asin(temperature_celsius / 30)",
    "acos(temperature_celsius / 30)",
    "atan(temperature_celsius)",
    "sinh(temperature_celsius / 10)",
    "cosh(temperature_celsius / 10)",
    "tanh(temperature_celsius)",
    "asinh(temperature_celsius)",
    "acosh(temperature_celsius)",
    "atanh(temperature_celsius / 30)",
    "deg(temperature_celsius)",
    "rad(temperature_celsius)",
    "pi()",
    "clamp(temperature_celsius, -1, 1)",
    "clamp(temperature_celsius, 5, 1)",
    "clamp_min(temperature_celsius, 0)",
    "clamp_max(temperature_celsius, 0)",
    "clamp_max(nan_gauge, 1.5)",
    // sort (order compared in instant answers).
    "sort(temperature_celsius)",
    "sort_desc(http_requests_total)",
    "sort(rate(node_cpu_seconds_total[5m]))",
    "sort_desc(nan_gauge or temperature_celsius)",
    // Time and date.
    "time()",
    "timestamp(http_requests_total)",
    "timestamp(gappy_gauge)",
    "time() - timestamp(node_cpu_seconds_total)",
    "timestamp(timestamp(late_gauge))",
    "minute()",
    "hour()",
    "day_of_month()",
    "day_of_week()",
    "day_of_year()",
    "days_in_month()",
    "month()",
    "year()",
    "hour(timestamp(up))",
    "minute(vector(1700000000))",
    "day_of_week(vector(0))",
    "days_in_month(vector(1706745600))",
    "day_of_year(vector(1704067199))",
    "month(timestamp(temperature_celsius))",
    // scalar and vector.
    "scalar(sum(up))",
    "scalar(up)",
    "scalar(nonexistent_metric)",
    "vector(1)",
    "vector(time())",
    "vector(scalar(count(up)))",
    "sum(up) + scalar(count(up))",
    "temperature_celsius * scalar(count(up))",
    // Subqueries: absolute step alignment, default step, nested, with offset and @.
    "max_over_time(rate(http_requests_total[5m])[30m:1m])",
    "rate(http_requests_total[10m:37s])",
    "avg_over_time(temperature_celsius[20m:])",
    "min_over_time(sum(rate(node_cpu_seconds_total[5m]))[1h:5m] offset 10m)",
    "max_over_time(deriv(rate(http_requests_total[5m])[10m:1m])[30m:2m])",
    "sum_over_time(temperature_celsius[10m:1m] @ $MID)",
    "count_over_time(stale_gauge[20m:1m])",
    "last_over_time(gappy_gauge[15m:30s])",
    "quantile_over_time(0.5, (temperature_celsius > 0)[30m:2m])",
    "avg_over_time(rate(request_duration_seconds_count[5m])[15m:45s] offset -5m)",
    "increase(node_cpu_seconds_total[10m:1m])",
    // More traps: rounding, negative zero, NaN in functions and comparisons, grouping by
    // __name__, label copying, odd subquery steps, @ with offset in both orders.
    "round(vector(2.5))",
    "round(vector(-2.5))",
    "round(vector(0.125), 0.25)",
    "ceil(vector(-0.5))",
    "0 * -1",
    "1 / 0",
    "-1 / 0",
    "0 / 0",
    "2 ^ 3 ^ 2",
    "1 - -1",
    "2 atan2 -3",
    "((up))",
    "-up",
    "-sum(up)",
    "temperature_celsius % 0",
    "temperature_celsius ^ 0.5",
    "up > NaN",
    "up < bool NaN",
    "sgn(nan_gauge)",
    "clamp(vector(NaN), 0, 1)",
    "vector(1) or vector(2)",
    "vector(1) and vector(2)",
    "vector(1) unless vector(2)",
    "timestamp(vector(1))",
    "scalar(vector(1)) * 2",
    "year(timestamp(up))",
    "days_in_month(timestamp(up))",
    "up == bool on(instance) up offset 10m",
    "up unless on(job) (up == 0)",
    "max by (instance) (up) == bool 1",
    "http_requests_total * on(instance) group_left(job) up",
    "count by (__name__) ({job=\"api\"})",
    "sum by (__name__) (rate({__name__=~\"http.*|node_cpu.*\"}[5m]))",
    "sum without (le) (request_duration_seconds_bucket)",
    "count_values(\"instance\", up)",
    "quantile(scalar(nonexistent_metric), up)",
    "label_replace(up, \"__name__\", \"renamed\", \"\", \"\")",
    "label_replace(up, \"foo\", \"$2\", \"instance\", \"(.*)\")",
    "label_join(up, \"new\", \",\", \"job\", \"job\", \"instance\")",
    "sort_desc(sum by (mode) (rate(node_cpu_seconds_total[5m])))",
    "topk(1, sum by (instance) (rate(http_requests_total[5m])))",
    "quantile_over_time(0.5, nan_gauge[5m])",
    "stddev_over_time(nan_gauge[5m])",
    "sum_over_time(nan_gauge[1m])",
    "changes(nan_gauge[5m])",
    "resets(nan_gauge[5m])",
    "delta(nan_gauge[2m])",
    "predict_linear(gappy_gauge[10m], 600)",
    "deriv(stale_gauge[5m])",
    "irate(gappy_total[10m])",
    "increase(late_total[1h])",
    "rate(http_requests_total[2h])",
    "absent_over_time(stale_gauge[2m])",
    "present_over_time(late_gauge[30m])",
    "absent(nonexistent_metric{job=\"x\"} offset 1h)",
    "timestamp(up @ $MID)",
    "timestamp(stale_gauge)",
    "last_over_time(up[1m] @ end())",
    "rate(http_requests_total[5m] @ $MID offset -1m)",
    "rate(http_requests_total[5m] offset -1m @ $MID)",
    "max_over_time(up[10m:1m] @ end() offset 5m)",
    "avg_over_time(temperature_celsius[10m:1m] @ start())",
    "min_over_time(max_over_time(temperature_celsius[7m:23s])[11m:17s])",
    "rate(node_cpu_seconds_total[1m:7s])",
    "sum_over_time(vector(1)[5m:1m])",
    "count_over_time((up == 1)[10m:])",
    "histogram_quantile(0.5, sum by (le) (request_duration_seconds_bucket) * 0)",
    "histogram_quantile(0.9, rate(request_duration_seconds_bucket[1m] offset 1h))",
    "histogram_quantile(scalar(nonexistent_metric), rate(request_duration_seconds_bucket[5m]))",
    // The pair that collides without __name__, where it does not collide.
    "dup_a",
    "{__name__=~\"dup_.*\"}",
    "sum({__name__=~\"dup_.*\"})",
];

/// Queries whose value is a range vector or a string: asked only as `query`, where they
/// succeed; as `query_range` both must refuse them alike (400 bad_data).
pub const INSTANT_ONLY: &[&str] = &[
    "node_cpu_seconds_total{cpu=\"0\"}[1m]",
    "temperature_celsius[2m] offset 1m",
    "http_requests_total[3m] @ $MID",
    "stale_gauge[5m]",
    "gappy_gauge[10m]",
    "nan_gauge[1m]",
    "rate(http_requests_total{instance=\"10.0.0.2:8080\"}[5m])[5m:1m]",
    "temperature_celsius[5m:]",
    "\"a string\"",
    "\"quote \\\" and newline \\n\"",
];

/// Queries whose instant answer is ordered.
pub fn ordered(q: &str) -> bool {
    ["sort(", "sort_desc(", "topk", "bottomk"].iter().any(|p| q.starts_with(p))
}

/// An answer of the Prometheus HTTP API: HTTP status and the JSON body (Null if not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub json: Value,
    pub text: String,
}

impl Reply {
    pub fn ok(&self) -> bool {
        self.status == 200 && self.json["status"] == "success"
    }

    /// A success with something in it: a scalar or string, or a non-empty vector or matrix.
    pub fn non_empty(&self) -> bool {
        self.ok() && self.json["data"]["result"].as_array().map_or(true, |r| !r.is_empty())
    }
}

/// GET (params in the URL) or POST (a form body) to `base` + `path`.
pub fn ask(base: &str, path: &str, params: &[(&str, String)], post: bool) -> Reply {
    let form: Vec<String> = params.iter().map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v))).collect();
    let form = form.join("&");
    let a = if post {
        post_url(&format!("{base}{path}"), &[("Content-Type", "application/x-www-form-urlencoded")], form.as_bytes())
    } else {
        let url = if form.is_empty() { format!("{base}{path}") } else { format!("{base}{path}?{form}") };
        let mut r = crate::agent().get(&url).call().expect("HTTP request");
        let status = r.status().as_u16();
        let body = r.body_mut().read_to_vec().expect("read body");
        crate::Answer { status, content_type: String::new(), headers: vec![], body }
    };
    let text = a.text();
    Reply { status: a.status, json: serde_json::from_slice(&a.body).unwrap_or(Value::Null), text }
}

/// A sample value of the API: a string in Prometheus' float format.
pub fn parse_value(v: &Value) -> Result<f64, String> {
    let s = v.as_str().ok_or_else(|| format!("value {v} is not a string"))?;
    match s {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(|| format!("value {s:?} is not in Prometheus' float format")),
    }
}

/// Equal to 1e-9 relative (with a floor of 1e-12 for results that should be zero and come out
/// as rounding noise), both NaN, or the same infinity.
pub fn same_value(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a.is_infinite() || b.is_infinite() {
        return a == b;
    }
    let diff = (a - b).abs();
    diff <= 1e-9 * a.abs().max(b.abs()) || diff <= 1e-12
}

/// A timestamp of the API (float seconds) as milliseconds.
fn parse_ts(v: &Value) -> Result<i64, String> {
    v.as_f64().map(|s| (s * 1000.0).round() as i64).ok_or_else(|| format!("timestamp {v} is not a number"))
}

/// `[ts, "value"]` → (ms, value).
fn point(p: &Value) -> Result<(i64, f64), String> {
    let a = p.as_array().filter(|a| a.len() == 2).ok_or_else(|| format!("point {p} is not [ts, value]"))?;
    Ok((parse_ts(&a[0])?, parse_value(&a[1])?))
}

fn labels_of(m: &Value) -> Result<BTreeMap<String, String>, String> {
    let o = m.as_object().ok_or_else(|| format!("metric {m} is not an object"))?;
    o.iter().map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())).ok_or_else(|| format!("label {k} is not a string"))).collect()
}

fn show(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(", "))
}

type Points = Vec<(i64, f64)>;

/// The series of a vector or matrix result, in answer order.
fn series_of(result: &Value, kind: &str) -> Result<Vec<(BTreeMap<String, String>, Points)>, String> {
    let list = result.as_array().ok_or_else(|| format!("result {result} is not a list"))?;
    list.iter()
        .map(|s| {
            let labels = labels_of(&s["metric"])?;
            let points = if kind == "vector" {
                vec![point(&s["value"])?]
            } else {
                s["values"].as_array().ok_or_else(|| format!("series {} has no values", show(&labels)))?.iter().map(point).collect::<Result<_, _>>()?
            };
            Ok((labels, points))
        })
        .collect()
}

fn show_value(v: f64) -> String {
    format!("{v:?}")
}

/// Compares two answers of the API semantically; `Err` holds the first difference. `ordered`:
/// the order of an instant vector matters (sort, sort_desc, topk, bottomk): then the sequence
/// of values in answer order must be the same too (ties may come in either order, so it is the
/// values that are compared in order; the series as a set, as everywhere else).
pub fn compare(want: &Reply, got: &Reply, ordered: bool) -> Result<(), String> {
    if want.status != got.status || want.json["status"] != got.json["status"] {
        return Err(format!("status {} {} vs {} {}", want.status, want.json["status"], got.status, clip(&got.text)));
    }
    if !want.ok() {
        return if want.json["errorType"] == got.json["errorType"] {
            Ok(())
        } else {
            Err(format!("errorType {} vs {} ({})", want.json["errorType"], got.json["errorType"], clip(&got.text)))
        };
    }
    let (wd, gd) = (&want.json["data"], &got.json["data"]);
    let kind = wd["resultType"].as_str().unwrap_or("");
    if wd["resultType"] != gd["resultType"] {
        return Err(format!("resultType {} vs {}", wd["resultType"], gd["resultType"]));
    }
    match kind {
        "scalar" => {
            let (w, g) = (point(&wd["result"])?, point(&gd["result"])?);
            if w.0 != g.0 || !same_value(w.1, g.1) {
                return Err(format!("scalar {w:?} vs {g:?}"));
            }
        }
        "string" => {
            let text = |r: &Value| -> Result<(i64, String), String> {
                let s = r[1].as_str().ok_or_else(|| format!("string result {r} is not [ts, \"text\"]"))?;
                Ok((parse_ts(&r[0])?, s.to_string()))
            };
            let (w, g) = (text(&wd["result"])?, text(&gd["result"])?);
            if w != g {
                return Err(format!("string {w:?} vs {g:?}"));
            }
        }
        "vector" | "matrix" => {
            let w = series_of(&wd["result"], kind).map_err(|e| format!("Prometheus: {e}"))?;
            let g = series_of(&gd["result"], kind)?;
            let wm: BTreeMap<_, _> = w.iter().cloned().collect();
            let mut gm = BTreeMap::new();
            for (labels, points) in &g {
                if gm.insert(labels.clone(), points.clone()).is_some() {
                    return Err(format!("series {} twice", show(labels)));
                }
            }
            let missing: Vec<String> = wm.keys().filter(|k| !gm.contains_key(*k)).take(3).map(show).collect();
            let extra: Vec<String> = gm.keys().filter(|k| !wm.contains_key(*k)).take(3).map(show).collect();
            if !missing.is_empty() || !extra.is_empty() {
                return Err(format!("{} vs {} series; missing {missing:?}, extra {extra:?}", wm.len(), gm.len()));
            }
            for (labels, wp) in &wm {
                let gp = &gm[labels];
                for i in 0..wp.len().max(gp.len()) {
                    match (wp.get(i), gp.get(i)) {
                        (Some(a), Some(b)) if a.0 == b.0 && same_value(a.1, b.1) => {}
                        (a, b) => {
                            let f = |p: Option<&(i64, f64)>| p.map_or("nothing".to_string(), |(t, v)| format!("{} @{}", show_value(*v), secs(*t)));
                            return Err(format!("{} point {i}: {} vs {}", show(labels), f(a), f(b)));
                        }
                    }
                }
            }
            if ordered && kind == "vector" {
                let values = |s: &[(BTreeMap<String, String>, Points)]| s.iter().map(|(_, p)| p[0].1).collect::<Vec<_>>();
                let (wv, gv) = (values(&w), values(&g));
                if !wv.iter().zip(&gv).all(|(a, b)| same_value(*a, *b)) {
                    return Err(format!("order of values {wv:?} vs {gv:?}"));
                }
            }
        }
        other => return Err(format!("unknown resultType {other:?}")),
    }
    Ok(())
}

/// Compares two answers of `/api/v1/series`, `/labels` or `/label/<name>/values`: same status,
/// and the same data as a set.
pub fn compare_set(want: &Reply, got: &Reply) -> Result<(), String> {
    if want.status != got.status || want.json["status"] != got.json["status"] {
        return Err(format!("status {} vs {} {}", want.status, got.status, clip(&got.text)));
    }
    let set = |r: &Reply| -> Result<std::collections::BTreeSet<String>, String> {
        let list = r.json["data"].as_array().ok_or_else(|| format!("data is not a list: {}", clip(&r.text)))?;
        Ok(list
            .iter()
            .map(|v| match v {
                Value::Object(_) => labels_of(v).map(|l| show(&l)).unwrap_or_else(|e| e),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect())
    };
    let (w, g) = (set(want)?, set(got)?);
    if w != g {
        let missing: Vec<_> = w.difference(&g).take(5).collect();
        let extra: Vec<_> = g.difference(&w).take(5).collect();
        return Err(format!("{} vs {} entries; missing {missing:?}, extra {extra:?}", w.len(), g.len()));
    }
    Ok(())
}

/// The start of a long text, for messages.
pub fn clip(s: &str) -> String {
    let s = s.trim();
    if s.len() <= 200 {
        s.to_string()
    } else {
        let mut end = 200;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}…", &s[..end])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(v: Value) -> Reply {
        let status = match v["errorType"].as_str() {
            Some("bad_data") => 400,
            Some(_) => 422,
            None => 200,
        };
        Reply { status, text: v.to_string(), json: v }
    }

    fn vector(series: &[(&str, f64, &str)]) -> Reply {
        let result: Vec<Value> = series.iter().map(|(room, t, v)| json!({"metric": {"room": room}, "value": [t, v]})).collect();
        reply(json!({"status": "success", "data": {"resultType": "vector", "result": result}}))
    }

    #[test]
    fn values_compare_to_1e9_relative_nan_equal_to_nan() {
        assert!(same_value(1.0, 1.0 + 1e-10));
        assert!(!same_value(1.0, 1.0 + 1e-8));
        assert!(same_value(1e12, 1e12 + 100.0));
        assert!(!same_value(0.0, 1e-9));
        assert!(same_value(f64::NAN, f64::NAN));
        assert!(!same_value(f64::NAN, 0.0));
        assert!(same_value(f64::INFINITY, f64::INFINITY));
        assert!(!same_value(f64::INFINITY, f64::NEG_INFINITY));
        assert!(!same_value(f64::INFINITY, f64::MAX));
        assert_eq!(parse_value(&json!("+Inf")).unwrap(), f64::INFINITY);
        assert!(parse_value(&json!("NaN")).unwrap().is_nan());
        assert_eq!(parse_value(&json!("1e-07")).unwrap(), 1e-7);
        assert!(parse_value(&json!("inf")).is_err(), "not Prometheus' spelling");
        assert!(parse_value(&json!(1.5)).is_err(), "values are strings");
    }

    #[test]
    fn answers_compare_by_label_set_timestamp_and_value() {
        let want = vector(&[("a", 10.0, "1"), ("b", 10.0, "NaN")]);
        assert!(compare(&want, &vector(&[("b", 10.0, "NaN"), ("a", 10.0, "1.0000000000001")]), false).is_ok());
        assert!(compare(&want, &vector(&[("a", 10.0, "1")]), false).unwrap_err().contains("missing"));
        assert!(compare(&want, &vector(&[("a", 10.0, "1"), ("b", 10.0, "NaN"), ("c", 10.0, "1")]), false).unwrap_err().contains("extra"));
        assert!(compare(&want, &vector(&[("a", 10.0, "1"), ("a", 10.0, "1"), ("b", 10.0, "NaN")]), false).unwrap_err().contains("twice"));
        assert!(compare(&want, &vector(&[("a", 10.001, "1"), ("b", 10.0, "NaN")]), false).is_err());
        assert!(compare(&want, &vector(&[("a", 10.0, "2"), ("b", 10.0, "NaN")]), false).is_err());
        // Order: only where it matters, and by values (ties may come either way).
        assert!(compare(&want, &vector(&[("b", 10.0, "NaN"), ("a", 10.0, "1")]), true).unwrap_err().contains("order"));
        let tie = vector(&[("a", 10.0, "1"), ("b", 10.0, "1")]);
        assert!(compare(&tie, &vector(&[("b", 10.0, "1"), ("a", 10.0, "1")]), true).is_ok());
        // Matrices: every point.
        let matrix = |values: Value| reply(json!({"status": "success", "data": {"resultType": "matrix", "result": [{"metric": {}, "values": values}]}}));
        let m = matrix(json!([[1, "1"], [2, "+Inf"]]));
        assert!(compare(&m, &matrix(json!([[1, "1"], [2, "+Inf"]])), false).is_ok());
        assert!(compare(&m, &matrix(json!([[1, "1"]])), false).unwrap_err().contains("nothing"));
        assert!(compare(&m, &matrix(json!([[1, "1"], [3, "+Inf"]])), false).is_err());
        // Types, statuses and error types.
        let scalar = |v: &str| reply(json!({"status": "success", "data": {"resultType": "scalar", "result": [4, v]}}));
        assert!(compare(&scalar("2"), &scalar("2"), false).is_ok());
        assert!(compare(&scalar("2"), &scalar("3"), false).is_err());
        assert!(compare(&scalar("2"), &vector(&[]), false).unwrap_err().contains("resultType"));
        let string = |t: Value| reply(json!({"status": "success", "data": {"resultType": "string", "result": [t, "x"]}}));
        assert!(compare(&string(json!(4)), &string(json!(4.0)), false).is_ok());
        let error = |t: &str| reply(json!({"status": "error", "errorType": t, "error": "..."}));
        assert!(compare(&error("bad_data"), &error("bad_data"), false).is_ok());
        assert!(compare(&error("execution"), &error("timeout"), false).is_err());
        assert!(compare(&error("bad_data"), &scalar("2"), false).unwrap_err().contains("status"));
    }

    #[test]
    fn the_data_set_is_in_time_order_and_has_its_landmarks() {
        let d = DataSet::new(1_800_000_000_000);
        assert_eq!(d.start_ms % 60_000, 0);
        let mut last: BTreeMap<Vec<(String, String)>, i64> = BTreeMap::new();
        for req in &d.requests {
            for ts in &req.timeseries {
                for s in &ts.samples {
                    let before = last.insert(crate::labels_key(&ts.labels), s.timestamp).unwrap_or(i64::MIN);
                    assert!(s.timestamp > before, "each series' samples come in time order across requests");
                }
            }
        }
        assert_eq!(last.len(), d.series.len());
        let stale = &d.series[&vec![("__name__".to_string(), "stale_gauge".to_string()), ("job".to_string(), "stale".to_string())]];
        assert_eq!(stale.last().unwrap().1.to_bits(), STALE_NAN);
        assert_eq!(rfc3339(1_800_000_000_123), "2027-01-15T08:00:00.123Z");
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}
