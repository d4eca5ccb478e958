//! Prometheus' XOR chunk encoding (`tsdb/chunkenc/xor.go`), bit for bit, so that stored
//! chunks can be shipped as they are in a STREAMED_XOR_CHUNKS remote read answer.
//!
//! Layout: a 2-byte big-endian sample count, then the first timestamp as a signed varint and
//! its value as 64 raw bits, the second timestamp as an unsigned varint delta and its value
//! XOR-encoded, then delta-of-delta timestamps and XOR-encoded values (Gorilla).
//! This file knows nothing of series, shards or RocksDB.

/// Samples per chunk before it is cut, as Prometheus' head does.
pub const SAMPLES_PER_CHUNK: u16 = 120;

/// Appends bits to a byte vector, most significant bit first, a word at a time. The vector
/// keeps at least 8 zero bytes past the last bit written, so every write is one 8-byte
/// read-modify-write (and one more byte when it straddles).
#[derive(Clone, Debug, Default)]
struct BitWriter {
    bytes: Vec<u8>,
    /// Bits written.
    len: usize,
}

impl BitWriter {
    /// The bytes written, the last one padded with zero bits.
    fn bytes(&self) -> &[u8] {
        &self.bytes[..self.len.div_ceil(8)]
    }

    fn into_bytes(mut self) -> Vec<u8> {
        self.bytes.truncate(self.len.div_ceil(8));
        self.bytes
    }

    fn write_bit(&mut self, bit: bool) {
        self.write_bits(bit as u64, 1);
    }

    /// Writes the low `nbits` (≤ 64) bits of `value`.
    #[inline]
    fn write_bits(&mut self, value: u64, nbits: u8) {
        let n = nbits as usize;
        if n == 0 {
            return;
        }
        let (at, shift) = (self.len / 8, self.len % 8);
        if self.bytes.len() < at + 9 {
            self.bytes.resize((at + 9).max(self.bytes.len() * 2), 0);
        }
        // The n bits at the top of a word, then moved right past the bits already in byte `at`.
        let top = value << (64 - n);
        let word: &mut [u8; 8] = (&mut self.bytes[at..at + 8]).try_into().expect("8 bytes");
        *word = (u64::from_be_bytes(*word) | (top >> shift)).to_be_bytes();
        if shift + n > 64 {
            self.bytes[at + 8] |= (top << (64 - shift) >> 56) as u8;
        }
        self.len += n;
    }

    fn write_byte(&mut self, byte: u8) {
        self.write_bits(byte as u64, 8);
    }
}

/// Reads bits written by [`BitWriter`].
struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize, // in bits
}

impl<'a> BitReader<'a> {
    fn read_bit(&mut self) -> Option<bool> {
        let byte = *self.bytes.get(self.pos / 8)?;
        let bit = (byte >> (7 - (self.pos % 8))) & 1 == 1;
        self.pos += 1;
        Some(bit)
    }

    /// The 64 bits from bit `pos` on (zeros past the end).
    fn peek64(&self) -> u64 {
        let at = self.pos / 8;
        let word = match self.bytes.get(at..at + 8) {
            Some(b) => u64::from_be_bytes(b.try_into().expect("8 bytes")),
            None => {
                let mut b = [0u8; 8];
                let tail = self.bytes.get(at..).unwrap_or(&[]);
                b[..tail.len()].copy_from_slice(tail);
                u64::from_be_bytes(b)
            }
        };
        word << (self.pos % 8)
    }

    /// Reads `nbits` (≤ 64) bits; `None` past the end.
    fn read_bits(&mut self, nbits: u8) -> Option<u64> {
        let n = nbits as usize;
        if n == 0 {
            return Some(0);
        }
        if self.pos + n > self.bytes.len() * 8 {
            return None;
        }
        let shift = self.pos % 8;
        let out = if shift + n <= 64 {
            self.peek64() >> (64 - n)
        } else {
            // 57 to 64 bits starting inside a byte: the word holds 64 - shift of them.
            let head = 64 - shift;
            let high = self.peek64() >> shift;
            let low = (*self.bytes.get(self.pos / 8 + 8)? as u64) >> (8 - (n - head));
            (high << (n - head)) | low
        };
        self.pos += n;
        Some(out)
    }

