//! The XOR chunk's edge cases end to end: timestamps whose delta-of-delta sits on each side of
//! every bucket boundary (0, 14, 17, 20 and 64 bits) and values that take each XOR path
//! (same value, a 64-bit-wide XOR, a leading-zero count clamped to 31, a reused window,
//! NaNs, infinities, zero, subnormals) go in by remote write and come back as a
//! streamed chunk that `tests::xor`, the decoder written apart from the engine's, reads
//! bit for bit. The engine's own chunk tests run the same decoder over its encoder output.

use proto::prometheus as pb;
use tests::*;

const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

/// Timestamps in strictly increasing order (the server refuses others) whose
/// delta-of-deltas are each bucket's edges, from both sides. Prometheus' buckets: 0, then
/// -8191..=8192 (14 bits), -65535..=65536 (17), -524287..=524288 (20), else 64 bits.
fn timestamps() -> Vec<i64> {
    let dods = [0, 8192, -8191, 8193, -8192, 65536, -65535, 65537, -65536, 524288, -524287, 524289, -524288, 1 << 33, -(1 << 33), 0];
    let (mut t, mut delta) = (1_000_000_000_000i64, 1000i64);
    let mut out = vec![t, t + delta];
    t += delta;
    for dod in dods {
        delta += dod;
        assert!(delta > 0, "the timestamps must increase");
        t += delta;
        out.push(t);
    }
    out
}

fn values() -> Vec<f64> {
    let one = 1.0f64;
    let wide = f64::from_bits(one.to_bits() ^ u64::MAX); // XOR of 64 significant bits
    let narrow = f64::from_bits(wide.to_bits() ^ 1); // 63 leading zeros: clamped to 31
    let reuse = f64::from_bits(narrow.to_bits() ^ 2); // fits the window before
    vec![
        one,
        one, // same value: one bit
        wide,
        narrow,
        reuse,
        f64::NAN,
        f64::from_bits(STALE_NAN),
        f64::INFINITY,
        f64::NEG_INFINITY,
        // Not -0.0: remote write's protobuf omits a double equal to 0 (prost here, and
        // Prometheus' own client), so -0.0 arrives as 0.0. The engine's chunk tests cover it.
        f64::from_bits(1 << 63 | 1), // the sign bit and the smallest subnormal
        0.0,
        f64::MIN_POSITIVE,
        f64::from_bits(1), // the smallest subnormal
        f64::MAX,
        0.1,
        0.1 + 0.2,
        1e300,
        -1e-300,
    ]
}

#[test]
fn boundary_timestamps_and_values_come_back_bit_for_bit_through_the_independent_decoder() {
    let (ts, vs) = (timestamps(), values());
    assert_eq!(ts.len(), vs.len());
    assert!(ts.len() < 120, "one chunk holds them all");
    let dir = tempfile::tempdir().unwrap();
    let g = Gemini::start(dir.path(), &[]);
    // One time partition for all of them (the 2^33 ms jumps span about 200 days): the chunk is
    // not cut, so every delta-of-delta is encoded inside it.
    let created = g.query("CREATE DATABASE xor_edges WITH DURATION INF SHARD DURATION 5200w");
    assert!(created["results"][0].get("error").is_none(), "{created}");
    let samples: Vec<(i64, f64)> = ts.iter().copied().zip(vs.iter().copied()).collect();
    let req = pb::WriteRequest { timeseries: vec![series(&[("__name__", "edges")], &samples)], metadata: vec![] };
    let a = g.write("xor_edges", &req);
    assert_eq!(a.status, 204, "{}", a.text());
    let want: Vec<(i64, u64)> = samples.iter().map(|(t, v)| (*t, v.to_bits())).collect();

    let query = query_all(vec![matcher(0, "__name__", "edges")]);
    let a = g.read("xor_edges", &pb::ReadRequest { queries: vec![query.clone()], accepted_response_types: vec![1] });
    let frames = decode_frames(&a.body);
    let chunked: Vec<&pb::ChunkedSeries> = frames.iter().flat_map(|f| &f.chunked_series).collect();
    assert_eq!(chunked.len(), 1, "one series");
    let chunks = &chunked[0].chunks;
    assert_eq!(chunks.len(), 1, "all samples in one chunk");
    let c = &chunks[0];
    assert_eq!(c.r#type, pb::chunk::Encoding::Xor as i32);
    assert_eq!((c.min_time_ms, c.max_time_ms), (ts[0], *ts.last().unwrap()));
    assert_eq!(u16::from_be_bytes([c.data[0], c.data[1]]) as usize, samples.len(), "the chunk's sample count");
    assert_eq!(xor::decode(&c.data), want, "the independent decoder reads what was written");

    // The engine's own decoder, behind a SAMPLES read, agrees.
    let got = g.read_samples("xor_edges", query);
    assert_eq!(got.values().next(), Some(&want));
}
