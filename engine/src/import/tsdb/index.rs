//! A block's `index` file, format version 2 (`tsdb/docs/format/index.md`): the table of
//! contents at its end, the symbol table (strings referenced by their position), the postings
//! offset table, whose entry for the empty label pair points at the list of every series, and
//! the series entries (labels as symbol references, then chunk metas). The file is read into
//! memory once; every section's checksum is verified as it is read. Knows nothing of chunks.

use super::decbuf::{check_crc, Decbuf};
use crate::labels::Labels;

const MAGIC: u32 = 0xBAAA_D700;
/// The table of contents: six 8-byte offsets and a checksum.
const TOC_LEN: usize = 6 * 8 + 4;

/// Where a chunk of a series lies in time and in the block's segment files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkMeta {
    pub min_time: i64,
    pub max_time: i64,
    /// Segment file index (upper 32 bits, 0 for `000001`) and offset in it (lower 32 bits).
    pub reference: u64,
}

/// One series of the block.
#[derive(Debug)]
pub struct Series {
    pub labels: Labels,
    pub chunks: Vec<ChunkMeta>,
}

/// The index file in memory, with its symbols decoded.
pub struct Index {
    bytes: Vec<u8>,
    symbols: Vec<Box<str>>,
    /// Offset of the postings offset table (0: none).
    postings_table: usize,
}

impl Index {
    /// Checks the header and the table of contents and reads the symbol table.
    pub fn parse(bytes: Vec<u8>) -> Result<Index, String> {
        if bytes.len() < 5 + TOC_LEN {
            return Err(format!("{} bytes are too short for an index", bytes.len()));
        }
        let mut d = Decbuf::new(&bytes, 0);
        if d.be32()? != MAGIC {
            return Err("not a Prometheus index (wrong magic number)".into());
        }
        match d.byte()? {
            2 => {}
            1 => return Err("index format version 1 (Prometheus before 2.1) is not read; compact it with a newer Prometheus first".into()),
            v => return Err(format!("unknown index format version {v} (gemini reads version 2)")),
        }
        let toc = bytes.len() - TOC_LEN;
        check_crc(&bytes, toc, toc + 48).map_err(|e| format!("table of contents: {e}"))?;
        let mut d = Decbuf::new(&bytes, toc);
        let symbols_at = d.be64()? as usize;
        let (_series, _label_indices, _label_table, _postings) = (d.be64()?, d.be64()?, d.be64()?, d.be64()?);
        let postings_table = d.be64()? as usize;
        let mut index = Index { symbols: Vec::new(), postings_table, bytes };
        if symbols_at != 0 {
            index.symbols = index.read_symbols(symbols_at).map_err(|e| format!("symbol table: {e}"))?;
        }
        Ok(index)
    }

    /// A section that starts with its 4-byte length and ends with a checksum over that
    /// length: its contents, checked.
    fn section(&self, at: usize) -> Result<Decbuf<'_>, String> {
        let len = Decbuf::new(&self.bytes, at).be32()? as usize;
        let end = at + 4 + len;
        check_crc(&self.bytes, at + 4, end)?;
        Ok(Decbuf::new(&self.bytes[..end], at + 4))
    }

    fn read_symbols(&self, at: usize) -> Result<Vec<Box<str>>, String> {
        let mut d = self.section(at)?;
        let count = d.be32()? as usize;
        let mut symbols = Vec::with_capacity(count.min(1 << 24));
        for _ in 0..count {
            symbols.push(d.string()?.into());
        }
        Ok(symbols)
    }

    /// Every series' reference (its offset / 16), ascending: the postings list of the empty
    /// label pair.
    pub fn all_series(&self) -> Result<Vec<u32>, String> {
        if self.postings_table == 0 {
            return Ok(Vec::new());
        }
        let mut d = self.section(self.postings_table).map_err(|e| format!("postings offset table: {e}"))?;
        let entries = d.be32()?;
        for _ in 0..entries {
            let _n = d.uvarint()?;
            let (name, value) = (d.string()?, d.string()?);
            let offset = d.uvarint()? as usize;
            if name.is_empty() && value.is_empty() {
                let mut list = self.section(offset).map_err(|e| format!("postings of all series: {e}"))?;
                let count = list.be32()?;
                return (0..count).map(|_| list.be32()).collect();
            }
            if !name.is_empty() {
                // The table is sorted: the empty pair would have come first.
                break;
            }
        }
        Err("the postings offset table has no list of all series".into())
    }

    fn symbol(&self, reference: u64) -> Result<&str, String> {
        self.symbols.get(reference as usize).map(|s| &**s).ok_or_else(|| format!("symbol {reference} is not in the symbol table"))
    }

    /// The series with reference `id`: its labels and chunk metas.
    pub fn series(&self, id: u32) -> Result<Series, String> {
        let at = id as usize * 16;
        self.read_series(at).map_err(|e| format!("series {id} (offset {at}): {e}"))
    }

    fn read_series(&self, at: usize) -> Result<Series, String> {
        let mut d = Decbuf::new(&self.bytes, at);
        let len = d.uvarint()? as usize;
        let start = d.pos;
        check_crc(&self.bytes, start, start.checked_add(len).ok_or("length overflows")?)?;
        let mut d = Decbuf::new(&self.bytes[..start + len], start);
        let count = d.uvarint()?;
        let mut pairs = Vec::with_capacity(count.min(256) as usize);
        for _ in 0..count {
            pairs.push((self.symbol(d.uvarint()?)?, self.symbol(d.uvarint()?)?));
        }
        let chunk_count = d.uvarint()?;
        let mut chunks: Vec<ChunkMeta> = Vec::with_capacity(chunk_count.min(1 << 16) as usize);
        for i in 0..chunk_count {
            let meta = match chunks.last() {
                None => {
                    let min_time = d.varint()?;
                    let max_time = min_time.wrapping_add(d.uvarint()? as i64);
                    ChunkMeta { min_time, max_time, reference: d.uvarint()? }
                }
                Some(prev) => {
                    let min_time = prev.max_time.wrapping_add(d.uvarint()? as i64);
                    let max_time = min_time.wrapping_add(d.uvarint()? as i64);
                    ChunkMeta { min_time, max_time, reference: prev.reference.wrapping_add(d.varint()? as u64) }
                }
            };
            if i > 0 && meta.reference <= chunks[chunks.len() - 1].reference {
                return Err("chunk references do not increase".into());
            }
            chunks.push(meta);
        }
        Ok(Series { labels: Labels::from_sorted(pairs), chunks })
    }
}