    fn read_uvarint(&mut self) -> Option<u64> {
        let mut out = 0u64;
        for shift in (0..70).step_by(7) {
            let b = self.read_bits(8)?;
            if shift == 63 && b > 1 {
                return None;
            }
            out |= (b & 0x7f) << shift;
            if b < 0x80 {
                return Some(out);
            }
        }
        None
    }

    fn read_varint(&mut self) -> Option<i64> {
        let u = self.read_uvarint()?;
        Some(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
}

fn write_uvarint(w: &mut BitWriter, mut v: u64) {
    while v >= 0x80 {
        w.write_byte((v as u8) | 0x80);
        v >>= 7;
    }
    w.write_byte(v as u8);
}

fn write_varint(w: &mut BitWriter, v: i64) {
    write_uvarint(w, ((v << 1) ^ (v >> 63)) as u64);
}

/// Whether `x` fits in a signed field of `nbits` bits, with Prometheus' asymmetric range.
fn bit_range(x: i64, nbits: u8) -> bool {
    -((1i64 << (nbits - 1)) - 1) <= x && x <= 1i64 << (nbits - 1)
}

/// An XOR chunk being appended to. Cheap to clone; the bytes are always a valid chunk.
#[derive(Clone, Debug)]
pub struct XorChunk {
    w: BitWriter,
    count: u16,
    t: i64,
    t_delta: i64,
    v: u64,
    leading: u8,
    trailing: u8,
    min_t: i64,
}

impl Default for XorChunk {
    fn default() -> Self {
        let mut w = BitWriter::default();
        w.write_bits(0, 16);
        XorChunk { w, count: 0, t: 0, t_delta: 0, v: 0, leading: 0xff, trailing: 0, min_t: 0 }
    }
}

impl XorChunk {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks the CPU to bring the bytes the next append writes into cache.
    pub fn prefetch_end(&self) {
        crate::hash_slots::prefetch(self.w.bytes.as_ptr().wrapping_add(self.w.len / 8));
    }

    /// A chunk of `samples`, in time order.
    pub fn of(samples: &[(i64, f64)]) -> Self {
        let mut c = XorChunk::new();
        for (t, v) in samples {
            c.append(*t, *v);
        }
        c
    }

    /// Rebuilds an appendable chunk from encoded bytes.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        Some(Self::of(&decode(bytes)?))
    }

    pub fn len(&self) -> u16 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn min_time(&self) -> i64 {
        self.min_t
    }

    /// Timestamp of the newest sample (meaningless when empty).
    pub fn max_time(&self) -> i64 {
        self.t
    }

    /// Raw bits of the newest sample's value (meaningless when empty).
    pub fn last_value_bits(&self) -> u64 {
        self.v
    }

    pub fn bytes(&self) -> &[u8] {
        self.w.bytes()
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.w.into_bytes()
    }

    /// Appends a sample; the caller keeps timestamps increasing.
    pub fn append(&mut self, t: i64, value: f64) {
        let v = value.to_bits();
        match self.count {
            0 => {
                write_varint(&mut self.w, t);
                self.w.write_bits(v, 64);
                self.min_t = t;
            }
            1 => {
                let t_delta = t.wrapping_sub(self.t);
                write_uvarint(&mut self.w, t_delta as u64);
                self.write_value(v);
                self.t_delta = t_delta;
            }
            _ => {
                let t_delta = t.wrapping_sub(self.t);
                let dod = t_delta.wrapping_sub(self.t_delta);
                if dod == 0 {
                    self.w.write_bit(false);
                } else if bit_range(dod, 14) {
                    self.w.write_bits(0b10 << 14 | (dod as u64 & 0x3fff), 16);
                } else if bit_range(dod, 17) {
                    self.w.write_bits(0b110 << 17 | (dod as u64 & 0x1_ffff), 20);
                } else if bit_range(dod, 20) {
                    self.w.write_bits(0b1110 << 20 | (dod as u64 & 0xf_ffff), 24);
                } else {
                    self.w.write_bits(0b1111, 4);
                    self.w.write_bits(dod as u64, 64);
                }
                self.write_value(v);
                self.t_delta = t_delta;
            }
        }
        self.t = t;
        self.v = v;
        self.count += 1;
        self.w.bytes[0..2].copy_from_slice(&self.count.to_be_bytes());
    }

    fn write_value(&mut self, v: u64) {
        let delta = v ^ self.v;
        if delta == 0 {
            self.w.write_bit(false);
            return;
        }
        let mut leading = delta.leading_zeros() as u8;
        let trailing = delta.trailing_zeros() as u8;
        if leading >= 32 {
            leading = 31;
        }
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            self.w.write_bits(0b10, 2);
            let sig = 64 - self.leading - self.trailing;
            self.w.write_bits(delta >> self.trailing, sig);
            return;
        }
        self.leading = leading;
        self.trailing = trailing;
        let sig = 64 - leading - trailing;
        // Control bits 11, 5 bits of leading zeros, 6 of significant bits (64 written as 0: 6
        // bits cannot hold 64).
        self.w.write_bits(0b11 << 11 | (leading as u64) << 6 | (sig & 63) as u64, 13);
        self.w.write_bits(delta >> trailing, sig);
    }
}

