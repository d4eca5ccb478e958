//! What the bench prints once the servers have stopped: the workload, ingest rate and
//! latency, disk, the servers' peak RSS and CPU, the reads and what sealing did.

use super::disk::DiskUsage;
use super::load::Loaded;
use super::servers::Usage;
use super::workload::READ_METRIC;
use super::{BenchArgs, Server};
use std::time::Duration;

/// Everything measured of one run.
pub(super) struct Report {
    pub nodes: usize,
    pub samples: u64,
    /// Bytes of the write requests on the wire (snappy).
    pub wire: usize,
    pub loaded: Loaded,
    pub disk: DiskUsage,
    /// Gemini's table bytes by column family and level (`disk::table_report`).
    pub tables: String,
    /// The servers' whole runs, the clean stop included.
    pub usage: Usage,
    /// The servers' CPU seconds and peak RSS (KiB) before the clean stop.
    pub before_stop: (f64, u64),
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted.get(((sorted.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or_default()
}

impl Report {
    pub(super) fn print(mut self, args: &BenchArgs) {
        let (nodes, samples, usage) = (self.nodes, self.samples, self.usage);
        let (cpu_before_stop, rss_before_stop) = self.before_stop;
        let Loaded { elapsed, ref mut latencies, read: (read, read_series, read_samples), streamed: (streamed, streamed_series, frames), ref queries, sealing: (sealed, seal_seconds) } = self.loaded;
        latencies.sort();
        let copies = match (nodes, args.replication_factor.min(nodes)) {
            (1, _) => "single node, one copy".to_string(),
            (n, 1) => format!("{n} nodes, one copy"),
            (n, c) => format!("{n} nodes, all {c} copies of every sample"),
        };
        let disk = &self.disk;
        println!("workload:        {} series x {} scrapes = {} samples in {} requests ({:.1} MB snappy on the wire)", args.series, args.scrapes, samples, latencies.len(), self.wire as f64 / 1e6);
        println!("ingest:          {:.0} samples/s ({:.2} s, --sync-writes {})", samples as f64 / elapsed.as_secs_f64(), elapsed.as_secs_f64(), if args.sync_writes { "on" } else { "off" });
        println!("latency:         p50 {:.2} ms, p99 {:.2} ms", percentile(latencies, 0.5).as_secs_f64() * 1e3, percentile(latencies, 0.99).as_secs_f64() * 1e3);
        println!("disk:            {} bytes, {:.3} bytes/sample: the whole data directory after a clean stop, apparent sizes as du -b counts ({copies})", disk.total, disk.total as f64 / samples as f64);
        println!("                 of which tables (*.sst) {}, WAL (*.log) {}, the rest (MANIFEST, OPTIONS, info LOGs, directories …) {}", disk.tables, disk.wal, disk.total - disk.tables - disk.wal);
        println!("                 tables by column family (summed over shards and nodes; bytes by level): {}", self.tables);
        println!(
            "server peak RSS: {:.1} MB: the whole run, the clean stop included; {:.1} MB before the clean stop (sum over {nodes} server(s))",
            usage.peak_rss_kib as f64 / 1024.0,
            rss_before_stop as f64 / 1024.0
        );
        println!(
            "server CPU:      {:.1} s, {:.2} µs per sample: the whole run, of which {:.1} s in the clean stop (sum over {nodes} server(s))",
            usage.cpu,
            usage.cpu * 1e6 / samples as f64,
            usage.cpu - cpu_before_stop
        );
        for q in queries {
            println!("query:           {:<13} median of 3: {:8.1} ms ({} series, {} points, values summing to {:.6e})", q.name, q.median.as_secs_f64() * 1e3, q.series, q.points, q.sum);
            if let Some((fill, refresh)) = q.cached {
                println!("query cache:     {:<13} filling: {:8.1} ms, refreshed (median of 3): {:6.1} ms, the same answer", q.name, fill.as_secs_f64() * 1e3, refresh.as_secs_f64() * 1e3);
            }
        }
        if args.server.read_path().is_none() {
            println!("remote read:     n/a (not compared on {:?})", args.server);
            return;
        }
        println!("remote read:     {READ_METRIC} of every target, every scrape ({read_series} series, {read_samples} samples, all checked against what was written), best of 3: {:.1} ms", read.as_secs_f64() * 1e3);
        println!("streamed read:   everything, STREAMED_XOR_CHUNKS ({streamed_series} series, all {samples} samples decoded and checked against what was written, {frames} frames), best of 3: {:.1} ms", streamed.as_secs_f64() * 1e3);
        if args.server != Server::Gemini {
            return;
        }
        match sealed > 0.0 {
            true => println!("sealing:         {sealed:.0} samples sealed before the stop, in {seal_seconds:.2} s of shard time ({:.0} ms per million samples)", seal_seconds * 1e9 / sealed),
            false => println!("sealing:         nothing sealed before the stop (the clean stop seals what is ready)"),
        }
    }
}
