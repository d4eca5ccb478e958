//! One Prometheus TSDB block on disk (`<ULID>/meta.json`, `index`, `chunks/000001…`,
//! `tombstones`), and finding the blocks of a data or snapshot directory. A series' samples
//! come from its chunks (each checked against its CRC32 and decoded when XOR-encoded), less
//! what the block's tombstones delete, less what lies outside the asked time range.
//! Histogram chunks are counted and skipped: Gemini stores float samples.

use super::decbuf::{check_crc, Decbuf};
use super::index::{Index, Series};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

const CHUNKS_MAGIC: u32 = 0x85BD_40DD;
const TOMBSTONES_MAGIC: u32 = 0x0130_BA30;
/// Bytes read from a segment file at once: the chunks of neighbouring series lie together.
const WINDOW: usize = 1 << 20;

/// `meta.json`, the parts read.
#[derive(serde::Deserialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct Meta {
    pub ulid: String,
    pub min_time: i64,
    /// Exclusive.
    pub max_time: i64,
    #[serde(default)]
    pub stats: Stats,
}

#[derive(serde::Deserialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    #[serde(default)]
    pub num_samples: u64,
}

/// A block directory and its meta.
#[derive(Debug, Clone)]
pub struct BlockDir {
    pub path: PathBuf,
    pub meta: Meta,
}

/// The block directories under `dir`, oldest first: `dir` itself when it is one, else its
/// subdirectories holding a `meta.json` (a data directory, or a snapshot `snapshots/<name>/`).
/// Prometheus' temporary directories (`<ULID>.tmp-…`) are left out.
pub fn find(dir: &Path) -> Result<Vec<BlockDir>, String> {
    let read_meta = |path: &Path| -> Result<BlockDir, String> {
        let file = path.join("meta.json");
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{}: {e}", file.display()))?;
        let meta = serde_json::from_str(&text).map_err(|e| format!("{}: not a block's meta.json: {e}", file.display()))?;
        Ok(BlockDir { path: path.to_path_buf(), meta })
    };
    if dir.join("meta.json").is_file() {
        return Ok(vec![read_meta(dir)?]);
    }
    let entries = std::fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut blocks = Vec::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let temporary = path.file_name().is_some_and(|n| n.to_string_lossy().contains('.'));
        if !temporary && path.join("meta.json").is_file() {
            blocks.push(read_meta(&path)?);
        }
    }
    blocks.sort_by(|a, b| (a.meta.min_time, &a.meta.ulid).cmp(&(b.meta.min_time, &b.meta.ulid)));
    Ok(blocks)
}

/// Whether `dir` holds the head's write-ahead log with segments in it (which is not read).
pub fn has_wal(dir: &Path) -> bool {
    std::fs::read_dir(dir.join("wal")).is_ok_and(|mut entries| entries.any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))))
}

/// What one series yielded.
#[derive(Debug, Default, PartialEq)]
pub struct Read {
    pub samples: Vec<(i64, f64)>,
    /// Histogram chunks met (and skipped).
    pub histogram_chunks: u64,
}

/// An open block: its index in memory, its segment files, its tombstones.
pub struct Block {
    pub dir: BlockDir,
    pub index: Index,
    segments: Vec<(String, File, u64)>,
    tombstones: HashMap<u64, Vec<(i64, i64)>>,
}

impl Block {
    /// Reads the index and the tombstones and opens the segment files, checking their headers.
    pub fn open(dir: BlockDir) -> Result<Block, String> {
        let index_path = dir.path.join("index");
        let bytes = std::fs::read(&index_path).map_err(|e| format!("{}: {e}", index_path.display()))?;
        let index = Index::parse(bytes).map_err(|e| format!("{}: {e}", index_path.display()))?;
        let tombstones = read_tombstones(&dir.path.join("tombstones"))?;
        let chunks = dir.path.join("chunks");
        let mut names: Vec<String> = std::fs::read_dir(&chunks)
            .map_err(|e| format!("{}: {e}", chunks.display()))?
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .collect();
        names.sort();
        let mut segments = Vec::new();
        for name in names {
            let path = chunks.join(&name);
            let file = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let len = file.metadata().map_err(|e| format!("{}: {e}", path.display()))?.len();
            let mut header = [0u8; 8];
            if len < 8 || file.read_exact_at(&mut header, 0).is_err() || u32::from_be_bytes(header[..4].try_into().expect("4")) != CHUNKS_MAGIC || header[4] != 1 {
                return Err(format!("{}: not a chunks segment file (magic 85BD40DD, version 1)", path.display()));
            }
            segments.push((format!("chunks/{name}"), file, len));
        }
        Ok(Block { dir, index, segments, tombstones })
    }

