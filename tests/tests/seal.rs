//! Sealing (full chunks re-encoded into dense blocks in the background) under `kill -9`: the
//! server is killed again and again while it seals, at moments spread over a pass, and every
//! restart goes on where the last left off. Afterwards remote read, SAMPLES and streamed,
//! answers exactly the samples written: none lost, none twice, every value bit for bit; the
//! same after a clean stop.

use proto::prometheus as pb;
use std::time::Duration;
use tests::cluster::metric_value;
use tests::*;

const SERIES: usize = 2000;
/// Samples per series: eight full chunks of 120 and an open one.
const SAMPLES: i64 = 1000;
const SEALED: &str = "gemini_storage_sealed_samples_total";

/// Series `i`'s samples: a counter with decimal steps, with a staleness marker, +Inf, a NaN
/// with another payload and 0.1 + 0.2 here and there, 15 s apart from three days ago. (No
/// −0.0: protobuf leaves a double equal to 0 out, so remote write carries it as +0.0; the
/// storage tests keep its sign.)
fn samples(i: usize, t0: i64) -> Vec<(i64, f64)> {
    (0..SAMPLES)
        .map(|k| {
            let v = match (k + i as i64) % 101 {
                7 => f64::from_bits(0x7ff0_0000_0000_0002),
                8 => f64::from_bits(0x7ff8_0000_dead_beef),
                9 => f64::INFINITY,
                10 => 0.1 + 0.2,
                _ => 1e6 + i as f64 + k as f64 * 0.05,
            };
            (t0 + k * 15_000, v)
        })
        .collect()
}

fn labels(i: usize) -> [(String, String); 3] {
    [("__name__".into(), format!("sealed_{}", i % 10)), ("instance".into(), format!("host-{i}:9100")), ("job".into(), "node".into())]
}

/// The first series that differs, and how.
fn first_difference(expected: &Series, got: &Series) -> String {
    for (labels, want) in expected {
        let Some(have) = got.get(labels) else { return format!("{labels:?} missing") };
        if have != want {
            let at = (0..want.len().max(have.len())).find(|i| want.get(*i) != have.get(*i)).unwrap();
            return format!("{labels:?}: {} samples, {} written; first difference at {at}: {:?} read, {:?} written", have.len(), want.len(), have.get(at), want.get(at));
        }
    }
    format!("{} series read, {} written", got.len(), expected.len())
}

#[test]
fn sealing_killed_at_any_moment_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut g = Gemini::start(dir.path(), &[]);
    let t0 = (now_s() - 3 * 86_400) * 1000;
    let mut expected = Series::new();
    // 100 samples of every series per request, series by series in time order.
    for part in 0..(SAMPLES / 100) {
        let timeseries = (0..SERIES)
            .map(|i| {
                let l = labels(i);
                let pairs: Vec<(&str, &str)> = l.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
                series(&pairs, &samples(i, t0)[(part * 100) as usize..((part + 1) * 100) as usize])
            })
            .collect();
        let a = g.write("prometheus", &pb::WriteRequest { timeseries, metadata: vec![] });
        assert_eq!(a.status, 204, "{}", a.text());
    }
    for i in 0..SERIES {
        let mut key: Vec<(String, String)> = labels(i).to_vec();
        key.sort();
        expected.insert(key, samples(i, t0).iter().map(|(t, v)| (*t, v.to_bits())).collect());
    }

    // Killed at moments spread over a pass (a pass over these 16 000 chunks takes seconds, and
    // each restart begins one at once).
    let mut sealed_before_kills = Vec::new();
    for wait_ms in [300, 150, 250, 350, 450, 600, 800] {
        std::thread::sleep(Duration::from_millis(wait_ms));
        sealed_before_kills.push(metric_value(&g, SEALED).unwrap_or(0.0));
        g.kill9();
        g.restart();
    }
    eprintln!("samples sealed by each run before its kill -9: {sealed_before_kills:?}");
    assert!(sealed_before_kills.iter().filter(|s| **s > 0.0).count() >= 2, "the kills came while sealing ran: {sealed_before_kills:?}");

    // Let the last run finish what is left of its pass, then read everything back.
    wait_until("sealing settles", Duration::from_secs(60), || {
        let before = metric_value(&g, SEALED);
        std::thread::sleep(Duration::from_millis(1000));
        metric_value(&g, SEALED) == before
    });
    let all = || query_all(vec![matcher(2, "__name__", "sealed_.*")]);
    let got = g.read_samples("prometheus", all());
    assert_eq!(got.len(), SERIES);
    assert!(got == expected, "SAMPLES answer differs from what was written: {}", first_difference(&expected, &got));
    let streamed = g.read_streamed("prometheus", all());
    assert!(streamed == expected, "streamed answer differs from what was written: {}", first_difference(&expected, &streamed));
    // And after a clean stop, which seals the rest.
    assert_eq!(g.terminate(), Some(0));
    g.restart();
    assert!(g.read_streamed("prometheus", all()) == expected, "after a clean stop");
}
