//! Key layouts of the shard column families, and the layouts of the values that are not
//! opaque (a stored full chunk, a log entry): their `encode_*`/`decode_*` are here and nowhere
//! else. All integers in keys are big-endian so RocksDB's byte order is numeric order; signed
//! timestamps have their sign bit flipped for the same reason. Everything of one retention
//! policy starts with its id, so dropping a policy is one range delete per column family;
//! chunk keys put the time partition right after it, so expiring old data is a range delete
//! too.

use super::{Error, PolicyId};

const HOUR_MS: i64 = 3_600_000;

/// A time partition of chunks: whole hours `[start, end)`, each offset by 2^31 so that order
/// holds for negative times (the absurd timestamps beyond 245 000 years from 1970 share the
/// edge hours). Its length is the retention policy's shard duration when it was opened; a
/// policy's partitions may have several lengths after `ALTER … SHARD DURATION`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Partition {
    pub start: u32,
    pub end: u32,
}

fn hour_floor(t: i64) -> u32 {
    (t.div_euclid(HOUR_MS) + (1 << 31)).clamp(0, u32::MAX as i64) as u32
}

fn hour_ceil(t: i64) -> u32 {
    let h = t.div_euclid(HOUR_MS) + (t.rem_euclid(HOUR_MS) != 0) as i64;
    (h + (1 << 31)).clamp(0, u32::MAX as i64) as u32
}

/// The first millisecond of an hour boundary; the edge hours reach the ends of time.
pub fn hour_ms(h: u32) -> i64 {
    match h {
        0 => i64::MIN,
        u32::MAX => i64::MAX,
        h => (h as i64 - (1 << 31)) * HOUR_MS,
    }
}

impl Partition {
    /// The partition of `t` for partitions of `length_ms` aligned on the epoch.
    pub fn of(t: i64, length_ms: i64) -> Partition {
        let start = t.div_euclid(length_ms).saturating_mul(length_ms);
        let first = hour_floor(start).min(u32::MAX - 1);
        Partition { start: first, end: hour_ceil(start.saturating_add(length_ms)).max(first + 1) }
    }

    /// Stretches the end so that the partition holds time `t` (a chunk begun under a longer
    /// shard duration than the current one).
    pub fn reaching(self, t: i64) -> Partition {
        Partition { end: self.end.max(hour_ceil(t.saturating_add(1))), ..self }
    }

    pub fn overlaps(&self, min_t: i64, max_t: i64) -> bool {
        hour_ms(self.start) <= max_t && (self.end == u32::MAX || hour_ms(self.end) > min_t)
    }

    pub fn contains(&self, t: i64) -> bool {
        self.overlaps(t, t)
    }

    /// Whether every time in the partition is before `t`.
    pub fn before(&self, t: i64) -> bool {
        self.end != u32::MAX && hour_ms(self.end) <= t
    }
}

pub fn flip(t: i64) -> [u8; 8] {
    ((t as u64) ^ (1 << 63)).to_be_bytes()
}

pub fn unflip(b: &[u8]) -> i64 {
    (u64::from_be_bytes(b[..8].try_into().unwrap()) ^ (1 << 63)) as i64
}

pub fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_be_bytes(b[at..at + 8].try_into().unwrap())
}

pub fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap())
}

/// `[policy]`: the prefix of everything of a retention policy.
pub fn policy_prefix(policy: PolicyId) -> [u8; 4] {
    policy.to_be_bytes()
}

/// The exclusive end of a retention policy's key range.
pub fn policy_end(policy: PolicyId) -> Vec<u8> {
    match policy.checked_add(1) {
        Some(next) => next.to_be_bytes().to_vec(),
        None => vec![0xff; 5],
    }
}

/// Series table and head snapshots: `[policy][series id]`.
pub fn series_key(policy: PolicyId, id: u64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&policy.to_be_bytes());
    k[4..].copy_from_slice(&id.to_be_bytes());
    k
}

/// Inverted index: `[policy][name 0xff value 0xff][series id]`, value empty.
pub fn posting_key(policy: PolicyId, name: &str, value: &str, id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + name.len() + value.len() + 10);
    k.extend_from_slice(&policy.to_be_bytes());
    k.extend_from_slice(name.as_bytes());
    k.push(0xff);
    k.extend_from_slice(value.as_bytes());
    k.push(0xff);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// Splits a posting key into (policy, name, value, id).
pub fn parse_posting_key(k: &[u8]) -> Option<(PolicyId, &str, &str, u64)> {
    if k.len() < 4 + 2 + 8 {
        return None;
    }
    let policy = u32_at(k, 0);
    let id = u64_at(k, k.len() - 8);
    let mid = &k[4..k.len() - 8];
    let sep = mid.iter().position(|b| *b == 0xff)?;
    let name = std::str::from_utf8(&mid[..sep]).ok()?;
    let value = std::str::from_utf8(mid[sep + 1..].strip_suffix(&[0xff])?).ok()?;
    Some((policy, name, value, id))
}

