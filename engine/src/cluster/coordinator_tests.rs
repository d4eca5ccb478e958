//! The coordinator against the data interface without HTTP, on three nodes in one process
//! (`test_nodes`): writes with peers down or frozen, reads merging the nodes' copies, peers
//! failing or freezing in the middle of an answer, catalog exchanges and probes.

use super::*;
use crate::cluster::test_nodes::{assert_two_whole_copies, everything, held, listed, named, one_sample, series, written, Fixture, Samples};
use crate::cluster::Contact;
use crate::encoding::piece::StoredChunk;
use crate::storage::series_store::local_stream;

/// Writes `series(30)` through a; answers what was written.
async fn write_30(f: &Fixture) -> Samples {
    let writes = series(30);
    f.a.write("db", None, writes.clone(), &FieldPairs::new()).await.unwrap();
    written([writes.as_slice()])
}

#[actix_web::test]
async fn a_write_with_one_peer_down_gives_every_series_two_copies_elsewhere() {
    let f = Fixture::new(&["b:1"]);
    let writes = series(30);
    let want = written([writes.as_slice()]);
    let outcome = f.a.write("db", None, writes, &FieldPairs::new()).await.unwrap();
    assert_eq!((outcome.accepted, outcome.new_series, outcome.rejected), (60, 30, 0), "each series counted once");
    assert!(f.a.cluster.is_down("b:1"), "the peer that failed is marked down");
    assert!(held(&f).await[1].is_empty(), "nothing reached the down node");
    assert_two_whole_copies(&f, &want).await;
    // A read through a with b still down is complete: every series has a copy on a or c.
    let (read, left_out) = f.read(everything()).await.unwrap();
    assert_eq!(left_out, vec!["b:1".to_string()], "the read names the node it was made without");
    assert_eq!(read, listed(want.clone()), "each series once, whole, copies merged");
    let labels = f.a.series("db", Policies::One(None), everything().matchers).await.unwrap();
    assert_eq!(labels, want.into_keys().collect::<Vec<_>>());
}

#[actix_web::test]
async fn with_as_many_nodes_down_as_copies_writes_and_reads_fail_naming_them() {
    let f = Fixture::new(&["b:1", "c:1"]);
    let e = f.a.write("db", None, series(10), &FieldPairs::new()).await.unwrap_err();
    assert!(matches!(&e, Error::TooFewCopies { copies: 2, down } if *down == vec!["b:1".to_string(), "c:1".to_string()]), "{e:?}");
    assert_eq!(e.to_string(), "cannot store 2 copies of every series: unreachable peers b:1, c:1");
    let e = f.read(everything()).await.unwrap_err();
    assert_eq!(e.to_string(), "peers unreachable: b:1, c:1 (replication factor 2: the answer would be incomplete)");
}

#[actix_web::test]
async fn catalog_changes_reach_the_peers_and_a_node_that_was_down_catches_up() {
    let f = Fixture::new(&["c:1"]);
    let storage = f.a.storage().clone();
    let made: Result<(), Error> = f.a.change_catalog(async { Ok(storage.create_database("made_on_a", None)?) }).await;
    made.unwrap();
    let has = |i: usize| f.storages[i].databases().contains(&"made_on_a".to_string());
    assert!(has(1), "b took the change at once");
    assert!(!has(2), "c was down");
    // A database made on b alone comes to a at the next exchange, and both go to c once it is back.
    f.storages[1].create_database("made_on_b", None).unwrap();
    catalog_sync::record_local(&f.storages[1], "b:1", true).unwrap();
    assert!(!f.a.exchange().await, "c did not answer");
    assert!(f.storages[0].databases().contains(&"made_on_b".to_string()));
    f.bring_back("c:1");
    assert!(!f.a.cluster.is_down("c:1"), "a failed exchange does not mark a peer down");
    assert!(f.a.exchange().await);
    assert_eq!(f.storages[2].databases(), vec!["db", "made_on_a", "made_on_b"]);
}

