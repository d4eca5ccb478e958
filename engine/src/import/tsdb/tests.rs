//! A tiny block written by hand, byte by byte as `tsdb/docs/format/{index,chunks,tombstones}.md`
//! lay them out (with their own varint and checksum code, not the reader's), then read back:
//! labels, samples, tombstones, histogram chunks skipped; a damaged chunk, an unknown index
//! version and a directory without blocks give errors that say where.

use super::block::{find, has_wal, Block, BlockDir, Meta, Stats, Window};
use crate::encoding::chunk::XorChunk;
use std::path::Path;

fn uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint(out: &mut Vec<u8>, v: i64) {
    uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
}

fn crc(bytes: &[u8]) -> [u8; 4] {
    crc32c::crc32c(bytes).to_be_bytes()
}

/// A section: 4-byte length, `body`, checksum of `body`.
fn section(out: &mut Vec<u8>, body: &[u8]) {
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&crc(body));
}

const SYMBOLS: [&str; 5] = ["__name__", "a", "job", "up", "x"];
const XOR: u8 = 1;
const HISTOGRAM: u8 = 2;

/// The block's chunks: up{job="a"} has two XOR chunks; up{job="x"} one XOR and one histogram.
fn chunks() -> Vec<(usize, u8, Vec<u8>)> {
    let xor = |from: i64| XorChunk::of(&(0..5).map(|i| (from + i * 10, from as f64 + i as f64 / 4.0)).collect::<Vec<_>>()).into_bytes();
    vec![(0, XOR, xor(100)), (0, XOR, xor(200)), (1, XOR, xor(100)), (1, HISTOGRAM, vec![0, 1, 0xaa])]
}