/// Full chunks: `[policy][partition start][partition end][series id][min time]`; the value is
/// `[max time][xor bytes]` (see `encode_chunk_value`).
pub fn chunk_key(policy: PolicyId, p: Partition, id: u64, min_t: i64) -> [u8; 28] {
    let mut k = [0u8; 28];
    k[..20].copy_from_slice(&chunk_prefix(policy, p, id));
    k[20..].copy_from_slice(&flip(min_t));
    k
}

/// The prefix of one series' chunks in one partition.
pub fn chunk_prefix(policy: PolicyId, p: Partition, id: u64) -> [u8; 20] {
    let mut k = [0u8; 20];
    k[..12].copy_from_slice(&partition_prefix(policy, p));
    k[12..].copy_from_slice(&id.to_be_bytes());
    k
}

/// The prefix of a whole partition's chunks.
pub fn partition_prefix(policy: PolicyId, p: Partition) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&policy.to_be_bytes());
    k[4..8].copy_from_slice(&p.start.to_be_bytes());
    k[8..].copy_from_slice(&p.end.to_be_bytes());
    k
}

/// The partition of a chunk key (or of a partition prefix).
pub fn partition_at(k: &[u8]) -> Partition {
    Partition { start: u32_at(k, 4), end: u32_at(k, 8) }
}

/// The smallest key after every key that starts with `prefix` (None: there is none).
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The key of a shard's next series id in its series column family: policy id 0 is never
/// allocated and a series key is longer, so it collides with nothing.
pub const NEXT_SERIES_ID: [u8; 4] = [0; 4];

/// The earliest time a series may hold a sample at, in the series family right after the
/// series' own entry: `[policy][series id][b'<']` → big-endian milliseconds. Series stored
/// before this key existed have none (their earliest time is unknown).
pub fn first_time_key(policy: PolicyId, id: u64) -> [u8; 13] {
    let mut k = [b'<'; 13];
    k[..12].copy_from_slice(&series_key(policy, id));
    k
}

/// A shard's partition length for a policy, in its head column family beside the open
/// chunks (which are `[policy][series id]`): `[policy]` → milliseconds.
pub fn partition_length_key(policy: PolicyId) -> [u8; 4] {
    policy.to_be_bytes()
}

/// Write-ahead sample log: `[sequence]`.
pub fn log_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// A full chunk as stored in `chunks`: `[max time, big-endian i64][XOR chunk bytes]` (its
/// min time is in the key).
pub fn encode_chunk_value(max_t: i64, xor: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(8 + xor.len());
    v.extend_from_slice(&max_t.to_be_bytes());
    v.extend_from_slice(xor);
    v
}

/// A stored full chunk's max time and XOR chunk bytes.
pub fn decode_chunk_value(v: &[u8]) -> Result<(i64, &[u8]), Error> {
    match v.split_first_chunk::<8>() {
        Some((max_t, xor)) => Ok((i64::from_be_bytes(*max_t), xor)),
        None => Err(Error::Corrupt(format!("chunk value of {} bytes", v.len()))),
    }
}

/// The bytes of one sample in a log entry: `[series id u64][t i64][value bits u64]`, each
/// little-endian; an entry is any number of them.
pub const LOG_RECORD_BYTES: usize = 24;

/// Appends one sample to a log entry.
pub fn encode_log_record(entry: &mut Vec<u8>, id: u64, t: i64, value: f64) {
    entry.extend_from_slice(&id.to_le_bytes());
    entry.extend_from_slice(&t.to_le_bytes());
    entry.extend_from_slice(&value.to_bits().to_le_bytes());
}