#[actix_web::test]
async fn a_frozen_peer_costs_one_write_its_budget_and_later_requests_nothing() {
    let f = Fixture::new(&[]);
    f.freeze("b:1");
    let first = series(30);
    let outcome = f.a.write("db", None, first.clone(), &FieldPairs::new()).await.unwrap();
    assert_eq!((outcome.accepted, outcome.new_series), (60, 30));
    assert_eq!(f.asked("b:1"), ["write"], "b was asked once, for its share");
    assert_eq!(f.a.cluster.last_contact("b:1"), Some(Contact::Failed("no answer within 3 s".into())), "the write gave b up when its budget ran out");
    assert!(f.a.cluster.is_down("b:1"));
    // Later writes and reads pass the frozen node over without asking it, so none waits on it.
    let later = one_sample(3_000, 3.0);
    f.a.write("db", None, later.clone(), &FieldPairs::new()).await.unwrap();
    let (read, left_out) = f.read(everything()).await.unwrap();
    f.a.series("db", Policies::One(None), everything().matchers).await.unwrap();
    assert_eq!(f.asked("b:1"), ["write"], "b was not asked again");
    assert_eq!(left_out, vec!["b:1".to_string()]);
    let want = written([first.as_slice(), later.as_slice()]);
    assert_eq!(read, listed(want.clone()), "every series whole from a and c");
    assert_two_whole_copies(&f, &want).await;
}

#[actix_web::test]
async fn requests_waiting_on_a_peer_give_up_when_another_marks_it_down() {
    let f = Fixture::new(&[]);
    let want = write_30(&f).await;
    f.freeze("b:1");
    let (read, left_out) = f.read_marking_down("b:1").await.unwrap();
    assert_eq!(left_out, vec!["b:1".to_string()]);
    assert_eq!(f.a.cluster.last_contact("b:1"), Some(Contact::Failed("marked down while this request waited".into())), "the read gave b up when it was marked down, before its budget ran out");
    assert_eq!(read, listed(want), "whole from a and c");
}

#[actix_web::test]
async fn a_probe_brings_back_a_peer_that_answers_and_only_that_one() {
    let f = Fixture::new(&[]);
    f.a.cluster.mark_down("b:1");
    f.a.cluster.mark_down("c:1");
    f.freeze("c:1");
    f.a.probe_once().await;
    assert!(!f.a.cluster.is_down("b:1"), "b answers its ping");
    assert!(f.a.cluster.is_down("c:1"), "c is still frozen");
    assert_eq!(f.a.cluster.stats()["c:1"].probes, 1);
    assert_eq!((f.asked("b:1"), f.asked("c:1")), (vec!["ping"], vec!["ping"]));
    f.bring_back("c:1");
    f.a.probe_once().await;
    assert!(!f.a.cluster.is_down("c:1"));
}

/// Every sample of chunks, none cut off.
fn decoded(chunks: &[StoredChunk]) -> Vec<(i64, f64)> {
    let mut out = Vec::new();
    for c in chunks {
        c.each(|t, v| out.push((t, v))).expect("a chunk that decodes");
    }
    out
}

#[actix_web::test]
async fn copies_on_two_nodes_are_merged_one_sample_per_timestamp_the_first_node_winning() {
    let f = Fixture::new(&[]);
    // The same series on a and on c, both holding 2 000 and 3 000 (with other values on c),
    // each with a sample the other lacks; and 300 samples (three chunks) on b and c alike.
    f.put(0, &[("__name__", "m"), ("instance", "x")], &[(1_000, 1.0), (2_000, 2.0), (3_000, 3.0)]).await;
    f.put(2, &[("__name__", "m"), ("instance", "x")], &[(2_000, 20.0), (3_000, 30.0), (4_000, 4.0)]).await;
    let long: Vec<(i64, f64)> = (0..300).map(|i| (i * 1_000, i as f64)).collect();
    f.put(1, &[("__name__", "m"), ("instance", "y")], &long).await;
    f.put(2, &[("__name__", "m"), ("instance", "y")], &long).await;
    let (read, left_out) = f.read(named("m", i64::MIN, i64::MAX)).await.unwrap();
    assert!(left_out.is_empty());
    let instances: Vec<&str> = read.iter().map(|(l, _)| l.get("instance")).collect();
    assert_eq!(instances, vec!["x", "y"], "each series once");
    assert_eq!(read[0].1, vec![(1_000, 1.0), (2_000, 2.0), (3_000, 3.0), (4_000, 4.0)]);
    assert_eq!(read[1].1, long, "no sample twice");
}

