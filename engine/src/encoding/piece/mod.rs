//! The storage-format seam: a stored piece of a series, in one of the encodings storage keeps
//! (as Prometheus' `tsdb/chunkenc` has one `Chunk` interface and a file per encoding). A
//! piece's `Encoding` says how its bytes decode, how samples are encoded like it, how it
//! becomes Prometheus XOR chunks again (what remote read ships); `xor` and `block` hold each
//! encoding's part, over the codecs `encoding::chunk` and `encoding::block` (which column
//! family holds an encoding is `storage::family::Family::of`). A new format (a downsampled
//! tier) is a variant here and a file beside them. Readers above storage get `StoredChunk`s and decode the samples of a time range with
//! `each_in`; they never ask which encoding a piece has.
//!
//! This module knows nothing of shards, keys, column families or series.

mod block;
mod xor;

pub use xor::{xor_chunks, XorPacker};

/// A stored piece whose bytes do not decode. Storage reports it as its `Corrupt` error
/// ("corrupt chunk", "corrupt block: …").
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum Error {
    #[error("corrupt chunk")]
    Chunk,
    #[error("corrupt block: {0}")]
    Block(super::block::BlockError),
}

impl Error {
    /// What does not decode, without "corrupt ".
    pub fn what(&self) -> String {
        match self {
            Error::Chunk => "chunk".to_string(),
            Error::Block(e) => format!("block: {e}"),
        }
    }
}

/// How a stored piece's bytes are encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// Prometheus' XOR chunk encoding (`encoding::chunk`): full chunks and open ones.
    Xor,
    /// A sealed block (`encoding::block`).
    Block,
}

impl Encoding {
    /// The encodings of what is stored beside the open chunks, in the order readers walk their
    /// column families.
    pub const STORED: [Encoding; 2] = [Encoding::Xor, Encoding::Block];

    /// Calls `f` with every sample of `bytes`, in time order.
    pub fn each(self, bytes: &[u8], f: impl FnMut(i64, f64)) -> Result<(), Error> {
        match self {
            Encoding::Xor => xor::each(bytes, f),
            Encoding::Block => block::each(bytes, f),
        }
    }

    /// `samples` (in time order, at least one) in this encoding.
    pub fn encode(self, samples: &[(i64, f64)]) -> Vec<u8> {
        match self {
            Encoding::Xor => xor::encode(samples),
            Encoding::Block => block::encode(samples),
        }
    }
}

/// A stored piece as read, borrowed: its bytes and their encoding.
#[derive(Clone, Copy, Debug)]
pub struct Piece<'a> {
    pub encoding: Encoding,
    pub bytes: &'a [u8],
}