/// Decodes every sample of an XOR chunk as (timestamp, value). `None` when the bytes are
/// not a well-formed chunk.
pub fn decode(bytes: &[u8]) -> Option<Vec<(i64, f64)>> {
    let mut out = Vec::new();
    decode_each(bytes, |t, v| out.push((t, v)))?;
    Some(out)
}

/// Calls `f` for every sample of an XOR chunk, in order, without allocating.
pub fn decode_each(bytes: &[u8], mut f: impl FnMut(i64, f64)) -> Option<()> {
    if bytes.len() < 2 {
        return None;
    }
    let count = u16::from_be_bytes([bytes[0], bytes[1]]);
    let mut r = BitReader { bytes: &bytes[2..], pos: 0 };
    let (mut t, mut t_delta, mut v) = (0i64, 0i64, 0u64);
    let (mut leading, mut trailing) = (0u8, 0u8);
    for i in 0..count {
        match i {
            0 => {
                t = r.read_varint()?;
                v = r.read_bits(64)?;
            }
            _ => {
                if i == 1 {
                    t_delta = r.read_uvarint()? as i64;
                } else {
                    let mut prefix = 0u8;
                    for _ in 0..4 {
                        if !r.read_bit()? {
                            break;
                        }
                        prefix += 1;
                    }
                    let dod = match prefix {
                        0 => 0,
                        4 => r.read_bits(64)? as i64,
                        n => {
                            let size = [0u8, 14, 17, 20][n as usize];
                            let mut bits = r.read_bits(size)? as i64;
                            if bits > 1i64 << (size - 1) {
                                bits -= 1i64 << size;
                            }
                            bits
                        }
                    };
                    t_delta = t_delta.wrapping_add(dod);
                }
                t = t.wrapping_add(t_delta);
                if r.read_bit()? {
                    if r.read_bit()? {
                        leading = r.read_bits(5)? as u8;
                        let mut sig = r.read_bits(6)? as u8;
                        if sig == 0 {
                            sig = 64;
                        }
                        trailing = 64u8.checked_sub(leading)?.checked_sub(sig)?;
                    }
                    let sig = 64 - leading - trailing;
                    v ^= r.read_bits(sig)? << trailing;
                }
            }
        }
        f(t, f64::from_bits(v));
    }
    Some(())
}

/// The end-to-end tests' decoder (`tests/src/xor.rs`), written from the format description
/// apart from this file: every chunk the tests below encode must read the same through it.
#[cfg(test)]
#[path = "../../../tests/src/xor.rs"]
mod independent_xor;

#[cfg(test)]
mod tests {
    use super::independent_xor as independent;
    use super::*;

    const STALE_NAN: u64 = 0x7ff0_0000_0000_0002;