#[actix_web::test]
async fn a_series_on_one_node_alone_passes_through_as_stored() {
    let f = Fixture::new(&[]);
    let samples: Vec<(i64, f64)> = (0..500).map(|i| (i * 15_000, (i % 7) as f64)).collect();
    f.put(1, &[("__name__", "m"), ("instance", "only-b")], &samples).await;
    // Sealed now, so that the background seal pass cannot change b's stored form between the
    // two reads below (it did under load: the first read saw XOR chunks, the second a block).
    f.storages[1].seal_all().await.unwrap();
    // A range inside the series: the chunks on its edges hold samples outside it.
    let range = || named("m", 1_000_000, 6_000_000);
    let mut on_b = local_stream(f.storages[1].clone(), "db", Policies::One(None), range()).await.unwrap();
    let (_, stored) = on_b.next_chunks().await.unwrap().unwrap();
    let pieces = f.pieces(range()).await.unwrap();
    assert_eq!(pieces.len(), 1);
    assert!(pieces[0].last && pieces[0].labels.get("instance") == "only-b");
    let bytes = |chunks: &[StoredChunk]| chunks.iter().map(|c| (c.min_t, c.max_t, c.data.clone())).collect::<Vec<_>>();
    assert_eq!(bytes(&pieces[0].chunks), bytes(&stored), "the chunks as b stores them");
    let passed = decoded(&pieces[0].chunks);
    assert!(passed.first().unwrap().0 < 1_000_000 && passed.last().unwrap().0 > 6_000_000, "not decoded and cut: {:?}", (passed.first(), passed.last()));
    assert!(samples.windows(passed.len()).any(|w| w == passed.as_slice()), "a run of the samples written");
}

#[actix_web::test]
async fn series_interleaved_across_the_nodes_come_once_each_in_label_order() {
    let f = Fixture::new(&[]);
    // 60 series, each on one node, on two or on all three, by its number; and two whose order
    // as label sets (the encoded bytes: "a" after "ab") is not the order of their label lists.
    let mut want = BTreeMap::new();
    for i in 0..60i64 {
        let instance = format!("host{i:02}");
        let on: &[usize] = match i % 5 {
            0 => &[0],
            1 => &[1],
            2 => &[2],
            3 => &[1, 2],
            _ => &[0, 1, 2],
        };
        for n in on {
            f.put(*n, &[("__name__", "m"), ("instance", &instance)], &[(i * 10, i as f64)]).await;
        }
        want.insert(Labels::from_sorted([("__name__", "m"), ("instance", instance.as_str())]), vec![(i * 10, i as f64)]);
    }
    for (n, name) in [(1, "a"), (2, "ab"), (0, "ab")] {
        f.put(n, &[("__name__", "m"), (name, "v")], &[(5, 5.0)]).await;
        want.insert(Labels::from_sorted([("__name__", "m"), (name, "v")]), vec![(5, 5.0)]);
    }
    let (read, _) = f.read(named("m", i64::MIN, i64::MAX)).await.unwrap();
    assert!(read.windows(2).all(|w| w[0].0 < w[1].0), "strictly in label order: {:?}", read.iter().map(|(l, _)| l).collect::<Vec<_>>());
    assert_eq!(read.into_iter().collect::<BTreeMap<_, _>>(), want);
}

#[actix_web::test]
async fn merged_copies_are_cut_to_the_range_and_series_without_a_sample_in_it_are_left_out() {
    let f = Fixture::new(&[]);
    let samples: Vec<(i64, f64)> = (0..100).map(|i| (i * 1_000, i as f64)).collect();
    // Copies that differ (b has one sample more) are merged; copies alike pass through.
    let mut more = samples.clone();
    more.insert(1, (500, 0.5));
    f.put(0, &[("__name__", "m"), ("instance", "differ")], &samples).await;
    f.put(1, &[("__name__", "m"), ("instance", "differ")], &more).await;
    f.put(0, &[("__name__", "m"), ("instance", "alike")], &samples).await;
    f.put(2, &[("__name__", "m"), ("instance", "alike")], &samples).await;
    // Samples on both sides of the range, none in it: one copy, then two that differ.
    let around = [(0, 1.0), (100_000, 2.0)];
    f.put(1, &[("__name__", "m"), ("instance", "around-one")], &around).await;
    f.put(0, &[("__name__", "m"), ("instance", "around-two")], &around).await;
    f.put(2, &[("__name__", "m"), ("instance", "around-two")], &[(0, 1.0), (100_000, 3.0)]).await;
    let pieces = f.pieces(named("m", 10_500, 50_500)).await.unwrap();
    let names: Vec<&str> = pieces.iter().map(|p| p.labels.get("instance")).collect();
    assert_eq!(names, vec!["alike", "differ"]);
    let alike = decoded(&pieces[0].chunks);
    assert!(alike.first().unwrap().0 < 10_500, "passed through as stored: {:?}", alike.first());
    assert_eq!(decoded(&pieces[1].chunks), samples[11..=50].to_vec(), "merged: no sample outside [10 500, 50 500]");
}

