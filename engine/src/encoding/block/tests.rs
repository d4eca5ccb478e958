//! The block codec's tests: round trips bit for bit (property tests over every kind of
//! series and value), corrupt input, density limits and a pinned block.

use super::*;
use proptest::prelude::*;

const STALE: u64 = 0x7ff0_0000_0000_0002;
const T0: i64 = 1_700_000_000_000;

/// Encodes, decodes (both ways) and compares bit for bit.
fn round_trip(samples: &[(i64, f64)]) -> Vec<u8> {
    let block = encode(samples);
    let back = decode(&block).unwrap_or_else(|e| panic!("{e} decoding {block:?}"));
    assert_eq!(back.len(), samples.len());
    for (i, (a, b)) in samples.iter().zip(&back).enumerate() {
        assert!(a.0 == b.0 && a.1.to_bits() == b.1.to_bits(), "sample {i}: {a:?} came back as {b:?}");
    }
    let mut each = Vec::new();
    decode_each(&block, |t, v| each.push((t, v.to_bits()))).unwrap();
    assert_eq!(each, back.iter().map(|s| (s.0, s.1.to_bits())).collect::<Vec<_>>());
    block
}

fn scrapes(values: impl IntoIterator<Item = f64>) -> Vec<(i64, f64)> {
    values
        .into_iter()
        .enumerate()
        .map(|(i, v)| (T0 + i as i64 * 15_000 + (i as i64 * 7 % 3 == 0) as i64, v))
        .collect()
}

/// Values that are not decimals, or not even numbers, each alone and in a counter.
const SPECIALS: [f64; 14] = [
    f64::NAN,
    f64::INFINITY,
    f64::NEG_INFINITY,
    -0.0,
    0.0,
    5e-324,
    -2.2250738585072e-308,
    f64::MAX,
    f64::MIN_POSITIVE,
    1e300,
    9_007_199_254_740_993.0,
    0.30000000000000004,
    1e-22,
    -1.5e-7,
];

#[test]
fn specials_round_trip() {
    let nan_payloads =
        [STALE, 0x7ff8_0000_0000_0001, 0xfff8_0000_0000_0000, 0x7fff_ffff_ffff_ffff, 0xfff0_0000_0000_0001];
    let mut all: Vec<f64> = SPECIALS.to_vec();
    all.extend(nan_payloads.map(f64::from_bits));
    for &v in &all {
        round_trip(&[(T0, v)]);
        round_trip(&scrapes([v; 10]));
        // Inside a decimal counter: the exceptions must not disturb their neighbours.
        round_trip(&scrapes((0..300).map(|i| if i % 37 == 5 { v } else { 1000.25 + i as f64 * 1.5 })));
    }
    round_trip(&scrapes(all.iter().copied().cycle().take(200)));
    round_trip(&scrapes((0..100).map(|i| if i % 2 == 0 { 0.0 } else { -0.0 })));
}

#[test]
fn edge_sizes_and_timestamps() {
    assert_eq!(round_trip(&[]), vec![VERSION, 0]);
    round_trip(&[(i64::MIN, 1.0)]);
    round_trip(&[(i64::MIN, 1.0), (i64::MAX, 2.0)]);
    round_trip(&[(-5, 1.0), (0, f64::NAN), (i64::MAX, -0.0)]);
    round_trip(&(0..1000).map(|i| (i64::MIN + i * i * 977, i as f64)).collect::<Vec<_>>());
    let most: Vec<(i64, f64)> = (0..MAX_SAMPLES as i64).map(|i| (i * 1000, (i % 7) as f64 * 0.5)).collect();
    round_trip(&most);
}

#[test]
#[should_panic(expected = "at most")]
fn too_many_samples_panics() {
    encode(&vec![(0, 0.0); MAX_SAMPLES + 1]);
}

/// node_exporter-like series must stay small: a change that loses the decimal or packing
/// paths shows up here.
#[test]
fn typical_series_are_dense() {
    let constant = round_trip(&scrapes([1_699_000_000.0; 480]));
    assert!(constant.len() <= 80, "constant: {} bytes", constant.len());
    // CPU seconds as /proc/stat gives them: ticks / 100.
    let mut ticks = 123_456_789u64;
    let cpu = round_trip(&scrapes((0..480).map(|i| {
        ticks += 1000 + (i * 7919 % 500);
        ticks as f64 / 100.0
    })));
    assert!(cpu.len() <= 80 + 480 * 9 / 8, "cpu counter: {} bytes", cpu.len());
    // A counter reset and a missed scrape cost a few patches, not a wider packing.
    let mut reset = scrapes((0..480).map(|i| ((i % 300) * 1000) as f64));
    reset.remove(200);
    let reset = round_trip(&reset);
    assert!(reset.len() <= 120, "counter with a reset: {} bytes", reset.len());
}

