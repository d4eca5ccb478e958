//! The bench's workload: node_exporter-shaped series (counters, gauges and constants over
//! realistic label sets, from fixed seeds so every run sends the same), pre-encoded as the
//! remote write requests of each connection, in time order. Each series draws its steps from
//! a generator of its own and each scrape's lateness is a hash of (target, scrape), so any
//! series' samples can be generated again on their own: the read checks regenerate what was
//! written instead of keeping a copy of it.

use super::BenchArgs;
use prost::Message;
use proto::prometheus as pb;
use std::collections::HashMap;
use std::rc::Rc;

/// The metric the bench reads back after the load.
pub const READ_METRIC: &str = "node_cpu_seconds_total";

/// Time of the first scrape, ms.
const START_MS: i64 = 1_700_000_000_000;
/// Between two scrapes of a target, ms.
const INTERVAL_MS: i64 = 15_000;
const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// A label set, sorted by name.
pub type Labels = [(String, String)];

/// A tiny deterministic generator, so every run sends the same workload.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn unit(&mut self) -> f64 {
        unit(self.next())
    }
}

/// The top 53 bits of `x` as a fraction in [0, 1).
fn unit(x: u64) -> f64 {
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// SplitMix64's finalizer: a well-mixed hash of `x`, for seeds.
fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    Constant,
}

/// How a series moves: its kind, the typical change per scrape, the step values are rounded
/// to (1 for byte and packet counts, 0.01 for CPU seconds and load …) and how often it changes.
#[derive(Clone, Copy)]
struct Shape {
    kind: Kind,
    rate: f64,
    quantum: f64,
    activity: f64,
}

const fn shape(kind: Kind, rate: f64, quantum: f64, activity: f64) -> Shape {
    Shape { kind, rate, quantum, activity }
}

const CONSTANT: Shape = shape(Kind::Constant, 0.0, 1.0, 0.0);

struct SeriesSpec {
    labels: Rc<Labels>,
    shape: Shape,
    /// Its value before the first scrape's step.
    start: f64,
    /// The scrape target it comes from: all series of a scrape share its timestamp.
    target: usize,
}

