//! Hinted handoff on three nodes in one process (`test_nodes`): copies taken for an owner that
//! is down reach it once it is back, in requests within the limits, and a hint goes only once
//! its samples were stored on the owner.

use super::*;
use crate::cluster::placement;
use crate::cluster::test_nodes::{everything, hinted, named, one_sample, series, storage_in, stored, written, Fixture, Samples, NODES};

#[test]
fn keys_and_values_round_trip() {
    let key = HintKey { owner: "gemini-1:8086".into(), db: "prometheus".into(), rp: String::new(), labels: Labels::from_sorted([("__name__", "up"), ("job", "a\0b")]) };
    assert_eq!(HintKey::decode(&key.encode()), Some(key));
    let hint = Hint { since_ms: 1, min_t: -5, max_t: i64::MAX, version: 0 };
    assert_eq!(Hint::decode(&hint.encode()), Some(hint));
    assert_eq!(HintKey::decode(b"ho/\0\x05ab"), None, "cut short");
}

#[actix_web::test]
async fn copies_taken_for_a_down_owner_reach_it_once_it_is_back() {
    let f = Fixture::new(&["b:1"]);
    let (first, later, newer) = (series(30), one_sample(3_000, 3.0), one_sample(4_000, 4.0));
    f.a.write("db", None, first.clone(), &FieldPairs::new()).await.unwrap();
    f.a.write("db", None, later.clone(), &FieldPairs::new()).await.unwrap();
    let peers = f.a.cluster.peers();
    // The writes of node `n`'s series (it owns them; index in `NODES`).
    let owned = |n: usize, writes: &[SeriesWrite]| -> Vec<SeriesWrite> { writes.iter().filter(|s| placement::ranked(s.hash, &peers.hashes)[..2].contains(&n)).cloned().collect() };
    let (on_a, on_c) = (hinted(f.a.handoff(), "b:1"), hinted(&f.handoffs[1], "b:1"));
    assert!(!on_a.is_empty() && !on_c.is_empty(), "both a and c stood in for b: {on_a:?} and {on_c:?}");
    let mut hints: Vec<Labels> = on_a.iter().chain(&on_c).cloned().collect();
    hints.sort();
    assert_eq!(hints, written([owned(1, &first).as_slice()]).into_keys().collect::<Vec<_>>(), "one hint per series b owns, on the node that took its copy");
    assert!(stored(&f.storages[1], everything()).await.is_empty());

    f.bring_back("b:1");
    f.a.probe_once().await;
    // b takes newer samples before the older ones reach it: those are merged in, not refused.
    f.a.write("db", None, newer.clone(), &FieldPairs::new()).await.unwrap();
    f.a.deliver_hints_once().await;
    assert_eq!(hinted(f.a.handoff(), "b:1"), Vec::<Labels>::new(), "a delivered its hints");
    assert_eq!(f.a.cluster.stats()["b:1"].handed_off_samples, 3 * on_a.len() as u64);
    // c's hints were stored with its copies: a coordinator opened on c's storage finds them.
    let c = f.coordinator_on_c();
    assert_eq!(hinted(c.handoff(), "b:1"), on_c);
    c.deliver_hints_once().await;
    assert_eq!(hinted(c.handoff(), "b:1"), Vec::<Labels>::new());

    let want_on = |n: usize| written([owned(n, &first).as_slice(), owned(n, &later).as_slice(), owned(n, &newer).as_slice()]);
    assert_eq!(stored(&f.storages[1], everything()).await, want_on(1), "b holds exactly the series it owns, every sample written while it was down and after");
    // The fallbacks keep their copies: every series has its copies on a and c besides b's.
    for n in [0, 2] {
        let kept = written([first.as_slice(), later.as_slice(), owned(n, &newer).as_slice()]);
        assert_eq!(stored(&f.storages[n], everything()).await, kept, "{} keeps a copy of every series", NODES[n]);
    }
}

#[actix_web::test]
async fn a_hint_touched_while_it_was_delivered_stays() {
    let dir = tempfile::tempdir().unwrap();
    let storage = storage_in(&dir);
    let handoff = Handoff::open(storage.clone()).unwrap();
    let labels = |writes: Vec<SeriesWrite>| writes.into_iter().map(|s| s.labels).collect::<Vec<_>>();
    handoff.store_copy("db", None, series(2), CopyKind::StandingFor("b:1")).await.unwrap();
    let read = handoff.batch("b:1", None);
    assert_eq!(read.iter().map(|(k, _)| k.labels.clone()).collect::<Vec<_>>(), labels(series(2)));
    assert_eq!((read[0].1.min_t, read[0].1.max_t), (1_000, 2_000));
    let later: Vec<SeriesWrite> = series(1).into_iter().map(|s| SeriesWrite { samples: vec![(5_000, 5.0)], ..s }).collect();
    handoff.store_copy("db", None, later, CopyKind::StandingFor("b:1")).await.unwrap();
    handoff.delivered(read).unwrap();
    assert_eq!(hinted(&handoff, "b:1"), labels(series(1)), "the series written to meanwhile keeps its hint");
    let left = Handoff::open(storage.clone()).unwrap().batch("b:1", None);
    assert_eq!(left.iter().map(|(k, h)| (k.labels.clone(), h.min_t, h.max_t)).collect::<Vec<_>>(), vec![(labels(series(1))[0].clone(), 1_000, 5_000)], "as stored, widened by the later write");
    handoff.store_copy("db", None, series(1), CopyKind::Owned).await.unwrap();
    assert_eq!(hinted(&handoff, "b:1"), labels(series(1)), "a copy on an owner adds no hint");
}