    fn round_trip(samples: &[(i64, f64)]) {
        let mut c = XorChunk::new();
        for &(t, v) in samples {
            c.append(t, v);
        }
        let bits: Vec<(i64, u64)> = samples.iter().map(|(t, v)| (*t, v.to_bits())).collect();
        assert_eq!(independent::decode(c.bytes()), bits, "the independent decoder reads what was written");
        let got = decode(c.bytes()).expect("decodes");
        assert_eq!(got.len(), samples.len());
        for (g, w) in got.iter().zip(samples) {
            assert_eq!(g.0, w.0);
            assert_eq!(g.1.to_bits(), w.1.to_bits(), "value bits at t={}", w.0);
        }
        let again = XorChunk::from_bytes(c.bytes()).unwrap();
        assert_eq!(again.bytes(), c.bytes());
    }

    #[test]
    fn single_sample() {
        round_trip(&[(1_700_000_000_000, 42.5)]);
    }

    #[test]
    fn special_values_bit_exact() {
        round_trip(&[
            (1000, f64::NAN),
            (2000, f64::from_bits(STALE_NAN)),
            (3000, f64::INFINITY),
            (4000, f64::NEG_INFINITY),
            (5000, -0.0),
            (6000, 0.0),
            (7000, f64::from_bits(STALE_NAN)),
            (8000, f64::MIN_POSITIVE),
            (9000, f64::MAX),
        ]);
    }

    #[test]
    fn zero_and_huge_deltas() {
        round_trip(&[(i64::MIN, 1.0), (i64::MIN, 2.0), (0, 3.0), (0, 3.0), (i64::MAX, 4.0)]);
        round_trip(&[(-5, 1.0), (10, 1.0), (10, 1.0), (1 << 40, 2.0), ((1 << 40) + 1, 2.0)]);
    }

    #[test]
    fn dod_boundaries() {
        let mut samples = vec![(0i64, 0.0f64), (1000, 1.0)];
        let mut t = 1000i64;
        let mut delta = 1000i64;
        // Each bucket's edges (14, 17, 20, 64 bits) from both sides; round_trip also reads the
        // chunk with the independent decoder.
        for dod in [0, 8192, -8191, 8193, -8192, 65536, -65535, 65537, -65536, 524288, -524287, 524289, -524288, -1 << 33, 1 << 33] {
            delta += dod;
            t += delta;
            samples.push((t, t as f64 / 3.0));
        }
        round_trip(&samples);
    }

    #[test]
    fn ten_thousand_samples() {
        // Counts past u16 wrap are not a concern: chunks are cut at 120; this is a stress of
        // the bit stream, so keep it under u16::MAX.
        let mut state = 0x1234_5678u64;
        let samples: Vec<(i64, f64)> = (0..10_000)
            .map(|i| {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let jitter = (state >> 60) as i64;
                let v = match i % 4 {
                    0 => i as f64,
                    1 => (state >> 11) as f64 / 7.0,
                    2 => 0.5,
                    _ => f64::from_bits(state),
                };
                (1_600_000_000_000 + i * 15_000 + jitter, v)
            })
            .collect();
        round_trip(&samples);
    }

    #[test]
    fn header_layout_matches_prometheus() {
        // The layout Prometheus writes: count, varint first timestamp, raw first value.
        let mut c = XorChunk::new();
        c.append(1000, 1.0);
        c.append(2000, 2.0);
        c.append(3000, 3.0);
        assert_eq!(&c.bytes()[..2], &[0, 3]);
        // first timestamp: zigzag varint of 1000 = 2000 = 0xd0 0x0f
        assert_eq!(&c.bytes()[2..4], &[0xd0, 0x0f]);
        assert_eq!(&c.bytes()[4..12], &1.0f64.to_bits().to_be_bytes());
    }

    #[test]
    fn rejects_truncated() {
        let mut c = XorChunk::new();
        for i in 0..10 {
            c.append(i * 1000, i as f64 * 1.5);
        }
        let b = c.bytes();
        assert!(decode(&b[..b.len() - 3]).is_none());
        assert!(decode(&[0]).is_none());
    }
}
