//! Downsampled tiers through a cluster (issue 29, must-have 7): three `gemini` nodes with two
//! copies of every series, each downsampling its own copies of a day of scrapes three weeks
//! old (`tiers::day_of_scrapes` and 20 gauges more, so that every node holds some); then
//! through every node, PromQL range queries with `max_source_resolution=auto` read the
//! 5-minute tier at step 30 m and the hours at step 1 h (the node's
//! `gemini_query_tier_reads_total` counts one read each) and answer
//! what `raw` answers: each series once (copies merged, never counted twice), exact for
//! `max/count_over_time` and plain selectors, within 1e-9 for sums and rates, as on one node.

use proto::prometheus as pb;
use std::time::Duration;
use tests::cluster::*;
use tests::tiers::*;
use tests::*;

/// Gauge `h{i="…"}`: a sample a minute over the day from `t0`, 7 s past the minute.
fn gauge(i: usize, t0: i64) -> pb::TimeSeries {
    let samples: Vec<(i64, f64)> = (0..24 * 60).map(|m| (t0 + 7_000 + m * 60_000, ((m as usize * 7 + i) % 50) as f64)).collect();
    series(&[("__name__", "h"), ("i", &i.to_string())], &samples)
}

#[test]
fn every_node_answers_range_queries_from_the_tiers_of_all_copies() {
    let files = tempfile::tempdir().unwrap();
    let c = cluster_with(3, 2, &files.path().join("peers"), &["--downsample.delay", "1s"]);
    let t0 = t0();
    let mut timeseries = day_of_scrapes(t0);
    timeseries.extend((0..20).map(|i| gauge(i, t0)));
    let a = c.nodes[0].write("prometheus", &pb::WriteRequest { timeseries, metadata: vec![] });
    assert_eq!(a.status, 204, "{}", a.text());
    for g in &c.nodes {
        wait_until(&format!("{} downsampled its copies", node_name(g)), Duration::from_secs(60), || {
            metric(g, "gemini_downsample_samples_total{tier=\"5m\"}") > 0.0 && metric(g, "gemini_downsample_pending_partitions") == 0.0
        });
    }
    let exact = ["max_over_time(g[1h])", "count_over_time(c[1h])", "c", "max_over_time(h[1h])", "count(count_over_time(h[1h]))"];
    let close = ["sum by (job) (rate(c[1h]))", "avg_over_time(h[1h])", "sum(increase(c[1h]))"];
    for g in &c.nodes {
        for (queries, tolerance) in [(&exact[..], 0.0), (&close[..], 1e-9)] {
            for q in queries {
                compare(g, q, t0, "30m", "5m", tolerance, 40);
            }
        }
    }
    // The hours, where their grid fits the query.
    for g in &c.nodes {
        wait_until(&format!("{} made the hours", node_name(g)), Duration::from_secs(60), || metric(g, "gemini_downsample_samples_total{tier=\"1h\"}") > 0.0 && metric(g, "gemini_downsample_pending_partitions") == 0.0);
    }
    for g in &c.nodes {
        compare(g, "sum by (job) (rate(c[1h]))", t0, "1h", "1h", 1e-9, 20);
        compare(g, "max_over_time(h[2h])", t0, "1h", "1h", 0.0, 20);
    }
}