/// The series of one node_exporter target, about 580 of them, in the mix measured on the
/// node_exporter 1.5 series of the captured traffic in `shared/fixtures`: two thirds never
/// change (info, flags, sizes, limits), most counters move every scrape, a few gauges are
/// noisy floats (collector durations, the clock).
fn node_target(host: usize, out: &mut Vec<SeriesSpec>, rng: &mut Rng) {
    let instance = format!("host-{host:05}:9100");
    let mut push = |name: &str, extra: &[(&str, String)], shape: Shape, rng: &mut Rng| {
        let mut labels: Vec<(String, String)> =
            vec![("__name__".into(), name.into()), ("instance".into(), instance.clone()), ("job".into(), "node".into())];
        labels.extend(extra.iter().map(|(k, v)| (k.to_string(), v.clone())));
        labels.sort();
        let start = match shape.kind {
            Kind::Constant => [0.0, 1.0, 4.0, 1500.0, 8_254_029_824.0, 1_699_000_000.0][(rng.next() % 6) as usize],
            _ => ((rng.next() % 10_000_000) as f64 * 7.0 / shape.quantum).round() * shape.quantum,
        };
        out.push(SeriesSpec { labels: labels.into(), shape, start, target: host });
    };
    let counter = |rate, quantum, activity| shape(Kind::Counter, rate, quantum, activity);
    let gauge = |rate, quantum, activity| shape(Kind::Gauge, rate, quantum, activity);
    let rare = counter(1.0, 1.0, 0.02);
    for cpu in 0..8 {
        for (mode, share, activity) in [
            ("idle", 12.0, 1.0), ("iowait", 0.05, 0.3), ("irq", 0.0, 0.0), ("nice", 0.01, 0.05),
            ("softirq", 0.02, 0.5), ("steal", 0.0, 0.0), ("system", 0.8, 1.0), ("user", 2.0, 1.0),
        ] {
            push("node_cpu_seconds_total", &[("cpu", cpu.to_string()), ("mode", mode.into())], counter(share, 0.01, activity), rng);
        }
        for mode in ["guest", "guest_nice"] {
            push("node_cpu_guest_seconds_total", &[("cpu", cpu.to_string()), ("mode", mode.into())], CONSTANT, rng);
        }
    }
    for (dev, busy) in [("eth0", 1.0), ("eth1", 0.3), ("lo", 0.5), ("docker0", 0.1)] {
        for (m, rate) in [("receive_bytes", 200_000.0), ("transmit_bytes", 150_000.0), ("receive_packets", 900.0), ("transmit_packets", 700.0)] {
            push(&format!("node_network_{m}_total"), &[("device", dev.into())], counter(rate, 1.0, busy), rng);
        }
        for m in ["receive_errs", "transmit_errs", "receive_drop", "transmit_drop", "receive_fifo", "transmit_fifo", "receive_frame", "transmit_colls", "receive_compressed", "transmit_compressed", "receive_multicast", "transmit_carrier"] {
            push(&format!("node_network_{m}_total"), &[("device", dev.into())], rare, rng);
        }
        for m in ["up", "mtu_bytes", "speed_bytes", "carrier", "flags", "iface_id", "iface_link", "address_assign_type", "dormant", "protocol_type", "transmit_queue_length", "net_dev_group", "carrier_changes_total", "info"] {
            push(&format!("node_network_{m}"), &[("device", dev.into())], CONSTANT, rng);
        }
    }
    for (dev, mp) in [("/dev/sda1", "/"), ("/dev/sda2", "/home"), ("tmpfs", "/run"), ("/dev/sdb1", "/var")] {
        let fs = [("device", dev.to_string()), ("fstype", "ext4".to_string()), ("mountpoint", mp.to_string())];
        for m in ["avail_bytes", "free_bytes"] {
            push(&format!("node_filesystem_{m}"), &fs, gauge(40_960.0, 4096.0, 0.5), rng);
        }
        push("node_filesystem_files_free", &fs, gauge(10.0, 1.0, 0.2), rng);
        for m in ["size_bytes", "files", "readonly", "device_error"] {
            push(&format!("node_filesystem_{m}"), &fs, CONSTANT, rng);
        }
    }
    for dev in ["sda", "sdb"] {
        for (m, rate, quantum) in [
            ("read_bytes", 80_000.0, 512.0), ("written_bytes", 300_000.0, 512.0), ("reads_completed", 20.0, 1.0),
            ("writes_completed", 60.0, 1.0), ("io_time_seconds", 0.2, 0.001), ("read_time_seconds", 0.05, 0.001),
            ("write_time_seconds", 0.3, 0.001), ("io_time_weighted_seconds", 0.4, 0.001),
        ] {
            push(&format!("node_disk_{m}_total"), &[("device", dev.into())], counter(rate, quantum, 0.9), rng);
        }
        for m in ["reads_merged", "writes_merged", "discards_completed", "discards_merged", "discarded_sectors", "discard_time_seconds", "flush_requests", "flush_requests_time_seconds"] {
            push(&format!("node_disk_{m}_total"), &[("device", dev.into())], rare, rng);
        }
        push("node_disk_io_now", &[("device", dev.into())], gauge(1.0, 1.0, 0.2), rng);
        push("node_disk_info", &[("device", dev.into())], CONSTANT, rng);
    }
    for i in 0..54 {
        let s = if i < 18 { gauge(1_048_576.0, 4096.0, 0.7) } else { gauge(4096.0, 4096.0, 0.02) };
        push(&format!("node_memory_M{i:02}_bytes"), &[], s, rng);
    }
    for i in 0..40 {
        let s = if i < 8 { counter(50.0, 1.0, 0.8) } else { rare };
        push(&format!("node_netstat_N{i:02}"), &[], s, rng);
    }
    for collector in 0..46 {
        let c = [("collector", format!("c{collector:02}"))];
        push("node_scrape_collector_duration_seconds", &c, gauge(0.0005, 1e-9, 1.0), rng);
        push("node_scrape_collector_success", &c, CONSTANT, rng);
    }
    for i in 0..17 {
        push(&format!("node_timex_T{i:02}"), &[], if i < 3 { gauge(10.0, 1.0, 0.1) } else { CONSTANT }, rng);
    }
    for i in 0..30 {
        push(&format!("node_misc_G{i:02}"), &[], if i < 8 { gauge(5.0, 1.0, 0.2) } else { CONSTANT }, rng);
    }
    for i in 0..18 {
        push(&format!("node_vmstat_V{i:02}_total"), &[], counter(500.0, 1.0, 0.8), rng);
    }
    for (m, s) in [
        ("node_load1", gauge(0.3, 0.01, 1.0)), ("node_load5", gauge(0.1, 0.01, 1.0)), ("node_load15", gauge(0.05, 0.01, 1.0)),
        ("node_procs_running", gauge(2.0, 1.0, 0.7)), ("node_procs_blocked", gauge(1.0, 1.0, 0.1)),
        ("node_time_seconds", counter(15.0, 1e-9, 1.0)), ("node_context_switches_total", counter(30_000.0, 1.0, 1.0)),
        ("node_intr_total", counter(20_000.0, 1.0, 1.0)), ("node_forks_total", counter(30.0, 1.0, 1.0)),
    ] {
        push(m, &[], s, rng);
    }
    for i in 0..23 {
        push(&format!("go_memstats_S{i:02}_bytes"), &[], if i < 12 { gauge(65_536.0, 8.0, 0.6) } else { CONSTANT }, rng);
    }
    for (m, s) in [
        ("go_goroutines", gauge(1.0, 1.0, 0.3)), ("go_threads", CONSTANT), ("go_gc_duration_seconds_count", counter(1.0, 1.0, 0.5)),
        ("go_gc_duration_seconds_sum", counter(0.0003, 1e-9, 0.5)), ("process_cpu_seconds_total", counter(0.05, 0.01, 0.9)),
        ("process_resident_memory_bytes", gauge(65_536.0, 4096.0, 0.6)), ("process_open_fds", gauge(1.0, 1.0, 0.1)),
        ("process_max_fds", CONSTANT), ("process_start_time_seconds", CONSTANT), ("process_virtual_memory_bytes", CONSTANT),
        ("node_boot_time_seconds", CONSTANT), ("node_uname_info", CONSTANT), ("node_os_info", CONSTANT),
        ("node_exporter_build_info", CONSTANT), ("node_textfile_scrape_error", CONSTANT), ("go_info", CONSTANT),
    ] {
        push(m, &[], s, rng);
    }
    for code in ["200", "500", "503"] {
        push("promhttp_metric_handler_requests_total", &[("code", code.into())], counter(1.0, 1.0, if code == "200" { 1.0 } else { 0.0 }), rng);
    }
}

