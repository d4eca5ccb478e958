//! Hinted handoff on three nodes in one process (`test_nodes`): copies taken for an owner that
//! is down reach it once it is back, and a hint touched meanwhile stays.

use super::*;
use crate::cluster::placement;
use crate::cluster::test_nodes::{everything, hinted, one_sample, series, storage_in, stored, written, Fixture, NODES};

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