#[actix_web::test]
async fn a_peer_failing_in_the_middle_of_its_answer_fails_the_read_naming_it() {
    let f = Fixture::new(&[]);
    let want = write_30(&f).await;
    f.break_reads("b:1", 3, false);
    let e = f.read(everything()).await.unwrap_err();
    assert!(matches!(&e, Error::PeerFailed { peer, .. } if peer == "b:1"), "{e:?}");
    assert_eq!(e.to_string(), "peer b:1 failed in the middle of the read: connection reset by peer");
    assert!(f.a.cluster.is_down("b:1"), "marked down");
    // The next read passes it over and is whole from a and c.
    let (read, left_out) = f.read(everything()).await.unwrap();
    assert_eq!(left_out, vec!["b:1".to_string()]);
    assert_eq!(read, listed(want));
}

#[actix_web::test]
async fn a_peer_frozen_in_the_middle_of_its_answer_costs_the_read_its_budget_at_most() {
    let f = Fixture::new(&[]);
    write_30(&f).await;
    f.break_reads("c:1", 2, true);
    let asked = f.asked("c:1").len();
    let e = f.read(everything()).await.unwrap_err();
    // Given up once the wait on c ran its budget: c was asked once and stalled once.
    assert_eq!(e.to_string(), "peer c:1 failed in the middle of the read: no answer within 10 s");
    assert_eq!((&f.asked("c:1")[asked..], f.stalls("c:1")), (&["read"][..], 1));
    assert!(f.a.cluster.is_down("c:1"));
    // Back up and frozen again: another request marking it down ends the wait at once.
    f.a.cluster.mark_up("c:1");
    assert_eq!(f.read_marking_down("c:1").await.unwrap_err().to_string(), "peer c:1 failed in the middle of the read: marked down while this request waited");
}


/// Label names and values through any node come from every node's index (no read, no label
/// sets): whole with a node down, a range counted as one node counts it.
#[actix_web::test]
async fn label_names_and_values_come_from_every_nodes_index() {
    let f = Fixture::new(&["b:1"]);
    write_30(&f).await;
    let late = Labels::from_sorted([("__name__", "late"), ("zone", "eu")]);
    let write = SeriesWrite { hash: late.stable_hash(), labels: late, samples: vec![(5_000, 1.0)] };
    f.a.write("db", None, vec![write], &FieldPairs::new()).await.unwrap();
    let names = f.a.label_names("db", Policies::One(None), vec![], None).await.unwrap();
    assert_eq!(names, vec!["__name__", "instance", "zone"]);
    let instances = f.a.label_values("db", Policies::One(None), "instance", vec![], None).await.unwrap();
    let mut want: Vec<String> = (0..30).map(|i| format!("host{i}:9100")).collect();
    want.sort();
    assert_eq!(instances, want, "every series, though b is down");
    assert_eq!(f.a.label_names("db", Policies::One(None), vec![], Some((3_000, 6_000))).await.unwrap(), vec!["__name__", "zone"]);
    let up = vec![Matcher::new(crate::index::matcher::MatchKind::Equal, "__name__", "up").unwrap()];
    assert_eq!(f.a.label_values("db", Policies::One(None), "__name__", up, Some((0, 2_000))).await.unwrap(), vec!["up"]);
    let asked = f.asked("c:1");
    assert!(asked.contains(&"labels") && !asked.contains(&"series") && !asked.contains(&"read"), "{asked:?}");
}
