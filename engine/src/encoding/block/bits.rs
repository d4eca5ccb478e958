//! Bytes and bits: varints, zigzag, fixed-width bit packing with a base and a gcd, patches,
//! and a reader that names what is missing.

use super::*;

pub(super) fn put_packed(out: &mut Vec<u8>, vals: &[i64]) {
    let s = Stats::of(vals);
    let (g, width) = s.frame();
    out.push(width as u8 | if g > 1 { 0x80 } else { 0 });
    put_ivarint(out, s.min);
    if g > 1 {
        put_uvarint(out, g);
    }
    let (mut acc, mut bits) = (0u128, 0u32);
    for &v in vals {
        let u = v.wrapping_sub(s.min) as u64;
        acc |= ((if g > 1 { u / g } else { u }) as u128) << bits;
        bits += width;
        while bits >= 8 {
            out.push(acc as u8);
            acc >>= 8;
            bits -= 8;
        }
    }
    if bits > 0 {
        out.push(acc as u8);
    }
}

pub(super) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

pub(in crate::encoding) fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(super) fn put_ivarint(out: &mut Vec<u8>, v: i64) {
    put_uvarint(out, zigzag(v));
}

pub(super) fn uvarint_len(v: u64) -> usize {
    (64 - v.leading_zeros() as usize).max(1).div_ceil(7)
}

/// A cursor over the block's bytes that names what is missing.
pub(in crate::encoding) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader at the start of `buf`.
    pub(in crate::encoding) fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub(in crate::encoding) fn u8(&mut self, what: &'static str) -> Result<u8, BlockError> {
        Ok(self.take(1, what)?[0])
    }

    pub(in crate::encoding) fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], BlockError> {
        let bytes = self.buf.get(self.pos..).and_then(|rest| rest.get(..len)).ok_or(Truncated(what))?;
        self.pos += len;
        Ok(bytes)
    }

    pub(in crate::encoding) fn uvarint(&mut self, what: &'static str) -> Result<u64, BlockError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.u8(what)?;
            if shift == 63 && b > 1 {
                return Err(Invalid("varint"));
            }
            v |= ((b & 0x7f) as u64) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(Invalid("varint"))
    }

    pub(super) fn ivarint(&mut self, what: &'static str) -> Result<i64, BlockError> {
        let u = self.uvarint(what)?;
        Ok((u >> 1) as i64 ^ -((u & 1) as i64))
    }

    pub(in crate::encoding) fn end(&self) -> Result<(), BlockError> {
        match self.buf.len() - self.pos {
            0 => Ok(()),
            extra => Err(BlockError::Trailing(extra)),
        }
    }
}

/// Reads `packed` values one after the other.
pub(super) struct Packed<'a> {
    bits: &'a [u8],
    pos: usize,
    width: u32,
    mask: u64,
    base: i64,
    gcd: u64,
}

impl<'a> Packed<'a> {
    pub(super) fn parse(r: &mut Reader<'a>, count: usize, what: &'static str) -> Result<Self, BlockError> {
        let hdr = r.u8(what)?;
        let width = (hdr & 0x7f) as u32;
        if width > 64 {
            return Err(Invalid("bit width"));
        }
        let base = r.ivarint(what)?;
        let gcd = if hdr & 0x80 != 0 { r.uvarint(what)? } else { 1 };
        let bits = r.take((count * width as usize).div_ceil(8), what)?;
        let mask = if width == 64 { u64::MAX } else { (1 << width) - 1 };
        Ok(Packed { bits, pos: 0, width, mask, base, gcd })
    }

    /// Decodes the next `out.len()` items into `out`. Items whose 16 bytes from their first
    /// lie inside the packing are read as one little-endian u128 (no branch, no copy); the
    /// last few through `load`, which pads with zeros.
    #[inline]
    pub(super) fn fill(&mut self, out: &mut [i64]) {
        let (bits, width, mask, base, gcd) = (self.bits, self.width as usize, self.mask, self.base, self.gcd);
        if width == 0 {
            out.fill(base);
            return;
        }
        let item = |u: u64| base.wrapping_add((u & mask).wrapping_mul(gcd) as i64);
        let mut pos = self.pos;
        // Positions p with p / 8 + 16 <= bits.len().
        let limit = bits.len().saturating_sub(15) * 8;
        let direct = limit.saturating_sub(pos).div_ceil(width).min(out.len());
        let (head, tail) = out.split_at_mut(direct);
        for o in head {
            let i = pos >> 3;
            let word = u128::from_le_bytes(bits[i..i + 16].try_into().expect("16 bytes"));
            *o = item((word >> (pos & 7)) as u64);
            pos += width;
        }
        for o in tail {
            let (i, shift) = (pos >> 3, (pos & 7) as u32);
            let mut u = load(bits, i) >> shift;
            if width as u32 + shift > 64 {
                u |= load(bits, i + 8) << (64 - shift);
            }
            *o = item(u);
            pos += width;
        }
        self.pos = pos;
    }

    #[inline]
    pub(super) fn next(&mut self) -> i64 {
        let mut item = [0];
        self.fill(&mut item);
        item[0]
    }
}

/// The 8 bytes from `i` on as a little-endian u64, zeros past the end.
#[inline]
pub(super) fn load(bytes: &[u8], i: usize) -> u64 {
    let mut word = [0u8; 8];
    match bytes.get(i..i + 8) {
        Some(s) => word.copy_from_slice(s),
        None => {
            let rest = bytes.get(i..).unwrap_or(&[]);
            word[..rest.len()].copy_from_slice(rest);
        }
    }
    u64::from_le_bytes(word)
}

/// Reads the patches of a patched packing: the values to add to some of the base items.
pub(super) struct Patches<'a> {
    vals: Packed<'a>,
    gaps: Packed<'a>,
    /// Items before the first patch, and how many patches there are.
    before: usize,
    left: usize,
}

impl<'a> Patches<'a> {
    pub(super) fn parse(r: &mut Reader<'a>, m: usize, what: &'static str) -> Result<Self, BlockError> {
        let count = r.uvarint(what)?;
        if count > m as u64 {
            return Err(Invalid("patch count"));
        }
        let count = count as usize;
        let mut gaps = Packed::parse(r, count, what)?;
        let vals = Packed::parse(r, count, what)?;
        // The gaps must leave every patch inside the sequence.
        let mut check = Packed { pos: 0, ..gaps };
        let used = (0..count).fold(0u64, |used, _| used.saturating_add(check.next() as u64).saturating_add(1));
        if used > m as u64 {
            return Err(Invalid("patch positions"));
        }
        let before = if count > 0 { gaps.next() as usize } else { 0 };
        Ok(Patches { vals, gaps, before, left: count })
    }

    /// Adds the patches to the base items `out`.
    pub(super) fn apply(mut self, out: &mut [i64]) {
        let mut i = self.before;
        while self.left > 0 {
            out[i] = out[i].wrapping_add(self.vals.next());
            self.left -= 1;
            if self.left > 0 {
                i += 1 + self.gaps.next() as usize;
            }
        }
    }
}