#[test]
fn pinned_format() {
    let samples = [(T0, 1.5), (T0 + 15_000, 2.25), (T0 + 30_001, 3.0), (T0 + 45_000, f64::from_bits(STALE))];
    let block = round_trip(&samples);
    #[rustfmt::skip]
    let expected = [
        1, 4, 4,                        // version, 4 samples, decimal ÷10^k with corrections
        128, 160, 171, 254, 249, 98,    // timestamps: T0
        5, 2, 174, 234, 1, 9,           //   deltas, fixed: width 2, base 14999; 1, 2, 0
        2,                              // k = 2
        172, 2,                         // mantissas: 150
        5, 129, 0, 75, 3,               //   deltas, fixed: width 1, base 0, gcd 75; 1, 1, 0
        0,                              // corrections: 0
        12, 4,                          //   as they are, bitmap: the 3rd is not zero
        0, 132, 128, 128, 128, 128, 128, 128, 232, 127, // width 0, base: stale − 3.0
    ];
    assert_eq!(block, expected);
}

#[test]
fn truncations_and_flips_never_panic() {
    let mut blocks = vec![
        encode(&scrapes((0..200).map(|i| 100.0 + i as f64 * 0.25))),
        encode(&scrapes(SPECIALS.iter().copied().cycle().take(150))),
        encode(&scrapes(
            (0..300).map(|i| if i % 50 == 3 { f64::from_bits(STALE) } else { (i * i) as f64 / 1000.0 }),
        )),
        encode(&scrapes((0..100).map(|i| if i % 40 == 0 { 5.0 } else { 0.0 }))),
        encode(&[(T0, 2.5)]),
    ];
    let mut reset = scrapes((0..480).map(|i| ((i % 300) * 1000) as f64));
    reset.remove(200);
    blocks.push(encode(&reset));
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    for block in &blocks {
        for len in 0..block.len() {
            assert!(decode(&block[..len]).is_err(), "truncated to {len} bytes of {}", block.len());
        }
        for _ in 0..2000 {
            let mut bad = block.clone();
            for _ in 0..1 + rng % 3 {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                let i = (rng >> 8) as usize % bad.len();
                bad[i] ^= 1 << (rng % 8);
            }
            let _ = decode(&bad);
        }
    }
}

#[test]
fn errors_name_the_problem() {
    let block = encode(&scrapes([1.0, 2.0, 3.0]));
    assert_eq!(decode(&[]), Err(BlockError::Truncated("version")));
    assert_eq!(decode(&[9, 0]), Err(BlockError::Version(9)));
    assert_eq!(decode(&[1, 0x81, 0x80, 0x04]), Err(BlockError::TooManySamples(65537)));
    assert_eq!(decode(&[1, 0, 0]), Err(BlockError::Trailing(1)));
    assert_eq!(decode(&block[..block.len() - 1]), Err(BlockError::Truncated("values")));
    assert_eq!(decode(&[1, 1, 0x43]), Err(BlockError::Invalid("flags")));
    let mut long = block.clone();
    long.push(0);
    assert_eq!(decode(&long), Err(BlockError::Trailing(1)));
}

/// Series of every kind that sealed data can hold.
fn series() -> impl Strategy<Value = Vec<(i64, f64)>> {
    let special = prop::sample::select(SPECIALS.to_vec());
    let nan = any::<u64>().prop_map(|p| f64::from_bits(0x7ff0_0000_0000_0001 | p));
    let raw = any::<u64>().prop_map(f64::from_bits);
    let decimal = (any::<i32>(), 0..10i32).prop_map(|(m, k)| m as f64 / 10f64.powi(k));
    let near_2_53 = (-4i64..4).prop_map(|d| ((1i64 << 53) + d) as f64);
    let value = prop_oneof![4 => decimal, 2 => raw, 1 => special, 1 => nan, 1 => near_2_53];
    // Counters and gauges: a start, steps of one scale, now and then an odd value.
    let walk = (
        any::<i32>(),
        0..6i32,
        0u32..40,
        prop::collection::vec((0i64..5000, 0u8..100, value.clone()), 0..600),
        any::<bool>(),
    )
        .prop_map(|(start, k, spread, steps, gauge)| {
            let scale = 10f64.powi(k);
            let mut m = start as i64;
            steps
                .into_iter()
                .map(|(step, odd, v)| {
                    m += if gauge { step - 2500 } else { step } >> (spread % 13);
                    if odd < 3 { v } else { m as f64 / scale }
                })
                .collect::<Vec<f64>>()
        });
    let constant = (value.clone(), 0..600usize).prop_map(|(v, n)| vec![v; n]);
    let mixed = prop::collection::vec(value, 0..300);
    let values = prop_oneof![walk, constant, mixed];
    // Timestamps: regular scrapes with jitter and gaps, or anything increasing, from anywhere.
    let start = prop_oneof![Just(T0), any::<i64>().prop_map(|t| t / 2), Just(i64::MIN), Just(-1i64)];
    let steps = prop_oneof![
        Just(vec![15_000i64]),
        prop::collection::vec(prop_oneof![8 => 14_999i64..15_002, 1 => 15_000i64..100_000], 1..50),
        prop::collection::vec(1i64..1 << 40, 1..50),
    ];
    (start, steps, values).prop_map(|(start, steps, values)| {
        let mut t = start;
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| {
                let s = (t, v);
                t = t.wrapping_add(steps[i % steps.len()]);
                s
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_series_round_trips(samples in series()) {
        round_trip(&samples);
    }

    #[test]
    fn any_bytes_decode_without_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode(&bytes);
        let mut with_header = vec![VERSION, 60];
        with_header.extend_from_slice(&bytes);
        let _ = decode(&with_header);
    }
}