    /// The samples of `series` (reference `id`) in [start, end] that no tombstone deletes.
    pub fn samples(&self, id: u32, series: &Series, (start, end): (i64, i64), window: &mut Window) -> Result<Read, String> {
        let deleted = self.tombstones.get(&u64::from(id)).map(Vec::as_slice).unwrap_or_default();
        let kept = |t: i64| start <= t && t <= end && !deleted.iter().any(|&(a, b)| a <= t && t <= b);
        let mut read = Read::default();
        for meta in &series.chunks {
            if meta.max_time < start || meta.min_time > end || deleted.iter().any(|&(a, b)| a <= meta.min_time && meta.max_time <= b) {
                continue;
            }
            let (encoding, data) = self.chunk(meta.reference, window)?;
            match encoding {
                1 => crate::encoding::chunk::decode_each(data, |t, v| {
                    if kept(t) {
                        read.samples.push((t, v))
                    }
                })
                .ok_or_else(|| self.at(meta.reference, "an XOR chunk that does not decode"))?,
                2 | 3 => read.histogram_chunks += 1,
                other => return Err(self.at(meta.reference, &format!("chunk encoding {other} is not read (gemini reads XOR chunks, and skips histograms)"))),
            }
        }
        Ok(read)
    }

    /// Names a place in the block's chunks for an error.
    fn at(&self, reference: u64, what: &str) -> String {
        let (segment, offset) = ((reference >> 32) as usize, reference as u32);
        let file = self.segments.get(segment).map_or_else(|| format!("segment {segment}"), |s| s.0.clone());
        format!("block {} ({}), {file} at offset {offset}: {what}", self.dir.meta.ulid, self.dir.path.display())
    }

    /// The encoding and data of the chunk at `reference`, its checksum verified.
    fn chunk<'w>(&self, reference: u64, window: &'w mut Window) -> Result<(u8, &'w [u8]), String> {
        let (segment, offset) = ((reference >> 32) as usize, u64::from(reference as u32));
        let Some((_, file, len)) = self.segments.get(segment) else {
            return Err(self.at(reference, &format!("the block has {} segment files", self.segments.len())));
        };
        // The length (at most 5 bytes as a uvarint), then encoding, data and checksum.
        let head = window.read(segment, file, *len, offset, 5.min(len.saturating_sub(offset) as usize)).map_err(|e| self.at(reference, &e))?;
        let mut d = Decbuf::new(head, 0);
        let data_len = d.uvarint().map_err(|e| self.at(reference, &e))?;
        if data_len > *len {
            return Err(self.at(reference, &format!("damaged chunk: a length of {data_len} bytes")));
        }
        let data_len = data_len as usize;
        let total = d.pos + 1 + data_len + 4;
        let bytes = window.read(segment, file, *len, offset, total).map_err(|e| self.at(reference, &e))?;
        let start = total - data_len - 5;
        check_crc(bytes, start, total - 4).map_err(|e| self.at(reference, &format!("damaged chunk: {e}")))?;
        Ok((bytes[start], &bytes[start + 1..total - 4]))
    }
}

/// A piece of one segment file kept in memory: consecutive chunks are read from it.
#[derive(Default)]
pub struct Window {
    segment: usize,
    offset: u64,
    bytes: Vec<u8>,
}

impl Window {
    /// `n` bytes of segment `segment` (`file`, `len` bytes long) from `offset`.
    fn read(&mut self, segment: usize, file: &File, len: u64, offset: u64, n: usize) -> Result<&[u8], String> {
        if offset + n as u64 > len {
            return Err(format!("the chunk reaches past the end of the file ({len} bytes)"));
        }
        let inside = segment == self.segment && offset >= self.offset && offset + n as u64 <= self.offset + self.bytes.len() as u64;
        if !inside {
            let size = (n.max(WINDOW) as u64).min(len - offset) as usize;
            self.bytes.resize(size, 0);
            file.read_exact_at(&mut self.bytes, offset).map_err(|e| e.to_string())?;
            (self.segment, self.offset) = (segment, offset);
        }
        let from = (offset - self.offset) as usize;
        Ok(&self.bytes[from..from + n])
    }
}

/// The `tombstones` file: deleted [min, max] intervals (both included) per series reference.
/// A block without the file deletes nothing.
fn read_tombstones(path: &Path) -> Result<HashMap<u64, Vec<(i64, i64)>>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let parse = || -> Result<HashMap<u64, Vec<(i64, i64)>>, String> {
        if bytes.len() < 9 {
            return Err("too short".into());
        }
        let mut d = Decbuf::new(&bytes[..bytes.len() - 4], 0);
        if d.be32()? != TOMBSTONES_MAGIC {
            return Err("wrong magic number".into());
        }
        // The checksum covers the tombstones, after the version byte.
        check_crc(&bytes, 5, bytes.len() - 4)?;
        if d.byte()? != 1 {
            return Err("unknown tombstones format version".into());
        }
        let mut out: HashMap<u64, Vec<(i64, i64)>> = HashMap::new();
        while !d.is_empty() {
            let series = d.uvarint()?;
            let interval = (d.varint()?, d.varint()?);
            out.entry(series).or_default().push(interval);
        }
        Ok(out)
    };
    parse().map_err(|e| format!("{}: {e}", path.display()))
}
