//! The XOR encoding as a stored piece: full chunks, decoded and
//! encoded by `encoding::chunk`; and the one packing of samples into XOR chunks of at most
//! `SAMPLES_PER_CHUNK` each (re-encoding a block, merging a cluster read, a remote read
//! answer of samples).

use super::{Encoding, Error, StoredChunk};
use crate::encoding::chunk::{self, XorChunk, SAMPLES_PER_CHUNK};

pub(super) fn each(bytes: &[u8], f: impl FnMut(i64, f64)) -> Result<(), Error> {
    chunk::decode_each(bytes, f).ok_or(Error::Chunk)
}

pub(super) fn encode(samples: &[(i64, f64)]) -> Vec<u8> {
    XorChunk::of(samples).into_bytes()
}

/// Packs samples, given in time order, into XOR chunks of at most `SAMPLES_PER_CHUNK` each.
#[derive(Default)]
pub struct XorPacker {
    open: XorChunk,
    full: Vec<StoredChunk>,
}

impl XorPacker {
    pub fn push(&mut self, t: i64, v: f64) {
        if self.open.len() >= SAMPLES_PER_CHUNK {
            let full = std::mem::take(&mut self.open);
            self.full.push(Self::piece(full));
        }
        self.open.append(t, v);
    }

    /// The chunks, the last one holding what was pushed after the last full one.
    pub fn finish(mut self) -> Vec<StoredChunk> {
        if !self.open.is_empty() {
            self.full.push(Self::piece(self.open));
        }
        self.full
    }

    fn piece(c: XorChunk) -> StoredChunk {
        StoredChunk { min_t: c.min_time(), max_t: c.max_time(), data: c.into_bytes(), kind: Encoding::Xor }
    }
}

/// `samples` (in time order) in Prometheus XOR chunks of at most `SAMPLES_PER_CHUNK` each.
pub fn xor_chunks(samples: &[(i64, f64)]) -> Vec<StoredChunk> {
    let mut packer = XorPacker::default();
    for (t, v) in samples {
        packer.push(*t, *v);
    }
    packer.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_cut_every_120_samples() {
        let samples: Vec<(i64, f64)> = (0..250).map(|i| (i, i as f64)).collect();
        let chunks = xor_chunks(&samples);
        assert_eq!(chunks.iter().map(|c| (c.min_t, c.max_t)).collect::<Vec<_>>(), [(0, 119), (120, 239), (240, 249)]);
        for (c, part) in chunks.iter().zip(samples.chunks(SAMPLES_PER_CHUNK as usize)) {
            assert_eq!(c.data, XorChunk::of(part).into_bytes());
        }
        assert!(xor_chunks(&[]).is_empty());
    }
}