/// Copies a holds for b, standing in: three series of 70 000 samples (`big`, first in label
/// order), which pass the samples a request may carry, and 600 of two (`up`), which pass the
/// hints it may carry. Answers them.
async fn stand_in_for_b(f: &Fixture) -> Samples {
    let big: Vec<SeriesWrite> = (0..3i64)
        .map(|k| {
            let instance = format!("big{k}");
            let labels = Labels::from_sorted([("__name__", "big"), ("instance", instance.as_str())]);
            let samples = (0..70_000i64).map(|i| (i * 1_000, (k * 70_000 + i) as f64 / 4.0)).collect();
            SeriesWrite { hash: labels.stable_hash(), labels, samples }
        })
        .collect();
    let up = series(600);
    for part in [&big, &up] {
        f.a.handoff().store_copy("db", None, part.clone(), CopyKind::StandingFor("b:1")).await.unwrap();
    }
    written([big.as_slice(), up.as_slice()])
}

/// Every series of `big` and `up` on `storage`.
async fn big_and_up(storage: &Arc<Storage>) -> Samples {
    let mut out = stored(storage, named("big", i64::MIN, i64::MAX)).await;
    out.extend(stored(storage, everything()).await);
    out
}

#[actix_web::test]
async fn hints_reach_their_owner_in_requests_within_the_limits() {
    assert_eq!((BATCH, BATCH_SAMPLES), (500, 200_000), "the limits the series of `stand_in_for_b` pass");
    let f = Fixture::new(&["b:1"]);
    let want = stand_in_for_b(&f).await;
    f.bring_back("b:1");
    f.a.deliver_hints_once().await;
    let requests = f.writes_to("b:1", "HandedOff");
    for r in &requests {
        let before_last: usize = r[..r.len() - 1].iter().map(|(_, n)| n).sum();
        assert!(r.len() <= 500 && before_last < 200_000, "a request of {} series, {before_last} samples before its last", r.len());
    }
    // In label order: the big series, cut after the third (210 000 samples); 500 of up (the
    // hint limit); the 100 left.
    assert_eq!(requests.iter().map(Vec::len).collect::<Vec<_>>(), [3, 500, 100]);
    assert_eq!(big_and_up(&f.storages[1]).await, want, "every sample reached b");
    assert_eq!(hinted(f.a.handoff(), "b:1"), Vec::<Labels>::new());
    assert_eq!(f.a.cluster.stats()["b:1"].handed_off_samples, 3 * 70_000 + 600 * 2);
}

#[actix_web::test]
async fn a_hint_stays_until_its_samples_are_stored() {
    let f = Fixture::new(&["b:1"]);
    let want = stand_in_for_b(&f).await;
    f.bring_back("b:1");
    f.writes_fail_after("b:1", 1);
    f.a.deliver_hints_once().await;
    let requests = f.writes_to("b:1", "HandedOff");
    assert_eq!(requests.len(), 2, "delivery stopped at the request that failed");
    assert!(f.a.cluster.is_down("b:1"));
    let on_b = big_and_up(&f.storages[1]).await;
    let first: Samples = requests[0].iter().map(|(l, _)| (l.clone(), want[l].clone())).collect();
    assert_eq!(on_b, first, "b holds the series of the request it took, whole");
    let waiting: Vec<Labels> = want.keys().filter(|l| !on_b.contains_key(l)).cloned().collect();
    assert_eq!(hinted(f.a.handoff(), "b:1"), waiting, "a hint for each series b does not hold, and no other");
    // Once b is back, the rest reaches it.
    f.bring_back("b:1");
    f.a.probe_once().await;
    f.a.deliver_hints_once().await;
    assert_eq!(big_and_up(&f.storages[1]).await, want);
    assert_eq!(hinted(f.a.handoff(), "b:1"), Vec::<Labels>::new());
}

#[actix_web::test]
async fn an_import_is_merged_on_every_copy_and_a_stand_in_hands_it_over() {
    let f = Fixture::new(&["b:1"]);
    let newer = one_sample(5_000, 5.0);
    f.a.write("db", None, newer.clone(), &FieldPairs::new()).await.unwrap();
    // History older than every series' newest: merged on the owners and on the stand-ins for b.
    let outcome = f.a.import("db", None, series(30), &FieldPairs::new()).await.unwrap();
    assert_eq!((outcome.accepted, outcome.rejected), (60, 0), "{outcome:?}");
    assert!(!hinted(f.a.handoff(), "b:1").is_empty() || !hinted(&f.handoffs[1], "b:1").is_empty());
    f.bring_back("b:1");
    f.a.probe_once().await;
    f.a.deliver_hints_once().await;
    f.coordinator_on_c().deliver_hints_once().await;
    let all = written([series(30).as_slice(), newer.as_slice()]);
    let peers = f.a.cluster.peers();
    let owned_by_b: Samples = all.iter().filter(|(l, _)| placement::ranked(l.stable_hash(), &peers.hashes)[..2].contains(&1)).map(|(l, s)| (l.clone(), s.clone())).collect();
    assert!(!owned_by_b.is_empty());
    assert_eq!(stored(&f.storages[1], everything()).await, owned_by_b, "b holds its series with the history merged in");
    for n in [0, 2] {
        assert_eq!(stored(&f.storages[n], everything()).await, all, "{} holds every series whole", NODES[n]);
    }
}
