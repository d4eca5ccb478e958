//! Key layouts of the shard column families. All integers are big-endian so RocksDB's byte
//! order is numeric order; signed timestamps have their sign bit flipped for the same reason.
//! Everything of one database starts with its id, so dropping a database is one range
//! delete per column family; chunk keys put the time partition right after it, so expiring
//! old data is a range delete too.

/// Chunks are grouped in partitions of this many milliseconds (one day).
pub const PARTITION_MS: i64 = 86_400_000;

/// Day number offset by 2^31 so that order holds for negative times; the absurd timestamps
/// beyond about 5.8 million years from 1970 share the two edge partitions.
pub fn partition_of(t: i64) -> u32 {
    (t.div_euclid(PARTITION_MS) + (1 << 31)).clamp(0, u32::MAX as i64) as u32
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

/// `[db]`: the prefix of everything of a database.
pub fn db_prefix(db: u32) -> [u8; 4] {
    db.to_be_bytes()
}

/// The exclusive end of a database's key range.
pub fn db_end(db: u32) -> Vec<u8> {
    match db.checked_add(1) {
        Some(next) => next.to_be_bytes().to_vec(),
        None => vec![0xff; 5],
    }
}

/// Series table and head snapshots: `[db][series id]`.
pub fn series_key(db: u32, id: u64) -> [u8; 12] {
    let mut k = [0u8; 12];
    k[..4].copy_from_slice(&db.to_be_bytes());
    k[4..].copy_from_slice(&id.to_be_bytes());
    k
}

/// Inverted index: `[db][name 0xff value 0xff][series id]`, value empty.
pub fn posting_key(db: u32, name: &str, value: &str, id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(4 + name.len() + value.len() + 10);
    k.extend_from_slice(&db.to_be_bytes());
    k.extend_from_slice(name.as_bytes());
    k.push(0xff);
    k.extend_from_slice(value.as_bytes());
    k.push(0xff);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

/// Splits a posting key into (db, name, value, id).
pub fn parse_posting_key(k: &[u8]) -> Option<(u32, &str, &str, u64)> {
    if k.len() < 4 + 2 + 8 {
        return None;
    }
    let db = u32_at(k, 0);
    let id = u64_at(k, k.len() - 8);
    let mid = &k[4..k.len() - 8];
    let sep = mid.iter().position(|b| *b == 0xff)?;
    let name = std::str::from_utf8(&mid[..sep]).ok()?;
    let value = std::str::from_utf8(mid[sep + 1..].strip_suffix(&[0xff])?).ok()?;
    Some((db, name, value, id))
}

/// Full chunks: `[db][partition][series id][min time]`; the value is `[max time][xor bytes]`.
pub fn chunk_key(db: u32, partition: u32, id: u64, min_t: i64) -> [u8; 24] {
    let mut k = [0u8; 24];
    k[..4].copy_from_slice(&db.to_be_bytes());
    k[4..8].copy_from_slice(&partition.to_be_bytes());
    k[8..16].copy_from_slice(&id.to_be_bytes());
    k[16..].copy_from_slice(&flip(min_t));
    k
}

/// The prefix of one series' chunks in one partition.
pub fn chunk_prefix(db: u32, partition: u32, id: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k.copy_from_slice(&chunk_key(db, partition, id, 0)[..16]);
    k
}

/// Write-ahead sample log: `[sequence]`.
pub fn log_key(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_order_is_byte_order() {
        let ts = [i64::MIN, -1, 0, 1, 1_700_000_000_000, i64::MAX];
        for w in ts.windows(2) {
            assert!(flip(w[0]) < flip(w[1]));
            assert!(partition_of(w[0]) <= partition_of(w[1]));
            assert_eq!(unflip(&flip(w[0])), w[0]);
        }
        assert!(chunk_key(1, 5, 9, i64::MAX) < chunk_key(1, 6, 0, i64::MIN));
    }

    #[test]
    fn posting_keys_round_trip() {
        let k = posting_key(7, "job", "node", 42);
        assert_eq!(parse_posting_key(&k), Some((7, "job", "node", 42)));
        let k = posting_key(7, "x", "", 1);
        assert_eq!(parse_posting_key(&k), Some((7, "x", "", 1)));
    }
}
