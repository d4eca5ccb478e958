//! What is stored of a series besides its open chunk: full XOR chunks in `chunks`, and sealed
//! blocks (`storage::block`, see `seal`) in `blocks`, both under the same keys
//! (`[policy][partition][series][min time]` → `[max time][bytes]`). Readers walk both with
//! `each_stored` and decode either with `Stored::each`.

use super::{column_family, Shard};
use crate::storage::chunk::{self, XorChunk, SAMPLES_PER_CHUNK};
use crate::storage::keys::{self, Partition};
use crate::storage::shard::{ChunkKind, StoredChunk};
use crate::storage::{block, Error, PolicyId};
use rocksdb::DBRawIterator;

/// The column families that hold partitions: full chunks and sealed blocks.
pub(super) const STORED: [&str; 2] = ["chunks", "blocks"];

/// One stored value's samples, as kept.
#[derive(Clone, Copy, Debug)]
pub(super) enum Stored<'a> {
    /// A full chunk, in Prometheus' XOR encoding.
    Xor(&'a [u8]),
    /// A sealed block.
    Block(&'a [u8]),
}

impl<'a> Stored<'a> {
    /// Contents read from the column family `kind`.
    pub(super) fn of(kind: &str, bytes: &'a [u8]) -> Stored<'a> {
        match kind {
            "blocks" => Stored::Block(bytes),
            _ => Stored::Xor(bytes),
        }
    }

    /// The column family it lives in.
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Stored::Xor(_) => "chunks",
            Stored::Block(_) => "blocks",
        }
    }

    /// A copy of it spanning [min_t, max_t], to hand to a reader.
    pub(super) fn to_chunk(self, min_t: i64, max_t: i64) -> StoredChunk {
        let kind = match self {
            Stored::Xor(_) => ChunkKind::Xor,
            Stored::Block(_) => ChunkKind::Block,
        };
        StoredChunk { min_t, max_t, data: self.bytes().to_vec(), kind }
    }

    pub(super) fn bytes(&self) -> &'a [u8] {
        match self {
            Stored::Xor(b) | Stored::Block(b) => b,
        }
    }

    /// `samples` (in time order, at least one) encoded as this is: a chunk or a block.
    pub(super) fn encode_like(&self, samples: &[(i64, f64)]) -> Vec<u8> {
        match self {
            Stored::Xor(_) => XorChunk::of(samples).into_bytes(),
            Stored::Block(_) => block::encode(samples),
        }
    }

    pub(super) fn samples(&self) -> Result<Vec<(i64, f64)>, Error> {
        let mut out = Vec::new();
        self.each(|t, v| out.push((t, v)))?;
        Ok(out)
    }

    /// Calls `f` with every sample, in time order.
    pub(super) fn each(&self, f: impl FnMut(i64, f64)) -> Result<(), Error> {
        match self {
            Stored::Xor(xor) => chunk::decode_each(xor, f).ok_or_else(|| Error::Corrupt("chunk".into())),
            Stored::Block(b) => block::decode_each(b, f).map_err(|e| Error::Corrupt(format!("block: {e}"))),
        }
    }

    /// Its samples as XOR chunks of at most `SAMPLES_PER_CHUNK` each (a chunk as it is).
    pub(super) fn xor_chunks(&self, min_t: i64, max_t: i64) -> Result<Vec<StoredChunk>, Error> {
        if let Stored::Xor(_) = self {
            return Ok(vec![self.to_chunk(min_t, max_t)]);
        }
        let mut out = Vec::new();
        let mut c = XorChunk::new();
        self.each(|t, v| {
            if c.len() >= SAMPLES_PER_CHUNK {
                let full = std::mem::take(&mut c);
                out.push(StoredChunk { min_t: full.min_time(), max_t: full.max_time(), data: full.into_bytes(), kind: ChunkKind::Xor });
            }
            c.append(t, v);
        })?;
        if !c.is_empty() {
            out.push(StoredChunk { min_t: c.min_time(), max_t: c.max_time(), data: c.into_bytes(), kind: ChunkKind::Xor });
        }
        Ok(out)
    }
}

impl StoredChunk {
    fn stored(&self) -> Stored<'_> {
        match self.kind {
            ChunkKind::Xor => Stored::Xor(&self.data),
            ChunkKind::Block => Stored::Block(&self.data),
        }
    }

    /// Calls `f` with every sample, in time order.
    pub fn each(&self, f: impl FnMut(i64, f64)) -> Result<(), Error> {
        self.stored().each(f)
    }

    /// Its samples as XOR chunks of at most `SAMPLES_PER_CHUNK` each (an XOR chunk as it is).
    pub fn into_xor(self) -> Result<Vec<StoredChunk>, Error> {
        match self.kind {
            ChunkKind::Xor => Ok(vec![self]),
            ChunkKind::Block => self.stored().xor_chunks(self.min_t, self.max_t),
        }
    }
}

/// Iterators over `chunks` and `blocks`, made once for many series (making one costs more than
/// a seek).
pub(super) struct StoredIterators<'a> {
    chunks: DBRawIterator<'a>,
    blocks: DBRawIterator<'a>,
}

impl<'a> StoredIterators<'a> {
    pub(super) fn new(db: &'a rocksdb::DB, cf_names: &[String]) -> StoredIterators<'a> {
        StoredIterators { chunks: db.raw_iterator_cf(column_family(db, cf_names, "chunks")), blocks: db.raw_iterator_cf(column_family(db, cf_names, "blocks")) }
    }

    /// Each iterator with the family it walks, in `STORED` order.
    pub(super) fn by_kind(&mut self) -> [(&mut DBRawIterator<'a>, &'static str); 2] {
        [(&mut self.chunks, STORED[0]), (&mut self.blocks, STORED[1])]
    }
}

impl Shard {
    pub(super) fn stored_iterators(&self) -> StoredIterators<'_> {
        StoredIterators::new(&self.db, &self.cf_names)
    }

    /// Walks what is stored of series `id` in the partitions `keep` accepts: per partition, its
    /// full chunks by start time, then its blocks by start time. `f` gets each one's key, min
    /// and max time and contents, and answers whether to go on in that partition and family.
    pub(super) fn each_stored(
        &self,
        its: &mut StoredIterators<'_>,
        policy: PolicyId,
        id: u64,
        keep: impl Fn(&Partition) -> bool,
        mut f: impl FnMut(&[u8], i64, i64, Stored<'_>) -> Result<bool, Error>,
    ) -> Result<(), Error> {
        for p in self.partitions.get(&policy).into_iter().flatten().filter(|p| keep(p)) {
            let prefix = keys::chunk_prefix(policy, *p, id);
            for (it, kind) in its.by_kind() {
                it.seek(prefix);
                while let (Some(k), Some(v)) = (it.key(), it.value()) {
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    let (c_max, bytes) = keys::decode_chunk_value(v)?;
                    if !f(k, keys::unflip(&k[20..]), c_max, Stored::of(kind, bytes))? {
                        break;
                    }
                    it.next();
                }
                it.status()?;
            }
        }
        Ok(())
    }
}