/// The samples of a log entry, (series id, t, value) in the order written.
pub fn decode_log(entry: &[u8]) -> Result<impl Iterator<Item = (u64, i64, f64)> + '_, Error> {
    if entry.len() % LOG_RECORD_BYTES != 0 {
        return Err(Error::Corrupt(format!("log entry of {} bytes, not whole samples of {LOG_RECORD_BYTES}", entry.len())));
    }
    Ok(entry.chunks_exact(LOG_RECORD_BYTES).map(|r| {
        let field = |at: usize| u64::from_le_bytes(r[at..at + 8].try_into().expect("8 bytes"));
        (field(0), field(8) as i64, f64::from_bits(field(16)))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_order_is_byte_order() {
        let ts = [i64::MIN, -1, 0, 1, 1_700_000_000_000, i64::MAX];
        for w in ts.windows(2) {
            assert!(flip(w[0]) < flip(w[1]));
            assert!(Partition::of(w[0], HOUR_MS) <= Partition::of(w[1], HOUR_MS));
            assert_eq!(unflip(&flip(w[0])), w[0]);
        }
        let (a, b) = (Partition { start: 5, end: 6 }, Partition { start: 6, end: 7 });
        assert!(chunk_key(1, a, 9, i64::MAX) < chunk_key(1, b, 0, i64::MIN));
        assert_eq!(partition_at(&chunk_key(1, a, 9, 0)), a);
    }

    #[test]
    fn partitions_hold_their_times() {
        let day = 24 * HOUR_MS;
        for t in [i64::MIN, -1, 0, 1, 1_700_000_000_123, i64::MAX] {
            for length in [HOUR_MS, 90 * 60_000, day, 7 * day] {
                let p = Partition::of(t, length);
                assert!(p.start < p.end, "{t} {length}");
                assert!(p.contains(t), "{t} {length} {p:?}");
            }
        }
        let p = Partition::of(day + 5, day);
        assert_eq!((hour_ms(p.start), hour_ms(p.end)), (day, 2 * day));
        assert!(p.before(2 * day) && !p.before(2 * day - 1));
        assert_eq!(hour_ms(Partition::of(5, HOUR_MS).reaching(2 * HOUR_MS).end), 3 * HOUR_MS);
        assert_eq!(prefix_end(&[1, 0xff]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xff]), None);
    }

    #[test]
    fn posting_keys_round_trip() {
        let k = posting_key(7, "job", "node", 42);
        assert_eq!(parse_posting_key(&k), Some((7, "job", "node", 42)));
        let k = posting_key(7, "x", "", 1);
        assert_eq!(parse_posting_key(&k), Some((7, "x", "", 1)));
    }

    #[test]
    fn chunk_values_round_trip_in_their_layout() {
        let v = encode_chunk_value(0x0102_0304_0506_0708, &[0xaa, 0xbb]);
        assert_eq!(v, [1, 2, 3, 4, 5, 6, 7, 8, 0xaa, 0xbb], "the stored layout changed");
        assert_eq!(decode_chunk_value(&v).unwrap(), (0x0102_0304_0506_0708, [0xaa, 0xbb].as_slice()));
        for max_t in [i64::MIN, -1, 0, 1_700_000_000_000, i64::MAX] {
            assert_eq!(decode_chunk_value(&encode_chunk_value(max_t, b"xor")).unwrap(), (max_t, b"xor".as_slice()));
        }
        assert_eq!(decode_chunk_value(&encode_chunk_value(-2, &[])).unwrap(), (-2, [].as_slice()));
    }

    #[test]
    fn short_chunk_values_are_errors() {
        for short in [&[][..], &[1, 2, 3, 4, 5, 6, 7]] {
            let e = decode_chunk_value(short).unwrap_err();
            assert!(matches!(e, Error::Corrupt(_)), "{e:?}");
        }
    }

    #[test]
    fn log_records_round_trip_in_their_layout() {
        let mut entry = Vec::new();
        encode_log_record(&mut entry, 0x0102_0304_0506_0708, -1, 1.0);
        #[rustfmt::skip]
        let pinned = [
            8, 7, 6, 5, 4, 3, 2, 1,
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0, 0, 0, 0, 0, 0, 0xf0, 0x3f,
        ];
        assert_eq!(entry, pinned, "the log layout changed");
        let samples = [(7, i64::MIN, f64::MIN_POSITIVE), (u64::MAX, i64::MAX, -0.0), (0, 0, f64::from_bits(0x7ff8_0000_0000_0001))];
        for (id, t, v) in samples {
            encode_log_record(&mut entry, id, t, v);
        }
        assert_eq!(entry.len(), 4 * LOG_RECORD_BYTES);
        let back: Vec<(u64, i64, u64)> = decode_log(&entry).unwrap().map(|(id, t, v)| (id, t, v.to_bits())).collect();
        let mut want = vec![(0x0102_0304_0506_0708, -1, 1.0f64.to_bits())];
        want.extend(samples.iter().map(|(id, t, v)| (*id, *t, v.to_bits())));
        assert_eq!(back, want, "values bit for bit, NaN payloads too");
        assert_eq!(decode_log(&[]).unwrap().count(), 0);
    }

    #[test]
    fn log_entries_of_partial_samples_are_errors() {
        let mut entry = Vec::new();
        encode_log_record(&mut entry, 1, 2, 3.0);
        for cut in [1, 8, 23, 25, 47] {
            let mut bad = entry.repeat(2);
            bad.truncate(cut);
            let e = decode_log(&bad).err().expect("an error");
            assert!(matches!(e, Error::Corrupt(_)), "{e:?}");
        }
    }
}
