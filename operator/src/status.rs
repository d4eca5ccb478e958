//! The status a reconcile writes: the conditions `Ready`, `Progressing`, `Degraded` and
//! `PrometheusWired`, computed from what the reconcile saw. Pure: the caller passes the clock,
//! and a condition keeps its `lastTransitionTime` while its status does not change.

use crate::crd::GeminiClusterStatus;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;

/// A problem the user has to fix in the spec (or with kubectl), shown as `Degraded`.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub reason: &'static str,
    pub message: String,
}

impl Problem {
    pub fn new(reason: &'static str, message: impl Into<String>) -> Self {
        Problem { reason, message: message.into() }
    }
}

/// How the Prometheus Operator integration went.
#[derive(Clone, Debug, PartialEq)]
pub enum Wiring {
    /// The `monitoring.coreos.com` API is not served: nothing to wire, and no ServiceMonitor.
    OperatorAbsent,
    /// These Prometheus objects (`namespace/name`) carry this cluster's entries.
    Wired(Vec<String>),
}

/// What one reconcile observed.
#[derive(Clone, Debug, PartialEq)]
pub struct Observed {
    pub generation: Option<i64>,
    pub desired_replicas: i32,
    pub replicas: i32,
    pub ready_replicas: i32,
    /// The StatefulSet runs the newest pod template on every pod.
    pub rolled_out: bool,
    pub problem: Option<Problem>,
    pub wiring: Wiring,
    pub write_url: String,
    pub read_url: String,
    /// The Secret with the `prometheus.yml` lines.
    pub remote_secret: String,
}

fn condition(previous: &[Condition], kind: &str, status: bool, reason: &str, message: String, generation: Option<i64>, now: Timestamp) -> Condition {
    let status = if status { "True" } else { "False" }.to_string();
    let since = previous
        .iter()
        .find(|c| c.type_ == kind && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or(Time(now));
    Condition { type_: kind.into(), status, reason: reason.into(), message, observed_generation: generation, last_transition_time: since }
}

/// The new status, given the previous one (for transition times) and what was observed.
pub fn status(previous: Option<&GeminiClusterStatus>, o: &Observed, now: Timestamp) -> GeminiClusterStatus {
    let prev = previous.map(|s| s.conditions.as_slice()).unwrap_or_default();
    let all_ready = o.ready_replicas >= o.desired_replicas && o.replicas == o.desired_replicas && o.rolled_out;
    let ready = if all_ready {
        condition(prev, "Ready", true, "AllReplicasReady", format!("{} of {} pods ready", o.ready_replicas, o.desired_replicas), o.generation, now)
    } else {
        condition(prev, "Ready", false, "ReplicasNotReady", format!("{} of {} pods ready", o.ready_replicas, o.desired_replicas), o.generation, now)
    };
    let progressing = if all_ready {
        condition(prev, "Progressing", false, "RolloutComplete", "every pod runs the current spec".into(), o.generation, now)
    } else {
        let message = format!("rolling out: {} pods, {} ready, {} wanted", o.replicas, o.ready_replicas, o.desired_replicas);
        condition(prev, "Progressing", true, "RollingOut", message, o.generation, now)
    };
    let degraded = match &o.problem {
        Some(p) => condition(prev, "Degraded", true, p.reason, p.message.clone(), o.generation, now),
        None => condition(prev, "Degraded", false, "AsExpected", "the spec is applied".into(), o.generation, now),
    };
    let (wired, prometheuses) = match &o.wiring {
        Wiring::OperatorAbsent => (
            condition(
                prev,
                "PrometheusWired",
                false,
                "PrometheusOperatorAbsent",
                format!(
                    "the monitoring.coreos.com API is not served: no ServiceMonitor and no Prometheus wiring; paste the lines of Secret {} into prometheus.yml",
                    o.remote_secret
                ),
                o.generation,
                now,
            ),
            Vec::new(),
        ),
        Wiring::Wired(list) => (
            condition(prev, "PrometheusWired", true, "Wired", format!("{} Prometheus objects wired", list.len()), o.generation, now),
            list.clone(),
        ),
    };
    GeminiClusterStatus {
        observed_generation: o.generation,
        replicas: o.replicas,
        ready_replicas: o.ready_replicas,
        write_url: Some(o.write_url.clone()),
        read_url: Some(o.read_url.clone()),
        prometheuses,
        conditions: vec![ready, progressing, degraded, wired],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn observed() -> Observed {
        Observed {
            generation: Some(3),
            desired_replicas: 3,
            replicas: 3,
            ready_replicas: 1,
            rolled_out: true,
            problem: None,
            wiring: Wiring::Wired(vec!["monitoring/k8s".into()]),
            write_url: "w".into(),
            read_url: "r".into(),
            remote_secret: "metrics-prometheus-remote".into(),
        }
    }

    fn get<'a>(s: &'a GeminiClusterStatus, kind: &str) -> &'a Condition {
        s.conditions.iter().find(|c| c.type_ == kind).unwrap()
    }

    #[test]
    fn progressing_then_ready_with_transition_times_kept() {
        let t0 = Timestamp::from_second(1_000).unwrap();
        let t1 = Timestamp::from_second(2_000).unwrap();
        let s0 = status(None, &observed(), t0);
        assert_eq!((get(&s0, "Ready").status.as_str(), get(&s0, "Progressing").status.as_str()), ("False", "True"));
        assert_eq!(get(&s0, "Ready").message, "1 of 3 pods ready");
        assert_eq!(s0.prometheuses, vec!["monitoring/k8s"]);
        let s1 = status(Some(&s0), &Observed { ready_replicas: 3, ..observed() }, t1);
        assert_eq!(get(&s1, "Ready").status, "True");
        assert_eq!(get(&s1, "Ready").last_transition_time, Time(t1), "changed status moves the time");
        assert_eq!(get(&s1, "Degraded").last_transition_time, Time(t0), "unchanged status keeps the time");
        assert_eq!(s1.observed_generation, Some(3));
    }

    #[test]
    fn problems_and_missing_prometheus_operator_are_reported() {
        let o = Observed { problem: Some(Problem::new("ImmutableFieldChanged", "delete it")), wiring: Wiring::OperatorAbsent, ..observed() };
        let s = status(None, &o, Timestamp::UNIX_EPOCH);
        let d = get(&s, "Degraded");
        assert_eq!((d.status.as_str(), d.reason.as_str(), d.message.as_str()), ("True", "ImmutableFieldChanged", "delete it"));
        let w = get(&s, "PrometheusWired");
        assert_eq!((w.status.as_str(), w.reason.as_str()), ("False", "PrometheusOperatorAbsent"));
        assert!(w.message.contains("Secret metrics-prometheus-remote"), "{}", w.message);
        assert!(s.prometheuses.is_empty());
    }
}
