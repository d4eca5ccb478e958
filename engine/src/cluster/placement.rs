//! Which nodes hold a series: rendezvous (highest random weight) hashing of the series'
//! stable hash over the peer names. Every node computes the same order from the same peer
//! list, and adding a node moves to it only the series it now wins (about 1/n of them).

/// SplitMix64's finalizer: a fast, well-mixed 64-bit hash of a 64-bit input.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The stable hash of a peer name.
pub fn peer_hash(name: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(name.as_bytes())
}

/// Peer indexes in the order that series `series_hash` prefers them: its first
/// replication-factor healthy ones hold it.
pub fn ranked(series_hash: u64, peer_hashes: &[u64]) -> Vec<usize> {
    let mut order: Vec<(u64, usize)> = peer_hashes.iter().enumerate().map(|(i, p)| (mix(series_hash ^ mix(*p)), i)).collect();
    order.sort_unstable_by(|a, b| b.cmp(a));
    order.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_pinned() {
        // Literals computed outside this code, in Python from the rule in this file's doc:
        // a peer's hash is xxh3_64 of its name (`xxhash.xxh3_64_intdigest`, PyPI's `xxhash`);
        // a series ranks peers by SplitMix64's finalizer of (series hash XOR finalizer of the
        // peer's hash), highest first. Changing any of these moves series between nodes.
        let names = ["gemini-0:8086", "gemini-1:8086", "gemini-2:8086", "gemini-3:8086"];
        let hashes = [0xacb6_fc98_252d_1a33u64, 0xd9ba_c982_2129_b629, 0xfd2a_0648_a038_7b06, 0xd1dd_a09d_e0ec_4886];
        for (name, hash) in names.iter().zip(hashes) {
            assert_eq!(peer_hash(name), hash, "{name}");
        }
        // series hash, its order over the first three peers, over all four. 0x85d6…5bb9 is
        // `up{job="node"}` (see `labels.rs`).
        let pinned: [(u64, [usize; 3], [usize; 4]); 8] = [
            (0, [2, 1, 0], [2, 1, 3, 0]),
            (1, [0, 1, 2], [0, 1, 3, 2]),
            (0xdead_beef, [0, 1, 2], [0, 3, 1, 2]),
            (0x85d6_66c2_8b44_5bb9, [2, 0, 1], [3, 2, 0, 1]),
            (u64::MAX, [2, 1, 0], [2, 1, 0, 3]),
            (0x0123_4567_89ab_cdef, [2, 0, 1], [3, 2, 0, 1]),
            (0xfedc_ba98_7654_3210, [1, 2, 0], [1, 3, 2, 0]),
            (1 << 63, [2, 1, 0], [2, 1, 3, 0]),
        ];
        for (series, three, four) in pinned {
            assert_eq!(ranked(series, &hashes[..3]), three, "series {series:#x} over three peers");
            assert_eq!(ranked(series, &hashes), four, "series {series:#x} over four peers");
        }
    }

    #[test]
    fn spreads_evenly_and_a_new_node_takes_only_its_share() {
        let names = |n: usize| (0..n).map(|i| peer_hash(&format!("gemini-{i}:8086"))).collect::<Vec<_>>();
        let (three, four) = (names(3), names(4));
        let mut per_node = [0usize; 3];
        let mut moved = 0;
        let series = 30_000u64;
        for s in 0..series {
            let h = mix(s.wrapping_add(12345));
            let before = ranked(h, &three);
            per_node[before[0]] += 1;
            let after = ranked(h, &four);
            if after[0] != before[0] {
                assert_eq!(after[0], 3, "a series only ever moves to the new node");
                moved += 1;
            }
            // The relative order of the old nodes does not change.
            assert_eq!(after.iter().filter(|i| **i < 3).copied().collect::<Vec<_>>(), before);
        }
        for n in per_node {
            assert!((9_000..11_000).contains(&n), "{per_node:?}");
        }
        assert!((6_500..8_500).contains(&moved), "a quarter moves: {moved}");
    }
}