impl<'a> Piece<'a> {
    pub fn new(encoding: Encoding, bytes: &'a [u8]) -> Piece<'a> {
        Piece { encoding, bytes }
    }

    /// An XOR chunk's bytes (an open chunk's too).
    pub fn xor(bytes: &'a [u8]) -> Piece<'a> {
        Piece::new(Encoding::Xor, bytes)
    }

    /// Calls `f` with every sample, in time order.
    pub fn each(&self, f: impl FnMut(i64, f64)) -> Result<(), Error> {
        self.encoding.each(self.bytes, f)
    }

    pub fn samples(&self) -> Result<Vec<(i64, f64)>, Error> {
        let mut out = Vec::new();
        self.each(|t, v| out.push((t, v)))?;
        Ok(out)
    }

    /// `samples` (in time order, at least one) encoded as this is.
    pub fn encode_like(&self, samples: &[(i64, f64)]) -> Vec<u8> {
        self.encoding.encode(samples)
    }

    /// A copy of it spanning [min_t, max_t], to hand to a reader.
    pub fn to_chunk(self, min_t: i64, max_t: i64) -> StoredChunk {
        StoredChunk { min_t, max_t, data: self.bytes.to_vec(), kind: self.encoding }
    }

    /// Its samples as XOR chunks of at most `SAMPLES_PER_CHUNK` each (an XOR chunk as it is,
    /// spanning [min_t, max_t]).
    pub fn xor_chunks(self, min_t: i64, max_t: i64) -> Result<Vec<StoredChunk>, Error> {
        if self.encoding == Encoding::Xor {
            return Ok(vec![self.to_chunk(min_t, max_t)]);
        }
        let mut packer = XorPacker::default();
        self.each(|t, v| packer.push(t, v))?;
        Ok(packer.finish())
    }
}

/// A stored piece of one series as a reader gets it, owned: a full or open XOR chunk, or a
/// sealed block, with the times of its first and last samples. `each` and `each_in` read any
/// encoding, and `into_xor` makes Prometheus XOR chunks of it.
#[derive(Clone, Debug)]
pub struct StoredChunk {
    pub min_t: i64,
    pub max_t: i64,
    pub data: Vec<u8>,
    pub kind: Encoding,
}

impl StoredChunk {
    pub fn piece(&self) -> Piece<'_> {
        Piece::new(self.kind, &self.data)
    }

    /// How many samples it holds, from its header alone (0 when that does not read).
    pub fn sample_count(&self) -> usize {
        match self.kind {
            Encoding::Xor => self.data.get(..2).map_or(0, |n| u16::from_be_bytes([n[0], n[1]]) as usize),
            Encoding::Block => crate::encoding::block::sample_count(&self.data).unwrap_or(0),
        }
    }

    /// Calls `f` with every sample, in time order.
    pub fn each(&self, f: impl FnMut(i64, f64)) -> Result<(), Error> {
        self.piece().each(f)
    }

    /// Calls `f` with every sample in [min_t, max_t], in time order.
    pub fn each_in(&self, min_t: i64, max_t: i64, mut f: impl FnMut(i64, f64)) -> Result<(), Error> {
        self.each(|t, v| {
            if t >= min_t && t <= max_t {
                f(t, v);
            }
        })
    }

    /// Its samples as XOR chunks of at most `SAMPLES_PER_CHUNK` each (an XOR chunk as it is).
    /// Whether it holds a sample in [min_t, max_t]: decoded only when it lies partly inside.
    pub fn has_sample_in(&self, min_t: i64, max_t: i64) -> Result<bool, Error> {
        if self.max_t < min_t || self.min_t > max_t {
            return Ok(false);
        }
        if self.min_t >= min_t && self.max_t <= max_t {
            return Ok(true);
        }
        let mut found = false;
        self.each_in(min_t, max_t, |_, _| found = true)?;
        Ok(found)
    }

    pub fn into_xor(self) -> Result<Vec<StoredChunk>, Error> {
        match self.kind {
            Encoding::Xor => Ok(vec![self]),
            _ => self.piece().xor_chunks(self.min_t, self.max_t),
        }
    }

    /// What of it lies at or after `from`, in the same encoding (as it is when all of it
    /// does); `None` when none of it does.
    pub fn from_on(self, from: i64) -> Result<Option<StoredChunk>, Error> {
        if self.min_t >= from {
            return Ok(Some(self));
        }
        let mut kept = Vec::new();
        if self.max_t >= from {
            self.each_in(from, i64::MAX, |t, v| kept.push((t, v)))?;
        }
        let (Some(&(min_t, _)), Some(&(max_t, _))) = (kept.first(), kept.last()) else { return Ok(None) };
        Ok(Some(StoredChunk { min_t, max_t, data: self.kind.encode(&kept), kind: self.kind }))
    }
}

/// Calls `f` with every sample of `chunks` in [min_t, max_t], chunk after chunk: the samples
/// of a series' time range, in time order when the chunks are.
pub fn each_in(chunks: &[StoredChunk], min_t: i64, max_t: i64, mut f: impl FnMut(i64, f64)) -> Result<(), Error> {
    chunks.iter().try_for_each(|c| c.each_in(min_t, max_t, &mut f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(n: i64) -> Vec<(i64, f64)> {
        (0..n).map(|i| (1_000 + i * 15_000, i as f64 * 0.5)).collect()
    }

    #[test]
    fn every_encoding_reads_what_it_wrote() {
        let want = samples(300);
        for e in Encoding::STORED {
            let bytes = e.encode(&want);
            assert_eq!(Piece::new(e, &bytes).samples().unwrap(), want, "{e:?}");
        }
    }

    #[test]
    fn a_block_becomes_xor_chunks_of_the_same_samples() {
        let want = samples(300);
        let block = Piece::new(Encoding::Block, &Encoding::Block.encode(&want)).to_chunk(want[0].0, want[299].0);
        let xor = block.clone().into_xor().unwrap();
        assert_eq!(xor.iter().map(|c| (c.kind, c.min_t, c.max_t)).collect::<Vec<_>>(), xor_chunks(&want).iter().map(|c| (c.kind, c.min_t, c.max_t)).collect::<Vec<_>>());
        assert_eq!(xor.len(), 3);
        let mut got = Vec::new();
        each_in(&xor, want[10].0, want[250].0, |t, v| got.push((t, v))).unwrap();
        assert_eq!(got, want[10..=250]);
        let mut got = Vec::new();
        block.each_in(want[10].0, want[250].0, |t, v| got.push((t, v))).unwrap();
        assert_eq!(got, want[10..=250]);
    }

    #[test]
    fn a_piece_that_does_not_decode_is_corrupt() {
        for e in Encoding::STORED {
            let bad = StoredChunk { min_t: 0, max_t: 1, data: vec![0xff; 3], kind: e };
            assert!(matches!(bad.each(|_, _| ()), Err(Error::Chunk | Error::Block(_))), "{e:?}");
        }
    }
}