/// What the bench writes: every series' labels and how it moves. Its samples are not kept
/// but generated again, the same every time, by `samples`.
pub struct Workload {
    series: Vec<SeriesSpec>,
    /// Series by label set (sharing the labels of `series`).
    index: HashMap<Rc<Labels>, usize>,
    scrapes: usize,
}

impl Workload {
    /// `series` series (whole node_exporter targets of about 580, the last one cut short; of
    /// the metrics in `only` when it names any), each scraped `scrapes` times.
    pub fn new(series: usize, scrapes: usize, only: &[&str]) -> Workload {
        let mut rng = Rng(SEED);
        let mut specs = Vec::with_capacity(series + 600);
        let mut host = 0;
        while specs.len() < series {
            node_target(host, &mut specs, &mut rng);
            if !only.is_empty() {
                specs.retain(|s| s.labels.iter().any(|(n, v)| n == "__name__" && only.contains(&v.as_str())));
            }
            host += 1;
        }
        specs.truncate(series);
        let index = specs.iter().enumerate().map(|(i, s)| (s.labels.clone(), i)).collect();
        Workload { series: specs, index, scrapes }
    }

    /// How many series it has.
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Samples in all: every series at every scrape.
    pub fn sample_count(&self) -> usize {
        self.series.len() * self.scrapes
    }

    /// Series `i`'s label set.
    pub fn labels(&self, i: usize) -> &Labels {
        &self.series[i].labels
    }

    /// The first and last scrape's times (ms), which every series' samples lie between.
    pub fn time_span_ms(&self) -> (i64, i64) {
        (START_MS, START_MS + (self.scrapes.max(1) as i64 - 1) * INTERVAL_MS + 1)
    }

    /// The series of a label set (sorted by name).
    pub fn find(&self, labels: &Labels) -> Option<usize> {
        self.index.get(labels).copied()
    }

    /// Series `i`'s samples, as written: generated again, in time order.
    pub fn samples(&self, i: usize) -> Samples {
        let s = &self.series[i];
        Samples { shape: s.shape, target: s.target as u64, value: s.start, rng: Rng(mix(SEED ^ i as u64) | 1), scrape: 0, scrapes: self.scrapes }
    }
}

/// One series' samples in time order (see `Workload::samples`).
pub struct Samples {
    shape: Shape,
    target: u64,
    value: f64,
    rng: Rng,
    scrape: usize,
    scrapes: usize,
}

