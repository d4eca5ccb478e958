//! Leader election over a `coordination.k8s.io/v1` Lease, for running two operator replicas:
//! only the holder reconciles. The holder renews the Lease every `RENEW` seconds; another
//! replica takes it once it has not been renewed for its `leaseDurationSeconds`. Every write
//! carries the `resourceVersion` it read, so two replicas never both win: the loser gets 409.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, PostParams};
use std::time::Duration;

/// How long a Lease stays valid without renewal.
pub const LEASE_SECONDS: i32 = 15;
/// How often the holder renews, and others retry.
pub const RENEW: Duration = Duration::from_secs(5);

/// What a replica should do with a Lease it has read.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// Nobody holds it, or the holder stopped renewing: take it.
    Take,
    /// We hold it: renew it.
    Renew,
    /// Someone else holds it.
    Wait,
}

pub fn step(spec: Option<&LeaseSpec>, me: &str, now: Timestamp) -> Step {
    let Some(spec) = spec else { return Step::Take };
    match spec.holder_identity.as_deref() {
        None | Some("") => Step::Take,
        Some(holder) if holder == me => Step::Renew,
        Some(_) => {
            let seconds = spec.lease_duration_seconds.unwrap_or(LEASE_SECONDS) as i64;
            match &spec.renew_time {
                Some(MicroTime(renewed)) if *renewed + SignedDuration::from_secs(seconds) > now => Step::Wait,
                _ => Step::Take,
            }
        }
    }
}

fn conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 409)
}

/// One attempt to take or renew the Lease `name`. True while this replica (`me`) holds it.
pub async fn try_lead(api: &Api<Lease>, name: &str, me: &str) -> Result<bool, kube::Error> {
    let now = MicroTime(Timestamp::now());
    let fresh = LeaseSpec {
        holder_identity: Some(me.into()),
        lease_duration_seconds: Some(LEASE_SECONDS),
        acquire_time: Some(now.clone()),
        renew_time: Some(now.clone()),
        lease_transitions: Some(0),
        ..Default::default()
    };
    let Some(mut lease) = api.get_opt(name).await? else {
        let lease = Lease { metadata: ObjectMeta { name: Some(name.into()), ..Default::default() }, spec: Some(fresh) };
        return match api.create(&PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(e) if conflict(&e) => Ok(false),
            Err(e) => Err(e),
        };
    };
    let spec = lease.spec.get_or_insert_default();
    match step(Some(spec), me, now.0) {
        Step::Wait => return Ok(false),
        Step::Renew => spec.renew_time = Some(now),
        Step::Take => {
            let transitions = spec.lease_transitions.unwrap_or(0) + 1;
            *spec = LeaseSpec { lease_transitions: Some(transitions), ..fresh };
        }
    }
    match api.replace(name, &PostParams::default(), &lease).await {
        Ok(_) => Ok(true),
        Err(e) if conflict(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Gives the Lease up at shutdown so the other replica takes over at once.
pub async fn release(api: &Api<Lease>, name: &str, me: &str) -> Result<(), kube::Error> {
    let Some(mut lease) = api.get_opt(name).await? else { return Ok(()) };
    let spec = lease.spec.get_or_insert_default();
    if spec.holder_identity.as_deref() != Some(me) {
        return Ok(());
    }
    spec.holder_identity = None;
    spec.renew_time = None;
    match api.replace(name, &PostParams::default(), &lease).await {
        Err(e) if !conflict(&e) => Err(e),
        _ => Ok(()),
    }
}

/// Waits until this replica holds the Lease.
pub async fn acquire(api: &Api<Lease>, name: &str, me: &str) {
    loop {
        match try_lead(api, name, me).await {
            Ok(true) => return,
            Ok(false) => tracing::debug!(lease = name, "another replica leads; waiting"),
            Err(e) => tracing::warn!(lease = name, error = %e, "could not read or take the lease"),
        }
        tokio::time::sleep(RENEW).await;
    }
}

/// Renews the Lease until that fails for longer than the Lease lasts; returns when this
/// replica may no longer lead.
pub async fn keep(api: &Api<Lease>, name: &str, me: &str) {
    let mut last_renewed = tokio::time::Instant::now();
    loop {
        tokio::time::sleep(RENEW).await;
        match try_lead(api, name, me).await {
            Ok(true) => last_renewed = tokio::time::Instant::now(),
            Ok(false) => return,
            Err(e) => {
                tracing::warn!(lease = name, error = %e, "could not renew the lease");
                if last_renewed.elapsed() >= Duration::from_secs(LEASE_SECONDS as u64) {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(by: &str, renewed: i64) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(by.into()),
            lease_duration_seconds: Some(15),
            renew_time: Some(MicroTime(Timestamp::from_second(renewed).unwrap())),
            ..Default::default()
        }
    }

    #[test]
    fn steps() {
        let now = Timestamp::from_second(1_000).unwrap();
        assert_eq!(step(None, "a", now), Step::Take);
        assert_eq!(step(Some(&held("a", 999)), "a", now), Step::Renew);
        assert_eq!(step(Some(&held("b", 990)), "a", now), Step::Wait, "renewed 10 s ago, lasts 15 s");
        assert_eq!(step(Some(&held("b", 980)), "a", now), Step::Take, "expired 5 s ago");
        assert_eq!(step(Some(&LeaseSpec::default()), "a", now), Step::Take, "released");
    }
}