/// Writes the block `ulid` into `dir` with an index of format `version`; its chunks' offsets.
fn write_block(dir: &Path, ulid: &str, version: u8) -> Vec<u64> {
    let block = dir.join(ulid);
    std::fs::create_dir_all(block.join("chunks")).unwrap();
    // chunks/000001: magic, version 1, padding; each chunk length, encoding, data, checksum.
    let mut segment = vec![0x85, 0xbd, 0x40, 0xdd, 1, 0, 0, 0];
    let mut refs = Vec::new();
    for (_, encoding, data) in chunks() {
        refs.push(segment.len() as u64);
        uvarint(&mut segment, data.len() as u64);
        let start = segment.len();
        segment.push(encoding);
        segment.extend_from_slice(&data);
        let sum = crc(&segment[start..]);
        segment.extend_from_slice(&sum);
    }
    std::fs::write(block.join("chunks/000001"), &segment).unwrap();

    let mut index = vec![0xba, 0xaa, 0xd7, 0x00, version];
    let symbols_at = index.len() as u64;
    let mut body = (SYMBOLS.len() as u32).to_be_bytes().to_vec();
    for s in SYMBOLS {
        uvarint(&mut body, s.len() as u64);
        body.extend_from_slice(s.as_bytes());
    }
    section(&mut index, &body);
    let series_at = index.len().next_multiple_of(16) as u64;
    let mut ids = Vec::new();
    for (series, job) in [(0usize, 1u64), (1, 4)] {
        index.resize(index.len().next_multiple_of(16), 0);
        ids.push(index.len() as u32 / 16);
        let mut body = Vec::new();
        uvarint(&mut body, 2);
        for symbol in [0, 3, 2, job] {
            uvarint(&mut body, symbol);
        }
        let mine: Vec<(usize, u64)> = chunks().iter().zip(&refs).enumerate().filter(|(_, ((s, _, _), _))| *s == series).map(|(i, (_, r))| (i, *r)).collect();
        uvarint(&mut body, mine.len() as u64);
        let (mut prev_max, mut prev_ref) = (0i64, 0u64);
        for (n, (i, r)) in mine.iter().enumerate() {
            // Chunk i holds 5 samples 10 apart from its first time.
            let min = [100, 200, 100, 300][*i];
            let max = min + 40;
            if n == 0 {
                varint(&mut body, min);
                uvarint(&mut body, (max - min) as u64);
                uvarint(&mut body, *r);
            } else {
                uvarint(&mut body, (min - prev_max) as u64);
                uvarint(&mut body, (max - min) as u64);
                varint(&mut body, (*r - prev_ref) as i64);
            }
            (prev_max, prev_ref) = (max, *r);
        }
        uvarint(&mut index, body.len() as u64);
        index.extend_from_slice(&body);
        index.extend_from_slice(&crc(&body));
    }
    let postings_at = index.len() as u64;
    let mut body = (ids.len() as u32).to_be_bytes().to_vec();
    for id in &ids {
        body.extend_from_slice(&id.to_be_bytes());
    }
    section(&mut index, &body);
    let table_at = index.len() as u64;
    let mut body = 1u32.to_be_bytes().to_vec();
    uvarint(&mut body, 2);
    uvarint(&mut body, 0);
    uvarint(&mut body, 0);
    uvarint(&mut body, postings_at);
    section(&mut index, &body);
    let toc_at = index.len();
    for offset in [symbols_at, series_at, 0, 0, postings_at, table_at] {
        index.extend_from_slice(&offset.to_be_bytes());
    }
    let sum = crc(&index[toc_at..]);
    index.extend_from_slice(&sum);
    std::fs::write(block.join("index"), &index).unwrap();

    // Tombstones: up{job="a"} loses 110..=120 and 230..=1000.
    let mut stones = vec![0x01, 0x30, 0xba, 0x30, 1];
    for (min, max) in [(110, 120), (230, 1000)] {
        uvarint(&mut stones, u64::from(ids[0]));
        varint(&mut stones, min);
        varint(&mut stones, max);
    }
    let sum = crc(&stones[5..]);
    stones.extend_from_slice(&sum);
    std::fs::write(block.join("tombstones"), &stones).unwrap();
    let meta = format!(r#"{{"ulid":"{ulid}","minTime":100,"maxTime":341,"stats":{{"numSamples":15,"numSeries":2}},"version":1}}"#);
    std::fs::write(block.join("meta.json"), meta).unwrap();
    refs
}

const ULID: &str = "01HZZZZZZZZZZZZZZZZZZZZZZZ";

fn open(dir: &Path) -> Block {
    let mut found = find(dir).unwrap();
    assert_eq!(found.len(), 1);
    Block::open(found.remove(0)).unwrap()
}

/// Every series of the block: labels, samples (time, value) in [start, end], histogram chunks.
fn read_all(block: &Block, range: (i64, i64)) -> Vec<(String, Vec<(i64, f64)>, u64)> {
    let mut window = Window::default();
    let ids = block.index.all_series().unwrap();
    ids.iter()
        .map(|&id| {
            let series = block.index.series(id).unwrap();
            let read = block.samples(id, &series, range, &mut window).unwrap();
            (series.labels.to_string(), read.samples, read.histogram_chunks)
        })
        .collect()
}

#[test]
fn a_hand_written_block_reads_back_less_its_tombstones_and_histograms() {
    let dir = tempfile::tempdir().unwrap();
    write_block(dir.path(), ULID, 2);
    let block = open(dir.path());
    assert_eq!((block.dir.meta.min_time, block.dir.meta.max_time, block.dir.meta.stats.num_samples), (100, 341, 15));
    let got = read_all(&block, (i64::MIN, i64::MAX));
    let at = |from: i64, i: i64| (from + i * 10, from as f64 + i as f64 / 4.0);
    assert_eq!(got[0].0, r#"up{job="a"}"#);
    assert_eq!(got[0].1, vec![at(100, 0), at(100, 3), at(100, 4), at(200, 0), at(200, 1), at(200, 2)], "110..=120 and 230.. deleted");
    assert_eq!(got[1].0, r#"up{job="x"}"#);
    assert_eq!(got[1].1, (0..5).map(|i| at(100, i)).collect::<Vec<_>>());
    assert_eq!((got[0].2, got[1].2), (0, 1), "the histogram chunk is counted, not read");
    let window = read_all(&block, (130, 200));
    assert_eq!(window[0].1, vec![at(100, 3), at(100, 4), at(200, 0)]);
    assert_eq!(window[1].1, vec![at(100, 3), at(100, 4)]);
}

#[test]
fn a_damaged_chunk_names_block_file_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let refs = write_block(dir.path(), ULID, 2);
    let path = dir.path().join(ULID).join("chunks/000001");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[refs[1] as usize + 5] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    let block = open(dir.path());
    let id = block.index.all_series().unwrap()[0];
    let series = block.index.series(id).unwrap();
    let err = block.samples(id, &series, (i64::MIN, i64::MAX), &mut Window::default()).unwrap_err();
    assert!(err.contains(ULID) && err.contains(&format!("chunks/000001 at offset {}", refs[1])) && err.contains("damaged chunk: checksum mismatch"), "{err}");
}

#[test]
fn an_unknown_index_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_block(dir.path(), ULID, 3);
    let err = Block::open(find(dir.path()).unwrap().remove(0)).err().unwrap();
    assert!(err.contains(&format!("{ULID}/index: unknown index format version 3")), "{err}");
}

#[test]
fn blocks_are_found_in_a_data_dir_a_snapshot_or_alone_and_the_wal_is_noticed() {
    let data = tempfile::tempdir().unwrap();
    write_block(data.path(), ULID, 2);
    write_block(data.path(), "01HZZZZZZZZZZZZZZZZZZZZZZZ.tmp-for-creation", 2);
    std::fs::create_dir_all(data.path().join("wal")).unwrap();
    assert!(!has_wal(data.path()), "an empty wal directory");
    std::fs::write(data.path().join("wal/00000003"), b"").unwrap();
    assert!(has_wal(data.path()));
    let found = find(data.path()).unwrap();
    assert_eq!(found.iter().map(|b| b.meta.ulid.as_str()).collect::<Vec<_>>(), vec![ULID], "the temporary directory is left out");
    assert_eq!(find(&data.path().join(ULID)).unwrap().len(), 1, "one block directory");
    let snapshot = data.path().join("snapshots/20261208T000000Z-1");
    write_block(&snapshot, "01HAAAAAAAAAAAAAAAAAAAAAAA", 2);
    write_block(&snapshot, ULID, 2);
    let found = find(&snapshot).unwrap();
    assert_eq!(found.len(), 2);
    assert!(!has_wal(&snapshot));
    assert!(find(&data.path().join("wal")).unwrap().is_empty(), "no blocks in a WAL");
    assert!(find(&data.path().join("nothing")).unwrap_err().contains("nothing"));
}

#[test]
fn a_block_cut_by_the_range_is_recorded_with_the_range_read() {
    let dir = BlockDir { path: "b".into(), meta: Meta { ulid: ULID.into(), min_time: 100, max_time: 341, stats: Stats::default() } };
    assert_eq!(super::state_line(&dir, (i64::MIN, i64::MAX)), ULID);
    assert_eq!(super::state_line(&dir, (100, 340)), ULID);
    assert_eq!(super::state_line(&dir, (0, 200)), format!("{ULID} 100,200"));
    assert_eq!(super::state_line(&dir, (150, 400)), format!("{ULID} 150,340"));
}