impl Iterator for Samples {
    type Item = (i64, f64);

    fn next(&mut self) -> Option<(i64, f64)> {
        if self.scrape == self.scrapes {
            return None;
        }
        self.value = step(self.shape, self.value, &mut self.rng);
        // A scrape's timestamp is when it started: now and then a millisecond late.
        let late = (unit(mix(mix(SEED ^ self.target) ^ self.scrape as u64)) < 0.3) as i64;
        let t = START_MS + self.scrape as i64 * INTERVAL_MS + late;
        self.scrape += 1;
        Some((t, self.value))
    }
}

/// A series' value one scrape on, as the real thing would move.
fn step(s: Shape, value: f64, rng: &mut Rng) -> f64 {
    if rng.unit() >= s.activity {
        return value;
    }
    let round = |v: f64| (v / s.quantum).round() * s.quantum;
    match s.kind {
        Kind::Counter => round(value + s.rate * (0.5 + rng.unit())),
        Kind::Gauge => round((value + (rng.unit() - 0.5) * 2.0 * s.rate).max(0.0)),
        Kind::Constant => value,
    }
}

/// Pre-encodes the requests of each connection, in time order: connection `c` sends every
/// `connections`-th series, `batch` series per request, one scrape after the other.
pub fn encode(args: &BenchArgs, workload: &Workload) -> Vec<Vec<Vec<u8>>> {
    let mut samples: Vec<Samples> = (0..workload.series_count()).map(|i| workload.samples(i)).collect();
    let mut per_conn: Vec<Vec<Vec<u8>>> = vec![Vec::new(); args.connections];
    let mut enc = snap::raw::Encoder::new();
    for _ in 0..workload.scrapes {
        for (c, conn) in per_conn.iter_mut().enumerate() {
            let mine: Vec<usize> = (c..workload.series_count()).step_by(args.connections).collect();
            for batch in mine.chunks(args.batch) {
                let ts = batch
                    .iter()
                    .map(|&i| {
                        let (timestamp, value) = samples[i].next().expect("a sample for every scrape");
                        let labels = workload.labels(i).iter().map(|(name, value)| pb::Label { name: name.clone(), value: value.clone() }).collect();
                        pb::TimeSeries { labels, samples: vec![pb::Sample { value, timestamp }], ..Default::default() }
                    })
                    .collect();
                let body = pb::WriteRequest { timeseries: ts, metadata: vec![] }.encode_to_vec();
                conn.push(enc.compress_vec(&body).expect("snappy"));
            }
        }
    }
    per_conn
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::Server;

    fn small_args() -> BenchArgs {
        BenchArgs { series: 1000, scrapes: 3, connections: 2, batch: 300, server_cpu: None, shards: None, data_dir: None, nodes: 1, replication_factor: 1, sync_writes: false, read_after_sealing: false, queries: false, long_range: false, server: Server::Gemini }
    }

    #[test]
    fn workload_has_the_asked_shape() {
        let args = small_args();
        let reqs = encode(&args, &Workload::new(args.series, args.scrapes, &[]));
        assert_eq!(reqs.len(), 2);
        let workload = Workload::new(args.series, args.scrapes, &[]);
        let mut total = 0;
        let mut sent: Vec<Vec<(i64, f64)>> = vec![Vec::new(); workload.series_count()];
        for bodies in &reqs {
            for b in bodies {
                let raw = snap::raw::Decoder::new().decompress_vec(b).unwrap();
                let req = pb::WriteRequest::decode(raw.as_slice()).unwrap();
                assert!(req.timeseries.len() <= 300);
                total += req.timeseries.len();
                for ts in req.timeseries {
                    let labels: Vec<(String, String)> = ts.labels.into_iter().map(|l| (l.name, l.value)).collect();
                    sent[workload.find(&labels).expect("a series of the workload")].extend(ts.samples.iter().map(|s| (s.timestamp, s.value)));
                }
            }
        }
        assert_eq!(total, 3000);
        // What the checks regenerate is what was sent, bit for bit.
        for (i, samples) in sent.iter().enumerate() {
            let want: Vec<(i64, f64)> = workload.samples(i).collect();
            assert_eq!(samples.iter().map(|(t, v)| (*t, v.to_bits())).collect::<Vec<_>>(), want.iter().map(|(t, v)| (*t, v.to_bits())).collect::<Vec<_>>(), "series {i}");
        }
    }
}
