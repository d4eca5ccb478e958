//! The operator's own metrics, served on `/metrics` in the Prometheus text format: reconciles,
//! failures, reconcile durations and whether this replica leads.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::time::Duration;

pub struct Metrics {
    registry: Registry,
    reconciles: Counter,
    failures: Counter,
    duration: Histogram,
    pub leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("gemini_operator");
        let reconciles = Counter::default();
        let failures = Counter::default();
        let duration = Histogram::new(exponential_buckets(0.005, 2.0, 12));
        let leader = Gauge::default();
        registry.register("reconciles", "Reconciles of GeminiCluster objects", reconciles.clone());
        registry.register("reconcile_failures", "Reconciles that failed and were retried", failures.clone());
        registry.register("reconcile_duration_seconds", "Time a reconcile took", duration.clone());
        registry.register("leader", "1 while this replica runs the controller", leader.clone());
        Metrics { registry, reconciles, failures, duration, leader }
    }
}

impl Metrics {
    pub fn observe(&self, took: Duration, ok: bool) {
        self.reconciles.inc();
        if !ok {
            self.failures.inc();
        }
        self.duration.observe(took.as_secs_f64());
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_reconciles_and_failures() {
        let m = Metrics::default();
        m.observe(Duration::from_millis(20), true);
        m.observe(Duration::from_millis(30), false);
        let text = m.render();
        assert!(text.contains("gemini_operator_reconciles_total 2"), "{text}");
        assert!(text.contains("gemini_operator_reconcile_failures_total 1"), "{text}");
        assert!(text.contains("gemini_operator_reconcile_duration_seconds_count 2"), "{text}");
    }
}
