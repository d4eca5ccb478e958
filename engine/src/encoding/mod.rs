//! The stored encodings of samples, pure: Prometheus' XOR chunks (`chunk`), sealed blocks
//! (`block`: values, integers, bit-packing) and the storage-format seam over them (`piece`: one
//! `Encoding` per format, `StoredChunk` as readers get it, decode-in-range, re-encoding to XOR
//! chunks), and the downsampled tiers' aggregates (`rollup`). A leaf, as Prometheus'
//! `tsdb/chunkenc`: it imports no other engine module but the hash table's prefetch hint, and
//! knows nothing of RocksDB, column families, shards or keys (which family holds an encoding
//! is `storage::family`'s to say).

pub mod block;
pub mod chunk;
pub mod piece;
pub mod rollup;

/// Prometheus' stale marker: the NaN with this bit pattern ends a series at once. Stored as
/// any sample; what aggregates samples (`rollup`, PromQL) leaves it out.
pub const STALE_NAN_BITS: u64 = 0x7ff0_0000_0000_0002;

#[inline]
pub fn is_stale_nan(v: f64) -> bool {
    v.to_bits() == STALE_NAN_BITS
}
